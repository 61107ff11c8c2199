"""Short garbage-collection pauses: the dashboard's tables and the start-up heap (tui_bench measured
150–300 ms pauses of the one event loop without these)."""

from __future__ import annotations

from polymm.tui.widgets import OrderBookLadder


def test_live_tables_keep_small_render_caches() -> None:
    """DataTable keys its render caches by update count, so updates strand old entries; the live
    tables cap them (tui_bench: ~60,000 dead objects per 30 s otherwise, walked by every full
    collection). Checks the pinned Textual still has the caches this relies on. (The markets table
    draws its own visible rows: tests/test_tui_scale.py bounds its cache.)"""
    from textual.cache import LRUCache
    from textual.widgets import DataTable

    from polymm.tui.widgets import OpenOrdersTable, _LiveTable

    plain = DataTable()
    assert all(isinstance(getattr(plain, name), LRUCache) for name in _LiveTable.CACHES)
    for table in (OrderBookLadder(), OpenOrdersTable()):
        assert all(getattr(table, name).maxsize == _LiveTable.CACHE_SIZE for name in _LiveTable.CACHES)


def _in_child(code: str) -> str:
    """Run ``code`` in a child process (freezing here would pin what earlier tests left alive); its output."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_settle_heap_freezes_the_start_up_heap_out_of_full_collections() -> None:
    code = ("import gc, polymm.tui.app\n"
            "from polymm.engine.heap import settle_heap\n"
            "before = len(gc.get_objects())\n"
            "frozen = settle_heap()\n"
            "after = len(gc.get_objects())\n"
            "assert frozen > 10_000 and after < before - 10_000, (before, frozen, after)\n"
            "print(frozen)")
    assert int(_in_child(code)) > 10_000


def test_the_heap_is_settled_again_once_every_market_quotes_or_at_the_limit() -> None:
    """Start-up at hundreds of markets goes on long after the first settle; the second one waits for
    ``started`` (``Engine.all_quoting``), and no longer than its limit."""
    code = ("import asyncio, gc, polymm.tui.app\n"
            "from polymm.engine.heap import settle_when_started\n"
            "seen = []\n"
            "def started():\n"
            "    seen.append(gc.get_freeze_count())\n"
            "    return len(seen) >= 3\n"
            "frozen = asyncio.run(settle_when_started(started, limit_s=3600, poll_s=0))\n"
            "assert seen == [0, 0, 0] and frozen > 10_000, (seen, frozen)\n"
            "gc.unfreeze()\n"
            "again = asyncio.run(settle_when_started(lambda: False, limit_s=0))\n"
            "assert again > 10_000, again\n"
            "print('ok')")
    assert _in_child(code) == "ok"


def test_once_settled_growth_of_objects_freed_by_reference_sets_off_no_collection() -> None:
    """After the settle a young collection waits for ``COLLECT_THRESHOLDS[0]`` objects made and not freed:
    10,000 long-lived objects (what the bounded windows hold as they fill) set off ~14 collections at
    CPython's 700, none once settled — and garbage in cycles is still collected."""
    code = ("import gc\n"
            "from polymm.engine.heap import COLLECT_THRESHOLDS, settle_heap\n"
            "runs = []\n"
            "gc.callbacks.append(lambda phase, info: runs.append(info['generation']) if phase == 'start' else None)\n"
            "def grow():\n"
            "    runs.clear()\n"
            "    kept = [[i] for i in range(10_000)]\n"
            "    return len(runs), kept\n"
            "before, kept_before = grow()\n"
            "settle_heap()\n"
            "after, kept_after = grow()\n"
            "assert gc.get_threshold() == COLLECT_THRESHOLDS and before >= 10 and after == 0, (before, after)\n"
            "class Node:\n"
            "    pass\n"
            "for _ in range(3 * COLLECT_THRESHOLDS[0]):\n"
            "    a, b = Node(), Node()\n"
            "    a.other, b.other = b, a\n"
            "assert runs, 'cyclic garbage past the threshold is collected'\n"
            "print('ok')")
    assert _in_child(code) == "ok"
