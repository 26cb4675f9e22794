"""The project card in the state store: written by each parse of the project, read by status."""

from __future__ import annotations

from flows.project.code import ProjectCard
from flows.state.store import StateStore


def save_card(store: StateStore, card: ProjectCard, when: str) -> None:
    """Keep the project's card (one row; written only when it changed)."""
    text = card.to_json()
    if read_card_text(store) == text:
        return
    with store.transaction() as con:
        con.execute(
            """insert into project_card (id, card, written_at) values (1, :card, :when)
            on conflict (id) do update
            set card = excluded.card, written_at = excluded.written_at""",
            {"card": text, "when": when},
        )


def read_card_text(store: StateStore) -> str | None:
    """The stored card as written (None: none yet)."""
    rows = store.read("select card from project_card where id = 1")
    return str(rows[0]["card"]) if rows else None


def read_card(store: StateStore) -> ProjectCard | None:
    """The card the last parse wrote (None: no parse has written one to this store)."""
    text = read_card_text(store)
    return ProjectCard.from_json(text) if text is not None else None
