"""The engine's own event loop, on a thread of its own, for a program that draws on the main one.

At 300 markets a Textual screen update takes 10–36 ms of one callback: on the loop the engine shares,
every frame that comes meanwhile waits that long for its step (tick-to-trade p99 22 ms with the
dashboard against 16 ms without). On a loop of its own the engine waits at most the interpreter's
switch interval (``SWITCH_INTERVAL_S``: the UI thread gives the GIL back that often while the engine's
thread asks for it) instead of a whole redraw.

What crosses between the two threads:

* the engine's state goes to the screen through the ``StateStore`` (its writes and the UI's reads of
  changes are under one lock), as before;
* the UI's commands (kill, re-arm, tweaks, pause, flatten, stop) go to the engine's loop through
  ``call``: the UI awaits them without blocking its own loop, and an error comes back to it as raised;
* the UI may read plain values off the engine (markets, parameters, halted), never iterate what the
  engine's thread changes — such reads go through ``call`` too.

``LocalHost`` is the same interface on the caller's own loop: an engine built elsewhere (snapshot
tests, embedding) or a program without a screen."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import inspect
import logging
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from ..venue.reconnect import wait_ended

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The interpreter's switch interval while an engine runs on its own thread: how long the UI thread may
#: hold the GIL once the engine's thread asks for it (CPython's default 5 ms would be half the
#: tick-to-trade budget).
SWITCH_INTERVAL_S = 0.001
#: How long ``call_sync`` waits for the engine's loop to run a command (TimeoutError after).
CALL_SYNC_S = 5.0
#: How long ``close`` waits for the engine's thread to end after its loop was told to stop.
JOIN_S = 10.0


class Host(Protocol):
    """Where the engine's coroutines and calls run (``EngineHost``: its own thread; ``LocalHost``: here)."""

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...

    def call_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...

    def spawn(self, work: Awaitable[Any], name: str) -> None: ...

    async def close(self) -> None: ...


class LocalHost:
    """The engine on the caller's loop: ``call`` runs the function here, ``spawn`` makes a task."""

    def __init__(self, on_error: Callable[[str, BaseException], None] | None = None) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_error = on_error

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await _outcome(fn, args, kwargs)

    def call_sync(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    def spawn(self, work: Awaitable[Any], name: str) -> None:
        task = asyncio.get_running_loop().create_task(_awaited(work), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(functools.partial(_report, self._on_error))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await wait_ended(set(self._tasks), JOIN_S, "closing the engine's tasks")


class EngineHost:
    """An event loop on a daemon thread of its own (``polymm-engine``), started at once."""

    def __init__(self, name: str = "polymm-engine",
                 on_error: Callable[[str, BaseException], None] | None = None) -> None:
        """``on_error(task name, exception)``: called on the engine's thread when a spawned task failed."""
        self._on_error = on_error
        self.loop = asyncio.new_event_loop()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = threading.Event()
        self._switch = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch, SWITCH_INTERVAL_S))
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()
        self._started.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._started.set)
        try:
            self.loop.run_forever()
        finally:
            try:
                pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    self.loop.run_until_complete(asyncio.wait(pending, timeout=JOIN_S))
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
                self.loop.run_until_complete(self.loop.shutdown_default_executor())
            except Exception:
                log.exception("engine thread: its loop's shutdown failed")
            finally:
                self.loop.close()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        """Run ``fn(*args)`` (awaited when it returns an awaitable) on the engine's loop: its future."""
        return asyncio.run_coroutine_threadsafe(_outcome(fn, args, kwargs), self.loop)

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``submit``, awaited from another loop (the UI's) without blocking it; an error is raised here.
        Called from the engine's own loop it simply runs there (a command from an engine callback)."""
        if _running_loop() is self.loop:
            return await _outcome(fn, args, kwargs)
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def call_sync(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A quick synchronous command (a parameter tweak: its ``ConfigError`` is the answer) run on the
        engine's loop while the caller waits — at most its next turn, a few ms — for what it returned."""
        if _running_loop() is self.loop:
            return fn(*args, **kwargs)

        async def run() -> Any:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(CALL_SYNC_S)

    def spawn(self, work: Awaitable[Any], name: str) -> None:
        """Run ``work`` as a task of the engine's loop (its loops, the program's extras)."""

        def create() -> None:
            task = self.loop.create_task(_awaited(work), name=name)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(functools.partial(_report, self._on_error))

        self.loop.call_soon_threadsafe(create)

    async def close(self) -> None:
        """Cancel what ``spawn`` started, stop the loop and wait (without blocking the caller's loop)
        for the thread to end; the switch interval goes back to what it was."""
        if not self.thread.is_alive():
            return

        async def cancel_spawned() -> None:
            for task in list(self._tasks):
                task.cancel()
            await wait_ended(set(self._tasks), JOIN_S, "engine thread")

        with contextlib.suppress(Exception):
            await self.call(cancel_spawned)
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self.thread.join, JOIN_S)
        sys.setswitchinterval(self._switch)


async def _awaited(work: Awaitable[T]) -> T:
    return await work


async def _outcome(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``fn(*args, **kwargs)``, awaited when it returned an awaitable (a command may be either)."""
    result = fn(*args, **kwargs)
    return await result if inspect.isawaitable(result) else result


def _report(on_error: Callable[[str, BaseException], None] | None, task: asyncio.Task[Any]) -> None:
    """A spawned task that failed (not cancelled): ``on_error`` hears of it (the engine's ``guard`` has
    logged it and engaged the kill switch already)."""
    if task.cancelled() or task.exception() is None:
        return
    error = task.exception()
    assert error is not None
    if on_error is not None:
        on_error(task.get_name(), error)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
