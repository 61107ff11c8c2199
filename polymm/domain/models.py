"""Inventory-aware quoting models and their building blocks: pure functions and frozen dataclasses.

Units: prices are integer pips (1e-4) in YES terms, as in ``quoting``; the EWMA state keeps floats in
pips; model parameters (spreads, fees) are given in price units (``0.02`` = 2 cents) or ticks and are
converted here. Sizes are ``Decimal`` shares with at most 2 decimals, always rounded down.

Every model output is on the book's tick grid, inside ``[tick, 1 − tick]``, never crosses the book
(bids < best ask, asks > best bid), has every bid below every ask, never lets a fill take the position
past ``±position_limit`` and never quotes the side that adds to the inventory at the limit. A longer
position never raises a bid or an ask (inventory skew is monotone).

Building blocks:

* ``ModelState`` / ``update``: EWMA fair value (microprice), volatility and the fast/slow regime.
* ``avellaneda_quotes``: Avellaneda–Stoikov reservation price adapted to prices bounded in [0, 1].
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

from .market import Side
from .order_book import BookView, Level
from .params import MarketParams
from .prices import MAX_PIPS, PIPS_PER_UNIT, Tick
from .quoting import Quote, Targets

_CENT = Decimal("0.01")
_PIPS_PER_CENT = PIPS_PER_UNIT // 100


def _shares(x: Decimal | float) -> Decimal:
    """Round a size down to 0.01 shares (never up: a rounded order is never larger than intended)."""
    d = x if isinstance(x, Decimal) else Decimal(repr(float(x)))
    return max(d, Decimal(0)).quantize(_CENT, rounding=ROUND_DOWN)


def _q_hat(position: Decimal, limit: Decimal, bound: float = 1.0) -> float:
    """Normalised inventory ``q̂ = position / position_limit`` clipped to ``[−bound, bound]``."""
    q = float(position / limit)
    return min(max(q, -bound), bound)


# ================================================================= EWMA state


@dataclass(frozen=True, slots=True)
class EwmaParams:
    """Smoothing weights in (0, 1]: ``x ← (1 − α)·x + α·sample``; α = 1 keeps only the last sample.

    ``alpha_fair`` smooths the microprice, ``alpha_vol`` the squared mid changes (σ), ``alpha_fast`` and
    ``alpha_slow`` the absolute mid changes of the PM4 regime ``J``."""

    alpha_fair: float = 0.2
    alpha_vol: float = 0.05
    alpha_fast: float = 0.3
    alpha_slow: float = 0.02

    def __post_init__(self) -> None:
        for name in ("alpha_fair", "alpha_vol", "alpha_fast", "alpha_slow"):
            a = getattr(self, name)
            if not 0 < a <= 1:
                raise ValueError(f"{name}: must be in (0, 1] (got {a!r})")


@dataclass(frozen=True, slots=True)
class ModelState:
    """EWMA state of one market, in pips. Start from ``ModelState()``; advance with ``update``.

    * ``fair``: EWMA of the microprice (``None`` until the first two-sided book).
    * ``var``: EWMA of squared mid changes; ``sigma = √var`` is the per-update volatility in pips.
    * ``abs_fast`` / ``abs_slow``: fast and slow EWMAs of ``|Δmid|`` (the PM4 regime ``J``).
    * ``last_mid``: the mid of the last update; ``n``: number of two-sided updates seen.
    """

    fair: float | None = None
    last_mid: float | None = None
    var: float = 0.0
    abs_fast: float = 0.0
    abs_slow: float = 0.0
    n: int = 0

    @property
    def sigma(self) -> float:
        return math.sqrt(self.var)

    def regime(self, lo: float = 0.5, hi: float = 3.0) -> float:
        """``J = clip(abs_fast / abs_slow, lo, hi)``; 1 while the slow EWMA is still zero."""
        if self.abs_slow <= 0.0:
            return 1.0 if self.abs_fast <= 0.0 else hi
        return min(max(self.abs_fast / self.abs_slow, lo), hi)


def ewma(prev: float | None, sample: float, alpha: float) -> float:
    """``(1 − α)·prev + α·sample``; the first sample (``prev is None``) is taken as is."""
    return sample if prev is None else (1.0 - alpha) * prev + alpha * sample


def update(state: ModelState, view: BookView, ewma_params: EwmaParams = EwmaParams()) -> ModelState:
    """Advance the state with one book view (a one-sided book leaves it unchanged).

    ``fair ← EWMA(microprice)``; with ``d = mid − last_mid``: ``var ← EWMA(d²)``,
    ``abs_fast ← EWMA_fast(|d|)``, ``abs_slow ← EWMA_slow(|d|)``. The first view only seeds
    ``fair`` and ``last_mid``."""
    micro, mid = view.microprice, view.mid
    if micro is None or mid is None:
        return state
    e = ewma_params
    fair = ewma(state.fair, micro, e.alpha_fair)
    if state.last_mid is None:
        return ModelState(fair, mid, state.var, state.abs_fast, state.abs_slow, state.n + 1)
    d = mid - state.last_mid
    return ModelState(
        fair=fair,
        last_mid=mid,
        var=ewma(state.var, d * d, e.alpha_vol),
        abs_fast=ewma(state.abs_fast, abs(d), e.alpha_fast),
        abs_slow=ewma(state.abs_slow, abs(d), e.alpha_slow),
        n=state.n + 1,
    )


# ================================================================= inventory


def taper_sizes(position: Decimal, size: Decimal, limit: Decimal) -> tuple[Decimal, Decimal]:
    """Sizes ``(bid, ask)`` after the linear inventory taper.

    With ``q̂ = clip(position / limit, −1, 1)``: the side that adds to the inventory shrinks linearly,
    ``bid = size·(1 − max(q̂, 0))``, ``ask = size·(1 − max(−q̂, 0))``, and is further capped by the room
    left to the limit (``limit − position`` for bids, ``limit + position`` for asks), so at the limit the
    adding side is 0. The reducing side keeps the full size. Rounded down to 0.01."""
    q = _q_hat(position, limit)
    bid = min(_shares(size * Decimal(repr(1.0 - max(q, 0.0)))), _shares(limit - position))
    ask = min(_shares(size * Decimal(repr(1.0 - max(-q, 0.0)))), _shares(limit + position))
    return bid, ask


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
    out: list[Quote] = []
    for side, inner, base, sign in (
        (Side.BUY, inner_bid, size, -1),
        (Side.SELL, inner_ask, size if ask_size is None else ask_size, 1),
    ):
        if inner is None:
            continue
        for i in range(layers):
            p = inner + sign * i * step
            s = _shares(base * Decimal(repr(size_mult**i)))
            if tick.min_price <= p <= tick.max_price and s > 0:
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
        s = min(q.size, left)
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
    ``|price − target| ≤ tolerance_ticks·tick`` and age ``now − placed_at ≤ max_age_s``; among those
    the closest in price (then the oldest) is kept. Resting orders that satisfy no target are
    cancelled; targets that no order satisfies are placed. Targets are matched in order, so pass
    them best first."""
    tol = tolerance_ticks * tick.pips
    free = list(existing)
    to_place: list[Quote] = []
    for t in targets:
        best: LiveOrder | None = None
        for o in free:
            if (
                o.side is not t.side
                or o.size != t.size
                or abs(o.price - t.price) > tol
                or now - o.placed_at > max_age_s
            ):
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


