"""Dashboard widgets. Each renders one or a few StateStore slices and writes only what changed.

The panels among them (``Panel``) declare, next to the widget, the store keys they read and how often
they are drawn (``PANEL``); ``draw(frame)`` feeds them from one refresh tick (``polymm.tui.panels``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.cache import LRUCache
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, DataTable, Label, Static, TabbedContent, TabPane
from textual.widgets.data_table import ColumnKey, RowKey

from ..domain.order_book import BookView
from ..domain.prices import pips_to_str
from ..domain.signals import SignalsSnapshot
from ..state import (
    DecisionState,
    ExecutionState,
    FeedState,
    HoldingView,
    LogEntry,
    MarketState,
    PortfolioState,
    RewardsState,
    RiskState,
    TradePrint,
    VenueState,
)
from .panels import ON_CHANGE, Frame, Panel, PanelSpec, every, throttled

LADDER_DEPTH = 10
TAPE_ROWS = 12


def _money(v: Decimal) -> str:
    """Signed, to the cent; a figure that rounds to zero reads +0.00, never -0.00."""
    cents = v.quantize(Decimal("0.01"))
    return f"{cents if cents else abs(cents):+,.2f}"


def _qty(v: Decimal) -> str:
    return f"{v:,.2f}"


SHARE_PLACES = Decimal("0.000001")  # the venue's share unit (1e-6)


def shares_text(v: Decimal) -> str:
    """A share count for a human: 2 decimals, more only where the value has them (a holding of
    0.004 shares must not read 0.00), never an exponent (``1E+1``) or a 28-digit residue."""
    v = v.quantize(SHARE_PLACES)
    if not v:
        v = abs(v)  # never "-0.00"
    if v == v.quantize(Decimal("0.01")):
        return f"{v:,.2f}"
    return f"{v.normalize():,f}"


def holdings_text(holdings: list[HoldingView] | tuple[HoldingView, ...]) -> str:
    """``Yes 20.00`` / ``Yes 5.00 No 3.00``: each outcome token held and its share count (Yes first)."""
    ordered = sorted(holdings, key=lambda h: h.outcome != "Yes")
    return " ".join(f"{h.outcome[:12]} {shares_text(h.shares)}" for h in ordered)


def reward_text(v: Decimal) -> str:
    """A reward amount in pUSD for a human: to the cent, except that an amount under a cent shows its
    digits (the venue pays in micro-pUSD: 0.004211 must not read 0.00); never an exponent."""
    if abs(v) >= Decimal("0.01") or not v.quantize(SHARE_PLACES):
        return f"{v.quantize(Decimal('0.01')) or Decimal('0.00'):,.2f}"
    return shares_text(v)


def paper_mode(venue: VenueState | None) -> bool:
    """Paper execution: no venue pays us rewards."""
    return venue is not None and venue.execution == "paper"


def rewards_why(rewards: RewardsState) -> str:
    """Why the last reading of the rewards failed, without the engine's own ``rewards unavailable:``."""
    why = rewards.error.strip()
    for prefix in ("rewards unavailable:", "rewards unknown:"):
        if why.lower().startswith(prefix):
            why = why[len(prefix):].strip()
    return why or "the venue did not answer"


def update_if_changed(widget: Static, content: Text | Table, key: object = None, layout: bool = False) -> None:
    """``Static.update`` only when the content changed (compared by ``key``, default the text), and
    without a layout pass unless asked: a fixed-size panel never needs one, and a layout pass reflows
    the whole screen (the dominant cost of a refresh under load, measured by tui_bench)."""
    k = key if key is not None else (content.plain, tuple(content.spans)) if isinstance(content, Text) else content
    if getattr(widget, "_last_key", None) == k:
        return
    widget._last_key = k  # type: ignore[attr-defined]  # a memo on any Static, read back with getattr above
    widget.update(content, layout=layout)


def _in_shown_tab(widget: Widget) -> bool:
    """Whether ``widget`` is on the active pane of the tabs it is in (True when in none)."""
    pane: TabPane | None = None
    for node in widget.ancestors:
        if isinstance(node, TabPane):
            pane = node
        elif isinstance(node, TabbedContent) and pane is not None:
            return node.active == pane.id
    return True


