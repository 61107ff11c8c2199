"""The ``avellaneda`` model: Avellaneda–Stoikov (2008) quotes on a price bounded in [0, 1]
(``avellaneda_quotes``), in the paper's units — price units (USDC per share), shares and seconds.

Following the signals (``adaptive``), it takes the signals' whole spread multiplier (the volatility
regime included), ``T − t = min(horizon_s, end date − now)`` seconds, and κ from the signals'
trading-intensity fit of the market's prints and our fills (``kappa`` until the fit has enough data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from pydantic import Field

from ..model_state import ModelState
from ..order_book import BookView
from ..prices import PIPS_PER_UNIT
from ..quoting import Targets
from ..signals import SignalsSnapshot
from ..sizes import inventory
from .adaptive import SignalAwareModel
from .base import CommonParams, ModelFields, QuoteInputs, QuotingModel
from .shaping import check_model_params, fair_of, finish, guard


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
        check_model_params(self, ("gamma", "horizon", "fee_ticks", "size_mult"))
        if not self.kappa > 0:
            raise ValueError(f"kappa: must be > 0 (got {self.kappa!r})")


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



def avellaneda_quotes(
    view: BookView, position: Decimal, params: CommonParams, state: ModelState, model: AvellanedaParams
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
    guard_ = guard(view, params)
    if guard_ is not None:
        return guard_
    fair = fair_of(view, state)
    p = min(max(fair / PIPS_PER_UNIT, 0.0), 1.0)
    inv = inventory(position, params.size, params.position_limit)
    var_u = state.var / (PIPS_PER_UNIT * PIPS_PER_UNIT)  # pips²/s -> price units²/s
    v = horizon_variance(var_u, model.horizon, p)
    gamma = model.gamma
    q = float(position)
    r = fair - q * gamma * v * PIPS_PER_UNIT
    spread = as_spread(gamma, v, model.kappa)
    h = max(model.min_spread * PIPS_PER_UNIT / 2, spread * PIPS_PER_UNIT / 2 + model.fee_ticks * view.tick.pips)
    reason = (f"A-S r={r / PIPS_PER_UNIT:.4f} h={h / PIPS_PER_UNIT:.4f} sigma={math.sqrt(var_u):.5f}/s "
              f"T={model.horizon:.0f}s k={model.kappa:.0f}")
    return finish(view, inv, params, r - h, r + h, model.size_mult, fair, reason)


def horizon(horizon_s: float, end_time: float | None, now: float) -> float:
    """A–S ``T − t`` in seconds: ``horizon_s``, or the time to the market's end when closer (≥ 0)."""
    h = horizon_s
    if end_time is not None and end_time - now < h:
        h = max(end_time - now, 0.0)
    return h


class Avellaneda(SignalAwareModel):
    """``avellaneda_quotes`` with the horizon to the market's end and κ from the signals (module docstring)."""

    name = "avellaneda"

    def widen(self, signals: SignalsSnapshot) -> float:
        return signals.widen

    def quote_around(self, inputs: QuoteInputs, state: ModelState, min_spread: float) -> Targets:
        p = inputs.params
        assert isinstance(p, AvellanedaFields)  # MarketParams has every registered model's fields
        kappa = inputs.signals.intensity.kappa
        model = AvellanedaParams(p.gamma, horizon(p.horizon_s, inputs.end_time, inputs.now),
                                 p.kappa if kappa is None else kappa, p.fee_ticks, min_spread, p.size_mult)
        return avellaneda_quotes(inputs.view, inputs.position, p, state, model)


class AvellanedaFields(ModelFields):
    """``avellaneda``'s parameters (fields of ``MarketParams``), in the paper's units (a price is USDC
    per share):

    * ``gamma``: risk aversion γ per USDC with the inventory in shares;
    * ``horizon_s``: the time left ``T − t`` in seconds (the market's end date caps it when closer);
    * ``kappa``: the order-arrival decay κ per price unit (fills at the rate ``A·e^(−κδ)`` at ``δ``
      from the mid), used until the market's own prints give an estimate.
    """

    quoting_model: ClassVar[QuotingModel] = Avellaneda()

    # 0.03 per USDC is the former default (3 per position-limit of inventory, at the default limit of
    # 100 shares) re-expressed in the paper's units; the strategy bench chooses the real default
    gamma: float = Field(0.03, ge=0, le=100)
    # 60 s stands for the former horizon of 100 strategy steps (a step every ~0.6 s)
    horizon_s: float = Field(60.0, gt=0, le=2_592_000)
    kappa: float = Field(100.0, gt=0, le=100_000)
