"""Dashboard widgets. Each renders one or a few StateStore slices and writes only what changed.

The panels among them (``Panel``) declare, next to the widget, the store keys they read and how often
they are drawn (``PANEL``); ``draw(frame)`` feeds them from one refresh tick (``polymm.tui.panels``).
The markets table, the positions and the P&L summary share one spec: they are drawn on the same tick
from the same store version, so the figures they share never disagree on screen."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.cache import LRUCache
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label, Static
from textual.widgets.data_table import ColumnKey, RowKey

from ..domain.order_book import BookView
from ..domain.prices import Tick
from ..domain.signals import SignalsSnapshot
from ..state import (
    DecisionState,
    ExecutionState,
    FeedState,
    FillView,
    HoldingView,
    LogEntry,
    MarketState,
    PortfolioState,
    RewardsState,
    RiskState,
    TradePrint,
    VenueState,
)
from .columns import Column, Shown, format_line, header_cells, line_width
from .line_table import LineTable
from .markets import MarketsTable, paper_mode
from .panels import Frame, Panel, PanelSpec, every, market_names, throttled
from .status import clock_text, detail_text, fit, legend_text, status_parts
from .text import (
    age_text,
    by_market,
    decimal_price_text,
    fit_name,
    held_text,
    money,
    money_text,
    net_held,
    price_text,
    reward_text,
    shares_text,
    short_id,
    short_names,
    signed_price_text,
    signed_shares_text,
)

__all__ = ["ConfirmScreen", "EventLog", "FillsTable", "LadderTitle", "MarketsTable", "NoticeBanner",
           "OpenOrdersTable", "OrderBookLadder", "PnlSummary", "PositionsPanel", "SignalsPanel", "StatusBar",
           "TradesTape", "reward_text", "shares_text"]

LADDER_DEPTH = 10
TAPE_ROWS = 12


def rewards_why(rewards: RewardsState) -> str:
    """Why the last reading of the rewards failed, without the engine's own ``rewards unavailable:``."""
    why = rewards.error.strip()
    for prefix in ("rewards unavailable:", "rewards unknown:"):
        if why.lower().startswith(prefix):
            why = why[len(prefix):].strip()
    return why or "the venue did not answer"


def update_if_changed(widget: Static, content: Text | Table | LineTable, key: object = None,
                      layout: bool = False) -> None:
    """``Static.update`` only when the content changed (compared by ``key``, default the text), and
    without a layout pass unless asked: a fixed-size panel never needs one, and a layout pass reflows
    the whole screen (the dominant cost of a refresh under load, measured by tui_bench)."""
    k = key if key is not None else (content.plain, tuple(content.spans)) if isinstance(content, Text) else content
    if getattr(widget, "_last_key", None) == k:
        return
    widget._last_key = k  # type: ignore[attr-defined]  # a memo on any Static, read back with getattr above
    widget.update(content, layout=layout)


def tick_of(frame: Frame, cid: str | None) -> Tick | None:
    """The market's tick (from its book; None until the book is known)."""
    book = frame.per_market("book").get(cid) if cid is not None else None
    return book.tick if book is not None else None


# ====================================================================== status bar and banner


class StatusBar(Static, Panel):
    """Mode and risk state (ARMED / HALTED, NOT QUOTING and why) first — they survive any width — then
    the risk figures, feed, order path, latency, rate limit, frames and venue, each dropped in turn when
    the terminal is narrow (``status.fit``), and the UTC clock at the right edge. Its tooltip explains
    every abbreviation (so does the help screen) and gives every latency figure in full: the bar shows
    one (tick-to-trade once known), the tooltip the feed's too."""

    #: the figures 4 times a second (the clock ticks with them); a change of risk state at once
    PANEL = PanelSpec("status", ("venue", "feed", "risk", "execution", "notice"),
                      every(0.25, at_once=("risk", "notice")))
    clock: Callable[[], float] = staticmethod(time.time)  # replaced by snapshot tests (a fixed clock)
    _args: tuple = ()
    _detail = ""  # the tooltip's figures as last shown

    def on_mount(self) -> None:
        self.tooltip = legend_text()

    def draw(self, frame: Frame) -> None:
        store = frame.store
        self.show(store.get("venue"), store.get("feed"), store.get("risk"), store.get("execution"))

    def show(self, venue: VenueState | None, feed: FeedState | None, risk: RiskState | None,
             execution: ExecutionState | None = None) -> None:
        self._args = (venue, feed, risk, execution)
        halted = bool(risk and risk.halted)
        not_ready = execution is not None and not execution.ready
        line = fit(status_parts(venue, feed, risk, execution), clock_text(self.clock()), self.size.width)
        self.set_class(halted, "-halted")
        self.set_class(not_ready, "-not-ready")
        update_if_changed(self, line)
        detail = detail_text(feed, execution)
        if detail != self._detail:  # the figures the bar has no room for (the feed's p99 beside tick-to-trade)
            self._detail = detail
            self.tooltip = f"{legend_text()}\n\n{detail}" if detail else legend_text()

    def on_resize(self) -> None:
        if self._args:
            self.show(*self._args)


