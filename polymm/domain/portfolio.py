"""Exact positions and P&L for binary markets.

A market's position is held in YES shares: +10 is long 10 YES, −10 is long 10 NO (a YES ask at p
filled is the same exposure as a NO bid at 1 − p filled). Money and shares are ``Decimal``;
realised P&L uses average cost, unrealised is marked at the mid.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from .market import Side
from .prices import pips_to_decimal

ZERO = Decimal(0)


#: Suffix of a reversal fill's trade id: ``<trade id>:failed``.
REVERSAL = ":failed"


@dataclass(frozen=True, slots=True)
class Fill:
    """One fill of one of our orders, in YES terms."""

    condition_id: str
    order_id: str
    side: Side
    price: int  # pips
    size: Decimal
    fee: Decimal = ZERO
    ts: float = 0.0
    trade_id: str = ""
    token: str = ""  # the outcome token the venue traded ("" when unknown: the ledger then keeps no count)
    no: bool = False  # ``token`` is the market's NO token (the fill's side and price are still YES terms)

    @property
    def is_reversal(self) -> bool:
        """The opposite fill booked when the venue reports a matched trade FAILED (``REVERSAL``)."""
        return self.trade_id.endswith(REVERSAL)


@dataclass(slots=True)
class Position:
    """Average-cost position of one market (mutable; owned by the engine's Portfolio)."""

    qty: Decimal = ZERO
    avg_price: Decimal = ZERO  # price units, 0..1
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    fills: int = 0

    def apply(self, fill: Fill) -> None:
        price = pips_to_decimal(fill.price)
        signed = fill.size if fill.side is Side.BUY else -fill.size
        self.fees += fill.fee
        self.fills += 1
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            new_qty = self.qty + signed
            self.avg_price = (self.avg_price * abs(self.qty) + price * abs(signed)) / abs(new_qty)
            self.qty = new_qty
            return
        closing = min(abs(signed), abs(self.qty))
        direction = 1 if self.qty > 0 else -1
        self.realized += (price - self.avg_price) * closing * direction
        new_qty = self.qty + signed
        if new_qty == 0:
            self.avg_price = ZERO
        elif (new_qty > 0) != (self.qty > 0):
            self.avg_price = price  # flipped: the remainder opened at this price
        self.qty = new_qty

    def unrealized(self, mark: Decimal | None) -> Decimal:
        if mark is None or self.qty == 0:
            return ZERO
        return (mark - self.avg_price) * self.qty


class Portfolio:
    """Positions of every market; fills are deduplicated by trade id where one is given."""

    def __init__(self) -> None:
        self.positions: dict[str, Position] = {}
        self._seen: set[tuple[str, str]] = set()

    def position(self, condition_id: str) -> Position:
        pos = self.positions.get(condition_id)
        if pos is None:
            pos = self.positions[condition_id] = Position()
        return pos

    def apply(self, fill: Fill) -> bool:
        """Book a fill; returns False for a duplicate (same trade id and order)."""
        if fill.trade_id:
            key = (fill.trade_id, fill.order_id)
            if key in self._seen:
                return False
            self._seen.add(key)
        self.position(fill.condition_id).apply(fill)
        return True

    def seen(self) -> int:
        """(trade id, order id) keys remembered for deduplication."""
        return len(self._seen)

    def forget(self, keys: Iterable[tuple[str, str]]) -> None:
        """Stop remembering these (trade id, order id) keys: a fill with one of them would be booked
        again (``Ledger.forget`` drops the keys of legs no replay can bring any more)."""
        self._seen.difference_update(keys)

    def totals(self, marks: dict[str, Decimal | None]) -> tuple[Decimal, Decimal, Decimal, int]:
        """(realised, unrealised, fees, fills) over all markets, unrealised at ``marks``."""
        realized = sum((p.realized for p in self.positions.values()), ZERO)
        unreal = sum((p.unrealized(marks.get(cid)) for cid, p in self.positions.items()), ZERO)
        fees = sum((p.fees for p in self.positions.values()), ZERO)
        fills = sum(p.fills for p in self.positions.values())
        return realized, unreal, fees, fills
