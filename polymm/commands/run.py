"""``polymm run``: the engine headless (``ops.runner``)."""

from __future__ import annotations

import argparse
import asyncio

from ..ops.logs import setup_logging
from ..ops.runner import run_headless
from .options import program_args
from .startup import load, one_instance, profiled, venue, warn_exposed_keys, with_journal


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the engine headless (logs to stderr; SIGINT / SIGTERM / SIGHUP cancel all "
                                   "and exit)",
                       description="Run the engine without a screen. Logs go to stderr (--log-format text|json). "
                                   "SIGINT, SIGTERM or SIGHUP cancels every order of ours at the venue, then exits "
                                   "0 once the venue confirms none rest (1 if it does not). One process per wallet "
                                   "and venue: a second one refuses to start, naming the first.")
    program_args(p)
    p.add_argument("--rearm", action="store_true",
                   help="clear a kill latched in the journal (HALTED before a restart) once the start-up catch-up "
                        "with the venue is done; without it a latched kill keeps `polymm run` HALTED")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """2 for bad input, 1 when another polymm holds this wallet or the run failed, else 0."""
    warn_exposed_keys("polymm run")
    settings = load(args, "polymm")
    if settings is None:
        return 2
    setup_logging(settings)
    with venue(with_journal(settings), args) as (settings, mode), one_instance(settings, "polymm run") as ok, \
            profiled(args.profile):
        return asyncio.run(run_headless(settings, mode, rearm=args.rearm)) if ok else 1