class NoticeBanner(Static, Panel):
    """Under the status bar, what the operator must not miss, for as long as it holds: why nothing is
    quoted (``ExecutionState.ready`` False: listing markets, connecting, a venue that does not answer
    and the next retry, reconciling what we hold) and the engine's standing notice (the ``notice``
    slice: markets the venue does not list, …). Wrapped, never cut; hidden when there is nothing to say
    (a layout pass only when it comes, goes or changes its height)."""

    PANEL = StatusBar.PANEL  # drawn with the status bar

    def draw(self, frame: Frame) -> None:
        self.show(frame.store.get("execution"), frame.store.get("notice") or "")

    def show(self, execution: ExecutionState | None, notice: str = "") -> None:
        not_ready = execution is not None and not execution.ready
        t = Text()
        if not_ready and execution is not None:
            why = execution.reason or "what we hold is not known yet"
            t.append("NOT QUOTING: ", style="bold")
            t.append(f"{why} — nothing is quoted meanwhile")
        if notice:
            if t.plain:
                t.append("\n")
            t.append("NOTICE: ", style="bold")
            t.append(notice)
        shown = bool(t.plain)
        self.set_class(shown, "-shown")
        self.set_class(bool(notice), "-notice")
        if shown:
            update_if_changed(self, t, layout=True)  # only when it changed: it wraps, its height may too


# ====================================================================== tables


class _LiveTable(DataTable):
    """A DataTable for data that changes many times a second, with render caches sized for it.

    DataTable keys its render caches by its update count, so every update strands the entries of
    the last one until 1,000–10,000 of them pile up (cell caches hold lists of Rich segments).
    Updated 20 times a second, the dashboard's tables kept ~60,000 dead objects alive, and every
    full garbage collection walked them: pauses of the whole event loop (feed, strategy and UI)
    measured by tui_bench. A few screens' worth of entries is all such a table ever reuses.
    (Private attributes of a pinned Textual; ``tests/test_tui_app.py`` checks they still exist.)"""

    CACHE_SIZE = 256
    CACHES = ("_row_render_cache", "_cell_render_cache", "_row_renderable_cache", "_line_cache")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in self.CACHES:
            setattr(self, name, LRUCache(self.CACHE_SIZE))


class _LineTable(_LiveTable):
    """A DataTable whose rows are one pre-formatted line each (a single column).

    DataTable invalidates every cell's render cache on any update and renders each cell through Rich
    separately — measured by tui_bench as the largest share of the UI's stalls under load. Rendering
    one cell per row instead of one per column makes a redraw several times cheaper; ``get_cell`` still
    answers per logical column (``COLUMNS``) from the kept cell values; ``shown_columns`` says which
    columns are drawn, how wide (``columns.format_line``, shared with the markets table)."""

    COLUMNS: tuple[Column, ...] = ()

    def _setup(self) -> None:
        self._cells: dict[object, tuple] = {}
        self._keys = tuple(c.key for c in self.COLUMNS)
        self._index = {k: i for i, k in enumerate(self._keys)}
        self.shown_columns: Shown = tuple((c, c.width) for c in self.COLUMNS)
        self._add_header()

    def _add_header(self) -> None:
        shown = self.shown_columns
        self.add_column(format_line(shown, header_cells(shown)), key="line", width=line_width(shown))

    def _format_line(self, cells: tuple) -> Text:
        return format_line(self.shown_columns, cells, self._index)

    def _put(self, row: object, cells: tuple, add: bool = False) -> None:
        """Write one row (only when it changed); ``add`` appends a new row keyed ``row``."""
        if add:
            self.add_row(self._format_line(cells), key=row)  # type: ignore[arg-type]  # our row keys are str ids
        elif self._cells.get(row) != cells:
            self.update_cell(row, "line", self._format_line(cells))  # type: ignore[arg-type]  # str row keys
        self._cells[row] = cells

    def get_cell(self, row_key: RowKey | str, column_key: ColumnKey | str) -> Any:
        if column_key in self._keys:
            return self._cells[row_key][self._keys.index(str(column_key))]
        return super().get_cell(row_key, column_key)


