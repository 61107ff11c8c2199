"""A table of one-line cells drawn as one ``Text``: what ``Table(expand=True, box=None, pad_edge=False,
collapse_padding=True)`` draws for such cells, at a fraction of its cost.

A Rich table renders every cell on its own (measured, wrapped, padded: ~0.1 ms a cell), so the positions
panel's 30 rows × 7 columns took ~17 ms of the UI thread each time a P&L figure moved — at 300 markets
twice a second, with the engine's thread waiting for the interpreter meanwhile. ``LineTable`` lays the
same rows out as Rich would (each column as wide as its widest cell, one space between columns, the
``flex`` column taking what is left of the width it is drawn at) and hands over one ``Text`` of lines:
~1 ms. Cells are plain (a string is never read as markup) and stay on one line; the column that takes
the rest is cut with an ellipsis when its text is longer. When the fixed columns leave the flexible one
fewer than two cells, the rows go to a Rich ``Table`` instead (it shares a too-narrow width out).

Plain Rich, no Textual."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.style import Style
from rich.table import Table
from rich.text import Text

Justify = Literal["left", "right"]


class LineTable:
    """Rows of one-line cells (``str`` or ``Text``), each row with an optional style (see the module
    docstring). ``justify``: each column's; ``flex``: the column that takes the rest of the width;
    ``min_widths``: column index → the fewest cells it gets (what must never be cut)."""

    def __init__(self, headers: Sequence[str], justify: Sequence[Justify], flex: int = 0,
                 min_widths: Mapping[int, int] | None = None) -> None:
        if len(headers) != len(justify):
            raise ValueError(f"justify: one per column ({len(headers)}), got {len(justify)}")
        if not 0 <= flex < len(headers):
            raise ValueError(f"flex: a column index from 0 to {len(headers) - 1}, got {flex}")
        self.headers = tuple(headers)
        self.justify = tuple(justify)
        self.flex = flex
        self.min_widths = dict(min_widths or {})
        self.rows: list[tuple[tuple[Text, ...], str]] = []

    def add_row(self, *cells: str | Text, style: str = "") -> None:
        if len(cells) != len(self.headers):
            raise ValueError(f"cells: one per column ({len(self.headers)}), got {len(cells)}")
        self.rows.append((tuple(c if isinstance(c, Text) else Text(c) for c in cells), style))

    def widths(self, width: int) -> list[int] | None:
        """Each column's cells at ``width`` (its text and the space after it, none after the last), or None
        when the flexible column would get fewer than two (the Rich table's case)."""
        last = len(self.headers) - 1
        out = []
        for i, header in enumerate(self.headers):
            pad = 0 if i == last else 1
            widest = max((cell_len(cells[i].plain) for cells, _ in self.rows), default=0)
            out.append(max(widest, cell_len(header), self.min_widths.get(i, 0)) + pad)
        rest = width - sum(w for i, w in enumerate(out) if i != self.flex)
        if rest < 2:
            return None
        out[self.flex] = rest
        return out

    def table(self) -> Table:
        """The same rows as a Rich table."""
        t = Table(expand=True, box=None, pad_edge=False, collapse_padding=True)
        for i, (header, just) in enumerate(zip(self.headers, self.justify, strict=True)):
            t.add_column(header, justify=just, no_wrap=True, overflow="ellipsis",
                         ratio=3 if i == self.flex else None, min_width=self.min_widths.get(i))
        for cells, style in self.rows:
            t.add_row(*cells, style=style)
        return t

    def text(self, widths: Sequence[int], header_style: Style | str = "bold",
             styles: Mapping[str, Style] | None = None) -> Text:
        """The header and the rows at these column ``widths`` (``widths``), one line each."""
        out = Text(no_wrap=True, overflow="crop")  # ends in a newline: Textual counts them for the height
        self._line(out, tuple(Text(h) for h in self.headers), widths, header_style)
        for cells, style in self.rows:
            out.append("\n")
            self._line(out, cells, widths, (styles or {}).get(style, style))
        return out

    def _line(self, out: Text, cells: Iterable[Text], widths: Sequence[int], style: Style | str) -> None:
        start = len(out)
        last = len(widths) - 1
        for i, (cell, width, just) in enumerate(zip(cells, widths, self.justify, strict=True)):
            room = width - (0 if i == last else 1)
            shown = cell.copy()
            shown.end = ""
            if just == "right":
                shown.rstrip()  # as Rich justifies right: trailing spaces go first
            if cell_len(shown.plain) > room:
                shown.truncate(room, overflow="ellipsis")
            gap = room - cell_len(shown.plain)
            if gap:
                if just == "right":
                    shown.pad_left(gap)
                else:
                    shown.pad_right(gap)
            out.append_text(shown)
            if i != last:
                out.append(" ")
        if style:
            out.stylize_before(style, start, len(out))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        widths = self.widths(options.max_width)
        if widths is None:
            yield self.table()
            return
        header = console.get_style("table.header")
        yield self.text(widths, header, {style: console.get_style(style) for _, style in self.rows if style})

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(options.max_width, options.max_width)  # it expands, as the Rich table does
