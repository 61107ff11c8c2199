"""Replay benchmark: ``polymm replay`` over a recorded hour of 5 markets, against real time.

Builds the recording first, deterministically and offline, in a temporary directory
(``polymm.backtest.recording.record_synthetic``: the stand-in's synthetic flow for 5 markets in
simulated time, its market channel's frames written in the recorder's format with simulated receive
times spanning the hour), then measures in the same run:

* replay: ``Replay.run`` over the recording — read and decompress, ``parse_frame`` + ``BookSet.apply``,
  every market's strategy steps on the engine's schedule (``MarketBrain`` → ``RiskEngine`` →
  ``diff_orders`` → ``PaperExecution``), fills, the risk pass every 0.5 s, the report;
* baseline: reading the same recording and ``parse_frame`` + ``BookSet.apply`` alone (what any replay
  must do), so ``strategy_overhead`` is the cost of running the market maker on top.

The figure that matters is ``speedup``: recorded seconds per wall second (target >= 50x).
Prints a table and, as its last line, one JSON object: ``{"bench": "replay", "speedup": ..., ...}``.
Usage: ``python bench/replay_bench.py [--markets 5] [--seconds 3600] [--seed 7] [--model fixed]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

from polymm.backtest.recording import record_synthetic
from polymm.backtest.replay import Replay, ReplayConfig
from polymm.domain.book_set import BookSet
from polymm.domain.messages import parse_frame
from polymm.domain.params import MarketParams
from polymm.domain.strategy import MODELS
from polymm.venue.recorder import FrameReader, MarketsLine

TARGET = 50.0


def run_baseline(directory: Path) -> tuple[float, int]:
    """Read, parse and apply every frame (no strategy); returns (wall s, frames)."""
    t0 = time.perf_counter()
    books = BookSet()
    frames = 0
    for _, item in FrameReader(directory).records():
        if type(item) is MarketsLine:
            for m in item.markets:
                books.add(m)
            continue
        events, _errors = parse_frame(item)  # type: ignore[arg-type]
        books.apply(events)
        frames += 1
    return time.perf_counter() - t0, frames


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markets", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3600.0, help="recorded (simulated) seconds")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--model", choices=MODELS, default="fixed")
    ap.add_argument("--keep", metavar="DIR", help="write the recording here (kept) instead of a temporary directory")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="polymm-replay-bench-") as tmp:
        directory = Path(args.keep or tmp)
        t0 = time.perf_counter()
        rec = record_synthetic(directory, seed=args.seed, markets=args.markets, seconds=args.seconds)
        gen_s = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in rec.files)
        # the defaults of Settings, without reading the environment: the same figures on every machine
        config = ReplayConfig(base=MarketParams(model=args.model))
        gc.collect()
        t0 = time.perf_counter()
        report = Replay(config, source=str(directory)).run(FrameReader(directory))
        wall = time.perf_counter() - t0
        gc.collect()
        base_wall, base_frames = run_baseline(directory)

    frames = dict(report.counters)["frames"]
    assert isinstance(frames, int) and frames == rec.frames == base_frames, (frames, rec.frames, base_frames)
    recorded = report.sim_seconds
    result = {
        "bench": "replay",
        "speedup": round(recorded / wall, 1),
        "target": TARGET,
        "frames": frames,
        "markets": args.markets,
        "recorded_s": round(recorded, 1),
        "wall_s": round(wall, 3),
        "frames_per_s": round(frames / wall),
        "strategy_steps": report.steps,
        "fills": report.fills,
        "places": report.places,
        "baseline_wall_s": round(base_wall, 3),
        "baseline_frames_per_s": round(base_frames / base_wall),
        "baseline_speedup": round(recorded / base_wall, 1),
        "strategy_overhead": round(wall / base_wall, 2),
        "recording_mb": round(size / 1e6, 2),
        "generate_s": round(gen_s, 2),
        "model": args.model,
    }
    print(f"python {sys.version.split()[0]}  recording: {args.markets} markets, {recorded:,.0f} s recorded, "
          f"{frames:,} frames, {rec.flow_steps:,} synthetic flow steps, {size / 1e6:.1f} MB gzip "
          f"(generated in {gen_s:.1f} s)")
    print(f"{'':10} {'wall s':>9} {'frames/s':>11} {'x real time':>12}")
    print(f"{'replay':10} {wall:>9.2f} {result['frames_per_s']:>11,} {result['speedup']:>12,.1f}")
    print(f"{'baseline':10} {base_wall:>9.2f} {result['baseline_frames_per_s']:>11,} "
          f"{result['baseline_speedup']:>12,.1f}")
    print(f"replay: model {args.model}, {report.steps:,} strategy steps, {report.places:,} orders placed, "
          f"{report.fills:,} fills, P&L {report.pnl:+.2f} USDC; strategy overhead over parse+apply alone: "
          f"{result['strategy_overhead']}x")
    print(f"speed-up vs real time: {result['speedup']}x (target >= {TARGET:g}x: "
          f"{'met' if result['speedup'] >= TARGET else 'NOT met'})")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
