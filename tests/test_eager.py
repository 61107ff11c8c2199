"""A coroutine started in the caller's turn (engine/eager.py): what the strategy's pass does with each
market's step, so the step plans, signs and posts before anything else queued runs. Its synchronous
part runs before ``start`` returns; a task carries on the rest exactly as ``asyncio.Task`` would."""

from __future__ import annotations

import asyncio

import pytest

from polymm.engine import eager

pytestmark = pytest.mark.asyncio


async def cancelled_while_waiting(coro) -> None:
    """Start ``coro``, let its carrier task wait a turn, cancel the carrier: it ends cancelled."""
    task = eager.start(coro)
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_synchronous_part_runs_before_start_returns_and_a_task_carries_on_the_rest() -> None:
    seen: list[str] = []
    gate: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def step() -> str:
        seen.append("planned")
        got = await gate
        seen.append(f"answered {got}")
        await asyncio.sleep(0)  # a bare yield too
        return "done"

    task = eager.start(step(), name="step")
    assert seen == ["planned"] and task is not None and not task.done()
    gate.set_result(7)
    assert await task == "done"
    assert seen == ["planned", "answered 7"]


async def test_a_coroutine_that_never_suspends_needs_no_task_and_its_errors_raise_at_once() -> None:
    seen: list[str] = []
    lock = asyncio.Lock()

    async def quick() -> None:
        async with lock:  # a free lock: no suspension
            seen.append("done")

    assert eager.start(quick()) is None and seen == ["done"]

    async def broken() -> None:
        raise ValueError("bad plan")

    with pytest.raises(ValueError, match="bad plan"):
        eager.start(broken())


async def test_a_failed_future_is_raised_inside_the_coroutine_and_a_cancel_reaches_it() -> None:
    loop = asyncio.get_running_loop()
    failing: asyncio.Future[None] = loop.create_future()
    heard: list[str] = []

    async def reads_failure() -> str:
        try:
            await failing
        except KeyError as e:
            heard.append(f"caught {e}")
            return "recovered"
        return "no error"

    task = eager.start(reads_failure())
    assert task is not None
    failing.set_exception(KeyError("venue"))
    assert await task == "recovered" and heard == ["caught 'venue'"]

    never: asyncio.Future[None] = loop.create_future()

    async def waits() -> None:
        try:
            await never
        finally:
            heard.append("cleaned up")

    await cancelled_while_waiting(waits())
    assert heard[-1] == "cleaned up" and never.cancelled()

    async def sleeps() -> None:
        try:
            while True:
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            heard.append("cancelled on a bare yield")
            raise

    await cancelled_while_waiting(sleeps())
    assert heard[-1] == "cancelled on a bare yield"


async def test_a_lock_held_elsewhere_is_waited_for_in_the_task() -> None:
    lock = asyncio.Lock()
    order: list[str] = []
    await lock.acquire()

    async def step() -> None:
        async with lock:
            order.append("step")

    task = eager.start(step())
    assert task is not None and order == []
    order.append("other")
    lock.release()
    await task
    assert order == ["other", "step"]
