"""The backtest commands' CLI as tests drive it: parse with the real parser, run, capture the output."""

from __future__ import annotations

import argparse

import pytest

from polymm.commands import backtest, replay


def cli(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="polymm")
    sub = p.add_subparsers(dest="command", required=True)
    replay.register(sub)
    backtest.register(sub)
    return p.parse_args(list(argv))


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``polymm ARGV...``."""
    args = cli(*argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err
