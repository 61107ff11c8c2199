"""The event loop's other work never holds up a frame for long (tick-to-trade at 300 markets): the risk
tick gives the loop turns between its parts, a trade replay books in slices, the windows' quantiles are
one partial sort, the holdings slice rebuilds only the rows whose count moved."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal as D

from engines import Live
from hypothesis import given
from hypothesis import strategies as st
from test_scale_engine import paper_engine, show_book

from polymm.domain.market import Side
from polymm.domain.portfolio import Fill
from polymm.domain.quantiles import nearest_rank
from polymm.venue import live as live_module
from polymm.venue.execution import OrderRequest
from polymm.venue.paper import PaperExecution
from polymm_standin.server import run_exchange
from polymm_standin.sim.matching import OrderType


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), max_size=300),
       st.lists(st.sampled_from([0.0, 0.01, 0.5, 0.9, 0.99, 0.999, 1.0]), min_size=1, max_size=4))
def test_nearest_rank_is_a_full_sorts_nearest_rank(values: list[float], qs: list[float]) -> None:
    ordered = sorted(values)
    want = [ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else None for q in qs]
    assert nearest_rank(values, qs) == want


class Turns:
    """Counts the event loop's turns (a callback that schedules itself again)."""

    def __init__(self) -> None:
        self.n = 0
        self._handle: asyncio.Handle | None = None

    def _tick(self) -> None:
        self.n += 1
        self._handle = asyncio.get_running_loop().call_soon(self._tick)

    def __enter__(self) -> Turns:
        self._handle = asyncio.get_running_loop().call_soon(self._tick)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.cancel()


async def test_the_risk_tick_gives_the_loop_turns_between_its_parts(monkeypatch) -> None:
    """At 300 markets the tick is a few ms of O(markets) work: in one piece it held every frame that
    came meanwhile. Its parts run in separate turns of the loop."""
    engine = paper_engine(3)
    at: dict[str, int] = {}
    with Turns() as turns:
        for name in ("_publish_fills", "_publish_risk"):
            work = getattr(engine, name)
            monkeypatch.setattr(engine, name, lambda w=work, n=name: (at.setdefault(n, turns.n), w())[1])
        await engine.risk_tick()
    assert at["_publish_risk"] - at["_publish_fills"] >= 2  # the first part, a turn, the second, a turn, the last
    await engine.stop(cancel_orders=False)


async def test_a_trade_replay_books_its_trades_in_slices_of_loop_time(monkeypatch, wait_until) -> None:
    """A replay at 300 markets books thousands of trades: in one callback it held the loop 40-50 ms.
    With a slice of 0 s every trade is booked in a turn of its own."""
    async with run_exchange(port=0, seed=31, flow=False) as ex, Live(ex, reconcile_s=60) as exe:
        m = ex.markets[0]
        best = ex.matching.book(m.yes_token).bids[-1][0]
        await exe.place_many(m, None, [OrderRequest(Side.BUY, best - k * m.tick.pips, D(10)) for k in (1, 2, 3)])
        for k in (1, 2, 3):  # three takers, three trades
            ex.matching.place("test-taker", m.yes_token, Side.SELL, best - k * m.tick.pips, D(50_000),
                              order_type=OrderType.FAK)
        await wait_until(lambda: exe.ledger.shares(m.yes_token) == D(30))  # from the user channel
        monkeypatch.setattr(live_module, "REPLAY_SLICE_S", 0.0)
        turns_at: list[int] = []
        book = exe._on_trade_event
        with Turns() as turns:
            monkeypatch.setattr(exe, "_on_trade_event", lambda ev: (turns_at.append(turns.n), book(ev))[1])
            exe._replayed_from = None  # the whole last hour
            assert await exe._replay_trades()
        assert len(turns_at) == 3
        assert len(set(turns_at)) == 3  # a turn of the loop between any two
        assert exe.ledger.shares(m.yes_token) == D(30)  # the replay booked nothing twice


