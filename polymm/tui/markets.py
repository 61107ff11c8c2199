"""The markets table: one row per market, for six markets or five hundred.

Operators run hundreds of markets, and a refresh of a DataTable holding every one of them formatted,
measured and rewrote every row it held (tui_bench: the dashboard fell seconds behind the stream at 200
markets). Here the table keeps the order of the markets — sorted (``s``) and filtered (``/``) — and
formats only the rows on screen, when they are drawn and only if what they show changed: the cost of
a refresh follows the terminal's height, not the number of markets. Sorting still reads every market
(a few comparisons each); nothing but the visible rows is ever turned into text.

``MarketsTable`` is the bordered box (its id ``markets`` carries the layout's styles) holding the filter
box (hidden until ``/``) and ``MarketRows``, the rows drawn a line at a time (Textual's Line API). The
cursor follows its market through re-sorts and filters; the market under it is the one the ladder,
the tape and the signals show (``MarketsTable.Highlighted``)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.markup import escape
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Input

from ..domain.order_book import BookView
from ..domain.prices import tick_places
from ..state import HoldingView, MarketState, RewardsState, StateStore, VenueState
from .columns import Column, Shown, format_line, header_cells, plain_cell
from .panels import Frame, Panel, PanelSpec, market_names, throttled
from .text import by_market, fit_name, held_text, money_text, price_text, reward_text

#: the State column's words in 8 columns (a narrow table)
SHORT_STATES = {"reconciling": "reconc.", "untrusted": "untrust.", "event halt": "ev. halt"}

COLUMNS = (
    Column("market", "Market", 16),
    Column("state", "State", 11),
    Column("mid", "Mid", 6, right=True, rank=4),
    Column("bid", "Our bid", 7, right=True, rank=1, short="Bid"),
    Column("ask", "Our ask", 7, right=True, rank=1, short="Ask"),
    Column("spread", "Spread", 6, right=True, rank=5),
    Column("pos", "Held (shares)", 9, short="Held"),
    Column("pnl", "P&L pUSD", 9, right=True),
    Column("rewards", "Rewards pUSD", 8, right=True, rank=3, short="Rwd pUSD"),
    Column("fills", "Fills", 5, right=True, rank=2),
)
KEYS = tuple(c.key for c in COLUMNS)
INDEX = {k: i for i, k in enumerate(KEYS)}


def paper_mode(venue: VenueState | None) -> bool:
    """Paper execution: no venue pays us rewards."""
    return venue is not None and venue.execution == "paper"


def reward_cell(cid: str, rewards: RewardsState | None, paper: bool) -> str:
    """What the venue says the market earned today: ``—`` in paper (nothing pays it), ``?`` while not
    known (not read yet, or the last reading failed)."""
    if paper:
        return "—"
    if rewards is None or not rewards.known or rewards.error:
        return "?"
    return reward_text(rewards.by_market.get(cid, Decimal(0)))


def market_row(st: MarketState, book: BookView | None, held: tuple[HoldingView, ...], name: str,
               reward: str) -> tuple:
    """One market's cells, in ``COLUMNS`` order: the work of drawing a row, done only for rows on screen
    (the scale tests count the calls). ``held``: the tokens the ledger holds of it (the Held column, the
    positions panel's source too); ``reward``: its ``reward_cell``."""
    tick = book.tick if book is not None else None
    bids = [o.price for o in st.orders if o.side == "BUY"]
    asks = [o.price for o in st.orders if o.side == "SELL"]
    return (
        name,
        st.status,
        _mid_text(book),
        price_text(max(bids), tick) if bids else "—",
        price_text(min(asks), tick) if asks else "—",
        _plain(st.spread),
        held_text(held, st.position),
        money_text(st.realized_pnl + st.unrealized_pnl),
        reward,
        str(st.fills),
    )


def _plain(v: Decimal) -> str:
    """A parameter as typed (``0.04``), never an exponent."""
    return format(v.normalize(), "f") if v else "0"


def _mid_text(book: BookView | None) -> str:
    """The mid on the tick, one more decimal when it falls between two ticks."""
    if book is None or book.best_bid is None or book.best_ask is None:
        return "—"
    total = book.best_bid + book.best_ask  # twice the mid, in pips: exact
    if total % 2 == 0 and (total // 2) % book.tick.pips == 0:
        return price_text(total // 2, book.tick)
    return f"{Decimal(total) / 20_000:.{tick_places(book.tick) + 1}f}"


def matches(text: str, cid: str, haystack: str) -> bool:
    """Whether a market passes the filter ``text`` (lower case): a piece of its name (``haystack``: its
    question and short name, lower case), or the start of its condition id, with or without ``0x``."""
    if not text:
        return True
    if text in haystack:
        return True
    low = cid.lower()
    return low.startswith(text) or (low.startswith("0x") and low[2:].startswith(text))


@dataclass(frozen=True, eq=False)
class _RowData:
    """What the rows are drawn from: the last frame's figures (a row scrolled into view between two
    refreshes is drawn from these)."""

    store: StateStore
    states: dict[str, MarketState]
    held: dict[str, list[HoldingView]]
    names: dict[str, str]
    rewards: RewardsState | None
    paper: bool

    def key(self, cid: str) -> tuple | None:
        """What a row shows depends on, compared by identity first (the store's slices are immutable
        and replaced on change): equal keys, the same row. None: no state yet, no row."""
        st = self.states.get(cid)
        if st is None:
            return None
        rewards = self.rewards
        reward = None if self.paper or rewards is None else (rewards.known, rewards.error,
                                                               rewards.by_market.get(cid))
        return (st, self.store.get(f"book/{cid}"), tuple(self.held.get(cid, ())), self.names.get(cid, st.question),
                self.paper, reward)

    def cells(self, cid: str, key: tuple) -> tuple:
        st, book, held, name, _, _ = key
        return market_row(st, book, held, name, reward_cell(cid, self.rewards, self.paper))


class MarketRows(ScrollView, can_focus=True):
    """The markets table's header and rows, drawn a line at a time: Textual asks for the lines on screen
    and nothing else, so a row that is not on screen costs nothing. The header stays at the top; the
    scroll moves the rows under it. Keys and the cursor are the table's (``MarketsTable``)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"market-rows--header", "market-rows--cursor"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,ctrl+home", "ends(-1)", "First", show=False),
        Binding("end,ctrl+end", "ends(1)", "Last", show=False),
    ]
    #: DataTable's look (the table was one), so the dashboard reads as before
    DEFAULT_CSS = """
    MarketRows {
        width: 100%;
        height: auto;
        max-height: 100%;
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
        &:focus {
            background-tint: $foreground 5%;
            & > .market-rows--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .market-rows--header {
                background-tint: $foreground 5%;
            }
        }
        & > .market-rows--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .market-rows--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    def __init__(self, table: MarketsTable, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table = table
        self._strips: dict[tuple, Strip] = {}  # the lines drawn last, by what they show

    # A scroll view binds the cursor keys to scrolling, and the focused widget's bindings come first:
    # these move the table's cursor instead (the table's own serve while its filter box has the focus).
    def action_cursor(self, step: int) -> None:
        self.table.action_cursor(step)

    def action_page(self, direction: int) -> None:
        self.table.action_page(direction)

    def action_ends(self, direction: int) -> None:
        self.table.action_ends(direction)

    @property
    def shown_rows(self) -> int:
        """How many rows fit under the header."""
        return max(self.scrollable_content_region.height - 1, 0)

    @property
    def top(self) -> int:
        """The index (in the table's view) of the first row on screen."""
        return round(self.scroll_offset.y)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        table = self.table
        if y == 0:
            return self._strip(("header", table.layout_version), table.header_line(),
                               base + self.get_component_rich_style("market-rows--header"), None, width)
        index = self.top + y - 1
        line = table.line(index)
        if line is None:
            return Strip.blank(width, base)
        cursor = index == table.cursor_row
        over = self.get_component_rich_style("market-rows--cursor") if cursor else None
        return self._strip((table.row_id(index), table.line_serial(index)), line, base, over, width)

    def _strip(self, key: tuple, line: Text, style: Style, over: Style | None, width: int) -> Strip:
        """``line`` as a strip ``width`` wide (a space of padding on the left), kept while it is on screen.
        ``over``: the cursor's style, over the line's own colours (as DataTable draws its cursor)."""
        key = (*key, style, over, width)
        strip = self._strips.get(key)
        if strip is None:
            segments = [Segment(" "), *line.render(self.app.console)]
            fill = style if over is None else style + over
            strip = Strip(Segment.apply_style(segments, style, over)).adjust_cell_length(width, fill)
            if len(self._strips) > 4 * (self.size.height + 1):  # never more than a few screens' worth
                self._strips.clear()
            self._strips[key] = strip
        return strip

    def on_resize(self) -> None:
        self._strips.clear()
        self.table.fit()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and offset.y >= 1:
            self.table.move_cursor(row=self.top + offset.y - 1)


class MarketFilter(Input):
    """The filter box over the markets table (``/``): what is typed narrows the rows at once; escape
    clears it, enter keeps it and gives the keys back to the table."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear", "Clear", show=False, id="markets.filter_clear",
                tooltip="Clear the markets filter: every market again"),
    ]

    def allow_focus(self) -> bool:
        """Only while shown: Textual's first focus does not skip a hidden widget, and a hidden box that
        took it would swallow the dashboard's keys (``s`` typed into it instead of sorting)."""
        parent = self.parent
        return super().allow_focus() and isinstance(parent, MarketsTable) and parent.filtering

    def action_clear(self) -> None:
        self.value = ""
        parent = self.parent
        if isinstance(parent, MarketsTable):
            parent.close_filter()


class MarketsTable(Widget, Panel):
    """One row per market, in the order of the dashboard's sort (``s``), narrowed by the filter (``/``).

    The columns fit the table's width: the market's name (shortened, ``text.short_names``), its state,
    what we hold (the venue's way), its P&L and our bid and ask always; the mid, the spread, the rewards
    and the fill count as room allows. Its cursor selects the market the ladder, the tape and the
    signals show. Drawn with the positions and the P&L summary (one spec), from the same store version.
    Only the rows on screen are ever formatted (the module docstring says why)."""

    PANEL = PanelSpec("markets", ("markets", "market/*", "book/*", "rewards", "venue", "holdings", "portfolio",
                                  "decision/*"), throttled(0.5))
    COLUMNS = COLUMNS
    NAME_MAX = 48  # the name column never grows beyond this (the rest of the row stays near it)
    #: by rank, the fewest columns a column leaves the market's name before it gives way
    NAME_NEEDS: ClassVar[dict[int, int]] = {1: 14, 2: 20, 3: 20, 4: 22, 5: 24}
    WIDE_STATES = 100  # from this width the State column spells every state out

    DEFAULT_CSS = """
    MarketsTable {
        layout: vertical;
        height: auto;
        max-height: 100%;
        background: $surface;
        &:focus-within {
            background-tint: $foreground 5%;
        }
    }
    MarketsTable > #markets-filter {
        dock: top;
        display: none;
    }
    MarketsTable.-filtering > #markets-filter {
        display: block;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False, id="markets.up"),
        Binding("down", "cursor(1)", "Down", show=False, id="markets.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="markets.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="markets.page_down"),
        Binding("home,ctrl+home", "ends(-1)", "First", show=False, id="markets.first"),
        Binding("end,ctrl+end", "ends(1)", "Last", show=False, id="markets.last"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="markets.clear_filter",
                tooltip="Clear the markets filter: every market again"),
    ]

    class Highlighted(Message):
        """The cursor is on another market (a key, a click, or its market left the view)."""

        def __init__(self, table: MarketsTable, condition_id: str) -> None:
            super().__init__()
            self.table = table
            self.condition_id = condition_id

        @property
        def control(self) -> MarketsTable:
            return self.table

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shown_columns: Shown = tuple((c, c.width) for c in COLUMNS)
        self.layout_version = 0  # bumped when the columns change: every line is drawn again
        self.sort_label = "as listed"
        self.filter_text = ""
        self._order: tuple[str, ...] = ()  # every market with a state, in the sort
        self._view: tuple[str, ...] = ()  # the rows: the order, filtered
        self._pos: dict[str, int] = {}
        self._cursor = 0
        self._selected: str | None = None
        self._data: _RowData | None = None
        self._lines: dict[str, tuple[tuple, Text, int]] = {}  # condition id → (what it shows, its line, serial)
        self._serial = 0  # numbers the lines formatted: a drawn strip is kept for its line's number
        self._cells: dict[str, tuple[tuple, tuple]] = {}  # condition id → (what it shows, its cells)
        self._haystacks: dict[str, tuple[str, str]] = {}  # condition id → (question, what a filter matches)
        self._held_source: object = None
        self._held_all = 0  # the widest holding of a traded market (the ledger's), in characters
        self._held_width = 9
        self._header: Text | None = None

    def compose(self) -> ComposeResult:
        yield MarketFilter(placeholder="filter: a piece of the name or the condition id (escape clears)",
                           id="markets-filter", compact=True)
        yield MarketRows(self, id="market-rows")

    @property
    def rows_view(self) -> MarketRows:
        return self.query_one(MarketRows)

    def on_mount(self) -> None:
        self._show_title()

    # ------------------------------------------------------------ what other code reads
    @property
    def rows(self) -> tuple[str, ...]:
        """The rows, top to bottom: condition ids (the filter's, in the sort)."""
        return self._view

    @property
    def row_count(self) -> int:
        return len(self._view)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def selected(self) -> str | None:
        """The market under the cursor; while the filter hides every row, the one it was on last (the
        ladder keeps showing it)."""
        return self._selected

    def row_id(self, index: int) -> str | None:
        return self._view[index] if 0 <= index < len(self._view) else None

    def get_cell(self, row: str, column: str) -> Any:
        """A cell of a row as drawn (any row the filter shows, on screen or not: formatted if need be)."""
        if self._data is None or row not in self._pos:
            raise KeyError(row)
        return self._row_cells(row)[INDEX[column]]

    # ------------------------------------------------------------ drawing
    def draw(self, frame: Frame) -> None:
        store = frame.store
        states = frame.states
        self._data = _RowData(store, states, frame.held, market_names(frame), store.get("rewards"),
                              paper_mode(store.get("venue")))
        self._set_order(tuple(cid for cid in frame.order if cid in states))
        self._fit_held(store.get("holdings"))
        self._repaint_if_changed()

    def _row_cells(self, cid: str) -> tuple:
        assert self._data is not None
        key = self._data.key(cid)
        if key is None:
            raise KeyError(cid)
        got = self._cells.get(cid)
        if got is None or got[0] != key:
            got = self._cells[cid] = (key, self._data.cells(cid, key))
        return got[1]

    def line(self, index: int) -> Text | None:
        """Row ``index``'s line, formatted now if what it shows changed since it was last drawn."""
        cid = self.row_id(index)
        if cid is None or self._data is None:
            return None
        key = self._data.key(cid)
        if key is None:
            return None
        got = self._lines.get(cid)
        if got is not None and got[0] == (key, self.layout_version):
            return got[1]
        line = format_line(self.shown_columns, self._row_cells(cid), INDEX, self._cell)
        self._serial += 1
        self._lines[cid] = ((key, self.layout_version), line, self._serial)
        return line

    def line_serial(self, index: int) -> int:
        """The number of row ``index``'s line as formatted last (after ``line``): a new number, a new line."""
        got = self._lines.get(self._view[index])
        return got[2] if got is not None else 0

    def header_line(self) -> Text:
        if self._header is None:
            self._header = format_line(self.shown_columns, header_cells(self.shown_columns))
        return self._header

    def _cell(self, column: Column, value: object, width: int) -> Text:
        if column.key == "market":
            return Text(fit_name(str(value), width))
        if column.key == "state" and width < 11:
            return Text(SHORT_STATES.get(str(value), str(value)))
        return plain_cell(column, value, width)

    def _visible(self) -> range:
        rows = self.rows_view
        top = rows.top
        return range(top, min(top + rows.shown_rows, len(self._view)))

    def _repaint_if_changed(self) -> None:
        """Repaint the rows when one on screen shows something new (its line is formatted as it is
        drawn); a change to a market off screen costs a key comparison."""
        data = self._data
        if data is None:
            return
        view, lines, version = self._view, self._lines, self.layout_version
        for i in self._visible():
            cid = view[i]
            got = lines.get(cid)
            if got is None or got[0] != (data.key(cid), version):
                self.rows_view.refresh()
                return

    # ------------------------------------------------------------ order, filter, cursor
    def _set_order(self, order: tuple[str, ...]) -> None:
        if order == self._order:
            return
        self._order = order
        kept = set(order)
        for memo in (self._lines, self._cells, self._haystacks):
            for cid in [c for c in memo if c not in kept]:  # a market removed: nothing of it is kept
                del memo[cid]
        self._apply_filter()

    def _apply_filter(self) -> None:
        text = self.filter_text.strip().lower()
        if text:
            hay = self._haystack
            view = tuple(cid for cid in self._order if matches(text, cid, hay(cid)))
        else:
            view = self._order
        self._set_view(view)
        self._show_title()

    def _haystack(self, cid: str) -> str:
        """What the filter matches a market against: its question and its short name, lower case."""
        data = self._data
        st = data.states.get(cid) if data is not None else None
        question = st.question if st is not None else ""
        got = self._haystacks.get(cid)
        if got is None or got[0] != question:
            name = data.names.get(cid, "") if data is not None else ""
            got = self._haystacks[cid] = (question, f"{question}\n{name}".lower())
        return got[1]

    def _set_view(self, view: tuple[str, ...]) -> None:
        """New rows: the cursor stays on its market when it is still shown, else on the row where it was."""
        changed = view != self._view
        self._view = view
        if changed:
            self._pos = {cid: i for i, cid in enumerate(view)}
        rows = self.rows_view
        size = Size(0, len(view) + 1)
        if rows.virtual_size != size:
            rows.virtual_size = size
        keep = self._pos.get(self._selected) if self._selected is not None else None
        self._move(keep if keep is not None else min(self._cursor, len(view) - 1))
        if changed:
            rows.refresh()

    def move_cursor(self, row: int) -> None:
        """Put the cursor on row ``row`` (clamped to the rows) and scroll it into view."""
        self._move(row)

    def _move(self, row: int) -> None:
        n = len(self._view)
        old = self._cursor
        self._cursor = max(0, min(row, n - 1))
        rows = self.rows_view
        if n:
            top, shown = rows.top, max(rows.shown_rows, 1)
            if self._cursor < top:
                rows.scroll_to(y=self._cursor, animate=False, immediate=True)
            elif self._cursor >= top + shown:
                rows.scroll_to(y=self._cursor - shown + 1, animate=False, immediate=True)
            cid = self._view[self._cursor]
            if cid != self._selected:
                self._selected = cid
                self.post_message(self.Highlighted(self, cid))
        if old != self._cursor:
            rows.refresh()

    def action_cursor(self, step: int) -> None:
        self._move(self._cursor + step)

    def action_page(self, direction: int) -> None:
        """A page down (up): the view and the cursor move by a page less a row, the row that was at the
        bottom (top) stays in sight at the top (bottom)."""
        rows = self.rows_view
        step = direction * max(rows.shown_rows - 1, 1)
        rows.scroll_to(y=max(rows.top + step, 0), animate=False, immediate=True)
        self._move(self._cursor + step)

    def action_ends(self, direction: int) -> None:
        self._move(0 if direction < 0 else len(self._view) - 1)

    # ------------------------------------------------------------ the filter
    @property
    def filtering(self) -> bool:
        return self.has_class("-filtering")

    def open_filter(self) -> None:
        """Show the filter box and type into it (``/``)."""
        self.set_class(True, "-filtering")
        self.query_one(MarketFilter).focus()
        self._show_title()

    def close_filter(self) -> None:
        """Hide the filter box and show every market again; the cursor stays on its market."""
        self.set_class(False, "-filtering")
        box = self.query_one(MarketFilter)
        if box.value:
            box.value = ""  # its Changed message clears the filter as well
        self.set_filter("")
        self.rows_view.focus()

    def set_filter(self, text: str) -> None:
        """Narrow the rows to the markets ``text`` names (``matches``); "" shows every market."""
        if text != self.filter_text:
            self.filter_text = text
            self._apply_filter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filter":  # escape is the table's only while there is a filter to clear
            return self.filtering or bool(self.filter_text)
        return True

    def action_clear_filter(self) -> None:
        self.close_filter()

    @on(Input.Changed, "#markets-filter")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self.set_filter(event.value)

    @on(Input.Submitted, "#markets-filter")
    def _kept(self, event: Input.Submitted) -> None:
        """Enter keeps the filter and gives the keys back to the table (``s``, ``f``, the tabs …)."""
        event.stop()
        if not event.value:
            self.close_filter()
            return
        self.rows_view.focus()

    # ------------------------------------------------------------ title and columns
    def set_sort_label(self, label: str) -> None:
        self.sort_label = label
        self._show_title()

    def _show_title(self) -> None:
        """``Markets · sort: … (s) · filter (/)``; while filtered, the filter and how many markets pass
        it first. The keys are named here rather than in the footer, which has no room left at 80
        columns."""
        title = "Markets"
        filtered = self.filtering or self.filter_text
        if filtered:
            title += f' · filter "{escape(self.filter_text)}" {len(self._view)} of {len(self._order)}'
        title += f" · sort: {self.sort_label} (s)"
        if not filtered:
            title += " · filter (/)"
        if self.border_title != title:
            self.border_title = title

    def fitted_columns(self, width: int) -> Shown:
        """The columns that fit ``width`` (the table's inside) and their widths: a column gives way (the
        highest rank first) when the market's name would otherwise get fewer than ``NAME_NEEDS[rank]``
        columns; the name takes what is left, at most ``NAME_MAX``."""
        widths = {c.key: c.width for c in COLUMNS}
        widths["state"] = 11 if width >= self.WIDE_STATES else 8
        widths["pos"] = max(self._held_width, 9)
        shown = list(COLUMNS)

        def room(cols: list[Column]) -> int:  # what the name gets
            return width - sum(widths[c.key] for c in cols if c.key != "market") - (len(cols) - 1)

        for col in sorted((c for c in COLUMNS if c.rank), key=lambda c: -c.rank):
            if width and room(shown) < self.NAME_NEEDS[col.rank]:
                shown.remove(col)
        name = min(max(room(shown), 12), self.NAME_MAX) if width else 30
        return tuple((c, name if c.key == "market" else widths[c.key]) for c in shown)

    def fit(self) -> None:
        """Fit the columns to the width (a resize, a wider holding): a new layout draws every line again."""
        if not self.is_mounted:
            return
        rows = self.rows_view
        inner = rows.scrollable_content_region.width - 2 - 1  # the padding either side, the scrollbar
        shown = self.fitted_columns(max(inner, 0))
        if shown != self.shown_columns:
            self.shown_columns = shown
            self.layout_version += 1
            self._header = None
            rows.refresh()

    def _fit_held(self, holdings: tuple[HoldingView, ...] | None) -> None:
        """The Held column as wide as the widest holding of a traded market (what we hold is never cut),
        at most 20: the ledger's holdings are measured when they change, the markets without them (their
        position only) when on screen, so the column does not follow the scroll."""
        data = self._data
        assert data is not None
        if holdings is not self._held_source:
            self._held_source = holdings
            self._held_all = max((len(held_text(hs)) for cid, hs in by_market(holdings).items()
                                  if cid in data.states), default=0)
        widest = self._held_all
        for i in self._visible():
            st = data.states.get(self._view[i])
            if st is not None and st.position and st.condition_id not in data.held:
                widest = max(widest, len(held_text((), st.position)))
        widest = min(max(widest, 9), 20)
        if widest > self._held_width or widest < self._held_width - 2:
            self._held_width = widest
            self.fit()