class StatusBar(Static, Panel):
    """Mode, risk state (ARMED / HALTED) and RECONCILING (what we hold is not known yet, so nothing is
    quoted) first — they must survive a narrow terminal — then the halt reason, feed state and latency,
    heartbeat age, rate-limit budget, today's P&L, venue, and the UTC clock, which stays at the right
    edge: what does not fit before it is cut (with an ellipsis), the clock never is."""

    #: the figures 4 times a second (the clock ticks with them); a change of risk state at once
    PANEL = PanelSpec("status", ("venue", "feed", "risk", "execution"), every(0.25, at_once=("risk",)))
    clock: Callable[[], float] = staticmethod(time.time)  # replaced by snapshot tests (a fixed clock)

    def draw(self, frame: Frame) -> None:
        store = frame.store
        self.show(store.get("venue"), store.get("feed"), store.get("risk"), store.get("execution"))

    def show(self, venue: VenueState | None, feed: FeedState | None, risk: RiskState | None,
             execution: ExecutionState | None = None) -> None:
        halted = bool(risk and risk.halted)
        reconciling = execution is not None and not execution.ready
        t = Text()
        _status_state(t, venue, risk, halted, reconciling)
        if feed is not None:
            _status_feed(t, feed)
        if execution is not None:
            _status_order_path(t, execution)
        if risk is not None:
            _status_risk(t, risk, live=execution is not None and execution.name == "live")
        _status_origin(t, feed, venue)
        t = self._with_clock(t)
        self.set_class(halted, "-halted")
        self.set_class(reconciling, "-reconciling")
        update_if_changed(self, t)

    def _with_clock(self, t: Text) -> Text:
        """``t`` and the UTC clock at the right edge; ``t`` is cut (with an ellipsis) to leave it room."""
        clock = Text(time.strftime("  %H:%M:%S UTC", time.gmtime(self.clock())))
        width = self.size.width
        if width and t.cell_len + clock.cell_len > width:
            t.truncate(max(width - clock.cell_len, 0), overflow="ellipsis")
        t.append_text(clock)
        return t


def _status_state(t: Text, venue: VenueState | None, risk: RiskState | None, halted: bool,
                  reconciling: bool) -> None:
    """The mode, ARMED / HALTED, RECONCILING and the halt reason."""
    if venue is not None:
        t.append(f" {venue.mode} ", style="bold reverse red" if venue.mode == "LIVE" else "bold reverse")
    t.append(" ")
    t.append(" HALTED " if halted else " ARMED ", style="bold reverse red" if halted else "bold reverse green")
    if reconciling:  # the reason is on the banner under the bar (ReconcileBanner)
        t.append(" ")
        t.append(" RECONCILING ", style="bold reverse yellow")
    if halted and risk is not None:
        t.append(f" {risk.reason}", style="red")


def _status_feed(t: Text, feed: FeedState) -> None:
    """The feed's state, applied-latency p99, shards running and frames skipped."""
    style = {"RUNNING": "green", "DEGRADED": "yellow", "ERROR": "bold red"}.get(feed.status, "dim")
    t.append("  feed ")
    t.append(feed.status, style=style)
    if feed.applied_p99_ms is not None:
        t.append(f" p99 {feed.applied_p99_ms:.2f}ms")
    if len(feed.shards) > 1:
        t.append(f" {sum(s.status == 'RUNNING' for s in feed.shards)}/{len(feed.shards)} shards")
    if feed.errors:
        t.append(f" {feed.errors} skipped", style="yellow")


def _status_order_path(t: Text, execution: ExecutionState) -> None:
    """The heartbeat's age, unsettled fills and (live) the rate-limit budget spent."""
    if execution.heartbeat_age_s is not None:
        age = execution.heartbeat_age_s
        t.append(f"  hb {age:.0f}s", style="green" if age < 7 else "bold red")
    if execution.pending_fills:
        t.append(f"  {execution.pending_fills} unsettled", style="yellow")
    if execution.name == "live":  # per-signer buckets (docs/protocol.md §8, rate limits)
        busy = execution.orders_1s > 30 or execution.cancels_1s > 60
        t.append(f"  rl {execution.orders_1s}/40 {execution.cancels_1s}/80", style="bold yellow" if busy else "dim")