async def test_the_holdings_rows_are_built_again_only_for_the_tokens_whose_count_moved(monkeypatch) -> None:
    engine = paper_engine(4)
    cids = list(engine.markets)
    rng = random.Random(3)
    for i, cid in enumerate(cids):
        m = engine.markets[cid]
        engine.ledger.record(Fill(cid, f"o{i}", Side.BUY, 4000 + i, D(rng.randrange(1, 50)), D(0), 1.0, f"t{i}",
                                  m.yes_token, False), "CONFIRMED")
    engine._publish_holdings()
    first = engine.store.get("holdings")
    assert [h.token_id for h in first] == sorted((engine.markets[c].yes_token for c in cids),
                                                 key=lambda t: engine.markets[cids[int(t[:-1])]].question)
    built: list[str] = []
    read = engine.ledger.holding
    monkeypatch.setattr(engine.ledger, "holding", lambda t: (built.append(t), read(t))[1])
    engine._publish_holdings()
    assert built == [] and engine.store.get("holdings") is first  # nothing moved: nothing built, nothing set
    m = engine.markets[cids[2]]
    engine.ledger.record(Fill(cids[2], "o9", Side.BUY, 4100, D(5), D(0), 2.0, "t9", m.yes_token, False),
                         "CONFIRMED")
    engine._publish_holdings()
    assert built == [m.yes_token]
    (row,) = [h for h in engine.store.get("holdings") if h.token_id == m.yes_token]
    assert row.shares == engine.ledger.shares(m.yes_token)
    await engine.stop(cancel_orders=False)


async def test_a_requotes_placement_is_on_its_way_before_its_cancels_start(monkeypatch) -> None:
    """A requote that cancels and places at once: the placement is handed to its worker in the step's
    own turn, the cancels start as soon as the step gives up the loop — ahead of the callbacks queued
    before (from the back of the queue they waited a turn: at 300 markets ~4 ms, p90 12 ms, and the
    market's next frame waits for them). Started before the placement (tried), the cancels' worker took
    the interpreter from the post's while it was handed over: at 20 markets tick-to-trade p50 1.6 → 3.3 ms."""

    engine = paper_engine(1, default_model="fixed", default_tolerance_ticks=0)
    engine.feed.trusted = lambda c: (True, "")  # type: ignore[method-assign]  # no sockets here
    (m,) = engine.markets.values()
    show_book(engine, m, "0.48", "0.52")
    await engine.step(m.condition_id)
    old = {o.order_id for o in engine.execution.open_orders(m.condition_id)}
    assert len(old) == 2
    calls: list[str] = []
    cancel, place = engine.execution.cancel, engine.execution.place_many

    async def cancelling(ids):  # noted as its body starts, not as the coroutine is made
        calls.append("cancel")
        return await cancel(ids)

    async def placing(*a, **k):
        calls.append("place")
        return await place(*a, **k)

    monkeypatch.setattr(engine.execution, "cancel", cancelling)
    monkeypatch.setattr(engine.execution, "place_many", placing)
    loop = asyncio.get_running_loop()
    for _ in range(5):  # the loop's other work, queued before the step
        loop.call_soon(calls.append, "other")
    show_book(engine, m, "0.49", "0.53")  # one tick up: both quotes move, neither meets an old one
    await engine.step(m.condition_id)
    assert calls[:2] == ["place", "cancel"], calls  # the five queued before wait (the cancels waited for them)
    assert not old & {o.order_id for o in engine.execution.open_orders(m.condition_id)}  # both replaced
    await engine.stop(cancel_orders=False)


class HeldReply:
    """A live execution's replies to posts (or, with ``call="cancel_orders"``, to cancels) held back: the
    venue answers (``replied`` is set), then the worker waits until ``release()``, which blocks the event
    loop — no turn — until the worker has put the reply on the loop's queue (whether it did within 10 s)."""

    def __init__(self, exe, monkeypatch, call: str = "post_orders") -> None:
        import threading

        self.replied, self._go, self._handed = threading.Event(), threading.Event(), threading.Event()
        send, worker = getattr(exe._client, call), []
        loop = asyncio.get_running_loop()
        threadsafe = loop.call_soon_threadsafe

        def answered_then_held(*a, **k):
            r = send(*a, **k)  # the venue answers (the loop still runs: the stand-in is on it)
            worker.append(threading.get_ident())
            self.replied.set()
            self._go.wait(10)  # ... and the reply is handed over once the loop is held
            return r

        def noting(*a, **k):
            handle = threadsafe(*a, **k)
            if worker and threading.get_ident() == worker[0]:
                self._handed.set()  # the reply is on the loop's queue
            return handle

        monkeypatch.setattr(exe._client, call, answered_then_held)
        monkeypatch.setattr(loop, "call_soon_threadsafe", noting)

    def release(self) -> bool:
        self._go.set()
        return self._handed.wait(10)

    async def answered_with_five_behind(self, wait_until, call) -> tuple:
        """``await call()`` in a task of its own while its reply is held; once released (the reply on the
        loop's queue, the loop held), five callbacks are queued behind the reply. Returns the call's result
        and the order the task resumed in (``"waiter"``) among the five (``"other"``)."""
        loop = asyncio.get_running_loop()
        order: list[str] = []

        async def waiting():
            result = await call()
            order.append("waiter")  # in the turn the waiter resumes
            return result

        waiter = asyncio.ensure_future(waiting())
        await wait_until(self.replied.is_set)
        assert self.release()  # the reply is on the loop's queue; the loop is held here
        for _ in range(5):  # the loop's other work, queued behind the reply
            loop.call_soon(order.append, "other")
        return await waiter, order


