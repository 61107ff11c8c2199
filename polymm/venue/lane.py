"""The order path's lane: requests to the venue merged while its workers are all busy.

Each market's step posts its own quotes (one ``POST /orders``) and cancels its own orders (one
``DELETE /orders``). At hundreds of markets a pass of the strategy can requote a dozen markets at
once: two dozen requests for a pool of eight threads, and the last of them waited two or three round
trips for a thread (measured at 300 markets: a post waited up to 38 ms, the tail of tick-to-trade).

The lane sends a request at once while a worker is free — never a wait that was not there before.
When every worker is busy, requests wait as they would in the pool's queue, but merged with the
others of their kind: the quotes of several markets in one ``POST /orders`` (at most the venue's 15
a request, each market's batch kept whole), the cancels of every market in one ``DELETE /orders``.
Each caller gets its own share of the merged reply (``split``). A lane may carry several kinds (the
first added goes first when a worker frees up); ``LiveExecution`` gives posts and cancels a lane and
a thread pool each, so a post never waits behind cancels."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")

#: the merged request's items and each caller's tag (the post's frame time: tick-to-trade) → the reply
Send = Callable[[list[Item], list[int]], Awaitable[Any]]
#: the merged reply → each caller's share, in the callers' order (their item counts given)
Split = Callable[[Any, list[list[Item]]], list[Any]]


@dataclass(slots=True)
class _Waiting(Generic[Item]):
    items: list[Item]
    tag: int
    future: asyncio.Future


@dataclass(slots=True)
class _Kind(Generic[Item]):
    send: Send
    split: Split
    limit: int  # the most items one merged request may carry
    waiting: deque[_Waiting[Item]] = field(default_factory=deque)


class Lane:
    """``workers`` requests in flight at most; the rest wait, merged per kind (module docstring).
    Kinds are drained in the order they were added: the first has priority."""

    def __init__(self, workers: int) -> None:
        self.workers = max(int(workers), 1)
        self.busy = 0
        self._kinds: dict[str, _Kind[Any]] = {}
        self.merged = 0  # requests saved by merging (callers answered by another's request)

    def add(self, kind: str, send: Send, split: Split, limit: int) -> None:
        self._kinds[kind] = _Kind(send, split, max(int(limit), 1))

    def hold(self) -> bool:
        """A worker for a request sent outside ``submit`` (``release`` it when answered): only when one
        is free and nothing waits for it."""
        if self.busy < self.workers and not self._any_waiting():
            self.busy += 1
            return True
        return False

    def release(self) -> None:
        self.busy -= 1
        self._drain()

    def waiting(self, kind: str) -> int:
        return len(self._kinds[kind].waiting)

    async def submit(self, kind: str, items: Sequence[Item], tag: int = 0) -> Any:
        """Send ``items`` (at once if a worker is free, else merged with the others waiting); this
        caller's share of the reply. An exception of the merged request is every caller's."""
        k = self._kinds[kind]
        if self.hold():
            try:
                return await k.send(list(items), [tag])
            finally:
                self.release()
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        k.waiting.append(_Waiting(list(items), tag, future))
        self._drain()
        return await future

    def _any_waiting(self) -> bool:
        return any(k.waiting for k in self._kinds.values())

    def _drain(self) -> None:
        while self.busy < self.workers:
            kind = next((k for k in self._kinds.values() if k.waiting), None)
            if kind is None:
                return
            group = self._take(kind)
            if not group:
                continue
            self.busy += 1
            task = asyncio.ensure_future(self._send(kind, group))
            task.add_done_callback(_quiet)

    @staticmethod
    def _take(kind: _Kind[Any]) -> list[_Waiting[Any]]:
        """The first waiting request and those after it that fit with it (each kept whole); a caller
        already gone (cancelled) is left out."""
        group: list[_Waiting[Any]] = []
        n = 0
        rest: deque[_Waiting[Any]] = deque()
        while kind.waiting:
            w = kind.waiting.popleft()
            if w.future.done():
                continue
            if group and n + len(w.items) > kind.limit:
                rest.append(w)
                continue
            group.append(w)
            n += len(w.items)
        kind.waiting.extendleft(reversed(rest))
        return group

    async def _send(self, kind: _Kind[Any], group: list[_Waiting[Any]]) -> None:
        self.merged += len(group) - 1
        try:
            reply = await kind.send([i for w in group for i in w.items], [w.tag for w in group])
            shares = kind.split(reply, [w.items for w in group])
            for w, share in zip(group, shares, strict=True):
                if not w.future.done():
                    w.future.set_result(share)
        except BaseException as e:  # every caller hears it (a cancelled send: as cancelled)
            for w in group:
                if not w.future.done():
                    if isinstance(e, asyncio.CancelledError):
                        w.future.cancel()
                    else:
                        w.future.set_exception(e)
            if not isinstance(e, Exception):
                raise
        finally:
            self.busy -= 1
            self._drain()


def _quiet(task: asyncio.Future) -> None:
    """The callers got the outcome; nothing is left unretrieved on the task."""
    if not task.cancelled():
        task.exception()


def split_in_order(reply: Any, parts: list[list[Any]]) -> list[Any]:
    """A list reply in the items' order (``POST /orders``) cut into each caller's slice; ``None``
    (nothing to read) is everyone's."""
    if not isinstance(reply, list):
        return [reply] * len(parts)
    out, at = [], 0
    for items in parts:
        out.append(reply[at : at + len(items)])
        at += len(items)
    return out


def split_cancels(reply: Any, parts: list[list[str]]) -> list[Any]:
    """A ``DELETE /orders`` answer (``canceled`` ids, ``not_canceled`` id → reason) cut into each
    caller's ids."""
    if not isinstance(reply, dict):
        return [reply] * len(parts)
    canceled = {str(i) for i in reply.get("canceled") or []}
    refused = {str(k): v for k, v in (reply.get("not_canceled") or {}).items()}
    return [{"canceled": [i for i in ids if i in canceled],
             "not_canceled": {i: refused[i] for i in ids if i in refused}} for ids in parts]
