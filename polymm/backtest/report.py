"""The report of a simulated run (``polymm replay`` and ``polymm backtest``): one shape, text or JSON.

``RunReport`` is what both commands print: P&L (realised, unrealised, fees), fills and volume,
orders, maximum drawdown and inventory, markouts at 1, 10 and 60 s, one line per market, the sampled
path of P&L and inventory (``metrics.Path``), and notes (a halt, skipped input). ``render`` draws it
for a terminal with unicode block sparklines (``sparkline``: no dependency); ``to_json`` gives the
machine form. Both are pure functions of the report: floats are rounded to fixed places and keys keep
their order, so the same run gives byte-identical JSON. Nothing here reads a clock: the wall time of a
run is the command's to print, outside the report.

Units: money in USDC, sizes and inventory in YES shares (negative = long NO), prices in price units
(0..1), markouts in pips (1e-4) per share, + = good for us.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import cast

from .measures import MarkoutStat, Path

BLOCKS = "▁▂▃▄▅▆▇█"
MONEY_PLACES = 6
PIPS_PLACES = 3


@dataclass(frozen=True, slots=True)
class MarketLine:
    """One market's part of a run."""

    condition_id: str
    question: str
    fills: int
    volume: float
    position: float
    realized: float
    unrealized: float
    max_abs_inventory: float
    mark: float | None  # the price the position is marked at (price units)


@dataclass(frozen=True, slots=True)
class RunReport:
    """A run's outcome (module docstring). ``params`` are the parameters set on top of the defaults;
    ``counters`` are the command's own figures (frames read, bad lines, flow steps...)."""

    command: str
    source: str
    model: str
    params: tuple[tuple[str, str], ...]
    sim_seconds: float
    steps: int  # strategy steps that decided (trusted book, not halted)
    places: int
    cancels: int
    fills: int
    volume: float
    notional: float
    realized: float
    unrealized: float
    fees: float
    pnl: float  # realised + unrealised − fees
    max_drawdown: float
    max_abs_inventory: float
    markouts: tuple[MarkoutStat, ...]
    markets: tuple[MarketLine, ...]
    path: Path
    notes: tuple[str, ...] = ()
    counters: tuple[tuple[str, int | float | str | None], ...] = ()


def _round(value: object) -> object:
    """Floats to fixed places (recursively), so the JSON is stable and compact."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, MONEY_PLACES)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_round(v) for v in value]
    return value


def as_dict(report: RunReport) -> dict[str, object]:
    d = asdict(report)
    d["params"] = dict(report.params)
    d["counters"] = dict(report.counters)
    return cast(dict[str, object], _round(d))  # rounding keeps the shape


def to_json(report: RunReport | dict[str, object]) -> str:
    """The report as one line of JSON (byte-identical for the same run)."""
    doc = as_dict(report) if isinstance(report, RunReport) else _round(report)
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


# ---------------------------------------------------------------------------------------- drawing


def resample(values: Sequence[float], width: int) -> list[float]:
    """At most ``width`` points: each the last value of its bucket (a path's state at that time)."""
    n = len(values)
    if n <= width:
        return list(values)
    return [values[min(n - 1, (i + 1) * n // width - 1)] for i in range(width)]


def sparkline(values: Sequence[float], width: int = 60, lo: float | None = None, hi: float | None = None) -> str:
    """Unicode block sparkline of ``values`` squeezed to ``width`` characters, scaled to [lo, hi]."""
    pts = resample(values, width)
    if not pts:
        return ""
    lo = min(pts) if lo is None else lo
    hi = max(pts) if hi is None else hi
    if hi - lo <= 1e-12:
        return BLOCKS[3] * len(pts)
    top = len(BLOCKS) - 1
    return "".join(BLOCKS[max(0, min(top, round((v - lo) / (hi - lo) * top)))] for v in pts)


def _signed(x: float | None, places: int = 2) -> str:
    return "n/a" if x is None else f"{x:+,.{places}f}"


def _chart_row(label: str, values: Sequence[float], width: int, places: int) -> str:
    if not values:
        return f"  {label:<18} (no samples)"
    return (f"  {label:<18} {sparkline(values, width)}  "
            f"{min(values):+,.{places}f} … {max(values):+,.{places}f}  (end {values[-1]:+,.{places}f})")


def markout_text(stats: Iterable[MarkoutStat]) -> str:
    parts = []
    for s in stats:
        fair = f", fair {s.fair_pips:+.1f}" if s.fair_pips is not None else ""
        parts.append(f"{s.horizon_s:g} s {_signed(s.pips, 1)}{fair} ({s.count})")
    return "   ".join(parts)


def render(report: RunReport, width: int = 60) -> str:
    """The report for a terminal: figures, one line per market, the P&L and inventory chart."""
    r = report
    lines = [f"{r.command}  {r.source}"]
    params = "  ".join(f"{k}={v}" for k, v in r.params) or "(defaults)"
    lines.append(f"model {r.model}   {params}")
    counters = "   ".join(f"{k.replace('_', ' ')} {v:,}" if isinstance(v, int) else f"{k.replace('_', ' ')} {v}"
                           for k, v in r.counters)
    lines.append(f"simulated {r.sim_seconds:,.1f} s   {len(r.markets)} market(s)"
                 + (f"   {counters}" if counters else ""))
    lines.append("")
    lines.append(f"P&L            {r.pnl:+,.4f} USDC  (realised {r.realized:+,.4f}, unrealised {r.unrealized:+,.4f},"
                 f" fees {r.fees:,.4f})")
    lines.append(f"fills          {r.fills:,}   volume {r.volume:,.2f} shares   notional {r.notional:,.2f} USDC")
    lines.append(f"orders         placed {r.places:,}   cancelled {r.cancels:,}   strategy steps {r.steps:,}")
    lines.append(f"max drawdown   {r.max_drawdown:,.4f} USDC   max |inventory| {r.max_abs_inventory:,.2f} shares")
    lines.append(f"markouts       {markout_text(r.markouts)}   (pips/share vs the mid, + = good for us; count)")
    if r.markets:
        lines.append("")
        lines.append(f"  {'market':<14}{'question':<34}{'fills':>7}{'volume':>10}{'position':>10}{'realised':>11}"
                     f"{'unrealised':>12}{'mark':>8}")
        for m in r.markets:
            q = m.question if len(m.question) <= 32 else m.question[:31] + "…"
            mark = "n/a" if m.mark is None else f"{m.mark:.4f}"
            lines.append(f"  {m.condition_id[:12]:<14}{q:<34}{m.fills:>7,}{m.volume:>10,.2f}{m.position:>+10,.2f}"
                         f"{m.realized:>+11,.4f}{m.unrealized:>+12,.4f}{mark:>8}")
    p = r.path
    if p.t:
        lines.append("")
        lines.append(f"  chart: {len(p.t)} samples, one per {p.every_s:g} s of simulated time, {min(width, len(p.t))} "
                     f"columns")
        lines.append(_chart_row("P&L (USDC)", p.pnl, width, 4))
        for m, row in zip(r.markets, p.inventory, strict=False):
            label = "inventory" if len(r.markets) == 1 else f"inv {m.condition_id[:10]}"
            lines.append(_chart_row(label, row, width, 2))
    for n in r.notes:
        lines.append(f"note: {n}")
    return "\n".join(lines)
