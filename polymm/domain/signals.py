"""Market signals for quoting, the store and the UI: pure, deterministic, no I/O, no clock.

Every method that depends on time takes ``now`` (seconds, any monotonic or epoch origin, as long as
one market uses one origin). Each signal is a small mutable accumulator with ``update(...)`` and an
immutable ``snapshot()`` (a frozen dataclass). ``SignalSet`` owns one of each for one market.

Units: prices are integer pips (1 pip = 1e-4 = 1 bp of $1) unless a field says ``price units``
(0..1 dollars). Book sizes are floats (analytics only, DESIGN §5).

Time-aware EWMA (used throughout). For a sample ``x`` arriving ``dt`` seconds after the previous one,
with half-life ``H`` seconds::

    d = 2 ** (-dt / H)          # decay of the old state over the gap
    S = d * S + (1 - d) * x     # raw state, starts at 0
    W = d * W + (1 - d)         # weight of the raw state, starts at 0
    value = S / W               # bias-corrected estimate (undefined until W > 0)

A sample's weight is proportional to the time elapsed since the previous one, so bursts of updates at
nearly the same instant barely move the estimate, and a long quiet gap lets a new value dominate.

Snapshots are cached: a signal rebuilds its snapshot only after its state (or its ``config``) changed,
and otherwise returns the same immutable object again, so a strategy step pays only for what moved.

Every window is bounded twice: by time (its ``window`` seconds) and by count (its config's ``max_*``):
a market printing faster than the count allows keeps its newest entries (the oldest go first), so
memory stays flat at any rate and for any number of markets. The sliding windows keep their entries
as rows of floats in flat arrays (``_Rows``), about 24 bytes an entry.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

import msgspec

from .market import Side
from .order_book import BookView
from .portfolio import Fill
from .prices import MAX_PIPS

PIPS_PER_UNIT = float(MAX_PIPS)  # 10_000 pips = 1.0 price unit


class Ewma:
    """Bias-corrected, time-aware EWMA (formula in the module docstring)."""

    __slots__ = ("_s", "_w", "half_life")

    def __init__(self, half_life: float) -> None:
        if half_life <= 0:
            raise ValueError(f"half_life must be > 0, got {half_life!r}")
        self.half_life = half_life
        self._s = 0.0
        self._w = 0.0

    def add(self, x: float, dt: float) -> None:
        """Fold in sample ``x`` observed ``dt`` seconds after the previous one (dt ≤ 0 adds nothing)."""
        if dt <= 0:
            return
        self.fold(x, 2.0 ** (-dt / self.half_life))

    def fold(self, x: float, d: float) -> None:
        """Fold in sample ``x`` with an explicit decay ``d`` ∈ [0, 1] of the old state."""
        self._s = d * self._s + (1.0 - d) * x
        self._w = d * self._w + (1.0 - d)

    @property
    def ready(self) -> bool:
        return self._w > 0.0

    @property
    def value(self) -> float:
        return self._s / self._w if self._w > 0.0 else 0.0


class _Rows:
    """A FIFO of rows of three floats ``(t, a, b)``, oldest first, kept in three flat ``array("d")``
    used as a ring: no Python object per row (24 bytes a row instead of ~150 for a tuple of boxed
    floats, and nothing for the garbage collector to walk). The arrays grow by half as rows come, up
    to the ``room`` the owner gives ``push``; the owner bounds the count itself (``popleft`` before
    ``push`` while ``n`` is at its bound), so the bound can follow its config.

    ``n`` is the number of rows and ``first`` the time of the oldest (``inf`` when empty): the hot
    paths read them as attributes (``while rows.first <= horizon: rows.popleft()``)."""

    __slots__ = ("_a", "_b", "_head", "_t", "first", "n")

    def __init__(self) -> None:
        self._t = array("d")
        self._a = array("d")
        self._b = array("d")
        self._head = 0
        self.n = 0
        self.first = math.inf

    def __len__(self) -> int:
        return self.n

    def __bool__(self) -> bool:
        return self.n > 0

    def __iter__(self) -> Iterator[tuple[float, float, float]]:
        size, h = len(self._t), self._head
        t, a, b = self._t, self._a, self._b
        for k in range(self.n):
            i = (h + k) % size
            yield t[i], a[i], b[i]

    def last_t(self) -> float:
        """Time of the newest row (IndexError when empty)."""
        if not self.n:
            raise IndexError("no rows")
        return self._t[(self._head + self.n - 1) % len(self._t)]

    def push(self, t: float, a: float, b: float, room: int) -> None:
        """Append a row; the arrays grow (by half, at most to ``room`` rows) when full."""
        n = self.n
        size = len(self._t)
        if n == size:
            size = max(min(size + max(size // 2, 8), room), size + 1)
            self._grow(size)
        i = (self._head + n) % size
        self._t[i] = t
        self._a[i] = a
        self._b[i] = b
        self.n = n + 1
        if not n:
            self.first = t

    def popleft(self) -> tuple[float, float, float]:
        n = self.n
        if not n:
            raise IndexError("no rows")
        h = self._head
        t = self._t
        row = (t[h], self._a[h], self._b[h])
        h = self._head = (h + 1) % len(t)
        self.n = n - 1
        self.first = t[h] if n > 1 else math.inf
        return row

    def _grow(self, size: int) -> None:
        h, old = self._head, len(self._t)
        pad = array("d", bytes(8 * (size - old)))
        self._t = self._t[h:] + self._t[:h] + pad
        self._a = self._a[h:] + self._a[:h] + pad
        self._b = self._b[h:] + self._b[:h] + pad
        self._head = 0


def _plain(x: float) -> str:
    """A count or a size in a reason: plain digits, at most 2 decimals, never an exponent (``:g`` wrote
    a depth of a million as ``1e+06``); cheap enough for every book update."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _check_max(name: str, value: int, least: int = 1) -> None:
    if not (isinstance(value, int) and value >= least):
        raise ValueError(f"{name}: must be a whole number >= {least} (got {value!r})")


# =====================================================================================  1. volatility


@dataclass(frozen=True, slots=True)
class VolatilityConfig:
    var_half_life: float = 60.0  # seconds, EWMA of squared mid changes
    fast_half_life: float = 10.0  # seconds, EWMA of |mid change|
    slow_half_life: float = 300.0
    j_min: float = 0.8  # the PM4 original's clip of J (lambda_min / lambda_max)
    j_max: float = 2.0


class VolatilitySnapshot(msgspec.Struct, frozen=True, gc=False):
    sigma: float  # price units: sqrt(EWMA of (Δmid)²), Δmid in price units
    fast_abs: float  # price units: EWMA of |Δmid| with the fast half-life
    slow_abs: float  # price units: EWMA of |Δmid| with the slow half-life
    regime: float  # J = fast_abs / slow_abs clipped to [j_min, j_max]; 1.0 until both are known
    samples: int

    @property
    def sigma_pips(self) -> float:
        return self.sigma * PIPS_PER_UNIT




