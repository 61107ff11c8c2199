"""A coroutine started in the caller's turn of the event loop: its synchronous part runs now, and a task
carries it on from its first suspension (what Python 3.12's ``asyncio.eager_task_factory`` does; polymm
runs on 3.11).

A strategy step created as a task starts a turn later: behind every callback already queued — at 300
markets with the dashboard in the process, a redraw of 15–30 ms (tick-to-trade: the pass → step hop,
p99 16 ms). Started here, the step plans, signs and hands its post to a worker thread before the pass
goes on; only what waits on the venue runs in a task.

The carrier task resumes the coroutine the way ``asyncio.Task`` does: the future it awaits decides
(its result or exception is raised inside the coroutine by the future's own ``__await__``), and a
cancellation of the carrier reaches the coroutine through that future, or thrown in when it waited on
a bare yield. Inside the synchronous part ``asyncio.current_task()`` is the caller's task: a coroutine
started here must not use ``asyncio.timeout`` there (the step does not)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


def start(coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task | None:
    """Run ``coro`` now up to its first suspension; the task that carries it on from there, or None
    when it finished without one. An exception of the synchronous part is raised here."""
    try:
        awaited = coro.send(None)
    except StopIteration:
        return None
    return asyncio.get_running_loop().create_task(_carry_on(coro, awaited), name=name)


async def _carry_on(coro: Coroutine[Any, Any, Any], awaited: Any) -> Any:
    while True:
        thrown: BaseException | None = None
        try:
            if awaited is None:
                await asyncio.sleep(0)  # a bare yield: one turn of the loop
            else:
                awaited._asyncio_future_blocking = False  # taken, as ``asyncio.Task`` takes what a coroutine yields
                await awaited
        except asyncio.CancelledError as e:
            if awaited is None or not awaited.cancelled():
                thrown = e  # the carrier was cancelled, not (only) the future it awaited
        except Exception:
            pass  # the awaited future failed: the coroutine reads that itself (``Future.__await__``)
        try:
            awaited = coro.send(None) if thrown is None else coro.throw(thrown)
        except StopIteration as done:
            return done.value
