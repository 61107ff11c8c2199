"""Entry points: ``polymm-tui`` (the dashboard, ``commands/dashboard.py``) and ``polymm COMMAND``, whose
subcommands each live in a module of ``polymm.commands`` (listed in ``commands.COMMANDS``): each adds
its own subparser and sets its handler, and ``main`` runs the handler the arguments chose.

Modes: ``--demo`` starts the stand-in exchange in-process on 127.0.0.1 and trades against it (with
``--clob-url``: the demo wallet against the stand-in there); paper (the default) reads real market
data and simulates fills; ``--live`` sends real orders and needs credentials and a typed confirmation.
The work is done in ``polymm.ops``; the commands parse arguments, load settings and print. Bad input
exits with code 2 and a message naming the option or variable and its allowed values.
"""

from __future__ import annotations

import argparse
from importlib import import_module

from . import commands


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
    return int(args.func(args) or 0)


def tui_main(argv: list[str] | None = None) -> int:
    """``polymm-tui``: the dashboard."""
    from .commands import dashboard

    return dashboard.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