class Volatility:
    """σ of mid changes and the fast/slow regime multiplier J.

    Each ``update(now, mid)`` with ``now`` later than the last sample yields one change
    ``Δ = (mid − last_sampled_mid) / 10_000`` (price units), folded into three time-aware EWMAs
    (module docstring): ``var ← Δ²`` (half-life ``var_half_life``), ``fast ← |Δ|``, ``slow ← |Δ|``.
    ``σ = sqrt(var)``; ``J = clip(fast / slow, j_min, j_max)`` (1.0 while slow is 0 or unknown).
    Updates at the same instant as the last sample only move the reference mid forward lazily: the
    change is measured from the last *sampled* mid, so it is not lost, only counted at the next step.
    """

    def __init__(self, config: VolatilityConfig | None = None) -> None:
        self.config = c = config or VolatilityConfig()
        self._var = Ewma(c.var_half_life)
        self._fast = Ewma(c.fast_half_life)
        self._slow = Ewma(c.slow_half_life)
        self._last_t: float | None = None
        self._last_mid: float | None = None
        self._samples = 0
        self._snap: VolatilitySnapshot | None = None  # cached for ``_snap_config``; None once stale
        self._snap_config: VolatilityConfig | None = None

    def update(self, now: float, mid: float | None) -> None:
        """Feed the mid (pips, may be fractional) at ``now``; ``None`` (one-sided book) is ignored."""
        if mid is None:
            return
        if self._last_t is None or self._last_mid is None:
            self._last_t, self._last_mid = now, mid
            return
        dt = now - self._last_t
        if dt <= 0:
            return
        delta = (mid - self._last_mid) / PIPS_PER_UNIT
        # Ewma.add(x, dt) for the three EWMAs, inlined (dt > 0 here)
        x = delta * delta
        e = self._var
        d = 2.0 ** (-dt / e.half_life)
        e._s = d * e._s + (1.0 - d) * x
        e._w = d * e._w + (1.0 - d)
        x = abs(delta)
        e = self._fast
        d = 2.0 ** (-dt / e.half_life)
        e._s = d * e._s + (1.0 - d) * x
        e._w = d * e._w + (1.0 - d)
        e = self._slow
        d = 2.0 ** (-dt / e.half_life)
        e._s = d * e._s + (1.0 - d) * x
        e._w = d * e._w + (1.0 - d)
        self._last_t, self._last_mid = now, mid
        self._samples += 1
        self._snap = None

    def snapshot(self) -> VolatilitySnapshot:
        c = self.config
        snap = self._snap
        if snap is not None and self._snap_config is c:
            return snap
        fast, slow = self._fast.value, self._slow.value
        j = 1.0 if slow <= 0.0 else min(c.j_max, max(c.j_min, fast / slow))
        snap = VolatilitySnapshot(math.sqrt(max(self._var.value, 0.0)), fast, slow, j, self._samples)
        self._snap, self._snap_config = snap, c
        return snap


# =====================================================================================  2. order flow


@dataclass(frozen=True, slots=True)
class FlowConfig:
    window: float = 60.0  # seconds
    max_skew_ticks: float = 2.0  # skew at |imbalance| = 1
    widen_k: float = 0.5  # widening factor = 1 + widen_k·|imbalance|
    min_volume: float = 0.0  # below this total the suggestions are neutral (imbalance still reported)
    max_prints: int = 2_000  # prints kept in the window at most (the newest): binds above 33 prints/s
    threshold: float = 0.0  # |imbalance| under this: neutral suggestions (0: every imbalance acts)

    def __post_init__(self) -> None:
        _check_max("max_prints", self.max_prints)


class FlowSnapshot(msgspec.Struct, frozen=True, gc=False):
    buy_volume: float  # taker-buy shares in the window
    sell_volume: float
    trades: int
    imbalance: float  # (B − S) / (B + S) ∈ [−1, 1]; 0 when no volume
    skew_ticks: float  # suggested shift of both quotes, + = up (buyers aggressive)
    widen: float  # suggested spread multiplier ≥ 1




class FlowImbalance:
    """Aggressive (taker) buys vs sells over a sliding window of ``window`` seconds.

    ``imbalance = (B − S) / (B + S)`` where B, S are taker-buy and taker-sell sizes of prints with
    ``now − window < t ≤ now``. ``skew_ticks = max_skew_ticks · imbalance`` and
    ``widen = 1 + widen_k · |imbalance|`` once ``B + S ≥ min_volume`` and ``|imbalance| ≥ threshold``
    (else 0 and 1). At most the
    newest ``max_prints`` prints of the window count (the oldest leave first).
    """

    def __init__(self, config: FlowConfig | None = None) -> None:
        self.config = config or FlowConfig()
        self._prints = _Rows()  # (t, size, 1.0 taker buy / 0.0 taker sell)
        self._buy = 0.0
        self._sell = 0.0
        self._snap: FlowSnapshot | None = None  # cached for ``_snap_config``; None once stale
        self._snap_config: FlowConfig | None = None

    def update(self, now: float, size: float, taker_is_buy: bool) -> None:
        if size > 0:
            q, cap = self._prints, self.config.max_prints
            while q.n >= cap:
                self._drop(q.popleft())
            q.push(now, size, 1.0 if taker_is_buy else 0.0, cap)
            if taker_is_buy:
                self._buy += size
            else:
                self._sell += size
            self._snap = None
        self.expire(now)

    def expire(self, now: float) -> None:
        horizon = now - self.config.window
        q = self._prints
        if q.first > horizon:  # nothing to drop (an empty window was already cleared)
            return
        while q.first <= horizon:
            self._drop(q.popleft())
        self._snap = None

    def _drop(self, row: tuple[float, float, float]) -> None:
        _, size, is_buy = row
        if is_buy:
            self._buy -= size
        else:
            self._sell -= size
        if not self._prints.n:  # clear float residue
            self._buy = self._sell = 0.0

    def snapshot(self) -> FlowSnapshot:
        c = self.config
        snap = self._snap
        if snap is not None and self._snap_config is c:
            return snap
        b, s = max(self._buy, 0.0), max(self._sell, 0.0)
        total = b + s
        imb = 0.0 if total <= 0 else max(-1.0, min(1.0, (b - s) / total))
        active = total > 0 and total >= c.min_volume and abs(imb) >= c.threshold
        snap = FlowSnapshot(
            b,  # buy_volume
            s,  # sell_volume
            len(self._prints),  # trades
            imb,  # imbalance
            c.max_skew_ticks * imb if active else 0.0,  # skew_ticks
            1.0 + c.widen_k * abs(imb) if active else 1.0,  # widen
        )
        self._snap, self._snap_config = snap, c
        return snap


# =====================================================================================  3. liquidity


class Liquidity(StrEnum):
    HIGH = "HIGH"
    NORMAL = "NORMAL"
    LOW = "LOW"
    CRISIS = "CRISIS"


@dataclass(frozen=True, slots=True)
class LiquidityConfig:
    levels: int = 5  # top-N levels per side summed for depth
    high_max_spread_ticks: float = 1.0  # HIGH: spread ≤ this and depth ≥ high_min_depth
    high_min_depth: float = 5_000.0
    low_min_spread_ticks: float = 5.0  # LOW: spread ≥ this or depth < low_max_depth
    low_max_depth: float = 500.0
    crisis_min_spread_ticks: float = 20.0  # CRISIS: spread ≥ this or depth < crisis_max_depth or one-sided
    crisis_max_depth: float = 50.0
    #: HIGH / NORMAL / LOW from the median spread and depth of the last ``window`` books (1: this book);
    #: CRISIS always from this book alone (a stressed book is never smoothed away)
    window: int = 1
    high_widen: float = 1.0  # the spread multiplier in HIGH liquidity (≤ 1: tighter in a deep book)
    low_widen: float = 1.0  # and in LOW (≥ 1: wider in a thin one)

    def __post_init__(self) -> None:
        if not 1 <= self.window <= 10_000:
            raise ValueError(f"window: must be 1 to 10000 books (got {self.window!r})")
        if not 0.1 <= self.high_widen <= 1.0:
            raise ValueError(f"high_widen: must be 0.1 to 1 (got {self.high_widen!r})")
        if not 1.0 <= self.low_widen <= 10.0:
            raise ValueError(f"low_widen: must be 1 to 10 (got {self.low_widen!r})")


class LiquiditySnapshot(msgspec.Struct, frozen=True, gc=False):
    regime: Liquidity
    reason: str
    spread_ticks: float | None
    depth: float  # min(bid depth, ask depth) over the top N levels, shares
    bid_depth: float
    ask_depth: float
    widen: float = 1.0  # the regime's spread multiplier (``LiquidityConfig.high_widen`` / ``low_widen``)




