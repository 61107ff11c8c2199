"""Client-side rate limiting: token buckets that follow the venue's documented limits, served by priority.

The venue meters each signer with token buckets (docs/protocol.md §8): an order costs 1, a cancelled id
costs 1, and past the bucket it answers 429 (``Retry-After``); Cloudflare meters each route per 10 s
(burst) and per 10 min (sustained) and delays what exceeds. A bot quoting hundreds of markets spends
those buckets faster than they refill, so it must pace itself: a 429 is a quote not placed and, for a
cancel, a risk not taken off. ``RateLimiter`` holds one bucket per limit and gives each request kind
the buckets it draws from; a request waits until every one of them has room.

**Priority.** Waiters are served in ``Priority`` order, first come first served within one: a cancel
never waits behind a new quote, a risk reduction (a flatten, a fill-and-kill take) never behind a
requote. A waiter that cannot be served blocks every later waiter that shares one of its buckets, so
a stream of small quotes cannot starve a larger cancel. Quotes also leave ``reserve`` tokens of each
bucket to the higher priorities, so a reduction finds room at once even while quotes queue.

**The kill.** ``force`` takes tokens without waiting and may drive a bucket negative, as the venue's
``DELETE /cancel-all`` does (it is always admitted): the kill switch is never paced.

**Headroom.** The client's buckets run ``headroom`` below the venue's (10 % by default), so requests
that reach the venue bunched together by the network still fit its buckets.

The limiter lives on the event loop (not thread-safe); ``clock`` is injectable for tests.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum


class Abandoned(Exception):
    """A wait the limiter gave up on (``abandon``: a kill drops the placements still waiting)."""


class Priority(IntEnum):
    """Who goes first when the buckets are short (lower first)."""

    CANCEL = 0  # cancels: taking quotes down is never paced behind putting them up
    REDUCE = 1  # orders that take risk off: flatten, fill-and-kill takes
    QUOTE = 2  # new quotes and requotes
    READ = 3  # book snapshots and other reads the trading does not wait on


@dataclass(frozen=True, slots=True)
class Rate:
    """A token bucket's refill rate (tokens per second) and capacity (its burst)."""

    per_s: float
    burst: float

    @classmethod
    def per_window(cls, count: float, window_s: float) -> Rate:
        """``count`` requests per ``window_s`` seconds (Cloudflare's way of stating a limit)."""
        return cls(count / window_s, count)


