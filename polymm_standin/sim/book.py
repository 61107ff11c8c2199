"""One binary market's resting orders, held once in YES terms.

Polymarket runs one book per binary market: a NO bid at q is the same liquidity as a YES ask at
1 − q. So the stand-in keeps a single YES book (``bids``/``asks``) and derives the NO book by
mirroring prices, which makes the two token books consistent by construction.

Each side keeps its price levels in a list sorted so that the best level is last, and beside it the
rendered JSON fragment of every level for both tokens (``level_fragment``). A level change
touches one list slot (bisect), and rendering a whole book or hashing it is a C-level byte join of
cached fragments, not a Python loop over the levels. The list orders are chosen so that each token's
wire order (bids ascending, asks descending: best last) is the natural list order:

* YES bids = ``bids`` in key order; YES asks = ``asks`` in key order (key = −price);
* NO bids = mirrored ``asks`` in key order; NO asks = mirrored ``bids`` in key order.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from dataclasses import dataclass

from polymm.domain.market import Market, Outcome, Side
from polymm.domain.prices import MAX_PIPS, complement

from .units import decimal_str, level_fragment, price_str


@dataclass(slots=True, eq=False)
class Order:
    """A live order as the venue holds it.

    ``side``/``price`` are in the terms the owner sent (its own token); ``yes_side``/``yes_price``
    are where it sits in the market's single YES book. Sizes are integer micro-shares.
    """

    id: str
    owner: str
    market: Market
    token_id: str
    outcome: Outcome
    side: Side
    price: int
    yes_side: Side
    yes_price: int
    original: int
    remaining: int
    order_type: str
    created_ms: int

    @property
    def matched(self) -> int:
        return self.original - self.remaining


class Level:
    """The FIFO queue of orders at one price (dict insertion order = time priority)."""

    __slots__ = ("orders", "total")

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.total = 0


class BookSide:
    """One side of a YES book: levels by price, best last, with cached wire fragments."""

    __slots__ = ("_sign", "keys", "levels", "no_frags", "side", "yes_frags")

    def __init__(self, side: Side) -> None:
        self.side = side
        # Sort key: price for bids, -price for asks, so that for both sides the best level is last.
        self._sign = 1 if side is Side.BUY else -1
        self.keys: list[int] = []
        self.levels: dict[int, Level] = {}
        self.yes_frags: list[bytes] = []
        self.no_frags: list[bytes] = []

    def __len__(self) -> int:
        return len(self.keys)

    def best(self) -> int | None:
        """Best YES price on this side, or None when empty."""
        return self._sign * self.keys[-1] if self.keys else None

    def prices_best_first(self) -> list[int]:
        """YES prices from best to worst (a copy: safe while the side changes)."""
        s = self._sign
        return [s * k for k in reversed(self.keys)]

    def prices_in_key_order(self) -> list[int]:
        s = self._sign
        return [s * k for k in self.keys]

    def add(self, order: Order) -> int:
        """Queue ``order`` at the back of its level; returns the level's new total."""
        level = self.levels.get(order.yes_price)
        if level is None:
            level = self.levels[order.yes_price] = Level()
        level.orders[order.id] = order
        level.total += order.remaining
        self._refresh(order.yes_price, level.total)
        return level.total

    def reduce(self, order: Order, qty: int) -> int:
        """Take ``qty`` off a resting order (a fill); drops it when done. Returns the level total."""
        level = self.levels[order.yes_price]
        order.remaining -= qty
        level.total -= qty
        if order.remaining == 0:
            del level.orders[order.id]
        self._refresh(order.yes_price, level.total)
        return level.total

    def remove(self, order: Order) -> int:
        """Pull a resting order out of its level (a cancel). Returns the level's new total."""
        level = self.levels[order.yes_price]
        del level.orders[order.id]
        level.total -= order.remaining
        self._refresh(order.yes_price, level.total)
        return level.total

    def _refresh(self, price: int, total: int) -> None:
        key = self._sign * price
        i = bisect_left(self.keys, key)
        present = i < len(self.keys) and self.keys[i] == key
        if total == 0:
            del self.levels[price]
            if present:
                del self.keys[i], self.yes_frags[i], self.no_frags[i]
            return
        yes = level_fragment(price, total)
        no = level_fragment(complement(price), total)
        if present:
            self.yes_frags[i] = yes
            self.no_frags[i] = no
        else:
            self.keys.insert(i, key)
            self.yes_frags.insert(i, yes)
            self.no_frags.insert(i, no)