class LiquidityRegime:
    """Classify the book from its spread in ticks and its thinner side's top-N depth.

    ``depth = min(Σ bid sizes, Σ ask sizes)`` over the best ``levels`` levels. Checked in order:
    one-sided/empty or crossed → CRISIS; ``spread ≥ crisis_min_spread_ticks`` or
    ``depth < crisis_max_depth`` → CRISIS; ``spread ≥ low_min_spread_ticks`` or
    ``depth < low_max_depth`` → LOW; ``spread ≤ high_max_spread_ticks`` and ``depth ≥ high_min_depth``
    → HIGH; otherwise NORMAL. The reason names the rule that fired.

    With ``window`` > 1, HIGH / NORMAL / LOW are read from the median spread and median depth of the
    last ``window`` two-sided books (the earlier bots' regime window: one thin update does not flip the
    regime), while CRISIS is still decided by the current book alone. The regime's spread multiplier
    (``widen``: ``high_widen`` in HIGH, ``low_widen`` in LOW, else 1) goes through the signals' widening.
    """

    def __init__(self, config: LiquidityConfig | None = None) -> None:
        self.config = config or LiquidityConfig()
        self._recent: deque[tuple[float, float]] = deque(maxlen=self.config.window)  # (spread ticks, depth)
        self._snap = LiquiditySnapshot(Liquidity.CRISIS, "no book yet", None, 0.0, 0.0, 0.0)
        # the last classification, config, spread ticks and depth -> regime and reason: equal inputs (even
        # an int 0 and a 0.0 depth) give the same text. Slots, not a key tuple a step (the collector walks those)
        self._last_config: LiquidityConfig | None = None
        self._last_st = self._last_depth = math.nan
        self._last_regime, self._last_reason = Liquidity.CRISIS, ""

    def update(self, view: BookView) -> LiquiditySnapshot:
        c = self.config
        n = c.levels
        bd = sum([lv.size for lv in view.bids[:n]])
        ad = sum([lv.size for lv in view.asks[:n]])
        depth = min(bd, ad)
        bb, ba = view.best_bid, view.best_ask
        if bb is None or ba is None:  # view.spread is None
            snap = LiquiditySnapshot(Liquidity.CRISIS, "one-sided or empty book", None, depth, bd, ad)
        else:
            st = (ba - bb) / view.tick.pips
            if self._last_config is c and self._last_st == st and self._last_depth == depth:
                regime, reason = self._last_regime, self._last_reason
            else:
                regime, reason = self._last_regime, self._last_reason = self._classify(st, depth)
                self._last_config, self._last_st, self._last_depth = c, st, depth
            if c.window > 1:
                regime, reason = self._windowed(st, depth, regime, reason)
            widen = c.high_widen if regime is Liquidity.HIGH else c.low_widen if regime is Liquidity.LOW else 1.0
            snap = LiquiditySnapshot(regime, reason, st, depth, bd, ad, widen)
        self._snap = snap
        return snap

    def _windowed(self, st: float, depth: float, regime: Liquidity, reason: str) -> tuple[Liquidity, str]:
        """The regime of the window's median spread and depth, unless this book alone is a CRISIS."""
        recent = self._recent
        if recent.maxlen != self.config.window:
            self._recent = recent = deque(recent, maxlen=self.config.window)
        recent.append((st, depth))
        if regime is Liquidity.CRISIS:
            return regime, reason
        spreads = sorted(x for x, _ in recent)
        depths = sorted(d for _, d in recent)
        mid = len(recent) // 2
        if len(recent) % 2:
            med_st, med_depth = spreads[mid], depths[mid]
        else:
            med_st, med_depth = (spreads[mid - 1] + spreads[mid]) / 2, (depths[mid - 1] + depths[mid]) / 2
        regime, why = self._classify(med_st, med_depth)
        if regime is Liquidity.CRISIS:  # the window's medians are stressed, this book is not: LOW at worst
            regime = Liquidity.LOW
        return regime, f"median of {len(recent)} books: {why}"

    def _classify(self, st: float, depth: float) -> tuple[Liquidity, str]:
        c = self.config
        if st <= 0:
            return Liquidity.CRISIS, f"crossed or locked book (spread {_plain(st)} ticks)"
        if st >= c.crisis_min_spread_ticks:
            return Liquidity.CRISIS, f"spread {_plain(st)} ≥ {_plain(c.crisis_min_spread_ticks)} ticks"
        if depth < c.crisis_max_depth:
            return Liquidity.CRISIS, f"depth {_plain(depth)} < {_plain(c.crisis_max_depth)}"
        if st >= c.low_min_spread_ticks:
            return Liquidity.LOW, f"spread {_plain(st)} ≥ {_plain(c.low_min_spread_ticks)} ticks"
        if depth < c.low_max_depth:
            return Liquidity.LOW, f"depth {_plain(depth)} < {_plain(c.low_max_depth)}"
        if st <= c.high_max_spread_ticks and depth >= c.high_min_depth:
            return Liquidity.HIGH, (f"spread {_plain(st)} ≤ {_plain(c.high_max_spread_ticks)} ticks and depth "
                                    f"{_plain(depth)} ≥ {_plain(c.high_min_depth)}")
        return Liquidity.NORMAL, f"spread {_plain(st)} ticks, depth {_plain(depth)}"

    def snapshot(self) -> LiquiditySnapshot:
        return self._snap


# =====================================================================================  4. competitor


@dataclass(frozen=True, slots=True)
class CompetitorConfig:
    window: float = 30.0  # T seconds
    min_events: int = 3  # K improvements within T to flag
    max_improve_ticks: int = 1  # an improvement is 1..this many ticks better than our quote
    action: str = "back_off"  # "back_off" (widen) or "match" (join their price)
    back_off_ticks: int = 1
    max_events: int = 1_000  # improvements kept in the window at most (the newest)
    size_factor: float = 1.0  # while flagged, quote sizes × this (1: price response only)

    def __post_init__(self) -> None:
        if self.action not in ("back_off", "match"):
            raise ValueError(f"action {self.action!r} is not allowed; allowed: back_off, match")
        if not 0.0 < self.size_factor <= 1.0:
            raise ValueError(f"size_factor: must be > 0 and <= 1 (got {self.size_factor!r})")
        _check_max("max_events", self.max_events)


class CompetitorSnapshot(msgspec.Struct, frozen=True, gc=False):
    flagged: bool
    events: int  # improvements within the window (both sides)
    bid_events: int
    ask_events: int
    suggestion: str  # "none", "back_off" or "match"
    widen_ticks: int  # ticks to widen each side when suggestion == "back_off"
    size_factor: float = 1.0  # quote sizes × this while flagged (``CompetitorConfig.size_factor``)


class CompetitorDetector:
    """Detect another maker pennying our quotes.

    An *improvement* on the bid is a transition into the state ``0 < best_bid − our_bid ≤
    max_improve_ticks · tick`` (asks mirrored: ``0 < our_ask − best_ask ≤ …``). It is counted once
    per (our price, their price): staying pennied is not re-counted, but after we move (or they do)
    and get pennied again, it is. Flag when ``count ≥ min_events`` over ``(now − window, now]`` (the
    newest ``max_events`` of them at most).
    """

    def __init__(self, config: CompetitorConfig | None = None) -> None:
        self.config = config or CompetitorConfig()
        self._events = _Rows()  # (t, 1.0 bid / 0.0 ask, unused)
        self._last_bid: tuple[int, int] | None = None
        self._last_ask: tuple[int, int] | None = None
        self._snap: CompetitorSnapshot | None = None  # cached for ``_snap_config``; None once stale
        self._snap_config: CompetitorConfig | None = None

    def update(
        self,
        now: float,
        our_bid: int | None,
        our_ask: int | None,
        best_bid: int | None,
        best_ask: int | None,
        tick_pips: int,
    ) -> None:
        limit = self.config.max_improve_ticks * tick_pips
        bid_state = None
        if our_bid is not None and best_bid is not None and 0 < best_bid - our_bid <= limit:
            bid_state = (our_bid, best_bid)
            if bid_state != self._last_bid:
                self._add(now, True)
        self._last_bid = bid_state
        ask_state = None
        if our_ask is not None and best_ask is not None and 0 < our_ask - best_ask <= limit:
            ask_state = (our_ask, best_ask)
            if ask_state != self._last_ask:
                self._add(now, False)
        self._last_ask = ask_state
        self.expire(now)

    def _add(self, now: float, is_bid: bool) -> None:
        events, cap = self._events, self.config.max_events
        while events.n >= cap:
            events.popleft()
        events.push(now, 1.0 if is_bid else 0.0, 0.0, cap)
        self._snap = None

    def expire(self, now: float) -> None:
        horizon = now - self.config.window
        events = self._events
        if events.first <= horizon:
            while events.first <= horizon:
                events.popleft()
            self._snap = None

    def snapshot(self) -> CompetitorSnapshot:
        c = self.config
        snap = self._snap
        if snap is not None and self._snap_config is c:
            return snap
        n = len(self._events)
        nb = sum(1 for _, is_bid, _ in self._events if is_bid)
        flagged = n >= c.min_events
        snap = CompetitorSnapshot(
            flagged=flagged,
            events=n,
            bid_events=nb,
            ask_events=n - nb,
            suggestion=c.action if flagged else "none",
            widen_ticks=c.back_off_ticks if flagged and c.action == "back_off" else 0,
            size_factor=c.size_factor if flagged else 1.0,
        )
        self._snap, self._snap_config = snap, c
        return snap


