"""Shared test helpers."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Every random choice is seeded (a timing- or luck-dependent test has cost a landing): property tests
# draw the same examples on every run and every machine, with no per-example deadline on a busy box.
# POLYMM_HYPOTHESIS=explore draws fresh ones (to hunt for new counter-examples by hand).
settings.register_profile("polymm", derandomize=True, deadline=None, database=None)
settings.register_profile("explore", deadline=None)
settings.load_profile("explore" if os.environ.get("POLYMM_HYPOTHESIS") == "explore" else "polymm")


async def _wait_until(cond: Callable[[], Any], timeout: float = 10.0, step: float = 0.02,
                      why: Callable[[], object] | None = None) -> Any:
    """Poll ``cond`` until it returns something true, and return that. ``cond`` may be async (a REST
    read, a scrape) and may assert: an ``AssertionError`` from it means "not yet", and on time-out it is
    the error raised (the last difference seen). Otherwise the time-out error carries ``why()`` (what the
    system said meanwhile). This is the suite's one wait: every wait on a condition goes through it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        failed: AssertionError | None = None
        try:
            value = cond()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
        except AssertionError as e:
            failed = e
        if loop.time() > deadline:
            if failed is not None:
                raise failed
            raise AssertionError(f"condition not met within {timeout} s" + (f": {why()}" if why else ""))
        await asyncio.sleep(step)  # the poll interval: the condition is checked again, time itself proves nothing


@pytest.fixture
def wait_until() -> Callable[..., Awaitable[Any]]:
    """``await wait_until(cond, timeout=10)``: poll ``cond`` (sync or async) on the running loop until it
    holds; returns its value."""
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
