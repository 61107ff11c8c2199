"""Inventory-aware quoting models and their building blocks: pure functions and frozen dataclasses.

Units: prices are integer pips (1e-4) in YES terms, as in ``quoting``; the EWMA state keeps floats in
pips; model parameters (spreads, fees) are given in price units (``0.02`` = 2 cents) or ticks and are
converted here. Sizes are ``Decimal`` shares with at most 2 decimals, always rounded down. Time is in
seconds: the volatility is a variance per second and the Avellaneda–Stoikov horizon a number of seconds.

Every model output is on the book's tick grid, inside ``[tick, 1 − tick]``, never crosses the book
(bids < best ask, asks > best bid), has every bid below every ask, never lets a fill take the position
past ``±position_limit`` and never quotes the side that adds to the inventory at the limit. A longer
position never raises a bid or an ask (inventory skew is monotone).

Building blocks:

* ``ModelState`` / ``update``: EWMA fair value (microprice), variance per second and the fast/slow regime.
* ``avellaneda_quotes``: the Avellaneda–Stoikov (2008) reservation price and optimal spread, on a price
  bounded in [0, 1] (``as_spread``, ``horizon_variance``).
* ``pm4_quotes``: inventory spread multiplier ``1/(1 − |q̂|)^γa`` times a volatility regime ``J``.
* ``skew`` / ``taper_sizes``: linear inventory shift and size taper.
* ``layered`` / ``diff_orders``: layers per side and a queue-preserving order diff.
* ``parity_ok``: YES/NO quotes never lock in a loss.
* ``reward_score`` / ``adjusted_mid`` / ``clamp_to_rewards``: PROTOCOL §8 liquidity rewards.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import NamedTuple

from .market import Side
from .order_book import BookView, Level, slots_constructor
from .params import MarketParams
from .prices import MAX_PIPS, PIPS_PER_UNIT, Tick
from .quoting import Quote, Targets

_CENT = Decimal("0.01")
_ZERO = Decimal(0)
_PIPS_PER_CENT = PIPS_PER_UNIT // 100
_BUY, _SELL = Side.BUY, Side.SELL
_new_targets = slots_constructor(Targets)

# Memo tables of the size arithmetic. Every key and value is immutable and every result depends on the
# keys' values only (sizes are re-quantized to exponent −2), so a hit returns exactly what the Decimal
# computation would. Only keys of the documented types are memoised (an int or float equal to a Decimal
# would be the same dict key but may compute differently, or raise). Each table is cleared when it
# reaches ``_MEMO_MAX`` entries.
_MEMO_MAX = 4096
_FLOAT_DEC: dict[float, Decimal] = {}
_INVENTORY: dict[tuple[Decimal, Decimal, Decimal], _Inventory] = {}
_LAYER_SIZES: dict[tuple[Decimal, float, int], tuple[Decimal, ...]] = {}
_STEP_PIPS: dict[Decimal, int] = {}
_QUOTES: dict[tuple[Side, int, Decimal], Quote] = {}
_SIDE_PLAN: dict[tuple[Decimal, float, int, Decimal], tuple[tuple[int, Decimal], ...]] = {}


def _memo(table: dict, key: object, value: object) -> None:
    if len(table) >= _MEMO_MAX:
        table.clear()
    table[key] = value


def _float_decimal(x: float) -> Decimal:
    """``Decimal(repr(x))`` — the shortest decimal that reads back as ``x`` — memoised for floats.

    Zeros are not memoised (``0.0`` and ``-0.0`` are one dict key but two Decimals), nor are other
    types (an ``int`` equal to a float key may print differently)."""
    if type(x) is not float or not x:
        return Decimal(repr(x))
    d = _FLOAT_DEC.get(x)
    if d is None:
        d = Decimal(repr(x))
        _memo(_FLOAT_DEC, x, d)
    return d


def _shares(x: Decimal | float) -> Decimal:
    """Round a size down to 0.01 shares (never up: a rounded order is never larger than intended)."""
    d = x if isinstance(x, Decimal) else _float_decimal(float(x))
    return max(d, _ZERO).quantize(_CENT, rounding=ROUND_DOWN)


def _q_hat(position: Decimal, limit: Decimal, bound: float = 1.0) -> float:
    """Normalised inventory ``q̂ = position / position_limit`` clipped to ``[−bound, bound]``."""
    q = float(position / limit)
    return min(max(q, -bound), bound)


class _Inventory(NamedTuple):
    """Everything ``_finish`` needs from ``(position, size, limit)``, computed once per distinct triple."""

    q: float  # float(position / limit), unclipped
    bid_size: Decimal  # taper_sizes
    ask_size: Decimal
    bid_room: Decimal  # _shares(limit − position): what the bids may add up to
    ask_room: Decimal  # _shares(limit + position)
    notes: str  # "; long limit: no bids" / "; short limit: no asks" (both when limit ≤ 0)


def _inventory(position: Decimal, size: Decimal, limit: Decimal) -> _Inventory:
    memo = type(position) is Decimal and type(size) is Decimal and type(limit) is Decimal
    if memo:
        try:
            inv = _INVENTORY.get((position, size, limit))
        except TypeError:  # a signalling NaN cannot be hashed: compute (and raise) as the Decimal code does
            memo = False
        else:
            if inv is not None:
                return inv
    q = float(position / limit)
    qc = min(max(q, -1.0), 1.0)
    bid_room = _shares(limit - position)
    ask_room = _shares(limit + position)
    bid = min(_shares(size * _float_decimal(1.0 - max(qc, 0.0))), bid_room)
    ask = min(_shares(size * _float_decimal(1.0 - max(-qc, 0.0))), ask_room)
    notes = ""
    if position >= limit:
        notes += "; long limit: no bids"
    if position <= -limit:
        notes += "; short limit: no asks"
    inv = _Inventory(q, bid, ask, bid_room, ask_room, notes)
    if memo and size > 0:  # a zero size keeps its sign through the taper: do not share it between ±0
        _memo(_INVENTORY, (position, size, limit), inv)
    return inv


def _layer_sizes(base: Decimal, size_mult: float, layers: int) -> tuple[Decimal, ...]:
    """``_shares(base·size_mult^i)`` for ``i < layers`` (the sizes of ``layered``), memoised."""
    key = (base, size_mult, layers)
    memo = type(base) is Decimal and type(size_mult) is float and type(layers) is int
    if memo:
        try:
            sizes = _LAYER_SIZES.get(key)
        except TypeError:
            memo = False
        else:
            if sizes is not None:
                return sizes
    sizes = tuple(_shares(base * _float_decimal(size_mult**i)) for i in range(layers))
    if memo and sizes and size_mult == size_mult and base > 0:  # NaN never finds itself; ±0 print apart
        _memo(_LAYER_SIZES, key, sizes)
    return sizes


def _side_plan(base: Decimal, size_mult: float, layers: int, room: Decimal) -> tuple[tuple[int, Decimal], ...]:
    """One side's ``(layer index, size)`` pairs after ``layered`` and ``cap_total`` with every layer in
    the price range: layers of size 0 skipped, sizes capped to ``room`` (already ``_shares``) in
    order. Layers that fall outside the range are a suffix, so a prefix of the plan applies. Memoised."""
    key = (base, size_mult, layers, room)
    memo = type(base) is Decimal and type(size_mult) is float and type(layers) is int and type(room) is Decimal
    if memo:
        try:
            plan = _SIDE_PLAN.get(key)
        except TypeError:
            memo = False
        else:
            if plan is not None:
                return plan
    out: list[tuple[int, Decimal]] = []
    left = room
    for i, s in enumerate(_layer_sizes(base, size_mult, layers)):
        if s > 0:
            if left <= 0:
                break
            if left < s:
                s = left
            out.append((i, s))
            left -= s
    plan = tuple(out)
    if memo and size_mult == size_mult:
        _memo(_SIDE_PLAN, key, plan)
    return plan


def _quote(side: Side, price: int, size: Decimal) -> Quote:
    """``Quote(side, price, size)``, memoised: a Quote is immutable and compared by value, and a book
    keeps returning to the same few prices and sizes, so reusing one saves building it again."""
    key = (side, price, size)
    q = _QUOTES.get(key)
    if q is None:
        q = Quote(side, price, size)
        _memo(_QUOTES, key, q)
    return q


def _step_pips(layer_step: Decimal) -> int:
    """``round(layer_step · 10⁴)``: the layer step in pips, memoised."""
    if type(layer_step) is not Decimal or not layer_step.is_finite():
        return round(layer_step * PIPS_PER_UNIT)
    pips = _STEP_PIPS.get(layer_step)
    if pips is None:
        pips = round(layer_step * PIPS_PER_UNIT)
        _memo(_STEP_PIPS, layer_step, pips)
    return pips


# ================================================================= EWMA state


@dataclass(frozen=True, slots=True)
class EwmaParams:
    """Smoothing of the model state.

    Weights in (0, 1] per update, ``x ← (1 − α)·x + α·sample`` (α = 1 keeps only the last sample):
    ``alpha_fair`` smooths the microprice, ``alpha_fast`` and ``alpha_slow`` the absolute mid changes of
    the PM4 regime ``J``. The variance forgets in time, not in updates: ``vol_half_life`` seconds (the
    signals' volatility uses the same 60 s)."""

    alpha_fair: float = 0.2
    vol_half_life: float = 60.0
    alpha_fast: float = 0.3
    alpha_slow: float = 0.02

    def __post_init__(self) -> None:
        for name in ("alpha_fair", "alpha_fast", "alpha_slow"):
            a = getattr(self, name)
            if not 0 < a <= 1:
                raise ValueError(f"{name}: must be in (0, 1] (got {a!r})")
        if not self.vol_half_life > 0:
            raise ValueError(f"vol_half_life: must be > 0 seconds (got {self.vol_half_life!r})")


#: The PM4 original's clip of its volatility ratio J (``lambda_min`` / ``lambda_max``).
J_MIN, J_MAX = 0.8, 2.0


def regime_ratio(fast: float, slow: float, lo: float = J_MIN, hi: float = J_MAX) -> float:
    """``J = clip(fast / slow, lo, hi)``: 1 before any change, ``hi`` while only the fast EWMA moved."""
    if slow <= 0.0:
        return 1.0 if fast <= 0.0 else hi
    return min(max(fast / slow, lo), hi)


@dataclass(frozen=True, slots=True)
class ModelState:
    """EWMA state of one market, in pips and seconds. Start from ``ModelState()``; advance with ``update``.

    * ``fair``: EWMA of the microprice (``None`` until the first two-sided book).
    * ``var``: the mid's variance per second, pips²/s: ``sq / dt`` after each update (settable directly,
      e.g. by a simulation that knows σ); ``sigma = √var`` is σ over one second, pips.
    * ``sq`` / ``dt``: time-decayed sums of the squared mid changes and of the seconds they took.
    * ``abs_fast`` / ``abs_slow``: fast and slow EWMAs of ``|Δmid|`` (the PM4 regime ``J``).
    * ``last_mid`` / ``last_t``: the mid and time of the last sampled change; ``n``: two-sided updates seen.
    """

    fair: float | None = None
    last_mid: float | None = None
    var: float = 0.0
    abs_fast: float = 0.0
    abs_slow: float = 0.0
    n: int = 0
    last_t: float | None = None
    sq: float = 0.0
    dt: float = 0.0

    @property
    def sigma(self) -> float:
        return math.sqrt(self.var)

    def regime(self, lo: float = J_MIN, hi: float = J_MAX) -> float:
        """``J = clip(abs_fast / abs_slow, lo, hi)`` (``regime_ratio``)."""
        return regime_ratio(self.abs_fast, self.abs_slow, lo, hi)


_new_state = slots_constructor(ModelState)


def ewma(prev: float | None, sample: float, alpha: float) -> float:
    """``(1 − α)·prev + α·sample``; the first sample (``prev is None``) is taken as is."""
    return sample if prev is None else (1.0 - alpha) * prev + alpha * sample


def update(
    state: ModelState, view: BookView, ewma_params: EwmaParams = EwmaParams(), now: float | None = None
) -> ModelState:
    """Advance the state with one book view at ``now`` (seconds; default the view's own timestamp). A
    one-sided book leaves the state unchanged.

    ``fair ← EWMA(microprice)``. With ``d = mid − last_mid``, ``Δt = now − last_t`` > 0 and the decay
    ``w = 2^(−Δt / vol_half_life)``: ``sq ← w·sq + d²``, ``dt ← w·dt + Δt``, ``var = sq / dt`` (the
    realised variance per second of the last few half-lives), ``abs_fast ← EWMA_fast(|d|)``,
    ``abs_slow ← EWMA_slow(|d|)``. The first view only seeds ``fair``, ``last_mid`` and ``last_t``.

    Why realised variance over elapsed time, decayed in seconds, and not an average of ``d²/Δt`` per
    update: both estimate a random walk's variance per second, but with a memory counted in updates a
    burst of them milliseconds apart would take the estimate over (one tick in 1 ms reads as 10⁴ ticks²
    per second) and a quiet minute would count as one sample. A view at the same instant as the last
    sampled one (``Δt ≤ 0``) moves only the fair value: its change is counted by the next view with
    time elapsed, from the same reference mid, so it is not lost."""
    bb, ba = view.best_bid, view.best_ask
    if bb is None or ba is None:
        return state
    t = view.timestamp / 1000.0 if now is None else now
    # ``view.mid`` and ``view.microprice``, the same expressions inlined
    mid = (bb + ba) / 2
    total = view.bid_size + view.ask_size
    micro = mid if total <= 0 else (bb * view.ask_size + ba * view.bid_size) / total
    e = ewma_params
    prev = state.fair
    a = e.alpha_fair
    fair = micro if prev is None else (1.0 - a) * prev + a * micro
    last = state.last_mid
    last_t = state.last_t
    if last is None or last_t is None:
        return _new_state(fair, mid, state.var, state.abs_fast, state.abs_slow, state.n + 1, t, state.sq, state.dt)
    elapsed = t - last_t
    if elapsed <= 0.0:
        return _new_state(fair, last, state.var, state.abs_fast, state.abs_slow, state.n + 1, last_t, state.sq,
                          state.dt)
    d = mid - last
    ad = abs(d)
    b, c = e.alpha_fast, e.alpha_slow
    w = 2.0 ** (-elapsed / e.vol_half_life)
    sq = w * state.sq + d * d
    dt = w * state.dt + elapsed
    return _new_state(
        fair,
        mid,
        sq / dt,
        (1.0 - b) * state.abs_fast + b * ad,
        (1.0 - c) * state.abs_slow + c * ad,
        state.n + 1,
        t,
        sq,
        dt,
    )


# ================================================================= inventory


def taper_sizes(position: Decimal, size: Decimal, limit: Decimal) -> tuple[Decimal, Decimal]:
    """Sizes ``(bid, ask)`` after the linear inventory taper.

    With ``q̂ = clip(position / limit, −1, 1)``: the side that adds to the inventory shrinks linearly,
    ``bid = size·(1 − max(q̂, 0))``, ``ask = size·(1 − max(−q̂, 0))``, and is further capped by the room
    left to the limit (``limit − position`` for bids, ``limit + position`` for asks), so at the limit the
    adding side is 0. The reducing side keeps the full size. Rounded down to 0.01."""
    inv = _inventory(position, size, limit)
    return inv.bid_size, inv.ask_size


@dataclass(frozen=True, slots=True)
class Skewed:
    """Result of ``skew``: shifted prices (pips, possibly off the grid) and tapered sizes."""

    bid: float
    ask: float
    bid_size: Decimal
    ask_size: Decimal


def skew(
    bid: float, ask: float, position: Decimal, limit: Decimal, size: Decimal, skew_ticks: float, tick: Tick
) -> Skewed:
    """Shift both prices away from the inventory and taper the adding side's size.

    ``shift = q̂ · skew_ticks · tick`` with ``q̂ = clip(position / limit, −1, 1)``; both prices move by
    ``−shift`` (long → both lower: buy less eagerly, sell more eagerly). Sizes follow ``taper_sizes``.
    Rounding onto the grid is left to the caller (bids down, asks up)."""
    shift = _q_hat(position, limit) * skew_ticks * tick.pips
    b, a = taper_sizes(position, size, limit)
    return Skewed(bid - shift, ask - shift, b, a)


# ================================================================= layers and diff


def layered(
    inner_bid: int | None,
    inner_ask: int | None,
    layers: int,
    layer_step: int,
    size: Decimal,
    size_mult: float,
    tick: Tick,
    ask_size: Decimal | None = None,
) -> tuple[Quote, ...]:
    """``layers`` quotes per side: layer ``i`` (0 = inner) at ``inner_bid − i·step`` /
    ``inner_ask + i·step`` with size ``size·size_mult^i`` (rounded down to 0.01).

    ``step = max(ceil_to_grid(layer_step), tick)`` in pips; ``ask_size`` defaults to ``size``. A side
    whose inner price is ``None`` or whose size is 0 is skipped; layers outside ``[tick, 1 − tick]``
    are dropped. Bids come first, best first, then asks, best first."""
    step = max(tick.ceil(layer_step), tick.pips)
    lo, hi = tick.min_price, tick.max_price
    out: list[Quote] = []
    for side, inner, base, sign in (
        (_BUY, inner_bid, size, -1),
        (_SELL, inner_ask, size if ask_size is None else ask_size, 1),
    ):
        if inner is None:
            continue
        for i, s in enumerate(_layer_sizes(base, size_mult, layers)):
            p = inner + sign * i * step
            if lo <= p <= hi and s > 0:
                out.append(Quote(side, p, s))
    return tuple(out)


def cap_total(quotes: Sequence[Quote], room: Decimal) -> tuple[Quote, ...]:
    """Keep quotes (in order) while their cumulative size fits in ``room``; the first one that does
    not fit is cut to the remaining room (dropped when that is 0) and the rest are dropped."""
    out: list[Quote] = []
    left = _shares(room)
    for q in quotes:
        if left <= 0:
            break
        s = q.size
        if s <= left:  # min(q.size, left) is q.size: a Quote is immutable, keep it
            out.append(q if type(q) is Quote else Quote(q.side, q.price, s))
        else:
            s = left
            out.append(Quote(q.side, q.price, s))
        left -= s
    return tuple(out)


@dataclass(frozen=True, slots=True)
class LiveOrder:
    """One of our resting orders as ``diff_orders`` sees it (YES terms, pips, seconds)."""

    order_id: str
    side: Side
    price: int
    size: Decimal
    placed_at: float


def diff_orders(
    existing: Sequence[LiveOrder],
    targets: Sequence[Quote],
    tolerance_ticks: int,
    max_age_s: float,
    now: float,
    tick: Tick,
) -> tuple[tuple[LiveOrder, ...], tuple[Quote, ...]]:
    """``(to_cancel, to_place)`` turning ``existing`` into ``targets`` while keeping queue position.

    A target is satisfied by an unmatched resting order on the same side with the same size,
    ``|price − target| ≤ tolerance_ticks·tick`` and age ``now − placed_at ≤ max_age_s``. Exact-price
    matches are made first (for every target), then the remaining targets take the closest order
    within tolerance (then the oldest), in target order — so an order that sits exactly on one
    layer is never borrowed for a neighbouring layer, leaving its own target to be placed twice.
    Resting orders that satisfy no target are cancelled; targets that no order satisfies are placed."""
    tol = tolerance_ticks * tick.pips
    free = list(existing)
    fresh = {id(o) for o in free if now - o.placed_at <= max_age_s}
    matched: list[bool] = [False] * len(targets)
    for i, t in enumerate(targets):  # pass 1: exact price
        best: LiveOrder | None = None
        for o in free:
            if (o.side is t.side and o.price == t.price and o.size == t.size and id(o) in fresh
                    and (best is None or o.placed_at < best.placed_at)):
                best = o
        if best is not None:
            free.remove(best)
            matched[i] = True
    to_place: list[Quote] = []
    for i, t in enumerate(targets):  # pass 2: within tolerance
        if matched[i]:
            continue
        best = None
        if tol:
            for o in free:
                if o.side is not t.side or o.size != t.size or abs(o.price - t.price) > tol or id(o) not in fresh:
                    continue
                if best is None or (abs(o.price - t.price), o.placed_at) < (abs(best.price - t.price), best.placed_at):
                    best = o
        if best is None:
            to_place.append(t)
        else:
            free.remove(best)
    return tuple(free), tuple(to_place)


# ================================================================= parity


def parity_ok(yes_bid: int | None, yes_ask: int | None, no_bid: int | None, no_ask: int | None) -> bool:
    """Our quotes on the two outcomes never lock in a loss (pips; ``None`` = no quote on that side).

    Buying both YES and NO pays exactly 1 at resolution, so ``yes_bid + no_bid < 1``; selling both
    owes exactly 1, so ``yes_ask + no_ask > 1``. (Equality locks in zero before fees and rebates, a
    loss after taker fees, so it is rejected.)"""
    if yes_bid is not None and no_bid is not None and yes_bid + no_bid >= MAX_PIPS:
        return False
    return not (yes_ask is not None and no_ask is not None and yes_ask + no_ask <= MAX_PIPS)


# ================================================================= models


def _check_model_params(params: object, non_negative: tuple[str, ...]) -> None:
    """``min_spread > 0`` and every name in ``non_negative`` ≥ 0; the message names the field."""
    if not params.min_spread > 0:  # type: ignore[attr-defined]
        raise ValueError(f"min_spread: must be > 0 (got {params.min_spread!r})")  # type: ignore[attr-defined]
    for name in non_negative:
        if not getattr(params, name) >= 0:
            raise ValueError(f"{name}: must be >= 0 (got {getattr(params, name)!r})")


@dataclass(frozen=True, slots=True)
class AvellanedaParams:
    """Avellaneda–Stoikov model parameters, in the paper's own units (a Polymarket price is already
    USDC per share, so the paper's dollars are our price units with no scaling).

    * ``gamma``: risk aversion γ per USDC (the exponential utility's coefficient), inventory in shares.
    * ``horizon``: the time left, ``T − t``, in seconds (the caller caps it at the market's end).
    * ``kappa``: the order-arrival decay κ (the paper's k) per price unit: a quote ``δ`` from the mid
      is filled at the rate ``A·e^(−κδ)``.
    * ``fee_ticks``: extra half-spread in ticks; ``min_spread``: minimum full width in price units, > 0.
    * ``size_mult``: size multiplier per outer layer (layers and step come from ``MarketParams``).
    """

    gamma: float = 0.03
    horizon: float = 60.0
    kappa: float = 100.0
    fee_ticks: float = 0.0
    min_spread: float = 0.02
    size_mult: float = 1.0

    def __post_init__(self) -> None:
        _check_model_params(self, ("gamma", "horizon", "fee_ticks", "size_mult"))
        if not self.kappa > 0:
            raise ValueError(f"kappa: must be > 0 (got {self.kappa!r})")


@dataclass(frozen=True, slots=True)
class PM4Params:
    """PM4 parameters: ``gamma_a`` is the exponent of the inventory spread multiplier; ``skew_ticks``
    the linear price shift at the limit; ``j_lo``/``j_hi`` clip the volatility regime (the original's
    0.8 / 2.0). The base half-spread uses ``k_vol``, ``fee_ticks`` and ``min_spread`` (``base_half_spread``)."""

    gamma_a: float = 1.0
    skew_ticks: float = 2.0
    k_vol: float = 1.5
    fee_ticks: float = 0.0
    min_spread: float = 0.02
    size_mult: float = 1.0
    j_lo: float = J_MIN
    j_hi: float = J_MAX

    def __post_init__(self) -> None:
        _check_model_params(self, ("gamma_a", "skew_ticks", "k_vol", "fee_ticks", "size_mult"))
        if not 0 < self.j_lo <= self.j_hi:
            raise ValueError(f"j_lo, j_hi: need 0 < j_lo <= j_hi (got {self.j_lo!r}, {self.j_hi!r})")


def base_half_spread(sigma: float, k_vol: float, fee_ticks: float, min_spread: float, tick: Tick) -> float:
    """``half = max(min_spread/2, k_vol·σ + fee_ticks·tick)`` in pips (σ over one second, pips)."""
    return max(min_spread * PIPS_PER_UNIT / 2, k_vol * sigma + fee_ticks * tick.pips)


def horizon_variance(var_per_s: float, horizon_s: float, p: float) -> float:
    """The price's variance over the horizon, ``V = min(σ²·(T − t), p(1 − p))`` (price units²).

    A–S assumes a Brownian mid, whose variance grows without bound with the horizon. A binary price is
    a martingale in [0, 1]: whatever the horizon, ``Var(S_T) = E[S_T²] − p² ≤ p − p² = p(1 − p)``, with
    equality at resolution. σ² (per second) is estimated from the recent mid changes, so it already
    carries the price level's own scale; only the horizon's growth needs the bound."""
    v = var_per_s * horizon_s
    cap = p * (1.0 - p)
    return v if v < cap else cap


def as_spread(gamma: float, variance: float, kappa: float) -> float:
    """The A–S optimal full spread ``δa + δb = γ·V + (2/γ)·ln(1 + γ/κ)`` with ``V = σ²(T − t)``.

    γ → 0 has the finite limit ``2/κ`` (the risk-neutral maker's spread), taken at γ = 0."""
    if gamma <= 0.0:
        return 2.0 / kappa
    return gamma * variance + 2.0 / gamma * math.log1p(gamma / kappa)


def _fair(view: BookView, state: ModelState) -> float:
    f = state.fair if state.fair is not None else view.microprice
    assert f is not None
    return f


def _finish(
    view: BookView,
    position: Decimal,
    params: MarketParams,
    bid_raw: float,
    ask_raw: float,
    size_mult: float,
    fair: float,
    reason: str,
) -> Targets:
    """Grid, non-crossing, range, layers, sizes and limits shared by the models.

    ``bid = floor_grid(min(⌊bid_raw⌋, best_ask − tick))``, ``ask = ceil_grid(max(⌈ask_raw⌉, best_bid + tick))``;
    a side outside ``[tick, 1 − tick]`` is not quoted. Sizes follow ``taper_sizes`` and each side's total
    is capped by the room to the limit (``cap_total``)."""
    return _finish_inv(
        view,
        _inventory(position, params.size, params.position_limit),
        params,
        bid_raw,
        ask_raw,
        size_mult,
        fair,
        reason,
    )


def _finish_inv(
    view: BookView,
    inv: _Inventory,
    params: MarketParams,
    bid_raw: float,
    ask_raw: float,
    size_mult: float,
    fair: float,
    reason: str,
) -> Targets:
    """``_finish`` with the inventory figures already at hand: ``layered`` and ``cap_total`` fused, on
    the memoised sizes (the same quotes, built once)."""
    best_bid, best_ask = view.best_bid, view.best_ask
    assert best_bid is not None and best_ask is not None
    tick = view.tick
    t = tick.pips
    bid = min(math.floor(bid_raw), best_ask - t)
    bid -= bid % t  # tick.floor
    ask = max(math.ceil(ask_raw), best_bid + t)
    r = ask % t
    if r:  # tick.ceil
        ask += t - r
    lo, hi = t, MAX_PIPS - t  # tick.min_price, tick.max_price
    layers = params.layers
    step = max(tick.ceil(_step_pips(params.layer_step)), t)
    out: list[Quote] = []
    if bid >= lo:
        plan = _side_plan(inv.bid_size, size_mult, layers, inv.bid_room)
        if bid <= hi:  # layer i is in range while bid − i·step ≥ lo: a prefix of the plan
            last = (bid - lo) // step
            for i, s in plan:
                if i > last:
                    break
                out.append(_quote(_BUY, bid - i * step, s))
        else:
            _side_quotes(out, _BUY, bid, -step, lo, hi, inv.bid_size, size_mult, layers, inv.bid_room)
    if ask <= hi:
        plan = _side_plan(inv.ask_size, size_mult, layers, inv.ask_room)
        if ask >= lo:
            last = (hi - ask) // step
            for i, s in plan:
                if i > last:
                    break
                out.append(_quote(_SELL, ask + i * step, s))
        else:
            _side_quotes(out, _SELL, ask, step, lo, hi, inv.ask_size, size_mult, layers, inv.ask_room)
    return _new_targets(tuple(out), fair, reason + inv.notes if inv.notes else reason)


def _side_quotes(
    out: list[Quote],
    side: Side,
    inner: int,
    step: int,
    lo: int,
    hi: int,
    base: Decimal,
    size_mult: float,
    layers: int,
    room: Decimal,
) -> None:
    """``cap_total`` of one side of ``layered`` (layer ``i`` at ``inner + i·step``), appended to ``out``."""
    left = room
    for i, s in enumerate(_layer_sizes(base, size_mult, layers)):
        p = inner + i * step
        if lo <= p <= hi and s > 0:
            if left <= 0:
                break
            if left < s:
                s = left
            out.append(Quote(side, p, s))
            left -= s


def _guard(view: BookView, params: MarketParams) -> Targets | None:
    if not params.enabled:
        return Targets((), None, "disabled")
    if view.best_bid is None or view.best_ask is None:
        return Targets((), None, "book is one-sided")
    return None


def avellaneda_quotes(
    view: BookView, position: Decimal, params: MarketParams, state: ModelState, model: AvellanedaParams
) -> Targets:
    """Avellaneda–Stoikov (2008) quotes on a price bounded in [0, 1].

    In price units (USDC per share), shares and seconds — the paper's units:

    * ``s`` = ``state.fair`` (EWMA of the microprice; the view's microprice before the first update),
      ``p = clip(s, 0, 1)``; ``σ²`` = ``state.var`` (per second); ``τ = model.horizon`` (seconds left).
    * ``V = min(σ²·τ, p(1 − p))`` (``horizon_variance``: a binary price cannot vary more than that).
    * reservation price ``r = s − q·γ·V`` with ``q`` the position in shares (not clipped: past the limit
      the skew keeps growing) and γ per USDC.
    * half-spread ``h = max(min_spread/2, (γ·V + (2/γ)·ln(1 + γ/κ))/2 + fee_ticks·tick)`` (``as_spread``).
    * ``bid = r − h`` rounded down, ``ask = r + h`` rounded up, then ``_finish`` (never crossing, range,
      layers from ``MarketParams``, size taper and limits).

    Both quotes move with ``r``: the inventory shifts the reservation price, not one side. ``r`` is
    non-increasing in the position, so a longer position never raises a quote."""
    guard = _guard(view, params)
    if guard is not None:
        return guard
    fair = _fair(view, state)
    p = min(max(fair / PIPS_PER_UNIT, 0.0), 1.0)
    inv = _inventory(position, params.size, params.position_limit)
    var_u = state.var / (PIPS_PER_UNIT * PIPS_PER_UNIT)  # pips²/s -> price units²/s
    v = horizon_variance(var_u, model.horizon, p)
    gamma = model.gamma
    q = float(position)
    r = fair - q * gamma * v * PIPS_PER_UNIT
    spread = as_spread(gamma, v, model.kappa)
    h = max(model.min_spread * PIPS_PER_UNIT / 2, spread * PIPS_PER_UNIT / 2 + model.fee_ticks * view.tick.pips)
    reason = (f"A-S r={r / PIPS_PER_UNIT:.4f} h={h / PIPS_PER_UNIT:.4f} sigma={math.sqrt(var_u):.5f}/s "
              f"T={model.horizon:.0f}s k={model.kappa:.0f}")
    return _finish_inv(view, inv, params, r - h, r + h, model.size_mult, fair, reason)


def pm4_quotes(
    view: BookView,
    position: Decimal,
    params: MarketParams,
    state: ModelState,
    model: PM4Params,
    regime: float | None = None,
) -> Targets:
    """PM4: inventory- and regime-scaled spread around the EWMA fair value.

    * ``q̂ = clip(position/position_limit, −0.99, 0.99)``; inventory multiplier ``M = 1/(1 − |q̂|)^γa``.
    * regime ``J``: ``regime`` when given (the strategy passes the signals' time-aware one), else
      ``clip(EWMA_fast(|Δmid|)/EWMA_slow(|Δmid|), j_lo, j_hi)`` from the state (1 before any change).
      J is applied here only: the caller must not widen by it again.
    * base half ``b = max(min_spread/2, k_vol·σ + fee_ticks·tick)`` (σ over one second), scaled by the
      regime: ``h = max(min_spread/2, b·J)`` — a calm regime (J < 1) narrows the spread down to the
      operator's minimum width, never below it; center ``c = fair − q̂·skew_ticks·tick``.
    * the side that adds to the inventory gets ``h·M``, the reducing side ``h``:
      long: ``bid = c − h·M``, ``ask = c + h``; short: ``bid = c − h``, ``ask = c + h·M``.

      Adaptation: widening both sides by ``M`` would raise the ask of a growing long position; applying
      ``M`` only to the adding side keeps every quote non-increasing in the position and still makes
      adding inventory ever more expensive as ``|q̂| → 1``.
    * then ``_finish`` (grid, never crossing, range, layers, size taper, limits)."""
    guard = _guard(view, params)
    if guard is not None:
        return guard
    fair = _fair(view, state)
    inv = _inventory(position, params.size, params.position_limit)
    q = min(max(inv.q, -0.99), 0.99)  # _q_hat(position, position_limit, 0.99)
    m = 1.0 / (1.0 - abs(q)) ** model.gamma_a
    j = state.regime(model.j_lo, model.j_hi) if regime is None else min(max(regime, model.j_lo), model.j_hi)
    floor = model.min_spread * PIPS_PER_UNIT / 2
    h = max(floor, base_half_spread(state.sigma, model.k_vol, model.fee_ticks, model.min_spread, view.tick) * j)
    c = fair - q * model.skew_ticks * view.tick.pips
    bid_half = h * m if q > 0 else h
    ask_half = h * m if q < 0 else h
    reason = f"PM4 c={c / PIPS_PER_UNIT:.4f} J={j:.2f} M={m:.2f}"
    return _finish_inv(view, inv, params, c - bid_half, c + ask_half, model.size_mult, fair, reason)


# ================================================================= rewards


@dataclass(frozen=True, slots=True)
class RewardScore:
    """PROTOCOL §8: ``q_one`` (bid-side liquidity), ``q_two`` (ask-side) and ``q_min``."""

    q_one: float
    q_two: float
    q_min: float


def order_score(price: int, size: float, mid: float, max_spread_cents: float, min_size: float, b: float = 1.0) -> float:
    """``S(v, s)·size`` with ``S = ((v − s)/v)²·b``, ``s = |price − mid|`` in cents; 0 when
    ``s ≥ v`` or ``size < min_size``."""
    s = abs(price - mid) / _PIPS_PER_CENT
    v = max_spread_cents
    if v <= 0 or s >= v or size < min_size:
        return 0.0
    return ((v - s) / v) ** 2 * b * size


def reward_score(
    levels_bids: Sequence[tuple[int, float]],
    levels_asks: Sequence[tuple[int, float]],
    mid: float,
    max_spread_cents: float,
    min_size: float,
    b: float = 1.0,
) -> RewardScore:
    """Our liquidity-reward score for one sample (PROTOCOL §8), all in YES terms (pips, shares).

    ``levels_bids`` are our YES bids plus our NO asks mirrored to YES bids (a NO ask at q is a YES bid
    at 1 − q), so ``Q_one = Σ S·size`` over them; ``levels_asks`` likewise give ``Q_two``. ``mid`` is the
    size-cutoff-adjusted mid (``adjusted_mid``). With ``c = 3``: for mid in [0.10, 0.90]
    ``Q_min = max(min(Q_one, Q_two), max(Q_one/c, Q_two/c))`` (single-sided liquidity scores at a third),
    otherwise ``Q_min = min(Q_one, Q_two)`` (two-sided required)."""
    q_one = sum(order_score(p, s, mid, max_spread_cents, min_size, b) for p, s in levels_bids)
    q_two = sum(order_score(p, s, mid, max_spread_cents, min_size, b) for p, s in levels_asks)
    if 1000 <= mid <= 9000:
        c = 3.0
        q_min = max(min(q_one, q_two), max(q_one / c, q_two / c))
    else:
        q_min = min(q_one, q_two)
    return RewardScore(q_one, q_two, q_min)


def adjusted_mid(bids: Sequence[Level], asks: Sequence[Level], min_size: float) -> float | None:
    """The size-cutoff-adjusted mid: the mid of the best bid and best ask levels (best first) whose
    size is at least ``min_size``; ``None`` when a side has no such level."""
    b = next((lv.price for lv in bids if lv.size >= min_size), None)
    a = next((lv.price for lv in asks if lv.size >= min_size), None)
    return None if b is None or a is None else (b + a) / 2


def clamp_to_rewards(
    bid: int | None, ask: int | None, mid: float, max_spread_cents: float, tick: Tick, inventory: float = 0.0
) -> tuple[int | None, int | None]:
    """Pull the inner bid/ask into the reward band (strictly within ``max_spread_cents`` of ``mid``).

    ``lo`` = the lowest grid price ``> mid − v``, ``hi`` = the highest grid price ``< mid + v`` (v in pips).
    A bid below ``lo`` is raised to ``lo`` and an ask above ``hi`` lowered to ``hi``, but only when the new
    price stays strictly on its own side of the mid (bid < mid < ask); when the result would have
    bid ≥ ask both are returned unchanged. Quotes already inside the band are unchanged. The result is on
    the grid; the caller must still apply the book's non-crossing rule.

    ``inventory`` (shares, YES) picks the sides that may move: long (> 0) only the ask, short (< 0)
    only the bid, flat both. The side that would add to the inventory stays where the model's skew put
    it: pulling it in would undo the skew (a stronger skew would narrow the spread instead of moving it),
    and pay the reward for taking on more of the risk the skew is shedding."""
    v = max_spread_cents * _PIPS_PER_CENT
    lo = tick.ceil(math.floor(mid - v) + 1)
    hi = tick.floor(math.ceil(mid + v) - 1)
    new_bid = lo if bid is not None and bid < lo and lo < mid and inventory <= 0 else bid
    new_ask = hi if ask is not None and ask > hi and hi > mid and inventory >= 0 else ask
    if new_bid is not None and new_ask is not None and new_bid >= new_ask:
        return bid, ask
    return new_bid, new_ask