# =====================================================================================  5. parity


@dataclass(frozen=True, slots=True)
class ParityConfig:
    threshold_bps: float = 10.0  # flag when edge ≥ this (1 bp = 1 pip = $0.0001 per pair)
    cost_bps: float = 0.0  # subtracted from both edges (gas, a margin) before comparing
    #: the venue's taker fee rate: a leg bought at p costs ``rate · p · (1 − p)`` a share (PROTOCOL §8),
    #: subtracted from both edges (both legs are taken)
    fee_rate: float = 0.0
    max_size: float = 50.0  # shares a take of the gap may trade at most (``pipeline.parity_take``)


def taker_fee_bps(rate: float, *prices: int) -> float:
    """The taker fee of buying one share at each of ``prices`` (pips), in bps of $1."""
    return rate * sum(p * (MAX_PIPS - p) for p in prices) / MAX_PIPS


class ParitySnapshot(msgspec.Struct, frozen=True, gc=False):
    buy_edge_bps: float | None  # 10_000 − (yes_ask + no_ask) − cost: buy both, redeem $1
    sell_edge_bps: float | None  # (yes_bid + no_bid) − 10_000 − cost: sell both (mint $1 → 2 tokens)
    buy_flag: bool
    sell_flag: bool

    @property
    def flagged(self) -> bool:
        return self.buy_flag or self.sell_flag

    @property
    def edge_bps(self) -> float:
        return max(self.buy_edge_bps or 0.0, self.sell_edge_bps or 0.0, 0.0)


class ParityArb:
    """YES + NO parity: asks summing below $1 or bids summing above $1.

    Prices in pips, so edges are directly in bps of $1. Without the NO token's own book, NO is
    mirrored from the YES book (``no_bid = 10_000 − yes_ask``, ``no_ask = 10_000 − yes_bid``): the sums
    are then exactly $1 unless the (merged) YES book is crossed, which is precisely a parity arb.
    """

    def __init__(self, config: ParityConfig | None = None) -> None:
        self.config = config or ParityConfig()
        self._snap = ParitySnapshot(None, None, False, False)
        # the last inputs (config, YES bid and ask, NO bid and ask): slots, not a key tuple a step
        self._last_config: ParityConfig | None = None
        self._yes_bid: int | None = None
        self._yes_ask: int | None = None
        self._no_bid: int | None = None
        self._no_ask: int | None = None

    def update(
        self, yes_bid: int | None, yes_ask: int | None, no_bid: int | None = None, no_ask: int | None = None
    ) -> ParitySnapshot:
        if (  # the very same inputs (identity: the book's own ints) give the very same snapshot
            self._last_config is self.config
            and self._yes_bid is yes_bid
            and self._yes_ask is yes_ask
            and self._no_bid is no_bid
            and self._no_ask is no_ask
        ):
            return self._snap
        nb, na = no_bid, no_ask
        if nb is None and na is None:
            nb = MAX_PIPS - yes_ask if yes_ask is not None else None
            na = MAX_PIPS - yes_bid if yes_bid is not None else None
        c = self.config
        buy = sell = None
        if yes_ask is not None and na is not None:
            buy = MAX_PIPS - (yes_ask + na) - c.cost_bps - taker_fee_bps(c.fee_rate, yes_ask, na)
        if yes_bid is not None and nb is not None:  # selling at p: the fee is p·(1 − p) as well
            sell = yes_bid + nb - MAX_PIPS - c.cost_bps - taker_fee_bps(c.fee_rate, yes_bid, nb)
        self._snap = ParitySnapshot(
            buy_edge_bps=buy,
            sell_edge_bps=sell,
            buy_flag=buy is not None and buy >= c.threshold_bps,
            sell_flag=sell is not None and sell >= c.threshold_bps,
        )
        self._last_config, self._yes_bid, self._yes_ask, self._no_bid, self._no_ask = (
            c, yes_bid, yes_ask, no_bid, no_ask)
        return self._snap

    def snapshot(self) -> ParitySnapshot:
        return self._snap


# =====================================================================================  6. markouts


@dataclass(frozen=True, slots=True)
class MarkoutConfig:
    horizons: tuple[float, ...] = (1.0, 10.0, 60.0)  # seconds
    window: int = 100  # rolling means over the last N resolved fills per horizon
    toxicity_horizon: float = 10.0  # must be one of ``horizons``
    widen_k: float = 1.0  # widen = 1 + widen_k · max(0, toxicity − threshold) / (1 − threshold)
    max_pending: int = 1_000  # fills awaiting a horizon at most (the oldest are dropped unresolved)
    threshold: float = 0.5  # toxicity from which the spread widens (0.5: as many fills picked off as not)
    #: a fill's weight in the toxicity halves every this many seconds of its age (0: no fading; the
    #: window of the last ``window`` fills only) — an old run of picked-off fills stops penalising
    half_life_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.half_life_s >= 0.0:
            raise ValueError(f"half_life_s: must be >= 0 (got {self.half_life_s!r})")
        if not 0.0 <= self.threshold < 1.0:
            raise ValueError(f"threshold: must be >= 0 and < 1 (got {self.threshold!r})")
        if self.toxicity_horizon not in self.horizons:
            raise ValueError(f"toxicity_horizon {self.toxicity_horizon!r} is not one of horizons {self.horizons!r}")
        _check_max("max_pending", self.max_pending)


class MarkoutSnapshot(msgspec.Struct, frozen=True, gc=False):
    horizons: tuple[float, ...]
    means: tuple[float | None, ...]  # size-weighted mean markout per share, pips (+ = good for us)
    counts: tuple[int, ...]  # resolved fills in each rolling window
    pending: int  # fills with at least one horizon unresolved
    toxicity: float  # ∈ [0, 1]: size share of adverse (< 0) markouts at toxicity_horizon; 0 with no data
    widen: float  # spread multiplier ≥ 1


@dataclass(slots=True)
class _Pending:
    t: float
    sign: int  # +1 buy, −1 sell
    price: int
    size: float
    todo: list[float] = field(default_factory=list)  # horizons not yet resolved, ascending


