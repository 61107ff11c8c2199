"""Quoting models: pure functions ``(book view, position, params) -> target quotes``.

All quotes are in YES terms (a YES ask at p may be sent as a NO bid at 1 − p by execution).
Every model's output is on the book's tick grid, inside ``[tick, 1 − tick]``, and never crosses
the book: bids stay below the best ask and asks above the best bid.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .market import Side
from .order_book import BookView
from .params import MarketParams
from .prices import PIPS_PER_UNIT


@dataclass(frozen=True, slots=True)
class Quote:
    """One target order: side and price in YES terms, size in shares."""

    side: Side
    price: int  # pips
    size: Decimal


@dataclass(frozen=True, slots=True)
class Targets:
    """A model's decision for one market: the quotes and why (shown in the UI)."""

    quotes: tuple[Quote, ...]
    fair: float | None  # pips
    reason: str

    @property
    def bids(self) -> tuple[Quote, ...]:
        return tuple(q for q in self.quotes if q.side is Side.BUY)

    @property
    def asks(self) -> tuple[Quote, ...]:
        return tuple(q for q in self.quotes if q.side is Side.SELL)


def to_pips(value: Decimal) -> int:
    return int(value * PIPS_PER_UNIT)


def fixed_quotes(view: BookView, position: Decimal, params: MarketParams) -> Targets:
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
