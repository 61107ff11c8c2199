"""The order path's lane (venue/lane.py): requests go at once while a worker is free, and merge across
markets — cancels first — while every worker is busy. Unit tests on the lane itself, then the real
order path (py-clob-client-v2 against the stand-in) merging several markets' posts and cancels."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from polymm.domain.market import Side
from polymm.venue.execution import OrderRequest
from polymm.venue.http_clients import sdk_pool
from polymm.venue.lane import Lane, split_cancels, split_in_order
from polymm_standin.server import run_exchange

pytestmark = pytest.mark.asyncio


class Sends:
    """A lane's two kinds, recording every merged request; a request waits until ``release`` is set."""

    def __init__(self, lane: Lane) -> None:
        self.sent: list[tuple[str, list, list[int]]] = []
        self.release = asyncio.Event()
        lane.add("cancel", self.cancel, split_cancels, 120)
        lane.add("post", self.post, split_in_order, 15)

    async def cancel(self, ids: list, tags: list[int]) -> dict:
        self.sent.append(("cancel", ids, tags))
        await self.release.wait()
        return {"canceled": [i for i in ids if i != "refused"], "not_canceled": {"refused": "matched"}}

    async def post(self, items: list, tags: list[int]) -> list:
        self.sent.append(("post", items, tags))
        await self.release.wait()
        return [f"ok {i}" for i in items]


async def test_requests_go_at_once_while_a_worker_is_free() -> None:
    lane = Lane(2)
    s = Sends(lane)
    a = asyncio.ensure_future(lane.submit("post", [1, 2], 10))
    b = asyncio.ensure_future(lane.submit("post", [3], 11))
    while len(s.sent) < 2:
        await asyncio.sleep(0)
    assert s.sent == [("post", [1, 2], [10]), ("post", [3], [11])] and lane.busy == 2
    s.release.set()
    assert await a == ["ok 1", "ok 2"] and await b == ["ok 3"]
    assert lane.busy == 0 and lane.merged == 0


async def test_waiting_requests_merge_per_kind_cancels_first_each_batch_whole() -> None:
    lane = Lane(1)
    s = Sends(lane)
    first = asyncio.ensure_future(lane.submit("post", ["x"], 1))
    while not s.sent:
        await asyncio.sleep(0)
    waiting = [asyncio.ensure_future(c) for c in (
        lane.submit("post", list(range(5)), 2), lane.submit("post", list(range(5, 11)), 3),
        lane.submit("post", list(range(11, 18)), 4),  # 7 more would make 18 > 15: its own request
        lane.submit("cancel", ["a", "refused"]), lane.submit("cancel", ["c"]))]
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(s.sent) == 1 and lane.waiting("post") == 3 and lane.waiting("cancel") == 2
    s.release.set()
    results = await asyncio.gather(first, *waiting)
    assert [(kind, tags) for kind, _, tags in s.sent] == [
        ("post", [1]), ("cancel", [0, 0]), ("post", [2, 3]), ("post", [4])]
    assert s.sent[1][1] == ["a", "refused", "c"] and s.sent[2][1] == list(range(11))
    assert results[1] == [f"ok {i}" for i in range(5)] and results[2] == [f"ok {i}" for i in range(5, 11)]
    assert results[3] == [f"ok {i}" for i in range(11, 18)]
    assert results[4] == {"canceled": ["a"], "not_canceled": {"refused": "matched"}}
    assert results[5] == {"canceled": ["c"], "not_canceled": {}}
    assert lane.merged == 2 and lane.busy == 0


async def test_a_merged_request_that_fails_fails_for_every_caller_and_frees_its_worker() -> None:
    lane = Lane(1)
    gate = asyncio.Event()
    calls: list[list] = []

    async def post(items: list, tags: list[int]) -> list:
        calls.append(items)
        await gate.wait()
        if len(calls) == 2:
            raise ConnectionError("no answer")
        return list(items)

    lane.add("post", post, split_in_order, 15)
    first = asyncio.ensure_future(lane.submit("post", [1]))
    while not calls:
        await asyncio.sleep(0)
    a, b = asyncio.ensure_future(lane.submit("post", [2])), asyncio.ensure_future(lane.submit("post", [3]))
    await asyncio.sleep(0)
    gate.set()
    assert await first == [1]
    for f in (a, b):
        with pytest.raises(ConnectionError):
            await f
    assert calls == [[1], [2, 3]] and lane.busy == 0
    assert await lane.submit("post", [4]) == [4]  # the worker is free again: at once


