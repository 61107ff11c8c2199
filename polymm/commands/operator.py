"""How the operator commands (cancel-all, status, markets, doctor) run: settings without the trading
checks, quiet logs (stdout is the answer), the venue (an embedded stand-in for a bare ``--demo``), then
the command's work; 2 for bad input, 1 when the venue says no."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from ..config import ConfigError, Settings
from ..ops.logs import setup_logging
from ..ops.venue import venue_error
from .startup import load, venue

Work = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]


def operator_command(work: Work) -> Callable[[argparse.Namespace], int]:
    """The handler of an operator command whose ``work`` prints the answer and returns the exit status."""

    def handle(args: argparse.Namespace) -> int:
        prog = f"polymm {args.command}"
        settings = load(args, prog, program=False)
        if settings is None:
            return 2
        setup_logging(settings.model_copy(update={"log_level": "WARNING"}))  # stdout is the answer
        with venue(settings, args) as (settings, _mode):
            try:
                return asyncio.run(work(settings, args))
            except ConfigError as e:  # no credentials for a command that needs them
                print(f"{prog}: {e}", file=sys.stderr)
                return 2
            except Exception as e:
                print(f"{prog}: {settings.clob_url}: {venue_error(e)}", file=sys.stderr)
                return 1

    return handle
