"""The stand-in's matching engine: price-time priority on one YES book per binary market.

Orders arrive in the terms of the token they name (a NO BUY at q) and are matched in YES terms
(a YES SELL at 1 − q), so YES and NO orders meet in the same book: that is Polymarket's normal,
MINT (YES buy × NO buy) and MERGE (YES sell × NO sell) matching in one rule. Prices are integer pips
(1e-4), sizes integer micro-shares (1e-6): nothing is ever rounded.

Every change is reported synchronously to listeners as typed events, after the book is consistent:

* ``LevelsChanged`` for adds and cancels (one event per market per call, the new aggregate size of
  each touched YES level) → the server's ``price_change`` frames;
* ``Trade`` when a taker order matched (fills in time order) → ``last_trade_price`` frames and a
  full ``book`` per token.

Rejections raise ``OrderRejected`` whose message is Polymarket's own error string (docs/protocol.md §5.3),
so the HTTP layer can pass it through as ``{"error": message}`` unchanged.

All mutation must happen on one thread (the exchange's event loop); the engine has no locks.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from polymm.domain.market import Market, Outcome, Side
from polymm.domain.prices import MAX_PIPS, PIPS_PER_UNIT, Tick, pips_to_str

from . import units
from .book import BookSide, MarketBook, Order

INVALID_TOKEN = "Invalid token id"
POST_ONLY_CROSSES = "invalid post-only order: order crosses book"
POST_ONLY_TYPE = "invalid post-only order: only GTC and GTD order types are allowed"
FOK_UNFILLED = "order couldn't be fully filled. FOK orders are fully filled or killed."
FAK_UNMATCHED = (
    "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found."
)
log = logging.getLogger(__name__)

#: Smallest notional of a marketable order, in micro-USDC ($1).
MIN_MARKETABLE_MICRO_USDC = units.MICRO


class OrderType(StrEnum):
    """Time in force, as the wire's ``orderType``."""

    GTC = "GTC"
    GTD = "GTD"
    FOK = "FOK"
    FAK = "FAK"

    @property
    def rests(self) -> bool:
        return self in (OrderType.GTC, OrderType.GTD)


class OrderRejected(Exception):
    """An order the venue refuses; ``message`` is the exact Polymarket error text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class LevelChange:
    """A YES-book level's new aggregate size (0 = the level is gone)."""

    side: Side
    price: int
    size: int


@dataclass(frozen=True, slots=True)
class LevelsChanged:
    """Resting liquidity was added or removed in one market (no trade)."""

    book: MarketBook
    changes: tuple[LevelChange, ...]
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Fill:
    """One maker order's part of a trade. ``maker_price`` is in the maker's own token terms."""

    maker_order_id: str
    maker_owner: str
    maker_token: str
    maker_outcome: Outcome
    maker_side: Side
    maker_price: int
    yes_price: int
    size: int


@dataclass(frozen=True, slots=True)
class Trade:
    """A taker order matched against one or more makers; ``side`` is the taker's, on ``token_id``."""

    id: str
    book: MarketBook
    taker_order_id: str
    taker_owner: str
    token_id: str
    outcome: Outcome
    side: Side
    fills: tuple[Fill, ...]
    timestamp_ms: int
    transaction_hash: str

    def taker_price(self, fill: Fill) -> int:
        """The fill's price in the taker's token terms."""
        return fill.yes_price if self.outcome is Outcome.YES else MAX_PIPS - fill.yes_price

    @property
    def size(self) -> int:
        return sum(f.size for f in self.fills)


Event = LevelsChanged | Trade
Listener = Callable[[Event], None]
#: Told which live orders were just cancelled (by anyone: owner, heartbeat, admin, synthetic flow).
CancelListener = Callable[[list[Order]], None]


@dataclass(frozen=True, slots=True)
class PlaceResult:
    """Outcome of an accepted order: what traded and what (if anything) now rests."""

    order_id: str
    status: str  # "live" (rests, nothing matched) or "matched" (matched at least partly on entry)
    resting: Order | None
    trade: Trade | None

    @property
    def filled(self) -> int:
        """Micro-shares matched on entry."""
        return self.trade.size if self.trade else 0


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """A token's book at one moment, aggregated per price, in wire order (best last)."""

    market: Market
    asset_id: str
    outcome: Outcome
    bids: tuple[tuple[int, int], ...]  # (price pips, size micro), ascending
    asks: tuple[tuple[int, int], ...]  # descending
    timestamp_ms: int
    hash: str
    last_trade_price: int | None

    @property
    def best_bid(self) -> int | None:
        return self.bids[-1][0] if self.bids else None

    @property
    def best_ask(self) -> int | None:
        return self.asks[-1][0] if self.asks else None


