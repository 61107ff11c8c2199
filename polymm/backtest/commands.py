"""What the ``polymm replay`` and ``polymm backtest`` commands do: ``run_replay`` and ``run_backtest``
(their parsers are ``polymm/commands/replay.py`` and ``backtest.py``).

Each handler takes the parsed arguments and returns the exit status: 0 done, 2 bad input (the message,
on stderr, names the option or parameter and what it allows). Reports go to stdout: text with a chart,
or one JSON object with ``--json`` (the same run gives byte-identical JSON; the wall time is printed
only in the text form).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path as FilePath
from typing import Any

from polymm.config import ConfigError, load_settings
from polymm.domain.market import Market
from polymm.domain.params import MarketParams
from polymm.domain.strategy import MODELS
from polymm.venue.recorder import SUFFIX, FrameReader, market_from_json
from polymm_standin.sim import market_profiles

from .measures import HORIZONS_S, Path
from .replay import Replay, ReplayConfig
from .report import RunReport, render, sparkline, to_json
from .scenarios import SCENARIOS, scenario
from .simulation import Report, bench_params
from .sweep import DaskMissing, Job, Sweep, SweepUnavailable

#: What --set and --grid may change: every quoting parameter (``enabled`` is the operator's switch, not one).
PARAMS: tuple[str, ...] = tuple(k for k in MarketParams.model_fields if k != "enabled")
DEFAULT_MINUTES = 10.0
MAX_COMBINATIONS = 256


class UsageError(ValueError):
    """Bad command-line input; the message names the option and what it allows."""


# ----------------------------------------------------------------------------------------- parsing


def parse_assignment(text: str, option: str) -> tuple[str, str]:
    """``KEY=VALUE`` with KEY a ``MarketParams`` field."""
    key, sep, value = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key or not value.strip():
        raise UsageError(f"{option}: expected KEY=VALUE, got {text!r}")
    if key not in PARAMS:
        raise UsageError(f"{option}: unknown parameter {key!r}; allowed: {', '.join(PARAMS)}")
    return key, value.strip()


def parse_overrides(items: Sequence[str] | None, model: str | None, option: str = "--set") -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or ():
        key, value = parse_assignment(item, option)
        if key in out:
            raise UsageError(f"{option}: {key} given twice")
        out[key] = value
    if model is not None:
        if "model" in out:
            raise UsageError(f"{option}: model given twice (use --model or {option} model=..., not both)")
        out["model"] = model
    return out


def parse_grid(items: Sequence[str] | None, fixed: dict[str, str]) -> list[dict[str, str]]:
    """Every combination of the ``--grid KEY=V1,V2,...`` values (the first key varies slowest)."""
    axes: list[tuple[str, list[str]]] = []
    for item in items or ():
        key, values = parse_assignment(item, "--grid")
        if key in fixed or any(k == key for k, _ in axes):
            raise UsageError(f"--grid: {key} is given more than once (in --grid, --set or --model)")
        vals = [v.strip() for v in values.split(",")]
        if not all(vals) or len(set(vals)) != len(vals):
            raise UsageError(f"--grid {key}: expected distinct comma-separated values, got {values!r}")
        axes.append((key, vals))
    combos = [dict(zip([k for k, _ in axes], c, strict=True)) for c in itertools.product(*(v for _, v in axes))]
    if len(combos) > MAX_COMBINATIONS:
        raise UsageError(f"--grid: {len(combos)} combinations; at most {MAX_COMBINATIONS}")
    return combos


def load_markets_file(path: str) -> list[Market]:
    """Market definitions from a JSON file: a list of them, or ``{"markets": [...]}``."""
    try:
        doc = json.loads(FilePath(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"--markets-file: cannot read {path}: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise UsageError(f"--markets-file: {path} is not JSON: {e}") from None
    items = doc.get("markets") if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not items:
        raise UsageError(f"--markets-file: {path} must hold a non-empty JSON list of market definitions "
                         f"(or {{\"markets\": [...]}})")
    try:
        return [market_from_json(m) for m in items]
    except ValueError as e:
        raise UsageError(f"--markets-file: {e}") from None


# ----------------------------------------------------------------------------------------- replay


def _check_source(path: str) -> FilePath:
    p = FilePath(path)
    if not p.exists():
        raise UsageError(f"FILE: no such file or directory: {path}")
    if p.is_dir() and not any(p.glob(f"*{SUFFIX}")):
        raise UsageError(f"FILE: no {SUFFIX} recordings in directory {path}")
    return p


def run_replay(args: argparse.Namespace) -> int:
    """``polymm replay``: the handler."""
    try:
        source = _check_source(args.file)
        overrides = parse_overrides(args.set, args.model)
        markets = load_markets_file(args.markets_file) if args.markets_file else []
        config = ReplayConfig.from_settings(load_settings())
        for key, value in overrides.items():  # fail before reading anything when a value is bad as such
            config.base.updated(**{key: value})
        reader = FrameReader(source)
        t0 = time.perf_counter()
        report = Replay(config, overrides, markets, source=str(args.file)).run(reader)
        wall = time.perf_counter() - t0
    except (UsageError, ConfigError) as e:
        print(f"polymm replay: {e}", file=sys.stderr)
        return 2
    if not report.markets:
        print(f"polymm replay: {args.file}: the recording carries no market definitions (it was made before "
              f"recordings held them); pass --markets-file with them", file=sys.stderr)
        return 2
    if args.json:
        print(to_json(report))
        return 0
    print(render(report, args.width))
    speed = f"{report.sim_seconds / wall:,.0f}x real time" if wall > 0 else "instant"
    print(f"\nreplayed {dict(report.counters).get('frames', 0):,} frames in {wall:.2f} s wall ({speed})")
    return 0


# ----------------------------------------------------------------------------------------- backtest


def _mean(xs: Sequence[float]) -> float | None:
    return statistics.fmean(xs) if xs else None


def _sd(xs: Sequence[float]) -> float | None:
    return statistics.stdev(xs) if len(xs) > 1 else (0.0 if xs else None)


def mean_path(reports: Sequence[Report]) -> Path:
    """The seeds' paths averaged point by point (the runs have the same length in simulated time)."""
    n = min(len(r.path.t) for r in reports)
    every = reports[0].path.every_s
    t = reports[0].path.t[:n]
    pnl = tuple(statistics.fmean(r.path.pnl[i] for r in reports) for i in range(n))
    inv = tuple(statistics.fmean(r.path.inventory[0][i] for r in reports) for i in range(n))
    return Path(every, t, pnl, (inv,))


