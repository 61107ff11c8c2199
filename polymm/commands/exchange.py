"""``polymm exchange``: the stand-in Polymarket exchange on loopback (``polymm_standin``)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exchange", help="run the stand-in Polymarket exchange on loopback")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--markets", type=int, default=6,
                   help="number of stand-alone synthetic markets (a 3-market neg-risk event group is added)")
    p.add_argument("--flow-rate", type=float, default=None, help="synthetic steps per second per market")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from polymm_standin.server import serve  # the composition root: only here and `startup.venue`

    kw: dict[str, Any] = {"host": args.host, "port": args.port, "seed": args.seed, "market_count": args.markets}
    if args.flow_rate is not None:
        kw["flow_rate"] = args.flow_rate
    serve(**kw)
    return 0