def _tick_message(order_id: str, price: object, tick: Tick) -> str:
    shown = pips_to_str(price) if isinstance(price, int) and 0 <= price <= MAX_PIPS else str(price)
    return f"order {order_id} is invalid. Price ({shown}) breaks minimum tick size rule: {tick.text}"


class MatchingEngine:
    """Books, live orders and matching for a fixed set of binary markets."""

    def __init__(
        self, markets: Iterable[Market], *, clock: Callable[[], int] = units.now_ms, id_salt: str = "standin"
    ) -> None:
        self._clock = clock
        self._salt = id_salt
        start = clock()
        self._books: dict[str, MarketBook] = {}
        self._tokens: dict[str, tuple[MarketBook, Outcome]] = {}
        for m in markets:
            book = MarketBook(m, start)
            self._books[m.condition_id] = book
            self._tokens[m.yes_token] = (book, Outcome.YES)
            self._tokens[m.no_token] = (book, Outcome.NO)
        self._orders: dict[str, Order] = {}
        self._by_owner: dict[str, dict[str, Order]] = {}
        self._id_counters: dict[str, int] = {}
        self._trade_count = 0
        # Traded notional per market in units of (micro-share × pip) = 1e-10 USDC, exact.
        self._notional: dict[str, int] = dict.fromkeys(self._books, 0)
        self._listeners: list[Listener] = []
        self._cancel_listeners: list[CancelListener] = []

    # ------------------------------------------------------------------ lookup

    @property
    def markets(self) -> list[Market]:
        return [b.market for b in self._books.values()]

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def add_cancel_listener(self, listener: CancelListener) -> None:
        """Be told (synchronously, after the book is consistent) of every batch of cancelled orders."""
        self._cancel_listeners.append(listener)

    def remove_cancel_listener(self, listener: CancelListener) -> None:
        self._cancel_listeners.remove(listener)

    def add_market(self, market: Market) -> MarketBook:
        """Register a new market (a listing) on a running engine; its book starts empty."""
        if market.condition_id in self._books:
            raise ValueError(f"market {market.condition_id} already exists")
        book = MarketBook(market, self._clock())
        self._books[market.condition_id] = book
        self._tokens[market.yes_token] = (book, Outcome.YES)
        self._tokens[market.no_token] = (book, Outcome.NO)
        self._notional[market.condition_id] = 0
        return book

    def lookup(self, token_id: str) -> tuple[MarketBook, Outcome] | None:
        """The market book holding ``token_id`` and which outcome it is, or None."""
        return self._tokens.get(token_id)

    def market_book(self, condition_id: str) -> MarketBook | None:
        return self._books.get(condition_id)

    def book(self, token_id: str) -> BookSnapshot:
        """Aggregated book of either token (the NO book is the YES book mirrored). KeyError if unknown."""
        book, outcome = self._tokens[token_id]
        bids, asks = book.levels(outcome)
        return BookSnapshot(
            market=book.market,
            asset_id=token_id,
            outcome=outcome,
            bids=tuple(bids),
            asks=tuple(asks),
            timestamp_ms=book.updated_ms,
            hash=book.hash(outcome),
            last_trade_price=book.last_trade_price(outcome),
        )

    def order(self, order_id: str) -> Order | None:
        """A live (resting) order, or None once filled, cancelled or never seen."""
        return self._orders.get(order_id)

    def open_orders(self, owner: str | None = None) -> list[Order]:
        """Live orders, oldest first; all owners when ``owner`` is None."""
        if owner is None:
            return list(self._orders.values())
        return list(self._by_owner.get(owner, {}).values())

    def volume(self, condition_id: str) -> Decimal:
        """Traded notional (USDC) in a market since start."""
        return Decimal(self._notional[condition_id]) / (units.MICRO * PIPS_PER_UNIT)

    def seed_last_trade(self, condition_id: str, yes_price: int) -> None:
        """Give a market a starting last-trade price (as if it had history) without emitting events."""
        book = self._books[condition_id]
        book.last_trade = yes_price
        book.touch(book.updated_ms)

    # ------------------------------------------------------------------ order entry

    def next_order_id(self, owner: str) -> str:
        """A fresh ``0x``+64-hex id, deterministic per (salt, owner, count) so replays match."""
        n = self._id_counters.get(owner, 0)
        self._id_counters[owner] = n + 1
        return "0x" + hashlib.sha256(f"{self._salt}:{owner}:{n}".encode()).hexdigest()

    def place(
        self,
        owner: str,
        token_id: str,
        side: Side | str,
        price: int,
        size: Decimal | str | int,
        *,
        post_only: bool = False,
        order_type: OrderType | str = OrderType.GTC,
        order_id: str | None = None,
    ) -> PlaceResult:
        """Accept, match and (for GTC/GTD) rest an order. ``price`` in pips, ``size`` in shares.

        Raises ``OrderRejected`` with Polymarket's message when the venue would refuse it; a
        rejected order changes nothing.
        """
        entry = self._tokens.get(token_id)
        if entry is None:
            raise OrderRejected(INVALID_TOKEN)
        book, outcome = entry
        try:
            side = Side(side)
            order_type = OrderType(order_type)
        except ValueError as exc:
            raise OrderRejected(f"invalid order: {exc}") from None
        oid = order_id if order_id is not None else self.next_order_id(owner)
        if oid in self._orders:
            raise OrderRejected(f"order {oid} is invalid. Duplicated.")
        market = book.market
        if not isinstance(price, int) or not market.tick.valid(price):
            raise OrderRejected(_tick_message(oid, price, market.tick))
        min_text = units.decimal_str(market.min_order_size)

        def too_small(shown: object) -> OrderRejected:
            return OrderRejected(f"order {oid} is invalid. Size ({shown}) lower than the minimum: {min_text}")

        try:
            micro = units.to_micro(size)
        except units.SizeError:
            raise too_small(size) from None

        if outcome is Outcome.YES:
            yes_side, yes_price = side, price
        else:
            yes_side, yes_price = side.other, MAX_PIPS - price
        opposite = book.side(yes_side.other)
        best = opposite.best()
        crosses = best is not None and (yes_price >= best if yes_side is Side.BUY else yes_price <= best)

        if post_only:
            if not order_type.rests:
                raise OrderRejected(POST_ONLY_TYPE)
            if crosses:
                raise OrderRejected(POST_ONLY_CROSSES)
        if not crosses:
            if order_type is OrderType.FAK:
                raise OrderRejected(FAK_UNMATCHED)
            if order_type is OrderType.FOK:
                raise OrderRejected(FOK_UNFILLED)
            if micro < market.min_order_size * units.MICRO:
                raise too_small(units.micro_to_str(micro))
        else:
            notional = micro * price // PIPS_PER_UNIT
            if notional < MIN_MARKETABLE_MICRO_USDC:
                raise OrderRejected(
                    f"invalid amount for a marketable {side.value} order (${units.micro_to_str(notional)}), "
                    f"min size: $1"
                )
            if order_type is OrderType.FOK and self._available(opposite, yes_side, yes_price) < micro:
                raise OrderRejected(FOK_UNFILLED)

        ts = self._clock()
        fills = self._match(opposite, yes_side, yes_price, micro) if crosses else []
        remaining = micro - sum(f.size for f in fills)
        resting: Order | None = None
        new_total = 0
        if remaining > 0 and order_type.rests:
            resting = Order(
                id=oid,
                owner=owner,
                market=market,
                token_id=token_id,
                outcome=outcome,
                side=side,
                price=price,
                yes_side=yes_side,
                yes_price=yes_price,
                original=micro,
                remaining=remaining,
                order_type=order_type.value,
                created_ms=ts,
            )
            new_total = book.side(yes_side).add(resting)
            self._orders[oid] = resting
            self._by_owner.setdefault(owner, {})[oid] = resting
        book.touch(ts)

        trade: Trade | None = None
        if fills:
            trade = self._record_trade(book, oid, owner, token_id, outcome, side, yes_side, fills, ts)
            self._emit(trade)
        else:
            self._emit(LevelsChanged(book, (LevelChange(yes_side, yes_price, new_total),), ts))
        return PlaceResult(oid, "matched" if fills else "live", resting, trade)

    def cancel(self, order_id: str) -> Order | None:
        """Cancel one live order; None if it is not live (already filled, cancelled or unknown)."""
        order = self._orders.get(order_id)
        if order is None:
            return None
        self._cancel_many([order])
        return order

    def cancel_orders(self, order_ids: Iterable[str]) -> list[Order]:
        """Cancel the live ones among ``order_ids``; returns those cancelled."""
        orders = [o for o in (self._orders.get(i) for i in dict.fromkeys(order_ids)) if o is not None]
        self._cancel_many(orders)
        return orders

    def cancel_all(self, owner: str) -> list[Order]:
        """Cancel every live order of ``owner``; returns them."""
        orders = list(self._by_owner.get(owner, {}).values())
        self._cancel_many(orders)
        return orders

    # ------------------------------------------------------------------ internals

    def _available(self, opposite: BookSide, yes_side: Side, limit: int) -> int:
        total = 0
        for p in opposite.prices_best_first():
            if (p > limit) if yes_side is Side.BUY else (p < limit):
                break
            total += opposite.levels[p].total
        return total

    def _match(self, opposite: BookSide, yes_side: Side, limit: int, size: int) -> list[Fill]:
        fills: list[Fill] = []
        remaining = size
        for p in opposite.prices_best_first():
            if (p > limit) if yes_side is Side.BUY else (p < limit):
                break
            for maker in list(opposite.levels[p].orders.values()):
                qty = min(remaining, maker.remaining)
                opposite.reduce(maker, qty)
                if maker.remaining == 0:
                    self._forget(maker)
                fills.append(
                    Fill(
                        maker_order_id=maker.id,
                        maker_owner=maker.owner,
                        maker_token=maker.token_id,
                        maker_outcome=maker.outcome,
                        maker_side=maker.side,
                        maker_price=maker.price,
                        yes_price=p,
                        size=qty,
                    )
                )
                remaining -= qty
                if remaining == 0:
                    return fills
        return fills

    def _record_trade(
        self,
        book: MarketBook,
        taker_id: str,
        owner: str,
        token_id: str,
        outcome: Outcome,
        side: Side,
        yes_side: Side,
        fills: list[Fill],
        ts: int,
    ) -> Trade:
        book.last_trade = fills[-1].yes_price
        book.last_trade_side = yes_side
        cond = book.market.condition_id
        for f in fills:
            taker_price = f.yes_price if outcome is Outcome.YES else MAX_PIPS - f.yes_price
            self._notional[cond] += f.size * taker_price
        self._trade_count += 1
        digest = hashlib.sha256(f"{self._salt}:trade:{self._trade_count}".encode()).digest()
        trade_id = str(uuid.UUID(bytes=digest[:16], version=4))
        return Trade(
            id=trade_id,
            book=book,
            taker_order_id=taker_id,
            taker_owner=owner,
            token_id=token_id,
            outcome=outcome,
            side=side,
            fills=tuple(fills),
            timestamp_ms=ts,
            transaction_hash="0x" + hashlib.sha256(digest).hexdigest(),
        )

    def _forget(self, order: Order) -> None:
        del self._orders[order.id]
        owned = self._by_owner.get(order.owner)
        if owned is not None:
            owned.pop(order.id, None)
            if not owned:
                del self._by_owner[order.owner]

    def _cancel_many(self, orders: list[Order]) -> None:
        if not orders:
            return
        ts = self._clock()
        per_book: dict[str, dict[tuple[Side, int], int]] = {}
        for order in orders:
            book = self._books[order.market.condition_id]
            total = book.side(order.yes_side).remove(order)
            self._forget(order)
            per_book.setdefault(order.market.condition_id, {})[(order.yes_side, order.yes_price)] = total
        for cond, changes in per_book.items():
            book = self._books[cond]
            book.touch(ts)
            self._emit(LevelsChanged(book, tuple(LevelChange(s, p, n) for (s, p), n in changes.items()), ts))
        for listener in self._cancel_listeners:
            try:
                listener(orders)
            except Exception:
                log.exception("matching-engine cancel listener failed")

    def _emit(self, event: Event) -> None:
        # A failing listener (a WS fan-out bug) must not undo or half-report a match that happened.
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("matching-engine listener failed on %s", type(event).__name__)
