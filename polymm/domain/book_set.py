"""Routes parsed market events to the book of their market."""

from __future__ import annotations

from collections.abc import Iterable

from .market import Market
from .messages import ErrorCounter, FrameError, MarketEvent, MarketResolved, PriceChange
from .order_book import OrderBook
from .prices import _PIP_CACHE, MAX_PIPS, PriceError


class BookSet:
    """The books of every subscribed market, keyed by condition id and by token id.

    ``apply`` returns the set of condition ids whose book changed, so the caller wakes just those
    markets' strategy steps (coalesced) instead of once per message. A value that cannot be
    applied (a price off the grid, an unknown side) is counted in ``errors`` and skipped.
    """

    def __init__(self, markets: Iterable[Market] = ()) -> None:
        self.books: dict[str, OrderBook] = {}
        self._by_token: dict[str, OrderBook] = {}
        self.unknown = 0  # events for tokens we do not hold
        self.errors = ErrorCounter()
        for m in markets:
            self.add(m)

    def add(self, market: Market) -> OrderBook:
        book = self.books.get(market.condition_id)
        if book is None:
            book = OrderBook(market)
            self.books[market.condition_id] = book
            self._by_token[market.yes_token] = book
            self._by_token[market.no_token] = book
        return book

    def remove(self, condition_id: str) -> None:
        book = self.books.pop(condition_id, None)
        if book is not None:
            self._by_token.pop(book.yes_token, None)
            self._by_token.pop(book.no_token, None)

    def get(self, condition_id: str) -> OrderBook | None:
        return self.books.get(condition_id)

    def by_token(self, token_id: str) -> OrderBook | None:
        return self._by_token.get(token_id)

    def apply(self, events: Iterable[MarketEvent]) -> set[str]:
        changed: set[str] = set()
        by_token = self._by_token
        cache = _PIP_CACHE
        for ev in events:
            if type(ev) is PriceChange:
                # The hottest loop in polymm: OrderBook.apply_change inlined, one call per level.
                ts = ev.ts
                for ch in ev.changes:
                    book = by_token.get(ch.asset_id)
                    if book is None:
                        self.unknown += 1
                        continue
                    side = ch.side
                    price = cache.get(ch.price)
                    if price is None or (side != "BUY" and side != "SELL"):
                        try:
                            hit = book.apply_change(ch)  # the careful path: raises with the reason
                        except PriceError as e:
                            self.errors.add(FrameError("bad_price", str(e)))
                            continue
                        if hit:  # a valid but uncached spelling ("0.50000") still counts as a change
                            book.timestamp = ts
                            changed.add(book.condition_id)
                        continue
                    if ch.asset_id == book.no_token:
                        hit = book._set(side != "BUY", MAX_PIPS - price, ch.size)
                    else:
                        hit = book._set(side == "BUY", price, ch.size)
                    if ch.hash:
                        book.hashes[ch.asset_id] = ch.hash
                    if hit:
                        book.version += 1
                        book.timestamp = ts
                        changed.add(book.condition_id)
                continue
            if type(ev) is MarketResolved:
                book = self.books.get(ev.market)
                if book is not None and not book.resolved:
                    book.resolved = True
                    book.version += 1
                    changed.add(book.condition_id)
                continue
            book = by_token.get(ev.asset_id)  # type: ignore[union-attr]  # MarketResolved went above (``type() is``)
            if book is None:
                self.unknown += 1
                continue
            try:
                if book.apply(ev):
                    changed.add(book.condition_id)
            except (PriceError, ValueError) as e:
                self.errors.add(FrameError("bad_price", f"{type(ev).__name__}: {e}"))
        return changed


