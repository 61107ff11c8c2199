"""The execution interface shared by PaperExecution and LiveExecution.

The engine speaks only in YES terms: a quote is (side, YES price, size). Execution decides how
it goes to the venue (LiveExecution may send a YES ask at p as a NO bid at 1 − p) and reports
our open orders back in YES terms, so the engine's diffing never sees the difference.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from ..domain.market import Market, Side
from ..domain.order_book import OrderBook
from ..state import OrderView

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A quote to place, in YES terms."""

    side: Side
    price: int  # pips
    size: Decimal


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """One of our orders as the engine sees it (YES terms).

    ``status``: ``submitted`` (sent, outcome not yet known — counts as resting until reconciled),
    ``live`` (acknowledged by the venue). Filled or cancelled orders leave the open set.
    """

    order_id: str
    condition_id: str
    side: Side
    price: int
    size: Decimal
    filled: Decimal = ZERO
    status: str = "live"
    token_id: str = ""
    venue_side: str = ""  # the side at the venue (a YES ask sent on the NO token is a NO BUY)
    queue_ahead: float = 0.0  # paper only: displayed size ahead of us when we joined
    placed_at: float = field(default_factory=time.time)  # epoch seconds: stale-order cleanup

    @property
    def remaining(self) -> Decimal:
        return self.size - self.filled

    def view(self) -> OrderView:
        return OrderView(self.order_id, self.side.value, self.price, self.size, self.filled)


class Execution(Protocol):
    """What the engine needs from an execution venue."""

    name: str

    async def start(self, markets: Sequence[Market]) -> None: ...

    async def close(self) -> None: ...

    async def run(self) -> None:
        """Background work (heartbeat, user channel, reconciliation); runs until cancelled."""
        ...

    async def place_many(self, market: Market, book: OrderBook | None, reqs: Sequence[OrderRequest]) -> list[str]:
        """Place quotes; returns the ids of the orders accepted (or still in flight)."""
        ...

    async def cancel(self, order_ids: Sequence[str]) -> list[str]: ...

    async def cancel_all(self) -> int:
        """Cancel every order of ours at the venue (waits for in-flight placements first)."""
        ...

    async def cancel_market(self, condition_id: str) -> int: ...

    def open_orders(self, condition_id: str | None = None) -> list[OpenOrder]: ...

    def set_tick(self, market: Market) -> None:
        """The market's tick changed: orders from now on use the new grid."""
        ...

    def on_book(self, book: OrderBook) -> None: ...

    def on_trade(self, book: OrderBook, asset_id: str, price: int, size: float, taker_is_buy: bool) -> list: ...