def summarize(params: dict[str, str], reports: Sequence[Report]) -> dict[str, Any]:
    """One grid combination over its seeds (the ``--json`` row)."""
    markouts = []
    for k, h in enumerate(HORIZONS_S):
        mid = [v for r in reports if (v := r.markout_stats[k].pips) is not None]
        fair = [v for r in reports if (v := r.markout_stats[k].fair_pips) is not None]
        markouts.append({"horizon_s": h, "pips_mean": _mean(mid), "fair_pips_mean": _mean(fair),
                         "count": sum(r.markout_stats[k].count for r in reports)})
    pnl = [r.pnl for r in reports]
    path = mean_path(reports)
    return {
        "params": params,
        "pnl_mean": _mean(pnl),
        "pnl_sd": _sd(pnl),
        "realized_mean": _mean([r.realized for r in reports]),
        "unrealized_mean": _mean([r.unrealized for r in reports]),
        "rewards_mean": _mean([r.rewards for r in reports]),
        "pnl_mid_mean": _mean([r.pnl_mid for r in reports]),
        "fills_mean": _mean([r.fills for r in reports]),
        "volume_mean": _mean([r.volume for r in reports]),
        "final_abs_inventory_mean": _mean([abs(r.final_inventory) for r in reports]),
        "max_abs_inventory": max(r.max_abs_inventory for r in reports),
        "max_drawdown_mean": _mean([r.max_drawdown for r in reports]),
        "markouts": markouts,
        "runs": [
            {"seed": r.seed, "pnl": r.pnl, "realized": r.realized, "unrealized": r.unrealized, "rewards": r.rewards,
             "fills": r.fills,
             "final_inventory": r.final_inventory, "max_abs_inventory": r.max_abs_inventory,
             "max_drawdown": r.max_drawdown, "sim_seconds": r.sim_seconds, "flow_steps": r.steps,
             "markouts": [{"horizon_s": s.horizon_s, "count": s.count, "pips": s.pips, "fair_pips": s.fair_pips}
                          for s in r.markout_stats]}
            for r in reports
        ],
        "path": {"every_s": path.every_s, "t": list(path.t), "pnl": list(path.pnl),
                 "inventory": list(path.inventory[0])},
    }


