"""Paper execution: our quotes rest only in memory and fill against the real trade prints.

Fill rule (first cut, documented in docs/architecture.md): a trade printed *through* our price
(a taker sell below our bid, a taker buy above our ask) would have reached us first, so it fills us
up to its size. A trade *at* our price first eats the queue that was ahead of us when we joined
the level (the level's displayed size then, shrunk when the level shrinks), and only the rest
fills us. Prints are mapped into YES terms, as our orders are.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

from ..domain.ledger import Ledger
from ..domain.market import Market, Side
from ..domain.order_book import OrderBook
from ..domain.portfolio import Fill
from ..domain.prices import MAX_PIPS
from .execution import ChannelStatus, Execution, OpenOrder, OrderRequest, Pacing, book_capital, route, sellable
from .order_tracker import locks

ZERO = Decimal(0)
FORGET_EVERY = 1_000  # fills between two ``Ledger.forget`` passes (memory stays flat over a long run)


class Resting(dict[str, OpenOrder]):
    """Paper's resting orders by id, also indexed by market and by token: a step reads its market's
    orders (``open_orders``) several times and each placement the free shares of its tokens, and a scan
    of every order of every market made a paper step O(all orders) — at 300 markets (600 orders) a
    third of the step. Written only through item assignment, ``pop`` and ``clear`` (the methods kept in
    step here)."""

    def __init__(self) -> None:
        super().__init__()
        self.by_market: dict[str, dict[str, OpenOrder]] = {}
        self.by_token: dict[str, dict[str, OpenOrder]] = {}

    def __setitem__(self, oid: str, order: OpenOrder) -> None:
        super().__setitem__(oid, order)
        self.by_market.setdefault(order.condition_id, {})[oid] = order
        self.by_token.setdefault(order.token_id, {})[oid] = order

    def pop(self, oid: str, default: OpenOrder | None = None) -> OpenOrder | None:  # type: ignore[override]  # the one form paper uses: pop(id, None)
        order = super().pop(oid, None)
        if order is None:
            return default
        for index, key in ((self.by_market, order.condition_id), (self.by_token, order.token_id)):
            orders = index[key]
            del orders[oid]
            if not orders:
                del index[key]
        return order

    def clear(self) -> None:
        super().clear()
        self.by_market.clear()
        self.by_token.clear()

    def __delitem__(self, oid: str) -> None:
        raise TypeError("remove a paper order with pop (keeps the indexes)")

    def update(self, *args: object, **kw: object) -> None:
        raise TypeError("add paper orders one by one (keeps the indexes)")


class PaperExecution:
    """The execution interface (place / cancel / cancel_all / open_orders) with simulated fills."""

    name = "paper"
    venue_balance = False  # no venue to ask: the engine shows the capital plus the session's P&L
    # the health every execution reports (``ExecutionHealth``): with no venue nothing is rejected,
    # retried, failed, mismatched or paused, no other client is seen, and there is no heartbeat or
    # user channel. ``pending_fills``: a paper fill is final at once
    pending_fills = rejects = retries = failed_fills = mismatches = 0
    foreign_alert = ""
    heartbeat_age: float | None = None
    user_channel: ChannelStatus | None = None

    def __init__(self, on_fill: Callable[[Fill], None] = lambda f: None, clock: Callable[[], float] | None = None,
                 ledger: Ledger | None = None):
        import time

        self.on_fill = on_fill
        self.ledger = ledger if ledger is not None else Ledger()
        self._clock = clock or time.time
        self.orders_placed = 0  # metrics
        self.on_post_latency: Callable[[float], None] | None = None  # never called: no venue round trip
        self.on_tick_to_trade: Callable[[float], None] | None = None  # never called: nothing leaves for a venue
        self._orders = Resting()
        self._touched: set[str] = set()  # markets whose orders changed since ``touched`` was last asked
        self._booked = itertools.count(1)  # fills booked (every FORGET_EVERY the ledger forgets old legs)
        self._ids = itertools.count(1)
        self._trades = itertools.count(1)
        self._capital_by_market: dict[str, dict[str, Decimal]] = {}  # in-flight capital ops' shares
        self.keep_pairs = False  # POLYMM_AUTO_MERGE: pairs are merged, not sold (``execution.sellable``)
        self._capital_held: dict[str, Decimal] = {}  # token → shares they hold

    # ------------------------------------------------------------ the execution interface
    async def start(self, markets: Sequence[Market]) -> None:
        return None

    async def run(self) -> None:
        """Paper has no background work; waits until cancelled."""
        await asyncio.Event().wait()

    async def close(self) -> None:
        self._touched.update(o.condition_id for o in self._orders.values())
        self._orders.clear()

    def touched(self) -> set[str]:
        out, self._touched = self._touched, set()
        return out

    async def add_market(self, market: Market) -> None:
        return None

    def ready(self, condition_id: str | None = None) -> tuple[bool, str]:
        return True, ""  # the simulation is its own venue: what it holds is always known

    def reserved(self, condition_id: str | None = None, *, closing_only: bool = False
                 ) -> dict[str, tuple[Decimal, Decimal]]:
        """Open orders only: a paper cancel is final at once and paper fills are booked as they happen."""
        out: dict[str, tuple[Decimal, Decimal]] = {}
        if closing_only:
            return out
        for o in self.open_orders(condition_id):
            b, a = out.get(o.condition_id, (ZERO, ZERO))
            out[o.condition_id] = (b + o.remaining, a) if o.side is Side.BUY else (b, a + o.remaining)
        return out

    async def settled(self, condition_id: str, timeout: float) -> bool:
        return True

    async def collateral_balance(self) -> float:
        raise NotImplementedError("paper trading has no venue balance")

    @property
    def paused_markets(self) -> Mapping[str, str]:
        return {}

    def recent_errors(self, window_s: float = 10.0) -> int:
        return 0

    def rate_usage(self, window_s: float = 1.0) -> tuple[int, int]:
        return 0, 0

    def pacing(self) -> Pacing:
        return Pacing()  # no venue: nothing to pace, no frame-to-wire path

    def try_place(self, n: int, ahead: int = 0) -> bool:
        return True

    def release_places(self, n: int) -> None:
        pass

    def place_eta(self, n: int, ahead: int = 0) -> float:
        return 0.0

    def _free(self, token: str) -> Decimal:
        held = self.ledger.shares(token)
        selling = sum((o.remaining for o in self._orders.by_token.get(token, {}).values() if o.venue_side == "SELL"),
                      ZERO)
        return held - selling - self._capital_held.get(token, ZERO)

    # ------------------------------------------------------------ capital operations
    def free_shares(self, token: str) -> Decimal:
        return self._free(token)

    def _sellable(self, market: Market) -> Callable[[str], Decimal]:
        return lambda token: sellable(market, token, self._free, self.keep_pairs)

    def hold_capital(self, condition_id: str, shares: Mapping[str, Decimal]) -> None:
        self._capital_by_market[condition_id] = dict(shares)
        self._recount_held()

    def release_capital(self, condition_id: str) -> None:
        self._capital_by_market.pop(condition_id, None)
        self._recount_held()

    def _recount_held(self) -> None:
        self._capital_held = {}
        for held in self._capital_by_market.values():
            for token, n in held.items():
                self._capital_held[token] = self._capital_held.get(token, ZERO) + n

    def book_capital(self, market: Market, yes: Decimal, no: Decimal, price: int | None) -> list[Fill]:
        return book_capital(self.ledger, market, yes, no, price, self._clock(), self.on_fill)

    async def resolution(self, condition_id: str) -> str | None:
        return None  # paper has no venue to resolve markets

    async def place_many(self, market: Market, book: OrderBook | None, reqs: Sequence[OrderRequest],
                         origin_ns: int = 0) -> list[str]:
        ids = []
        for r in reqs:
            oid = f"paper-{next(self._ids)}"
            ahead = 0.0
            if book is not None:
                ahead = book.bids[r.price] if r.side is Side.BUY else book.asks[r.price]
            token, venue_side, _ = route(market, r, self._sellable(market))  # as the venue would hold it
            self._orders[oid] = OpenOrder(oid, market.condition_id, r.side, r.price, r.size, queue_ahead=ahead,
                                          token_id=token, venue_side=venue_side,
                                          placed_at=self._clock())  # the simulated clock in a replay
            ids.append(oid)
        self._touched.add(market.condition_id)
        self.orders_placed += len(ids)
        return ids

    async def cancel(self, order_ids: Sequence[str]) -> list[str]:
        gone = [o for oid in order_ids if (o := self._orders.pop(oid, None)) is not None]
        self._touched.update(o.condition_id for o in gone)
        return [o.order_id for o in gone]

    async def cancel_all(self) -> int:
        n = len(self._orders)
        self._touched.update(o.condition_id for o in self._orders.values())
        self._orders.clear()
        return n

    async def cancel_market(self, condition_id: str) -> int:
        return len(await self.cancel(list(self._orders.by_market.get(condition_id, ()))))

    def set_tick(self, market: Market) -> None:
        return None  # paper orders need no venue-side tick

    def locked_collateral(self) -> float:
        """What the orders would lock at a venue (paper has no venue balance: ``venue_balance``)."""
        return float(sum((locks(o) for o in self._orders.values()), ZERO) / MAX_PIPS)

    def open_orders(self, condition_id: str | None = None) -> list[OpenOrder]:
        if condition_id is None:
            return list(self._orders.values())
        return list(self._orders.by_market.get(condition_id, {}).values())

    # ------------------------------------------------------------ market data in
    async def take(self, market: Market, book: OrderBook, req: OrderRequest) -> tuple[Decimal, str]:
        """Fill and kill against the book's displayed levels up to ``req.price`` (the levels are not
        consumed: the next book update is the venue's word), booked at each level's price."""
        view = book.view(50)
        levels = view.asks if req.side is Side.BUY else view.bids
        token, _venue_side, _ = route(market, req, self._sellable(market))
        left, done = req.size, ZERO
        oid = f"paper-{next(self._ids)}"
        for level in levels:
            if left <= 0 or (level.price > req.price if req.side is Side.BUY else level.price < req.price):
                break
            qty = min(left, Decimal(str(level.size)))
            fill = Fill(market.condition_id, oid, req.side, level.price, qty, ZERO, self._clock(),
                        f"paper-trade-{next(self._trades)}", token, token == market.no_token)
            if self.ledger.book(fill):
                self.on_fill(fill)
            left, done = left - qty, done + qty
        self.orders_placed += 1
        return done, "" if done else "nothing on the book at that price or better"

    def on_book(self, book: OrderBook) -> None:
        """Shrink our queue estimate when the level we sit on shrinks (orders ahead cancelled)."""
        for o in self.open_orders(book.condition_id):
            level = book.bids[o.price] if o.side is Side.BUY else book.asks[o.price]
            if level < o.queue_ahead:
                self._orders[o.order_id] = replace(o, queue_ahead=level)

    def on_trade(self, book: OrderBook, asset_id: str, price: int, size: float, taker_is_buy: bool) -> list[Fill]:
        """Match one trade print against our resting orders of that market."""
        if asset_id == book.no_token:  # a NO print at q is a YES print at 1 - q, taker side flipped
            price, taker_is_buy = MAX_PIPS - price, not taker_is_buy
        left = Decimal(str(size))
        fills: list[Fill] = []
        if not left.is_finite():  # a "nan"/"inf" size from the wire: comparing a NaN Decimal raises
            return fills
        # best price first: a taker sell reaches the highest bids first, a taker buy the lowest asks
        resting = [o for o in self.open_orders(book.condition_id) if (o.side is Side.SELL) == taker_is_buy]
        resting.sort(key=lambda o: o.price, reverse=not taker_is_buy)
        for o in resting:
            if left <= 0:
                break
            through = price > o.price if taker_is_buy else price < o.price
            at = price == o.price
            if not (through or at):
                continue
            avail = left
            if at and not through:
                eaten = min(Decimal(str(o.queue_ahead)), avail)
                o = replace(o, queue_ahead=o.queue_ahead - float(eaten))
                self._orders[o.order_id] = o
                avail -= eaten
                left -= eaten  # the queue ahead took this part of the print: no other order gets it
            qty = min(avail, o.remaining)
            if qty <= 0:
                continue
            left -= qty
            fill = Fill(book.condition_id, o.order_id, o.side, o.price, qty, ZERO, self._clock(),
                        f"paper-trade-{next(self._trades)}", o.token_id, o.token_id == book.no_token)
            if o.filled + qty >= o.size:
                self._orders.pop(o.order_id, None)
            else:
                self._orders[o.order_id] = replace(o, filled=o.filled + qty)
            fills.append(fill)
            if self.ledger.book(fill):
                self.on_fill(fill)
            if next(self._booked) % FORGET_EVERY == 0:  # paper never replays: the legs' memory can go
                self.ledger.forget(self._clock() - 60, keep_orders=self._orders)
        return fills


_IMPLEMENTS: type[Execution] = PaperExecution  # mypy checks that paper implements the whole protocol
