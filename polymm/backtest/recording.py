"""A recorded market channel made offline: the stand-in's synthetic flow in simulated time, written
in the recorder's format. For benches and test fixtures that need a recording without a network.

The stand-in's own pieces do all the work: ``market_profiles(seed, markets)`` and one seeded
``SyntheticFlow`` per market on one ``MatchingEngine`` (as ``StandIn`` builds them), and the stand-in's
``MarketChannel`` rendering every event into the frames its ``/ws/market`` socket would send to a
client subscribed to every token (the initial ``book`` dump, ``price_change``, ``last_trade_price`` and
the ``book`` of each token after a trade). Instead of a socket, the subscriber hands each frame to a
``FrameWriter`` stamped with the simulated receive time: the engine's clock plus ``latency_ms``.

Each market steps at ``rate`` steps per simulated second with Poisson gaps from a generator seeded
with (seed, market); the markets interleave by time. Everything is a pure function of the arguments
(the files' names and gzip headers carry the wall clock, their content does not).
"""

from __future__ import annotations

import heapq
import os
import random
from dataclasses import dataclass
from pathlib import Path

from polymm.venue.recorder import FrameWriter
from polymm_standin.sim import (
    DEFAULT_FLOW_RATE,
    QUESTIONS,
    MarketChannel,
    MatchingEngine,
    SyntheticFlow,
    market_profiles,
)

from .capture import subscribe_all
from .simulation import SIM_START_MS


@dataclass(frozen=True, slots=True)
class RecordingStats:
    """What ``record_synthetic`` wrote."""

    files: tuple[Path, ...]
    frames: int
    flow_steps: int
    markets: int
    start_ns: int
    seconds: float


def record_synthetic(
    directory: str | os.PathLike[str],
    *,
    seed: int = 7,
    markets: int = 5,
    seconds: float = 3600.0,
    rate: float = DEFAULT_FLOW_RATE,
    latency_ms: int = 20,
    rotate_bytes: int | None = 64 * 1024 * 1024,
    start_ms: int = SIM_START_MS,
    compresslevel: int = 6,
) -> RecordingStats:
    """Write ``seconds`` of ``markets`` synthetic markets' market channel into ``directory`` (module
    docstring); the recording carries the market definitions."""
    if not 1 <= markets <= len(QUESTIONS):
        raise ValueError(f"markets must be 1..{len(QUESTIONS)}, got {markets}")
    if seconds <= 0 or rate <= 0:
        raise ValueError(f"seconds and rate must be > 0, got {seconds} and {rate}")
    profiles = market_profiles(seed, markets)
    now = [start_ms]

    def clock() -> int:
        return now[0]

    latency_ns = latency_ms * 1_000_000
    matching = MatchingEngine([p.market for p in profiles], clock=clock, id_salt=f"standin:{seed}")
    flows = [SyntheticFlow(matching, p, seed, i, clock=clock) for i, p in enumerate(profiles)]
    for f in flows:
        f.seed_book()
    writer = FrameWriter(directory, rotate_bytes=rotate_bytes, rotate_seconds=None, compresslevel=compresslevel)
    writer.add_markets([p.market for p in profiles], start_ms * 1_000_000)
    subscribe_all(MarketChannel(matching), writer, [p.market for p in profiles],
                  lambda: now[0] * 1_000_000 + latency_ns)
    timings = [random.Random(f"polymm-recording-timing:{seed}:{i}") for i in range(markets)]
    due = [(timings[i].expovariate(rate), i) for i in range(markets)]
    heapq.heapify(due)
    steps = 0
    while due[0][0] < seconds:
        t, i = due[0]
        now[0] = start_ms + int(t * 1000.0)
        flows[i].step()
        steps += 1
        heapq.heapreplace(due, (t + timings[i].expovariate(rate), i))
    writer.close()
    return RecordingStats(tuple(writer.files), writer.frames, steps, markets, start_ms * 1_000_000, seconds)
