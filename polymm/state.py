"""The reactive StateStore: versioned, immutable slices that the engine writes and the UI reads.

Plain Python, no textual import (the TUI, headless mode, metrics and tests all read the same store).

* Writers replace a whole slice (an immutable value) under a key; each write bumps the store's
  version and records it on the slice.
* Readers ask ``changed_since(v)`` and get only the slices written after ``v``: the TUI polls at a
  fixed cadence and pushes only what changed into its widgets.
* Subscribers are called at most once per event-loop turn however many writes happened (coalesced),
  never once per WebSocket message.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec

from .domain.order_book import BookView


@dataclass(frozen=True, slots=True)
class LogEntry:
    ts: float
    level: str  # "info" | "warning" | "error"
    text: str


@dataclass(frozen=True, slots=True)
class ShardState:
    """One market-data connection: health, load and latency (p50 / p99)."""

    index: int
    status: str
    reason: str
    markets: int
    frames: int
    reconnects: int
    applied_p50_ms: float | None  # receive → applied to the book
    applied_p99_ms: float | None
    wire_p50_ms: float | None  # exchange timestamp → receive (includes clock offset)
    wire_p99_ms: float | None


@dataclass(frozen=True, slots=True)
class FeedState:
    status: str  # STOPPED | STARTING | RUNNING | DEGRADED | ERROR
    reason: str = ""
    frames: int = 0
    errors: int = 0
    reconnects: int = 0
    last_frame_age_s: float | None = None
    shards: tuple[ShardState, ...] = ()
    freezes: int = 0
    resyncs: int = 0
    hash_mismatches: int = 0
    applied_p50_ms: float | None = None
    applied_p99_ms: float | None = None


@dataclass(frozen=True, slots=True)
class RiskState:
    """Kill latch and the risk engine's running figures (dollars; ``tighten`` ∈ (0, 1])."""

    halted: bool
    reason: str = ""
    since: float = 0.0
    daily_pnl: Decimal = Decimal(0)
    daily_loss_limit: Decimal = Decimal(0)
    tighten: float = 1.0
    exposure: float = 0.0
    correlated_exposure: float = 0.0
    cooldown_s: float = 0.0  # error cooldown left
    balance: float | None = None
    alert: str = ""
    enforce: bool = True
    #: the caps used beyond ``POLYMM_SOFT_CAP_PCT`` of their limit, e.g. ``("total position 85%",)``
    near_caps: tuple[str, ...] = ()


class DecisionState(msgspec.Struct, frozen=True, gc=False):
    """One market's last strategy step: the model's targets, the risk vetoes and why (YES pips)."""

    condition_id: str
    model: str
    reason: str
    fair: float | None  # pips
    targets: tuple[tuple[str, int, Decimal], ...]  # (side, price, size) after the risk checks
    vetoes: tuple[str, ...]
    widen: float
    reward_score: float | None  # our estimated Q_min, None when the market pays no rewards
    step_interval_s: float  # the adaptive fallback interval now in force
    ts: float


@dataclass(frozen=True, slots=True)
class VenueState:
    mode: str  # DEMO | PAPER | LIVE
    host: str
    execution: str  # "paper" | "live"


@dataclass(frozen=True, slots=True)
class ExecutionState:
    """Health of the order path: heartbeat age, venue errors in the last 10 s, rejects, retries."""

    name: str
    open_orders: int
    pending_fills: int
    heartbeat_age_s: float | None
    errors_10s: int
    rejects: int
    retries: int
    orders_1s: int = 0  # signer-bucket spend in the last second (docs/protocol.md §8: 40 orders/s, 80 cancels/s)
    cancels_1s: int = 0
    #: False while what we hold is not known (catch-up, reconciliation failing, balance unknown):
    #: nothing is quoted, and ``reason`` says why (the status bar shows RECONCILING)
    ready: bool = True
    reason: str = ""
    mismatches: int = 0  # positions taken from the venue because they differed from ours
    paused: tuple[str, ...] = ()  # markets paused until a clean comparison with the venue
    #: time from a market-data frame's receipt to the order it caused leaving for the venue (ms), over
    #: the last minute of placements; None before the first
    tick_to_trade_p50_ms: float | None = None
    tick_to_trade_p99_ms: float | None = None
    loop_lag_ms: float | None = None  # how late the event loop runs a timer now (worst of the last 5 s)
    queued: int = 0  # requests waiting for the client-side rate limiter (venue/ratelimit.py)
    throttled_1m: int = 0  # requests the limiter held back in the last minute
    venue_429s: int = 0  # rate-limit refusals the venue answered (should stay 0: the limiter paces us)
    rate_orders_per_s: float = 40.0  # the venue's per-signer rates the spend is shown against (the settings')
    rate_cancels_per_s: float = 80.0
    #: the requote tolerance's factor under the rate limits (``Engine._adapt_pressure``): 1 with room to spare
    requote_pressure: float = 1.0


