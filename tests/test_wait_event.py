"""A wait with a time limit that never loses a cancel (``venue.reconnect.wait_event``).

Python 3.11's ``asyncio.wait_for`` waits in a task of its own: a cancel that comes in the turn the
awaited event is set is lost (it returns the result, cpython gh-86296). A loop that waits that way (the
reconciliation's, the user socket's backoff) runs on after its cancel, and a ``close`` that awaits it
waits for good — a fresh-clone suite once sat minutes in one with the event loop idle."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

from polymm.venue.reconnect import Backoff, wait_event


async def _cancelled_as_set(wait) -> bool:
    """Start ``wait(event)``, then set the event and cancel the waiter in one turn: was it cancelled?"""
    event = asyncio.Event()
    task = asyncio.create_task(wait(event))
    await asyncio.sleep(0)  # it waits now
    await asyncio.sleep(0)
    event.set()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return True
    return False


async def test_a_cancel_that_comes_as_the_event_is_set_ends_the_wait() -> None:
    assert await _cancelled_as_set(lambda e: wait_event(e, 10.0))
    if sys.version_info < (3, 12):  # the premise: 3.11's wait_for loses that cancel
        assert not await _cancelled_as_set(lambda e: asyncio.wait_for(e.wait(), 10.0))


async def test_wait_event_says_whether_the_event_was_set() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.0) is False
    event.set()
    assert await wait_event(event, 10.0) is True


async def test_a_backoff_wait_ends_on_its_cancel_even_as_it_is_stopped() -> None:
    assert await _cancelled_as_set(lambda stop: Backoff(initial=10.0).wait(stop))


def test_no_wait_for_is_left_in_polymm_or_the_stand_in() -> None:
    root = Path(__file__).resolve().parents[1]
    found = [f"{p.relative_to(root)}:{n}" for pkg in ("polymm", "polymm_standin") for p in (root / pkg).rglob("*.py")
             for n, line in enumerate(p.read_text().splitlines(), 1)
             if re.search(r"asyncio\.wait_for\(", line) and not line.lstrip().startswith(("#", "``"))]
    assert found == [], f"use wait_event (or asyncio.timeout): {found}"

