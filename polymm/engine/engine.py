"""The Engine: wires feed, strategy, execution, portfolio and risk, and owns all trading state.

One command API (``kill``, ``rearm``, ``set_params``, ``pause``, ``resume``, ``add_market``,
``remove_market``) serves the TUI and the CLI alike; nothing else mutates engine state. Three
long-running loops — ``run_feed``, ``run_strategy``, ``run_risk`` — are hosted by whoever runs the
engine (in ``polymm-tui`` an event loop on a thread of its own, ``host.py``; a task group in
``polymm run``). Each loop is guarded:
an exception is reported and engages the kill switch instead of dying silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from time import perf_counter  # the strategy's own CPU accounting (``_gap``): never a test's clock

from ..config import ConfigError, MarketParams, Settings
from ..domain import pipeline
from ..domain.ledger import ADJUSTMENT, Ledger
from ..domain.market import Market, Side
from ..domain.messages import LastTrade
from ..domain.order_book import OrderBook
from ..domain.order_diff import too_old
from ..domain.portfolio import REVERSAL, Fill
from ..domain.prices import (
    MAX_PIPS,
    PriceError,
    Tick,
    fmt_amount,
    fmt_number,
    fmt_pips,
    human,
    pips_to_decimal,
    price_to_pips,
)
from ..domain.quoting import Quote, Targets
from ..domain.requote import PRESSURE_TOLERANCE, Plan, budget_for, crossed, position_for, shares_for, slack_ticks
from ..domain.risk import Position, PositionBook, RiskEngine, correlated_exposure, exposure
from ..domain.signals import EventSnapshot
from ..domain.strategy import MarketBrain
from ..eventlog import EventLog
from ..journal import Journal, Restored, utc_date
from ..state import (
    DecisionState,
    ExecutionState,
    FeedState,
    FillView,
    HoldingView,
    MarketState,
    PortfolioState,
    RewardsState,
    RiskState,
    StateStore,
    TradePrint,
    VenueState,
)
from ..venue.execution import Execution, OpenOrder, OrderRequest, Pacing, route
from ..venue.listing import listing_problems
from ..venue.live import LiveExecution
from ..venue.reconnect import resolve_first, start_first
from ..venue.recorder import FrameWriter
from ..venue.rest import PublicClient
from ..venue.retry import describe as venue_error
from . import eager
from .capital import (
    CapitalManager,
    CapitalOp,
    Holding,
    Quota,
    path_from_settings,
    plan_merges,
    plan_redeems,
    used_today,
)
from .execution_factory import build_execution
from .feed import FeedConfig, MarketFeed
from .wakeup import Wakeup

log = logging.getLogger(__name__)

ZERO = Decimal(0)
TAPE_LEN = 30  # recent trades kept per market for the tape
JOURNAL_DAILY_S = 5.0  # the journal's daily P&L snapshot, at most this often (and at stop)
SETTLE_WAIT_S = 1.0  # after cancelling, wait at most this long for the cancelled orders' last fills
FLATTEN_WAIT_S = 5.0  # a flatten waits at most this long for its fills before saying what is left
FILLS_KEPT = 200  # the fills tab's length
PORTFOLIO_EVERY_S = 0.1  # the portfolio totals (every market's mark) are published at most this often
MAX_PASSES_IN_A_ROW = 2  # the strategy's passes before it gives the event loop's other work a turn
#: A pass runs every step likely to requote (``Engine._need`` < ``UNLIKELY``) and every step a pass left
#: before; the others only while the pass is younger than this — the rest go first in the next pass,
#: behind the likely requotes of the frames read meanwhile (``Engine._carry``): never left twice
PASS_SLICE_S = 0.002
UNLIKELY = 3
POSITIONS_CHECK_EVERY_S = 10.0  # the kept position book against a full recount (O(markets): ~2 ms at 300)
TIMER_SPREAD = 0.2  # fallback timers are spread over 0.8..1 × their interval, fixed per market (``_fallback``)
TIMERS_SLACK = 4  # the timer heap is built again once it holds this many entries a market (``_schedule``)
BUSY_SHARE = 0.25  # the strategy coalesces book changes (``min_step_gap_s``) once its planning takes this share
IDLE_SHARE = 0.15  # … and steps on every change again below this one
MARKOUT_S = 10.0  # the fills tab's markout horizon
#: The requote tolerance under the venue's rate limits (``Engine._adapt_pressure``): every
#: ``PRESSURE_EVERY_S``, ×``PRESSURE_UP`` (up to ``PRESSURE_MAX``) while requotes are put off for order
#: room or the limits hold less than ``PRESSURE_LOW_ORDERS`` orders of room, ÷``PRESSURE_DOWN`` (down to
#: 1) while they hold ``PRESSURE_SPARE_ORDERS``
PRESSURE_EVERY_S = 0.5
PRESSURE_UP = 1.5
PRESSURE_DOWN = 1.25
PRESSURE_MAX = 8.0
PRESSURE_LOW_ORDERS = 12
PRESSURE_SPARE_ORDERS = 30


@dataclass(slots=True)
class FillRecord:
    """One of our fills as the fills tab shows it (its status and markout change after it arrived)."""

    fill: Fill
    question: str
    status: str
    seen_at: float
    markout: Decimal | None = None

    def view(self) -> FillView:
        f = self.fill
        side, price = (f.side.other, MAX_PIPS - f.price) if f.no else (f.side, f.price)  # as the venue traded
        return FillView(f.ts, f.condition_id, self.question, side.value, "NO" if f.no else "YES",
                        pips_to_decimal(price), f.size, f.fee, self.status, self.markout, f.trade_id)


def mark_inputs(book: OrderBook) -> tuple[int | None, int | None, int | None]:
    """What a market's mark is made of (``Engine._mark``): best bid, best ask, and the last trade when
    the book is one-sided (else None: it does not count)."""
    bid, ask = book.bid(), book.ask()
    return bid, ask, (book.last_trade if bid is None or ask is None else None)


class Engine:
    """See the module docstring. Create, ``await start()``, then run the three loops."""

    def __init__(
        self,
        settings: Settings,
        markets: list[Market],
        store: StateStore | None = None,
        *,
        mode: str = "PAPER",
        venue_host: str = "",
        execution: Execution | None = None,
    ) -> None:
        self.settings = settings
        self.store = store or StateStore()
        self.mode = mode
        self.markets: dict[str, Market] = {m.condition_id: m for m in markets}
        self.params: dict[str, MarketParams] = {}
        self.paused: set[str] = set()
        self.fills_by_side: dict[Side, int] = {Side.BUY: 0, Side.SELL: 0}
        self.shares_by_side: dict[Side, Decimal] = {Side.BUY: ZERO, Side.SELL: ZERO}
        self.orders_by_side: dict[Side, int] = {Side.BUY: 0, Side.SELL: 0}  # quotes sent, YES terms (metrics)
        self.latency_alerts = 0  # latency alerts raised (metrics)
        self._born = time.monotonic()  # a market that never changed has been quiet since then (``_interval``)
        self.soft_cap_warnings = 0  # soft-cap warnings raised (metrics)
        self.balance_cuts = 0  # placements cut by the balance check (``_affordable``; metrics)
        self._committing = 0.0  # dollars the placements on their way lock (``_affordable``)
        self._balance_cut_logged: dict[str, float] = {}  # market → when a cut was last logged
        self.usage: dict[str, float] = {}  # each cap's use at the last risk tick (``cap_usage``; metrics)
        self._near: set[str] = set()  # the caps over the soft cap now
        #: POLYMM_EVENT_LOG: every decision, fill and risk event as a JSON line (``_event``)
        self.event_log = EventLog(settings.event_log, int(settings.event_log_max_mb * 2**20),
                                  settings.event_log_files) if settings.event_log else None
        self._slow: set[str] = set()  # what is over its latency threshold now
        self._fill_times: deque[float] = deque(maxlen=100_000)  # monotonic times of fills (``fills_per_minute``)
        self.execution: Execution = execution or build_execution(settings, mode, self._on_fill, self.store.log,
                                                                 Ledger())
        #: what we hold, per token and per market (the execution books into it; the venue is the truth)
        self.ledger: Ledger = self.execution.ledger
        self.portfolio = self.ledger.portfolio
        self._held: dict[str, Market] = {}  # markets we hold something of but do not trade now
        #: placements on their way (cut and registered in one synchronous pass): shared caps see them
        self._placing: dict[tuple[int, int], tuple[str, Side, Decimal]] = {}
        self._placement_ids = itertools.count()
        self.placement_cuts = 0  # placements cut after the step's cancels (something could still fill)
        self.halted = False
        self.reduce_only: set[str] = set()  # markets the operator switched to reduce-only (``set_reduce_only``)
        self._flattening: set[str] = set()  # markets a flatten is taking out (no quotes meanwhile)
        self._fills: deque[FillRecord] = deque(maxlen=FILLS_KEPT)  # the fills tab (``_publish_fills``)
        self._fills_dirty = False
        self.halt_reason = ""
        self._halted_at = 0.0
        self._dirty: set[str] = set(self.markets)
        self._wake = Wakeup(urgent=True)  # the strategy loop's: a book change, a step done (``wakeup.py``)
        self._last_fair: dict[str, float] = {}
        self._last_epoch: dict[str, int] = {}
        self._force: set[str] = set(self.markets)
        self._targets: dict[str, Targets] = {}
        self._event_halts: dict[str, str] = {}  # market → why its end date or game start stops quoting
        self._blocked: dict[str, tuple[str, str]] = {}  # market → (status, why) while it may not quote
        self._listing: dict[str, str] = {}  # market → why Gamma or the CLOB says it may not be traded
        self._quoting: set[str] = set()  # markets whose last step quoted
        self._stopping = False
        self._locks: dict[str, asyncio.Lock] = {}  # one step at a time per market
        self.risk = RiskEngine(settings.risk_limits())
        self._signals_config = settings.signals_config()
        self._ewma = settings.ewma_params()
        self._first_book: dict[str, float] = {}  # market → when its book was first stepped (``warmup_s``)
        self.brains: dict[str, MarketBrain] = {}
        self._last_step: dict[str, float] = {}  # monotonic time of each market's last step
        self._next_due: dict[str, float] = {}  # fallback timer per market (adaptive)
        self._timers: list[tuple[float, str]] = []  # (due, market): the fallback timers as a heap
        self._positions_checked_at = -1e9  # the risk tick's last full recount of the position book
        self._stepping: set[str] = set()  # markets with a step in flight (one at a time each)
        self._step_tasks: set[asyncio.Task] = set()
        # markets whose requote waits for order room at the venue's rate limits, in turn (first put off
        # first): since when, and the orders its last plan needed
        self._deferred: dict[str, tuple[float, int]] = {}
        self._top: dict[str, tuple[int | None, int | None]] = {}  # best bid and ask at each market's last step
        self.pass_clock: Callable[[], float] = perf_counter  # measures a pass against ``PASS_SLICE_S``
        self._carried: set[str] = set()  # left by the last pass (``_carry``): first in the next
        self._busy, self._busy_since, self._step_cpu = True, time.monotonic(), 0.0  # ``_gap``
        #: (when, seconds): a requote's wait from its first deferral to its orders going out (its turn)
        self.turn_waits: deque[tuple[float, float]] = deque(maxlen=4096)
        self.deferrals = 0  # requotes put off because the venue's rate limits had no room (metrics)
        self.steps = 0  # strategy steps run (metrics)
        #: the requote tolerance's factor (``_adapt_pressure``): 1 while the rate limits have room
        self.pressure = 1.0
        self._pressure_at = 0.0
        self._deferrals_seen = 0
        self.arbs: dict[str, int] = {"alerted": 0, "taken": 0, "refused": 0}  # parity gaps (metrics)
        self._arb_at: dict[str, float] = {}  # market → when its last parity gap was acted on (``arb_cooldown_s``)
        self._pos_book: PositionBook | None = None  # every market's position, kept as it changes (``_positions``)
        self._pos_touched: set[str] = set()  # markets whose position the engine itself changed (book, placements)
        #: each market's mark inputs (best bid, best ask, last trade when one-sided) at its last book change:
        #: a change of size only leaves the mark, so the kept position book does not read it again
        self._mark_keys: dict[str, tuple[int | None, int | None, int | None]] = {}
        self.position_book_misses = 0  # risk ticks whose recount found a change nobody reported (should stay 0)
        self._alloc_version = 0  # bumped when the traded set, a pause or a weight changes (``_allocation``)
        self._alloc: tuple[int, dict[str, float], dict[str, float]] | None = None
        self._portfolio_at = 0.0  # monotonic time the portfolio slice was last published
        self._holdings_key: tuple[object, ...] = ()  # the paused, traded and held markets the rows were built for
        self._holding_rows: dict[str, tuple[int, HoldingView]] = {}  # token → (ledger version, its row)
        self.loop_lag_ms: float | None = None  # the event loop's lateness, worst of the last few seconds
        self._active_at: dict[str, float] = {}  # monotonic time of the last book change / trade / fill
        self._feed_error_since: float | None = None
        self._risk_logged: list[str] = []  # log-only mode: the kind of breach last reported
        self._alert = ""
        self._journal_dropped = 0  # the journal's dropped statements already alerted about
        self._tapes: dict[str, deque[TradePrint]] = {}  # recent prints per market, newest first
        self._tape_dirty: set[str] = set()
        self._balance: float | None = None
        self._balance_at = 0.0
        self._balance_why = ""  # why the venue's balance is unknown ("" when known, or paper)
        path = settings.journal_path
        self.journal: Journal | None = Journal(path) if path and path != "off" else None
        self._journal_live: set[str] = set()  # order ids the journal holds as resting
        self._journal_daily_at = 0.0
        self._venue_statuses = self.journal is not None and isinstance(self.execution, LiveExecution)
        if isinstance(self.execution, LiveExecution):  # the venue's fill statuses: the fills tab, the journal
            self.execution.on_fill_status = self._on_fill_status
            self.execution.mark = self._mark_pips
            self.execution.on_market = self._on_held_market
        for m in markets:
            self.params[m.condition_id] = self.default_params(m)
            self.brains[m.condition_id] = MarketBrain(m, self._signals_config, self._ewma)
        self.public = PublicClient(settings.clob_url, settings.gamma_url)
        self.recorder = FrameWriter(settings.record_dir) if settings.record_dir else None
        if self.recorder is not None:  # a recording carries its markets: `polymm replay` needs them
            self.recorder.add_markets(markets)
        self.feed = MarketFeed(
            f"{settings.ws_url}/ws/market", markets, self._on_books_changed, self._on_trade, self.store.log,
            rest=self.public,
            config=FeedConfig(
                max_assets_per_connection=settings.feed_assets_per_connection,
                freeze_after_s=settings.feed_stale_s,
                hash_check_s=settings.feed_hash_check_s,
                rest_poll_s=settings.feed_rest_poll_s,
                reconnect_min_s=settings.feed_reconnect_min_s,
                reconnect_max_s=settings.feed_reconnect_max_s,
            ),
            tap=self.recorder.write if self.recorder is not None else None,
        )
        self.store.set("venue", VenueState(mode, venue_host or settings.clob_url, self.execution.name))
        self.store.set("markets", tuple(self.markets))
        self._publish_risk()
        #: merge and redeem while running (POLYMM_AUTO_MERGE / POLYMM_AUTO_REDEEM; engine/capital.py)
        self.capital: CapitalManager | None = None
        self.execution.keep_pairs = settings.auto_merge  # pairs go back to pUSD instead of backing sells
        if settings.auto_merge or settings.auto_redeem:
            cap_path = path_from_settings(settings, mode)
            self.capital = CapitalManager(
                cap_path, execution=self.execution, journal=self.journal, on_log=self.store.log,
                quota=Quota(settings.relayer_daily_limit, used_today(self.journal, cap_path)))

    def default_params(self, market: Market) -> MarketParams:
        """The parameters a market starts with: the settings' defaults fitted to its tick and minimum size."""
        return self.settings.default_params().fitted_to(market)

    # ================================================================ command API
    async def kill(self, reason: str = "operator kill switch") -> int:
        """Cancel every resting order and latch HALTED until ``rearm``. Idempotent."""
        first = not self.halted
        self.halted = True
        self.halt_reason = reason
        if first:
            self._halted_at = time.time()
            self._risk_event("kill", reason)
            if self.journal is not None:
                self.journal.record_latch(True, reason)
        self._publish_risk()
        n = await self.execution.cancel_all()  # live: verified against /data/orders
        left = len(self.execution.open_orders())
        confirm = "the venue confirms none rest" if not left else f"{left} may still rest, retrying"
        self.store.log(f"KILL: {reason}; cancelled {n} orders, {confirm}", "error")
        for cid in self.markets:
            self._publish_market(cid)
        return n

    async def rearm(self) -> None:
        """Clear the HALTED latch; every market requotes on its next step."""
        if not self.halted:
            return
        self.halted = False
        self.halt_reason = ""
        self._risk_event("rearm", "re-armed by operator")
        if self.journal is not None:
            self.journal.record_latch(False)
        self._force.update(self.markets)
        self._publish_risk()
        self.store.log("re-armed by operator", "warning")
        self._mark_dirty(set(self.markets))

    def set_params(self, condition_id: str, **changes: object) -> MarketParams:
        """Change a market's parameters; raises ConfigError (value unchanged) when invalid."""
        market = self._market(condition_id)
        new = self.check_params(market, self.params[condition_id], **changes)
        self.params[condition_id] = new
        self._alloc_version += 1
        self._force.add(condition_id)
        values = {k: getattr(new, k) for k in changes}
        if self.journal is not None:
            self.journal.record_params(condition_id, values)
        shown = ", ".join(f"{k}={human(v) if isinstance(v, (Decimal, float)) else v}" for k, v in values.items())
        self.store.log(f"{market.short_question}: {shown}")
        self._mark_dirty({condition_id})
        return new

    def check_params(self, market: Market, base: MarketParams | None = None, **changes: object) -> MarketParams:
        """``base`` (default: the market's start parameters) with ``changes``, validated for the market
        and within the risk caps; raises ConfigError naming the field. Changes nothing."""
        new = (base or self.default_params(market)).updated(**changes).check_for(market)
        return new.check_caps(self.settings.max_order_size, self.settings.max_total_position)

    def set_reduce_only(self, condition_id: str, on: bool = True) -> None:
        """Quote only the side that reduces the market's position (or both again)."""
        if on:
            self.reduce_only.add(condition_id)
        else:
            self.reduce_only.discard(condition_id)
        self._force.add(condition_id)
        self._mark_dirty({condition_id})
        name = self.markets[condition_id].short_question if condition_id in self.markets else condition_id[:10]
        self.store.log(f"{name}: reduce-only {'on' if on else 'off'}")

    async def flatten(self, condition_id: str) -> str:
        """Take the market's position to zero with a marketable (fill-and-kill) order at the far side of
        the book, within the risk limits' order size; the market's quotes are cancelled first so nothing
        of ours trades against it. Returns what happened, for the screen (also logged)."""
        m = self.markets.get(condition_id)
        name = m.short_question if m else condition_id[:10]
        qty = self.portfolio.position(condition_id).qty
        book = self.feed.books.get(condition_id)
        why = ""
        if m is None:
            why = "not a traded market"
        elif self._stopping:
            why = "stopping"
        elif self.halted:
            why = "HALTED: re-arm first"
        elif not qty:
            why = "no position"
        elif book is None or book.best_bid is None or book.best_ask is None:
            why = "no two-sided book to trade against"
        elif not self.execution.ready(condition_id)[0]:
            why = f"not ready: {self.execution.ready(condition_id)[1]}"
        if why or m is None or book is None:
            text = f"{name}: not flattened: {why}"
            self.store.log(text, "warning")
            return text
        side = Side.SELL if qty > 0 else Side.BUY
        size = min(abs(qty), self.settings.max_order_size)
        self._flattening.add(condition_id)  # no quotes meanwhile: ours would trade against the take
        try:
            if self.execution.open_orders(condition_id):
                await self.execution.cancel_market(condition_id)
                await self.execution.settled(condition_id, SETTLE_WAIT_S)
            price = book.best_bid if side is Side.SELL else book.best_ask
            if price is None:
                text = f"{name}: not flattened: the book's {'bids' if side is Side.SELL else 'asks'} are gone"
                self.store.log(text, "warning")
                return text
            matched, refused = await self.execution.take(m, book, OrderRequest(side, price, size))
            # its fills come by the user channel: what is left is known once they are booked
            booked = not matched or await self.execution.settled(condition_id, FLATTEN_WAIT_S)
        finally:
            self._flattening.discard(condition_id)
        left = self.portfolio.position(condition_id).qty
        if refused:
            text = f"{name}: flatten refused: {refused}"
        else:
            text = (f"{name}: flatten {side.value} {fmt_amount(size)} @ {fmt_pips(price, m.tick)}: "
                    f"{fmt_amount(matched)} matched")
            if not booked:
                text += "; its fills are still on their way"
            elif left:
                text += f", {fmt_amount(abs(left))} left (the book or the order-size limit)"
        self.store.log(text, "warning" if refused or left else "info")
        self._force.add(condition_id)
        self._mark_dirty({condition_id})
        return text

    async def pause(self, condition_id: str) -> None:
        self._market(condition_id)
        self.paused.add(condition_id)
        self._alloc_version += 1
        await self.execution.cancel_market(condition_id)
        self._mark_dirty({condition_id})

    def resume(self, condition_id: str) -> None:
        self._market(condition_id)
        self.paused.discard(condition_id)
        self._alloc_version += 1
        self._force.add(condition_id)
        self._mark_dirty({condition_id})

    async def add_market(self, market: Market) -> None:
        """Start trading a market. The execution knows it (its fills are ours to book, its balances are
        read before it quotes) and the feed has subscribed it before its first step."""
        cid = market.condition_id
        if cid in self.markets:
            return
        await self.execution.add_market(market)
        await self.feed.add_market(market)
        if self.recorder is not None:
            self.recorder.add_markets([market])
        self.params[cid] = self.default_params(market)
        self.brains[cid] = MarketBrain(market, self._signals_config, self._ewma)
        self._force.add(cid)
        self._held.pop(cid, None)
        self._pos_touched.add(cid)
        self.markets[cid] = market  # last: a step may run from now on
        self._alloc_version += 1
        self.store.set("markets", tuple(self.markets))
        self.store.log(f"added {market.short_question}")
        self._mark_dirty({cid})

    async def remove_market(self, condition_id: str) -> None:
        """Cancel the market's orders, unsubscribe and forget it. Holds the market's step lock, so a
        step in flight finishes first and none starts half-way through (it would place orders for a
        market we no longer track)."""
        market = self._market(condition_id)
        async with self._locks.setdefault(condition_id, asyncio.Lock()):
            await self.execution.cancel_market(condition_id)
            await self.feed.remove_market(market)
            del self.markets[condition_id]
            self._pos_touched.add(condition_id)
            self._alloc_version += 1
            self.brains.pop(condition_id, None)
            self.params.pop(condition_id, None)
            self.paused.discard(condition_id)
            for book in (self._force, self._dirty, self._quoting, self.reduce_only, self._flattening, self._carried):
                book.discard(condition_id)
            for table in (self._last_step, self._next_due, self._active_at, self._targets, self._blocked,
                          self._last_fair, self._last_epoch, self._tapes, self._event_halts, self._listing,
                          self._top, self._deferred, self._mark_keys):
                table.pop(condition_id, None)
            self.risk.correlation.forget(condition_id)
            if self.portfolio.position(condition_id).qty or any(
                    h.condition_id == condition_id for h in self.ledger.holdings()):
                self._held[condition_id] = market  # still held: its fills and position stay counted
            self.store.set("markets", tuple(self.markets))
            for key in ("market", "book", "signals", "decision", "trades"):
                self.store.delete(f"{key}/{condition_id}")
        self._locks.pop(condition_id, None)
        self.store.log(f"removed {market.short_question}")

    def _market(self, condition_id: str) -> Market:
        try:
            return self.markets[condition_id]
        except KeyError:
            raise ConfigError(f"market: unknown condition id {condition_id!r}") from None

    # ================================================================ loops
    async def start(self) -> None:
        """Restore from the journal, then connect the execution venue: credentials, and the catch-up —
        orphans cancelled, the venue's trades since the last journaled fill booked, balances compared.
        Nothing is quoted until the catch-up succeeded (the execution retries it; ``ready`` says why)."""
        self.store.set("execution", ExecutionState(self.execution.name, 0, 0, None, 0, 0, 0, ready=False,
                                                   reason="connecting to the venue"))
        restored = await asyncio.to_thread(self.journal.restore) if self.journal is not None else None
        if restored is not None:
            self._restore(restored)
        await self.execution.start(list(self.markets.values()))
        if restored is not None and restored.open_orders and self.journal is not None:
            self.journal.record_order_status(restored.open_orders, "closed at restart")  # the venue's cancel-all
        ok, why = self.execution.ready()
        self.store.set("execution", replace(self.store.get("execution"), ready=ok, reason=why))
        if ok:
            self.store.log(f"execution {self.execution.name} ready")
        else:
            self.store.log(f"execution {self.execution.name} started; nothing is quoted until {why}", "warning")
        self._publish_portfolio()
        self._publish_risk()

    def _restore(self, r: Restored) -> None:
        """Fills (with each leg's last venue status) → the ledger, overrides → parameters, the kill latch.
        A leg the venue failed whose reversal never reached the journal is reversed now, once."""
        for owed in self.ledger.restore(r.fills):
            if self.journal is not None:
                self.journal.record_fill(owed, self.portfolio.position(owed.condition_id), "REVERSAL")
            self.store.log(f"journal: trade {owed.trade_id[:8]} had FAILED; its fill is reversed now", "warning")
        self.ledger.restore_moves(r.moves)  # merges and splits: counts moved without a trade
        if isinstance(self.execution, LiveExecution):  # the venue's trades since then, before the first quote
            self.execution.trades_since = r.last_fill_ts or time.time() - 3600
        for cid, overrides in r.params.items():
            if cid in self.markets:
                try:
                    self.set_params(cid, **overrides)
                except ConfigError as e:  # a default or cap changed since: say so, keep the default
                    self.store.log(f"journal: parameters of {cid[:10]} not restored: {e}", "warning")
        if r.latched:
            self.halted = True
            self.halt_reason = f"{r.reason} (latched before restart)"
            self._halted_at = time.time()
        held = sum(1 for p in self.portfolio.positions.values() if p.qty)
        self.store.log(f"journal: restored {len(r.fills)} fills ({held} open positions), "
                       f"{len(r.params)} parameter overrides" + (f"; HALTED: {r.reason}" if r.latched else ""),
                       "warning" if r.latched else "info")
        self._publish_portfolio()
        self._publish_risk()

    async def run_execution(self) -> None:
        """The execution's own background work (heartbeat, user channel, reconciliation)."""
        await self.execution.run()

    async def run_feed(self) -> None:
        await self.feed.run()

    async def run_strategy(self) -> None:
        """Step markets: woken by book changes (coalesced: at most one step per market per
        ``min_step_gap_s``), else on a per-market fallback timer that adapts to activity —
        ``quote_interval_fast_s`` while the market moved in the last few seconds, ``quote_interval_s``
        when it is quiet.

        Built for hundreds of markets: a pass looks only at the markets that changed and the timers that
        are due (a heap), never at every market; each step starts in the pass itself (``eager.py``: its
        planning, signing and post go before the pass moves on) and what waits — the venue's round
        trip, the rate limits — goes on in a task of its own, so it never holds up another's step; the
        markets of a pass go in order of need (``_need``) — no quotes resting first, then the steps likely
        to requote, then those the last pass left, then the other moves of the best prices, then
        requotes put off longest, then the most active — and a pass older than ``PASS_SLICE_S`` leaves
        its unlikely steps to the next (``_carry``). A book change wakes the pass
        ahead of the callbacks already queued (``Wakeup(urgent=True)``: a dashboard's redraw among them)."""
        for cid in self.markets:
            self._schedule(cid, 0.0)
        in_a_row = 0  # passes since the loop last gave up its turn
        while not self._stopping:
            now = time.monotonic()
            self._adapt_pressure(now)
            ready, soonest = self._take_ready(now, self._gap(now))
            if not ready:
                in_a_row = 0
                self._wake.clear()
                await self._wake.wait(max(min(soonest, now + 1.0) - now, 0.001))
                continue
            keyed = sorted((self._need(cid), cid) for cid in ready)
            started = self.pass_clock()
            carried = False
            for i, ((need, _), cid) in enumerate(keyed):
                if need >= UNLIKELY and i and self.pass_clock() - started >= PASS_SLICE_S:
                    self._carry([c for _, c in keyed[i:]], now)
                    carried = True
                    break
                self._carried.discard(cid)
                self._last_step[cid] = now
                self._schedule(cid, now + self._fallback(cid, now))
                self._stepping.add(cid)
                # its planning, signing and post run now (``eager.py``); a task carries on what waits
                self._keep(eager.start(self._step_task(cid), name=f"step {cid[:10]}"))
            self._publish_tapes()
            if now - self._portfolio_at >= PORTFOLIO_EVERY_S:  # O(markets): not once per pass
                self._publish_portfolio()
            # After a pass the loop looks again at once: usually nothing is ready and it waits — a book
            # change then wakes it first (a turn given up here would queue it behind a redraw, and the
            # frame with it). A second pass in a row (timers come due while the first ran) gives the
            # feed and the dashboard their turn first: the strategy never holds the loop pass after pass
            if carried:  # the frames that came meanwhile are read, and their likely requotes go first
                in_a_row = 0
                self._wake.clear()
                await self._wake.wait(0.001)
                continue
            in_a_row += 1
            if in_a_row >= MAX_PASSES_IN_A_ROW:
                in_a_row = 0
                await asyncio.sleep(0)

    def _carry(self, cids: list[str], now: float) -> None:
        """Steps a pass left for the next (``PASS_SLICE_S``): each is ready again at once — behind the
        likely requotes of the frames read meanwhile (``_need``), never behind its timer."""
        self._carried.update(cids)
        for cid in cids:
            if cid in self.feed.received_ns:
                self._dirty.add(cid)
            else:
                self._schedule(cid, now)

    def _gap(self, now: float) -> float:
        """The coalescing gap: ``min_step_gap_s`` while the strategy is busy — its steps' planning took
        more than ``BUSY_SHARE`` of the last half second (until it falls under ``IDLE_SHARE``) — else
        0: with the loop to spare, a market is stepped on its next frame (tick-to-trade), and a frame
        that comes while its step is in flight still waits for that step to finish."""
        span = now - self._busy_since
        if span >= 0.5:
            share = self._step_cpu / span
            self._busy = share > (IDLE_SHARE if self._busy else BUSY_SHARE)
            self._busy_since, self._step_cpu = now, 0.0
        return self.settings.min_step_gap_s if self._busy else 0.0

    def _schedule(self, cid: str, due: float) -> None:
        """The market's fallback timer, due at ``due`` (it replaces the one before). A replaced timer stays
        in the heap until it comes due, and every step replaces one: at 300 markets ~1,700 entries a second,
        kept up to the longest interval (10 s asleep) — so once the heap holds ``TIMERS_SLACK`` × the
        markets' timers, it is built again from the timers in force (O(markets), amortised over as many
        steps)."""
        self._next_due[cid] = due
        timers = self._timers
        heapq.heappush(timers, (due, cid))
        if len(timers) > TIMERS_SLACK * len(self._next_due) + TIMERS_SLACK:
            self._timers = [(d, c) for c, d in self._next_due.items()]
            heapq.heapify(self._timers)

    def _take_ready(self, now: float, gap: float) -> tuple[list[str], float]:
        """The markets to step now (changed ones past their gap, due timers), and when to look again."""
        soonest = float("inf")
        ready: list[str] = []
        waiting: list[str] = []
        for cid in self._dirty:
            if cid in self._stepping:
                continue  # stepped again once its step in flight is done (``_step_task``)
            if cid in self._deferred and self._next_due.get(cid, 0.0) > now:
                waiting.append(cid)  # its turn for order room is its timer; meanwhile only crossed orders go
                continue
            at = self._last_step.get(cid, -1e9) + gap
            if at <= now or self._goes_at_once(cid):
                ready.append(cid)
            else:
                soonest = min(soonest, at)
        self._dirty.difference_update(ready)
        self._dirty.difference_update(waiting)
        for cid in waiting:
            self._pull_crossed(cid)
        chosen = set(ready)
        while self._timers and self._timers[0][0] <= now:
            due, cid = heapq.heappop(self._timers)
            if self._next_due.get(cid) != due or cid not in self.markets or cid in chosen:
                continue  # a timer superseded by a later step, or of a market removed
            if cid in self._stepping:
                self._dirty.add(cid)
            else:
                ready.append(cid)
                chosen.add(cid)
        if self._timers:
            soonest = min(soonest, self._timers[0][0])
        return [c for c in ready if c in self.markets], soonest

    def _adapt_pressure(self, now: float) -> None:
        """The requote tolerance follows the venue's rate limits. Hundreds of markets want more requotes
        than the limits admit (standard tier: 40 orders/s for every market together); put off, each
        waits its turn, and goes out seconds after the frame it answered, on a book that has moved on.
        Instead, while requotes are put off the tolerance widens (every resting order within
        ``pressure`` × ``tolerance_ticks`` of its target keeps its place; crossed orders are cancelled
        whatever the tolerance), so fewer, larger moves are requoted — at once, on the frame that
        showed them. It widens too while the limits are nearly spent (a placement would wait for the
        bucket), and narrows again while they have room to spare."""
        if now - self._pressure_at < PRESSURE_EVERY_S:
            return
        self._pressure_at = now
        put_off = self.deferrals != self._deferrals_seen or bool(self._deferred)
        self._deferrals_seen = self.deferrals
        if put_off or self.execution.place_eta(PRESSURE_LOW_ORDERS) > 0.0:
            self.pressure = min(self.pressure * PRESSURE_UP, PRESSURE_MAX)
        elif self.pressure > 1.0 and self.execution.place_eta(PRESSURE_SPARE_ORDERS) <= 0.0:
            self.pressure = max(self.pressure / PRESSURE_DOWN, 1.0)

    def _goes_at_once(self, cid: str) -> bool:
        """Whether a change to the market goes to the strategy at once, not after ``min_step_gap_s``
        (tick-to-trade): its best bid or ask moved, or it has quotes resting and its step is likely to
        requote (``_need``: its targets have no slack left). Changes of size only to a market with slack
        left — most frames — are coalesced, and so are those of a market without quotes (one that chose
        not to quote would be stepped on every frame). Only the best price's moves went at once before:
        at 300 markets (headless, the gap always on) 12% of the posts answered a frame that had waited
        out the gap (p50 3.3 ms): two thirds of the posts over 5 ms."""
        return self._ticks_moved(cid) > 0 or self._need(cid)[0] == 1

    def _need(self, cid: str) -> tuple[int, float]:
        """Sort key of a pass: markets without resting quotes first; then those whose step is likely to
        requote — the best bid or ask moved by at least the ticks the market's targets had left before
        a resting order falls out of tolerance (``_slack``, counted now), or any change to a market with none left
        (at 300 markets ~13% of the steps, and ~80% of the posts) — the oldest frame first; then the
        steps the last pass left (``_carry``), the oldest frame first; then the other moves of the best
        prices, the oldest frame first; then the requotes put off longest; then the other frames'
        markets (a change of size), the oldest frame first too; then the timers, the most recently
        active first (their books move: their quotes go stale first). Each step of a pass runs before
        the next starts (~0.2 ms, one that posts ~2 ms): a step that posts waits for the posting steps
        ahead of it, not for every step of the pass."""
        resting = self.execution.open_orders(cid)
        if not resting:
            return 0, 0.0
        frame = self.feed.received_ns.get(cid)
        moved = self._ticks_moved(cid)
        slack = self._slack(cid, resting)
        if frame and (slack == 0 or moved >= slack):
            return 1, float(frame)
        if cid in self._carried:
            return 2, float(frame or 0)
        if moved:
            return 3, float(frame or 0)
        waits = self._deferred.get(cid)
        if waits is not None:
            return 4, waits[0]
        return (5, float(frame)) if frame else (6, -self._active_at.get(cid, 0.0))

    def _slack(self, cid: str, resting: Sequence[OpenOrder]) -> int:
        """The ticks the market's last targets may still move before one of its orders falls out of
        tolerance (``requote.slack_ticks``), counted now: against the orders resting now (a fill, a
        cancel or the reconciliation since the step changes them) and the tolerance at today's pressure
        (it narrows as the rate limits get room again). Counted at the step instead, half of the steps
        that posted on a change of size had none left when they ran, and were sorted as unlikely.
        0 while a requote waits its turn for order room."""
        targets = self._targets.get(cid)
        if targets is None or cid in self._deferred:
            return 0
        return slack_ticks(resting, targets.quotes, self.params[cid].tolerance_ticks, self.pressure,
                           self.markets[cid].tick)

    def _ticks_moved(self, cid: str) -> int:
        """How far (in ticks) the best bid or ask moved since the market's last step (0: neither did)."""
        book, top = self.feed.books.get(cid), self._top.get(cid)
        if book is None or top is None:
            return 0
        now = (book.bid(), book.ask())
        if now == top:
            return 0
        moved = 0
        for a, b in zip(now, top, strict=True):
            if a != b:
                if a is None or b is None:
                    return 1 << 20  # a side appeared or emptied: as far as it gets
                moved = max(moved, abs(a - b))
        return max(moved // book.tick.pips, 1)

    def all_quoting(self) -> bool:
        """Whether every traded market has quoted (its start-up is done): ``heap.settle_when_started``."""
        return bool(self.markets) and all(cid in self._quoting for cid in self.markets)

    def _ahead(self, cid: str) -> int:
        """Orders of the requotes waiting their turn before ``cid``'s (all of them when it waits for none)."""
        n = 0
        for other, (_since, need) in self._deferred.items():
            if other == cid:
                break
            n += need
        return n

    def _pull_crossed(self, cid: str) -> None:
        """A market waiting its turn for order room whose book now trades through an order of ours:
        that order is cancelled at once (cancels have their own bucket), without a strategy step."""
        book = self.feed.books.get(cid)
        if book is None or self._stopping:
            return
        ids = [o.order_id for o in crossed(self.execution.open_orders(cid), book.bid(), book.ask())]
        if not ids:
            return
        self._stepping.add(cid)  # no step of this market while its cancel is on its way

        async def pull() -> None:
            try:
                await self.execution.cancel(ids)
            finally:
                self._stepping.discard(cid)
                if cid in self._dirty:
                    self._wake.set()

        self._keep(asyncio.create_task(pull(), name=f"pull {cid[:10]}"))

    def _keep(self, task: asyncio.Task | None) -> None:
        """A step's task (or a crossed order's pull, a parity take): ``stop`` waits for it."""
        if task is not None:
            self._step_tasks.add(task)
            task.add_done_callback(self._step_tasks.discard)

    async def _step_task(self, cid: str) -> None:
        """One market's step as a task; a crash engages the kill switch (as a crashed loop would)."""
        try:
            await self._step_locked(cid)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("strategy step failed")
            self.store.log(f"strategy step crashed: {type(e).__name__}: {e}", "error")
            await self.kill(f"strategy step crashed: {type(e).__name__}")
        finally:
            self._stepping.discard(cid)
            if cid in self._dirty:
                self._wake.set()

    def _fallback(self, cid: str, now: float) -> float:
        """When the market's fallback timer comes due after a step of it: ``_interval``, spread. A step
        on a timer answers no frame: it is the first work given up while the strategy is busy
        (``_gap``), so then an active market waits ``quote_interval_s`` (not ``quote_interval_fast_s``)
        — at 300 markets a third of the steps were such timers, each as costly as a frame's, and the
        frames queued behind them (tick-to-trade). The spread (0.8 to 1 ×, fixed per market: never later
        than the setting) keeps the timers from clumping: timers that come due in one pass (after a
        pause of the loop) would otherwise stay due together, pass after pass."""
        interval = self._interval(cid, now)
        if self._busy:
            interval = max(interval, self.settings.quote_interval_s)
        return interval * (1.0 - TIMER_SPREAD * zlib.crc32(cid.encode()) / 2**32)  # the market's own factor

    def _interval(self, cid: str, now: float) -> float:
        """The adaptive fallback interval: fast while the market's book moves, slow when quiet, and asleep
        (``quote_interval_sleep_s``) once it has not changed for ``sleep_after_s`` (since the start for a
        market that never changed). A book change steps any market at once, asleep or not."""
        s = self.settings
        at = self._active_at.get(cid)
        if at is not None and now - at < 5.0:
            return s.quote_interval_fast_s
        quiet = now - (self._born if at is None else at)
        if s.sleep_after_s and quiet >= s.sleep_after_s:
            return max(s.quote_interval_sleep_s, s.quote_interval_s)
        return s.quote_interval_s

    async def run_risk(self, interval: float = 0.5) -> None:
        """Publish feed and execution health and run the limits that are not per order: daily loss,
        total position, venue error burst (kill) and error cooldown, feed in ERROR too long, another
        client on the wallet, balance drop (alert), correlation samples, stale orders."""
        while not self._stopping:
            await self.risk_tick()
            await asyncio.sleep(interval)

    async def run_lag(self, interval: float = 0.1, window: int = 50) -> None:
        """Measure how late the event loop runs a timer (worst of the last ``window`` samples): a loop
        saturated by hundreds of markets shows here before anything else goes wrong."""
        samples: deque[float] = deque(maxlen=window)
        while not self._stopping:
            t = time.perf_counter()
            await asyncio.sleep(interval)
            samples.append(max(time.perf_counter() - t - interval, 0.0) * 1000)
            self.loop_lag_ms = max(samples)

    async def risk_tick(self) -> None:
        """One pass of the risk loop (tests call it directly). It gives the event loop a turn between
        its parts (``await asyncio.sleep(0)``): at 300 markets the whole tick is a few ms of O(markets)
        work, and frames that came meanwhile would wait for all of it (tick-to-trade)."""
        feed = self.feed.state()
        self.store.set("feed", feed)
        self._publish_fills()
        pace = self.execution.pacing()  # once a tick: the quantiles of the last minute's samples
        execution = self._execution_state(pace)
        self.store.set("execution", execution)
        await asyncio.sleep(0)
        errors = execution.errors_10s
        now, mono = time.time(), time.monotonic()
        marks = {cid: self._mark(cid) for cid in self.markets}
        realized, unreal, fees, _ = self.portfolio.totals(marks)
        total_pnl = realized + unreal - fees
        self.risk.correlation.update({c: float(m) if m is not None else None for c, m in marks.items()})
        self._check_error_cooldown(mono, errors)
        self._check_latency(feed, pace)
        self._check_soft_caps()
        self._feed_error_since = (self._feed_error_since or mono) if feed.status == "ERROR" else None
        reason = self._halt_reason(now, mono, float(total_pnl), errors, feed)
        if reason is not None and not self.halted:
            await self._halt_for(reason)
        await self._check_balance(mono, float(total_pnl))
        self._refresh_stale_orders(now)
        await asyncio.sleep(0)
        if self.journal is not None:
            self._journal_orders()
            self._check_journal()
            if mono - self._journal_daily_at >= JOURNAL_DAILY_S:
                self._journal_daily_at = mono
                self._journal_daily(marks)
        self._publish_portfolio(marks)
        self._publish_holdings()
        if mono - self._positions_checked_at >= POSITIONS_CHECK_EVERY_S:
            self._positions_checked_at = mono
            self._check_positions()
        self._publish_risk()

    def _execution_state(self, pace: Pacing) -> ExecutionState:
        """The ``execution`` slice: the order path's health as the execution reports it."""
        ex = self.execution
        hb = ex.heartbeat_age
        errors = ex.recent_errors(10.0)
        orders_1s, cancels_1s = ex.rate_usage()
        ready, why = self._ready()
        return ExecutionState(
            ex.name, len(ex.open_orders()), ex.pending_fills, hb, errors, ex.rejects, ex.retries, orders_1s,
            cancels_1s, ready=ready, reason=why, mismatches=ex.mismatches, paused=tuple(sorted(ex.paused_markets)),
            tick_to_trade_p50_ms=pace.tick_to_trade_p50_ms, tick_to_trade_p99_ms=pace.tick_to_trade_p99_ms,
            loop_lag_ms=self.loop_lag_ms, queued=pace.queued, throttled_1m=pace.throttled_1m,
            venue_429s=pace.venue_429s, rate_orders_per_s=self.settings.rate_orders_per_s,
            rate_cancels_per_s=self.settings.rate_cancels_per_s, requote_pressure=self.pressure,
        )

    def cap_usage(self) -> dict[str, float]:
        """Each hard cap's use, as a fraction of it: the total position, the total exposure, the worst
        market's exposure and the correlated exposure (held positions, at their marks)."""
        s = self.settings
        positions = self._positions()
        held = [exposure(p.qty, p.mark) for p in positions.values()]
        total_position = sum((abs(p.qty) for p in self.portfolio.positions.values()), ZERO)
        return {
            "total position": float(total_position / s.max_total_position),
            "total exposure": sum(held) / float(s.max_total_exposure),
            "market exposure": max(held, default=0.0) / float(s.max_market_exposure),
            "correlated exposure": correlated_exposure(positions, self.risk.correlation)
                                   / float(s.max_correlated_exposure),
        }

    def _check_soft_caps(self) -> None:
        """The soft cap (``soft_cap_pct``): a warning once a cap's use passes it, a note once it fell 5 points
        below; the caps near their limit go to the risk slice (the status bar shows them amber)."""
        soft = self.settings.soft_cap_pct / 100
        if soft >= 1.0:
            return
        self.usage = usage = self.cap_usage()
        for cap, used in usage.items():
            if used >= soft and cap not in self._near:
                self._near.add(cap)
                self.soft_cap_warnings += 1
                text = f"soft cap: {cap} at {used:.0%} of its limit (warning from {soft:.0%})"
                self.store.log(text, "warning")
                self._risk_event("soft_cap", text, cap=cap, used=round(used, 4))
            elif used < soft - 0.05 and cap in self._near:
                self._near.discard(cap)
                self.store.log(f"soft cap: {cap} back to {used:.0%} of its limit")

    def _risk_event(self, kind: str, text: str, **fields: object) -> None:
        """A risk event to the JSONL event log (``POLYMM_EVENT_LOG``), when there is one."""
        if self.event_log is not None:
            self.event_log.write("risk", kind=kind, text=text, **fields)

    def _check_latency(self, feed: FeedState, pace: Pacing) -> None:
        """Latency alerts: a warning when the order round trip's or the market data delay's p99 goes over its
        threshold (``alert_order_latency_ms``, ``alert_feed_delay_ms``; 0 = off), a note when it is back."""
        wire = [sh.wire_p99_ms for sh in feed.shards if sh.wire_p99_ms is not None]
        checks = (("order round trip", pace.post_p99_ms, self.settings.alert_order_latency_ms),
                  ("market data delay", max(wire, default=None), self.settings.alert_feed_delay_ms))
        for label, value, limit in checks:
            if not limit or value is None:
                continue
            if value > limit and label not in self._slow:
                self._slow.add(label)
                self.latency_alerts += 1
                text = f"latency alert: {label} p99 {value:,.0f} ms, over {limit:,.0f} ms"
                self.store.log(text, "warning")
                self._risk_event("latency", text)
            elif value <= limit and label in self._slow:
                self._slow.discard(label)
                self.store.log(f"latency: {label} p99 back to {value:,.0f} ms (threshold {limit:,.0f} ms)")

    def _check_error_cooldown(self, mono: float, errors: int) -> None:
        if self.risk.on_errors(mono, errors):
            text = f"error cooldown: {errors} venue errors in 10 s, no new orders for " \
                   f"{self.settings.error_cooldown_s:.0f} s"
            self.store.log(text, "warning")
            self._risk_event("cooldown", text)
            if self.journal is not None:
                self.journal.record_risk("cooldown", text)

    def _halt_reason(self, now: float, mono: float, total_pnl: float, errors: int, feed: FeedState) -> str | None:
        """Why the limits that are not per order say halt (the first that does), or None: daily loss,
        total position, venue error burst, market data in ERROR too long, another client on the wallet."""
        reason = self.risk.on_pnl(now, total_pnl)  # first and always: it follows the day's P&L
        if reason is not None:
            return reason
        total = sum((abs(p.qty) for p in self.portfolio.positions.values()), ZERO)
        if total > self.settings.max_total_position:
            return f"total position {fmt_amount(total)} over limit {fmt_amount(self.settings.max_total_position)}"
        if errors > self.settings.max_errors_10s:
            return f"venue error burst: {errors} errors in 10 s"
        if self._feed_error_since is not None:
            down = mono - self._feed_error_since
            if down > self.settings.feed_error_kill_s:
                return f"market data in ERROR for {down:.0f} s ({feed.reason})"
        return self.execution.foreign_alert or None

    async def _halt_for(self, reason: str) -> None:
        """A limit says halt: the kill switch — or, with limits in log-only mode, one log line per reason."""
        if self.risk.limits.enforce:
            await self.kill(reason)
        elif reason.split(" ", 2)[:2] != self._risk_logged:  # once per kind of reason (its numbers move)
            self._risk_logged = reason.split(" ", 2)[:2]
            self.store.log(f"(log only) risk would halt: {reason}", "warning")

    def _refresh_stale_orders(self, now: float) -> None:
        """Stale-order cleanup: a market with an order past its age limit (``max_order_age_s``, less up to
        a quarter by the order's id: ``order_diff.too_old``) requotes (its next step replaces them)."""
        for o in self.execution.open_orders():
            p = self.params.get(o.condition_id)
            if p is not None and too_old(o, p.max_order_age_s, now):
                self._force.add(o.condition_id)
                self._mark_dirty({o.condition_id})

    def _journal_orders(self) -> None:
        """Orders the journal holds as resting but the execution no longer does: filled or cancelled."""
        assert self.journal is not None
        gone = self._journal_live - {o.order_id for o in self.execution.open_orders()}
        if gone:
            self._journal_live -= gone
            self.journal.record_order_status(sorted(gone), "closed")

    def _journal_daily(self, marks: dict[str, Decimal | None] | None = None) -> None:
        assert self.journal is not None
        marks = marks if marks is not None else {cid: self._mark(cid) for cid in self.markets}
        rows = [(cid, p, p.unrealized(marks.get(cid))) for cid, p in self.portfolio.positions.items()]
        if rows:
            self.journal.record_daily(rows)

    def _check_journal(self) -> None:
        """The journal's writer fell so far behind (a stalled disk) that it dropped statements: what was
        dropped is not in the journal, so a restart cannot restore it. Said once per burst, as an alert."""
        dropped = self.journal.dropped if self.journal is not None else 0
        if dropped > self._journal_dropped:
            self._journal_dropped = dropped
            self._alert = (f"journal behind: {dropped:,} records not written (disk stalled?); "
                           "a restart cannot restore them")
            self.store.log(f"ALERT: {self._alert}", "error")

    async def _check_balance(self, mono: float, total_pnl: float) -> None:
        """The collateral balance: the venue's (live), read every ``balance_check_s`` and every 2 s while
        it is unknown — quoting waits meanwhile, it is never estimated —; paper: the capital plus
        what the session made."""
        every = self.settings.balance_check_s if not self._balance_why else min(2.0, self.settings.balance_check_s)
        if mono - self._balance_at < every and (self._balance is not None or self._balance_why):
            return
        self._balance_at = mono
        if not self.execution.venue_balance:
            self._balance = float(self.settings.total_capital) + total_pnl
        else:
            try:
                self._balance = await self.execution.collateral_balance()
            except Exception as e:
                first = not self._balance_why
                self._balance, self._balance_why = None, venue_error(e)
                if first:
                    self.store.log(f"collateral balance unknown ({self._balance_why}): quoting stops until the "
                                   f"venue answers", "error")
                return
            if self._balance_why:
                self.store.log("collateral balance known again: quoting resumes", "warning")
            self._balance_why = ""
        alert = self.risk.balance.update(self._balance)
        if alert:
            self._alert = alert
            self.store.log(f"ALERT: {alert}", "error")
            if self.journal is not None:
                self.journal.record_risk("balance", alert)
            self._risk_event("balance", alert)

    async def guard(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """Run one loop; an exception is logged and engages the kill switch (never silent)."""
        try:
            await loop()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("%s loop failed", name)
            self.store.log(f"{name} loop crashed: {type(e).__name__}: {e}", "error")
            await self.kill(f"{name} loop crashed: {type(e).__name__}")
            raise

    def loops(self) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
        """The long-running loops a host runs after ``start`` (each under ``guard``)."""
        loops: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("feed", self.run_feed), ("strategy", self.run_strategy), ("risk", self.run_risk),
            ("execution", self.run_execution), ("listing", self.run_listing), ("lag", self.run_lag)]
        if self.capital is not None:
            loops.append(("capital", self.run_capital))
        if isinstance(self.execution, LiveExecution):
            loops.append(("rewards", self.run_rewards))
        return loops

    async def run_rewards(self) -> None:
        """Every ``rewards_check_s``: what the venue says we earned today (``rewards_once``)."""
        while not self._stopping:
            await self.rewards_once()
            await asyncio.sleep(self.settings.rewards_check_s)

    async def rewards_once(self) -> RewardsState:
        """Read today's rewards from the venue into the ``rewards`` slice and the journal (one row per day
        and market, replaced as the day's figure grows). A failed reading keeps the last figure and says why."""
        exe = self.execution
        last: RewardsState = self.store.get("rewards", RewardsState())
        if not isinstance(exe, LiveExecution):
            return last
        day = utc_date(time.time())
        try:
            earned = await exe.earned_rewards(day)
        except Exception as e:
            state = replace(last, error=f"rewards unavailable: {venue_error(e)}")
            if not last.error:
                self.store.log(state.error, "warning")
        else:
            state = RewardsState(earned.date, earned.total, dict(earned.by_market), time.time(), "", True)
            if self.journal is not None:
                self.journal.record_rewards(earned.date, earned.by_market)
        self.store.set("rewards", state)
        return state

    async def run_listing(self) -> None:
        """Every ``listing_check_s``: what Gamma and the CLOB say of each traded market (``listing_once``)."""
        while not self._stopping:
            await self.listing_once()
            await asyncio.sleep(self.settings.listing_check_s)

    async def listing_once(self) -> dict[str, str]:
        """Markets Gamma or the CLOB mark closed, inactive or not accepting orders (or disagree about)
        stop quoting, with the reason on screen, until both listings allow them again."""
        try:
            problems = await listing_problems(self.public, list(self.markets))
        except Exception as e:  # unreadable listings decide nothing: the feed and reconciliation judge the venue
            log.debug("listings unavailable: %s", e)
            return self._listing
        for cid in set(self._listing) - set(problems):
            if cid in self.markets:
                self.store.log(f"{self.markets[cid].short_question}: listings allow trading again")
        for cid, why in problems.items():
            if self._listing.get(cid) != why and cid in self.markets:
                self.store.log(f"{self.markets[cid].short_question}: not tradeable: {why}", "warning")
        changed = {cid for cid in set(self._listing) | set(problems)
                   if self._listing.get(cid) != problems.get(cid) and cid in self.markets}
        self._listing = problems
        if changed:  # only those re-evaluate: a step of every market each minute was a 40 ms pass at 300
            self._mark_dirty(changed)
        return problems

    async def run_capital(self) -> None:
        """Every ``capital_check_s``: merge the pairs we hold (POLYMM_AUTO_MERGE) and redeem resolved
        markets (POLYMM_AUTO_REDEEM), while what we hold is known."""
        while not self._stopping:
            await self.capital_once()
            await asyncio.sleep(self.settings.capital_check_s)

    async def capital_once(self) -> list[CapitalOp]:
        """One look at the holdings: the merges and redeems due, carried out (confirmed ones booked)."""
        cap = self.capital
        if cap is None or not self.execution.ready()[0]:
            return []
        holdings = await self._capital_holdings()
        ops: list[CapitalOp] = []
        if self.settings.auto_redeem:
            ops += plan_redeems(holdings, cap.path.name)
        if self.settings.auto_merge:
            done = {op.condition_id for op in ops}
            ops += [op for op in plan_merges(holdings, self.settings.auto_merge_min, cap.path.name)
                    if op.condition_id not in done]
        ops = cap.eligible(ops)
        return await cap.execute(ops) if ops else []

    async def _capital_holdings(self) -> list[Holding]:
        """Free YES and NO shares of every market we hold something of (and its outcome, for redeems)."""
        markets = {**self._held, **self.markets}
        out = []
        for cid in sorted(self.ledger.markets()):
            m = markets.get(cid)
            if m is None or (self.capital is not None and cid in self.capital.in_flight):
                continue
            yes, no = self.execution.free_shares(m.yes_token), self.execution.free_shares(m.no_token)
            if yes <= 0 and no <= 0:
                continue
            winner = await self.execution.resolution(cid) if self.settings.auto_redeem else None
            out.append(Holding(m, yes, no, winner))
        return out

    async def run(self) -> None:
        """``start``, then every loop (headless mode); returns when ``stop`` is called."""
        await self.start()
        await asyncio.gather(*(self.guard(name, fn) for name, fn in self.loops()))

    async def stop(self, cancel_orders: bool = True) -> None:
        self._stopping = True
        self._wake.set()
        if cancel_orders:
            await self.execution.cancel_all()
        if self._step_tasks:  # steps in flight see ``_stopping`` and place nothing more
            await asyncio.wait(list(self._step_tasks), timeout=5.0)
        self.feed.stop()
        await self.execution.close()
        await self.public.aclose()
        if self.recorder is not None:
            self.recorder.close()
        if self.journal is not None:
            self._journal_orders()
            self._journal_daily()
            await asyncio.to_thread(self.journal.close)
        if self.event_log is not None:
            await asyncio.to_thread(self.event_log.close)

    # ================================================================ one market's step
    async def _step_locked(self, cid: str) -> None:
        lock = self._locks.setdefault(cid, asyncio.Lock())
        async with lock:
            if cid in self.markets:  # removed while this step waited for the lock
                await self.step(cid)

    async def step(self, cid: str) -> None:
        """One strategy step: model + signals (``MarketBrain``), the risk engine's pre-trade checks,
        then a queue-preserving diff against our resting orders. Every decision goes to the store.

        Limits hold against the worst case: the targets are sized against the position plus every
        order of ours that could still fill and is not about to be replaced (cancelled orders whose
        fills may still come, other markets' orders and placements on their way); after the step's
        cancels, what it places is checked again against everything that could then fill — in one
        synchronous pass that also registers it, so markets stepping at the same time never share
        one room twice."""
        market = self.markets[cid]
        book = self.feed.books.get(cid)
        if book is None:
            return
        t_plan = perf_counter()
        origin_ns = self.feed.received_ns.pop(cid, 0)  # the frame this step acts on (tick-to-trade)
        if cid in self._deferred:
            origin_ns = 0  # a turn for order room, not a reaction to a frame: its wait is in ``turn_waits``
        self._top[cid] = (book.bid(), book.ask())
        self._first_book.setdefault(cid, time.monotonic())
        self.execution.on_book(book)
        view = book.view(10)  # one snapshot per step: the store's and the model's
        self.store.set(f"book/{cid}", view)
        blocked = self._blocked_reason(cid)
        if self._stopping:
            return  # stopping: the stop's cancel-all is the last word; a step now would place after it
        if self.halted or cid in self.paused or blocked is not None:
            if book.crossed and self.settings.arb_mode != "off" and not self.halted and cid not in self.paused:
                arb = pipeline.parity_gap(self.brains[cid], view, self.execution.open_orders(cid))
                if arb is not None:
                    self._on_arb(market, book, arb)
            await self._stand_down(market, blocked)
            return
        self._blocked.pop(cid, None)
        self._quoting.add(cid)
        if book.tick != market.tick:  # a tick_size_change: requote on the new grid, everywhere
            market = self._new_tick(market, book.tick)
        params = self.params[cid]
        now = time.time()
        brain = self.brains[cid]
        # the one step pipeline (domain/pipeline.py), as the replay and the backtest run it: sized
        # against every market's worst case, this market's open orders left out (the targets replace them)
        resting = self.execution.open_orders(cid)
        epoch_changed = self._last_epoch.get(cid) != book.epoch
        forced = cid in self._force  # a parameter change, re-arm or regained trust: exactly the new targets
        last_fair = self._last_fair.get(cid)
        self.steps += 1
        result = pipeline.step(
            brain, self.risk, view, self.portfolio.position(cid).qty, params, share=self._share(cid),
            positions=self._positions(cid), budget=self._budget(cid), resting=resting, risk_now=time.monotonic(),
            reduce_only=cid in self.reduce_only, epoch_changed=epoch_changed, forced=forced, last_fair=last_fair,
            now=now,
        )
        self._publish_decision(cid, result, now)
        self._step_cpu += perf_counter() - t_plan
        plan = result.plan
        ahead = self._ahead(cid) if self._deferred else 0
        if plan is not None and plan.place and self.pressure > 1.0:  # the rate limits are short of room
            plan = pipeline.replan(result, resting, view, params, epoch_changed=epoch_changed, forced=forced,
                                   last_fair=last_fair, now=now, pressure=self.pressure)
        if plan is not None and plan.place and not self.execution.try_place(len(plan.place), ahead):
            # no room at the venue's rate limits now: replace only what is well off target or crossing
            plan = pipeline.replan(result, resting, view, params, epoch_changed=epoch_changed, forced=forced,
                                   last_fair=last_fair, now=now,
                                   pressure=max(PRESSURE_TOLERANCE, PRESSURE_UP * self.pressure))
            if plan is not None and plan.place and not self.execution.try_place(len(plan.place), ahead):
                await self._defer(cid, plan, ahead)
                self._publish_market(cid)
                return
        if plan is None or not (plan.place or plan.cancel):
            self._deferred.pop(cid, None)
            self._publish_market(cid)
            return  # nothing to change (the fixed model: the mid has not moved past the threshold)
        waited = self._deferred.pop(cid, None)
        if waited is not None:
            t = time.monotonic()
            self.turn_waits.append((t, t - waited[0]))
        self._force.discard(cid)
        self._last_fair[cid] = plan.fair
        self._last_epoch[cid] = book.epoch
        placed = 0
        try:
            placed = await self._carry_out(market, book, plan, params, result.decision.signals.events, origin_ns)
        finally:
            if placed < len(plan.place):  # cut, or stopped on the way: the room taken goes back
                self.execution.release_places(len(plan.place) - placed)
        self._after_orders(cid, brain)
        self._publish_market(cid)

    def _on_arb(self, market: Market, book: OrderBook, arb: pipeline.ArbTake) -> None:
        """A YES/NO parity gap (``pipeline.parity_take``): logged with its profit and size, at most once per
        ``arb_cooldown_s`` per market, and with ``arb_mode=take`` taken (``_take_arb``)."""
        cid = market.condition_id
        now = time.monotonic()
        if now - self._arb_at.get(cid, -1e9) < self.settings.arb_cooldown_s or cid in self._flattening:
            return
        self._arb_at[cid] = now
        self.arbs["alerted"] += 1
        tick = market.tick
        text = (f"{market.short_question}: parity gap: YES ask {fmt_pips(arb.buy, tick)} + NO ask "
                f"{fmt_pips(MAX_PIPS - arb.sell, tick)} = {fmt_pips(arb.buy + MAX_PIPS - arb.sell, tick)}, "
                f"{arb.edge_bps:.0f} bps a pair after fees on {fmt_amount(arb.size)} shares "
                f"(${fmt_number(arb.profit, 2, 2)})")
        self.store.log(text, "warning")
        self._risk_event("parity_gap", text, market=cid)
        if self.settings.arb_mode == "take":
            self._keep(asyncio.create_task(self._take_arb(market, book, arb), name=f"arb {cid[:10]}"))

    async def _take_arb(self, market: Market, book: OrderBook, arb: pipeline.ArbTake) -> None:
        """Take a parity gap: YES bought at the ask and sold at the bid (a NO buy without YES held), two
        fill-and-kill orders of the same size sent together, both within every risk limit (``_recheck``,
        counted as placing while they fly). A leg that fills less than the other leaves a position the
        quotes then work off; a complete set is merged later by the capital operations (``auto_merge``)."""
        cid = market.condition_id
        name = market.short_question
        blocked = self._blocked_reason(cid, crossed_ok=True)  # the gap is a crossed book: that is no reason
        why = blocked[1] if blocked is not None else ""
        if self._stopping or self.halted or cid in self.paused:
            why = "stopping" if self._stopping else "halted" if self.halted else "paused"
        legs = [Quote(Side.BUY, arb.buy, arb.size), Quote(Side.SELL, arb.sell, arb.size)]
        events = self.brains[cid].signals.snapshot(time.time()).events
        checked = self._recheck(market, legs, self.params[cid], events) if not why else None
        if checked is not None and (len(checked.quotes) < 2 or checked.cut):
            why = "the risk limits do not allow both legs in full"
        if why or checked is None:
            self.arbs["refused"] += 1
            self.store.log(f"{name}: parity gap not taken: {why}", "warning")
            return
        with self._in_flight(cid, legs):
            results = await asyncio.gather(*(self.execution.take(market, book, OrderRequest(q.side, q.price, q.size))
                                             for q in legs))
        (bought, why_buy), (sold, why_sell) = results
        self.arbs["taken"] += 1
        text = (f"{name}: parity gap taken: {fmt_amount(bought)} bought @ {fmt_pips(arb.buy, market.tick)}, "
                f"{fmt_amount(sold)} sold @ {fmt_pips(arb.sell, market.tick)}")
        refused = "; ".join(w for w in (why_buy, why_sell) if w)
        if refused:
            text += f" (refused: {refused})"
        self.store.log(text, "warning" if refused or bought != sold else "info")
        self._mark_dirty({cid})

    async def _defer(self, cid: str, plan: Plan, ahead: int) -> None:
        """The venue's rate limits have no room for this requote now: its quotes stay as they are — but
        orders the book trades through are cancelled at once (cancels have their own bucket) — and it
        waits its turn: first put off, first served. Its market is stepped again (with a fresh plan)
        when the limits will have room for it after the requotes ahead of it; until then its book
        changes only cancel crossed orders (``_pull_crossed``) — without the queue a waiting market
        was stepped every ``min_step_gap_s`` only to be put off again: at 300 markets, 85% of ~3,500
        steps a second."""
        self.deferrals += 1
        now = time.monotonic()
        since = self._deferred.get(cid, (now, 0))[0]
        self._deferred[cid] = (since, len(plan.place))  # an update keeps its place in the queue
        self._schedule(cid, now + max(self.execution.place_eta(len(plan.place), ahead),
                                      self.settings.min_step_gap_s))
        if plan.crossing:
            await self.execution.cancel(list(plan.crossing))

    async def _stand_down(self, market: Market, blocked: tuple[str, str] | None) -> None:
        """The market may not quote (halted, paused, or ``blocked``: untrusted book, venue truth not
        known): its orders are cancelled, and it requotes exactly its targets once it may again."""
        cid = market.condition_id
        self._deferred.pop(cid, None)  # not waiting for order room: it places nothing
        if self.execution.open_orders(cid):
            await self.execution.cancel_market(cid)
        if blocked is not None and cid in self._quoting:  # say so only when there was something to pull
            self.store.log(f"{market.short_question}: quotes pulled, {blocked[1]}", "warning")
        self._quoting.discard(cid)
        if blocked is not None:
            self._blocked[cid] = blocked
        else:
            self._blocked.pop(cid, None)
        self._force.add(cid)
        self._publish_market(cid)

    def _new_tick(self, market: Market, tick: Tick) -> Market:
        """The market under its new tick, known as such to the engine and the execution."""
        market = replace(market, tick=tick)
        self.markets[market.condition_id] = market
        self.execution.set_tick(market)
        self.store.log(f"{market.short_question}: tick is now {market.tick}", "warning")
        return market

    def _publish_decision(self, cid: str, result: pipeline.StepResult, now: float) -> None:
        decision, targets = result.decision, result.targets
        self._targets[cid] = targets
        halt = decision.signals.events.halt
        if halt:
            if cid not in self._event_halts:  # once, as it begins
                self.store.log(f"{self.markets[cid].short_question}: quotes pulled, {halt}", "warning")
            self._event_halts[cid] = halt
        else:
            self._event_halts.pop(cid, None)
        self.store.set(f"signals/{cid}", decision.signals)
        if self.event_log is not None:
            self.event_log.write(
                "decision", market=cid, model=decision.model, fair=targets.fair, widen=round(decision.widen, 4),
                quotes=[[q.side.value, pips_to_decimal(q.price), q.size] for q in targets.quotes],
                reason=targets.reason, vetoes=list(result.vetoes))
        self.store.set(f"decision/{cid}", DecisionState(
            cid, decision.model, targets.reason, targets.fair,
            tuple((q.side.value, q.price, q.size) for q in targets.quotes), result.vetoes, decision.widen,
            decision.reward.q_min if decision.reward is not None else None,
            self._interval(cid, time.monotonic()), now,
        ))

    async def _carry_out(self, market: Market, book: OrderBook, plan: Plan, params: MarketParams,
                         events: EventSnapshot, origin_ns: int = 0) -> int:
        """The plan's cancels and placements; how many quotes were sent. When every limit has room for
        the new quotes with the old ones still counted (they could fill until the venue confirms the
        cancel) and no new quote would meet an old one of ours, both go at once: a requote costs one
        round trip, not two. Otherwise the cancels first, then the placements, checked again once the
        cancels are done."""
        cid = market.condition_id
        if plan.cancel and plan.place and not self._meets_own(cid, plan):
            checked = self._recheck(market, plan.place, params, events)
            if not checked.cut and len(checked.quotes) == len(plan.place):
                # the placement goes on in this task (it reaches the worker pool without a turn of the loop:
                # tick-to-trade), the cancels in one of their own, as soon as this step gives up the loop —
                # its post on its way (started here, their worker took the interpreter from the post's: at
                # 20 markets tick-to-trade p50 1.6 → 3.3 ms), ahead of the callbacks queued meanwhile
                over: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
                self._keep(start_first(self._cancels(list(plan.cancel), over), name=f"cancels {cid[:10]}"))
                try:
                    placed = await self._place(market, book, plan.place, params, events, origin_ns)
                finally:
                    failed = await over  # the cancels end either way (a step cancelled too)
                if failed is not None:
                    raise failed  # its failure, as the step's
                return placed
        if plan.cancel:
            await self.execution.cancel(list(plan.cancel))
            if plan.place:  # the cancelled orders' last fills (if any) are booked before we size anew
                await self.execution.settled(cid, SETTLE_WAIT_S)
        return await self._place(market, book, plan.place, params, events, origin_ns) if plan.place else 0

    async def _cancels(self, order_ids: list[str], over: asyncio.Future[BaseException | None]) -> None:
        """A requote's cancels going at once with its placement; ``over`` gets their failure (None: none)
        as they end. The step awaits ``over``, not this task: awaiting the task (``asyncio.wait``) woke it
        a turn of the loop later."""
        failed: BaseException | None = None
        try:
            await self.execution.cancel(order_ids)
        except Exception as e:
            failed = e
        finally:  # cancelled too (the engine stops): the step goes on as if they were answered
            resolve_first(over, failed)  # the step resumes next (its market's frames wait for it)

    def _meets_own(self, cid: str, plan: Plan) -> bool:
        """Whether a new quote would cross or touch one of ours being cancelled (it could trade with it)."""
        going = set(plan.cancel)
        old = [o for o in self.execution.open_orders(cid) if o.order_id in going]
        top_bid = max((o.price for o in old if o.side is Side.BUY), default=None)
        low_ask = min((o.price for o in old if o.side is Side.SELL), default=None)
        return any((q.side is Side.BUY and low_ask is not None and q.price >= low_ask)
                   or (q.side is Side.SELL and top_bid is not None and q.price <= top_bid) for q in plan.place)

    def _recheck(self, market: Market, quotes: Sequence[Quote], params: MarketParams,
                 events: EventSnapshot) -> pipeline.Recheck:
        cid = market.condition_id
        return pipeline.recheck(self.risk, cid, quotes, self._positions(), params=params, events=events,
                                budget=self._budget(cid), min_size=market.min_order_size, now=time.monotonic(),
                                reduce_only=cid in self.reduce_only, share=self._share(cid))

    def _after_orders(self, cid: str, brain: MarketBrain) -> None:
        """The market's resting orders after the step: new ones to the journal, our best prices to the brain."""
        resting = self.execution.open_orders(cid)
        if self.journal is not None:
            new = [(o.order_id, o.side, o.price, o.size) for o in resting if o.order_id not in self._journal_live]
            if new:
                self._journal_live.update(oid for oid, *_ in new)
                self.journal.record_orders(cid, new)
        brain.on_quotes(max((o.price for o in resting if o.side is Side.BUY), default=None),
                        min((o.price for o in resting if o.side is Side.SELL), default=None))

    async def _place(self, market: Market, book: OrderBook | None, quotes: Sequence[Quote], params: MarketParams,
                     events: EventSnapshot, origin_ns: int = 0) -> int:
        """Place ``quotes`` if the market may still quote (how many were sent), cut to what every limit
        allows now that the step's cancels are done (everything of ours that could fill counted, placements of other
        markets on their way included). The cut and the registration of the placement happen without
        a suspension point in between, so a shared cap is never given out twice."""
        cid = market.condition_id
        if self._stopping or self.halted or cid in self.paused or self._blocked_reason(cid) is not None:
            return 0  # a stop, a kill (or a pause, or lost venue truth) landed while we were cancelling
        checked = self._recheck(market, quotes, params, events)
        allowed = checked.quotes
        if checked.cut:
            self.placement_cuts += 1
        allowed, cost = self._affordable(market, allowed)
        if not allowed:
            return 0
        for q in allowed:
            self.orders_by_side[q.side] += 1
        with self._in_flight(cid, allowed, cost):
            await self.execution.place_many(market, book, [OrderRequest(q.side, q.price, q.size) for q in allowed],
                                            origin_ns=origin_ns)
        return len(allowed)

    @contextlib.contextmanager
    def _in_flight(self, cid: str, quotes: Sequence[Quote], cost: float = 0.0) -> Iterator[None]:
        """Orders on their way to the venue: counted by every limit (``_placing``) and by the balance check
        (``_committing``, their ``cost``) from before the first suspension point until they are sent — so
        two markets (or a step and a parity take) never share one room."""
        key = next(self._placement_ids)
        for i, q in enumerate(quotes):
            self._placing[(key, i)] = (cid, q.side, q.size)
        self._pos_touched.add(cid)
        self._committing += cost
        try:
            yield
        finally:
            self._committing -= cost
            for i in range(len(quotes)):
                self._placing.pop((key, i), None)
            self._pos_touched.add(cid)

    def _affordable(self, market: Market, quotes: Sequence[Quote]) -> tuple[tuple[Quote, ...], float]:
        """The balance check before sending (live and demo: the venue's collateral balance): each quote's
        cost — what it locks at the venue as routed (a BUY of YES at p, a BUY of NO at 1 − p; a SELL of
        shares we hold costs none) — against the balance less what our open orders and the placements
        on their way lock. Quotes that do not fit are dropped, the rest are sent; returns them and their
        cost. Paper (no venue balance): all of them."""
        if not self.execution.venue_balance or not quotes:
            return tuple(quotes), 0.0
        if self._balance is None:  # not read yet, or unreadable: nothing is sent (``_ready`` says why)
            return (), 0.0
        free = self._balance - self.execution.locked_collateral() - self._committing
        out: list[Quote] = []
        total = 0.0
        for q in quotes:
            _token, side, price = route(market, OrderRequest(q.side, q.price, q.size), self.ledger.shares)
            cost = float(q.size) * price / MAX_PIPS if side == "BUY" else 0.0
            if cost <= free - total + 1e-9:
                out.append(q)
                total += cost
        if len(out) < len(quotes):
            self.balance_cuts += 1
            now = time.monotonic()
            if now - self._balance_cut_logged.get(market.condition_id, -1e9) >= 60.0:
                self._balance_cut_logged[market.condition_id] = now
                self.store.log(f"{market.short_question}: {len(quotes) - len(out)} quote(s) not sent: the collateral "
                               f"free of open orders (${fmt_number(max(free, 0.0), 2, 2)}) does not cover them",
                               "warning")
        return tuple(out), total

    def _ready(self) -> tuple[bool, str]:
        """Whether anything may be quoted: the execution's venue truth, (live) a known balance and a
        heartbeat the venue accepts — without one it cancels our orders by itself, so quoting waits
        until heartbeats are accepted again (not a latched kill: nothing of ours is at risk meanwhile)."""
        ok, why = self.execution.ready()
        if ok and self._balance_why:
            return False, f"collateral balance unknown ({self._balance_why})"
        if ok and self._balance is None and self.execution.venue_balance:
            return False, "reading the collateral balance"  # the balance check needs it before any order
        hb = self.execution.heartbeat_age
        if ok and hb is not None and hb > self.settings.heartbeat_timeout_s:
            return False, f"heartbeat failing for {hb:.0f} s (the venue cancels our orders by itself)"
        return ok, why

    def _blocked_reason(self, cid: str, crossed_ok: bool = False) -> tuple[str, str] | None:
        """(status, why) when the market may not quote now: its book is not trusted, or what we hold is
        not known (catch-up, reconciliation failing, a position being taken from the venue, balance), or
        its signals are still warming up (``warmup_s``). ``crossed_ok``: a crossed book is no reason (a
        parity gap's take)."""
        if cid in self._flattening:
            return "flattening", "a flatten order is taking the position out"
        warm = self.settings.warmup_s
        if warm:
            now = time.monotonic()
            seen = now - self._first_book.get(cid, now)
            if seen < warm:
                return "warming up", f"warming up: {seen:.0f} of {warm:.0f} s of book data before quoting"
        listing = self._listing.get(cid)
        if listing:
            return "closed", f"not tradeable: {listing}"
        ok, why = self.feed.trusted(cid, crossed_ok=True) if crossed_ok else self.feed.trusted(cid)
        if not ok:
            return "untrusted", why
        ok, why = self._ready()
        if ok:
            ok, why = self.execution.ready(cid)
        return None if ok else ("reconciling", why)

    def _positions(self, replacing: str | None = None) -> PositionBook:
        """Every market's position (markets we only hold included), mark, group, and the shares of our
        orders that could still fill on each side — in flight, resting, cancelled with fills maybe to
        come, and placements on their way — plus fills the venue may still fail (a failed buy comes
        back as a sell). ``replacing``: that market's open orders are left out (the step's targets
        replace them).

        Kept as a ``PositionBook``: only the markets whose orders, fills or book changed since the last
        call are read again (the execution, the ledger and the feed say which), so a step costs the
        same at 300 markets as at 3. The risk tick checks the book against a full recount every
        ``POSITIONS_CHECK_EVERY_S``: at 300 markets a recount holds the event loop ~2 ms, and a difference
        is a bug to log, not a market event to catch within half a second."""
        book = self._position_book()
        if replacing is None:
            return book
        return book.overlay(replacing, self._position_of(replacing, closing_only=True))

    def _position_of(self, cid: str, closing_only: bool = False) -> Position:
        bids, asks = self.execution.reserved(cid, closing_only=closing_only).get(cid, (ZERO, ZERO))
        for c, side, size in self._placing.values():
            if c == cid:
                bids, asks = (bids + size, asks) if side is Side.BUY else (bids, asks + size)
        market = self.markets.get(cid) or self._held.get(cid)
        return position_for(cid, market, (bids, asks), lambda c: self.portfolio.position(c).qty, self._mark,
                            self.ledger.revocable)

    def _in_positions(self, cid: str) -> bool:
        return cid in self.markets or cid in self._held or cid in self.portfolio.positions

    def _position_book(self) -> PositionBook:
        touched = self.execution.touched() | self.ledger.touched | self._pos_touched
        self.ledger.touched = set()
        self._pos_touched = set()
        if self._pos_book is None:
            self._pos_book = self._count_positions()
            return self._pos_book
        for cid in touched:
            if self._in_positions(cid):
                self._pos_book.set(cid, self._position_of(cid))
            else:
                self._pos_book.discard(cid)
        return self._pos_book

    def _count_positions(self) -> PositionBook:
        """Every market's position read afresh (the start, and the risk tick's check)."""
        cids = {*self.markets, *self._held, *self.portfolio.positions}
        return PositionBook({cid: self._position_of(cid) for cid in cids})

    def _check_positions(self) -> None:
        """The kept book against a full recount: a difference means a change nobody reported (a bug);
        it is logged once and the recount is taken."""
        kept = self._position_book()
        fresh = self._count_positions()
        differ = [c for c in {*kept, *fresh} if kept.get(c) != fresh.get(c)]
        if differ:
            self.position_book_misses += 1
            if self.position_book_misses == 1:
                log.warning("position book missed changes in %d market(s), e.g. %s", len(differ), differ[0])
        self._pos_book = fresh

    def _allocation(self) -> tuple[dict[str, float], dict[str, float]]:
        """(shares, budgets): each traded market's slice of the shared caps and its capital budget, by
        ``capital_weight``. Computed again only when the traded set, a pause or a weight changes — not
        per step (O(markets)) and never because another market's orders moved."""
        if self._alloc is None or self._alloc[0] != self._alloc_version:
            weights = {c: self.params[c].capital_weight for c in self.markets if c not in self.paused}
            budgets = {c: budget_for(c, weights, self.settings.total_capital, self.settings.max_market_exposure)
                       for c in weights}
            self._alloc = (self._alloc_version, shares_for(weights), budgets)
        return self._alloc[1], self._alloc[2]

    def _share(self, cid: str) -> float:
        return self._allocation()[0].get(cid, 0.0)

    def _budget(self, cid: str) -> float:
        return self._allocation()[1].get(cid, 0.0)

    # ================================================================ feed callbacks
    def _on_books_changed(self, cids: set[str]) -> None:
        now = time.monotonic()
        books, keys = self.feed.books, self._mark_keys
        for cid in cids:
            self._active_at[cid] = now
            book = books.get(cid)
            if book is None:
                self._pos_touched.add(cid)
                continue
            key = mark_inputs(book)
            if keys.get(cid) != key:  # the mark moved: the position book reads the market again
                keys[cid] = key
                self._pos_touched.add(cid)
        self._mark_dirty(cids)

    def _mark_dirty(self, cids: set[str]) -> None:
        self._dirty |= cids
        self._wake.set()

    def _on_trade(self, ev: LastTrade) -> None:
        book = self.feed.books.by_token(ev.asset_id)
        if book is None:
            return
        try:
            price = price_to_pips(ev.price)
        except PriceError:
            return  # already counted by the feed as a bad price; never raise into the frame handler
        self.execution.on_trade(book, ev.asset_id, price, ev.size, ev.side == "BUY")
        cid = book.market.condition_id
        # a NO print at q is a YES print at 1 − q with the taker on the other side
        is_no = ev.asset_id == book.market.no_token
        yes_price = (MAX_PIPS - price) if is_no else price
        taker_buys = (ev.side == "BUY") != is_no
        now = time.time()
        brain = self.brains.get(cid)
        if brain is not None:
            brain.on_trade(now, yes_price, float(ev.size), taker_buys)
        tape = self._tapes.setdefault(cid, deque(maxlen=TAPE_LEN))
        tape.appendleft(TradePrint(now, "BUY" if taker_buys else "SELL", yes_price, float(ev.size)))
        self._tape_dirty.add(cid)

    def fills_per_minute(self) -> int:
        """Fills of ours in the last minute (metrics)."""
        times, cutoff = self._fill_times, time.monotonic() - 60.0
        while times and times[0] < cutoff:
            times.popleft()
        return len(times)

    def _on_fill(self, fill: Fill) -> None:
        """A fill the execution booked in the ledger (a new leg, a reversal, or an adjustment to the
        venue's balance): journal it, tell the log, the metrics and the market's signals."""
        adjusted = fill.trade_id.startswith(ADJUSTMENT)
        if self.event_log is not None:
            self.event_log.write(
                "fill", market=fill.condition_id, side=fill.side.value, price=pips_to_decimal(fill.price),
                size=fill.size, fee=fill.fee, trade_id=fill.trade_id, order_id=fill.order_id, token=fill.token,
                no=fill.no, kind="adjustment" if adjusted else "reversal" if fill.is_reversal else "fill")
        if not fill.is_reversal and not adjusted:  # fills by side, for the metrics (reversals: the execution)
            self.fills_by_side[fill.side] += 1
            self.shares_by_side[fill.side] += fill.size
            self._fill_times.append(time.monotonic())
        if self.journal is not None:
            status = "ADJUSTED" if adjusted else "REVERSAL" if fill.is_reversal else \
                None if self._venue_statuses else "CONFIRMED"
            self.journal.record_fill(fill, self.portfolio.position(fill.condition_id), status)
        m = self.markets.get(fill.condition_id) or self._held.get(fill.condition_id)
        name = m.short_question if m else fill.condition_id[:10]
        if adjusted:
            return  # the execution logged why, with both numbers
        price = fmt_pips(fill.price, m.tick if m else None)
        self.store.log(f"fill {fill.side.value} {fmt_amount(fill.size)} @ {price} {name}")
        if fill.is_reversal:
            self._fill_status(fill.trade_id.removesuffix(REVERSAL), fill.order_id, "FAILED")
        else:
            status = self.ledger.status(fill.trade_id, fill.order_id) or "MATCHED"
            self._fills.appendleft(FillRecord(fill, m.question if m else "", status, time.time()))
            self._fills_dirty = True
        brain = self.brains.get(fill.condition_id)
        if brain is not None:
            brain.on_fill(time.time(), fill)
        self._active_at[fill.condition_id] = time.monotonic()
        self._mark_dirty({fill.condition_id})

    def _on_fill_status(self, trade_id: str, order_id: str, status: str) -> None:
        if self.journal is not None:
            self.journal.record_fill_status(trade_id, order_id, status)
        self._fill_status(trade_id, order_id, status)

    def _fill_status(self, trade_id: str, order_id: str, status: str) -> None:
        """A fill's venue status changed (the journal's feed of statuses, or a reversal): the fills tab follows."""
        for rec in self._fills:
            if rec.fill.trade_id == trade_id and rec.fill.order_id == order_id:
                rec.status = status
                self._fills_dirty = True
                return

    def _publish_fills(self) -> None:
        """The ``fills`` slice: the last FILLS_KEPT fills, newest first, with their status and their
        markout once MARKOUT_S has passed (the mark then against the fill's price, + = good for us)."""
        now = time.time()
        for rec in self._fills:
            if rec.markout is None and now - rec.seen_at >= MARKOUT_S:
                mark = self._mark(rec.fill.condition_id)
                if mark is not None:
                    price = pips_to_decimal(rec.fill.price)
                    rec.markout = (mark - price) if rec.fill.side is Side.BUY else (price - mark)
                    self._fills_dirty = True
                    if self.journal is not None:
                        self.journal.record_markout(rec.fill, MARKOUT_S, rec.markout)
        if self._fills_dirty:
            self._fills_dirty = False
            self.store.set("fills", tuple(rec.view() for rec in self._fills))

    def record_selection(self, picked: list[tuple[str, str, float]], filters: str) -> None:
        """The automatic selection these markets came from, for the journal's history of selections."""
        if self.journal is not None:
            self.journal.record_selection(picked, filters)

    def _on_held_market(self, market: Market) -> None:
        """A market we hold something of but do not trade (learned from a fill): named on screen."""
        if market.condition_id not in self.markets:
            self._held[market.condition_id] = market
            self._pos_touched.add(market.condition_id)  # its group is known now

    # ================================================================ publishing
    def _mark_pips(self, cid: str) -> int | None:
        """The mark as YES pips (the price of a position taken from the venue), or None."""
        mark = self._mark(cid)
        return None if mark is None else price_to_pips(mark.quantize(Decimal("0.0001")))

    def _mark(self, cid: str) -> Decimal | None:
        """The mid as an exact price (the sum of best bid and ask is an int number of pips); on a
        one-sided book (a crash swept one side away) the last trade price, so losses still show."""
        book = self.feed.books.get(cid)
        if book is None:
            return None
        bid, ask, last = mark_inputs(book)
        if bid is None or ask is None:
            return pips_to_decimal(last) if last is not None else None
        return pips_to_decimal(bid + ask) / 2

    def _publish_market(self, cid: str) -> None:
        m = self.markets[cid]
        pos = self.portfolio.position(cid)
        params = self.params[cid]
        if self.halted:
            status, reason = "halted", self.halt_reason
        elif cid in self.paused:
            status, reason = "paused", "paused by operator"
        elif cid in self._blocked:
            status, reason = self._blocked[cid]
        elif cid in self._event_halts:
            t = self._targets.get(cid)
            status, reason = "event halt", t.reason if t else self._event_halts[cid]
        else:
            t = self._targets.get(cid)
            status, reason = "quoting", t.reason if t else "waiting for book"
        self.store.set(
            f"market/{cid}",
            MarketState(
                condition_id=cid,
                question=m.question,
                status=status,
                reason=reason,
                orders=tuple(o.view() for o in self.execution.open_orders(cid)),
                position=pos.qty,
                avg_price=pos.avg_price if pos.qty else None,
                realized_pnl=pos.realized,
                unrealized_pnl=pos.unrealized(self._mark(cid)),
                fills=pos.fills,
                spread=params.spread,
                size=params.size,
                position_limit=params.position_limit,
            ),
        )

    def _publish_tapes(self) -> None:
        """Recent prints per market, at most once per strategy pass (never once per print)."""
        for cid in self._tape_dirty:
            if cid in self.markets:
                self.store.set(f"trades/{cid}", tuple(self._tapes[cid]))
        self._tape_dirty.clear()

    def _publish_portfolio(self, marks: dict[str, Decimal | None] | None = None) -> None:
        self._portfolio_at = time.monotonic()
        if marks is None:
            marks = {cid: self._mark(cid) for cid in self.markets}
        realized, unreal, fees, fills = self.portfolio.totals(marks)
        new = PortfolioState(realized, unreal, fees, fills)
        if self.store.get("portfolio") != new:
            self.store.set("portfolio", new)

    def _publish_holdings(self) -> None:
        """The ``holdings`` slice: every token with a non-zero count (markets we only hold included).
        A token's row is built again only when its count changed (``Ledger.versions``), every row when
        the paused markets or the markets traded or held changed, the slice only when a row did: at
        300 markets (600 tokens) a rebuild of every row held the event loop ~2 ms each risk tick."""
        execution = self.store.get("execution")
        paused = execution.paused if execution is not None else ()
        key = (paused, tuple(self.markets), tuple(self._held))
        changed = key != self._holdings_key
        if changed:
            self._holdings_key = key
            self._holding_rows.clear()
        rows = self._holding_rows
        for token, version in self.ledger.versions().items():
            built = rows.get(token)
            if built is not None and built[0] == version:
                continue
            changed = True
            h = self.ledger.holding(token)
            if h is None:
                continue
            m = self.markets.get(h.condition_id) or self._held.get(h.condition_id)
            outcome = (m.outcomes[1] if h.no else m.outcomes[0]) if m is not None else ("No" if h.no else "Yes")
            rows[token] = (version, HoldingView(h.condition_id, m.question if m is not None else "", outcome, token,
                                                h.shares, h.condition_id in self.markets, h.condition_id in paused))
        if changed:
            new = tuple(sorted((view for _, view in rows.values() if view.shares),
                               key=lambda r: (not r.traded, r.question, r.outcome)))
            if self.store.get("holdings") != new:
                self.store.set("holdings", new)

    def _publish_risk(self) -> None:
        positions = self._positions()
        self.store.set("risk", RiskState(
            self.halted, self.halt_reason, self._halted_at if self.halted else 0.0,
            daily_pnl=Decimal(repr(round(self.risk.daily.today, 6))),
            daily_loss_limit=self.settings.daily_loss_limit,
            tighten=self.risk.tighten,
            exposure=sum(exposure(p.qty, p.mark) for p in positions.values()),
            correlated_exposure=correlated_exposure(positions, self.risk.correlation),
            cooldown_s=max(self.risk.cooldown_until - time.monotonic(), 0.0),
            balance=self._balance,
            alert=self._alert,
            enforce=self.risk.limits.enforce,
            near_caps=tuple(f"{cap} {self.usage.get(cap, 0.0):.0%}" for cap in sorted(self._near)),
        ))