class Markouts:
    """Post-fill markouts of our fills at fixed horizons.

    Markout of a fill at time t, horizon h: ``m = sign · (mid(t + h) − price)`` pips per share,
    sign = +1 for our buys, −1 for our sells (positive = the market moved our way). ``mid(t + h)`` is
    the mid in effect at t + h: the last mid observed at a time ≤ t + h (so a fill resolves as soon as
    a later mid arrives, or on ``advance(now)`` once ``now ≥ t + h``). Per horizon the rolling mean is
    size-weighted over the last ``window`` resolved fills: ``Σ size·m / Σ size``.
    ``toxicity = Σ size·[m < 0] / Σ size`` over the rolling window at ``toxicity_horizon`` — 0.5 is
    uninformed flow, 1 means every fill was picked off. ``widen = 1 + widen_k · max(0, tox − threshold) /
    (1 − threshold)`` (at the default threshold 0.5: ``1 + widen_k · max(0, 2·tox − 1)``).
    With ``half_life_s`` each fill's size in the toxicity is weighted by ``2^(−age / half_life_s)``
    (its age since the fill), and the widening's excess is scaled by the weighted share of the window's
    sizes (how fresh its evidence is): the penalty fades with time even when no newer fills replace
    the old ones.
    At most ``max_pending`` fills wait for their horizons (more, and the oldest are dropped unresolved).
    """

    def __init__(self, config: MarkoutConfig | None = None) -> None:
        self.config = c = config or MarkoutConfig()
        self._horizons = tuple(sorted(c.horizons))
        self._pending: list[_Pending] = []
        #: per horizon: (fill time, markout, size) of the last ``window`` resolved fills, in flat arrays (at
        #: 300 markets, 3 horizons × 100 fills of tuples were ~12 MB once full; these are 24 bytes a row)
        self._done: dict[float, _Rows] = {h: _Rows() for h in self._horizons}
        self._mid: float | None = None
        self._now = 0.0  # the latest time seen (the age of a fill, for ``half_life_s``)
        self._snap_at = 0.0  # when the cached snapshot was made
        self._snap: MarkoutSnapshot | None = None  # cached for ``_snap_config``; None once stale
        self._snap_config: MarkoutConfig | None = None

    def on_fill(self, now: float, fill: Fill) -> None:
        sign = 1 if fill.side is Side.BUY else -1
        over = len(self._pending) + 1 - self.config.max_pending
        if over > 0:
            del self._pending[:over]
        self._pending.append(_Pending(now, sign, fill.price, float(fill.size), list(self._horizons)))
        self._snap = None

    def on_mid(self, now: float, mid: float | None) -> None:
        """Feed the mid (pips) at ``now``. Deadlines before ``now`` resolve at the previous mid."""
        if now > self._now:
            self._now = now
        self._resolve(now, inclusive=False)
        if mid is not None:
            self._mid = mid
        self._resolve(now, inclusive=True)

    def advance(self, now: float) -> None:
        """Resolve deadlines ≤ ``now`` at the current mid (nothing newer has been seen)."""
        if now > self._now:
            self._now = now
        self._resolve(now, inclusive=True)

    def _resolve(self, now: float, inclusive: bool) -> None:
        mid = self._mid
        if mid is None or not self._pending:
            return
        keep: list[_Pending] = []
        resolved = False
        for p in self._pending:
            while p.todo and (p.t + p.todo[0] <= now if inclusive else p.t + p.todo[0] < now):
                h = p.todo.pop(0)
                rows, cap = self._done[h], self.config.window
                while rows.n >= cap:
                    rows.popleft()
                rows.push(p.t, p.sign * (mid - p.price), p.size, cap)
                resolved = True
            if p.todo:
                keep.append(p)
        if resolved or len(keep) != len(self._pending):
            self._snap = None
        self._pending = keep

    def snapshot(self) -> MarkoutSnapshot:
        c = self.config
        snap = self._snap
        fading = c.half_life_s > 0.0
        if snap is not None and self._snap_config is c and not (fading and self._now != self._snap_at):
            return snap
        means: list[float | None] = []
        counts: list[int] = []
        for h in self._horizons:
            d = self._done[h]
            w = sum(s for _, _, s in d)
            means.append(sum(m * s for _, m, s in d) / w if w > 0 else None)
            counts.append(len(d))
        d = self._done[c.toxicity_horizon]
        fresh = 1.0  # the share of the evidence still fresh: the penalty is scaled by it
        if fading:
            now, k = self._now, math.log(2.0) / c.half_life_s
            weighted = [(m, s * math.exp(-k * max(0.0, now - t))) for t, m, s in d]
            raw = sum(s for _, _, s in d)
            fresh = sum(s for _, s in weighted) / raw if raw > 0 else 0.0
        else:
            weighted = [(m, s) for _, m, s in d]
        w = sum(s for _, s in weighted)
        tox = min(1.0, max(0.0, sum(s for m, s in weighted if m < 0) / w)) if w > 1e-12 else 0.0
        snap = MarkoutSnapshot(
            horizons=self._horizons,
            means=tuple(means),
            counts=tuple(counts),
            pending=len(self._pending),
            toxicity=tox,
            widen=1.0 + c.widen_k * max(0.0, tox - c.threshold) / (1.0 - c.threshold) * fresh,
        )
        self._snap, self._snap_config, self._snap_at = snap, c, self._now
        return snap


# =====================================================================================  7. events


@dataclass(frozen=True, slots=True)
class EventConfig:
    widen_hours: float = 24.0  # hours to end < this → widen
    reduce_only_hours: float = 2.0  # hours to end < this (or past end) → reduce-only
    halt_before_end_h: float = 0.0  # hours to end < this (or past end) → no quotes; 0 = never
    halt_before_start_min: float = 0.0  # minutes to a game's start < this → no quotes; 0 = only once started
    # cool-off: no quotes for cool_off_s seconds after the mid jumps (one book update moves it by at least
    # jump_min_ticks ticks and jump_k times its usual move) or a sweep takes sweep_levels levels of a side
    cool_off_s: float = 0.0  # 0 = off
    jump_k: float = 6.0
    jump_min_ticks: float = 3.0
    sweep_levels: int = 3
    widen_factor: float = 1.5
    bucket: float = 60.0  # seconds per volume bucket (and the "recent" sliding window)
    volume_half_life: float = 30.0  # buckets, for the baseline EWMA of per-bucket volume
    spike_k: float = 3.0  # spike when recent ≥ spike_k · baseline
    spike_widen: float = 1.0  # the spread multiplier while a volume spike lasts (1: shown, not acted on)
    min_buckets: int = 5  # closed buckets before a spike can be flagged
    min_volume: float = 0.0  # and recent ≥ this
    max_recent: int = 2_000  # prints kept for the recent window at most (the newest): binds above 33 prints/s

    def __post_init__(self) -> None:
        _check_max("max_recent", self.max_recent)


class EventSnapshot(msgspec.Struct, frozen=True, gc=False):
    hours_to_end: float | None
    resolution_near: bool
    reduce_only: bool
    widen: float
    recent_volume: float  # shares traded in (now − bucket, now]
    baseline_volume: float  # EWMA of per-bucket volume over closed buckets
    volume_ratio: float | None  # recent / baseline
    volume_spike: bool
    minutes_to_start: float | None  # to the game's start (negative once started); None without one
    halt: str  # why nothing may be quoted now (the end date or a game's start is near); "" otherwise




