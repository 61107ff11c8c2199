"""``polymm doctor``: one line per check, OK / WARN / FAIL (``ops.doctor``)."""

from __future__ import annotations

import argparse

from ..argtypes import number
from ..config import Settings
from ..ops.doctor import doctor
from .operator import operator_command
from .options import operator_args

_seconds = number(float, lambda x: 0 < x <= 600, "seconds, more than 0 and at most 600")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check credentials, clock, balances, allowances and the market WebSocket",
                       description="One line per check with OK / WARN / FAIL and the reason: credentials (the "
                                   "wallet is shown by its address, never the key), the venue and its version, clock "
                                   "skew against /time, L2 auth, balance and allowances, Gamma, and the market "
                                   "WebSocket (connect, subscribe, a frame within --timeout). Exits 1 on any FAIL.")
    operator_args(p)
    p.add_argument("--timeout", type=_seconds, default=5.0, help="seconds to wait for each answer (default: 5)")
    p.set_defaults(func=operator_command(_doctor))


async def _doctor(settings: Settings, args: argparse.Namespace) -> int:
    checks = await doctor(settings, args.timeout)
    for c in checks:
        print(c.line())
    failed = [c.name for c in checks if c.status == "FAIL"]
    print(f"{len(checks)} checks: " + (f"FAIL in {', '.join(failed)}" if failed else "no failures"))
    return 1 if failed else 0
