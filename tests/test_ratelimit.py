"""The client-side rate limiter (polymm/venue/ratelimit.py): buckets, priority, the kill's way through."""

from __future__ import annotations

import asyncio

import pytest

from polymm.venue.ratelimit import Priority, Rate, RateLimiter, TokenBucket, VenueLimits


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def limiter(clock: Clock) -> RateLimiter:
    """Venue limits without headroom or Cloudflare's routes getting in the way, so costs are exact."""
    big = (Rate(1e6, 1e6),)
    return RateLimiter(VenueLimits(orders=Rate(10, 10), cancels=Rate(20, 20), post_orders=big, delete_orders=big,
                                   books=big, headroom=0.0, reserve=0.2), clock)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    clock = Clock()
    b = TokenBucket("orders", Rate(10, 20), clock)
    b.take(20)
    assert not b.room(1)
    assert b.eta(5) == pytest.approx(0.5)
    clock.t += 0.5
    assert b.room(5) and not b.room(6)
    clock.t += 100
    assert b.refill() == 20  # never above the burst


def test_a_rate_must_be_positive_and_the_error_names_it() -> None:
    with pytest.raises(ValueError, match=r"orders: .*per_s > 0"):
        TokenBucket("orders", Rate(0, 10))


async def test_waiters_are_served_cancels_then_reductions_then_quotes_each_in_arrival_order() -> None:
    clock = Clock()
    lim = limiter(clock)
    assert lim.try_acquire("order", 10, Priority.REDUCE)  # the order bucket is empty now
    lim.force("cancel", 20)  # and the cancel bucket too
    served: list[str] = []

    async def ask(name: str, kind: str, n: float, p: Priority) -> None:
        await lim.acquire(kind, n, p)
        served.append(name)

    tasks = [asyncio.create_task(ask(name, kind, n, p)) for name, kind, n, p in [
        ("quote-1", "order", 2, Priority.QUOTE),
        ("reduce-1", "order", 2, Priority.REDUCE),
        ("quote-2", "order", 2, Priority.QUOTE),
        ("cancel-1", "cancel", 2, Priority.CANCEL),
        ("reduce-2", "order", 2, Priority.REDUCE),
    ]]
    await settle()
    assert served == [] and lim.queued == 5
    clock.t += 0.2  # 2 order tokens, 4 cancel tokens
    lim.poke()
    await settle()
    assert served == ["cancel-1", "reduce-1"]
    clock.t += 0.2
    lim.poke()
    await settle()
    assert served == ["cancel-1", "reduce-1", "reduce-2"]
    clock.t += 0.4  # 4 tokens, but quotes leave the 2-token reserve: one quote now
    lim.poke()
    await settle()
    assert served == ["cancel-1", "reduce-1", "reduce-2", "quote-1"]
    clock.t += 1.0
    lim.poke()
    await asyncio.gather(*tasks)
    assert served[-1] == "quote-2"
    assert lim.queued == 0 and lim.held_recently() == 5


async def test_a_waiter_that_cannot_be_served_blocks_later_ones_on_its_bucket() -> None:
    """A big cancel is not starved by a stream of small ones that would each fit."""
    clock = Clock()
    lim = limiter(clock)
    lim.force("cancel", 20)
    big = asyncio.create_task(lim.acquire("cancel", 15, Priority.CANCEL))
    await settle()
    clock.t += 0.1  # 2 tokens: enough for a small cancel, not the big one
    assert not lim.can("cancel", 1, Priority.CANCEL)  # someone is ahead
    assert not lim.try_acquire("cancel", 1, Priority.CANCEL)
    assert lim.can("order", 1, Priority.QUOTE)  # another bucket is not blocked
    clock.t += 1.0
    lim.poke()
    await asyncio.wait_for(big, 1.0)


async def test_quotes_leave_the_reserve_to_reductions() -> None:
    clock = Clock()
    lim = limiter(clock)
    assert lim.try_acquire("order", 8, Priority.QUOTE)  # 10 − 8 = 2 left: the reserve (20 % of 10)
    assert not lim.can("order", 1, Priority.QUOTE)
    assert lim.try_acquire("order", 2, Priority.REDUCE)


async def test_the_kill_is_never_paced_and_the_bucket_goes_negative() -> None:
    clock = Clock()
    lim = limiter(clock)
    lim.force("cancel", 50)  # a cancel-all of 50 orders with 20 tokens
    assert lim.buckets["cancels"][0].tokens == pytest.approx(-30)
    assert lim.eta("cancel", 1, Priority.CANCEL) == pytest.approx(31 / 20)


async def test_a_429_empties_the_bucket_until_retry_after() -> None:
    clock = Clock()
    lim = limiter(clock)
    lim.refused("order", 2.0)
    assert not lim.can("order", 1, Priority.REDUCE)
    clock.t += 2.0
    assert not lim.can("order", 1, Priority.REDUCE)  # empty again only after retry-after …
    clock.t += 0.1
    assert lim.can("order", 1, Priority.REDUCE)  # … then refilling at the rate


async def test_a_429_drains_only_the_signers_bucket_not_the_routes_ten_minute_budget() -> None:
    """The default limits: a 50 ms Retry-After must not hold quotes for the minute a drained ten-minute
    route bucket (18,900 requests, 10% kept from quotes) would take to refill."""
    clock = Clock()
    lim = RateLimiter(clock=clock)
    lim.refused("order", 0.05)
    assert not lim.can("order", 4, Priority.QUOTE)
    assert lim.eta("order", 4, Priority.QUOTE) < 1.0
    clock.t += lim.eta("order", 4, Priority.QUOTE)
    assert lim.can("order", 4, Priority.QUOTE)


