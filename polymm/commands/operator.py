"""How the operator commands (cancel-all, status, markets, doctor, merge, redeem, split) run: settings
without the trading checks, quiet logs (stdout is the answer), the venue (a fresh embedded stand-in for
``--demo`` without ``--clob-url``, said on stderr first — or refused where that would be pointless), then
the command's work; 2 for bad input and for what the operating system refused (a file this machine
cannot write, a port, a host that cannot be reached — the cause named in one line: ``ops.errors``),
1 when the venue answered no."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from ..config import ConfigError, Settings
from ..ops.errors import failed_url, is_connection, os_cause, os_problem
from ..ops.logs import setup_logging
from ..ops.venue import venue_error
from .startup import load, venue

Work = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]

#: said (stderr) before an operator command acts on a fresh embedded stand-in
FRESH_DEMO = ("no --clob-url: acting on a fresh embedded stand-in, not on a running demo; give --clob-url "
              "http://127.0.0.1:PORT to reach one")


def fresh_demo(settings: Settings, args: argparse.Namespace) -> bool:
    """Demo mode without ``--clob-url``: the command would act on a stand-in of its own, started for it."""
    return settings.mode == "demo" and not args.clob_url


def operator_command(work: Work, *, needs_running_demo: str = "") -> Callable[[argparse.Namespace], int]:
    """The handler of an operator command whose ``work`` prints the answer and returns the exit status.
    ``needs_running_demo``: why the command is pointless on a fresh embedded stand-in — then ``--demo``
    without ``--clob-url`` is refused (exit 2) instead of noted."""

    def handle(args: argparse.Namespace) -> int:
        prog = f"polymm {args.command}"
        settings = load(args, prog, program=False)
        if settings is None:
            return 2
        if fresh_demo(settings, args):
            if needs_running_demo:
                print(f"{prog}: --clob-url: required with --demo ({needs_running_demo}); give --clob-url "
                      f"http://127.0.0.1:PORT, the running demo's stand-in (e.g. `polymm exchange`'s)", file=sys.stderr)
                return 2
            print(f"{prog}: {FRESH_DEMO}", file=sys.stderr, flush=True)
        setup_logging(settings.model_copy(update={"log_level": "WARNING"}))  # stdout is the answer
        with venue(settings, args) as (settings, _mode):
            try:
                return asyncio.run(work(settings, args))
            except ConfigError as e:  # no credentials for a command that needs them
                print(f"{prog}: {e}", file=sys.stderr)
                return 2
            except Exception as e:
                err = os_cause(e)
                if err is not None and err.errno is not None and not is_connection(err):  # a file here, not the venue
                    print(f"{prog}: {os_problem(e)}", file=sys.stderr)
                    return 2
                print(f"{prog}: {failed_url(e) or settings.clob_url}: {venue_error(e)}", file=sys.stderr)
                return 2 if err is not None else 1  # no answer at all (refused, unreachable, timed out): 2

    return handle
