"""Sweep benchmark: the same job list on 1 worker (in this process) and on N worker processes.

The jobs are ``--jobs`` synthetic backtests (``polymm.backtest.sweep.Job``: seeds 1..jobs, one model,
one scenario), each ``--minutes`` of simulated time — about 1.5 s of CPU each with the defaults, long
enough that the pool's start-up (a fork server importing polymm once, ~0.4 s) is paid once against
several seconds of work. Both timings include everything the caller waits for: pool start-up,
pickling the jobs and the ``Report``s, and shutdown. The two are run ``--repeat`` times, alternately,
and the best of each is kept: other work on the machine only ever slows a run down, and a core taken
by someone else halves the 2-worker figure: each run also shows the CPU seconds the rest of the machine
used meanwhile, so a disturbed figure can be told from a slow sweep.

The figure that matters is ``workers_speedup`` = wall(1 worker) / wall(N workers), target >= 1.7 with
2 workers on 2 cores. The two result lists must be equal (the bench exits 1 otherwise): the sweep is
deterministic whatever runs it. Prints a table and, as its last line, one JSON object:
``{"bench": "sweep", "workers": 2, "jobs": 8, "workers_speedup": ..., ...}``.
Usage: ``python bench/sweep_bench.py [--jobs 8] [--minutes 30] [--workers 2] [--repeat 3] [--model pm4]
[--scenario standin]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from polymm.backtest.scenarios import SCENARIOS
from polymm.backtest.simulation import bench_params
from polymm.backtest.sweep import Sweep, default_workers, product_jobs
from polymm.domain.strategy import MODELS

TARGET = 1.7


def _busy_cpu_s() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (Linux: /proc/stat), else None."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    t = os.times()  # children: the pool's processes, reaped when it shuts down
    return t.user + t.system + t.children_user + t.children_system


def timed_run(jobs: list, workers: int) -> tuple[float, float | None, list]:
    """A fresh ``Sweep(workers)`` running ``jobs`` (start-up and shutdown included): wall seconds, CPU
    seconds the rest of the machine used meanwhile (None off Linux), and the reports."""
    busy0, own0 = _busy_cpu_s(), _own_cpu_s()
    t0 = time.perf_counter()
    with Sweep(workers=workers) as sweep:
        reports = sweep.run(jobs)
    wall = time.perf_counter() - t0
    busy1, own1 = _busy_cpu_s(), _own_cpu_s()
    other = None if busy0 is None or busy1 is None else max(0.0, (busy1 - busy0) - (own1 - own0))
    return wall, other, reports


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=30.0, help="simulated minutes per job")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; the best is kept")
    ap.add_argument("--model", choices=MODELS, default="pm4")
    ap.add_argument("--scenario", choices=tuple(SCENARIOS), default="standin")
    args = ap.parse_args(argv)

    jobs = product_jobs(range(1, args.jobs + 1), scenarios=(args.scenario,), models=(args.model,),
                        params=bench_params, seconds=args.minutes * 60)
    print(f"{len(jobs)} jobs of {args.minutes:g} simulated minutes ({args.model}, {args.scenario}); "
          f"{default_workers()} core(s) available; best of {args.repeat}")
    print(f"  {'run':<26}{'wall s':>8}{'others CPU s':>16}")
    best: dict[int, tuple[float, float | None]] = {}
    same = True
    for _ in range(args.repeat):
        reference = None
        for workers in (1, args.workers):
            wall, other, reports = timed_run(jobs, workers)
            reference = reports if reference is None else reference
            same = same and reports == reference
            label = "1 worker (in process)" if workers == 1 else f"{workers} worker processes"
            print(f"  {label:<26}{wall:8.2f}{'n/a' if other is None else f'{other:.1f}':>16}")
            if workers not in best or wall < best[workers][0]:
                best[workers] = (wall, other)
    (wall_1, other_1), (wall_n, other_n) = best[1], best[args.workers]
    speedup = wall_1 / wall_n
    print(f"  best: {wall_1:.2f} s vs {wall_n:.2f} s: speedup {speedup:.2f}x (target >= {TARGET:g} with 2 workers on "
          f"2 idle cores; others' CPU is what the rest of the machine used meanwhile)")
    print(f"  results identical: {same}")
    print(json.dumps({"bench": "sweep", "workers": args.workers, "jobs": len(jobs), "minutes": args.minutes,
                      "model": args.model, "repeat": args.repeat, "wall_1_s": round(wall_1, 3),
                      "wall_n_s": round(wall_n, 3), "others_cpu_s_1": other_1 and round(other_1, 1),
                      "others_cpu_s_n": other_n and round(other_n, 1), "identical": same,
                      "workers_speedup": round(speedup, 3)}))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