class EventSignal:
    """Resolution approaching and volume spikes.

    Resolution: ``hours = (end − now) / 3600``; ``hours < reduce_only_hours`` → reduce-only (and widen);
    ``hours < widen_hours`` → widen by ``widen_factor``; ``hours < halt_before_end_h`` → halt.
    A game (``start_time``, Gamma's ``gameStartTime``): halt from ``halt_before_start_min`` minutes
    before it starts, and always once it has started (the book then moves with the play).
    Cool-off (``on_book``, when ``cool_off_s`` > 0): a book update that moves the mid by at least
    ``jump_min_ticks`` ticks and ``jump_k`` times the EWMA of |Δmid| per update (α 0.1), or that takes
    ``sweep_levels`` or more of the previous levels of one side at once, halts quoting for
    ``cool_off_s`` seconds (a later one extends it).
    Volume: time is cut into buckets ``[k·B, (k+1)·B)``. When a bucket closes its volume (0 for empty
    ones) folds into a bias-corrected EWMA with a half-life of ``volume_half_life`` buckets:
    ``d = 2^(−1/half_life)`` per bucket. ``recent`` is the volume over the sliding window
    ``(now − B, now]``; spike when ≥ ``min_buckets`` buckets closed, ``recent ≥ spike_k · baseline``
    and ``recent ≥ min_volume`` (a zero baseline with any recent volume counts as a spike). ``recent``
    sums the newest ``max_recent`` prints of the window at most.
    """

    def __init__(
        self, config: EventConfig | None = None, end_time: float | None = None, start_time: float | None = None
    ) -> None:
        self.config = c = config or EventConfig()
        self.end_time = end_time
        self.start_time = start_time
        self._base = Ewma(1.0)  # half-life unused: decayed per bucket via decay()
        self._d = 2.0 ** (-1.0 / c.volume_half_life)
        self._bucket: int | None = None
        self._bucket_vol = 0.0
        self._closed = 0
        self._recent = _Rows()  # (t, size, unused)
        self._recent_vol = 0.0
        self._now: float | None = None
        self._last: BookView | None = None  # the previous book (cool-off)
        self._move: float | None = None  # EWMA of |Δmid| per book update, pips
        self._cool_until = 0.0
        self._cool_why = ""
        # cached snapshot and what it was built for: config, end and start times and (with either) _now
        # (slots, not a key tuple a step: the garbage collector walks those)
        self._snap: EventSnapshot | None = None
        self._snap_config: EventConfig | None = None
        self._snap_end: float | None = None
        self._snap_start: float | None = None
        self._snap_now: float | None = None

    def set_end_time(self, end_time: float | None) -> None:
        self.end_time = end_time

    def on_book(self, now: float, view: BookView) -> None:
        """A book change: a jump of the mid or a sweep of a side starts a cool-off (class docstring)."""
        c = self.config
        if c.cool_off_s <= 0:
            return
        last, self._last = self._last, view
        if last is None or view.mid is None or last.mid is None:
            return
        move = abs(view.mid - last.mid)
        usual = self._move
        self._move = move if usual is None else usual + 0.1 * (move - usual)
        tick = view.tick.pips
        if usual is not None and move >= c.jump_min_ticks * tick and move > c.jump_k * usual:
            self._cool(now, f"a jump of {move / tick:g} ticks")
            return
        taken = _levels_taken(last, view)
        if c.sweep_levels > 0 and taken >= c.sweep_levels:
            self._cool(now, f"a sweep of {taken} levels")

    def _cool(self, now: float, why: str) -> None:
        self._cool_until = now + self.config.cool_off_s
        self._cool_why = why
        self._snap = None

    def advance(self, now: float) -> None:
        c = self.config
        self._now = now if self._now is None else max(self._now, now)
        k = math.floor(now / c.bucket)
        if self._bucket is None:
            self._bucket = k
        elif k > self._bucket:
            n = k - self._bucket  # closed: the current one (with its volume) + n − 1 empty ones
            self._base.fold(self._bucket_vol, self._d)
            if n > 1:
                self._base.fold(0.0, self._d ** (n - 1))  # n − 1 empty buckets at once
            self._closed += n
            self._bucket, self._bucket_vol = k, 0.0
            self._snap = None
        horizon = now - c.bucket
        recent = self._recent
        if recent.first <= horizon:
            while recent.first <= horizon:
                self._recent_vol -= recent.popleft()[1]
            if not recent.n:
                self._recent_vol = 0.0
            self._snap = None

    def update(self, now: float, size: float) -> None:
        """A trade print of ``size`` shares at ``now``."""
        self.advance(now)
        if size > 0:
            self._bucket_vol += size
            recent, cap = self._recent, self.config.max_recent
            while recent.n >= cap:
                self._recent_vol -= recent.popleft()[1]
            if not recent.n:
                self._recent_vol = 0.0
            recent.push(now, size, 0.0, cap)
            self._recent_vol += size
            self._snap = None

    def snapshot(self) -> EventSnapshot:
        cached = self._cached()
        if cached is not None:
            return cached
        c = self.config
        end = self.end_time
        start = self.start_time
        hours = None if self.end_time is None or self._now is None else (self.end_time - self._now) / 3600.0
        minutes = None if start is None or self._now is None else (start - self._now) / 60.0
        reduce_only = hours is not None and hours < c.reduce_only_hours
        near = hours is not None and hours < c.widen_hours
        recent = max(self._recent_vol, 0.0)
        base = self._base.value
        ratio = recent / base if base > 0 else None
        spike = (
            self._closed >= c.min_buckets
            and recent > 0
            and recent >= c.min_volume
            and (base <= 0 or recent >= c.spike_k * base)
        )
        snap = EventSnapshot(
            hours,  # hours_to_end
            near,  # resolution_near
            reduce_only,
            (c.widen_factor if near else 1.0) * (c.spike_widen if spike else 1.0),  # widen
            recent,  # recent_volume
            base,  # baseline_volume
            ratio,  # volume_ratio
            spike,  # volume_spike
            minutes,  # minutes_to_start
            _halt(c, hours, minutes) or self._cooling(),  # halt
        )
        self._snap, self._snap_config, self._snap_end, self._snap_start, self._snap_now = snap, c, end, start, self._now
        return snap


    def _cached(self) -> EventSnapshot | None:
        """The last snapshot while it still holds: same config and times, and (when anything here depends
        on the clock: an end, a start or a cool-off) the same instant."""
        snap = self._snap
        if snap is None or self._snap_config is not self.config or self._snap_end is not self.end_time:
            return None
        if self._snap_start is not self.start_time:
            return None
        timeless = self.end_time is None and self.start_time is None and not self._cool_until
        return snap if timeless or self._snap_now == self._now else None

    def _cooling(self) -> str:
        left = self._cool_until - (self._now or 0.0)
        if left <= 0:
            return ""
        return f"cooling off after {self._cool_why} ({left:.0f} s left)"


def _levels_taken(before: BookView, after: BookView) -> int:
    """How many of ``before``'s price levels on one side are gone through ``after``'s best (the larger
    side): bids above the new best bid, asks below the new best ask."""
    bids = asks = 0
    if after.best_bid is not None and before.best_bid is not None and after.best_bid < before.best_bid:
        bids = sum(1 for lv in before.bids if lv.price > after.best_bid)
    if after.best_ask is not None and before.best_ask is not None and after.best_ask > before.best_ask:
        asks = sum(1 for lv in before.asks if lv.price < after.best_ask)
    return max(bids, asks)


def _halt(c: EventConfig, hours: float | None, minutes: float | None) -> str:
    """Why an event stops quoting (``EventSnapshot.halt``), or ""."""
    if minutes is not None:
        if minutes <= 0:
            return "the game has started"
        if minutes < c.halt_before_start_min:
            return f"the game starts in {minutes:.0f} min (halts {c.halt_before_start_min:g} min before)"
    if hours is not None and c.halt_before_end_h > 0 and hours < c.halt_before_end_h:
        if hours <= 0:
            return "past its end date"
        return f"ends in {hours:.1f} h (halts {c.halt_before_end_h:g} h before)"
    return ""


# =====================================================================================  8. order-arrival intensity


@dataclass(frozen=True, slots=True)
class IntensityConfig:
    window: float = 600.0  # seconds of prints the fit uses
    min_samples: int = 20  # prints (and fills the tape did not show) before κ is trusted
    dedupe_s: float = 5.0  # a fill and a print at the same price this close in time are one trade
    kappa_min: float = 1.0  # per price unit: a decay length of at most the whole price range
    kappa_max: float = 10_000.0  # per price unit: a decay length of at least one pip
    refit_s: float = 1.0  # refit at most this often: κ drifts over minutes, and a step must stay cheap
    max_samples: int = 4_000  # samples kept in the window at most (the newest): binds above 6.7 prints/s
    max_unmatched: int = 500  # recent prints (and fills) kept for matching a fill to its print, at most

    def __post_init__(self) -> None:
        if not self.window > 0:
            raise ValueError(f"window: must be > 0 (got {self.window!r})")
        if self.min_samples < 2:
            raise ValueError(f"min_samples: must be >= 2 (got {self.min_samples!r})")
        if not self.dedupe_s >= 0:
            raise ValueError(f"dedupe_s: must be >= 0 (got {self.dedupe_s!r})")
        if not 0 < self.kappa_min <= self.kappa_max:
            raise ValueError(f"kappa_min, kappa_max: need 0 < kappa_min <= kappa_max "
                             f"(got {self.kappa_min!r}, {self.kappa_max!r})")
        if not self.refit_s >= 0:
            raise ValueError(f"refit_s: must be >= 0 (got {self.refit_s!r})")
        _check_max("max_samples", self.max_samples)
        _check_max("max_unmatched", self.max_unmatched)


class IntensitySnapshot(msgspec.Struct, frozen=True, gc=False):
    kappa: float | None  # κ per price unit; None until the window holds enough data (use a fallback)
    alpha: float | None  # A: shares per second at the mid (δ = 0), over the time the window's prints span
    samples: int  # prints and unmatched fills in the window
    levels: int  # distinct depths among them


_HALF_PIP = 1.0 / (2.0 * PIPS_PER_UNIT)  # price units per depth key
_NO_INTENSITY = IntensitySnapshot(None, None, 0, 0)


