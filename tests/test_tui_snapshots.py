"""Snapshot tests of the dashboard (pytest-textual-snapshot), at 160×48 (the wide layout: panels side
by side), 100×30 and 80×24 (the compact layout: the markets table, one tab's pane under it), on a
canned session with a fixed clock and theme (tests/snapshot_scenario.py). Update after a deliberate UI
change with ``pytest tests/test_tui_snapshots.py --snapshot-update`` and review the SVGs."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest
from snapshot_scenario import NOW, build_app, canned_picker

from polymm.state import ExecutionState, RewardsState, VenueState

SIZES = [(160, 48), (100, 30), (80, 24)]
IDS = ["160x48", "100x30", "80x24"]


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_dashboard(snap_compare, size) -> None:
    assert snap_compare(build_app(), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_halted(snap_compare, size) -> None:
    """HALTED and its reason, tightened limits and a cooldown: the clock stays at the right edge."""
    app = build_app(halted=True)
    app.store.set("risk", replace(app.store.get("risk"), tighten=0.96, cooldown_s=12.0))
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_reconciling(snap_compare, size) -> None:
    """What we hold is not known yet (the catch-up with the venue failing): NOT QUOTING, why, no quotes."""
    assert snap_compare(build_app(reconciling=True), terminal_size=size)


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
def test_venue_unreachable_with_a_notice(snap_compare, size) -> None:
    """ARMED · NOT QUOTING while the venue does not answer (the next retry counted down), and the
    engine's standing notice on the banner."""
    app = build_app(reconciling=True)
    app.store.set("execution", ExecutionState("paper", 0, 0, None, 0, 0, 0, ready=False,
                                              reason="venue unreachable: All connection attempts failed — "
                                                     "retrying in 8 s"))
    app.store.set("notice", "unknown market ids: 0xabc1234567… (not listed by Gamma or the CLOB)")
    assert snap_compare(app, terminal_size=size)


class _Capital:
    """What the dashboard reads of the engine's capital manager (POLYMM_AUTO_MERGE): its counts."""

    in_flight = {"0x01": object()}
    confirmed, failed = 4, 0


@pytest.mark.parametrize("size", [(160, 48), (100, 30)], ids=["160x48", "100x30"])
def test_rewards(snap_compare, size) -> None:
    """A live session: today's rewards from the venue in the P&L summary (net = trading + rewards − fees)
    and per market, and the capital operations' counts on the positions box's lower border."""
    app = build_app()
    store = app.store
    order = store.get("markets")
    store.set("venue", VenueState("LIVE", "https://clob.polymarket.com", "live"))
    store.set("execution", ExecutionState("live", 9, 0, 1.2, 0, 0, 0, orders_1s=3, cancels_1s=2))
    store.set("rewards", RewardsState("2026-11-18", D("0.354211"), {order[0]: D("0.35"), order[1]: D("0.004211")},
                                      NOW - 30, "", True))
    assert app.engine is not None
    app.engine.capital = _Capital()  # type: ignore[assignment]  # only its counts are read

    async def positions_tab(pilot) -> None:
        if app.compact:  # the positions are a tab there (wide, they are on screen)
            await pilot.press("2")

    assert snap_compare(app, terminal_size=size, run_before=positions_tab)


@pytest.mark.parametrize("tab", ["2", "3", "4", "5", "6", "7"],
                         ids=["positions", "signals", "trades", "log", "orders", "fills"])
def test_compact_tabs(snap_compare, tab) -> None:
    """80×24: each tab's pane under the markets table (the book is the dashboard's own snapshot)."""
    assert snap_compare(build_app(), terminal_size=(80, 24), press=[tab])


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
def test_sorted_by_pnl(snap_compare, size) -> None:
    assert snap_compare(build_app(), terminal_size=size, press=["s"])


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
def test_flatten_asks_first(snap_compare, size) -> None:
    """``f`` on a market we hold: what is held, what the order does, and reduce-only as the other way."""
    assert snap_compare(build_app(), terminal_size=size, press=["f"])


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_help(snap_compare, size) -> None:
    assert snap_compare(build_app(), terminal_size=size, press=["question_mark"])


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_picker(snap_compare, size) -> None:
    app = build_app()

    async def open_picker(pilot) -> None:
        picker = canned_picker(app)
        await app.push_screen(picker)
        search = picker.query_one("#picker-search")
        for _ in range(200):  # the search box has the focus (the picker's on_mount) before typing
            if app.focused is search:
                break
            await pilot.pause()
        await pilot.press(*"best")  # search as you type
        # wait on the condition, not a fixed pause: the search typed in full and its rows drawn
        table = picker.query_one("#picker-table")
        for _ in range(200):
            if picker._query == "best" and picker.loaded and table.row_count == len(picker.matches()):
                break
            await pilot.pause()
        assert picker._query == "best", picker._query
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_picker)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
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


@pytest.mark.parametrize("size", [(160, 48), (80, 24)], ids=["160x48", "80x24"])
def test_many_markets_filtered(snap_compare, size) -> None:
    """300 markets (tests/test_tui_scale.py's session): the filter box open over the table with "fed"
    typed — the rows that match, how many of the 300 in the title — and the status bar with
    tick-to-trade, the loop lag (amber) and the rate limiter's queue."""
    from test_tui_scale import scale_app

    app = scale_app()
    app.store.set("execution", ExecutionState("paper", 600, 0, None, 0, 0, 0, tick_to_trade_p50_ms=3.1,
                                              tick_to_trade_p99_ms=8.4, loop_lag_ms=120.0, queued=2,
                                              throttled_1m=14))
    assert snap_compare(app, terminal_size=size, press=["slash", "f", "e", "d"])
