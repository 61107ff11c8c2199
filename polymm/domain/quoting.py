"""The vocabulary of quoting: a target ``Quote``, a model's ``Targets``, and the YES/NO parity rule.

All quotes are in YES terms (a YES ask at p may be sent as a NO bid at 1 − p by execution).
Every model's output is on the book's tick grid, inside ``[tick, 1 − tick]``, and never crosses
the book: bids stay below the best ask and asks above the best bid. The models themselves are in
``quoting_models``.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from .market import Side
from .prices import MAX_PIPS, PIPS_PER_UNIT


class Quote(msgspec.Struct, frozen=True, gc=False):
    """One target order: side and price in YES terms, size in shares. Untracked by the garbage
    collector, like the other per-step values (docs/architecture.md, "What the garbage collector walks")."""

    side: Side
    price: int  # pips
    size: Decimal


class Targets(msgspec.Struct, frozen=True, gc=False):
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


def parity_ok(yes_bid: int | None, yes_ask: int | None, no_bid: int | None, no_ask: int | None) -> bool:
    """Our quotes on the two outcomes never lock in a loss (pips; ``None`` = no quote on that side).

    Buying both YES and NO pays exactly 1 at resolution, so ``yes_bid + no_bid < 1``; selling both
    owes exactly 1, so ``yes_ask + no_ask > 1``. (Equality locks in zero before fees and rebates, a
    loss after taker fees, so it is rejected.)"""
    if yes_bid is not None and no_bid is not None and yes_bid + no_bid >= MAX_PIPS:
        return False
    return not (yes_ask is not None and no_ask is not None and yes_ask + no_ask <= MAX_PIPS)
