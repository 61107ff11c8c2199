"""Keep the garbage collector's full collections short in a long-running process.

A full (generation 2) collection walks every container object the process holds. After start-up
that is ~150,000 objects (modules, classes, Textual's DOM, py-clob-client-v2 and its eth
libraries, pydantic models), almost none of which ever becomes garbage; walking them took 150–300 ms
each time on the bench machine, a pause of the one event loop that runs the feed, the strategy and
the UI. ``settle_heap`` collects once and then moves every survivor into the permanent generation
(``gc.freeze``), which later collections skip. Objects made afterwards are collected as usual.

Called by the programs (``polymm-tui``, ``polymm run``) once start-up is done, never by library code:
in a test process it would pin whatever earlier tests left alive.
"""

from __future__ import annotations

import gc

#: Seconds after the engine starts: discovery, clients and the first screens are in place by then.
SETTLE_AFTER_S = 3.0


def settle_heap() -> int:
    """Collect, then freeze the survivors; returns how many objects are now frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