async def test_markets_stepping_together_share_posts_and_cancels_at_the_venue(monkeypatch: pytest.MonkeyPatch) -> None:
    """One worker each for posts and cancels, six markets requoting at once (the real SDK, the
    stand-in): the first market's post goes alone, the other five wait for the worker and go as one
    ``POST /orders`` (10 orders); their cancels go as one ``DELETE /orders``. Every order lands in its
    own market, and each market's frame gets its tick-to-trade figure."""
    from engines import Live

    async with run_exchange(port=0, seed=41, flow=False) as ex, Live(ex, workers=1, cancel_workers=1) as exe:
        posts: list[int] = []  # the orders of each POST /orders written to the venue
        cancels: list[int] = []
        client = exe._client
        cancel_orders = client.cancel_orders
        pool = sdk_pool()
        assert pool is not None
        send_ready, send = pool.send_ready, pool.send

        def counting(write):
            def written(prepared):
                out = write(prepared)
                if out is not None:
                    posts.append(len(json.loads(prepared.body)))
                return out
            return written

        def counting_cancel(ids, *a, **k):
            cancels.append(len(ids))
            return cancel_orders(ids, *a, **k)

        client.cancel_orders = counting_cancel
        monkeypatch.setattr(pool, "send_ready", counting(send_ready))
        monkeypatch.setattr(pool, "send", counting(send))
        markets = ex.markets[:6]
        reqs = {}
        for m in markets:
            book = ex.matching.book(m.yes_token)
            bid, ask = book.bids[-1][0] - 3 * m.tick.pips, book.asks[-1][0] + 3 * m.tick.pips
            reqs[m.condition_id] = [OrderRequest(Side.BUY, bid, Decimal(10)), OrderRequest(Side.SELL, ask, Decimal(10))]
        before = len(exe.tick_to_trade)
        ids = await asyncio.gather(*(exe.place_many(m, None, reqs[m.condition_id], origin_ns=i + 1)
                                     for i, m in enumerate(markets)))
        assert [len(x) for x in ids] == [2] * 6
        assert posts == [2, 10]
        assert len(exe.tick_to_trade) - before == 6
        key = exe.api_key
        for m, placed in zip(markets, ids, strict=True):
            mine = ex.matching.open_orders(key)
            assert {o.id for o in mine if o.market.condition_id == m.condition_id} == set(placed)
        done = await asyncio.gather(*(exe.cancel(x) for x in ids))
        assert [sorted(d) for d in done] == [sorted(x) for x in ids]
        assert cancels == [2, 10]
        assert ex.matching.open_orders(key) == []
        assert exe.open_orders() == []


async def test_a_placement_reaches_a_worker_within_the_turn_that_asked_for_it() -> None:
    """Tick-to-trade: with room at the rate limiter and a free worker, ``place_many`` signs the batch and
    hands it to a worker before the event loop turns again. The loop is then blocked outright (a
    thread's wait): only a request already with a worker can reach the SDK's ``post_orders`` (a task
    would start a turn later, and fails this). A requote's cancels meanwhile have their own lane."""
    import threading

    from engines import Live

    async with run_exchange(port=0, seed=43, flow=False) as ex, Live(ex) as exe:
        called = threading.Event()
        client = exe._client
        post_orders = client.post_orders

        def spy(args, *a, **k):
            called.set()
            return post_orders(args, *a, **k)

        client.post_orders = spy
        m = ex.markets[0]
        book = ex.matching.book(m.yes_token)
        bid = book.bids[-1][0] - 3 * m.tick.pips
        placing = asyncio.ensure_future(exe.place_many(m, None, [OrderRequest(Side.BUY, bid, Decimal(10))], 7))
        await asyncio.sleep(0)  # one turn: the placement's own synchronous part
        assert called.wait(10)  # the loop stays blocked while we wait
        ids = await placing
        assert len(ids) == 1 and {o.id for o in ex.matching.open_orders(exe.api_key)} == set(ids)
        assert exe._lane.busy == 0  # the worker it held is free again


async def test_a_post_leaves_for_the_venue_before_the_step_that_made_it_moves_on(monkeypatch) -> None:
    """``_post_now`` hands the batch to a worker and then waits, the interpreter given up, until the worker
    has it on its way (at most ``HANDOFF_WAIT_S``): the request leaves now, not once the worker has waited
    out the event loop's switch interval (at 300 markets ~1.2 ms of tick-to-trade at the median). Here the
    worker is slow to reach the socket (50 ms) and the wait's bound is lifted: the post has left — its
    tick-to-trade is counted — when ``_post_now`` returns."""
    import time

    from engines import Live

    from polymm.venue import live

    monkeypatch.setattr(live, "HANDOFF_WAIT_S", 60.0)
    async with run_exchange(port=0, seed=43, flow=False) as ex, Live(ex, workers=1, cancel_workers=1) as exe:
        take = exe._wire_orders.take

        def slow_take(*a, **k):
            time.sleep(0.05)
            return take(*a, **k)

        exe._wire_orders.take = slow_take
        m = ex.markets[0]
        book = ex.matching.book(m.yes_token)
        reqs = [OrderRequest(Side.BUY, book.bids[-1][0] - 3 * m.tick.pips, Decimal(10)),
                OrderRequest(Side.SELL, book.asks[-1][0] + 3 * m.tick.pips, Decimal(10))]
        before = len(exe.tick_to_trade)
        now = exe._post_now(m, reqs, time.perf_counter_ns())
        assert now is not None
        assert len(exe.tick_to_trade) == before + 1  # on its way before the step moved on
        landed, answer = now
        assert len(await answer) == 2 and landed.done()
        assert len(ex.matching.open_orders(exe.api_key)) == 2


