"""The ``pm4`` model: an inventory- and regime-scaled spread around the EWMA fair value (``pm4_quotes``).

Following the signals (``adaptive``), it takes the signals' spread multiplier without the volatility
regime — PM4 applies J itself, once — and J from the signals' time-aware fast/slow EWMAs, clipped to
``[j_min, j_max]``.

PM4's ``c_risk`` ("risk coefficient") and ``kappa0`` ("liquidity scaling base") appear in its
configuration with no formula in its documents; polymm reads them as a liquidity risk premium on the
base half-spread (``liquidity_premium``): ``c_risk / κ`` in price units, with the book's liquidity
``κ = kappa0 · depth/size`` — how many of our inner quotes the thinner side's top levels hold. A
thin book is quoted wider, a deep one barely. ``c_risk`` 0 (polymm's default) turns it off.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from pydantic import Field

from ..model_state import J_MAX, J_MIN, ModelState, regime_ratio
from ..order_book import BookView
from ..prices import PIPS_PER_UNIT, Tick
from ..quoting import Targets
from ..signals import SignalsSnapshot
from ..sizes import inventory
from .adaptive import SignalAwareModel
from .base import CommonParams, EditorField, ModelFields, QuoteInputs, QuotingModel
from .shaping import check_model_params, fair_of, finish, guard


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
    c_risk: float = 0.0  # the liquidity risk premium's coefficient, price units (``liquidity_premium``)
    kappa0: float = 1.0  # the liquidity scaling base

    def __post_init__(self) -> None:
        check_model_params(self, ("gamma_a", "skew_ticks", "k_vol", "fee_ticks", "size_mult", "c_risk"))
        if not 0 < self.j_lo <= self.j_hi:
            raise ValueError(f"j_lo, j_hi: need 0 < j_lo <= j_hi (got {self.j_lo!r}, {self.j_hi!r})")
        if not self.kappa0 > 0:
            raise ValueError(f"kappa0: must be > 0 (got {self.kappa0!r})")


def base_half_spread(sigma: float, k_vol: float, fee_ticks: float, min_spread: float, tick: Tick) -> float:
    """``half = max(min_spread/2, k_vol·σ + fee_ticks·tick)`` in pips (σ over one second, pips)."""
    return max(min_spread * PIPS_PER_UNIT / 2, k_vol * sigma + fee_ticks * tick.pips)


#: the book's liquidity in inner quotes is clipped to this range: an empty side does not make the
#: premium infinite (at most 4 × c_risk / kappa0), nor a huge book make it vanish below 1/100 of it
LIQUIDITY_RANGE = (0.25, 100.0)


def liquidity_premium(c_risk: float, kappa0: float, depth: float | None, size: float) -> float:
    """PM4's ``c_risk / κ`` in pips, ``κ = kappa0 · clip(depth/size, 0.25, 100)``: ``depth`` the thinner
    side's top-level depth in shares (the liquidity signal; None: unknown, taken as one quote's worth),
    ``size`` our inner quote's size in shares. 0 when ``c_risk`` is 0."""
    if c_risk <= 0:
        return 0.0
    lo, hi = LIQUIDITY_RANGE
    ratio = 1.0 if depth is None or size <= 0 else min(max(depth / size, lo), hi)
    return c_risk * PIPS_PER_UNIT / (kappa0 * ratio)



