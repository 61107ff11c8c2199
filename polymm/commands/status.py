"""``polymm status``: venue, clock skew, our orders, balance, positions per market, today's rewards,
capital operations and the journal (``ops.status``)."""

from __future__ import annotations

import argparse

from ..config import Settings
from ..ops.status import render_status, status
from .operator import operator_command
from .options import operator_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="venue, clock skew, our orders, balance, positions per market, today's "
                                      "rewards, capital operations and the journal",
                       description="Show whether the venue answers, its time and our clock's skew, our open orders "
                                   "per market, the balance and positions as the venue reports them (per market: "
                                   "YES and NO shares, pairs that can be merged, redeemable), the liquidity rewards "
                                   "earned today (UTC) as the venue reports them (else the journal's last reading), "
                                   "the journal's latest capital operations (merge, redeem, split), and what the "
                                   "journal says (latch, positions, parameter overrides). Exits 1 when the venue "
                                   "cannot be reached or a part of the status could not be read.")
    operator_args(p)
    p.add_argument("--journal", metavar="PATH",
                   help="the journal to read (default: the one `polymm run` keeps in this mode)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=operator_command(_status))


async def _status(settings: Settings, args: argparse.Namespace) -> int:
    report = await status(settings, args.journal)
    print(report.to_json() if args.json else render_status(report))
    return 0 if report.ok else 1
