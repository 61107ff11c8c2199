"""Snapshot tests of the dashboard (pytest-textual-snapshot), at 160×48 and 100×30, on a canned
session with a fixed clock and theme (tests/snapshot_scenario.py). Update after a deliberate UI
change with ``pytest tests/test_tui_snapshots.py --snapshot-update`` and review the SVGs."""

from __future__ import annotations

import pytest
from snapshot_scenario import build_app

SIZES = [(160, 48), (100, 30)]


@pytest.mark.parametrize("size", SIZES, ids=["160x48", "100x30"])
def test_dashboard(snap_compare, size) -> None:
    assert snap_compare(build_app(), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=["160x48", "100x30"])
def test_halted(snap_compare, size) -> None:
    assert snap_compare(build_app(halted=True), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=["160x48", "100x30"])
def test_help(snap_compare, size) -> None:
    assert snap_compare(build_app(), terminal_size=size, press=["question_mark"])