def _status_risk(t: Text, risk: RiskState, live: bool) -> None:
    """Today's P&L against the loss limit, tightened limits, the error cooldown and (live) the balance."""
    if risk.daily_loss_limit:
        t.append(f"  day {risk.daily_pnl:+,.2f}/-{risk.daily_loss_limit:,.0f}",
                 style="red" if risk.daily_pnl < 0 else "")
        if risk.tighten < 0.995:  # shown once the limits really moved
            t.append(f" limits x{risk.tighten:.2f}", style="yellow")
        if risk.cooldown_s > 0:
            t.append(f" cooldown {risk.cooldown_s:.0f}s", style="yellow")
    if live:  # the venue's, or unknown
        if risk.balance is None:
            t.append("  pUSD unknown", style="bold red")  # never an estimate: quoting waits for it
        else:
            t.append(f"  pUSD {risk.balance:,.2f}")


def _status_origin(t: Text, feed: FeedState | None, venue: VenueState | None) -> None:
    """Frames received and the venue's host and execution (dim: first to be cut on a narrow bar)."""
    if feed is not None:
        t.append(f"  {feed.frames:,} frames", style="dim")
    if venue is not None:
        t.append(f"  {venue.host} exec={venue.execution}", style="dim")


class ReconcileBanner(Static, Panel):
    """One line under the status bar while what we hold is not known (``ExecutionState.ready`` False:
    the catch-up with the venue, a failing reconciliation, a position being taken from the venue, an
    unknown balance): why nothing is quoted. Hidden otherwise (a layout pass only when it comes or goes)."""

    PANEL = StatusBar.PANEL  # drawn with the status bar

    def draw(self, frame: Frame) -> None:
        self.show(frame.store.get("execution"))

    def show(self, execution: ExecutionState | None) -> None:
        shown = execution is not None and not execution.ready
        self.set_class(shown, "-shown")
        if shown and execution is not None:
            why = execution.reason or "what we hold is not known yet"
            update_if_changed(self, Text(f" {why} — nothing is quoted meanwhile", no_wrap=True, overflow="ellipsis"))


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
    answers per logical column (``COLUMNS``) from the kept cell values."""

    COLUMNS: tuple[str, ...] = ()
    LABELS: tuple[str, ...] = ()
    WIDTHS: tuple[int, ...] = ()
    RIGHT: frozenset[str] = frozenset()

    def _setup(self) -> None:
        self._cells: dict[object, tuple] = {}
        self.add_column(self._line(self.LABELS), key="line", width=sum(self.WIDTHS) + len(self.WIDTHS) - 1)

    def _line(self, cells: tuple) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        for i, (key, cell, width) in enumerate(zip(self.COLUMNS, cells, self.WIDTHS, strict=True)):
            if i:
                t.append(" ")
            piece = cell if isinstance(cell, Text) else Text(str(cell))
            piece.truncate(width, overflow="ellipsis")
            pad = " " * (width - piece.cell_len)
            if key in self.RIGHT:
                t.append(pad)
                t.append_text(piece)
            else:
                t.append_text(piece)
                t.append(pad)
        return t

    def _put(self, row: object, cells: tuple, add: bool = False) -> None:
        """Write one row (only when it changed); ``add`` appends a new row keyed ``row``."""
        if add:
            self.add_row(self._line(cells), key=row)  # type: ignore[arg-type]  # our row keys are str market ids
        elif self._cells.get(row) != cells:
            self.update_cell(row, "line", self._line(cells))  # type: ignore[arg-type]  # str row keys, as above
        self._cells[row] = cells

    def get_cell(self, row_key: RowKey | str, column_key: ColumnKey | str) -> Any:
        if column_key in self.COLUMNS:
            return self._cells[row_key][self.COLUMNS.index(column_key)]
        return super().get_cell(row_key, column_key)


class MarketsTable(_LineTable, Panel):
    """One row per market (keyed by condition id); a row is rewritten only when it changes. Its cursor
    selects the market the ladder, the tape and the signals show."""

    PANEL = PanelSpec("markets", ("markets", "market/*", "book/*", "rewards", "venue"), throttled(0.5))
    COLUMNS = ("market", "state", "mid", "bid", "ask", "spread", "pos", "pnl", "rewards")
    LABELS = ("Market", "State", "Mid", "Our bid", "Our ask", "Spread", "Pos", "P&L", "Rewards")
    WIDTHS = (30, 11, 7, 8, 8, 6, 8, 9, 8)  # State fits "reconciling"
    RIGHT = frozenset({"pos", "pnl", "rewards"})

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self._setup()

    def draw(self, frame: Frame) -> None:
        self.show(frame.order, frame.states, frame.per_market("book"), frame.store.get("rewards"),
                  frame.store.get("venue"))

    def show(self, order: tuple[str, ...], states: dict[str, MarketState], books: dict[str, BookView],
             rewards: RewardsState | None = None, venue: VenueState | None = None) -> None:
        """``rewards``: what the venue says each market earned today (the P&L column is trading only):
        ``—`` in paper (nothing pays it), ``?`` while not known (not read yet, or the last reading failed)."""
        paper = paper_mode(venue)
        known = rewards is not None and rewards.known and not rewards.error
        for cid in [c for c in self._cells if c not in order]:
            self.remove_row(cid)  # type: ignore[arg-type]  # str row keys, as above
            del self._cells[cid]
        for cid in order:
            st = states.get(cid)
            if st is None:
                continue
            book = books.get(cid)
            bids = [o.price for o in st.orders if o.side == "BUY"]
            asks = [o.price for o in st.orders if o.side == "SELL"]
            mid = book.mid if book is not None else None
            cells = (
                st.question,
                st.status,
                f"{mid / 10_000:.4f}".rstrip("0") if mid is not None else "—",
                pips_to_str(max(bids)) if bids else "—",
                pips_to_str(min(asks)) if asks else "—",
                str(st.spread.normalize()),
                _qty(st.position),
                _money(st.realized_pnl + st.unrealized_pnl),
                "—" if paper else reward_text(rewards.by_market.get(cid, Decimal(0))) if known and rewards else "?",
            )
            self._put(cid, cells, add=cid not in self._cells)

    @property
    def selected(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None


class OrderBookLadder(_LineTable, Panel):
    """The selected market's book, YES view: 10 asks over 10 bids, our orders marked.

    Rows are fixed ranks (``ask-9`` … ``ask-0``, ``bid-0`` … ``bid-9``), never keyed by price, so an
    update rewrites only the ranks whose content changed and the scroll never jumps.
    """

    COLUMNS = ("ours_bid", "bid", "price", "ask", "ours_ask")
    LABELS = ("Our bid", "Bid size", "Price", "Ask size", "Our ask")
    WIDTHS = (10, 10, 7, 10, 10)
    RIGHT = frozenset({"ours_bid", "bid"})
    PANEL = PanelSpec("ladder", ("book/{selected}", "market/{selected}"), throttled(0.2))
    outcome = "YES"  # or "NO": the same book seen from the NO token (prices 1 − p, sides swapped)

    def on_mount(self) -> None:
        self.cursor_type = "none"
        self._setup()
        self._rows = [f"ask-{i}" for i in reversed(range(LADDER_DEPTH))] + [f"bid-{i}" for i in range(LADDER_DEPTH)]
        for r in self._rows:
            self._put(r, ("", "", "", "", ""), add=True)

    def draw(self, frame: Frame) -> None:
        sel = frame.selected
        self.show(frame.store.get(f"book/{sel}"), frame.states.get(sel) if sel is not None else None)

    def show(self, book: BookView | None, state: MarketState | None) -> None:
        """Draw ``book`` (YES terms) as the YES or the NO ladder (``outcome``). On the NO ladder a YES
        ask at p is a NO bid at 1 − p and a YES bid a NO ask, and so are our orders. Our orders show
        their open size and the estimated queue ahead of them (the level's displayed size beyond ours:
        we joined at the back)."""
        no = self.outcome == "NO"
        ours_bid, ours_ask = _our_sizes(state, no)
        bid_levels, ask_levels = _levels(book, no)
        # Our quotes may sit where the venue shows no level (inside the spread, or paper orders):
        # merge their prices in so every one of our orders has a row.
        bids = _merge(bid_levels, ours_bid, reverse=True)
        asks = _merge(ask_levels, ours_ask, reverse=False)
        for i in range(LADDER_DEPTH):
            self._write(f"ask-{i}", _ask_cells(asks[i] if i < len(asks) else None, ours_ask))
            self._write(f"bid-{i}", _bid_cells(bids[i] if i < len(bids) else None, ours_bid))

    def _write(self, row: str, cells: tuple) -> None:
        self._put(row, cells)


class LadderTitle(Static, Panel):
    """The line over the ladder: which outcome's book it shows, and of which market."""

    PANEL = OrderBookLadder.PANEL  # drawn with the ladder

    def draw(self, frame: Frame) -> None:
        st = frame.states.get(frame.selected) if frame.selected is not None else None
        title = st.question if st else frame.selected
        update_if_changed(self, Text(f"{frame.outcome} book · {title}"))


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