@dataclass(frozen=True, slots=True)
class AvellanedaParams:
    """Avellaneda–Stoikov model parameters.

    * ``gamma``: risk aversion; ``horizon``: remaining horizon in updates (the ``T − t`` of A–S).
    * ``k_vol``: half-spread per unit of σ; ``fee_ticks``: extra half-spread in ticks.
    * ``min_spread``: minimum full width in price units (``0.02`` = 2 cents), > 0.
    * ``size_mult``: size multiplier per outer layer (layers and step come from ``MarketParams``).
    """

    gamma: float = 0.1
    horizon: float = 100.0
    k_vol: float = 1.5
    fee_ticks: float = 0.0
    min_spread: float = 0.02
    size_mult: float = 1.0

    def __post_init__(self) -> None:
        if not self.min_spread > 0:
            raise ValueError(f"min_spread: must be > 0 (got {self.min_spread!r})")
        for name in ("gamma", "horizon", "k_vol", "fee_ticks", "size_mult"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name}: must be >= 0 (got {getattr(self, name)!r})")


@dataclass(frozen=True, slots=True)
class PM4Params:
    """PM4 parameters: ``gamma_a`` is the exponent of the inventory spread multiplier; ``skew_ticks``
    the linear price shift at the limit; ``j_lo``/``j_hi`` clip the volatility regime. The base
    half-spread uses ``k_vol``, ``fee_ticks`` and ``min_spread`` as in ``AvellanedaParams``."""

    gamma_a: float = 1.0
    skew_ticks: float = 2.0
    k_vol: float = 1.5
    fee_ticks: float = 0.0
    min_spread: float = 0.02
    size_mult: float = 1.0
    j_lo: float = 0.5
    j_hi: float = 3.0

    def __post_init__(self) -> None:
        if not self.min_spread > 0:
            raise ValueError(f"min_spread: must be > 0 (got {self.min_spread!r})")
        for name in ("gamma_a", "skew_ticks", "k_vol", "fee_ticks", "size_mult"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name}: must be >= 0 (got {getattr(self, name)!r})")
        if not 0 < self.j_lo <= self.j_hi:
            raise ValueError(f"j_lo, j_hi: need 0 < j_lo <= j_hi (got {self.j_lo!r}, {self.j_hi!r})")


