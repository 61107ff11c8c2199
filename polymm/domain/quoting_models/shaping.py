"""The shaping every model's quotes go through: grid, non-crossing, range, layers, size taper, limits.

Units: prices are integer pips (1e-4) in YES terms; raw model prices are floats in pips; sizes are
``Decimal`` shares (``sizes``). Every model output is on the book's tick grid, inside
``[tick, 1 − tick]``, never crosses the book (bids < best ask, asks > best bid), has every bid below
every ask, never lets a fill take the position past ``±position_limit`` and never quotes the side that
adds to the inventory at the limit. A longer position never raises a bid or an ask (inventory skew is
monotone).

Building blocks: ``skew`` (linear inventory shift and size taper), ``layered`` (layers per side) and
``finish`` (both of them fused with ``cap_total``, on the memoised sizes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from ..market import Side
from ..model_state import ModelState
from ..order_book import BookView
from ..prices import MAX_PIPS, PIPS_PER_UNIT, Tick
from ..quoting import Quote, Targets
from ..sizes import Inventory, layer_sizes, memo, q_hat, side_plan, taper_sizes
from .base import CommonParams

_BUY, _SELL = Side.BUY, Side.SELL
_STEP_PIPS: dict[Decimal, int] = {}


def _step_pips(layer_step: Decimal) -> int:
    """``round(layer_step · 10⁴)``: the layer step in pips, memoised."""
    if type(layer_step) is not Decimal or not layer_step.is_finite():
        return round(layer_step * PIPS_PER_UNIT)
    pips = _STEP_PIPS.get(layer_step)
    if pips is None:
        pips = round(layer_step * PIPS_PER_UNIT)
        memo(_STEP_PIPS, layer_step, pips)
    return pips


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
    shift = q_hat(position, limit) * skew_ticks * tick.pips
    b, a = taper_sizes(position, size, limit)
    return Skewed(bid - shift, ask - shift, b, a)


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
        for i, s in enumerate(layer_sizes(base, size_mult, layers)):
            p = inner + sign * i * step
            if lo <= p <= hi and s > 0:
                out.append(Quote(side, p, s))
    return tuple(out)


def guard(view: BookView, params: CommonParams) -> Targets | None:
    """The empty targets of a disabled market or a one-sided book; None when the model may quote."""
    if not params.enabled:
        return Targets((), None, "disabled")
    if view.best_bid is None or view.best_ask is None:
        return Targets((), None, "book is one-sided")
    return None


def fair_of(view: BookView, state: ModelState) -> float:
    """The model's fair value: the state's EWMA, the view's microprice before the first update."""
    f = state.fair if state.fair is not None else view.microprice
    assert f is not None
    return f


class _Spread(Protocol):
    @property
    def min_spread(self) -> float: ...


def check_model_params(params: _Spread, non_negative: tuple[str, ...]) -> None:
    """``min_spread > 0`` and every name in ``non_negative`` ≥ 0; the message names the field."""
    if not params.min_spread > 0:
        raise ValueError(f"min_spread: must be > 0 (got {params.min_spread!r})")
    for name in non_negative:
        if not getattr(params, name) >= 0:
            raise ValueError(f"{name}: must be >= 0 (got {getattr(params, name)!r})")


def finish(
    view: BookView,
    inv: Inventory,
    params: CommonParams,
    bid_raw: float,
    ask_raw: float,
    size_mult: float,
    fair: float,
    reason: str,
) -> Targets:
    """Grid, non-crossing, range, layers, sizes and limits shared by the models.

    ``bid = floor_grid(min(⌊bid_raw⌋, best_ask − tick))``, ``ask = ceil_grid(max(⌈ask_raw⌉, best_bid + tick))``;
    a side outside ``[tick, 1 − tick]`` is not quoted. Sizes follow ``taper_sizes`` (``inv`` is
    ``sizes.inventory(position, params.size, params.position_limit)``) and each side's total is capped
    by the room to the limit: ``layered`` and ``cap_total`` fused, on the memoised sizes (the same
    quotes, built once)."""
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
        plan = side_plan(inv.bid_size, size_mult, layers, inv.bid_room)
        if bid <= hi:  # layer i is in range while bid − i·step ≥ lo: a prefix of the plan
            last = (bid - lo) // step
            for i, s in plan:
                if i > last:
                    break
                out.append(Quote(_BUY, bid - i * step, s))
        else:
            _side_quotes(out, _BUY, bid, -step, lo, hi, inv.bid_size, size_mult, layers, inv.bid_room)
    if ask <= hi:
        plan = side_plan(inv.ask_size, size_mult, layers, inv.ask_room)
        if ask >= lo:
            last = (hi - ask) // step
            for i, s in plan:
                if i > last:
                    break
                out.append(Quote(_SELL, ask + i * step, s))
        else:
            _side_quotes(out, _SELL, ask, step, lo, hi, inv.ask_size, size_mult, layers, inv.ask_room)
    return Targets(tuple(out), fair, reason + inv.notes if inv.notes else reason)


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
    for i, s in enumerate(layer_sizes(base, size_mult, layers)):
        p = inner + i * step
        if lo <= p <= hi and s > 0:
            if left <= 0:
                break
            if left < s:
                s = left
            out.append(Quote(side, p, s))
            left -= s
