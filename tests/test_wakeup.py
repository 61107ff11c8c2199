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