def base_half_spread(sigma: float, k_vol: float, fee_ticks: float, min_spread: float, tick: Tick) -> float:
    """``half = max(min_spread/2, k_vol·σ + fee_ticks·tick)`` in pips (σ in pips per update)."""
    return max(min_spread * PIPS_PER_UNIT / 2, k_vol * sigma + fee_ticks * tick.pips)


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
    assert view.best_bid is not None and view.best_ask is not None
    tick, t = view.tick, view.tick.pips
    bid = tick.floor(min(math.floor(bid_raw), view.best_ask - t))
    ask = tick.ceil(max(math.ceil(ask_raw), view.best_bid + t))
    notes = [reason]
    bid_size, ask_size = taper_sizes(position, params.size, params.position_limit)
    if position >= params.position_limit:
        notes.append("long limit: no bids")
    if position <= -params.position_limit:
        notes.append("short limit: no asks")
    quotes = layered(
        bid if bid >= tick.min_price else None,
        ask if ask <= tick.max_price else None,
        params.layers,
        round(params.layer_step * PIPS_PER_UNIT),
        bid_size,
        size_mult,
        tick,
        ask_size,
    )
    bids = cap_total([q for q in quotes if q.side is Side.BUY], params.position_limit - position)
    asks = cap_total([q for q in quotes if q.side is Side.SELL], params.position_limit + position)
    return Targets(bids + asks, fair, "; ".join(notes))


def _guard(view: BookView, params: MarketParams) -> Targets | None:
    if not params.enabled:
        return Targets((), None, "disabled")
    if view.best_bid is None or view.best_ask is None:
        return Targets((), None, "book is one-sided")
    return None


def avellaneda_quotes(
    view: BookView, position: Decimal, params: MarketParams, state: ModelState, model: AvellanedaParams
) -> Targets:
    """Avellaneda–Stoikov quotes adapted to a bounded price.

    * fair ``s`` = ``state.fair`` (EWMA of the microprice; the view's microprice before the first update);
      σ = ``state.sigma`` (RMS of mid changes per update, pips).
    * half-spread ``h = max(min_spread/2, k_vol·σ + fee_ticks·tick)``.
    * reservation ``r = s − q̂·γ·σ_u²·H·4p(1 − p)`` (in price units, then pips), with
      ``q̂ = clip(position/position_limit, −1, 1)``, ``σ_u = σ/10⁴``, ``p = clip(s/10⁴, 0, 1)``.

      Adaptation: A–S assumes an unbounded Brownian mid. A binary price lives in [0, 1] and its
      variance scales like ``p(1 − p)``, so the inventory term is scaled by ``4p(1 − p)`` (1 at p = ½,
      0 at the edges): near 0 or 1 there is little price risk left to skew against, and the skew cannot
      push the reservation price out of the unit interval. Using ``q̂`` instead of raw shares makes γ
      independent of the size of the limit.
    * ``bid = r − h`` rounded down, ``ask = r + h`` rounded up, then ``_finish`` (never crossing, range,
      layers from ``MarketParams``, size taper and limits).

    ``r`` is non-increasing in the position, so a longer position never raises a quote."""
    guard = _guard(view, params)
    if guard is not None:
        return guard
    fair = _fair(view, state)
    sigma = state.sigma
    p = min(max(fair / PIPS_PER_UNIT, 0.0), 1.0)
    q = _q_hat(position, params.position_limit)
    sigma_u = sigma / PIPS_PER_UNIT
    shift = q * model.gamma * sigma_u * sigma_u * model.horizon * 4.0 * p * (1.0 - p) * PIPS_PER_UNIT
    r = fair - shift
    h = base_half_spread(sigma, model.k_vol, model.fee_ticks, model.min_spread, view.tick)
    reason = f"A-S r={r / PIPS_PER_UNIT:.4f} h={h / PIPS_PER_UNIT:.4f} sigma={sigma_u:.5f}"
    return _finish(view, position, params, r - h, r + h, model.size_mult, fair, reason)