class TradingIntensity:
    """The order-arrival decay κ of Avellaneda–Stoikov, ``λ(δ) = A·e^(−κδ)``, estimated online.

    The approach of Hummingbot's trading-intensity estimator: every print's depth ``δ = |price − mid|``
    (price units, the mid of the last book seen before the print) and size go into a sliding window of
    ``window`` seconds. An order resting at ``δ`` is filled by every taker that reaches at least ``δ``,
    so the fill rate at the depths ``d₁ < … < d_m`` seen is ``λ(dⱼ) = Nⱼ / W`` with ``Nⱼ`` the shares
    printed at ``δ ≥ dⱼ`` and ``W`` the window's time span. ``ln λ = ln A − κδ`` is fitted by least
    squares, each depth weighted by the number of prints behind it (the deep, rare ones are the noisy
    ones). κ is ``None`` — the caller falls back to its parameter — until the window holds
    ``min_samples`` of them at two depths at least, or when the fit does not decay; else it is clipped
    to ``[kappa_min, kappa_max]``. The fit is redone when the window changed, at most every ``refit_s``
    seconds (the snapshot, its counts included, is the last fit's).

    Our own fills count too, but a fill is also a print on the public tape: a fill and a print at the
    same price within ``dedupe_s`` seconds of each other are one trade, whichever arrives first, so
    only a fill the tape did not show adds a sample.

    The window keeps at most the newest ``max_samples`` samples: in a market printing faster than
    that, the oldest leave first and the span becomes the time the kept ones cover (so ``λ`` stays a
    rate); at most ``max_unmatched`` recent prints and fills wait to be matched.
    """

    def __init__(self, config: IntensityConfig | None = None) -> None:
        self.config = config or IntensityConfig()
        self._samples = _Rows()  # (t, depth in half-pips, size)
        self._size: dict[int, float] = {}  # per depth in half-pips: shares in the window
        self._count: dict[int, int] = {}  # and prints
        self._prints: deque[_Unmatched] = deque()  # recent prints, with the size not matched to a fill
        self._fills: deque[_Unmatched] = deque()  # recent fills, with the size not matched to a print
        self._mid: float | None = None
        self._start: float | None = None  # time of the first sample: the window's span until it is full
        self._now = 0.0
        self._dirty = False  # the window changed since the last fit
        self._fit_t = -math.inf  # when the last fit was made
        self._snap: IntensitySnapshot | None = None  # the last fit, for ``_snap_config``; None: refit now
        self._snap_config: IntensityConfig | None = None

    def on_mid(self, mid: float | None) -> None:
        """The current mid (pips); prints are measured from the last one before them."""
        if mid is not None:
            self._mid = mid

    def on_trade(self, now: float, price: int, size: float) -> None:
        """A print of ``size`` shares at ``price`` (pips, YES terms)."""
        if not size > 0:
            return
        self.expire(now)
        left = _consume(self._fills, price, size)  # the part of it that is a fill of ours already counted
        if left > 0:
            _append(self._prints, _Unmatched(now, price, left), self.config.max_unmatched)
            self._add(now, price, left)

    def on_fill(self, now: float, fill: Fill) -> None:
        """A fill of ours (a reversal of a failed trade is no new trade)."""
        if fill.is_reversal:
            return
        size = float(fill.size)
        if not size > 0:
            return
        self.expire(now)
        left = _consume(self._prints, fill.price, size)
        if left > 0:
            _append(self._fills, _Unmatched(now, fill.price, left), self.config.max_unmatched)
            self._add(now, fill.price, left)

    def _add(self, now: float, price: int, size: float) -> None:
        if self._mid is None:
            return  # no reference mid yet: the depth is unknown
        key = round(2.0 * abs(price - self._mid))  # half-pips: a mid sits on a half pip at most
        q, cap = self._samples, self.config.max_samples
        while q.n >= cap:  # full: the oldest goes, and the span starts after it
            self._start = self._drop(q.popleft())
        q.push(now, key, size, cap)
        self._size[key] = self._size.get(key, 0.0) + size
        self._count[key] = self._count.get(key, 0) + 1
        if self._start is None:
            self._start = now
        self._dirty = True

    def expire(self, now: float) -> None:
        """Drop samples older than the window and pending matches older than ``dedupe_s``."""
        if now > self._now:
            self._now = now
        c = self.config
        horizon = now - c.window
        q = self._samples
        if q.first <= horizon:
            while q.first <= horizon:
                self._drop(q.popleft())
            if not q.n:
                self._start = None  # the next print starts a new span
            self._dirty = True
        horizon = now - c.dedupe_s
        for buf in (self._prints, self._fills):
            while buf and buf[0].t < horizon:
                buf.popleft()

    def _drop(self, row: tuple[float, float, float]) -> float:
        """Take a sample that left the window out of the per-depth sums; returns its time."""
        t, depth, size = row
        key = int(depth)
        n = self._count[key] - 1
        if n:
            self._count[key] = n
            self._size[key] -= size
        else:  # the last one at that depth: drop the key (and its float residue)
            del self._count[key], self._size[key]
        self._dirty = True
        return t

    def snapshot(self) -> IntensitySnapshot:
        c = self.config
        snap = self._snap
        if snap is not None and self._snap_config is c and (not self._dirty or self._now - self._fit_t < c.refit_s):
            return snap
        n = len(self._samples)
        keys = sorted(self._count, reverse=True)  # deepest first: cumulate N(δ ≥ d)
        m = len(keys)
        snap = IntensitySnapshot(None, None, n, m)
        if n >= c.min_samples and m >= 2:
            # the span the prints cover (not the clock: the fit changes only when the samples do)
            last = self._samples.last_t()
            span = max(min(c.window, last - (self._start if self._start is not None else last)), 1.0)
            # weighted least squares of y = ln(N/span) on x = depth, weights w = prints at ≥ depth, in
            # one pass over the sums (a dozen levels or so: this runs inside a strategy step)
            size, count = self._size, self._count
            cum_size, cum_count = 0.0, 0
            sw = swx = swy = swxx = swxy = 0.0
            log = math.log
            for key in keys:
                cum_size += size[key]
                cum_count += count[key]
                if cum_size > 0:
                    x = key * _HALF_PIP
                    y = log(cum_size / span)
                    sw += cum_count
                    swx += cum_count * x
                    swy += cum_count * y
                    swxx += cum_count * x * x
                    swxy += cum_count * x * y
            den = sw * swxx - swx * swx
            if sw > 0 and den > 0:
                slope = (sw * swxy - swx * swy) / den
                if slope < 0 and math.isfinite(slope):
                    intercept = (swy - slope * swx) / sw
                    snap = IntensitySnapshot(min(max(-slope, c.kappa_min), c.kappa_max), math.exp(intercept), n, m)
        self._snap, self._snap_config = snap, c
        self._dirty, self._fit_t = False, self._now
        return snap


class _Unmatched(msgspec.Struct, gc=False):
    """A recent print or fill of ``Intensity`` and its size not yet matched to the other kind. Mutable
    (``left`` shrinks as matches come), and untracked by the garbage collector: it holds numbers only
    (one per print: a list before, which every young collection walked)."""

    t: float
    price: int  # pips
    left: float  # shares


def _append(buf: deque[_Unmatched], entry: _Unmatched, cap: int) -> None:
    """``buf.append(entry)``, the oldest entries dropped first to keep at most ``cap``."""
    while len(buf) >= cap:
        buf.popleft()
    buf.append(entry)


def _consume(buf: deque[_Unmatched], price: int, size: float) -> float:
    """Take up to ``size`` from the unmatched entries of ``buf`` at ``price``; returns what is left."""
    for entry in buf:
        if size <= 0:
            break
        if entry.price == price and entry.left > 0:
            take = min(entry.left, size)
            entry.left -= take
            size -= take
    return size


# =====================================================================================  9. time of day


@dataclass(frozen=True, slots=True)
class HourConfig:
    widen_max: float = 1.0  # the hour's widening at most (1: learned and shown, not acted on)
    min_samples: int = 300  # mid changes seen in an hour of the day before its ratio counts


