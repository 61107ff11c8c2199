"""A market's next step does not wait for the venue's answer to its last one.

A step owns its market until its orders are signed and booked as ours (``Execution.place_many``'s
``on_sent``), not until the venue answers: a frame that comes meanwhile is answered at once (at 300
markets these frames were the tick-to-trade p99). The next step counts the unanswered orders as
resting, leaves the orders an earlier step is cancelling out of its diff (``Execution.resting``) but
not out of its limits, and ``remove_market`` still waits for every order on its way."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

from engines import ours, running_engine

from polymm.domain.market import Side
from polymm.venue.execution import OpenOrder
from polymm.venue.order_tracker import OrderTracker
from polymm_standin.server import run_exchange


def test_orders_being_cancelled_are_not_resting_but_still_count_as_filling() -> None:
    t = OrderTracker(lambda _oid: D(0))
    t.add(OpenOrder("a", "m", Side.BUY, 4000, D(10)))
    t.add(OpenOrder("b", "m", Side.SELL, 6000, D(5)))

    def resting() -> list[str]:
        return [o.order_id for o in t.resting("m")]

    t.cancelling(["a"])
    assert resting() == ["b"] and [o.order_id for o in t.open("m")] == ["a", "b"]
    # a step that replaces the market's open orders still counts the one being cancelled: it can fill
    assert t.reserved("m", closing_only=True) == {"m": (D(10), D(0))}
    assert t.reserved("m") == {"m": (D(10), D(5))}
    t.cancelling(["a"])  # a second cancel of it on its way (a crossed order's pull)
    t.cancel_answered(["a"])
    assert resting() == ["b"]  # the other cancel is still on its way
    t.cancel_answered(["a"])  # refused (its placement unanswered), or failed: it rests as far as we know
    assert resting() == ["a", "b"] and t.reserved("m", closing_only=True) == {}
    t.cancelling(["b"])
    t.close("b")  # the venue confirmed: closing (its fills may still come), no longer open
    t.cancel_answered(["b"])
    assert resting() == ["a"] and t.reserved("m", closing_only=True) == {"m": (D(0), D(5))}
    t.add(OpenOrder("c", "m", Side.BUY, 3900, D(1)))
    t.cancelling(["c", "unknown"])  # an id we do not hold is not marked
    t.forget("c")  # never rested: gone, its mark with it
    t.add(OpenOrder("c", "m", Side.BUY, 3900, D(1)))
    assert resting() == ["a", "c"]


class HeldAnswers:
    """The engine's placements as they go (the real ``place_many`` of the live execution, at the
    stand-in), with the answer of the first one kept from the engine until ``answer`` is set: the
    venue has the orders, the engine has not heard back."""

    def __init__(self, execution) -> None:
        self.execution, self.real = execution, execution.place_many
        self.answer = asyncio.Event()
        self.calls: list[dict[str, bool]] = []
        self.events: list[str] = []
        execution.place_many = self.place_many

    async def place_many(self, market, book, reqs, origin_ns=0, on_sent=None):
        call = {"handed": False, "answered": False}
        self.calls.append(call)

        def sent() -> None:
            call["handed"] = True
            if on_sent is not None:
                on_sent()

        try:
            return await self.real(market, book, reqs, origin_ns, sent)
        finally:
            if call is self.calls[0]:
                await self.answer.wait()
                self.events.append("answered")
            call["answered"] = True

    def restore(self) -> None:
        del self.execution.place_many


def _targets(engine, cid: str) -> set[tuple[Side, int]]:
    return {(q.side, q.price) for q in engine._targets[cid].quotes}


def _at_venue(ex, engine, cid: str) -> set[tuple[Side, int]]:
    return {(o.yes_side, o.yes_price) for o in ours(ex, engine, cid)}


async def test_a_market_steps_again_while_its_orders_wait_for_an_answer_and_the_venue_ends_with_exactly_ours(
        wait_until) -> None:
    async with run_exchange(port=0, seed=151, flow=False) as ex, running_engine(ex, count=1) as engine:
        (cid,) = engine.markets
        await wait_until(lambda: ours(ex, engine, cid), timeout=30)
        assert engine.all_quoting()  # its start-up is done (the heap's second settle waits for this)
        held = HeldAnswers(engine.execution)
        engine.set_params(cid, spread=D("0.06"))  # a requote: the old quotes cancelled, new ones placed
        await wait_until(lambda: held.calls and held.calls[0]["handed"], timeout=30)
        first = _targets(engine, cid)
        engine.set_params(cid, spread=D("0.08"))  # and another, while the first is unanswered
        await wait_until(lambda: len(held.calls) >= 2 and held.calls[1]["handed"], timeout=30)
        assert not held.calls[0]["answered"]  # the second step did not wait for the first's answer
        assert _targets(engine, cid) != first
        held.answer.set()
        await wait_until(lambda: held.calls[0]["answered"], timeout=30)
        held.restore()
        # the venue is the truth: it holds exactly the orders the engine holds, at the last targets, one
        # order each (none of the first requote's left behind, none twice)
        await wait_until(lambda: _at_venue(ex, engine, cid) == _targets(engine, cid)
                         and {o.id for o in ours(ex, engine, cid)}
                         == {o.order_id for o in engine.execution.open_orders(cid)}, timeout=30)
        assert len(ours(ex, engine, cid)) == len(engine._targets[cid].quotes)
        assert not engine.halted, engine.halt_reason


async def test_removing_a_market_waits_for_its_orders_on_their_way_and_leaves_none_at_the_venue(
        wait_until) -> None:
    async with run_exchange(port=0, seed=157, flow=False) as ex, running_engine(ex, count=2) as engine:
        cid, other = engine.markets
        await wait_until(lambda: ours(ex, engine, cid) and ours(ex, engine, other), timeout=30)
        held = HeldAnswers(engine.execution)
        real_cancel_market = engine.execution.cancel_market

        async def cancel_market(condition_id: str) -> int:
            held.events.append("cancel_market")
            return await real_cancel_market(condition_id)

        engine.execution.cancel_market = cancel_market
        engine.set_params(cid, spread=D("0.06"))
        await wait_until(lambda: held.calls and held.calls[0]["handed"], timeout=30)
        removal = asyncio.ensure_future(engine.remove_market(cid))
        for _ in range(50):  # turns of the loop for the removal to go as far as it may (no clock involved)
            await asyncio.sleep(0)
        assert not removal.done() and held.events == []  # it waits for the step's unanswered orders
        held.answer.set()
        await removal
        held.restore()
        assert held.events == ["answered", "cancel_market"]
        assert cid not in engine.markets
        await wait_until(lambda: not ours(ex, engine, cid), timeout=30)
        assert ours(ex, engine, other)  # the other market quotes on
        assert not engine.halted, engine.halt_reason
