"""``polymm replay``: a market-data recording through the strategy and paper fills (the handler:
``backtest.commands.run_replay``)."""

from __future__ import annotations

import argparse

from ..backtest.commands import run_replay
from ..domain.strategy import MODELS
from .options import chart_width

_HELP = """\
Run the strategy over recorded market data, faster than real time, in simulated time: the clock is
each frame's recorded receive time. The engine's own code runs (parse_frame, BookSet, the engine's
step pipeline: MarketBrain.decide, RiskEngine.check, plan_orders; Portfolio), scheduled as the engine
schedules it; our orders queue in the recorded book with the order latency (behind the size resting at
their price, prints eat the queue ahead first). Risk limits, step cadence and the
default parameters come from the settings (POLYMM_* / .env), as for `polymm run`.

FILE is a recording made by `polymm record` (or the engine's POLYMM_RECORD_DIR): one .jsonl.gz file or
a directory of them. Recordings carry their market definitions; for older ones pass --markets-file.

The report: P&L (realised / unrealised), fills, orders, max drawdown and inventory, markouts at 1, 10
and 60 s, one line per market, and a chart of P&L and inventory over time. The same recording and
parameters always give the same report (--json is byte-identical)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="replay a market-data recording through the strategy and paper fills",
                       description=_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE", help="a recording: one .jsonl.gz file or a directory of them")
    p.add_argument("--model", choices=MODELS, default=None,
                   help="quoting model for every market (default: POLYMM_DEFAULT_MODEL, else fixed)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="set a market parameter for every market, e.g. --set spread=0.03 (repeatable)")
    p.add_argument("--markets-file", metavar="PATH",
                   help="JSON list of market definitions, for recordings made before they carried them")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--width", type=chart_width, default=60, help="chart width in columns (default 60)")
    p.set_defaults(func=run_replay)
