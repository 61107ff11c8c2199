"""One order book per binary market, in YES terms, indexed by price.

Prices live on a bounded grid of 10,001 points (0.0000 … 1.0000 in pips), so each side is a flat
``list[float]`` indexed by price: an update is one store plus, only when the best level empties,
a short scan to the next occupied level, striding by the book's level grid. No sorting, no tree
rebalancing, no allocation per update.

YES/NO mirroring: a YES bid at p is the same resting liquidity as a NO ask at 1 − p. Updates for
the NO token are mapped into YES terms (NO BUY q → YES ask 1 − q; NO SELL q → YES bid 1 − q).
Polymarket's ``price_change`` lists both tokens for one change; because ``size`` is the new
aggregate, applying both entries is idempotent.

Book sizes are floats: they are for analytics and display only (DESIGN §5). Our own orders,
fills and positions are exact elsewhere.
"""

from __future__ import annotations

from array import array
from math import gcd

import msgspec

from .market import Market
from .messages import BookSnapshot, LastTrade, LevelChange, MarketEvent, PriceChange, TickSizeChange
from .prices import MAX_PIPS, PriceError, Tick, price_to_pips

_N = MAX_PIPS + 1
#: One side's sizes by price in pips. An ``array('d')``, not a list: the garbage collector has no
#: elements to walk in it. Lists of 10,001 floats per side made every full collection visit ~0.5 M elements (one
#: cache miss each) for 20 markets: 150–300 ms pauses of the event loop every few seconds.
_ZEROS = array("d", bytes(8 * _N))


class Level(msgspec.Struct, frozen=True, order=True, gc=False):
    """One aggregated price level: price in pips, size in shares (ordered by price, then size).

    A ``msgspec.Struct`` the garbage collector does not track (``gc=False``: it holds an int and a
    float, so it can never be part of a reference cycle): a book view holds ~14 and the strategy makes
    one view a step — at 300 markets ~4,000 levels a second, each a ``NamedTuple`` before (a tuple
    subclass, which CPython never untracks) that every young collection had to walk. Building one is
    about twice as fast too. See docs/architecture.md, "What the garbage collector walks"."""

    price: int
    size: float

NO_BID = -1
NO_ASK = _N


class BookView(msgspec.Struct, frozen=True, eq=False, gc=False):
    """An immutable top-of-book summary for quoting, the store and the UI (YES terms).

    Untracked by the garbage collector (``gc=False``) like its ``Level``s: nothing it holds can refer
    back to it. Equality is identity, as before."""

    condition_id: str
    epoch: int
    version: int
    tick: Tick
    best_bid: int | None  # pips
    best_ask: int | None
    bid_size: float
    ask_size: float
    bids: tuple[Level, ...]  # best first
    asks: tuple[Level, ...]  # best first
    last_trade: int | None
    timestamp: int  # exchange ms of the last applied event

    @property
    def mid(self) -> float | None:
        if self.best_bid is None or self.best_ask is None:
            return None
        return (self.best_bid + self.best_ask) / 2

    @property
    def spread(self) -> int | None:
        if self.best_bid is None or self.best_ask is None:
            return None
        return self.best_ask - self.best_bid

    @property
    def microprice(self) -> float | None:
        if self.best_bid is None or self.best_ask is None:
            return None
        total = self.bid_size + self.ask_size
        if total <= 0:
            return self.mid
        return (self.best_bid * self.ask_size + self.best_ask * self.bid_size) / total




