"""Deterministic market-channel ``price_change`` streams for benchmarks.

``price_change_stream`` builds a consistent stream for the given markets: each market keeps a fair
value, level changes land on its own side of it (bids below, asks above), 1–3 changes per frame,
each listed for both tokens as Polymarket does. The stand-in's ``/_admin/blast`` pushes such a
stream through its real market channel; ``bench/book_bench.py`` parses the same kind of stream.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

from polymm.domain.market import Market
from polymm.domain.prices import MAX_PIPS, pips_to_str


def price_change_stream(markets: Sequence[Market], count: int, seed: int = 1) -> tuple[list[bytes], int]:
    """(frames, level changes) for ``count`` frames over ``markets``."""
    rng = random.Random(seed)
    fair = {m.condition_id: MAX_PIPS // 2 for m in markets}
    frames: list[bytes] = []
    levels = 0
    ts = 1_760_000_000_000
    for _ in range(count):
        m = markets[rng.randrange(len(markets))]
        t = m.tick.pips
        f = fair[m.condition_id] + rng.choice((-t, 0, t))
        f = min(max(f, 20 * t), MAX_PIPS - 20 * t)
        f -= f % t
        fair[m.condition_id] = f
        changes = []
        for _ in range(rng.randint(1, 3)):
            is_bid = rng.random() < 0.5
            dist = rng.randint(1, 15) * t
            p = f - dist if is_bid else f + dist
            size = "0" if rng.random() < 0.25 else f"{rng.randint(5, 5000)}.{rng.randint(0, 99):02d}"
            h = f"{rng.getrandbits(160):040x}"
            changes.append({"asset_id": m.yes_token, "price": pips_to_str(p), "size": size,
                            "side": "BUY" if is_bid else "SELL", "hash": h, "best_bid": "", "best_ask": ""})
            changes.append({"asset_id": m.no_token, "price": pips_to_str(MAX_PIPS - p), "size": size,
                            "side": "SELL" if is_bid else "BUY", "hash": h, "best_bid": "", "best_ask": ""})
        levels += len(changes)
        ts += 3
        frames.append(json.dumps({"event_type": "price_change", "market": m.condition_id, "timestamp": str(ts),
                                  "price_changes": changes}, separators=(",", ":")).encode())
    return frames, levels
