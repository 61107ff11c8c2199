"""Fill gap: the replay's fills against the stand-in's matching engine, on the same synthetic flow.

For each seed, the same market's synthetic flow (``--scenario``, default ``informed``; market
``--market-index``, default 0) runs two ways, ``--minutes`` of simulated time each:

* **matching engine** — the synthetic backtest (``polymm.backtest.simulate``): our orders rest in the
  stand-in's ``MatchingEngine`` next to the flow's, with the order latency; the flow's traders see them,
  trade with them and react to them. This is the reference.
* **replay** — the same seed's flow run *without* us (``Simulation(quote=False)``), its market channel
  recorded (``Simulation.record``: the frames the stand-in's ``/ws/market`` sends, stamped with the
  simulated time, written by a ``FrameWriter``), then replayed by ``polymm replay``'s code (``Replay``
  over a ``FrameReader``): our orders queue in the recorded book (``fills.RecordedVenue``) with the same
  latency, the same parameters and limits.

P&L is the trading P&L (``Report.trading_pnl``: the replay earns no liquidity rewards), marked at the
same final hidden fair value (the fair path is the seed's whatever anybody trades, and the flow steps at
the same instants, so the two runs end on the same value: checked). ``pnl10`` marks every fill at the
hidden fair value 10 s after it instead (the run's last value for fills closer to the end): the fills'
short-horizon worth, without the inventory carried to the end — the end mark's P&L is mostly that carry
on a mean-reverting fair value, and it is what makes the P&L gap so noisy.

What differs, and why the replay cannot close it all: the recording holds the flow as it ran without
us. In the matching engine the other traders see our orders: the informed trader sweeps whole levels
and never takes a side below five levels (ours count), so our orders let it trade more, and deeper;
noise takers size their sweeps in levels (ours count) and pick off the stale best quote (ours, when it
is); makers and the competing maker price relative to the best quotes (ours included). None of that is
in a recording. The replay models what a recording does say (``fills.py``): queue position, prints at
our level after the queue ahead, trades through our price, a print that clears a level (which took ours
too), recorded orders that would cross ours (refused: ours stays at the touch), post-only rejects,
latency; the strategy sees its own orders in the book, as the live feed shows them, and steps once the
frames of an instant are all in (``replay.py``). ``reaction`` measures the first of those effects
directly: the informed trader's volume with us in the book and without, and how much of it was ours.

``--ablate`` (default on) replays each seed once per variant with one mechanism off, to show what each
is worth: ``no_cleared_levels`` (a print that clears our level fills only what is left after the queue
ahead), ``no_own_orders_in_view`` (the strategy sees the recorded book alone), ``crossed_orders_dropped``
(the earlier rule for a recorded order that crosses ours: the view drops *our* order and the step cancels
it — a free escape from every stale quote), ``steps_between_frames`` (a step may run between the frames
of one instant, e.g. after a print but before the book it changed: the earlier scheduling).

The gap is ``|mean(replay P&L) − mean(engine P&L)| / |mean(engine P&L)|`` over the seeds (the issue
measured 82% with the earlier paper fills); the per-seed difference's mean and standard error say how
well the seeds pin it down (the two runs are different realisations of the flow once we trade, so a
standard error of ~4 USDC on 40 seeds is normal). Volume and ``pnl10`` likewise. Target: gap ≤ 20%
(informed, market 0).

Last line: ``{"bench": "fill_gap", "seeds": …, "gap_pct": …, "engine_pnl_mean": …, "replay_pnl_mean": …,
"diff_mean": …, "diff_se": …, "volume_gap_pct": …, "pnl10": {…}, "reaction": {…}, "latency_ms": …,
"ablation": {…}, …}``.
Usage: ``python bench/fill_gap_bench.py [--seeds 20] [--first-seed 1] [--model fixed] [--scenario informed]
[--market-index 0] [--minutes 10] [--latency-ms 1.5] [--no-ablate] [--workers N]``.
"""

from __future__ import annotations

import argparse
import bisect
import concurrent.futures as cf
import json
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from polymm.backtest.fills import LATENCY_S, OWNER
from polymm.backtest.replay import Replay, ReplayConfig
from polymm.backtest.scenarios import SCENARIOS
from polymm.backtest.simulation import Simulation, bench_params
from polymm.domain.market import Side
from polymm.domain.portfolio import Fill
from polymm.domain.prices import PIPS_PER_UNIT
from polymm.domain.strategy import MODELS
from polymm.venue.recorder import FrameReader, FrameWriter
from polymm_standin.sim.matching import Trade