class OrderBook:
    """Live book of one market. Not thread-safe: owned by the feed's event loop."""

    __slots__ = (
        "_ask_levels",
        "_ask_n",
        "_bid_levels",
        "_bid_n",
        "_stride",
        "asks",
        "best_ask",
        "best_bid",
        "bids",
        "condition_id",
        "epoch",
        "hashes",
        "last_trade",
        "last_trade_size",
        "market",
        "n_asks",
        "n_bids",
        "no_token",
        "resolved",
        "tick",
        "timestamp",
        "version",
        "yes_token",
    )

    def __init__(self, market: Market) -> None:
        self.market = market
        self.condition_id = market.condition_id
        self.yes_token = market.yes_token
        self.no_token = market.no_token
        self.tick = market.tick
        self.epoch = 0
        self.version = 0
        self.timestamp = 0
        self.hashes: dict[str, str] = {}
        self.last_trade: int | None = None
        self.last_trade_size = 0.0
        self.resolved = False  # the market resolved: never quote it again
        self.bids = _ZEROS[:]  # a copy (memcpy)
        self.asks = _ZEROS[:]
        self._reset()

    def _reset(self) -> None:
        # zeroed in place: a snapshot (each resync) must not allocate two 80 kB arrays per market — at
        # 300 markets the allocator's churn showed as ~48 MB of RSS over two minutes of resyncs
        self.bids[:] = _ZEROS
        self.asks[:] = _ZEROS
        self.best_bid = NO_BID
        self.best_ask = NO_ASK
        self.n_bids = 0
        self.n_asks = 0
        self._stride = self.tick.pips
        # the last ``bid_levels(n)`` / ``ask_levels(n)`` (None: the side changed since) and its ``n``
        self._bid_levels: tuple[Level, ...] | None = None
        self._ask_levels: tuple[Level, ...] | None = None
        self._bid_n = self._ask_n = 0

    # ----------------------------------------------------------------- updates

    def apply(self, event: MarketEvent) -> bool:
        """Apply one parsed event for this market; returns True when the book changed.

        Raises ``PriceError`` on a price off the 1e-4 grid; ``BookSet`` counts and skips those.
        """
        if isinstance(event, PriceChange):
            changed = False
            for ch in event.changes:
                changed |= self.apply_change(ch)
            if changed:
                self.timestamp = event.ts
            return changed
        if isinstance(event, BookSnapshot):
            self.apply_snapshot(event)
            return True
        if isinstance(event, LastTrade):
            p = price_to_pips(event.price)
            self.last_trade = p if event.asset_id != self.no_token else MAX_PIPS - p
            self.last_trade_size = event.size
            self.timestamp = event.ts
            self.version += 1
            return True
        if isinstance(event, TickSizeChange):
            self.apply_tick_change(Tick.parse(event.new_tick_size))
            return True
        return False

    def apply_snapshot(self, snap: BookSnapshot) -> None:
        """Full replacement from a ``book`` event of either token."""
        bids = [(price_to_pips(lv.price), lv.size) for lv in snap.bids]  # parse before touching state
        asks = [(price_to_pips(lv.price), lv.size) for lv in snap.asks]
        tick = Tick.parse(snap.tick_size) if snap.tick_size else self.tick
        self._reset()
        if tick != self.tick:
            self.tick = tick
            self.epoch += 1
            self._stride = tick.pips
        if snap.asset_id == self.no_token:
            for p, size in bids:  # NO bids are YES asks at 1 - p
                self._set(False, MAX_PIPS - p, size)
            for p, size in asks:
                self._set(True, MAX_PIPS - p, size)
        else:
            for p, size in bids:
                self._set(True, p, size)
            for p, size in asks:
                self._set(False, p, size)
        self.hashes[snap.asset_id] = snap.hash
        self.timestamp = snap.ts
        if snap.last_trade_price:
            try:
                p = price_to_pips(snap.last_trade_price)
                self.last_trade = p if snap.asset_id != self.no_token else MAX_PIPS - p
            except ValueError:
                pass
        self.version += 1

    def apply_change(self, ch: LevelChange) -> bool:
        """Set one level's aggregate size (mapped into YES terms)."""
        price = price_to_pips(ch.price)
        is_bid = ch.side == "BUY"
        if not is_bid and ch.side != "SELL":
            raise PriceError(f"side {ch.side!r} is not allowed; allowed: BUY, SELL")
        if ch.asset_id == self.no_token:
            changed = self._set(not is_bid, MAX_PIPS - price, ch.size)
        else:
            changed = self._set(is_bid, price, ch.size)
        if ch.hash:
            self.hashes[ch.asset_id] = ch.hash
        if changed:
            self.version += 1
        return changed

    def apply_tick_change(self, tick: Tick) -> None:
        """A new tick grid starts a new epoch. Resting levels stay: they are real orders still on
        the venue, and every coarser grid is a subset of the finer one. Quoting reads ``epoch`` to
        requote on the new grid."""
        if tick != self.tick:
            self.tick = tick
            self.epoch += 1
            self._stride = gcd(self._stride, tick.pips)
            self._bid_levels = self._ask_levels = None
            self.version += 1

    def _set(self, is_bid: bool, p: int, size: float) -> bool:
        if not 0 < p < MAX_PIPS:
            return False  # 0 and 1 are not tradable prices; never index outside the grid
        if p % self._stride:
            self._stride = gcd(self._stride, p)
            self._bid_levels = self._ask_levels = None
        if is_bid:
            arr = self.bids
            old = arr[p]
            if size > 0.0:
                arr[p] = size
                self._bid_levels = None
                if old == 0.0:
                    self.n_bids += 1
                    if p > self.best_bid:
                        self.best_bid = p
                return old != size
            if old == 0.0:
                return False
            arr[p] = 0.0
            self._bid_levels = None
            self.n_bids -= 1
            if p == self.best_bid:
                self.best_bid = self._scan_down(arr, p) if self.n_bids else NO_BID
            return True
        arr = self.asks
        old = arr[p]
        if size > 0.0:
            arr[p] = size
            self._ask_levels = None
            if old == 0.0:
                self.n_asks += 1
                if p < self.best_ask:
                    self.best_ask = p
            return old != size
        if old == 0.0:
            return False
        arr[p] = 0.0
        self._ask_levels = None
        self.n_asks -= 1
        if p == self.best_ask:
            self.best_ask = self._scan_up(arr, p) if self.n_asks else NO_ASK
        return True

    def _scan_down(self, arr: array[float], p: int) -> int:
        step = self._stride
        p -= step
        while p > 0 and not arr[p]:
            p -= step
        return p if p > 0 else NO_BID

    def _scan_up(self, arr: array[float], p: int) -> int:
        step = self._stride
        p += step
        while p < MAX_PIPS and not arr[p]:
            p += step
        return p if p < MAX_PIPS else NO_ASK

    # ----------------------------------------------------------------- reads

    def bid(self) -> int | None:
        return self.best_bid if self.best_bid != NO_BID else None

    def ask(self) -> int | None:
        return self.best_ask if self.best_ask != NO_ASK else None

    @property
    def crossed(self) -> bool:
        return self.best_bid != NO_BID and self.best_ask != NO_ASK and self.best_bid >= self.best_ask

    @property
    def mid(self) -> float | None:
        b, a = self.bid(), self.ask()
        return None if b is None or a is None else (b + a) / 2

    @property
    def spread(self) -> int | None:
        b, a = self.bid(), self.ask()
        return None if b is None or a is None else a - b

    @property
    def microprice(self) -> float | None:
        b, a = self.bid(), self.ask()
        if b is None or a is None:
            return None
        bs, as_ = self.bids[b], self.asks[a]
        return (b * as_ + a * bs) / (bs + as_)

    def bid_levels(self, n: int) -> tuple[Level, ...]:
        """Up to ``n`` bid levels, best first."""
        cache = type(n) is int and n >= 0
        levels = self._bid_levels
        if cache and levels is not None:  # the side has not changed since
            m = self._bid_n
            if n <= m or len(levels) < m:  # a prefix of the last result, or all the side holds
                return levels if n >= len(levels) else levels[:n]
        out: list[Level] = []
        arr, step, p, k = self.bids, self._stride, self.best_bid, n
        while p > 0 and k > 0:
            s = arr[p]
            if s:
                out.append(Level(p, s))
                k -= 1
            p -= step
        levels = tuple(out)
        if cache:
            self._bid_levels, self._bid_n = levels, n
        return levels

    def ask_levels(self, n: int) -> tuple[Level, ...]:
        """Up to ``n`` ask levels, best first."""
        cache = type(n) is int and n >= 0
        levels = self._ask_levels
        if cache and levels is not None:  # the side has not changed since
            m = self._ask_n
            if n <= m or len(levels) < m:  # a prefix of the last result, or all the side holds
                return levels if n >= len(levels) else levels[:n]
        out: list[Level] = []
        arr, step, p, k = self.asks, self._stride, self.best_ask, n
        while p < MAX_PIPS and k > 0:
            s = arr[p]
            if s:
                out.append(Level(p, s))
                k -= 1
            p += step
        levels = tuple(out)
        if cache:
            self._ask_levels, self._ask_n = levels, n
        return levels

    def depth(self, n: int) -> tuple[float, float]:
        """Total size in the best ``n`` levels: (bids, asks)."""
        return (sum(lv.size for lv in self.bid_levels(n)), sum(lv.size for lv in self.ask_levels(n)))

    def levels_for(self, token_id: str) -> tuple[list[Level], list[Level]]:
        """All levels as the given token's book, worst→best like the REST ``/book``."""
        bids = [Level(p, s) for p, s in enumerate(self.bids) if s]
        asks = [Level(p, s) for p, s in enumerate(self.asks) if s]
        if token_id == self.no_token:
            nb = [Level(MAX_PIPS - lv.price, lv.size) for lv in asks]  # YES asks → NO bids
            na = [Level(MAX_PIPS - lv.price, lv.size) for lv in bids]
            nb.sort()
            na.sort(reverse=True)
            return nb, na
        asks.sort(reverse=True)
        return bids, asks

    def view(self, depth: int = 10) -> BookView:
        b: int | None = None
        a: int | None = None
        bid_size = ask_size = 0.0
        if self.best_bid != NO_BID:
            b = self.best_bid
            bid_size = self.bids[b]
        if self.best_ask != NO_ASK:
            a = self.best_ask
            ask_size = self.asks[a]
        return BookView(
            self.condition_id,
            self.epoch,
            self.version,
            self.tick,
            b,
            a,
            bid_size,
            ask_size,
            self.bid_levels(depth),
            self.ask_levels(depth),
            self.last_trade,
            self.timestamp,
        )