class OrderView(msgspec.Struct, frozen=True, gc=False):
    """One of our open orders, in YES terms (a NO order is shown as its YES equivalent). Untracked by
    the garbage collector, like the other per-step values of numbers and strings (docs/architecture.md,
    "What the garbage collector walks")."""

    order_id: str
    side: str  # BUY | SELL
    price: int  # pips
    size: Decimal
    filled: Decimal = Decimal(0)
    placed_at: float = 0.0  # epoch seconds (the venue's clock's reading at placement, ours); 0 unknown


class MarketState(msgspec.Struct, frozen=True, gc=False):
    """Per-market slice: what we quote and why, our position and P&L."""

    condition_id: str
    question: str
    status: str  # quoting | paused | halted | untrusted | reconciling | waiting
    reason: str
    orders: tuple[OrderView, ...]
    position: Decimal
    avg_price: Decimal | None
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fills: int
    spread: Decimal
    size: Decimal
    position_limit: Decimal


class TradePrint(msgspec.Struct, frozen=True, gc=False):
    """One print on the market channel, in YES terms (taker side). Untracked by the garbage collector
    (one a print: ~300 a second at 300 markets)."""

    ts: float
    side: str  # the taker's side: BUY lifts the ask, SELL hits the bid
    price: int  # pips
    size: float


@dataclass(frozen=True, slots=True)
class PortfolioState:
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    fills: int

    @property
    def total_pnl(self) -> Decimal:
        return self.realized_pnl + self.unrealized_pnl - self.fees


@dataclass(frozen=True, slots=True)
class FillView:
    """One of our fills for the fills tab (the ``fills`` slice: newest first, the last 200). ``side``,
    ``outcome`` and ``price`` are as the venue traded the token (a YES-terms sell done as a NO buy at
    0.45 reads ``BUY NO 0.45``); ``status`` is the venue's last word (MATCHED, MINED, CONFIRMED, FAILED,
    RETRYING; paper: CONFIRMED); ``markout_10s``: the YES mid 10 s later against the fill's YES-terms
    price, + = good for us (None until then)."""

    ts: float
    condition_id: str
    question: str
    side: str
    outcome: str
    price: Decimal
    size: Decimal
    fee: Decimal
    status: str
    markout_10s: Decimal | None
    trade_id: str = ""


@dataclass(frozen=True, slots=True)
class RewardsState:
    """Liquidity rewards the venue says we earned on ``date`` (UTC): the day's total and per market (pUSD).
    ``error`` says why the last reading failed ("" when it did not); ``known`` is False until a first
    reading succeeded (paper: never — there is no venue to pay us)."""

    date: str = ""
    today: Decimal = Decimal(0)
    by_market: dict[str, Decimal] = field(default_factory=dict)
    read_at: float | None = None  # epoch seconds of the last good reading
    error: str = ""
    known: bool = False


class HoldingView(msgspec.Struct, frozen=True, gc=False):
    """Shares of one outcome token we hold, as the ledger has them (the ``holdings`` slice lists every
    token with a non-zero count, traded now or not: what we hold is what the venue says). Untracked
    by the garbage collector (docs/architecture.md, "What the garbage collector walks")."""

    condition_id: str
    question: str  # "" when the market is not known yet
    outcome: str  # the token's outcome label ("Yes", "No", "Lakers", ...)
    token_id: str
    shares: Decimal
    traded: bool  # the market is in the traded set now
    paused: bool = False  # paused until a clean comparison with the venue