TARGET_PCT = 20.0
MARK_S = 10.0  # pnl10: each fill marked at the hidden fair value this long after it
#: replay variants: (name, RecordedVenue attributes, Replay attributes) — each ablation turns one mechanism off
VARIANTS: tuple[tuple[str, dict[str, bool], dict[str, bool]], ...] = (
    ("replay", {}, {}),
    ("no_cleared_levels", {"clear_levels": False}, {}),
    ("no_own_orders_in_view", {}, {"show_own_orders": False}),
    ("crossed_orders_dropped", {"refuse_crossing": False}, {}),
    ("steps_between_frames", {}, {"batch_instants": False}),
)


def _informed_tape(sim: Simulation) -> dict[str, float]:
    """Counts, from now on, the informed trader's traded shares in ``sim`` and how many of them were ours."""
    tape = {"volume": 0.0, "ours": 0.0}
    informed = sim.flow.informed_owner

    def on_event(ev: object) -> None:
        if isinstance(ev, Trade) and ev.taker_owner == informed:
            tape["volume"] += ev.size / 1e6
            tape["ours"] += sum(f.size for f in ev.fills if f.maker_owner == OWNER) / 1e6

    sim.matching.add_listener(on_event)
    return tape


def _fill_log(on_fill: Callable[[Fill, str], None], log: list[Fill]) -> Callable[[Fill, str], None]:
    """``on_fill`` that also keeps every fill in ``log``."""

    def logged(fill: Fill, taker: str) -> None:
        log.append(fill)
        on_fill(fill, taker)

    return logged


def _marked_later(fills: list[Fill], fair_ms: list[int], fair: list[float], after_s: float) -> float:
    """Sum of every fill marked at the hidden fair value ``after_s`` after it (the last value for fills closer
    to the end than that), USDC."""
    total = 0.0
    for f in fills:
        i = bisect.bisect_right(fair_ms, int((f.ts + after_s) * 1000)) - 1
        mark = fair[max(i, 0)]
        total += (1 if f.side is Side.BUY else -1) * float(f.size) * (mark - f.price) / PIPS_PER_UNIT
    return total


