"""How Sluice's terminal tables lay out: 80 columns, fixed narrow columns, the text one wraps.

Every table fits 80 columns: dates, states and numbers never wrap (their columns are narrow and
fixed), and the one free-text column last in each table wraps onto further lines. Text from
users or the database is escaped, so rich never reads it as markup.
"""

from __future__ import annotations

from enum import Enum

from rich import box
from rich.table import Table

WIDE = 100  # a terminal this wide shows the columns that 80 cannot hold


class Cell(Enum):
    """How a column lays out: whole on one line (KEY, NUMBER) or wrapped (TEXT)."""

    KEY = "key"
    NUMBER = "number"
    TEXT = "text"


def table(title: str, columns: list[tuple[str, Cell]]) -> Table:
    """An empty table with these columns, laid out to fit the terminal."""
    # expand: the text columns share what the others leave (rich would squeeze them all)
    made = Table(
        title=title,
        box=box.SIMPLE_HEAD,  # its column separator is a space: with the padding, two
        padding=(0, 1, 0, 0),
        pad_edge=False,
        title_justify="left",
        expand=True,
    )
    for header, cell in columns:
        if cell == Cell.TEXT:
            made.add_column(header, overflow="fold", ratio=1)  # a word wider than it folds
        else:
            right = cell == Cell.NUMBER
            made.add_column(header, no_wrap=True, justify="right" if right else "left")
    return made


def number(value: int | None) -> str:
    """A count with thousands separators (blank for none)."""
    return f"{value:,}" if value is not None else ""


def seconds(value: float | None) -> str:
    """Seconds to a tenth (blank for none)."""
    return f"{value:.1f}" if value is not None else ""
