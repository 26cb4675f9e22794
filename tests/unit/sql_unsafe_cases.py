"""Snippets for tests/unit/test_sql_safety.py: each UNSAFE one puts outside text (an environment
variable, a parameter's attribute, a call's result) into SQL one way and must be flagged on its
own; each SAFE one must pass. One snippet, one case: add one for every blind spot closed."""

from __future__ import annotations

_USER = 'import os\nUSER = os.environ["SLUICE_USER_TEXT"]\n'

UNSAFE: dict[str, str] = {
    "fstring_through_a_parameter": """
def load(con, table):
    con.execute(f"delete from raw.{table}")
def main(con, args):
    load(con, args.table)
""",
    "str_format": """
def main(con, args):
    con.execute("select * from {}".format(args.table))
""",
    "format_keywords_unpacked": """
def main(con, args):
    con.execute("select * from {t}".format(**{"t": args.table}))
""",
    "plus": """
def main(con, args):
    con.execute("select * from " + args.table)
""",
    "percent": """
def main(con, args):
    con.execute("select * from %s" % args.table)
""",
    "augmented_assignment": """
def main(con, args):
    sql = "select * from raw.events"
    sql += " where " + args.where
    con.execute(sql)
""",
    "keyword_to_the_driver": """
def main(con, args):
    con.execute(query=f"select * from {args.table}")
""",
    "keyword_to_a_derived_sink": """
def run(con, statement):
    return con.execute(statement)
def main(con, args):
    run(con, statement=f"select * from {args.table}")
""",
    "bigquery_query": """
def main(client, args):
    client.query(f"select * from `{args.table}`").result()
""",
    "sqlite_executescript": """
def main(con, args):
    con.executescript(f"drop table {args.table};")
""",
    "gx_query_asset": """
def main(source, args):
    source.add_query_asset(name="batch", query=f"select * from {args.table}")
""",
    "duckdb_sql": """
def main(con, args):
    con.sql(f"select * from {args.table}")
""",
    "async_function": """
async def main(con, args):
    await con.execute(f"select * from {args.table}")
""",
    "lambda_parameter": """
run = lambda con, table: con.execute(f"select * from {table}")
def main(con, args):
    run(con, args.table)
""",
    "lambda_closure": """
def main(con, args):
    table = args.table
    go = lambda: con.execute(f"select * from {table}")
    go()
""",
    "module_level_statement": _USER
    + """
import duckdb
duckdb.connect().execute(f"select * from {USER}")
""",
    "isoformat_of_a_string": """
def main(con, day: str):
    con.execute(f"select * from raw.events where dt = '{day.isoformat()}'")
def caller(con, args):
    main(con, args.day)
""",
    "isoformat_of_an_unannotated_value": """
def main(con, args):
    con.execute(f"select * from raw.events where dt = '{args.day.isoformat()}'")
""",
    "comprehension_over_user_values": """
def main(con, args):
    listed = ", ".join(f"'{value}'" for value in args.values)
    con.execute(f"select * from raw.events where event_type in ({listed})")
""",
    "for_loop_variable": """
def main(con, args):
    for table in args.tables:
        con.execute(f"delete from raw.{table}")
""",
    "with_target": """
def main(con, path):
    with open(path) as handle:
        sql = handle.read()
    con.execute(sql)
""",
    "walrus": """
def main(con, args):
    if (sql := args.sql):
        con.execute(sql)
""",
    "str_of_a_user_value": """
def main(con, args):
    con.execute("select " + str(args.column))
""",
    "attribute_set_from_a_parameter": """
class Store:
    def __init__(self, table):
        self.table = table
    def count(self, con):
        return con.execute(f"select count(*) from {self.table}")
def main(con, args):
    Store(args.table).count(con)
""",
    "method_result": """
class Store:
    def _sql(self, args):
        return f"select * from {args.table}"
    def run(self, con, args):
        return con.execute(self._sql(args))
""",
    "string_parameter_annotation": """
def main(con, limit: str):
    con.execute(f"select * from raw.events limit {limit}")
def caller(con, args):
    main(con, args.limit)
""",
    "imported_name_that_is_not_a_constant": """
from somewhere import TABLE
def main(con):
    con.execute(f"select * from {TABLE}")
""",
}

SAFE: dict[str, str] = {
    "validated_identifier": """
def main(con, args):
    con.execute(f"select * from raw.{identifier(args.table, 'raw table')}")
""",
    "bound_parameters": """
def main(con, args):
    con.execute("select * from raw.events where dt = $dt", {"dt": args.day})
""",
    "module_constants": """
SCHEMA = "raw"
TABLES = ("events", "users")
TEMPLATES = {"count": "select count(*) from {schema}.{table}"}
def main(con):
    for table in TABLES:
        con.execute(TEMPLATES["count"].format(schema=SCHEMA, table=table))
""",
    "numbers_and_annotated_parameters": """
def main(con, limit: int, share: float | None, rows: list):
    con.execute(f"select * from raw.events limit {limit} offset {len(rows)} -- {share}")
""",
    "isoformat_of_annotated_dates": """
from datetime import date
def main(con, day: date, window: tuple[date, date]):
    first, last = window
    con.execute(
        f"select * from raw.events where dt between '{window[0].isoformat()}'"
        f" and '{window[1].isoformat()}' and dt <> '{day.isoformat()}'"
    )
""",
    "attribute_validated_in_init": """
class Store:
    def __init__(self, table):
        self.table = identifier(table, "table")
    def count(self, con):
        return con.execute(f"select count(*) from {self.table}")
""",
    "safe_accumulation": """
def main(con, args, names):
    sql = "select * from raw.events where true"
    for name in names:
        sql += f" and {identifier(name, 'column')} is not null"
    con.execute(sql, {"x": args.x})
""",
}

# A reviewed value, then the same name in the same function bound from user input instead.
REVIEWED_CASE = (
    """
def main(con, args):
    kind = catalog_type(con, args.column)
    con.execute(f"alter table raw.events add column x {kind}")
""",
    """
def main(con, args):
    kind = args.kind
    con.execute(f"alter table raw.events add column x {kind}")
""",
)