@dataclass(slots=True)
class _Slice:
    version: int
    value: Any


#: Deleted slices remembered (``changed_since`` reports each once as None) at most: the oldest marker
#: goes first, so a reader that last looked before thousands of markets were removed may keep one.
DELETED_KEPT = 10_000


@dataclass
class StateStore:
    """See the module docstring. The engine may run on a thread of its own (``engine/host.py``): writes
    and the readers of many slices at once (``changed_since``, ``keys``) hold one lock, so a reader never
    sees a slice's version without its value; ``get`` reads one slice and needs none."""

    version: int = 0
    _slices: dict[str, _Slice] = field(default_factory=dict)
    _deleted: dict[str, int] = field(default_factory=dict)  # key -> version it was deleted at
    #: every live slice's key, the last written last: ``changed_since`` walks it from the end and stops at
    #: the first slice the reader has seen — O(slices written since), not O(slices) (~1,500 at 300 markets)
    _written: dict[str, None] = field(default_factory=dict)
    _subscribers: list[Callable[[int], None]] = field(default_factory=list)
    _notify_pending: bool = False
    _events: deque[LogEntry] = field(default_factory=lambda: deque(maxlen=500))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    # ------------------------------------------------------------ writing
    def set(self, key: str, value: Any) -> None:
        """Replace slice ``key`` with an immutable ``value``."""
        with self._lock:
            self._set(key, value)
        self._schedule_notify()

    def _set(self, key: str, value: Any) -> None:
        self.version += 1
        s = self._slices.get(key)
        self._deleted.pop(key, None)
        written = self._written
        written.pop(key, None)
        written[key] = None
        if s is None:
            self._slices[key] = _Slice(self.version, value)
        else:
            s.version = self.version
            s.value = value

    def delete(self, key: str) -> None:
        """Drop a slice (its market was removed); ``changed_since`` reports it once as ``None``."""
        with self._lock:
            if self._slices.pop(key, None) is None:
                return
            self._written.pop(key, None)
            self.version += 1
            self._deleted[key] = self.version
            while len(self._deleted) > DELETED_KEPT:  # the oldest marker first (insertion = version order)
                del self._deleted[next(iter(self._deleted))]
        self._schedule_notify()

    def log(self, text: str, level: str = "info") -> None:
        """Append to the bounded event log (a ring buffer) and publish it as slice ``events``."""
        with self._lock:
            self._events.append(LogEntry(time.time(), level, text))
            self._set("events", tuple(self._events))
        self._schedule_notify()

    # ------------------------------------------------------------ reading
    def get(self, key: str, default: Any = None) -> Any:
        s = self._slices.get(key)
        return default if s is None else s.value

    def slice_version(self, key: str) -> int:
        s = self._slices.get(key)
        return 0 if s is None else s.version

    def changed_since(self, version: int) -> tuple[int, dict[str, Any]]:
        """(current version, {key: value} for every slice written after ``version``)."""
        with self._lock:
            if version >= self.version:
                return self.version, {}
            slices, newer = self._slices, []
            for k in reversed(self._written):
                s = slices[k]
                if s.version <= version:
                    break
                newer.append((k, s.value))
            out = dict(reversed(newer))  # the oldest write first
            for k, v in self._deleted.items():
                if v > version and k not in out:
                    out[k] = None
            return self.version, out

    def keys(self, prefix: str = "") -> list[str]:
        with self._lock:
            return [k for k in self._slices if k.startswith(prefix)]

    def book(self, condition_id: str) -> BookView | None:
        return self.get(f"book/{condition_id}")

    def market(self, condition_id: str) -> MarketState | None:
        return self.get(f"market/{condition_id}")

    # ------------------------------------------------------------ subscribing
    def subscribe(self, callback: Callable[[int], None]) -> Callable[[], None]:
        """Call ``callback(version)`` after writes, at most once per event-loop turn."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def _schedule_notify(self) -> None:
        if self._notify_pending or not self._subscribers:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._notify()  # no loop (plain tests, scripts): notify at once
            return
        self._notify_pending = True
        loop.call_soon(self._notify)

    def _notify(self) -> None:
        self._notify_pending = False
        for cb in list(self._subscribers):
            cb(self.version)