class OrderBookLadder(_LineTable, Panel):
    """The selected market's book, YES view: 10 asks over 10 bids, our orders marked.

    Rows are fixed ranks (``ask-9`` … ``ask-0``, ``bid-0`` … ``bid-9``), never keyed by price, so an
    update rewrites only the ranks whose content changed and the scroll never jumps. On a short panel
    the rows around the spread are the ones in view.
    """

    COLUMNS = (
        Column("ours_bid", "Our bid", 10, right=True),
        Column("bid", "Bid size", 10, right=True),
        Column("price", "Price", 7),
        Column("ask", "Ask size", 10),
        Column("ours_ask", "Our ask", 10),
    )
    PANEL = PanelSpec("ladder", ("book/{selected}", "market/{selected}"), throttled(0.2))
    outcome = "YES"  # or "NO": the same book seen from the NO token (prices 1 − p, sides swapped)

    def on_mount(self) -> None:
        self.cursor_type = "none"
        self._setup()
        self._rows = [f"ask-{i}" for i in reversed(range(LADDER_DEPTH))] + [f"bid-{i}" for i in range(LADDER_DEPTH)]
        for r in self._rows:
            self._put(r, ("", "", "", "", ""), add=True)

    def on_resize(self) -> None:
        self.call_after_refresh(self.centre)

    def centre(self) -> None:
        """Put the inside of the book (the best ask over the best bid) in the middle of the view (a
        ladder too short for all 20 ranks)."""
        shown = self.scrollable_content_region.height - self.header_height
        if 0 < shown < 2 * LADDER_DEPTH:
            self.scroll_to(y=LADDER_DEPTH - shown // 2, animate=False, immediate=True)

    def draw(self, frame: Frame) -> None:
        sel = frame.selected
        self.show(frame.store.get(f"book/{sel}"), frame.states.get(sel) if sel is not None else None)

    def show(self, book: BookView | None, state: MarketState | None) -> None:
        """Draw ``book`` (YES terms) as the YES or the NO ladder (``outcome``). On the NO ladder a YES
        ask at p is a NO bid at 1 − p and a YES bid a NO ask, and so are our orders. Our orders show
        their open size and the estimated queue ahead of them (the level's displayed size beyond ours:
        we joined at the back)."""
        no = self.outcome == "NO"
        tick = book.tick if book is not None else None
        ours_bid, ours_ask = _our_sizes(state, no)
        bid_levels, ask_levels = _levels(book, no)
        # Our quotes may sit where the venue shows no level (inside the spread, or paper orders):
        # merge their prices in so every one of our orders has a row.
        bids = _merge(bid_levels, ours_bid, reverse=True)
        asks = _merge(ask_levels, ours_ask, reverse=False)
        for i in range(LADDER_DEPTH):
            self._put(f"ask-{i}", _ask_cells(asks[i] if i < len(asks) else None, ours_ask, tick))
            self._put(f"bid-{i}", _bid_cells(bids[i] if i < len(bids) else None, ours_bid, tick))


class LadderTitle(Static, Panel):
    """The line over the ladder: which outcome's book it shows, and of which market (its full question)."""

    PANEL = OrderBookLadder.PANEL  # drawn with the ladder

    def draw(self, frame: Frame) -> None:
        st = frame.states.get(frame.selected) if frame.selected is not None else None
        title = st.question if st else frame.selected
        update_if_changed(self, Text(f"{frame.outcome} book · {title}", no_wrap=True, overflow="ellipsis"))


def _our_sizes(state: MarketState | None, no: bool) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
    """Our open size by price on the ladder's bid and ask sides (the NO ladder: sides swapped, 1 − p)."""
    ours_bid: dict[int, Decimal] = {}
    ours_ask: dict[int, Decimal] = {}
    if state is not None:
        for o in state.orders:
            buy = (o.side == "BUY") != no
            d = ours_bid if buy else ours_ask
            price = 10_000 - o.price if no else o.price
            d[price] = d.get(price, Decimal(0)) + o.size - o.filled
    return ours_bid, ours_ask


def _levels(book: BookView | None, no: bool) -> tuple[tuple[tuple[int, float], ...], tuple[tuple[int, float], ...]]:
    """The book's ``(price, size)`` levels on the ladder's bid and ask sides, best first."""
    yes_bids, yes_asks = (book.bids, book.asks) if book else ((), ())
    if no:
        return (tuple((10_000 - lv.price, lv.size) for lv in yes_asks),
                tuple((10_000 - lv.price, lv.size) for lv in yes_bids))
    return tuple((lv.price, lv.size) for lv in yes_bids), tuple((lv.price, lv.size) for lv in yes_asks)


def _ask_cells(ask: tuple[int, float] | None, ours: dict[int, Decimal], tick: Tick | None) -> tuple:
    """An ask rank's cells: its price and size, and our order there."""
    if ask is None:
        return "", "", "", "", ""
    price, size = ask
    return ("", "", Text(price_text(price, tick), style="red"), f"{size:,.2f}" if size else "",
            _ours(ours[price], size, "◀ ") if price in ours else "")


def _bid_cells(bid: tuple[int, float] | None, ours: dict[int, Decimal], tick: Tick | None) -> tuple:
    """A bid rank's cells: our order there, and its size and price."""
    if bid is None:
        return "", "", "", "", ""
    price, size = bid
    return (_ours(ours[price], size, "", " ▶") if price in ours else "", f"{size:,.2f}" if size else "",
            Text(price_text(price, tick), style="green"), "", "")


def _merge(levels: tuple, ours: dict[int, Decimal], reverse: bool) -> list[tuple[int, float]]:
    """Book levels ``(price, size)`` (best first) plus our order prices, best first, to the ladder depth."""
    prices = dict(levels)
    for p in ours:
        prices.setdefault(p, 0.0)
    return sorted(prices.items(), reverse=reverse)[:LADDER_DEPTH]


def _ours(size: Decimal, level: float, before: str, after: str = "") -> Text:
    """Our open size at a level and the estimated queue ahead of us (``q`` shares)."""
    ahead = max(level - float(size), 0.0)
    return Text(f"{before}{shares_text(size).removesuffix('.00')} q{ahead:,.0f}{after}", style="bold yellow")


class TradesTape(Static, Panel):
    """The selected market's recent prints, newest first (taker side: BUY lifts, SELL hits), in the
    terms of the outcome the ladder shows, prices on the market's tick."""

    PANEL = PanelSpec("tape", ("trades/{selected}", "book/{selected}"), throttled(0.5))

    def draw(self, frame: Frame) -> None:
        sel = frame.selected
        self.show(frame.store.get(f"trades/{sel}"), frame.outcome, tick_of(frame, sel))

    def show(self, prints: tuple[TradePrint, ...] | None, outcome: str = "YES", tick: Tick | None = None) -> None:
        key = (outcome, tick, (prints or ())[:TAPE_ROWS])
        if getattr(self, "_last_key", None) == key:
            return
        table = Table(expand=True, box=None, pad_edge=False, show_header=True)
        for col, just in (("Time UTC", "left"), ("Taker", "left"), (f"{outcome} price", "right"),
                          ("Shares", "right")):
            table.add_column(col, justify=just, no_wrap=True)  # type: ignore[arg-type]  # "left"/"right": Rich's literals
        for tp in (prints or ())[:TAPE_ROWS]:
            side, price = tp.side, tp.price
            if outcome == "NO":
                side, price = ("SELL" if side == "BUY" else "BUY"), 10_000 - price
            table.add_row(time.strftime("%H:%M:%S", time.gmtime(tp.ts)), Text(side, style="green" if side == "BUY"
                          else "red"), price_text(price, tick), f"{tp.size:,.2f}")
        update_if_changed(self, table, key)


class SignalsPanel(Static, Panel):
    """The selected market's signals and the strategy's last decision (why it quotes what it quotes)."""

    PANEL = PanelSpec("signals", ("signals/{selected}", "decision/{selected}"), throttled(0.5))

    def draw(self, frame: Frame) -> None:
        sel = frame.selected
        self.show(frame.store.get(f"signals/{sel}"), frame.store.get(f"decision/{sel}"))

    def show(self, signals: SignalsSnapshot | None, decision: DecisionState | None) -> None:
        t = Text()
        if decision is not None:
            _decision_text(t, decision)
        if signals is not None:
            _signals_text(t, signals)
        update_if_changed(self, t if t.plain else Text("no signals yet", style="dim"))


def _decision_text(t: Text, decision: DecisionState) -> None:
    """The model, its fair value and pace, why it quotes what it quotes, the risk vetoes, rewards."""
    t.append(f"{decision.model}", style="bold")
    t.append(f"  fair {decision.fair / 10_000:.4f}" if decision.fair is not None else "  fair —")
    t.append(f"  widen x{decision.widen:.2f}  step {decision.step_interval_s:.2f}s\n")
    t.append(f"{decision.reason}\n", style="dim")
    if decision.vetoes:
        t.append("risk: " + "; ".join(decision.vetoes) + "\n", style="yellow")
    if decision.reward_score is not None:
        scoring = decision.reward_score > 0
        t.append(f"reward score {decision.reward_score:,.1f} ", style="green" if scoring else "")
        t.append("scoring\n" if scoring else "not scoring\n", style="green" if scoring else "yellow")


def _signals_text(t: Text, signals: SignalsSnapshot) -> None:
    """Volatility, liquidity, flow, competitors, parity, markouts and the market's end."""
    v, f, liq, c, par, mo, ev = (signals.volatility, signals.flow, signals.liquidity, signals.competitor,
                                 signals.parity, signals.markouts, signals.events)
    t.append(f"σ {v.sigma:.4f}  regime J {v.regime:.2f}  ")
    t.append(f"liquidity {liq.regime.value}\n", style="bold red" if liq.regime.value == "CRISIS" else "")
    t.append(f"flow imbalance {f.imbalance:+.2f} ({f.trades} prints)  skew {f.skew_ticks:+.1f} ticks\n")
    t.append(f"competitor {'YES ' + c.suggestion if c.flagged else 'no'} ({c.events} improvements)  ")
    t.append(f"parity {'ARB ' + format(par.edge_bps, '.0f') + ' bps' if par.flagged else 'ok'}\n")
    means = "  ".join(
        f"{h:g}s {m:+.0f}" if m is not None else f"{h:g}s —" for h, m in zip(mo.horizons, mo.means, strict=True)
    )
    t.append(f"markouts (pips) {means}  toxicity {mo.toxicity:.2f}\n")
    hours = f"{ev.hours_to_end:,.1f} h to end" if ev.hours_to_end is not None else "no end date"
    t.append(f"{hours}{'  REDUCE-ONLY' if ev.reduce_only else ''}"
             f"{'  volume spike' if ev.volume_spike else ''}")


class _FittedTable(_LiveTable):
    """A DataTable of several columns whose ``market`` column takes the width the others leave (at least
    ``MARKET_MIN``), so the table fits a narrow terminal without scrolling sideways. Its cells are
    left-aligned with one space after each (no cell padding: two columns more on 80 columns)."""

    COLUMNS: tuple[str, ...] = ()
    LABELS: tuple[str, ...] = ()
    WIDTHS: tuple[int, ...] = ()  # the market column's is its widest
    MARKET_MIN = 12

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("cell_padding", 0)
        super().__init__(*args, **kwargs)

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for key, label, width in zip(self.COLUMNS, self.LABELS, self.WIDTHS, strict=True):
            self.add_column(label, key=key, width=width + 1)
        self.market_width = self.WIDTHS[self.COLUMNS.index("market")]

    def on_resize(self) -> None:
        others = sum(w + 1 for k, w in zip(self.COLUMNS, self.WIDTHS, strict=True) if k != "market")
        room = self.scrollable_content_region.width - others - 2  # the market column's space, the scrollbar
        width = min(max(room, self.MARKET_MIN), self.WIDTHS[self.COLUMNS.index("market")])
        if room > 0 and width != self.market_width:
            self.market_width = width
            self.columns[ColumnKey("market")].width = width + 1
            self._require_update_dimensions = True
            self.refresh()
            self.redraw()

    def redraw(self) -> None:
        """Draw the rows again (the market column's width changed)."""


class OpenOrdersTable(_FittedTable, Panel):
    """Every open order of ours (YES terms), keyed by order id, oldest first: its age, short id, market,
    side, price on the tick, size and filled shares. Rows added and removed as they change; drawn only
    while its tab is shown (the app draws no hidden panel; showing one draws it at once)."""

    PANEL = PanelSpec("orders", ("markets", "market/*", "book/*"), throttled(1.0))
    COLUMNS = ("age", "id", "market", "side", "price", "size", "filled")
    LABELS = ("Age", "Order id", "Market", "YES side", "Price", "Shares", "Filled")
    WIDTHS = (6, 10, 30, 8, 5, 8, 8)
    _args: tuple = ()

    def on_mount(self) -> None:  # Textual runs _FittedTable's too (the columns)
        self._rows: dict[str, tuple] = {}
        self._first_seen: dict[str, float] = {}

    def draw(self, frame: Frame) -> None:
        self.show(frame.states, market_names(frame), {cid: tick_of(frame, cid) for cid in frame.states})

    def redraw(self) -> None:
        if self._args:
            self.show(*self._args)

    def show(self, states: dict[str, MarketState], names: dict[str, str] | None = None,
             ticks: dict[str, Tick | None] | None = None) -> None:
        self._args = (states, names, ticks)
        now = StatusBar.clock()  # one clock for the screen (pinned in snapshot tests)
        names, ticks = names or {}, ticks or {}
        want: dict[str, tuple] = {}
        for cid, st in states.items():
            for o in st.orders:
                # the order's own time once the engine publishes it (OrderView.placed_at); else the age since
                # this table first saw it, marked as a lower bound (≥)
                placed = getattr(o, "placed_at", 0.0)
                age = age_text(now - placed) if placed else "≥" + age_text(
                    now - self._first_seen.setdefault(o.order_id, now))
                side = Text(o.side, style="green" if o.side == "BUY" else "red")
                want[o.order_id] = (age, short_id(o.order_id),
                                    fit_name(names.get(cid, st.question), self.market_width), side,
                                    price_text(o.price, ticks.get(cid)), shares_text(o.size),
                                    shares_text(o.filled))
        if not want:
            want["-"] = ("", "", Text("no open orders", style="dim"), "", "", "", "")
        for oid in [k for k in self._rows if k not in want]:
            self.remove_row(oid)
            del self._rows[oid]
            self._first_seen.pop(oid, None)
        for oid, cells in want.items():
            old = self._rows.get(oid)
            if old is None:
                self.add_row(*cells, key=oid)
            elif old != cells:
                for key, new, prev in zip(self.COLUMNS, cells, old, strict=True):
                    if new != prev:
                        self.update_cell(oid, key, new)
            self._rows[oid] = cells


class FillsTable(_FittedTable, Panel):
    """Our fills, newest first (the ``fills`` slice, the last 200): time, market, side and token as the
    venue traded it (``BUY NO``), price, shares, the venue's status, fee and the 10 s markout (the YES
    mid 10 s later against the fill's price, + = good for us; ``…`` until then). Drawn only while its
    tab is shown."""

    PANEL = PanelSpec("fills", ("fills", "markets", "book/*"), throttled(1.0))
    COLUMNS = ("time", "market", "side", "price", "size", "status", "fee", "markout")
    LABELS = ("Time UTC", "Market", "Side", "Price", "Shares", "Status", "Fee pUSD", "Mk 10s")
    WIDTHS = (8, 30, 8, 5, 8, 9, 8, 6)
    _args: tuple = ()
    _shown: object = None

    def draw(self, frame: Frame) -> None:
        fills = frame.store.get("fills") or ()
        self.show(fills, market_names(frame), {f.condition_id: tick_of(frame, f.condition_id) for f in fills})

    def redraw(self) -> None:
        if self._args:
            self._shown = None
            self.show(*self._args)

    def show(self, fills: tuple[FillView, ...], names: dict[str, str] | None = None,
             ticks: dict[str, Tick | None] | None = None) -> None:
        self._args = (fills, names, ticks)
        if fills is self._shown:
            return
        self._shown = fills
        names, ticks = names or {}, ticks or {}
        self.clear()  # newest first: a new fill goes on top (at most 200 rows, once a second at most)
        for i, f in enumerate(fills):
            self.add_row(*fill_cells(f, names, ticks.get(f.condition_id), self.market_width), key=str(i))
        if not fills:
            self.add_row("", Text("no fills yet this session", style="dim"), "", "", "", "", "", "", key="-")


def fill_cells(f: FillView, names: dict[str, str], tick: Tick | None = None, width: int = 26) -> tuple:
    """One fill's row in the fills tab."""
    side = Text(f"{f.side} {f.outcome}", style="green" if f.side == "BUY" else "red")
    status = Text(f.status, style="bold red" if f.status in ("FAILED", "RETRYING") else
                  "green" if f.status == "CONFIRMED" else "yellow")
    if f.markout_10s is None:
        markout = Text("…", style="dim")
    else:
        good = f.markout_10s.quantize(Decimal("0.0001"))
        markout = Text(signed_price_text(f.markout_10s), style="green" if good > 0 else "red" if good < 0 else "")
    name = names.get(f.condition_id) or f.question or f.condition_id[:10]
    return (time.strftime("%H:%M:%S", time.gmtime(f.ts)), fit_name(name, width), side,
            decimal_price_text(f.price, tick), shares_text(f.size), status, reward_text(f.fee), markout)


# ====================================================================== positions and P&L


class PositionsPanel(Static, Panel):
    """What we hold and the P&L per market: each traded market (in the markets table's order) with the
    outcome tokens it holds and their share counts (the venue's way: ``YES 20.00``, ``NO 35.00``), the
    net in YES terms (what the limits count), realised and unrealised P&L coloured by sign, our reward
    score estimate and fills; then every market we hold tokens of but do not trade now (removed, or
    known only from a fill), dimmed, under a ``(not traded)`` line; then the totals (with fees).
    Holdings come from the ``holdings`` slice (the ledger: every token with a non-zero count), so no
    position is ever out of sight — and the markets table's Held column is drawn from the same slice on
    the same tick. The share counts are never cut; on a narrow panel the reward estimate and the net
    give way to the market's name.

    With more than ``ROWS`` traded markets, only those holding something are listed (at most ``ROWS``,
    in the table's order) and a line counts the others: a Rich table of hundreds of rows, rebuilt each
    time a P&L moved, held the event loop for tens of milliseconds (tui_bench at 200 markets), and the
    markets table lists every market anyway (sort it by position, ``s``, to see the rest held)."""

    PANEL = MarketsTable.PANEL  # drawn with the markets table: the same store version, the same figures
    ROWS = 30
    _args: tuple = ()
    #: each market's row as last drawn, plain text (condition id → Market, Held, Net YES, Realised, …)
    shown: dict[str, tuple[str, ...]] = {}

    def draw(self, frame: Frame) -> None:
        rewards = {cid: d.reward_score for cid, d in frame.per_market("decision").items()}
        self.show(frame.order, frame.states, frame.store.get("portfolio"), rewards, frame.store.get("holdings"),
                  market_names(frame))

    def show(self, order: tuple[str, ...], states: dict[str, MarketState], total: PortfolioState | None,
             rewards: dict[str, float | None] | None = None,
             holdings: tuple[HoldingView, ...] | None = None, names: dict[str, str] | None = None) -> None:
        self._args = (order, states, total, rewards, holdings, names)
        holdings = holdings or ()
        rewards = rewards or {}
        names = names or {}
        width = self.size.width
        held = by_market(holdings)
        traded = tuple(cid for cid in order if cid in states)
        listed, more, more_held = self._listed(traded, states, held)
        figures = tuple((cid, st.position, st.realized_pnl, st.unrealized_pnl, st.fills, rewards.get(cid))
                        for cid in listed if (st := states[cid]) is not None)
        key = (figures, holdings, total, width, more, more_held)
        if getattr(self, "_last_key", None) == key:
            return
        held_width = max((len(held_text(hs)) for hs in held.values()), default=4)
        table = _PositionsTable(width, max(held_width, len("Held (shares)")))
        table.traded(listed, states, held, rewards, names)
        if more:
            table.more(more, more_held)
        table.untraded([(cid, hs) for cid, hs in held.items() if cid not in states or cid not in order])
        if total is not None:
            table.totals(total)
        rows = table.rows
        self.shown = table.shown
        update_if_changed(self, table.table, key, layout=rows != getattr(self, "_rows", None))  # height: rows
        self._rows = rows

    def _listed(self, traded: tuple[str, ...], states: dict[str, MarketState],
                held: dict[str, list[HoldingView]]) -> tuple[tuple[str, ...], int, int]:
        """The traded markets listed, how many are not, and how many of those hold something."""
        if len(traded) <= self.ROWS:
            return traded, 0, 0
        holding = tuple(cid for cid in traded if cid in held or states[cid].position)
        listed = holding[: self.ROWS]
        return listed, len(traded) - len(listed), len(holding) - len(listed)

    def on_resize(self) -> None:
        if self._args:
            self.show(*self._args)


class _PositionsTable:
    """The positions panel's table (a ``LineTable``), row by row; ``rows`` counts the market rows (not the totals).
    The columns fit ``width``: the Score column, then the Net YES one, give way before the market's
    name would get fewer than ``NAME_MIN`` columns; what we hold is never cut."""

    HEADERS = ("Market", "Held (shares)", "Net YES", "Realised", "Unreal.", "Score", "Fills")
    FIXED = {"Net YES": 9, "Realised": 9, "Unreal.": 9, "Score": 6, "Fills": 5}
    GIVE_WAY = (5, 2)  # Score, then Net YES
    NAME_MIN = 14

    def __init__(self, width: int, held_width: int) -> None:
        self.rows = 0
        #: what each market's row says, as plain text (condition id → the cells, Market first)
        self.shown: dict[str, tuple[str, ...]] = {}
        self.drop: set[int] = set()

        def used() -> int:
            shown = [h for i, h in enumerate(self.HEADERS) if i not in self.drop]
            return sum(self.FIXED.get(h, 0) for h in shown) + held_width + len(shown) - 1

        for i in self.GIVE_WAY:
            if width and width - used() < self.NAME_MIN:
                self.drop.add(i)
        self.name_width = max(width - used(), self.NAME_MIN) if width else 30
        shown = [i for i in range(len(self.HEADERS)) if i not in self.drop]
        # one space between columns, the market's name takes the rest; the shares are never cut (drawn as
        # one Text: a Rich table of these rows took ~17 ms of the UI thread each time a figure moved)
        self.table = LineTable([self.HEADERS[i] for i in shown], ["left" if i < 2 else "right" for i in shown],
                               flex=0, min_widths={1: held_width})

    def _row(self, *cells: str | Text, style: str = "", cid: str = "") -> None:
        self.table.add_row(*(c for i, c in enumerate(cells) if i not in self.drop), style=style)
        if cid:
            self.shown[cid] = tuple(c.plain if isinstance(c, Text) else str(c) for c in cells)

    def traded(self, order: tuple[str, ...], states: dict[str, MarketState], held: dict[str, list[HoldingView]],
               rewards: dict[str, float | None], names: dict[str, str]) -> None:
        """The markets we trade, in ``order``: what each holds, its net, P&L, reward score estimate, fills."""
        for cid in order:
            st = states.get(cid)
            if st is None:
                continue
            reward = rewards.get(cid)
            hs = held.get(cid, [])
            net = net_held(hs, st.position)
            self._row(fit_name(names.get(cid, st.question), self.name_width), held_text(hs, st.position),
                      signed_shares_text(net), money_text(st.realized_pnl),
                      money_text(st.unrealized_pnl), f"{reward:,.0f}" if reward is not None else "—", str(st.fills),
                      cid=cid)
            self.rows += 1

    def more(self, markets: int, holding: int) -> None:
        """The traded markets not listed (``PositionsPanel.ROWS``), and how many of them hold something
        (short: it fits the name column; sorting the markets table by position lists them)."""
        self._row(Text(f"+{markets:,} more, {holding:,} holding", style="italic"), "", "", "", "", "", "",
                  style="dim")
        self.rows += 1

    def untraded(self, held: list[tuple[str, list[HoldingView]]]) -> None:
        """Markets we hold tokens of but do not trade, dimmed, under a ``(not traded)`` line."""
        if held:
            self._row(Text("(not traded)", style="italic"), "", "", "", "", "", "", style="dim")
            self.rows += 1
        for cid, hs in held:
            name = hs[0].question or f"{cid[:10]}…"
            self._row(fit_name(short_names({cid: name})[cid], self.name_width), held_text(hs), "—", "—", "—", "—",
                      "—", style="dim", cid=cid)
            self.rows += 1

    def totals(self, total: PortfolioState) -> None:
        """The totals and the fees (trading + rewards − fees: ``PnlSummary``, over the table)."""
        self._row(Text("Total pUSD", style="bold"), f"fees {reward_text(total.fees)}", "",
                  money_text(total.realized_pnl, bold=True), money_text(total.unrealized_pnl, bold=True), "",
                  str(total.fills), style="bold")


class PnlSummary(Static, Panel):
    """The P&L in one or two lines over the positions, each figure labelled and coloured by sign:
    ``trading +1.30  rewards today +0.35  fees -0.10  net +1.55 pUSD``.

    * trading: realised + unrealised of every fill booked, the journal's included (before fees;
      ``PortfolioState``);
    * rewards today: the liquidity rewards the venue says we earned today (the ``rewards`` slice, read
      every POLYMM_REWARDS_CHECK_S), ``rewards unknown: <why>`` when the last reading failed (then no
      net: it would be a guess), ``rewards not read yet`` before the first one, and ``rewards n/a
      (paper)`` in paper mode, which earns none (net = trading − fees there);
    * fees: paid on our fills;
    * net = trading + rewards − fees, in pUSD.

    On one line when it fits, else two (trading and rewards, then fees and net). Drawn with the
    markets table and the positions (one spec)."""

    DEFAULT_CSS = """
    PnlSummary {
        height: auto;
        max-height: 2;
    }
    """
    PANEL = MarketsTable.PANEL
    _args: tuple = ()

    def draw(self, frame: Frame) -> None:
        store = frame.store
        self.show(store.get("portfolio"), store.get("rewards"), store.get("venue"))

    def show(self, total: PortfolioState | None, rewards: RewardsState | None, venue: VenueState | None,
             today: str | None = None) -> None:
        self._args = (total, rewards, venue, today)
        today = today or time.strftime("%Y-%m-%d", time.gmtime(StatusBar.clock()))  # the bar's clock (pinned in tests)
        pieces = pnl_pieces(total, rewards, venue, today)
        width = self.size.width
        one = _join(pieces)
        lines = [one] if not width or one.cell_len <= width else [_join(pieces[:2]), _join(pieces[2:])]
        t = Text(no_wrap=True, overflow="ellipsis")
        for i, line in enumerate(lines):
            if i:
                t.append("\n")
            if width:
                line.truncate(width, overflow="ellipsis")
            t.append_text(line)
        update_if_changed(self, t, layout=len(lines) != getattr(self, "_lines", 0))  # its height: the lines
        self._lines = len(lines)

    def on_resize(self) -> None:
        if self._args:
            self.show(*self._args)


def pnl_pieces(total: PortfolioState | None, rewards: RewardsState | None, venue: VenueState | None,
               today: str) -> list[Text]:
    """The summary's four labelled figures: trading, rewards, fees, net (``PnlSummary``)."""
    zero = Decimal(0)
    trading = (total.realized_pnl + total.unrealized_pnl) if total is not None else zero
    fees = total.fees if total is not None else zero
    earned: Decimal | None = None
    if paper_mode(venue):
        rewards_piece = Text.assemble("rewards ", ("n/a (paper)", "dim"))
        earned = zero
    elif rewards is not None and rewards.error:
        rewards_piece = Text.assemble(("rewards unknown: ", "yellow"), (rewards_why(rewards), "yellow"))
    elif rewards is None or not rewards.known:
        rewards_piece = Text.assemble("rewards ", ("not read yet", "dim"))
    else:
        earned = rewards.today
        day = _day_name(rewards.date, today)  # a reading from before 00:00 UTC is not today's
        rewards_piece = Text.assemble(f"rewards {day} ", (f"+{reward_text(earned)}", "green" if earned else ""))
    net = (Text.assemble(("net ", "bold"), money_text(trading + earned - fees, " pUSD", bold=True))
           if earned is not None else Text.assemble(("net ", "bold"), ("unknown", "bold")))
    trading_piece = Text.assemble("trading ", money_text(trading))
    fees_piece = Text(f"fees {money(-fees) if fees else '0.00'}")  # never "-0.00"
    if earned is None and rewards is not None and rewards.error:  # the reason is long: it goes last
        return [trading_piece, fees_piece, net, rewards_piece]
    return [trading_piece, rewards_piece, fees_piece, net]


def _day_name(day: str, today: str) -> str:
    """``today``, ``yesterday`` or the date (UTC days, YYYY-MM-DD)."""
    if day in ("", today):
        return "today"
    try:
        before = (datetime.strptime(today, "%Y-%m-%d") - timedelta(days=1)).strftime("%Y-%m-%d")
    except ValueError:
        return day
    return "yesterday" if day == before else day


def _join(pieces: list[Text]) -> Text:
    return Text("  ").join(pieces)


# ====================================================================== event log and confirmation


class EventLog(Static, Panel):
    """The engine's bounded event log: the newest entries that fit, newest last. ``cycle_level``
    filters by severity (all → warnings and errors → errors only); the log's tab says which.

    A Static redrawn without a layout pass, not a RichLog: every RichLog write re-lays-out the whole
    screen (measured: the second largest source of full-screen layouts under load). At most four
    times a second: at 300 markets a line came on almost every tick (fills), and the log drawn 20
    times a second was the UI thread's largest cost after the positions (scale_bench)."""

    PANEL = PanelSpec("events", ("events",), throttled(0.25))
    LEVELS = (("all", {"info", "warning", "error"}), ("warnings+", {"warning", "error"}), ("errors", {"error"}))
    SHOWN = 60  # at most this many lines are formatted (the panel shows the last that fit)
    _level: int = 0
    _entries: tuple[LogEntry, ...] = ()

    @property
    def level_name(self) -> str:
        return self.LEVELS[self._level][0]

    def draw(self, frame: Frame) -> None:
        self.show(frame.store.get("events") or ())

    def cycle_level(self) -> None:
        self._level = (self._level + 1) % len(self.LEVELS)
        self.show(self._entries)

    def show(self, entries: tuple[LogEntry, ...]) -> None:
        self._entries = entries
        allowed = self.LEVELS[self._level][1]
        picked = [e for e in entries if e.level in allowed]
        rows = max(self.size.height, 1) if self.size.height else self.SHOWN
        t = Text(no_wrap=True, overflow="ellipsis")
        for i, e in enumerate(picked[-min(rows, self.SHOWN):]):
            if i:
                t.append("\n")
            style = {"error": "bold red", "warning": "yellow"}.get(e.level, "")
            t.append(time.strftime("%H:%M:%S ", time.gmtime(e.ts)) + e.text, style=style)
        if not picked:
            t = Text(f"nothing logged at this filter ({self.level_name}; l changes it)", style="dim")
        update_if_changed(self, t, (self._level, picked[-1] if picked else None, rows))

    def on_resize(self) -> None:
        self.show(self._entries)


class ConfirmScreen(ModalScreen[bool]):
    """A yes / no question: ``y`` confirms, ``n`` or ``escape`` declines."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):  # as tall as the question needs
            yield Label(self.question, id="confirm-question")
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes (y)", variant="warning", id="confirm-yes")
                yield Button("No (n)", variant="primary", id="confirm-no")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")
