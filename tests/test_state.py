"""The StateStore: versioned slices, ``changed_since``, coalesced subscribers, a bounded event log."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polymm.state import LogEntry, PortfolioState, StateStore


def test_set_bumps_versions_per_slice() -> None:
    st = StateStore()
    assert st.version == 0 and st.get("a") is None and st.get("a", 5) == 5 and st.slice_version("a") == 0
    st.set("a", 1)
    st.set("b", 2)
    st.set("a", 3)
    assert st.version == 3
    assert st.get("a") == 3 and st.get("b") == 2
    assert st.slice_version("a") == 3 and st.slice_version("b") == 2
    assert st.keys() == ["a", "b"]


def test_changed_since_returns_only_newer_slices() -> None:
    st = StateStore()
    st.set("book/1", "b1")
    st.set("market/1", "m1")
    v, changed = st.changed_since(0)
    assert v == 2 and changed == {"book/1": "b1", "market/1": "m1"}
    st.set("book/1", "b1'")
    st.set("book/2", "b2")
    v2, changed = st.changed_since(v)
    assert v2 == 4 and changed == {"book/1": "b1'", "book/2": "b2"}
    assert st.changed_since(v2) == (4, {})
    assert st.changed_since(99) == (4, {})
    assert st.changed_since(3) == (4, {"book/2": "b2"})


def test_delete_and_prefixes() -> None:
    st = StateStore()
    st.set("market/a", 1)
    st.set("market/b", 2)
    st.set("risk", 3)
    assert sorted(st.keys("market/")) == ["market/a", "market/b"]
    st.delete("market/a")
    assert st.version == 4 and st.keys("market/") == ["market/b"] and st.get("market/a") is None
    st.delete("market/a")  # already gone: nothing changes
    assert st.version == 4
    assert st.market("b") == 2 and st.market("a") is None and st.book("x") is None
    st.set("market/b2", "m")
    st.set("book/b2", "v")
    assert st.market("b2") == "m" and st.book("b2") == "v"


def test_without_a_loop_subscribers_are_called_at_once() -> None:
    st = StateStore()
    calls: list[int] = []
    unsubscribe = st.subscribe(calls.append)
    st.set("a", 1)
    st.set("a", 2)
    assert calls == [1, 2]
    unsubscribe()
    st.set("a", 3)
    assert calls == [1, 2]
    unsubscribe()  # twice is harmless


@pytest.mark.asyncio
async def test_subscribers_are_coalesced_to_one_call_per_loop_turn() -> None:
    st = StateStore()
    calls: list[int] = []
    other: list[int] = []
    st.subscribe(calls.append)
    st.subscribe(other.append)
    for i in range(1000):  # e.g. a burst of WebSocket messages in one turn
        st.set(f"book/{i % 7}", i)
    st.log("hello")
    assert calls == []  # nothing yet: notification waits for the loop
    await asyncio.sleep(0)
    assert calls == [1001] and other == [1001]
    await asyncio.sleep(0)
    assert calls == [1001]  # no writes, no calls
    st.set("a", 1)
    st.delete("a")
    await asyncio.sleep(0)
    assert calls == [1001, 1003]


@pytest.mark.asyncio
async def test_a_write_from_a_subscriber_is_delivered_on_a_later_turn() -> None:
    st = StateStore()
    calls: list[int] = []

    def cb(version: int) -> None:
        calls.append(version)
        if version == 1:
            st.set("derived", version)  # must not recurse into itself

    st.subscribe(cb)
    st.set("a", 1)
    await asyncio.sleep(0)
    assert calls == [1]
    await asyncio.sleep(0)
    assert calls == [1, 2]


@pytest.mark.asyncio
async def test_unsubscribe_stops_pending_notifications() -> None:
    st = StateStore()
    calls: list[int] = []
    unsubscribe = st.subscribe(calls.append)
    st.set("a", 1)
    unsubscribe()
    await asyncio.sleep(0)
    assert calls == []


def test_event_log_is_a_bounded_ring_buffer() -> None:
    st = StateStore()
    for i in range(620):
        st.log(f"msg {i}", "warning" if i % 2 else "info")
    events = st.get("events")
    assert isinstance(events, tuple) and len(events) == 500
    assert all(isinstance(e, LogEntry) for e in events)
    assert events[0].text == "msg 120" and events[-1].text == "msg 619"
    assert events[-1].level == "warning" and events[-2].level == "info"
    assert events[0].ts <= events[-1].ts
    assert st.slice_version("events") == st.version == 620
    before = events
    st.log("one more")
    assert before[-1].text == "msg 619" and len(before) == 500  # published snapshots are immutable


def test_portfolio_state_total() -> None:
    p = PortfolioState(Decimal("1.5"), Decimal("-0.25"), Decimal("0.05"), 3)
    assert p.total_pnl == Decimal("1.20")


def test_deleted_slices_are_reported_once_as_none() -> None:
    store = StateStore()
    store.set("market/a", 1)
    store.set("market/b", 2)
    v, _ = store.changed_since(0)
    store.delete("market/a")
    v2, changed = store.changed_since(v)
    assert changed == {"market/a": None}
    assert store.changed_since(v2) == (v2, {})
    store.set("market/a", 3)  # re-added: a normal value again
    assert store.changed_since(v2)[1] == {"market/a": 3}


class _NoScan(dict[str, Any]):
    """A slice table that counts the slices read one by one and refuses to be scanned whole."""

    reads = 0

    def __getitem__(self, key: str) -> Any:
        type(self).reads += 1
        return super().__getitem__(key)

    def items(self) -> Any:
        raise AssertionError("changed_since scanned every slice")

    def values(self) -> Any:
        raise AssertionError("changed_since scanned every slice")


def test_changed_since_reads_only_the_slices_written_since() -> None:
    """At 300 markets the store holds ~1,500 slices and the dashboard asks 20 times a second: the
    answer costs the slices written since the reader's version, not the whole table."""
    store = StateStore()
    for i in range(2_000):
        store.set(f"market/{i}", i)
    v, _ = store.changed_since(0)
    store.set("market/7", "seven")
    store.set("book/new", "b")
    store.set("market/7", "seven again")
    store._slices = _NoScan(store._slices)
    _NoScan.reads = 0
    version, changed = store.changed_since(v)
    assert changed == {"book/new": "b", "market/7": "seven again"}
    assert list(changed) == ["book/new", "market/7"]  # the oldest write first
    assert version == v + 3
    assert _NoScan.reads <= 3  # the two written since, and the first one the reader had seen


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["set", "delete", "look"]), st.integers(0, 5), st.integers(0, 9)),
                max_size=60))
def test_changed_since_agrees_with_a_plain_scan(ops: list[tuple[str, int, int]]) -> None:
    """Any mix of writes, deletes and reads: what ``changed_since`` reports is what a scan of every
    slice's version would (and each deletion once, as None)."""
    store = StateStore()
    seen = 0
    for op, key, value in ops:
        k = f"market/{key}"
        if op == "set":
            store.set(k, value)
        elif op == "delete":
            store.delete(k)
        else:
            expect = {kk: s.value for kk, s in store._slices.items() if s.version > seen}
            expect |= {kk: None for kk, at in store._deleted.items() if at > seen and kk not in expect}
            seen, changed = store.changed_since(seen)
            assert changed == expect
            assert seen == store.version
