"""Entry points: ``polymm-tui`` (the dashboard, ``commands/dashboard.py``) and ``polymm COMMAND``, whose
subcommands each live in a module of ``polymm.commands`` (listed in ``commands.COMMANDS``): each adds
its own subparser and sets its handler, and ``main`` runs the handler the arguments chose.

Modes: ``--demo`` starts the stand-in exchange in-process on 127.0.0.1 and trades against it (with
``--clob-url``: the demo wallet against the stand-in there); paper (the default) reads real market
data and simulates fills; ``--live`` sends real orders and needs credentials and a typed confirmation.
The work is done in ``polymm.ops``; the commands parse arguments, load settings and print. Bad input
exits with code 2 and a message naming the option or variable and its allowed values; so does an error
of the operating system a command did not handle itself (a port in use, permission denied, a full disk:
one line naming the cause, ``ops.errors.os_problem``, never a traceback).
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

from . import commands
from .ops.errors import os_cause, os_problem


def parser() -> argparse.ArgumentParser:
    """``polymm``'s parser: one subparser per module in ``commands.COMMANDS``."""
    p = argparse.ArgumentParser(prog="polymm", description="polymm: Polymarket market maker")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in commands.COMMANDS:
        import_module(f"{commands.__name__}.{name}").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """``polymm``: headless engine and tools."""
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Exception as e:
        if os_cause(e) is None:
            raise  # a bug: its traceback is the report
        print(f"polymm {args.command}: {os_problem(e)}", file=sys.stderr)
        return 2


def tui_main(argv: list[str] | None = None) -> int:
    """``polymm-tui``: the dashboard."""
    from .commands import dashboard

    return dashboard.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