async def test_a_request_larger_than_the_bucket_must_be_split() -> None:
    lim = limiter(Clock())
    with pytest.raises(ValueError, match="exceeds the bucket"):
        await lim.acquire("cancel", 21, Priority.CANCEL)
    assert lim.capacity("cancel") == 20


def test_the_default_limits_run_below_the_venues_standard_tier() -> None:
    lim = RateLimiter()
    orders = lim.buckets["orders"][0].rate
    assert orders.per_s == pytest.approx(36) and orders.burst == pytest.approx(54)
    assert lim.capacity("cancel") == pytest.approx(108)


async def test_the_kill_abandons_placements_still_waiting() -> None:
    from polymm.venue.ratelimit import Abandoned

    clock = Clock()
    lim = limiter(clock)
    assert lim.try_acquire("order", 10, Priority.REDUCE)
    waiting = asyncio.create_task(lim.acquire("order", 2, Priority.QUOTE))
    cancel = asyncio.create_task(lim.acquire("cancel", 2, Priority.CANCEL))  # not an order: not abandoned
    await settle()
    assert lim.abandon("order") == 1
    with pytest.raises(Abandoned):
        await waiting
    assert await cancel == 0.0 and lim.queued == 0


async def test_reads_metered_per_request_take_one_token_each() -> None:
    clock = Clock()
    lim = RateLimiter(VenueLimits(books=(Rate(1, 3),), headroom=0.0), clock)
    assert await lim.acquire("books", 1, Priority.READ) == 0.0
    assert await lim.acquire("books", 1, Priority.READ) == 0.0
    assert not lim.can("books", 1, Priority.READ)  # the third would dip into the reserve: it waits
    assert lim.capacity("books") == float("inf")


async def test_hundreds_of_reads_waiting_cost_an_order_nothing_and_leave_in_arrival_order() -> None:
    """At 300 markets the reconciliation's ~600 balance reads wait for their bucket at once. Sorting every
    waiter on each grant, and scanning them all for each order's ``can``, took the event loop 3-18 ms a
    time: a pump looks at the head of each (priority, kind) queue only, and an order's ``can`` at the
    queues — what it costs does not grow with the reads waiting."""
    clock = Clock()
    lim = RateLimiter(VenueLimits(balance=(Rate(10, 10),), headroom=0.0), clock)
    for _ in range(10):
        lim.force("balance", 1)  # empty: every read waits
    served: list[int] = []

    async def read(i: int) -> None:
        await lim.acquire("balance", 1, Priority.READ)
        served.append(i)

    tasks = [asyncio.create_task(read(i)) for i in range(600)]
    await settle()
    assert lim.queued == 600
    looked: list[str] = []
    names = lim._names
    lim._names = lambda kind: (looked.append(kind), names(kind))[1]  # type: ignore[method-assign]  # counts the work
    assert lim.can("order", 1, Priority.QUOTE)
    lim.poke()
    assert len(looked) <= 4  # the order, and the one queue of reads: not 600 waiters
    clock.t += 2.0  # the bucket full again
    looked.clear()
    lim.poke()
    await settle()
    # the burst less the reserve; the work: a head per grant, and a look at the one queue per pump (each
    # granted read pumps once more as it leaves) — 19 here, not 600 per pump
    assert served == list(range(9)) and len(looked) <= 2 * len(served) + 2
    for _ in range(200):  # nine a second (the burst less the reserve): the rest within ~66 s of the clock
        if len(served) == 600:
            break
        clock.t += 1.0
        lim.poke()
        await settle()
    await asyncio.wait_for(asyncio.gather(*tasks), 5.0)
    assert served == list(range(600)) and lim.queued == 0


def test_the_wire_bucket_holds_a_burst_the_worker_pool_releases_at_once() -> None:
    """Requests admitted over time can leave a busy worker pool together; the venue charges them as they
    arrive. The wire bucket holds each until the venue's bucket could take it, or gives up on a kill."""
    from polymm.venue.ratelimit import WireBucket

    clock = Clock()
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        clock.t += s

    wire = WireBucket(Rate(10, 10), clock, sleep)
    start = clock.t
    for _ in range(4):  # four batches of 5 leave the pool at once: 20 orders against a bucket of 10
        assert wire.take(5)
    assert clock.t - start == pytest.approx(1.0, abs=0.06)  # the last 10 waited for the refill
    assert wire.waits == 2 and slept
    wire.force(30)  # a cancel-all is never held: the bucket goes negative
    assert not wire.take(5, blocked=lambda: True)  # a kill while waiting: not sent


def test_the_wire_bucket_takes_at_once_or_not_at_all_and_takes_back_what_did_not_leave() -> None:
    """A post written from the event loop's thread (``LiveExecution._send_ready``) never waits for the
    venue's bucket: ``try_take`` takes the room there is now or nothing; what it took for a request that
    did not leave after all goes back (``give_back``, never past the burst)."""
    from polymm.venue.ratelimit import WireBucket

    clock = Clock()

    def sleep(s: float) -> None:
        raise AssertionError(f"slept {s}")

    wire = WireBucket(Rate(10, 10), clock, sleep)
    assert wire.try_take(6) and not wire.try_take(5)  # 4 left: nothing taken
    assert wire.try_take(4) and not wire.try_take(1)
    wire.give_back(4)  # that request did not leave
    assert wire.try_take(4) and not wire.try_take(1)
    wire.give_back(100)  # never past the burst
    assert wire.try_take(10) and not wire.try_take(1)
    assert wire.waits == 0
