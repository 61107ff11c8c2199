"""Tables drawn as one pre-formatted line per row: the logical columns and how a row's cells become a line.

Both the ladder (a DataTable of one cell per row) and the markets table (its own virtual rows) draw this
way: Rich renders one Text per row instead of one per cell, several times cheaper per redraw.

Plain Python and Rich, no Textual."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text


@dataclass(frozen=True, slots=True)
class Column:
    """A logical column: its key, header (and a shorter one for a narrow table), width, whether it is
    right-aligned, and its rank (0 always shown; higher ranks give way first)."""

    key: str
    label: str
    width: int
    right: bool = False
    rank: int = 0
    short: str = ""


#: the columns drawn and how wide each is
Shown = tuple[tuple[Column, int], ...]


def plain_cell(column: Column, value: object, width: int) -> Text:
    """A cell as it is (a Text keeps its style)."""
    return value if isinstance(value, Text) else Text(str(value))


def header_cells(shown: Shown) -> tuple[str, ...]:
    """The headers of the columns shown, the short one where the long one does not fit."""
    return tuple(c.label if len(c.label) <= w or not c.short else c.short for c, w in shown)


def line_width(shown: Shown) -> int:
    """The width of a line: the columns and one space between each two."""
    return sum(w for _, w in shown) + len(shown) - 1


def format_line(shown: Shown, cells: Sequence[object], index: dict[str, int] | None = None,
                cell: Callable[[Column, object, int], Text] = plain_cell) -> Text:
    """One row as a line: each shown column's cell (``cells[index[key]]``; ``index`` None: the cells are
    the shown columns' own, a header) cut to its width with an ellipsis and padded, right-aligned ones
    on the right."""
    t = Text(no_wrap=True, overflow="ellipsis")
    for n, (col, width) in enumerate(shown):
        if n:
            t.append(" ")
        piece = Text(str(cells[n])) if index is None else cell(col, cells[index[col.key]], width).copy()
        piece.truncate(width, overflow="ellipsis")
        pad = " " * (width - piece.cell_len)
        if col.right:
            t.append(pad)
            t.append_text(piece)
        else:
            t.append_text(piece)
            t.append(pad)
    return t
