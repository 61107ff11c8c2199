"""``polymm markets``: discovery's ranking of open markets (``ops.markets``)."""

from __future__ import annotations

import argparse
import json

from ..argtypes import number
from ..config import Settings
from ..ops.markets import MARKET_SORTS, list_markets, market_row, render_markets
from .operator import operator_command
from .options import operator_args

_limit = number(int, lambda n: 1 <= n <= 1000, "an integer from 1 to 1000")
_scan = number(int, lambda n: 1 <= n <= 20_000, "an integer from 1 to 20000")
_volume = number(float, lambda x: 0 <= x < float("inf"), "a number of dollars, 0 or more")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("markets", help="scan and rank markets from Gamma / CLOB discovery",
                       description="List open markets ranked for market making. Columns: 24 h volume (USDC), "
                                   "spread, liquidity reward pool (USDC/day) and score (see "
                                   "polymm/venue/discovery.py, Candidate.score).")
    operator_args(p)
    p.add_argument("--sort", choices=MARKET_SORTS, default="score",
                   help="rank by: score (highest first, the default), volume (24 h, highest first), spread "
                        "(tightest first) or reward (the reward/day column, highest first)")
    p.add_argument("--limit", type=_limit, default=20, help="rows to show, 1..1000 (default: 20)")
    p.add_argument("--search", help="only markets whose question or slug has every word")
    p.add_argument("--rewards-only", action="store_true", help="only markets paying liquidity rewards")
    p.add_argument("--min-volume", type=_volume, help="only markets with at least this 24 h volume (USDC)")
    p.add_argument("--scan", type=_scan, default=500,
                   help="Gamma markets to read at most, 1..20000 (default: 500)")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.set_defaults(func=operator_command(_markets))


async def _markets(settings: Settings, args: argparse.Namespace) -> int:
    found = await list_markets(settings, sort=args.sort, limit=args.limit, search=args.search,
                               rewards_only=args.rewards_only, min_volume=args.min_volume, scan=args.scan)
    print(json.dumps([market_row(c) for c in found], indent=2) if args.json else render_markets(found))
    return 0
