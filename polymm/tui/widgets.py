"""Dashboard widgets. Each renders one or a few StateStore slices and writes only what changed."""

from __future__ import annotations

import time
from decimal import Decimal

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label, RichLog, Static

from ..domain.order_book import BookView
from ..domain.prices import pips_to_str
from ..state import ExecutionState, FeedState, LogEntry, MarketState, PortfolioState, RiskState, VenueState

LADDER_DEPTH = 10


def _money(v: Decimal) -> str:
    return f"{v:+,.2f}"


def _qty(v: Decimal) -> str:
    return f"{v:,.2f}"


class StatusBar(Static):
    """Mode, venue, feed state, risk state (ARMED / HALTED and why) and the UTC clock."""

    def show(self, venue: VenueState | None, feed: FeedState | None, risk: RiskState | None,
             execution: ExecutionState | None = None) -> None:
        t = Text()
        if venue is not None:
            t.append(f" {venue.mode} ", style="bold reverse red" if venue.mode == "LIVE" else "bold reverse")
            t.append(f"  {venue.host}  exec={venue.execution}")
        if feed is not None:
            style = {"RUNNING": "green", "DEGRADED": "yellow", "ERROR": "bold red"}.get(feed.status, "dim")
            t.append("  feed ")
            t.append(feed.status, style=style)
            t.append(f" {feed.frames:,} frames")
            if feed.applied_p99_ms is not None:
                t.append(f" p99 {feed.applied_p99_ms:.2f}ms")
            if len(feed.shards) > 1:
                t.append(f" {sum(s.status == 'RUNNING' for s in feed.shards)}/{len(feed.shards)} shards")
            if feed.errors:
                t.append(f" {feed.errors} skipped", style="yellow")
        if execution is not None and execution.heartbeat_age_s is not None:
            age = execution.heartbeat_age_s
            t.append(f"  hb {age:.0f}s", style="green" if age < 7 else "bold red")
        if execution is not None and execution.pending_fills:
            t.append(f"  {execution.pending_fills} unsettled", style="yellow")
        halted = bool(risk and risk.halted)
        t.append("  ")
        if halted and risk is not None:
            t.append(" HALTED ", style="bold reverse red")
            t.append(f" {risk.reason}", style="red")
        else:
            t.append(" ARMED ", style="bold reverse green")
        t.append(time.strftime("  %H:%M:%S UTC", time.gmtime()))
        self.set_class(halted, "-halted")
        self.update(t)