class TokenBucket:
    """A classic token bucket: ``burst`` tokens at most, refilled at ``per_s`` a second."""

    __slots__ = ("_at", "_clock", "name", "rate", "tokens")

    def __init__(self, name: str, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        if rate.per_s <= 0 or rate.burst <= 0:
            raise ValueError(f"{name}: a rate needs per_s > 0 and burst > 0, "
                             f"got {rate.per_s:g}/s, burst {rate.burst:g}")
        self.name = name
        self.rate = rate
        self.tokens = float(rate.burst)
        self._clock = clock
        self._at = clock()

    def refill(self) -> float:
        """The tokens now (refilled for the time since the last look)."""
        now = self._clock()
        if now > self._at:
            self.tokens = min(self.rate.burst, self.tokens + (now - self._at) * self.rate.per_s)
            self._at = now
        return self.tokens

    def room(self, cost: float, reserve: float = 0.0) -> bool:
        """Whether ``cost`` tokens can be taken now, leaving ``reserve``."""
        return self.refill() - reserve >= cost - 1e-9

    def eta(self, cost: float, reserve: float = 0.0) -> float:
        """Seconds until ``cost`` tokens (plus ``reserve``) will be there, 0 when they are now."""
        short = cost + reserve - self.refill()
        return max(short / self.rate.per_s, 0.0)

    def take(self, cost: float) -> None:
        """Take ``cost`` tokens (the bucket may go negative: ``RateLimiter.force``)."""
        self.refill()
        self.tokens -= cost

    def drain(self, seconds: float) -> None:
        """The venue said "too many" and to wait ``seconds``: nothing is left until then."""
        self.refill()
        self.tokens = min(self.tokens, -seconds * self.rate.per_s)


class WireBucket:
    """The last line before the venue: a thread-safe token bucket charged by the worker thread the very
    moment a request leaves. The event-loop limiter decides who goes first; but a request it admitted
    can still wait in the worker pool, and requests admitted over a second can then leave together —
    the venue, which charges on arrival, sees a burst (measured: 39 refusals in a 300-market run). This
    bucket holds each request until the venue's bucket (less half the headroom) can take it.
    ``blocked()`` aborts the wait (a kill closed the gate)."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._bucket = TokenBucket("wire", rate, clock)
        self._lock = threading.Lock()
        self._sleep = sleep
        self.waits = 0  # requests that had to wait here (the pool released a burst)

    def take(self, n: float, blocked: Callable[[], bool] = lambda: False) -> bool:
        """Wait until ``n`` tokens are there and take them; False when ``blocked()`` turned true first."""
        n = min(n, self._bucket.rate.burst)
        waited = False
        while True:
            with self._lock:
                if self._bucket.room(n):
                    self._bucket.take(n)
                    return True
                wait = self._bucket.eta(n)
            if blocked():
                return False
            if not waited:
                waited = True
                self.waits += 1
            self._sleep(min(max(wait, 0.001), 0.05))

    def try_take(self, n: float) -> bool:
        """Take ``n`` tokens if they are there now (never waits)."""
        with self._lock:
            n = min(n, self._bucket.rate.burst)
            if self._bucket.room(n):
                self._bucket.take(n)
                return True
        return False

    def give_back(self, n: float) -> None:
        """Tokens taken for a request that did not leave after all (up to the burst)."""
        with self._lock:
            b = self._bucket
            b.refill()
            b.tokens = min(b.tokens + min(n, b.rate.burst), b.rate.burst)

    def force(self, n: float) -> None:
        """Charge what left without asking (a cancel-all: always admitted, the bucket may go negative)."""
        with self._lock:
            self._bucket.take(n)


@dataclass(frozen=True, slots=True)
class VenueLimits:
    """The venue's limits a polymm client paces itself by (docs/protocol.md §8).

    ``orders``/``cancels``: the per-signer buckets (standard tier: 40 orders/s with a burst of 60, 80
    cancelled ids/s with a burst of 120). The rest are Cloudflare's per-route limits (requests; burst per
    10 s, sustained per 10 min)."""

    orders: Rate = Rate(40.0, 60.0)
    cancels: Rate = Rate(80.0, 120.0)
    post_orders: tuple[Rate, ...] = (Rate.per_window(2_000, 10), Rate.per_window(21_000, 600))
    delete_orders: tuple[Rate, ...] = (Rate.per_window(2_000, 10), Rate.per_window(15_000, 600))
    books: tuple[Rate, ...] = (Rate.per_window(500, 10),)
    book: tuple[Rate, ...] = (Rate.per_window(1_500, 10),)
    balance: tuple[Rate, ...] = (Rate.per_window(200, 10),)  # GET /balance-allowance
    headroom: float = 0.1  # the client runs this fraction below the venue's rates and bursts
    reserve: float = 0.1  # quotes leave this fraction of each bucket to cancels and reductions

    def scaled(self, rate: Rate, headroom: float | None = None) -> Rate:
        k = 1.0 - (self.headroom if headroom is None else headroom)
        return Rate(rate.per_s * k, max(rate.burst * k, 1.0))

    def wire(self, rate: Rate) -> Rate:
        """A ``WireBucket``'s rate: half the headroom (the event-loop limiter keeps the whole of it)."""
        return self.scaled(rate, self.headroom / 2)


#: the standard tier (docs/protocol.md §8)
STANDARD = VenueLimits()

#: request kind → the buckets it draws from, each with its cost per unit ("n": per order or id, "1": per request)
KINDS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "order": (("orders", "n"), ("post_orders", "1")),
    "cancel": (("cancels", "n"), ("delete_orders", "1")),
    "books": (("books", "1"),),
    "book": (("book", "1"),),
    "balance": (("balance", "1"),),
}


@dataclass
class _Waiter:
    priority: int
    seq: int
    kind: str = field(compare=False)
    n: float = field(compare=False)
    future: asyncio.Future = field(compare=False)