async def test_with_a_post_connection_open_the_order_leaves_from_the_steps_own_thread(monkeypatch) -> None:
    """Once a post has opened a connection to the venue (through a worker: ``send``), the next leaves from
    the event loop's thread in the step that made it (``_send_ready``): written before ``_post_now``
    returns without waiting on any worker (``HANDOFF_WAIT_S`` 0), its tick-to-trade counted then, a worker
    only reading the answer. A kill's closed gate sends nothing from there."""
    import threading
    import time

    from engines import Live

    from polymm.venue import live

    monkeypatch.setattr(live, "HANDOFF_WAIT_S", 0.0)
    async with run_exchange(port=0, seed=44, flow=False) as ex, Live(ex, workers=2, cancel_workers=1) as exe:
        pool = sdk_pool()
        assert pool is not None
        ready = pool.send_ready
        written: list[tuple[int, bool]] = []

        def spy(prepared):
            out = ready(prepared)
            written.append((threading.get_ident(), out is not None))
            return out

        monkeypatch.setattr(pool, "send_ready", spy)
        m = ex.markets[0]
        book = ex.matching.book(m.yes_token)

        def quotes(k: int) -> list[OrderRequest]:
            return [OrderRequest(Side.BUY, book.bids[-1][0] - k * m.tick.pips, Decimal(10)),
                    OrderRequest(Side.SELL, book.asks[-1][0] + k * m.tick.pips, Decimal(10))]

        assert len(await exe.place_many(m, None, quotes(3), 1)) == 2  # opens a post connection (or finds one)
        before = len(exe.tick_to_trade)
        now = exe._post_now(m, quotes(4), time.perf_counter_ns())
        assert now is not None
        assert written[-1] == (threading.get_ident(), True)  # written here, on the loop's thread
        assert len(exe.tick_to_trade) == before + 1  # left before the step moved on
        landed, answer = now
        assert len(await answer) == 2 and landed.done()
        assert len(ex.matching.open_orders(exe.api_key)) == 4
        calls = len(written)
        exe._gate_open.clear()  # as a kill closes it
        assert exe._send_ready(exe._post_args(exe._sign_many(m, exe._routed(m, quotes(5)))), (1,)) is None
        assert len(written) == calls and len(ex.matching.open_orders(exe.api_key)) == 4


async def test_what_the_sdk_refuses_while_building_a_post_is_refused_on_the_workers_way() -> None:
    """The SDK builds the request on the event loop's thread (``_send_ready``): an error of it there does not
    escape into the step — the post goes the worker's way, which raises it as it always did (here the
    SDK refuses once only, so that post lands)."""
    import time

    from engines import Live

    async with run_exchange(port=0, seed=45, flow=False) as ex, Live(ex, workers=2, cancel_workers=1) as exe:
        m = ex.markets[0]
        book = ex.matching.book(m.yes_token)
        first = [OrderRequest(Side.BUY, book.bids[-1][0] - 5 * m.tick.pips, Decimal(10))]
        assert len(await exe.place_many(m, None, first, 1)) == 1  # a post connection is open: built on this thread
        client = exe._client
        post_orders = client.post_orders
        refused = [0]

        def once(args, *a, **k):
            if not refused[0]:
                refused[0] = 1
                raise ValueError("refused while building")
            return post_orders(args, *a, **k)

        client.post_orders = once
        reqs = [OrderRequest(Side.BUY, book.bids[-1][0] - 3 * m.tick.pips, Decimal(10)),
                OrderRequest(Side.SELL, book.asks[-1][0] + 3 * m.tick.pips, Decimal(10))]
        now = exe._post_now(m, reqs, time.perf_counter_ns())
        assert now is not None and refused[0] == 1  # refused on this thread, and the step goes on
        landed, answer = now
        assert len(await answer) == 2 and landed.done()
        assert len(ex.matching.open_orders(exe.api_key)) == 3