def _ask_cells(ask: tuple[int, float] | None, ours: dict[int, Decimal]) -> tuple:
    """An ask rank's cells: its price and size, and our order there."""
    if ask is None:
        return "", "", "", "", ""
    price, size = ask
    return ("", "", Text(pips_to_str(price), style="red"), f"{size:,.2f}" if size else "",
            _ours(ours[price], size, "◀ ") if price in ours else "")


def _bid_cells(bid: tuple[int, float] | None, ours: dict[int, Decimal]) -> tuple:
    """A bid rank's cells: our order there, and its size and price."""
    if bid is None:
        return "", "", "", "", ""
    price, size = bid
    return (_ours(ours[price], size, "", " ▶") if price in ours else "", f"{size:,.2f}" if size else "",
            Text(pips_to_str(price), style="green"), "", "")


def _merge(levels: tuple, ours: dict[int, Decimal], reverse: bool) -> list[tuple[int, float]]:
    """Book levels ``(price, size)`` (best first) plus our order prices, best first, to the ladder depth."""
    prices = dict(levels)
    for p in ours:
        prices.setdefault(p, 0.0)
    return sorted(prices.items(), reverse=reverse)[:LADDER_DEPTH]


def _ours(size: Decimal, level: float, before: str, after: str = "") -> Text:
    """Our open size at a level and the estimated queue ahead of us (``q`` shares)."""
    ahead = max(level - float(size), 0.0)
    return Text(f"{before}{size.normalize():f} q{ahead:,.0f}{after}", style="bold yellow")


