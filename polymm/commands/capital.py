"""``polymm merge``, ``polymm redeem``, ``polymm split``: capital operations by hand (``ops.capital``)."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal

from ..argtypes import positive_decimal
from ..config import Settings
from ..domain.ctf import CapitalKind
from ..domain.prices import fmt_amount
from ..ops.capital import run_capital
from .operator import Work, operator_command
from .options import operator_args

_HELP = {
    CapitalKind.MERGE: ("merge YES+NO pairs back to pUSD",
                        "Merge every YES+NO pair the wallet holds (or only --market's) back to pUSD: 1 pUSD a pair. "
                        "Shares our resting sells offer are left alone. EOA wallets send the transaction over "
                        "POLYMM_RPC_URL and pay gas in POL; proxy, Safe and deposit wallets go through Polymarket's "
                        "relayer with POLYMM_BUILDER_* keys (gasless; a daily quota). Journaled."),
    CapitalKind.REDEEM: ("redeem resolved markets' winning shares",
                         "Redeem every resolved market the wallet holds shares of (or only --market): each winning "
                         "share pays 1 pUSD, the losing ones are burned. Same paths as merge. Journaled."),
    CapitalKind.SPLIT: ("split pUSD into YES+NO pairs",
                        "Split --amount pUSD into as many YES+NO pairs of --market (to sell either side without "
                        "buying it first). Same paths as merge. Journaled."),
}


def register(sub: argparse._SubParsersAction) -> None:
    for kind in CapitalKind:
        short, long = _HELP[kind]
        p = sub.add_parser(kind.value, help=short, description=long)
        p.add_argument("--market", metavar="CONDITION_ID", default=None,
                       help="only this market (required for split): its condition id")
        if kind is CapitalKind.SPLIT:
            p.add_argument("--amount", type=positive_decimal, required=True, metavar="PUSD",
                           help="pUSD to split (one YES and one NO share per pUSD)")
        p.add_argument("--dry-run", action="store_true", help="show what would be done; send nothing")
        operator_args(p)
        p.set_defaults(func=operator_command(_runner(kind)), capital_kind=kind)


def _runner(kind: CapitalKind) -> Work:
    async def work(settings: Settings, args: argparse.Namespace) -> int:
        return await _capital(settings, args, kind)

    return work


async def _capital(settings: Settings, args: argparse.Namespace, kind: CapitalKind) -> int:
    market = args.market
    if market is not None and not (market.startswith("0x") and len(market) == 66):
        print(f"polymm {kind.value}: --market: must be a condition id (0x + 64 hex digits), got {market}",
              file=sys.stderr)
        return 2
    try:
        run = await run_capital(settings, kind, market=market, amount=getattr(args, "amount", None),
                                dry_run=args.dry_run)
    except ValueError as e:
        print(f"polymm {kind.value}: {e}", file=sys.stderr)
        return 2
    print(f"wallet {run.wallet} via {run.path}")
    if not run.ops:
        print(f"nothing to {kind.value}")
    for op in run.ops:
        line = f"{op.status:>9}  {op.describe()}"
        if op.tx_hash or op.tx_id:
            line += f"  tx {op.tx_hash or op.tx_id}"
        if op.error:
            line += f"  ({op.error})"
        print(line)
    for note in run.notes:
        print(note)
    total = sum((op.amount for op in run.ops if op.status == "confirmed"), Decimal(0))
    if run.ops and not args.dry_run:
        print(f"{sum(op.status == 'confirmed' for op in run.ops)} of {len(run.ops)} confirmed; "
              f"{fmt_amount(total)} {'pUSD' if kind is not CapitalKind.SPLIT else 'pairs'}")
    return 1 if any(op.status in ("failed", "deferred") for op in run.ops) else 0
