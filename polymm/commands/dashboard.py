"""``polymm-tui``: the dashboard program (``polymm.cli:tui_main``), with the market file watcher and the
metrics endpoint beside its engine."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from ..config import Settings
from ..domain.market import Market
from ..ops.logs import setup_logging
from ..ops.programs import initial_markets, run_extras
from ..ops.venue import venue_error
from .options import program_args
from .startup import load, one_instance, profiled, say, venue, warn_exposed_keys, with_journal

PROG = "polymm-tui"


def main(argv: list[str] | None = None) -> int:
    """``polymm-tui``: 2 for bad input, 1 when another polymm holds this wallet, the market file's
    markets could not be looked up or the stop's cancel-all was not confirmed, else 0. Once the app
    exited it says how the stop went, the session's P&L and the positions left (``session_summary``)."""
    p = argparse.ArgumentParser(prog=PROG, description="polymm: Polymarket market maker dashboard")
    program_args(p, logs=False)
    args = p.parse_args(argv)
    warn_exposed_keys(PROG)
    settings = load(args, PROG)
    if settings is None:
        return 2
    if settings.log_file:  # the screen is the dashboard's: the log lines go to the file only
        setup_logging(settings, to_stream=False)
    with venue(with_journal(settings), args) as (settings, mode), one_instance(settings, PROG) as ok:
        if not ok:
            return 1
        try:
            markets = asyncio.run(initial_markets(settings)) if settings.market_file else None
        except Exception as e:  # the venue's Gamma did not answer: say so, no traceback
            print(f"{PROG}: could not look up the market file's markets at {settings.gamma_url}: "
                  f"{venue_error(e)}", file=sys.stderr)
            return 1
        app = program_app(settings, mode, markets)
        with profiled(args.profile):
            app.run()
    summary = app.stop_summary
    if summary is None:
        say(f"{PROG}: stopped before the engine started; no orders were placed")
        return 0
    say(f"{PROG}: {summary.line()}")
    for line in app.session_summary():  # the session's P&L and what is still held, once the screen is gone
        say(f"{PROG}: {line}")
    return 0 if summary.confirmed else 1


def program_app(settings: Settings, mode: str, markets: list[Market] | None) -> Any:
    """The dashboard plus what the program adds once its engine runs: the market file watcher and the
    metrics endpoint (``ops.programs.run_extras``)."""
    from ..tui.app import PolymmApp

    async def extras(engine: Any) -> None:
        await run_extras(engine, settings, provisional=[m.condition_id for m in markets or ()])

    return PolymmApp(settings, mode=mode, markets=markets, venue_host=settings.clob_url, settle_heap=True,
                     on_engine=extras if settings.market_file or settings.metrics_port else None, stop_signals=True)
