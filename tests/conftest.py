"""Shared test helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest


async def _wait_until(cond: Callable[[], bool], timeout: float = 10.0, step: float = 0.02,
                      why: Callable[[], object] | None = None) -> None:
    """Poll ``cond``; on time-out the error carries ``why()`` (what the system said meanwhile)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s" + (f": {why()}" if why else ""))
        await asyncio.sleep(step)


@pytest.fixture
def wait_until() -> Callable[..., Awaitable[None]]:
    """``await wait_until(cond, timeout=10)``: poll ``cond`` on the running loop until it holds."""
    return _wait_until
