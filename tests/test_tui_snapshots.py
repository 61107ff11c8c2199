"""Snapshot tests of the dashboard (pytest-textual-snapshot), at 160×48 and 100×30, on a canned
session with a fixed clock and theme (tests/snapshot_scenario.py). Update after a deliberate UI
change with ``pytest tests/test_tui_snapshots.py --snapshot-update`` and review the SVGs."""

from __future__ import annotations

import pytest
from snapshot_scenario import build_app, canned_picker

SIZES = [(160, 48), (100, 30)]


@pytest.mark.parametrize("size", SIZES, ids=["160x48", "100x30"])
def test_dashboard(snap_compare, size) -> None:
    assert snap_compare(build_app(), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=["160x48", "100x30"])
def test_halted(snap_compare, size) -> None:
    assert snap_compare(build_app(halted=True), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=["160x48", "100x30"])
def test_reconciling(snap_compare, size) -> None:
    """What we hold is not known yet (the catch-up with the venue failing): RECONCILING, why, no quotes."""
    assert snap_compare(build_app(reconciling=True), terminal_size=size)


class _Capital:
    """What the dashboard reads of the engine's capital manager (POLYMM_AUTO_MERGE): its counts."""

    in_flight = {"0x01": object()}
    confirmed, failed = 4, 0


@pytest.mark.parametrize("size", SIZES, ids=["160x48", "100x30"])
def test_rewards(snap_compare, size) -> None:
    """A live session: today's rewards from the venue in the P&L summary (net = trading + rewards − fees)
    and per market, and the capital operations' counts on the positions box's lower border."""
    from decimal import Decimal as D

    from snapshot_scenario import NOW

    from polymm.state import ExecutionState, RewardsState, VenueState

    app = build_app()
    store = app.store
    order = store.get("markets")
    store.set("venue", VenueState("LIVE", "https://clob.polymarket.com", "live"))
    store.set("execution", ExecutionState("live", 9, 0, 1.2, 0, 0, 0, orders_1s=3, cancels_1s=2))
    store.set("rewards", RewardsState("2026-11-18", D("0.354211"), {order[0]: D("0.35"), order[1]: D("0.004211")},
                                      NOW - 30, "", True))
    assert app.engine is not None
    app.engine.capital = _Capital()  # type: ignore[assignment]  # only its counts are read
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=["160x48", "100x30"])
def test_help(snap_compare, size) -> None:
    assert snap_compare(build_app(), terminal_size=size, press=["question_mark"])


@pytest.mark.parametrize("size", SIZES, ids=["160x48", "100x30"])
def test_picker(snap_compare, size) -> None:
    app = build_app()

    async def open_picker(pilot) -> None:
        await app.push_screen(canned_picker(app))
        await pilot.press(*"best")  # search as you type
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_picker)


@pytest.mark.parametrize("size", SIZES, ids=["160x48", "100x30"])
def test_editor(snap_compare, size) -> None:
    app = build_app()

    async def edit_badly(pilot) -> None:
        await pilot.press("e")
        await pilot.pause()
        field = app.screen.query_one("#edit-spread")
        field.value = "0.035"  # not a multiple of the tick: refused, explained, nothing changes
        await pilot.press("ctrl+s")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=edit_badly)
