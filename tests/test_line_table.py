"""``LineTable``: the positions panel's rows drawn as one Text, exactly as the Rich table drew them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.style import Style
from rich.text import Text

from polymm.tui.line_table import LineTable

HEADERS = ("Market", "Held (shares)", "Net YES", "Realised", "Fills")
JUSTIFY = ("left", "left", "right", "right", "right")
CONSOLE = Console(width=200, color_system="truecolor", force_terminal=True)


def cells_of(renderable: object, width: int) -> list[list[tuple[str, Style]]]:
    """Each screen line as (character, style): what a terminal shows, however the segments are cut."""
    lines = CONSOLE.render_lines(renderable, CONSOLE.options.update_width(width), pad=True)
    return [[(ch, seg.style or Style.null()) for seg in line for ch in seg.text] for line in lines]


words = st.text(alphabet="ab Xé漢([-", max_size=40)
cell = st.one_of(words, st.builds(Text, st.text(alphabet="+-0123456789.,", max_size=10),
                                  style=st.sampled_from(["", "green", "red", "bold green", "italic"])))
row = st.tuples(st.tuples(words, words, cell, cell, cell), st.sampled_from(["", "dim", "bold"]))


@settings(max_examples=300)
@given(st.lists(row, max_size=8), st.integers(10, 120), st.integers(0, 16))
def test_it_draws_what_the_rich_table_draws(rows: list, width: int, held_min: int) -> None:
    """Any rows at any width — names cut with an ellipsis, wide characters, a width too narrow for the
    fixed columns (then it is the Rich table): the same characters in the same styles."""
    t = LineTable(HEADERS, JUSTIFY, flex=0, min_widths={1: held_min})
    for cells, style in rows:
        t.add_row(*cells, style=style)
    assert cells_of(t, width) == cells_of(t.table(), width)


def test_the_rest_of_the_width_goes_to_the_flexible_column_and_a_long_name_is_cut() -> None:
    t = LineTable(("Market", "Fills"), ("left", "right"))
    t.add_row("Will the long-named market resolve YES", "3", style="dim")
    assert t.widths(30) == [25, 5]
    lines = [("".join(ch for ch, _ in line)) for line in cells_of(t, 30)]
    assert lines == ["Market                   Fills", "Will the long-named mar…     3"]
    assert all(style.dim for ch, style in cells_of(t, 30)[1])  # the row's style, under the cells'


def test_a_width_the_fixed_columns_do_not_leave_room_in_goes_to_rich() -> None:
    t = LineTable(("Market", "Held (shares)"), ("left", "left"))
    t.add_row("m", "YES 1,234,567.00")
    assert t.widths(17) is None  # the flexible column would get a single cell
    assert cells_of(t, 17) == cells_of(t.table(), 17)


def test_a_name_is_shown_as_written_never_read_as_markup() -> None:
    t = LineTable(("Market", "Fills"), ("left", "right"))
    t.add_row("[Live] Will [b]x[/b] win?", "1")
    assert "".join(ch for ch, _ in cells_of(t, 40)[1]).startswith("[Live] Will [b]x[/b] win?")


def test_bad_shapes_are_refused_with_the_allowed_values() -> None:
    with pytest.raises(ValueError, match=r"justify: one per column \(2\), got 1"):
        LineTable(("a", "b"), ("left",))
    with pytest.raises(ValueError, match="flex: a column index from 0 to 1, got 2"):
        LineTable(("a", "b"), ("left", "left"), flex=2)
    with pytest.raises(ValueError, match=r"cells: one per column \(2\), got 3"):
        LineTable(("a", "b"), ("left", "left")).add_row("x", "y", "z")
