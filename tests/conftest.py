"""Shared test helpers."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from hypothesis import settings

# Every random choice is seeded (a timing- or luck-dependent test has cost a landing): property tests
# draw the same examples on every run and every machine, with no per-example deadline on a busy box.
# POLYMM_HYPOTHESIS=explore draws fresh ones (to hunt for new counter-examples by hand).
settings.register_profile("polymm", derandomize=True, deadline=None, database=None)
settings.register_profile("explore", deadline=None)
settings.load_profile("explore" if os.environ.get("POLYMM_HYPOTHESIS") == "explore" else "polymm")


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


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """No POLYMM_* variables, no developer ``.env``, and the root logger given back afterwards."""
    for name in list(os.environ):
        if name.upper().startswith("POLYMM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield monkeypatch
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
