"""``polymm export-pnl``: one UTC day's P&L per market (trading, rewards, net) from the journal, as CSV
(``journal.export_pnl``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import ConfigError, load_settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-pnl", help="one UTC day's P&L per market from the journal, as CSV",
                       description="Print (or write to --out) one UTC day's P&L per market from the journal as CSV: "
                                   "date, condition_id, position (end of day), realized, unrealized, fees, total "
                                   "(trading: realised + unrealised - fees), fills (the day's share: its last "
                                   "snapshot minus the previous day's), rewards (the liquidity rewards the venue "
                                   "said the market earned that day) and net (total + rewards: trading + rewards "
                                   "- fees), and a TOTAL row. Exits 1 when there is no journal.")
    p.add_argument("--date", required=True, help="the UTC day, YYYY-MM-DD")
    p.add_argument("--journal", metavar="PATH",
                   help="the journal to read (default: the one `polymm run` keeps in this mode: POLYMM_MODE)")
    p.add_argument("--out", metavar="FILE", help="write the CSV here instead of standard output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """2 for bad input, 1 when there is no journal there, else 0."""
    from ..journal import export_pnl, resolve_path

    prog = "polymm export-pnl"
    try:
        settings = load_settings()
    except ConfigError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    path = args.journal or resolve_path(settings.journal_path, settings.mode)
    if not path:
        print(f"{prog}: --journal: no journal in {settings.mode} mode; give the journal's path", file=sys.stderr)
        return 2
    try:
        text = export_pnl(path, args.date)
    except ValueError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 1
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