class HourProfile:
    """Volatility by hour of the day (UTC): the mean |Δmid| of each hour's book changes against the mean
    over every hour. ``widen = clip(hour mean / overall mean, 1, widen_max)`` once the hour has
    ``min_samples`` changes: the hours that move most (a sport's evening, an economic release) are
    quoted wider, the quiet ones as set. Learned while running: 24 sums and counts, O(1) a change."""

    __slots__ = ("_last", "_n", "_sum", "config")

    def __init__(self, config: HourConfig | None = None) -> None:
        self.config = config or HourConfig()
        self._sum = [0.0] * 24
        self._n = [0] * 24
        self._last: float | None = None

    def on_mid(self, now: float, mid: float | None) -> None:
        if mid is None:
            return
        if self._last is not None and mid != self._last:
            h = int(now // 3600) % 24
            self._sum[h] += abs(mid - self._last)
            self._n[h] += 1
        self._last = mid

    def ratio(self, now: float) -> float | None:
        """This hour's mean move over the all-hours mean (None until the hour has ``min_samples``)."""
        h = int(now // 3600) % 24
        n, total_n = self._n[h], sum(self._n)
        if n < self.config.min_samples or total_n <= 0:
            return None
        overall = sum(self._sum) / total_n
        return (self._sum[h] / n) / overall if overall > 0 else None

    def widen(self, now: float) -> float:
        r = self.ratio(now)
        return 1.0 if r is None else max(1.0, min(self.config.widen_max, r))


# =====================================================================================  signal set


@dataclass(frozen=True, slots=True)
class SignalsConfig:
    volatility: VolatilityConfig = field(default_factory=VolatilityConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    liquidity: LiquidityConfig = field(default_factory=LiquidityConfig)
    competitor: CompetitorConfig = field(default_factory=CompetitorConfig)
    parity: ParityConfig = field(default_factory=ParityConfig)
    markouts: MarkoutConfig = field(default_factory=MarkoutConfig)
    events: EventConfig = field(default_factory=EventConfig)
    intensity: IntensityConfig = field(default_factory=IntensityConfig)
    hours: HourConfig = field(default_factory=HourConfig)
    max_widen: float = 0.0  # the signals' combined spread multiplier at most (0: no cap)


class SignalsSnapshot(msgspec.Struct, frozen=True, gc=False):
    condition_id: str
    ts: float
    volatility: VolatilitySnapshot
    flow: FlowSnapshot
    liquidity: LiquiditySnapshot
    competitor: CompetitorSnapshot
    parity: ParitySnapshot
    markouts: MarkoutSnapshot
    events: EventSnapshot
    intensity: IntensitySnapshot = _NO_INTENSITY
    hour_widen: float = 1.0  # the time of day's multiplier (``HourProfile``)
    max_widen: float = 0.0  # the cap of ``widen`` (0: none)

    @property
    def widen(self) -> float:
        """Combined spread multiplier: the product of every signal's suggestion (≥ 1), at most ``max_widen``."""
        return self._capped(self._product() * max(1.0, self.volatility.regime))

    @property
    def widen_ex_volatility(self) -> float:
        """``widen`` without the volatility regime: for a model that applies J itself (PM4)."""
        return self._capped(self._product())

    def _product(self) -> float:
        return self.flow.widen * self.markouts.widen * self.events.widen * self.hour_widen * self.liquidity.widen

    def _capped(self, w: float) -> float:
        return min(w, self.max_widen) if self.max_widen >= 1.0 else w

    def widen_reasons(self, volatility: bool = True) -> str:
        """Which signals widen the spread and by how much (``flow x1.20, volume spike x2.00``), for the
        decision's reason on screen; ``volatility``: the regime counts (not for a model that applies it
        itself)."""
        ev = self.events
        regime = self.volatility.regime if volatility else 1.0
        parts = [(name, f) for name, f in (
            ("volatility regime", regime), ("flow", self.flow.widen), ("toxic flow", self.markouts.widen),
            (" and ".join(w for w, on in (("resolution near", ev.resolution_near), ("volume spike", ev.volume_spike))
                          if on) or "events", ev.widen),
            ("time of day", self.hour_widen)) if f > 1.0]
        if self.liquidity.widen != 1.0:  # the one factor that may also tighten (HIGH liquidity)
            parts.append((f"liquidity {self.liquidity.regime.value}", self.liquidity.widen))
        text = ", ".join(f"{name} x{f:.2f}" for name, f in parts)
        total = self._product() * max(1.0, regime)
        if self.max_widen >= 1.0 and total > self.max_widen:
            text += f" (capped at x{self.max_widen:.2f})"
        return text




class SignalSet:
    """One of each signal for one market.

    Feed it ``on_book(now, view)`` on every book change, ``on_trade(now, price_pips, size,
    taker_is_buy)`` on every print, ``on_fill(now, fill)`` on every fill of ours, ``on_quotes(bid,
    ask)`` when our resting quotes change, optionally ``on_token_books`` with each token's own top of
    book, and read ``snapshot(now)``.
    """

    def __init__(
        self, condition_id: str = "", config: SignalsConfig | None = None, end_time: float | None = None,
        start_time: float | None = None,
    ):
        self.condition_id = condition_id
        self.config = c = config or SignalsConfig()
        self.volatility = Volatility(c.volatility)
        self.flow = FlowImbalance(c.flow)
        self.liquidity = LiquidityRegime(c.liquidity)
        self.competitor = CompetitorDetector(c.competitor)
        self.parity = ParityArb(c.parity)
        self.markouts = Markouts(c.markouts)
        self.events = EventSignal(c.events, end_time, start_time)
        self.intensity = TradingIntensity(c.intensity)
        self.hours = HourProfile(c.hours)
        self.our_bid: int | None = None
        self.our_ask: int | None = None
        self._has_token_books = False
        self._now = 0.0
        self._snap: SignalsSnapshot | None = None  # the last snapshot, reused while nothing changed

    def on_quotes(self, our_bid: int | None, our_ask: int | None) -> None:
        self.our_bid, self.our_ask = our_bid, our_ask

    def on_book(self, now: float, view: BookView) -> None:
        self._now = max(self._now, now)
        mid = view.mid
        self.volatility.update(now, mid)
        self.hours.on_mid(now, mid)
        self.intensity.on_mid(mid)
        self.markouts.on_mid(now, mid)
        self.liquidity.update(view)
        self.events.on_book(now, view)
        self.competitor.update(now, self.our_bid, self.our_ask, view.best_bid, view.best_ask, view.tick.pips)
        if not self._has_token_books:
            self.parity.update(view.best_bid, view.best_ask)

    def on_token_books(
        self, now: float, yes_bid: int | None, yes_ask: int | None, no_bid: int | None, no_ask: int | None
    ) -> None:
        """Each token's own best bid/ask (NO in NO terms); from then on parity uses these."""
        self._now = max(self._now, now)
        self._has_token_books = True
        self.parity.update(yes_bid, yes_ask, no_bid, no_ask)

    def on_trade(self, now: float, price_pips: int, size: float, taker_is_buy: bool) -> None:
        self._now = max(self._now, now)
        self.flow.update(now, size, taker_is_buy)
        self.events.update(now, size)
        self.intensity.on_trade(now, price_pips, size)

    def on_fill(self, now: float, fill: Fill) -> None:
        self._now = max(self._now, now)
        self.markouts.on_fill(now, fill)
        self.intensity.on_fill(now, fill)

    def snapshot(self, now: float | None = None) -> SignalsSnapshot:
        """All signals as of ``now`` (default: the latest time fed); expires windows first."""
        if now is not None:
            self._now = max(self._now, now)
        t = self._now
        self.flow.expire(t)
        self.competitor.expire(t)
        self.markouts.advance(t)
        self.events.advance(t)
        self.intensity.expire(t)
        vol = self.volatility.snapshot()
        flow = self.flow.snapshot()
        liq = self.liquidity.snapshot()
        comp = self.competitor.snapshot()
        par = self.parity.snapshot()
        mk = self.markouts.snapshot()
        ev = self.events.snapshot()
        it = self.intensity.snapshot()
        hw = self.hours.widen(t) if self.config.hours.widen_max > 1.0 else 1.0
        last = self._snap
        if (
            last is not None
            and last.ts == t
            and last.hour_widen == hw
            and last.volatility is vol
            and last.flow is flow
            and last.liquidity is liq
            and last.competitor is comp
            and last.parity is par
            and last.markouts is mk
            and last.events is ev
            and last.intensity is it
            and last.condition_id is self.condition_id
        ):
            return last
        self._snap = snap = SignalsSnapshot(self.condition_id, t, vol, flow, liq, comp, par, mk, ev, it, hw,
                                         self.config.max_widen)
        return snap
