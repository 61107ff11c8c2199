"""The strategy loop's wake-up (engine/wakeup.py): a ``set()`` reaches the waiter in one turn of the
event loop (``asyncio.wait_for`` around an ``Event`` took three), and the timeout still ends a wait."""

from __future__ import annotations

import asyncio

import pytest

from polymm.engine.wakeup import Wakeup

pytestmark = pytest.mark.asyncio


async def test_a_set_wakes_the_waiter_in_one_turn_of_the_loop() -> None:
    w = Wakeup()
    waiting = asyncio.ensure_future(w.wait(30.0))
    await asyncio.sleep(0)  # the waiter is waiting
    assert not waiting.done()
    w.set()
    await asyncio.sleep(0)  # one turn
    assert waiting.done() and waiting.result() is True


async def test_a_set_before_the_wait_returns_at_once_and_clear_rearms() -> None:
    w = Wakeup()
    w.set()
    assert w.is_set() and await w.wait(30.0) is True
    w.clear()
    assert not w.is_set()
    loop = asyncio.get_running_loop()
    t = loop.time()
    assert await w.wait(0.05) is False  # the timeout ends it, unset
    assert loop.time() - t >= 0.04


@pytest.mark.parametrize("urgent", [True, False])
async def test_an_urgent_set_resumes_the_waiter_before_the_callbacks_already_queued(urgent: bool) -> None:
    """``Wakeup(urgent=True)``: the waiter runs before what was queued ahead of its wake-up (a redraw of
    the dashboard, another shard's frames); without it, after them."""
    w = Wakeup(urgent=urgent)
    order: list[str] = []

    async def waiter() -> None:
        await w.wait(30.0)
        order.append("waiter")

    task = asyncio.ensure_future(waiter())
    await asyncio.sleep(0)  # it waits
    loop = asyncio.get_running_loop()
    for name in ("redraw", "frames"):
        loop.call_soon(order.append, name)
    w.set()
    await task
    assert order == (["waiter", "redraw", "frames"] if urgent else ["redraw", "frames", "waiter"])


async def test_an_urgent_timeout_resumes_the_waiter_before_the_callbacks_already_queued() -> None:
    """The timeout's wake-up goes first too: a book change that comes while it waits in the queue finds
    the waiter already resolved, and would otherwise wait behind whatever was queued before it."""
    w = Wakeup(urgent=True)
    order: list[str] = []
    loop = asyncio.get_running_loop()

    async def waiter() -> None:
        await w.wait(0.0)
        order.append("waiter")

    def queue_behind() -> None:  # a timer due with the timeout's: its callbacks run in the same turn
        loop.call_soon(order.append, "redraw")

    loop.call_soon(queue_behind)
    await waiter()
    assert order[0] == "waiter"