class TradesTape(Static, Panel):
    """The selected market's recent prints, newest first (taker side: BUY lifts, SELL hits), in the
    terms of the outcome the ladder shows."""

    PANEL = PanelSpec("tape", ("trades/{selected}", "book/{selected}"), throttled(0.5))

    def draw(self, frame: Frame) -> None:
        self.show(frame.store.get(f"trades/{frame.selected}"), frame.outcome)

    def show(self, prints: tuple[TradePrint, ...] | None, outcome: str = "YES") -> None:
        key = (outcome, (prints or ())[:TAPE_ROWS])
        if getattr(self, "_last_key", None) == key:
            return
        table = Table(expand=True, box=None, pad_edge=False, show_header=True)
        for col, just in (("Time", "left"), ("Side", "left"), ("Price", "right"), ("Size", "right")):
            table.add_column(col, justify=just, no_wrap=True)  # type: ignore[arg-type]  # "left"/"right": Rich's literals
        for tp in (prints or ())[:TAPE_ROWS]:
            side, price = tp.side, tp.price
            if outcome == "NO":
                side, price = ("SELL" if side == "BUY" else "BUY"), 10_000 - price
            table.add_row(time.strftime("%H:%M:%S", time.gmtime(tp.ts)), Text(side, style="green" if side == "BUY"
                          else "red"), pips_to_str(price), f"{tp.size:,.2f}")
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