def quotes_off_the_touch(ex, n: int = 2) -> tuple:
    """The stand-in's first market and ``n`` (1 or 2) quotes three ticks behind its best prices."""
    m = ex.markets[0]
    book = ex.matching.book(m.yes_token)
    reqs = [OrderRequest(Side.BUY, book.bids[-1][0] - 3 * m.tick.pips, D(10)),
            OrderRequest(Side.SELL, book.asks[-1][0] + 3 * m.tick.pips, D(10))]
    return m, reqs[:n]


async def test_a_placements_answer_reaches_its_step_in_two_turns_of_the_loop(monkeypatch, wait_until) -> None:
    """The worker's reply to a post went through the executor's future, a task of its own and a shield
    before the step resumed: four turns of the loop, each behind the callbacks queued before it (at 300
    markets the reply was booked p50 5 / p90 20 ms after the worker had it, and the step went on ~10 ms
    later; the market's next frame waits for the step). Now the reply is booked in the turn it reaches
    the loop and the step resumes in the next. Here the loop is held while the worker hands the reply
    over, then the turns until the step's caller resumes are counted."""

    async with run_exchange(port=0, seed=43, flow=False) as ex, Live(ex, workers=1, cancel_workers=1) as exe:
        m, reqs = quotes_off_the_touch(ex)
        held = HeldReply(exe, monkeypatch)
        with Turns() as turns:
            step = asyncio.ensure_future(exe.place_many(m, None, reqs))
            await wait_until(held.replied.is_set)
            assert held.release()  # the loop held (no turn) until the reply is queued
            at = turns.n
            accepted = await step
            took = turns.n - at
    assert len(accepted) == 2
    assert took <= 3  # the reply booked, the step resumed, its caller resumed (five before)


async def test_a_placements_answer_wakes_its_step_ahead_of_the_callbacks_already_queued(monkeypatch,
                                                                                      wait_until) -> None:
    """The step that awaits a placement's answer holds its market: the market's next frame is stepped only
    once it ends. Woken in the usual order, it waited behind every callback queued before the answer was
    booked (at 300 markets the loop's queue is socket reads and other steps' replies: the answer reached
    its step ~4 ms after the worker had it, p90 12 ms). Here callbacks are queued behind the reply while
    the loop is held; the step resumes before them."""

    async with run_exchange(port=0, seed=43, flow=False) as ex, Live(ex, workers=1, cancel_workers=1) as exe:
        m, reqs = quotes_off_the_touch(ex, 1)
        held = HeldReply(exe, monkeypatch)
        accepted, order = await held.answered_with_five_behind(wait_until, lambda: exe.place_many(m, None, reqs))
        assert len(accepted) == 1
    assert order[0] == "waiter", order  # ahead of the five (behind them before)


class LateCancels(PaperExecution):
    """Paper execution whose cancels the venue answers when the test says (``answer``)."""

    def __init__(self) -> None:
        super().__init__()
        self.answer: asyncio.Future[None] | None = None

    async def cancel(self, order_ids):
        self.answer = asyncio.get_running_loop().create_future()
        await self.answer  # the venue's answer, when the test gives it
        return await super().cancel(order_ids)


async def requote_held_at_its_cancels(wait_until, order: list[str]):
    """A one-market paper engine whose requote (cancels and placement at once) waits for the venue's answer
    to its cancels: (engine, execution, market, the step's task — it notes ``"step"`` in ``order`` in the
    turn it resumes: nothing after the cancels suspends)."""
    exe = LateCancels()
    engine = paper_engine(1, execution=exe, default_model="fixed", default_tolerance_ticks=0)
    engine.feed.trusted = lambda c: (True, "")  # type: ignore[method-assign]  # no sockets here
    (m,) = engine.markets.values()
    show_book(engine, m, "0.48", "0.52")
    await engine.step(m.condition_id)
    show_book(engine, m, "0.49", "0.53")  # one tick up: cancels and placement at once

    async def stepping() -> None:
        await engine.step(m.condition_id)
        order.append("step")

    step = asyncio.ensure_future(stepping())
    await wait_until(lambda: exe.answer is not None and len(exe.open_orders(m.condition_id)) == 4)
    assert exe.answer is not None
    return engine, exe, m, step


