"""Chaos bench: issue 11's fault-and-crash scenario at length, judged from the venue.

The stand-in runs in its own process (with a recorder of our orders' lifetimes and the venue's answers),
``polymm run --demo`` against it on a journal, limits size 5 / position 15 / total 60, every market-file
line with ``spread=0.02`` (``--line-params``: more of our quotes are hit than at the default 0.04). A seeded
schedule (``random.Random(seed)``) injects every ``/_admin/`` fault — socket drops and freezes, latency
past the client's 5 s timeout, 425/429/500/503 bursts, ghost fills, tick changes, lost heartbeats,
heartbeat replies without an id, new listings, resolutions — about once a minute each, ``kill -9``s
polymm and SIGTERMs it (each time restarted on the same journal), and appends markets to the market
file mid-run. After a final SIGTERM the run is judged (``tests/chaos.py``'s module doc defines every
figure): orphans, duplicates, fill legs journal vs venue, the strict position path against the limits,
journal positions vs venue balances, tracebacks.

    python bench/chaos_bench.py --minutes 5 --seed 1 [--keep DIR] [--quiet]

Last line: ``{"bench": "chaos", "faults": …, "kills": …, "orphans": 0, "duplicates": 0,
"position_breaches": 0, "fill_mismatches": 0, …}``. Exit 1 when a must-be-zero figure is not.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from chaos import BURST_PATHS, FAULT_KINDS, MUST_BE_ZERO, ScenarioConfig, make_schedule, run_scenario, summary

#: the JSON line's keys, in this order (``details`` stays in the work directory's details.json)
JSON_KEYS = (
    "faults", "kills", "sigterms", "restarts", "orphans", "orphans_after_sigterm", "duplicates",
    "position_breaches", "fill_mismatches", "position_mismatches", "worst_excess", "peak_position", "peak_total",
    "fills", "failed_legs", "reversals", "failed_never_booked", "adjustments", "journal_rows", "leg_status_differs",
    "orders_placed", "same_side_overlaps", "refill_overlaps",
    "duplicated_answers", "tracebacks", "halts", "error_lines", "unexpected_exits", "start_failures",
    "seconds_quoting", "seconds_observed", "trading_seconds", "wall_seconds", "markets_quoted", "markets_listed",
    "markets_resolved", "tick_changes", "heartbeat_cancels", "venue_views_disagree", "fault_kinds",
)


#: ``--spare-heartbeats``: no fault that makes a heartbeat fail (latency past the timeout, error bursts
#: that can reach ``/v1/heartbeats``) or lets the venue's heartbeat session lapse (heartbeats not honoured)
HEARTBEAT_FAULTS = ("latency", "heartbeats_lost")


def config(minutes: float, seed: int, skip: tuple[str, ...] = (), line_params: str = "spread=0.02",
           spare_heartbeats: bool = False) -> ScenarioConfig:
    """The scenario scaled to ``minutes``: every fault kind about once a minute, a kill -9 every ~75 s
    (at least 3), a SIGTERM every ~4 minutes (at least 1), a catalog market added per ~2.5 minutes."""
    if spare_heartbeats:
        skip = (*skip, *HEARTBEAT_FAULTS)
    paths = tuple(p for p in BURST_PATHS if not spare_heartbeats or p not in ("/", "/v1/heartbeats"))
    return ScenarioConfig(burst_paths=paths,
        seed=seed, seconds=minutes * 60, rounds=max(1, round(minutes)), kills=max(3, round(minutes * 0.8)),
        sigterms=max(1, round(minutes / 4)), added_markets=max(1, round(minutes / 2.5)), initial_markets=4,
        kinds=tuple(k for k in FAULT_KINDS if k not in skip), line_params=line_params,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="work directory to keep (logs, journal, venue dump, details.json)")
    ap.add_argument("--quiet", action="store_true", help="no event log on stderr")
    ap.add_argument("--skip", action="append", default=[], choices=FAULT_KINDS, metavar="KIND",
                    help=f"leave a fault kind out (repeatable; one of {', '.join(FAULT_KINDS)})")
    ap.add_argument("--line-params", default="spread=0.02",
                    help="parameters on every market-file line (default %(default)s: more fills; '' for the defaults)")
    ap.add_argument("--spare-heartbeats", action="store_true",
                    help="no fault that makes heartbeats fail or lets the venue's heartbeat session lapse "
                         "(latency, lost heartbeats, error bursts aimed at / or /v1/heartbeats)")
    args = ap.parse_args()
    cfg = config(args.minutes, args.seed, tuple(args.skip), args.line_params, args.spare_heartbeats)
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="chaos-bench-"))
    print(f"chaos bench: seed {args.seed}, {args.minutes:g} min, {len(make_schedule(cfg))} scheduled events, "
          f"work directory {workdir}", flush=True)
    v = run_scenario(cfg, workdir, echo=not args.quiet)
    print(summary(v))
    line = {"bench": "chaos", "seed": args.seed, "minutes": args.minutes, **{k: v[k] for k in JSON_KEYS},
            "line_params": args.line_params}
    if args.skip:
        line["skipped_kinds"] = args.skip
    if args.spare_heartbeats:
        line["spare_heartbeats"] = True
    bad = [k for k in MUST_BE_ZERO if v[k]]
    print(f"verdict: {'all zero' if not bad else 'NOT zero: ' + ', '.join(bad)} (details: {workdir / 'details.json'})")
    print(json.dumps(line))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
