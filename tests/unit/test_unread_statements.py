"""GX's statements whose rows nobody reads, on GX's own SQL engine over a real SQLite database:
a SELECT with LIMIT 0 is answered without being sent, the validation's batch query goes with
LIMIT 0, and every other statement is sent as it was."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

BATCH = "select * from items where day between '2026-11-01' and '2026-11-02'"


@pytest.fixture()
def engine_and_sent(tmp_path: Any) -> tuple[Any, list[str]]:
    from flows.gates.gx_import import gx  # GX imported the gates' way
    from flows.gates.unread_statements import UnreadStatements

    engine = gx.execution_engine.SqlAlchemyExecutionEngine(
        connection_string=f"sqlite:///{tmp_path / 'w.sqlite'}"
    )
    with engine.engine.begin() as con:
        con.execute(sa.text("create table items (id integer, day text, price real)"))
        con.execute(
            sa.text("insert into items values (1, '2026-11-01', 2.5), (2, '2026-11-03', 4)")
        )
    sent: list[str] = []
    sa.event.listen(engine.engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    unread = UnreadStatements()
    unread.install(engine)
    unread.install(engine)  # once per engine: a second install changes nothing
    unread.batch_sql = BATCH
    return engine, sent


def test_a_limit_zero_select_is_answered_with_its_columns_and_not_sent(
    engine_and_sent: tuple[Any, list[str]],
) -> None:
    engine, sent = engine_and_sent
    items = sa.table("items", sa.column("id"), sa.column("price"))
    sample = sa.select(items.c.id.label("unexpected_values")).where(items.c.price > 3).limit(0)
    result = engine.execute_query(sample)
    assert (list(result.keys()), result.fetchmany(20)) == (["unexpected_values"], [])
    assert sent == []
    limited = engine.execute_query(sample.limit(1)).fetchall()
    assert [tuple(row) for row in limited] == [(2,)] and len(sent) == 1


def test_the_batch_query_is_sent_without_rows_and_other_text_as_it_is(
    engine_and_sent: tuple[Any, list[str]],
) -> None:
    engine, sent = engine_and_sent
    with engine.engine.connect() as con:
        probe = con.execute(sa.text(BATCH))
        assert (list(probe.keys()), probe.fetchall()) == (["id", "day", "price"], [])
        other = con.execute(sa.text(BATCH + " and price > 1")).fetchall()
    assert [tuple(row) for row in other] == [(1, "2026-11-01", 2.5)]
    assert sent == [
        f"select * from ({BATCH}) as columns_of_batch limit 0",
        BATCH + " and price > 1",
    ]