def pm4_quotes(view: BookView, position: Decimal, params: MarketParams, state: ModelState, model: PM4Params) -> Targets:
    """PM4: inventory- and regime-scaled spread around the EWMA fair value.

    * ``q̂ = clip(position/position_limit, −0.99, 0.99)``; inventory multiplier ``M = 1/(1 − |q̂|)^γa``.
    * regime ``J = clip(EWMA_fast(|Δmid|)/EWMA_slow(|Δmid|), j_lo, j_hi)`` (1 before any change).
    * base half ``h = max(min_spread/2, k_vol·σ + fee_ticks·tick)``; center ``c = fair − q̂·skew_ticks·tick``.
    * the side that adds to the inventory gets ``h·J·M``, the reducing side ``h·J``:
      long: ``bid = c − h·J·M``, ``ask = c + h·J``; short: ``bid = c − h·J``, ``ask = c + h·J·M``.

      Adaptation: widening both sides by ``M`` would raise the ask of a growing long position; applying
      ``M`` only to the adding side keeps every quote non-increasing in the position and still makes
      adding inventory ever more expensive as ``|q̂| → 1``.
    * then ``_finish`` (grid, never crossing, range, layers, size taper, limits)."""
    guard = _guard(view, params)
    if guard is not None:
        return guard
    fair = _fair(view, state)
    q = _q_hat(position, params.position_limit, 0.99)
    m = 1.0 / (1.0 - abs(q)) ** model.gamma_a
    j = state.regime(model.j_lo, model.j_hi)
    h = base_half_spread(state.sigma, model.k_vol, model.fee_ticks, model.min_spread, view.tick) * j
    c = fair - q * model.skew_ticks * view.tick.pips
    bid_half = h * m if q > 0 else h
    ask_half = h * m if q < 0 else h
    reason = f"PM4 c={c / PIPS_PER_UNIT:.4f} J={j:.2f} M={m:.2f}"
    return _finish(view, position, params, c - bid_half, c + ask_half, model.size_mult, fair, reason)


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
    bid: int | None, ask: int | None, mid: float, max_spread_cents: float, tick: Tick
) -> tuple[int | None, int | None]:
    """Pull the inner bid/ask into the reward band (strictly within ``max_spread_cents`` of ``mid``).

    ``lo`` = the lowest grid price ``> mid − v``, ``hi`` = the highest grid price ``< mid + v`` (v in pips).
    A bid below ``lo`` is raised to ``lo`` and an ask above ``hi`` lowered to ``hi``, but only when the new
    price stays strictly on its own side of the mid (bid < mid < ask); when the result would have
    bid ≥ ask both are returned unchanged. Quotes already inside the band are unchanged. The result is on
    the grid; the caller must still apply the book's non-crossing rule."""
    v = max_spread_cents * _PIPS_PER_CENT
    lo = tick.ceil(math.floor(mid - v) + 1)
    hi = tick.floor(math.ceil(mid + v) - 1)
    new_bid = lo if bid is not None and bid < lo and lo < mid else bid
    new_ask = hi if ask is not None and ask > hi and hi > mid else ask
    if new_bid is not None and new_ask is not None and new_bid >= new_ask:
        return bid, ask
    return new_bid, new_ask