class OpenOrdersTable(_LiveTable, Panel):
    """Every open order of ours (YES terms), keyed by order id; rows added and removed as they change.
    Drawn only while its tab is shown (hidden, it would only cost layouts; showing a tab redraws all)."""

    PANEL = PanelSpec("orders", ("markets", "market/*", "book/*"), throttled(1.0))
    COLUMNS = ("market", "side", "price", "size", "filled")

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for key, label, width in zip(self.COLUMNS, ("Market", "Side", "Price", "Size", "Filled"),
                                     (30, 5, 7, 9, 8), strict=True):
            self.add_column(label, key=key, width=width)
        self._rows: dict[str, tuple] = {}

    def draw(self, frame: Frame) -> None:
        if _in_shown_tab(self):
            self.show(frame.states)

    def show(self, states: dict[str, MarketState]) -> None:
        want: dict[str, tuple] = {}
        for st in states.values():
            for o in st.orders:
                want[o.order_id] = (st.question[:29], o.side, pips_to_str(o.price), _qty(o.size), _qty(o.filled))
        for oid in [k for k in self._rows if k not in want]:
            self.remove_row(oid)
            del self._rows[oid]
        for oid, cells in want.items():
            old = self._rows.get(oid)
            if old is None:
                self.add_row(*cells, key=oid)
            elif old != cells:
                for key, new, prev in zip(self.COLUMNS, cells, old, strict=True):
                    if new != prev:
                        self.update_cell(oid, key, new)
            self._rows[oid] = cells


class PositionsPanel(Static, Panel):
    """What we hold and the P&L per market: each traded market (in the markets table's order) with the
    outcome tokens it holds and their share counts (the venue's way: ``Yes 20.00``, ``No 35.00``),
    realised and unrealised P&L, our reward score estimate and fills; then every market we hold
    tokens of but do not trade now (removed, or known only from a fill), dimmed, under a ``(not
    traded)`` line; then the totals (with fees). Holdings come from the ``holdings`` slice (the
    ledger: every token with a non-zero count), so no position is ever out of sight. The share counts
    are never cut; on a narrow panel the reward estimate gives way to the market's name."""

    PANEL = PanelSpec("positions", ("markets", "market/*", "book/*", "decision/*", "portfolio", "holdings"),
                      throttled(1.0))
    NARROW = 58  # below this many columns the Score column (our reward score estimate) is left out
    _args: tuple = ()

    def draw(self, frame: Frame) -> None:
        rewards = {cid: d.reward_score for cid, d in frame.per_market("decision").items()}
        self.show(frame.order, frame.states, frame.store.get("portfolio"), rewards, frame.store.get("holdings"))

    def show(self, order: tuple[str, ...], states: dict[str, MarketState], total: PortfolioState | None,
             rewards: dict[str, float | None] | None = None,
             holdings: tuple[HoldingView, ...] | None = None) -> None:
        self._args = (order, states, total, rewards, holdings)
        holdings = holdings or ()
        rewards = rewards or {}
        narrow = 0 < self.size.width < self.NARROW
        figures = tuple((cid, st.realized_pnl, st.unrealized_pnl, st.fills, rewards.get(cid))
                        for cid in order if (st := states.get(cid)) is not None)
        key = (figures, holdings, total, narrow)
        if getattr(self, "_last_key", None) == key:
            return
        held = _by_market(holdings)
        table = _PositionsTable(narrow, held_width=max((len(holdings_text(hs)) for hs in held.values()), default=4))
        table.traded(order, states, held, rewards)
        table.untraded([(cid, hs) for cid, hs in held.items() if cid not in states or cid not in order])
        if total is not None:
            table.totals(total)
        rows = table.rows
        update_if_changed(self, table.table, key, layout=rows != getattr(self, "_rows", None))  # height: rows
        self._rows = rows

    def on_resize(self) -> None:
        if self._args:
            self.show(*self._args)


def _by_market(holdings: tuple[HoldingView, ...]) -> dict[str, list[HoldingView]]:
    """The tokens held, by market (in the order they come)."""
    held: dict[str, list[HoldingView]] = {}
    for h in holdings:
        held.setdefault(h.condition_id, []).append(h)
    return held


