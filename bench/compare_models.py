"""Model comparison on the stand-in's synthetic flow (with its informed trader), in simulated time.

Runs ``fixed``, ``avellaneda`` and ``pm4`` on the same seeds (``polymm.backtest.simulate``: one
market, the stand-in's seeded ``SyntheticFlow`` at its default 6 steps/s, our ``MarketBrain`` after
every flow step) with one common ``MarketParams`` base (spread 0.04, size 10, 2 layers 0.01 apart,
position limit 100); only ``model`` differs. One line per run, then a table per model:

* P&L: realised + unrealised at the final hidden fair value (USDC), mean and σ over seeds;
* |final inventory| (YES shares), mean and σ; fills per run (mean);
* 10 s markout: each run's size-weighted mean (pips per share, + = good for us, vs the book mid),
  averaged over the runs that had fills; max drawdown (USDC) mean; the model's wall time.

Last line: ``{"bench": "compare", "seeds": N, "models": {"fixed": {"pnl_mean": …, "pnl_sd": …,
"inv_mean": …, "inv_sd": …, "fills": …, "markout10_pips": …}, …}}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from polymm.backtest import bench_params, simulate
from polymm.backtest.simulation import Report
from polymm_standin.sim.flow import DEFAULT_FLOW_RATE

MODELS = ("fixed", "avellaneda", "pm4")


def mean_sd(xs: list[float]) -> tuple[float, float]:
    if not xs:
        return float("nan"), float("nan")
    return statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0


def summarize(reports: list[Report]) -> dict[str, float]:
    pnl_m, pnl_sd = mean_sd([r.pnl for r in reports])
    inv_m, inv_sd = mean_sd([abs(r.final_inventory) for r in reports])
    mo = [r.markout10_pips for r in reports if r.markout10_pips is not None]
    mo_fair = [r.markout10_fair_pips for r in reports if r.markout10_fair_pips is not None]
    return {
        "pnl_mean": pnl_m,
        "pnl_sd": pnl_sd,
        "pnl_mid_mean": statistics.fmean(r.pnl_mid for r in reports),
        "inv_mean": inv_m,
        "inv_sd": inv_sd,
        "max_inv_mean": statistics.fmean(r.max_abs_inventory for r in reports),
        "fills": statistics.fmean(r.fills for r in reports),
        "volume": statistics.fmean(r.volume for r in reports),
        "markout10_pips": statistics.fmean(mo) if mo else float("nan"),
        "markout10_fair_pips": statistics.fmean(mo_fair) if mo_fair else float("nan"),
        "max_dd_mean": statistics.fmean(r.max_drawdown for r in reports),
        "informed_fills": statistics.fmean(r.informed_fills for r in reports),
        "size_rejects": statistics.fmean(r.size_rejects for r in reports),
        "post_only_rejects": statistics.fmean(r.post_only_rejects for r in reports),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20, help="seeds per model (the same for every model)")
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=9_000, help="flow steps per run (6 per simulated second)")
    ap.add_argument("--market-index", type=int, default=0, help="0: rewards market (0.01 tick); 5: no rewards")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--quiet", action="store_true", help="no per-run lines")
    args = ap.parse_args(argv)
    if args.seeds < 1 or args.steps < 1:
        ap.error("--seeds and --steps must be >= 1")
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    base = bench_params()
    print(
        f"compare: models {', '.join(models)}; seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}); "
        f"{args.steps} flow steps per run at {DEFAULT_FLOW_RATE:g}/s (~{args.steps / DEFAULT_FLOW_RATE:.0f} s "
        f"simulated); market index {args.market_index}; spread {base.spread} size {base.size} "
        f"layers {base.layers} step {base.layer_step} limit {base.position_limit}",
        flush=True,
    )
    results: dict[str, list[Report]] = {}
    wall: dict[str, float] = {}
    for model in models:
        reports = []
        t0 = time.perf_counter()
        for seed in seeds:
            t1 = time.perf_counter()
            r = simulate(seed, model, args.steps, base, market_index=args.market_index)
            reports.append(r)
            if not args.quiet:
                mo = "  n/a" if r.markout10_pips is None else f"{r.markout10_pips:+6.1f}"
                print(
                    f"  {model:<10} seed {seed:>3}  sim {r.sim_seconds:7.1f} s  wall {time.perf_counter() - t1:5.2f} s"
                    f"  pnl {r.pnl:+8.2f}  inv {r.final_inventory:+8.2f}  fills {r.fills:4d}"
                    f"  mo10 {mo}  informed actions {r.informed_actions:3d} (hit us {r.informed_fills:3d})"
                    f"  size rejects {r.size_rejects}",
                    flush=True,
                )
        wall[model] = time.perf_counter() - t0
        results[model] = reports

    summary = {m: summarize(rs) for m, rs in results.items()}
    print()
    header = (
        f"{'model':<11}{'P&L mean':>10}{'P&L σ':>9}{'P&L@mid':>9}{'|inv| mean':>11}{'|inv| σ':>9}{'max|inv|':>9}"
        f"{'fills':>8}{'mo10 mid':>10}{'mo10 fair':>10}{'max DD':>8}{'informed':>9}{'time s':>8}"
    )
    print(header)
    print("-" * len(header))
    for m, s in summary.items():
        print(
            f"{m:<11}{s['pnl_mean']:>+10.2f}{s['pnl_sd']:>9.2f}{s['pnl_mid_mean']:>+9.2f}{s['inv_mean']:>11.1f}"
            f"{s['inv_sd']:>9.1f}{s['max_inv_mean']:>9.1f}{s['fills']:>8.1f}{s['markout10_pips']:>+10.1f}"
            f"{s['markout10_fair_pips']:>+10.1f}{s['max_dd_mean']:>8.2f}{s['informed_fills']:>9.1f}"
            f"{wall[m]:>8.1f}"
        )
    print(
        "P&L in USDC, marked at the final hidden fair value (P&L@mid: at the final book mid); inventory in YES "
        "shares; mo10 = 10 s markout, pips per share, + = good for us; informed = our fills per run taken by "
        "the informed trader."
    )
    out = {
        "bench": "compare",
        "seeds": len(seeds),
        "steps": args.steps,
        "market_index": args.market_index,
        "models": {
            m: {
                "pnl_mean": round(s["pnl_mean"], 4),
                "pnl_sd": round(s["pnl_sd"], 4),
                "inv_mean": round(s["inv_mean"], 4),
                "inv_sd": round(s["inv_sd"], 4),
                "fills": round(s["fills"], 2),
                "markout10_pips": round(s["markout10_pips"], 3),
                "max_dd_mean": round(s["max_dd_mean"], 4),
                "wall_s": round(wall[m], 2),
            }
            for m, s in summary.items()
        },
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