def run_seed(seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """One seed both ways (module docstring): P&L at the final hidden fair, pnl10, volume, fills."""
    sc = SCENARIOS[args.scenario]
    base = bench_params(args.model)
    config = ReplayConfig(base=base, latency_s=args.latency_ms / 1000.0)
    seconds = args.minutes * 60.0
    sim = Simulation(seed, args.model, base, market_index=args.market_index, scenario=sc, config=config)
    engine_tape = _informed_tape(sim)
    engine_fills: list[Fill] = []
    sim.venue.on_fill = _fill_log(sim.venue.on_fill, engine_fills)
    engine_run = sim.run_until(seconds)
    out: dict[str, Any] = {"seed": seed}
    with tempfile.TemporaryDirectory(prefix="polymm-fill-gap-") as tmp:
        flow = Simulation(seed, args.model, base, market_index=args.market_index, scenario=sc, config=config,
                          quote=False)
        flow.flow.fair_log = deque()  # the whole fair path (the flow keeps only the last steps by default)
        flow_tape = _informed_tape(flow)
        writer = FrameWriter(tmp, rotate_bytes=None, rotate_seconds=None, compresslevel=1)
        flow.record(writer)
        flow.run_until(seconds)
        writer.close()
        fair_pips = flow.flow.fair.value
        assert fair_pips / PIPS_PER_UNIT == engine_run.final_fair, (seed, fair_pips, engine_run.final_fair)
        fair_ms = [ms for _, ms, _ in flow.flow.fair_log]
        fair_path = [p * PIPS_PER_UNIT for _, _, p in flow.flow.fair_log]
        fair = Decimal(repr(fair_pips)) / PIPS_PER_UNIT
        cid = flow.market.condition_id
        out["engine"] = {"pnl": float(getattr(engine_run, "trading_pnl", engine_run.pnl)),
                         "pnl10": _marked_later(engine_fills, fair_ms, fair_path, MARK_S),
                         "volume": engine_run.volume, "fills": engine_run.fills}
        out["reaction"] = {"informed_with_us": engine_tape["volume"], "informed_without_us": flow_tape["volume"],
                           "informed_ours": engine_tape["ours"]}
        for name, venue_attrs, replay_attrs in VARIANTS if args.ablate else VARIANTS[:1]:
            rp = Replay(config, source=tmp)
            for k, v in venue_attrs.items():
                setattr(rp.venue, k, v)
            for k, v in replay_attrs.items():
                setattr(rp, k, v)
            fills: list[Fill] = []
            rp.venue.on_fill = _fill_log(rp.venue.on_fill, fills)
            report = rp.run(FrameReader(tmp))
            pos = rp.portfolio.position(cid)
            counters = dict(report.counters)
            out[name] = {"pnl": float(pos.realized + pos.unrealized(fair)),
                         "pnl10": _marked_later(fills, fair_ms, fair_path, MARK_S),
                         "volume": report.volume, "fills": report.fills,
                         "post_only_rejects": counters["post_only_rejects"],
                         "late_cancels": counters["late_cancels"], "crossed": counters["crossed_by_recording"]}
    return out


def _gap(runs: list[dict[str, Any]], name: str, key: str) -> dict[str, float]:
    ref = [r["engine"][key] for r in runs]
    got = [r[name][key] for r in runs]
    diff = [g - e for g, e in zip(got, ref, strict=True)]
    mean_ref, mean_got = statistics.fmean(ref), statistics.fmean(got)
    n = len(diff)
    return {
        "engine_mean": mean_ref,
        "replay_mean": mean_got,
        "gap_pct": abs(mean_got - mean_ref) / abs(mean_ref) * 100 if mean_ref else float("inf"),
        "diff_mean": statistics.fmean(diff),
        "diff_se": statistics.stdev(diff) / n ** 0.5 if n > 1 else float("nan"),
        "engine_sd": statistics.stdev(ref) if n > 1 else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--model", choices=MODELS, default="fixed")
    ap.add_argument("--scenario", choices=tuple(SCENARIOS), default="informed")
    ap.add_argument("--market-index", type=int, choices=range(6), default=0)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--latency-ms", type=float, default=LATENCY_S * 1000.0, help=f"order and cancel latency "
                    f"(default {LATENCY_S * 1000:g} ms: the measured loopback round trip)")
    ap.add_argument("--no-ablate", dest="ablate", action="store_false", help="replay each seed once only")
    ap.add_argument("--workers", type=int, default=1, help="processes (the results do not depend on it)")
    args = ap.parse_args(argv)
    if args.seeds < 1 or args.minutes <= 0 or args.latency_ms < 0 or args.workers < 1:
        ap.error("--seeds and --workers must be >= 1, --minutes > 0, --latency-ms >= 0")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    print(f"fill gap: model {args.model}, scenario {args.scenario}, market {args.market_index}, "
          f"{args.minutes:g} simulated minutes, seeds {seeds[0]}..{seeds[-1]}, latency {args.latency_ms:g} ms",
          flush=True)
    t0 = time.perf_counter()
    if args.workers == 1:
        runs = [run_seed(s, args) for s in seeds]
    else:
        with cf.ProcessPoolExecutor(args.workers) as pool:
            runs = list(pool.map(run_seed, seeds, [args] * len(seeds)))
    wall = time.perf_counter() - t0
    names = [v[0] for v in (VARIANTS if args.ablate else VARIANTS[:1])]
    for r in runs:
        cells = "  ".join(f"{n} {r[n]['pnl']:+8.2f} ({r[n]['volume']:6.0f})" for n in names)
        print(f"  seed {r['seed']:>3}  engine {r['engine']['pnl']:+8.2f} ({r['engine']['volume']:6.0f})  {cells}")
    print()
    head = (f"{'':24}{'P&L mean':>10}{'diff mean':>11}{'± se':>7}{'gap %':>8}{'pnl10':>9}{'diff':>8}{'± se':>7}"
            f"{'volume':>9}{'vol gap %':>10}{'fills':>8}")
    print(head)
    print("-" * len(head))
    eng_fills = statistics.fmean(r["engine"]["fills"] for r in runs)
    first, first10 = _gap(runs, names[0], "pnl"), _gap(runs, names[0], "pnl10")
    print(f"{'matching engine':24}{first['engine_mean']:>+10.2f}{'':>11}{'':>7}{'':>8}{first10['engine_mean']:>+9.2f}"
          f"{'':>8}{'':>7}{statistics.fmean(r['engine']['volume'] for r in runs):>9.0f}{'':>10}{eng_fills:>8.1f}")
    table = {}
    for n in names:
        p, p10, v = _gap(runs, n, "pnl"), _gap(runs, n, "pnl10"), _gap(runs, n, "volume")
        table[n] = (p, p10, v)
        print(f"{n:24}{p['replay_mean']:>+10.2f}{p['diff_mean']:>+11.2f}{p['diff_se']:>7.2f}{p['gap_pct']:>8.1f}"
              f"{p10['replay_mean']:>+9.2f}{p10['diff_mean']:>+8.2f}{p10['diff_se']:>7.2f}"
              f"{v['replay_mean']:>9.0f}{v['gap_pct']:>10.1f}{statistics.fmean(r[n]['fills'] for r in runs):>8.1f}")
    pnl, pnl10, vol = table["replay"]
    rejects = statistics.fmean(r["replay"]["post_only_rejects"] for r in runs)
    late = statistics.fmean(r["replay"]["late_cancels"] for r in runs)
    crossed = statistics.fmean(r["replay"]["crossed"] for r in runs)
    reaction = {k: statistics.fmean(r["reaction"][k] for r in runs) for k in runs[0]["reaction"]}
    print(f"P&L in USDC per run at the final hidden fair value; pnl10: each fill at the hidden fair {MARK_S:g} s "
          f"later; diff = replay − engine per seed (± its standard error); replay post-only rejects {rejects:.1f}, "
          f"late cancels {late:.1f}, recorded orders crossing ours {crossed:.1f} per run; {wall:.0f} s wall")
    print(f"reaction: the informed trader traded {reaction['informed_with_us']:.0f} shares per run with us in the "
          f"book ({reaction['informed_ours']:.0f} of them ours), {reaction['informed_without_us']:.0f} without us")
    print(f"gap {pnl['gap_pct']:.1f}% of the engine's P&L (target <= {TARGET_PCT:g}%: "
          f"{'met' if pnl['gap_pct'] <= TARGET_PCT else 'NOT met'}); the issue measured 82% with paper fills")
    print(json.dumps({
        "bench": "fill_gap",
        "seeds": len(seeds),
        "first_seed": seeds[0],
        "model": args.model,
        "scenario": args.scenario,
        "market_index": args.market_index,
        "minutes": args.minutes,
        "latency_ms": args.latency_ms,
        "gap_pct": round(pnl["gap_pct"], 1),
        "engine_pnl_mean": round(pnl["engine_mean"], 3),
        "replay_pnl_mean": round(pnl["replay_mean"], 3),
        "diff_mean": round(pnl["diff_mean"], 3),
        "diff_se": round(pnl["diff_se"], 3),
        "engine_pnl_sd": round(pnl["engine_sd"], 3),
        "volume_gap_pct": round(vol["gap_pct"], 1),
        "engine_volume_mean": round(vol["engine_mean"], 1),
        "replay_volume_mean": round(vol["replay_mean"], 1),
        "pnl10": {"mark_s": MARK_S, "gap_pct": round(pnl10["gap_pct"], 1),
                  "engine_mean": round(pnl10["engine_mean"], 3), "replay_mean": round(pnl10["replay_mean"], 3),
                  "diff_mean": round(pnl10["diff_mean"], 3), "diff_se": round(pnl10["diff_se"], 3)},
        "reaction": {k: round(v, 1) for k, v in reaction.items()},
        "crossed_per_run": round(crossed, 1),
        "ablation": {n: {"gap_pct": round(table[n][0]["gap_pct"], 1), "pnl_mean": round(table[n][0]["replay_mean"], 3),
                         "pnl10_mean": round(table[n][1]["replay_mean"], 3),
                         "volume_gap_pct": round(table[n][2]["gap_pct"], 1)} for n in names[1:]},
        "target_pct": TARGET_PCT,
        "wall_s": round(wall, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