class RateLimiter:
    """Token buckets for the venue's limits, handed out by priority (see the module docstring)."""

    def __init__(self, limits: VenueLimits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or VenueLimits()
        self._clock = clock
        lim = self.limits
        self.buckets: dict[str, list[TokenBucket]] = {
            "orders": [TokenBucket("orders", lim.scaled(lim.orders), clock)],
            "cancels": [TokenBucket("cancels", lim.scaled(lim.cancels), clock)],
            "post_orders": [TokenBucket(f"post_orders/{i}", lim.scaled(r), clock)
                            for i, r in enumerate(lim.post_orders)],
            "delete_orders": [TokenBucket(f"delete_orders/{i}", lim.scaled(r), clock)
                              for i, r in enumerate(lim.delete_orders)],
            "books": [TokenBucket(f"books/{i}", lim.scaled(r), clock) for i, r in enumerate(lim.books)],
            "book": [TokenBucket(f"book/{i}", lim.scaled(r), clock) for i, r in enumerate(lim.book)],
            "balance": [TokenBucket(f"balance/{i}", lim.scaled(r), clock) for i, r in enumerate(lim.balance)],
        }
        # the waiters, first come first served within one (priority, kind): a waiter that cannot be
        # served blocks the rest of its queue (same buckets), so a pump looks at the queues' heads only —
        # the reconciliation's ~600 balance reads at 300 markets wait here at once, and sorting every
        # waiter on each grant (and scanning them all for each order's ``can``) took the loop 3-18 ms a time
        self._queues: dict[tuple[int, str], deque[_Waiter]] = {}
        self._name_sets: dict[str, frozenset[str]] = {}
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self.granted: dict[Priority, int] = {p: 0 for p in Priority}
        self.waited = 0  # requests that had to wait
        self._held: deque[float] = deque()  # times requests were held back (the last minute's count)

    # ------------------------------------------------------------------ what a request costs
    def _costs(self, kind: str, n: float) -> Iterable[tuple[TokenBucket, float]]:
        try:
            spec = KINDS[kind]
        except KeyError:
            raise ValueError(f"rate limiter: unknown request kind {kind!r} (one of {', '.join(KINDS)})") from None
        for name, unit in spec:
            for b in self.buckets[name]:
                yield b, (n if unit == "n" else 1.0)

    def capacity(self, kind: str) -> float:
        """The most units one request of ``kind`` may ask for (a larger one must be split); unbounded
        for kinds metered per request only."""
        return min((b.rate.burst for name, unit in KINDS[kind] if unit == "n" for b in self.buckets[name]),
                   default=math.inf)

    def _reserve(self, b: TokenBucket, priority: int) -> float:
        return b.rate.burst * self.limits.reserve if priority >= Priority.QUOTE else 0.0

    def _fits(self, kind: str, n: float, priority: int) -> bool:
        return all(b.room(c, self._reserve(b, priority)) for b, c in self._costs(kind, n))

    def _eta(self, kind: str, n: float, priority: int) -> float:
        return max(b.eta(c, self._reserve(b, priority)) for b, c in self._costs(kind, n))

    def _names(self, kind: str) -> frozenset[str]:
        names = self._name_sets.get(kind)
        if names is None:
            names = self._name_sets[kind] = frozenset(b.name for b, _ in self._costs(kind, 1))
        return names

    @staticmethod
    def _live(queue: deque[_Waiter]) -> bool:
        """Whether ``queue`` holds a waiter still waiting (the cancelled ones at its head are dropped)."""
        while queue and queue[0].future.done():
            queue.popleft()
        return bool(queue)

    def _ahead(self, kind: str, priority: int) -> bool:
        """Whether a waiter at ``priority`` or better wants one of the buckets ``kind`` draws from."""
        names = self._names(kind)
        return any(p <= priority and self._names(k) & names and self._live(q) for (p, k), q in self._queues.items())

    # ------------------------------------------------------------------ asking
    def can(self, kind: str, n: float, priority: Priority = Priority.QUOTE) -> bool:
        """Whether ``acquire(kind, n, priority)`` would be granted at once (a peek: nothing is taken)."""
        return not self._ahead(kind, priority) and self._fits(kind, n, priority)

    def eta(self, kind: str, n: float, priority: Priority = Priority.QUOTE) -> float:
        """Seconds until the buckets alone would admit it (waiters ahead not counted)."""
        return self._eta(kind, n, priority)

    def try_acquire(self, kind: str, n: float, priority: Priority = Priority.QUOTE) -> bool:
        """Take the tokens if they are there now and nobody of higher priority waits for them."""
        if not self.can(kind, n, priority):
            return False
        self._take(kind, n, priority)
        return True

    async def acquire(self, kind: str, n: float, priority: Priority = Priority.QUOTE) -> float:
        """Wait until ``n`` units of ``kind`` may be sent, by priority; the seconds waited."""
        if n > self.capacity(kind):
            raise ValueError(f"rate limiter: {kind} of {n:g} exceeds the bucket ({self.capacity(kind):g}); split it")
        if self.try_acquire(kind, n, priority):
            return 0.0
        start = self._clock()
        self.waited += 1
        self._held.append(start)
        w = _Waiter(int(priority), next(self._seq), kind, n, asyncio.get_running_loop().create_future())
        self._queues.setdefault((w.priority, kind), deque()).append(w)
        self._pump()
        try:
            await w.future
        except asyncio.CancelledError:
            if w.future.done() and not w.future.cancelled():  # granted as we were cancelled: give the tokens back
                for b, c in self._costs(kind, n):
                    b.tokens += c
            raise
        finally:
            self._pump()
        return self._clock() - start

    def force(self, kind: str, n: float) -> None:
        """Take the tokens now, whatever is left (the kill's cancel-all: the venue always admits it)."""
        for b, c in self._costs(kind, n):
            b.take(c)
        self.granted[Priority.CANCEL] += 1

    def refused(self, kind: str, retry_after_s: float) -> None:
        """The venue answered 429 anyway (another client on the signer, a lower tier): the signer's
        bucket of ``kind`` is empty until ``retry_after_s`` has passed. Only that one: a 429 with a
        Retry-After is the per-signer bucket's answer (Cloudflare's route limits queue instead), and
        draining a ten-minute route bucket as well held every quote for a minute after a 50 ms 429
        (its quote reserve, 10% of 18,900 requests, then took 60 s to refill)."""
        signer = [b for name, unit in KINDS[kind] if unit == "n" for b in self.buckets[name]]
        for b in signer or [b for b, _ in self._costs(kind, 1)]:
            b.drain(max(retry_after_s, 0.0))

    def abandon(self, kind: str) -> int:
        """Fail every wait for ``kind`` with ``Abandoned`` (the kill: quotes still waiting are never
        sent); how many there were."""
        n = 0
        for (_, k), queue in list(self._queues.items()):
            if k != kind:
                continue
            for w in queue:
                if not w.future.done():
                    w.future.set_exception(Abandoned(f"{kind} abandoned"))
                    n += 1
            queue.clear()
        return n

    def poke(self) -> None:
        """Serve the queue now (the clock moved: tests with a manual clock)."""
        self._pump()

    # ------------------------------------------------------------------ what the status bar shows
    @property
    def queued(self) -> int:
        return sum(1 for queue in self._queues.values() for w in queue if not w.future.done())

    def held_recently(self, window_s: float = 60.0) -> int:
        """Requests held back (made to wait) in the last ``window_s`` seconds."""
        cutoff = self._clock() - window_s
        while self._held and self._held[0] < cutoff:
            self._held.popleft()
        return len(self._held)

    # ------------------------------------------------------------------ serving the queue
    def _take(self, kind: str, n: float, priority: int) -> None:
        for b, c in self._costs(kind, n):
            b.take(c)
        self.granted[Priority(priority)] += 1

    def _pump(self) -> None:
        """Grant every waiter that fits, in priority order; one blocked waiter blocks the later ones that
        share a bucket with it. Then sleep until the first blocked one could fit. Only the queues' heads
        are looked at: the rest of a queue draws from the same buckets as its head."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        heads = [(q[0].priority, q[0].seq, key) for key, q in self._queues.items() if self._live(q)]
        heapq.heapify(heads)
        blocked: set[str] = set()
        soonest: float | None = None
        while heads:
            _, _, key = heapq.heappop(heads)
            queue = self._queues[key]
            w = queue[0]
            names = self._names(w.kind)
            if names & blocked:
                continue
            if self._fits(w.kind, w.n, w.priority):
                self._take(w.kind, w.n, w.priority)
                w.future.set_result(None)
                queue.popleft()
                if self._live(queue):
                    heapq.heappush(heads, (queue[0].priority, queue[0].seq, key))
                continue
            eta = self._eta(w.kind, w.n, w.priority)
            soonest = eta if soonest is None else min(soonest, eta)
            blocked |= names
        for key in [key for key, q in self._queues.items() if not q]:
            del self._queues[key]
        if self._queues and soonest is not None:
            self._timer = asyncio.get_running_loop().call_later(max(soonest, 0.001), self._pump)
