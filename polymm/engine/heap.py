"""Keep the garbage collector's full collections short in a long-running process.

A full (generation 2) collection walks every container object the process holds. After start-up
that is ~150,000 objects (modules, classes, Textual's DOM, py-clob-client-v2 and its eth
libraries, pydantic models), almost none of which ever becomes garbage; walking them took 150–300 ms
each time on the bench machine, a pause of the one event loop that runs the feed, the strategy and
the UI. ``settle_heap`` collects once and then moves every survivor into the permanent generation
(``gc.freeze``), which later collections skip. Objects made afterwards are collected as usual.

Called by the programs (``polymm-tui``, ``polymm run``) once start-up is done, never by library code:
in a test process it would pin whatever earlier tests left alive. Start-up at hundreds of markets goes
on long after the first settle (every market quoting after ~40 s at 300: books, models, signal
windows, the first orders): ``settle_when_started`` freezes them too. Measured at 300 markets
headless (a probe freezing after a full collection at that point): full collections p50 26 / max 58 ms
without it, 15 / 17 ms with it — each a pause of the loop, and the passes of the strategy after it held
70–125 markets instead of ~5.

Once settled, a young collection waits for 20,000 objects made and not yet freed, not CPython's 700
(``COLLECT_THRESHOLDS``). With the venue's responses no longer in reference cycles
(``venue/http_clients.py``) almost every object is freed by its last reference, and what sets a
collection off is growth — the bounded windows filling, orders in flight — not garbage: measured
headless at 300 markets over ~110 s, young/middle/full collections 258/24/2 (~0.55 s of pauses,
young ones p99 8 ms, middle ones up to 9–15 ms) with 700, and 2 young ones (17–21 ms each, ~30 ms in
all) with 20,000; posts within 10 ms of their frame 98.9% and 99.8% of ~1,900.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

#: Seconds after the engine starts: discovery, clients and the first screens are in place by then.
SETTLE_AFTER_S = 3.0
#: The second settle's latest moment (seconds after the engine starts), should some market never quote.
SETTLE_AGAIN_LIMIT_S = 180.0


#: ``gc.set_threshold`` once settled: young collections after 20,000 objects made and not freed (module docstring)
COLLECT_THRESHOLDS = (20_000, 20, 10)


def settle_heap(generation: int = 2) -> int:
    """Collect (up to ``generation``: 2, every one), freeze the survivors and collect from now on at
    ``COLLECT_THRESHOLDS``; returns how many objects are now frozen."""
    gc.collect(generation)
    gc.freeze()
    gc.set_threshold(*COLLECT_THRESHOLDS)
    return gc.get_freeze_count()


async def settle_when_started(started: Callable[[], bool], limit_s: float = SETTLE_AGAIN_LIMIT_S,
                              poll_s: float = 1.0) -> int:
    """Freeze the heap once more when ``started()`` holds (``Engine.all_quoting``: every market's
    start-up is done), at the latest after ``limit_s``; returns how many objects are then frozen.

    Only the young generations are collected first (a few ms): by then the markets stream, and a full
    collection of the grown heap would be one more long pause of the loop (a dashboard refresh of
    100+ ms at 300 markets). What of the old generation is garbage just then stays (a one-off)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not started() and loop.time() < deadline:
        await asyncio.sleep(poll_s)  # a slow poll of the programs' start-up, not a wait for an event
    return settle_heap(1)
