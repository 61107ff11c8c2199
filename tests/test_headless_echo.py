"""``polymm run`` echoes the engine's events (the TUI's event log) as log lines: each once, in order."""

from __future__ import annotations

import logging

import pytest

from polymm import state as state_mod
from polymm.ops.runner import _echo_events
from polymm.state import StateStore


def _echoed(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if getattr(r, "source", None) == "engine"]


def test_each_event_is_logged_once_in_order_even_when_two_share_a_timestamp(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    store = StateStore()
    store.subscribe(_echo_events(store))  # no running loop: the store notifies at once
    monkeypatch.setattr(state_mod.time, "time", lambda: 1_700_000_000.0)  # one clock reading for all
    with caplog.at_level(logging.INFO, logger="polymm"):
        store.log("first")
        store.log("second", "warning")
        store.set("book/x", 1)  # a write that is not an event: nothing more is logged
        store.log("third", "error")
    assert _echoed(caplog) == ["first", "second", "third"]
    levels = [r.levelno for r in caplog.records if getattr(r, "source", None) == "engine"]
    assert levels == [logging.INFO, logging.WARNING, logging.ERROR]


def test_a_ring_that_rolled_over_is_logged_from_the_entry_after_the_last_one_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    store = StateStore()
    echo = _echo_events(store)
    with caplog.at_level(logging.INFO, logger="polymm"):
        store.log("before")
        echo(store.version)
        for i in range(600):  # more than the ring keeps (500): the first 100 of these are gone
            store.log(f"e{i}")
        echo(store.version)
        echo(store.version)  # nothing new: nothing logged
    assert _echoed(caplog) == ["before"] + [f"e{i}" for i in range(100, 600)]