async def test_a_requotes_step_resumes_the_turn_after_its_cancels_are_answered(wait_until) -> None:
    """A requote's cancels and placement go at once; the step ends once both are answered (its market's
    next frame waits for it). It waited on the cancels' task through ``asyncio.wait``: a turn of the
    loop more than needed. Here the venue answers the cancels late; the turns from that answer until the
    step's caller resumes are counted."""
    engine, exe, m, step = await requote_held_at_its_cancels(wait_until, [])
    with Turns() as turns:
        exe.answer.set_result(None)
        at = turns.n
        await step
        took = turns.n - at
    assert len(exe.open_orders(m.condition_id)) == 2  # the old pair cancelled, the new pair resting
    assert took <= 3  # the cancels end, the step resumes, its caller resumes (four before)
    await engine.stop(cancel_orders=False)


async def test_a_requotes_step_resumes_ahead_of_the_callbacks_queued_before_its_cancels_ended(wait_until) -> None:
    """Likewise once a requote's cancels are answered: its step resumes before the callbacks already queued."""
    order: list[str] = []
    engine, exe, m, step = await requote_held_at_its_cancels(wait_until, order)
    exe.answer.set_result(None)  # the cancels' task wakes next ...
    loop = asyncio.get_running_loop()
    for _ in range(5):  # ... and the loop's other work is queued behind it
        loop.call_soon(order.append, "other")
    await step
    assert len(exe.open_orders(m.condition_id)) == 2
    assert order[0] == "step", order
    await engine.stop(cancel_orders=False)


async def test_a_cancels_answer_wakes_its_waiter_ahead_of_the_callbacks_already_queued(monkeypatch,
                                                                                     wait_until) -> None:
    """A requote's step waits for its cancels' answer too (its market's next frame waits for the step).
    Through the executor's future the reply took two turns of the loop, each behind the callbacks queued
    before it (at 300 markets a requote's cancels were answered 23 ms after its step handed them over,
    its placement 15 ms). Now it is booked in the turn it reaches the loop, its waiter woken first. Here
    callbacks are queued behind the reply while the loop is held; the waiter resumes before them, with the
    orders closed."""
    async with run_exchange(port=0, seed=43, flow=False) as ex, Live(ex, workers=1, cancel_workers=1) as exe:
        m, reqs = quotes_off_the_touch(ex)
        ids = await exe.place_many(m, None, reqs)
        assert len(ids) == 2
        held = HeldReply(exe, monkeypatch, "cancel_orders")
        gone, order = await held.answered_with_five_behind(wait_until, lambda: exe.cancel(ids))
        assert sorted(gone) == sorted(ids)
        assert exe.open_orders(m.condition_id) == []  # booked: both closed
    assert order[0] == "waiter", order  # ahead of the five (behind them before)


async def test_a_cancel_the_venue_refuses_leaves_its_orders_counted_and_the_next_one_waits_its_turn() -> None:
    """The cancel's reply booked on the loop, a refusal too: a 429 leaves the orders open (they could
    still fill: every limit keeps counting them), is counted, and holds the cancel bucket for the venue's
    retry-after — the next cancel waits for it, then closes them."""
    async with run_exchange(port=0, seed=43, flow=False) as ex, Live(ex, workers=1, cancel_workers=1) as exe:
        m, reqs = quotes_off_the_touch(ex)
        ids = await exe.place_many(m, None, reqs)
        assert len(ids) == 2
        ex.standin.faults.add_http_errors(429, 1, retry_after_s=0.3, path_prefix="/orders")
        assert await exe.cancel(ids) == []
        assert exe.venue_429s == 1
        assert sorted(o.order_id for o in exe.open_orders(m.condition_id)) == sorted(ids)
        assert exe._cancel_now(ids) is None  # the bucket is held for the retry-after: no cancel at once
        assert sorted(await exe.cancel(ids)) == sorted(ids)
        assert exe.open_orders(m.condition_id) == []
