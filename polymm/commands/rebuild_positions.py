"""``polymm rebuild-positions``: the journal's fills and positions rebuilt from the venue's trades, the
differences printed (``ops.rebuild``)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from ..config import ConfigError, Settings
from ..ops.errors import failed_url, is_connection, os_cause, os_problem
from ..ops.logs import setup_logging
from ..ops.rebuild import parse_since, rebuild_positions
from ..ops.rebuild_report import render_rebuild
from ..ops.venue import venue_error
from .options import operator_args
from .startup import load

PROG = "polymm rebuild-positions"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rebuild-positions", help="rebuild the journal's fills and positions from the venue's trades; print the "
                                  "differences",
        description="Read every trade of the wallet from the venue (GET /data/trades, all pages; from --since on when "
                    "given), find our legs (our API key as a maker order's owner, or as the taker's), book them as "
                    "the live execution does (a FAILED trade's leg booked and reversed as <trade id>:failed), and "
                    "compare per market: the position the journal restores to, the rebuilt one, the venue's token "
                    "balances, legs only in the journal, legs only at the venue. Unless --dry-run, the journal's "
                    "fills, fill statuses and positions are then replaced in one transaction; its reconcile: "
                    "adjustment rows are not kept (where the rebuilt position still differs from the venue's "
                    "balances the report says so, and the next start's reconciliation takes the venue's number). "
                    "Refuses to rewrite while a polymm trades this wallet on this venue (exit 1, naming it). Exits 2 "
                    "for bad input (no journal there, no wallet key), 1 when the venue could not be read completely.")
    operator_args(p, demo_needs_url=True)
    p.add_argument("--live", action="store_true",
                   help="the live journal (journal-live.sqlite) as the default --journal (also POLYMM_MODE=live)")
    p.add_argument("--journal", metavar="PATH",
                   help="the journal to rebuild (default: the one `polymm run` keeps in this mode; paper and demo "
                        "mode need it given)")
    p.add_argument("--since", type=_since, metavar="WHEN",
                   help="only the venue's trades from WHEN on (epoch seconds, or ISO-8601 such as 2025-11-22 or "
                        "2025-11-22T10:00:00Z); the journal's rows from before it are kept as they are")
    p.add_argument("--dry-run", action="store_true", help="print the differences, change nothing")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _since(text: str) -> int:
    """``--since``: see ``ops.rebuild.parse_since``."""
    try:
        return parse_since(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def run(args: argparse.Namespace) -> int:
    """2 for bad input (a journal or lock file this machine cannot write included), 1 when the venue could
    not be read completely or a polymm holds this wallet's instance lock (to rewrite), else 0."""
    settings = _settings(args)
    if settings is None:
        return 2
    path = _journal(settings, args)
    if path is None:
        return 2
    setup_logging(settings.model_copy(update={"log_level": "WARNING"}))  # stdout is the answer
    return _rebuild(settings, path, args)


def _settings(args: argparse.Namespace) -> Settings | None:
    """The settings, or None after saying why not (--demo wants the stand-in's --clob-url)."""
    if args.demo and args.live:
        print(f"{PROG}: --demo and --live: choose one (the demo wallet at a stand-in, or the configured wallet's "
              f"live journal)", file=sys.stderr)
        return None
    settings = load(args, PROG, program=False)
    if settings is not None and settings.mode == "demo" and not args.clob_url:
        print(f"{PROG}: --clob-url: required with --demo (the stand-in whose trades to read, e.g. `polymm exchange`"
              f"'s http://127.0.0.1:8080); a fresh embedded stand-in has none", file=sys.stderr)
        return None
    return settings


def _journal(settings: Settings, args: argparse.Namespace) -> str | None:
    """The journal to rebuild, or None after saying why there is none to take by default."""
    from ..journal import resolve_path

    path = args.journal or resolve_path(settings.journal_path, settings.mode)
    if not path or (settings.mode == "paper" and not args.journal):
        why = "demo mode keeps no journal" if settings.mode == "demo" else \
            "the journal is off (POLYMM_JOURNAL_PATH=off)" if settings.journal_path == "off" else \
            "paper mode's journal holds simulated fills, not the venue's (--live or POLYMM_MODE=live for the live one)"
        print(f"{PROG}: --journal: {why}; give the journal's path", file=sys.stderr)
        return None
    return path


def _rebuild(settings: Settings, path: str, args: argparse.Namespace) -> int:
    import sqlite3

    from ..journal import JournalChanged
    from ..statedir import InstanceLocked

    try:
        report = asyncio.run(rebuild_positions(settings, path, dry_run=args.dry_run, since=args.since, program=PROG))
    except ConfigError as e:  # no journal there, not a journal, no wallet key
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    except InstanceLocked as e:
        print(f"{PROG}: not rewriting the journal: {e} (--dry-run only reads)", file=sys.stderr)
        return 1
    except (JournalChanged, sqlite3.Error) as e:  # the journal changed meanwhile, or is not one
        print(f"{PROG}: {e}; nothing was written", file=sys.stderr)
        return 1
    except Exception as e:
        err = os_cause(e)
        if err is not None and err.errno is not None and not is_connection(err):  # the journal's or the lock's file
            print(f"{PROG}: {os_problem(e)}; nothing was written", file=sys.stderr)
            return 2
        print(f"{PROG}: {failed_url(e) or settings.clob_url}: {venue_error(e)}", file=sys.stderr)
        return 2 if err is not None else 1  # no answer at all (refused, unreachable, timed out): 2
    print(report.to_json() if args.json else render_rebuild(report))
    return 0 if report.ok else 1