class MarketsTable(DataTable):
    """One row per market (keyed by condition id); cells are rewritten only when they change."""

    COLUMNS = ("market", "state", "mid", "bid", "ask", "spread", "pos", "pnl")

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for key, label, width in zip(
            self.COLUMNS, ("Market", "State", "Mid", "Our bid", "Our ask", "Spread", "Pos", "P&L"),
            (34, 9, 7, 8, 8, 6, 8, 9), strict=True,
        ):
            self.add_column(label, key=key, width=width)
        self._cells: dict[str, tuple[str, ...]] = {}

    def show(self, order: tuple[str, ...], states: dict[str, MarketState], books: dict[str, BookView]) -> None:
        for cid in [c for c in self._cells if c not in order]:
            self.remove_row(cid)
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
                st.question if len(st.question) <= 33 else st.question[:32] + "…",
                st.status,
                f"{mid / 10_000:.4f}".rstrip("0") if mid is not None else "—",
                pips_to_str(max(bids)) if bids else "—",
                pips_to_str(min(asks)) if asks else "—",
                str(st.spread.normalize()),
                _qty(st.position),
                _money(st.realized_pnl + st.unrealized_pnl),
            )
            old = self._cells.get(cid)
            if old is None:
                self.add_row(*cells, key=cid)
            else:
                for key, new, prev in zip(self.COLUMNS, cells, old, strict=True):
                    if new != prev:
                        self.update_cell(cid, key, new)
            self._cells[cid] = cells

    @property
    def selected(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None


class OrderBookLadder(DataTable):
    """The selected market's book, YES view: 10 asks over 10 bids, our orders marked.

    Rows are fixed ranks (``ask-9`` … ``ask-0``, ``bid-0`` … ``bid-9``), never keyed by price, so an
    update is a handful of ``update_cell`` calls and the cursor and scroll never jump.
    """

    COLUMNS = ("ours_bid", "bid", "price", "ask", "ours_ask")

    def on_mount(self) -> None:
        self.cursor_type = "none"
        for key, label, width in zip(self.COLUMNS, ("Our bid", "Bid size", "Price", "Ask size", "Our ask"),
                                     (8, 10, 7, 10, 8), strict=True):
            self.add_column(label, key=key, width=width)
        self._rows = [f"ask-{i}" for i in reversed(range(LADDER_DEPTH))] + [f"bid-{i}" for i in range(LADDER_DEPTH)]
        for r in self._rows:
            self.add_row("", "", "", "", "", key=r)
        self._cells: dict[tuple[str, str], object] = {}

    def show(self, book: BookView | None, state: MarketState | None) -> None:
        ours_bid: dict[int, Decimal] = {}
        ours_ask: dict[int, Decimal] = {}
        if state is not None:
            for o in state.orders:
                d = ours_bid if o.side == "BUY" else ours_ask
                d[o.price] = d.get(o.price, Decimal(0)) + o.size - o.filled
        # Our quotes may sit where the venue shows no level (inside the spread, or paper orders):
        # merge their prices in so every one of our orders has a row.
        bids = _merge(book.bids if book else (), ours_bid, reverse=True)
        asks = _merge(book.asks if book else (), ours_ask, reverse=False)
        for i in range(LADDER_DEPTH):
            ask = asks[i] if i < len(asks) else None
            bid = bids[i] if i < len(bids) else None
            self._write(f"ask-{i}", (
                "", "",
                Text(pips_to_str(ask[0]), style="red") if ask else "",
                f"{ask[1]:,.2f}" if ask and ask[1] else "",
                Text(f"◀ {ours_ask[ask[0]]}", style="bold yellow") if ask and ask[0] in ours_ask else "",
            ))
            self._write(f"bid-{i}", (
                Text(f"{ours_bid[bid[0]]} ▶", style="bold yellow") if bid and bid[0] in ours_bid else "",
                f"{bid[1]:,.2f}" if bid and bid[1] else "",
                Text(pips_to_str(bid[0]), style="green") if bid else "",
                "", "",
            ))

    def _write(self, row: str, cells: tuple) -> None:
        for key, value in zip(self.COLUMNS, cells, strict=True):
            seen = (value.plain, str(value.style)) if isinstance(value, Text) else value
            if self._cells.get((row, key)) != seen:
                self._cells[(row, key)] = seen
                self.update_cell(row, key, value)


def _merge(levels: tuple, ours: dict[int, Decimal], reverse: bool) -> list[tuple[int, float]]:
    """Book levels (best first) plus our order prices, best first, up to the ladder depth."""
    prices = {lv.price: lv.size for lv in levels}
    for p in ours:
        prices.setdefault(p, 0.0)
    return sorted(prices.items(), reverse=reverse)[:LADDER_DEPTH]


class PositionsPanel(Static):
    """Positions and P&L per market, and the totals."""

    def show(self, order: tuple[str, ...], states: dict[str, MarketState], total: PortfolioState | None) -> None:
        table = Table(expand=True, box=None, pad_edge=False)
        for col in ("Market", "Pos", "Avg", "Realised", "Unreal.", "Fills"):
            table.add_column(col, justify="left" if col == "Market" else "right", no_wrap=True)
        for cid in order:
            st = states.get(cid)
            if st is None:
                continue
            table.add_row(
                st.question[:26], _qty(st.position), f"{st.avg_price:.4f}" if st.avg_price is not None else "—",
                _money(st.realized_pnl), _money(st.unrealized_pnl), str(st.fills),
            )
        if total is not None:
            table.add_row(
                Text("Total", style="bold"), "", "", _money(total.realized_pnl), _money(total.unrealized_pnl),
                str(total.fills), style="bold",
            )
        self.update(table)


class EventLog(RichLog):
    """The engine's bounded event log; appends only entries it has not shown yet."""

    _shown_ts: float = 0.0

    def show(self, entries: tuple[LogEntry, ...]) -> None:
        for e in entries:
            if e.ts <= self._shown_ts:
                continue
            self._shown_ts = e.ts
            style = {"error": "bold red", "warning": "yellow"}.get(e.level, "")
            self.write(Text(time.strftime("%H:%M:%S ", time.gmtime(e.ts)) + e.text, style=style))


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
        with Grid(id="confirm-dialog"):
            yield Label(self.question, id="confirm-question")
            yield Button("Yes (y)", variant="warning", id="confirm-yes")
            yield Button("No (n)", variant="primary", id="confirm-no")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")
