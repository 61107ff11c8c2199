"""A wake-up for the strategy loop that costs one turn of the event loop, not three.

``asyncio.wait_for(event.wait(), timeout)`` (Python 3.11) wraps the wait in a task of its own: the
wait starts a turn later, and a ``set()`` reaches the waiting loop through that task and then the
outer future — each a turn of a busy event loop (at 300 markets, up to ~5 ms each: tick-to-trade).
``Wakeup.wait(timeout)`` is one future and one timer: ``set()`` resolves the future directly.

``Wakeup(urgent=True)``: the waiter resumes next — its wake-up goes to the front of the event loop's
queue of ready callbacks, not behind those already there. With the dashboard in the process that queue
can hold a redraw of 15–30 ms: a frame's receipt → the strategy's pass waited for it (tick-to-trade
p99 20 ms at 300 markets). The queue is asyncio's own (``BaseEventLoop._ready``, a deque, the same since
Python 3.4); a loop without one (uvloop) wakes the waiter in the usual order."""

from __future__ import annotations

import asyncio

from ..venue.reconnect import resolve_first


class Wakeup:
    """An ``asyncio.Event``'s ``set``/``clear``/``is_set`` with a cheap ``wait(timeout)``; one waiter.
    ``urgent``: a ``set()`` resumes the waiter before the callbacks already queued (module docstring)."""

    def __init__(self, urgent: bool = False) -> None:
        self._flag = False
        self._waiter: asyncio.Future[None] | None = None
        self.urgent = urgent

    def set(self) -> None:
        self._flag = True
        if self._waiter is not None:
            _resume(self._waiter, self.urgent)

    def clear(self) -> None:
        self._flag = False

    def is_set(self) -> bool:
        return self._flag

    async def wait(self, timeout: float) -> bool:
        """Until ``set()`` or ``timeout`` seconds; whether it was set."""
        if self._flag:
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(max(timeout, 0.0), _resume, waiter, self.urgent)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
        return self._flag


def _resume(waiter: asyncio.Future[None], urgent: bool) -> None:
    """Resolve ``waiter`` (by a ``set()`` or the timeout, whichever comes first); ``urgent``: its wake-up
    moved to the front of the loop's ready queue (a timeout's too — else a book change coming while the
    timeout's wake-up waits behind a redraw would wait with it)."""
    if urgent:
        resolve_first(waiter, None)
    elif not waiter.done():
        waiter.set_result(None)