class MarketBook:
    """The single YES book of one binary market, with both tokens' views derived from it."""

    __slots__ = ("_hashes", "asks", "bids", "last_trade", "last_trade_side", "market", "updated_ms")

    def __init__(self, market: Market, created_ms: int = 0) -> None:
        self.market = market
        self.bids = BookSide(Side.BUY)
        self.asks = BookSide(Side.SELL)
        #: Epoch ms of the last change; the book's wire ``timestamp`` (so its hash is stable between
        #: changes and a ``price_change`` hash equals what ``/book`` then returns).
        self.updated_ms = created_ms
        #: Last trade in YES pips and the taker's side in YES terms.
        self.last_trade: int | None = None
        self.last_trade_side: Side | None = None
        self._hashes: dict[Outcome, str] = {}

    def side(self, yes_side: Side) -> BookSide:
        return self.bids if yes_side is Side.BUY else self.asks

    def touch(self, timestamp_ms: int) -> None:
        """Mark the book changed at ``timestamp_ms`` (invalidates cached hashes)."""
        self.updated_ms = timestamp_ms
        self._hashes.clear()

    # ---- token views (mirror for NO)

    def best_bid(self, outcome: Outcome = Outcome.YES) -> int | None:
        if outcome is Outcome.YES:
            return self.bids.best()
        ask = self.asks.best()
        return None if ask is None else MAX_PIPS - ask

    def best_ask(self, outcome: Outcome = Outcome.YES) -> int | None:
        if outcome is Outcome.YES:
            return self.asks.best()
        bid = self.bids.best()
        return None if bid is None else MAX_PIPS - bid

    def last_trade_price(self, outcome: Outcome = Outcome.YES) -> int | None:
        if self.last_trade is None or outcome is Outcome.YES:
            return self.last_trade
        return MAX_PIPS - self.last_trade

    def levels(self, outcome: Outcome) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids, asks) as (price pips, size micro) in wire order: bids ascending, asks descending."""
        bid_side, ask_side = (self.bids, self.asks) if outcome is Outcome.YES else (self.asks, self.bids)
        flip = outcome is Outcome.NO

        def rows(side: BookSide) -> list[tuple[int, int]]:
            return [(MAX_PIPS - p if flip else p, side.levels[p].total) for p in side.prices_in_key_order()]

        return rows(bid_side), rows(ask_side)

    def fragments(self, outcome: Outcome) -> tuple[list[bytes], list[bytes]]:
        """(bids, asks) rendered level fragments in wire order for ``outcome``'s token."""
        if outcome is Outcome.YES:
            return self.bids.yes_frags, self.asks.yes_frags
        return self.asks.no_frags, self.bids.no_frags

    def hash(self, outcome: Outcome) -> str:
        """The token book's SHA-1 hash at ``updated_ms`` (cached until the next change)."""
        h = self._hashes.get(outcome)
        if h is None:
            h = self._hashes[outcome] = book_hash(self, outcome, self.updated_ms)
        return h


# --------------------------------------------------------------------------------------------- hash


def rest_bytes(book: MarketBook, outcome: Outcome, timestamp_ms: int, hash_: str) -> bytes:
    """The compact REST book body (``frames.rest_book``); with ``hash_=""`` it is what the hash covers."""
    m = book.market
    bids, asks = book.fragments(outcome)
    return b"".join(
        (
            b'{"market":"',
            m.condition_id.encode(),
            b'","asset_id":"',
            m.token(outcome).encode(),
            b'","timestamp":"',
            str(timestamp_ms).encode(),
            b'","hash":"',
            hash_.encode(),
            b'","bids":[',
            b",".join(bids),
            b'],"asks":[',
            b",".join(asks),
            b'],"min_order_size":"',
            decimal_str(m.min_order_size).encode(),
            b'","tick_size":"',
            m.tick.text.encode(),
            b'","neg_risk":',
            b"true" if m.neg_risk else b"false",
            b',"last_trade_price":"',
            price_str(book.last_trade_price(outcome)).encode(),
            b'"}',
        )
    )


def book_hash(book: MarketBook, outcome: Outcome, timestamp_ms: int) -> str:
    """SHA-1 hex of the compact REST book with an empty hash (the official client's recipe)."""
    return hashlib.sha1(rest_bytes(book, outcome, timestamp_ms, "")).hexdigest()
