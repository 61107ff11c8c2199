"""The ``fixed`` model: the operator's spread around the mid — the skeleton's baseline, deliberately
signal-blind. It holds its resting quotes until something moves (``requote.plan_orders``) and keeps
its spread exactly where the market pays liquidity rewards (the score is only estimated). It has no
parameters of its own.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from ..market import Side
from ..order_book import BookView
from ..quoting import Quote, Targets, to_pips
from .base import CommonParams, ModelFields, QuoteInputs, QuotingModel


def fixed_quotes(view: BookView, position: Decimal, params: CommonParams) -> Targets:
    """The ``fixed`` model: bid = mid − spread/2 and ask = mid + spread/2, rounded outward onto
    the grid (bids down, asks up), pulled back from crossing, with optional extra layers
    ``layer_step`` apart. A side's total size is capped by the room to its limit (bids by
    ``position_limit − position``, asks by ``position_limit + position``), so no fill takes the
    position past the limit and the adding side stops at it."""
    if not params.enabled:
        return Targets((), None, "disabled")
    if view.best_bid is None or view.best_ask is None:
        return Targets((), None, "book is one-sided")
    tick = view.tick
    t = tick.pips
    mid2 = view.best_bid + view.best_ask  # twice the mid, in pips: exact
    spread = to_pips(params.spread)
    bid = tick.floor(min((mid2 - spread) // 2, view.best_ask - t))
    ask = tick.ceil(max(-((-(mid2 + spread)) // 2), view.best_bid + t))
    step = max(tick.ceil(to_pips(params.layer_step)), t)
    quotes: list[Quote] = []
    notes: list[str] = []
    if position >= params.position_limit:
        notes.append("long limit: no bids")
    if position <= -params.position_limit:
        notes.append("short limit: no asks")
    # a side's total never takes the position past the limit: the last layer that fits is cut
    for side, inner, sign, room in (
        (Side.BUY, bid, -1, params.position_limit - position),
        (Side.SELL, ask, 1, params.position_limit + position),
    ):
        for i in range(params.layers):
            p = inner + sign * i * step
            size = min(params.size, room)
            if size <= 0 or not tick.min_price <= p <= tick.max_price:
                break
            quotes.append(Quote(side, p, size))
            room -= size
    return Targets(tuple(quotes), mid2 / 2, "; ".join(notes) or "fixed spread around mid")


class Fixed(QuotingModel):
    """``fixed_quotes``, widened by nothing."""

    name = "fixed"
    holds_quotes = True
    chases_rewards = False

    def quote(self, inputs: QuoteInputs) -> tuple[Targets, float]:
        return fixed_quotes(inputs.view, inputs.position, inputs.params), 1.0


class FixedFields(ModelFields):
    """``fixed`` uses only the common parameters (``spread``, ``size``, layers, ``requote_threshold``)."""

    quoting_model: ClassVar[QuotingModel] = Fixed()
