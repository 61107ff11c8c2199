"""``polymm cancel-all``: the panic button (``ops.cancel_all``)."""

from __future__ import annotations

import argparse

from ..config import Settings
from ..ops.cancel_all import cancel_all
from ..ops.text import short
from ..ops.wallet import wallet
from .operator import operator_command
from .options import operator_args

#: why ``cancel-all --demo`` without ``--clob-url`` is refused
NO_ORDERS_TO_CANCEL = "a fresh embedded stand-in holds no orders of ours: it could only confirm that none rest"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cancel-all", help="panic button: cancel every open order of ours at the venue",
                       description="Cancel every open order of ours at the venue (DELETE /cancel-all), print how "
                                   "many, and confirm with GET /data/orders that none remain. Exits 1 if some still "
                                   "rest. A polymm still running keeps quoting: stop it first (ctrl+k or SIGTERM). "
                                   "With --demo it needs --clob-url: the running demo's stand-in (a fresh one holds "
                                   "no orders of ours).")
    operator_args(p, demo_needs_url=True)
    p.set_defaults(func=operator_command(_cancel_all, needs_running_demo=NO_ORDERS_TO_CANCEL))



async def _cancel_all(settings: Settings, args: argparse.Namespace) -> int:
    w = wallet(settings)
    r = await cancel_all(settings)
    print(f"cancelled {r.cancelled} orders of wallet {w.address} at {settings.clob_url}")
    if r.not_cancelled:
        print(f"{len(r.not_cancelled)} not cancelled (already filled or cancelled): "
              + ", ".join(f"{short(k)} ({v})" for k, v in list(r.not_cancelled.items())[:5]))
    for e in r.errors:
        print(f"venue error: {e}")
    if r.confirmed:
        print("GET /data/orders confirms none of ours remain")
        return 0
    if r.left:
        print(f"FAILED: GET /data/orders still shows {len(r.left)} open orders of ours: "
              + ", ".join(short(i) for i in r.left[:10]))
    else:
        print("FAILED: could not confirm with GET /data/orders that none of ours remain")
    return 1