def pm4_quotes(
    view: BookView,
    position: Decimal,
    params: CommonParams,
    state: ModelState,
    model: PM4Params,
    regime: float | None = None,
    depth: float | None = None,
) -> Targets:
    """PM4: inventory- and regime-scaled spread around the EWMA fair value.

    * ``q̂ = clip(position/position_limit, −0.99, 0.99)``; inventory multiplier ``M = 1/(1 − |q̂|)^γa``.
    * regime ``J``: ``regime`` when given (the strategy passes the signals' time-aware one), else
      ``clip(EWMA_fast(|Δmid|)/EWMA_slow(|Δmid|), j_lo, j_hi)`` from the state (1 before any change).
      J is applied here only: the caller must not widen by it again.
    * base half ``b = max(min_spread/2, k_vol·σ + fee_ticks·tick) + c_risk/κ`` (σ over one second; the
      liquidity premium ``liquidity_premium`` of the thinner side's ``depth``), scaled by the regime:
      ``h = max(min_spread/2, b·J)`` — a calm regime (J < 1) narrows the spread down to the operator's
      minimum width, never below it; center ``c = fair − q̂·skew_ticks·tick``.
    * the side that adds to the inventory gets ``h·M``, the reducing side ``h``:
      long: ``bid = c − h·M``, ``ask = c + h``; short: ``bid = c − h``, ``ask = c + h·M``.

      Adaptation: widening both sides by ``M`` would raise the ask of a growing long position; applying
      ``M`` only to the adding side keeps every quote non-increasing in the position and still makes
      adding inventory ever more expensive as ``|q̂| → 1``.
    * then ``_finish`` (grid, never crossing, range, layers, size taper, limits)."""
    guard_ = guard(view, params)
    if guard_ is not None:
        return guard_
    fair = fair_of(view, state)
    inv = inventory(position, params.size, params.position_limit)
    q = min(max(inv.q, -0.99), 0.99)  # sizes.q_hat(position, position_limit, 0.99)
    m = 1.0 / (1.0 - abs(q)) ** model.gamma_a
    j = state.regime(model.j_lo, model.j_hi) if regime is None else min(max(regime, model.j_lo), model.j_hi)
    floor = model.min_spread * PIPS_PER_UNIT / 2
    premium = liquidity_premium(model.c_risk, model.kappa0, depth, float(params.size))
    h = max(floor, (base_half_spread(state.sigma, model.k_vol, model.fee_ticks, model.min_spread, view.tick)
                    + premium) * j)
    c = fair - q * model.skew_ticks * view.tick.pips
    bid_half = h * m if q > 0 else h
    ask_half = h * m if q < 0 else h
    reason = f"PM4 c={c / PIPS_PER_UNIT:.4f} J={j:.2f} M={m:.2f}"
    if premium:
        reason += f" liquidity +{premium / PIPS_PER_UNIT:.4f}"
    return finish(view, inv, params, c - bid_half, c + ask_half, model.size_mult, fair, reason)


class PM4(SignalAwareModel):
    """``pm4_quotes`` with J from the signals (module docstring)."""

    name = "pm4"
    editor_fields = (EditorField("skew_ticks", "Skew ticks", "pm4 price shift at the limit"),)

    def widen(self, signals: SignalsSnapshot) -> float:
        # PM4's spread is scaled by J in the model: widening by the signals' J too would apply it twice
        return signals.widen_ex_volatility

    def quote_around(self, inputs: QuoteInputs, state: ModelState, min_spread: float) -> Targets:
        p = inputs.params
        assert isinstance(p, PM4Fields)  # MarketParams has every registered model's fields
        model = PM4Params(p.gamma_a, p.skew_ticks, p.k_vol, p.fee_ticks, min_spread, p.size_mult, p.j_min, p.j_max,
                          p.c_risk, p.kappa0)
        v = inputs.signals.volatility
        j = regime_ratio(v.fast_abs, v.slow_abs, p.j_min, p.j_max)
        return pm4_quotes(inputs.view, inputs.position, p, state, model, j, inputs.signals.liquidity.depth)


class PM4Fields(ModelFields):
    """``pm4``'s parameters (fields of ``MarketParams``): ``k_vol`` (half-spread per σ over one second),
    ``skew_ticks`` (price shift at the limit), ``gamma_a`` (exponent of the inventory spread multiplier
    ``1/(1 − |q̂|)^γa``), ``j_min`` / ``j_max`` (clip of the volatility ratio J, the original's 0.8 / 2.0),
    ``c_risk`` / ``kappa0`` (the liquidity risk premium ``c_risk/κ``, ``κ = kappa0 · depth/size``; PM4's
    example 0.06 / 1.0, polymm's default 0: off)."""

    quoting_model: ClassVar[QuotingModel] = PM4()

    k_vol: float = Field(4.0, ge=0, le=50)
    skew_ticks: float = Field(12.0, ge=0, le=100)
    gamma_a: float = Field(1.0, ge=0, le=10)
    # J = 1 is "no change of regime": a clip that excludes it would scale every quote for good
    j_min: float = Field(0.8, gt=0, le=1)
    j_max: float = Field(2.0, ge=1, le=10)
    c_risk: float = Field(0.0, ge=0, le=1)
    kappa0: float = Field(1.0, gt=0, le=1000)