class _PositionsTable:
    """The positions panel's Rich table, row by row; ``rows`` counts the market rows (not the totals).
    On a narrow panel the Score column is left out."""

    REWARD_AT = 4  # the Score cell's index in a row

    def __init__(self, narrow: bool, held_width: int) -> None:
        self.narrow = narrow
        self.rows = 0
        self.table = Table(expand=True, box=None, pad_edge=False, collapse_padding=True)  # one space between
        columns = ("Market", "Held", "Realised", "Unreal.", "Fills") if narrow else (
            "Market", "Held", "Realised", "Unreal.", "Score", "Fills")
        for col in columns:
            self.table.add_column(col, justify="left" if col in ("Market", "Held") else "right", no_wrap=True,
                                  ratio=3 if col == "Market" else None,
                                  min_width=held_width if col == "Held" else None)  # the shares are never cut

    def _row(self, *cells: RenderableType, style: str = "") -> None:
        self.table.add_row(*(c for i, c in enumerate(cells) if not (self.narrow and i == self.REWARD_AT)),
                           style=style)

    def traded(self, order: tuple[str, ...], states: dict[str, MarketState], held: dict[str, list[HoldingView]],
               rewards: dict[str, float | None]) -> None:
        """The markets we trade, in ``order``: what each holds, its P&L, our reward score estimate, fills."""
        for cid in order:
            st = states.get(cid)
            if st is None:
                continue
            reward = rewards.get(cid)
            self._row(st.question[:22], holdings_text(held.get(cid, ())) or "—", _money(st.realized_pnl),
                      _money(st.unrealized_pnl), f"{reward:,.0f}" if reward is not None else "—", str(st.fills))
            self.rows += 1

    def untraded(self, held: list[tuple[str, list[HoldingView]]]) -> None:
        """Markets we hold tokens of but do not trade, dimmed, under a ``(not traded)`` line."""
        if held:
            self._row(Text("(not traded)", style="italic"), "", "", "", "", "", style="dim")
            self.rows += 1
        for cid, hs in held:
            name = hs[0].question or f"{cid[:10]}…"
            self._row(name[:22], holdings_text(hs), "—", "—", "—", "—", style="dim")
            self.rows += 1

    def totals(self, total: PortfolioState) -> None:
        """The totals and the fees (trading + rewards − fees: ``PnlSummary``, over the table)."""
        self._row(Text("Total", style="bold"), f"fees {total.fees:,.2f}", _money(total.realized_pnl),
                  _money(total.unrealized_pnl), "", str(total.fills), style="bold")


class PnlSummary(Static, Panel):
    """The P&L in one or two lines over the positions, each figure labelled:
    ``trading +1.30  rewards today +0.35  fees -0.10  net +1.55 pUSD``.

    * trading: realised + unrealised of every fill booked, the journal's included (before fees;
      ``PortfolioState``);
    * rewards today: the liquidity rewards the venue says we earned today (the ``rewards`` slice, read
      every POLYMM_REWARDS_CHECK_S), ``rewards unknown: <why>`` when the last reading failed (then no
      net: it would be a guess), ``rewards not read yet`` before the first one, and ``rewards n/a
      (paper)`` in paper mode, which earns none (net = trading − fees there);
    * fees: paid on our fills;
    * net = trading + rewards − fees, in pUSD.

    On one line when it fits, else two (trading and rewards, then fees and net)."""

    DEFAULT_CSS = """
    PnlSummary {
        height: auto;
        max-height: 2;
    }
    """
    PANEL = PanelSpec("pnl-summary", ("portfolio", "rewards", "venue"), throttled(1.0))
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
    net = Text.assemble(("net ", "bold"), (f"{_money(trading + earned - fees)} pUSD" if earned is not None
                                           else "unknown", "bold"))
    trading_piece = Text(f"trading {_money(trading)}")
    fees_piece = Text(f"fees {_money(-fees) if fees else '0.00'}")  # never "-0.00"
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


class EventLog(Static, Panel):
    """The engine's bounded event log: the newest entries that fit, newest last. ``cycle_level``
    filters by severity (all → warnings and errors → errors only).

    A Static redrawn without a layout pass, not a RichLog: every RichLog write re-lays-out the whole
    screen (measured: the second largest source of full-screen layouts under load)."""

    PANEL = PanelSpec("events", ("events",), ON_CHANGE)
    LEVELS = (("all", {"info", "warning", "error"}), ("warnings+", {"warning", "error"}), ("errors", {"error"}))
    SHOWN = 60  # at most this many lines are formatted (the panel shows the last that fit)
    _level: int = 0
    _entries: tuple[LogEntry, ...] = ()

    @property
    def level_name(self) -> str:
        return self.LEVELS[self._level][0]

    def draw(self, frame: Frame) -> None:
        self.show(frame.changed["events"])

    def cycle_level(self) -> None:
        self._level = (self._level + 1) % len(self.LEVELS)
        self.border_title = f"log: {self.level_name}"
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