def _fmt(x: float | None, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def render_backtest(doc: dict[str, Any], width: int) -> str:
    lines = [
        f"backtest  scenario {doc['scenario']} ({SCENARIOS[doc['scenario']].about})",
        f"model {doc['model']}   market index {doc['market_index']} ({doc['condition_id'][:12]}…)   "
        f"{doc['minutes']:g} simulated minutes per run   seeds {doc['seeds'][0]}..{doc['seeds'][-1]} "
        f"({len(doc['seeds'])})",
        "base: " + "  ".join(f"{k}={v}" for k, v in doc["base"].items()),
        "",
    ]
    head = (f"{'#':>3}  {'parameters':<28}{'P&L mean':>10}{'± sd':>8}{'realised':>10}{'unreal.':>9}{'rewards':>8}"
            f"{'fills':>7}{'|inv|':>7}{'max|inv|':>9}{'mo 1s':>7}{'mo 10s':>7}{'mo 60s':>7}{'max DD':>8}")
    lines += [head, "-" * len(head)]
    for i, row in enumerate(doc["rows"], 1):
        params = " ".join(f"{k}={v}" for k, v in row["params"].items()) or "(base)"
        mo = [m["pips_mean"] for m in row["markouts"]]
        lines.append(
            f"{i:>3}  {params[:27]:<28}{_fmt(row['pnl_mean'], '+.2f'):>10}{_fmt(row['pnl_sd'], '.2f'):>8}"
            f"{_fmt(row['realized_mean'], '+.2f'):>10}{_fmt(row['unrealized_mean'], '+.2f'):>9}"
            f"{_fmt(row['rewards_mean'], '.2f'):>8}{_fmt(row['fills_mean'], '.0f'):>7}"
            f"{_fmt(row['final_abs_inventory_mean'], '.1f'):>7}"
            f"{row['max_abs_inventory']:>9.1f}{_fmt(mo[0], '+.0f'):>7}{_fmt(mo[1], '+.0f'):>7}{_fmt(mo[2], '+.0f'):>7}"
            f"{_fmt(row['max_drawdown_mean'], '.2f'):>8}"
        )
    lines.append("P&L in USDC at the hidden fair value (realised + unrealised + liquidity rewards − fees), mean over "
                 "seeds; |inv| = mean |final inventory|, shares;")
    lines.append("mo = markout, pips/share vs the mid, + = good for us; max DD = mean max drawdown.")
    for i, row in enumerate(doc["rows"], 1):
        p = row["path"]
        if not p["t"]:
            continue
        lines.append("")
        lines.append(f"{i:>3}  mean over seeds, one point per {p['every_s']:g} s:   markouts "
                     + markout_text_row(row["markouts"]))
        for label, values, places in (("P&L (USDC)", p["pnl"], 4), ("inventory", p["inventory"], 2)):
            lines.append(f"     {label:<12} {sparkline(values, width)}  {min(values):+,.{places}f} … "
                         f"{max(values):+,.{places}f}  (end {values[-1]:+,.{places}f})")
    return "\n".join(lines)


def markout_text_row(markouts: Sequence[dict[str, Any]]) -> str:
    return "   ".join(f"{m['horizon_s']:g} s {_fmt(m['pips_mean'], '+.1f')} (fair {_fmt(m['fair_pips_mean'], '+.1f')})"
                       for m in markouts)


def run_backtest(args: argparse.Namespace) -> int:
    """``polymm backtest``: the handler."""
    try:
        sc = scenario(args.scenario)
        fixed = parse_overrides(args.set, None)
        combos = parse_grid(args.grid, {**fixed, **({"model": ""} if args.model else {})})
        model = args.model or fixed.pop("model", "fixed")
        if model not in MODELS:
            raise UsageError(f"model: unknown {model!r}; allowed: {', '.join(MODELS)}")
        base = bench_params(model)
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        market = market_profiles(seeds[0])[args.market_index].market
        for combo in combos:  # every combination valid for the market before anything runs
            base.updated(**fixed, **combo).check_for(market)
        jobs = []  # combination-major, seed-minor: the results come back in this order, whatever ran them
        for combo in combos:
            run = {**fixed, **combo}
            run_model = run.pop("model", model)
            jobs += [Job(seed, run_model, sc, args.market_index, base, args.minutes * 60, run) for seed in seeds]
        with Sweep(args.workers, args.dask) as sweep:
            sweep.start()  # reach the Dask scheduler (if any) before the clock starts
            t0 = time.perf_counter()
            reports = sweep.run(jobs)
            wall = time.perf_counter() - t0
            where = sweep.describe()
        n = len(seeds)
        rows = [summarize(combo, reports[i * n:(i + 1) * n]) for i, combo in enumerate(combos)]
    except (UsageError, ConfigError, DaskMissing) as e:
        print(f"polymm backtest: {e}", file=sys.stderr)
        return 2
    except SweepUnavailable as e:
        print(f"polymm backtest: --dask: {e}", file=sys.stderr)
        return 1
    base_shown = {k: str(v) for k, v in base.model_dump().items() if k in ("spread", "size", "layers", "layer_step",
                                                                           "position_limit")}
    base_shown.update(fixed)
    doc = {
        "command": "backtest",
        "scenario": sc.name,
        "model": model,
        "market_index": args.market_index,
        "condition_id": market.condition_id,
        "minutes": args.minutes,
        "seeds": seeds,
        "base": base_shown,
        "rows": rows,
    }
    if args.json:
        print(to_json(doc))
        return 0
    print(render_backtest(doc, args.width))
    runs = len(seeds) * len(combos)
    print(f"\n{runs} run(s) of {args.minutes:g} simulated minutes in {wall:.2f} s wall on {where} "
          f"({runs * args.minutes * 60 / wall:,.0f}x real time)" if wall > 0 else "")
    return 0


__all__ = ["RunReport", "render", "run_backtest", "run_replay", "to_json"]
