"""``polymm backtest``: the stand-in's synthetic flow over seeds and a parameter grid (the handler:
``backtest.commands.run_backtest``)."""

from __future__ import annotations

import argparse
import textwrap

from ..argtypes import number
from ..backtest.commands import DEFAULT_MINUTES, PARAMS, run_backtest
from ..backtest.scenarios import SCENARIOS
from ..backtest.sweep import check_dask_address, default_workers
from ..domain.strategy import MODELS
from .options import chart_width

_positive_int = number(int, lambda v: v >= 1, "a whole number >= 1")
_minutes = number(float, lambda v: 0 < v <= 1440, "minutes, more than 0 and at most 1440")
_workers = number(int, lambda v: 1 <= v <= 1024, "a whole number of worker processes from 1 to 1024")


def _dask_address(text: str) -> str:
    try:
        return check_dask_address(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


_HELP = """\
Backtest one market against the stand-in exchange's synthetic order flow (noise makers and takers, an
informed trader, a competing maker) on its matching engine, in simulated time, for several seeds and
every combination of a parameter grid: one summary row per combination (means over the seeds).

Scenarios (--scenario):
""" + "\n".join(f"  {s.name:<10} {s.about}" for s in SCENARIOS.values()) + """

Parameters start from the comparison base (spread 0.04, size 10, 2 layers 0.01 apart, position limit
100); --set KEY=VALUE changes one for every run, --grid KEY=V1,V2,... sweeps it (several --grid
options: every combination). KEY is any market parameter:
""" + textwrap.fill(", ".join(PARAMS) + ".", 100, initial_indent="  ", subsequent_indent="  ") + """

The runs (combinations x seeds) go to every core by default (--workers N; 1 runs them in this process),
or to an existing Dask cluster with --dask tcp://HOST:PORT (pip install 'polymm[sweep]'; start the
workers with --nthreads 1, and polymm installed). The results are the same whichever runs them.

Example: polymm backtest --scenario informed --seeds 5 --model pm4 --grid spread=0.02,0.04 --grid size=10,20"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backtest", help="backtest on the stand-in's synthetic flow over seeds and a parameter grid",
                       description=_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", choices=tuple(SCENARIOS), default="standin",
                   help="market regime (default standin); see the list above")
    p.add_argument("--seeds", type=_positive_int, default=5, help="seeds per combination (default 5)")
    p.add_argument("--first-seed", type=int, default=1, help="first seed (default 1)")
    p.add_argument("--minutes", type=_minutes, default=DEFAULT_MINUTES,
                   help=f"simulated minutes per run (default {DEFAULT_MINUTES:g})")
    p.add_argument("--model", choices=MODELS, default=None, help="quoting model (default fixed)")
    p.add_argument("--market-index", type=int, choices=range(6), default=0, metavar="{0..5}",
                   help="which synthetic market: 0 rewards, 0.01 tick (default); 1 0.001 tick; 4 0.005 tick; "
                        "5 no rewards")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="set a parameter for every run (repeatable)")
    p.add_argument("--grid", action="append", metavar="KEY=V1,V2,...",
                   help="sweep a parameter over values (repeatable: every combination)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_workers, default=None, metavar="N",
                       help=f"run the simulations on N processes (default: every core, {default_workers()} here; "
                            f"1: in this process)")
    where.add_argument("--dask", type=_dask_address, default=None, metavar="tcp://HOST:PORT",
                       help="run them on the Dask cluster with this scheduler instead (needs polymm[sweep])")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--width", type=chart_width, default=60, help="chart width in columns (default 60)")
    p.set_defaults(func=run_backtest)
