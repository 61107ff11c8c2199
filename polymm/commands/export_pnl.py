"""``polymm export-pnl``: one UTC day's P&L per market (trading, rewards, net) from the journal, as CSV
(``journal.export_pnl``)."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

from ..config import ConfigError, load_settings
from ..ops.errors import os_problem


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-pnl", help="one UTC day's P&L per market from the journal, as CSV (default: today)",
                       description="Print (or write to --out) one UTC day's P&L per market from the journal as CSV: "
                                   "date, condition_id, position (end of day), realized, unrealized, fees, total "
                                   "(trading: realised + unrealised - fees), fills (the day's share: its last "
                                   "snapshot minus the previous day's), rewards (the liquidity rewards the venue "
                                   "said the market earned that day) and net (total + rewards: trading + rewards "
                                   "- fees), and a TOTAL row. Amounts are plain decimals, 2 to 6 places. Exits 1 "
                                   "when there is no journal, 2 for bad input or an --out that cannot be written.")
    p.add_argument("--date", default=None, metavar="YYYY-MM-DD",
                   help="the UTC day (default: today, UTC)")
    p.add_argument("--journal", metavar="PATH",
                   help="the journal to read (default: the one `polymm run` keeps in this mode: POLYMM_MODE)")
    p.add_argument("--out", metavar="FILE", help="write the CSV here instead of standard output")
    p.set_defaults(func=run)


def today_utc() -> str:
    """Today's date in UTC, as ``--date`` takes it."""
    return datetime.now(UTC).strftime("%Y-%m-%d")


def run(args: argparse.Namespace) -> int:
    """2 for bad input (an --out that cannot be written included), 1 when there is no journal there,
    else 0."""
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
        text = export_pnl(path, args.date or today_utc())
    except ValueError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 1
    except sqlite3.Error as e:
        print(f"{prog}: --journal {path}: not a polymm journal ({e})", file=sys.stderr)
        return 2
    if args.out:
        try:
            Path(args.out).expanduser().write_text(text, encoding="utf-8")
        except OSError as e:
            print(f"{prog}: {os_problem(e, option='--out', path=args.out)}", file=sys.stderr)
            return 2
    else:
        sys.stdout.write(text)
    return 0
