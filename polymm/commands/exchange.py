"""``polymm exchange``: the stand-in Polymarket exchange on loopback (``polymm_standin``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..argtypes import number
from ..ops.errors import os_problem

_port = number(int, lambda n: 0 <= n <= 65535, "a port number from 1 to 65535 (0: any free port)")
_markets = number(int, lambda n: 1 <= n <= 1000, "a whole number of markets from 1 to 1000")
_rate = number(float, lambda x: 0 < x <= 10_000, "steps per second, more than 0 and at most 10000")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exchange", help="run the stand-in Polymarket exchange on loopback",
                       description="Serve the stand-in exchange (CLOB REST and WebSockets, Gamma, Data API, relayer, "
                                   "JSON-RPC) until Ctrl-C or SIGTERM, printing its URLs. Exits 2 when it cannot "
                                   "listen there (the port in use, a port below 1024 without root, an address this "
                                   "machine does not have).")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8080, help="port to listen on (default: 8080; 0: any free port)")
    p.add_argument("--seed", type=int, default=7, help="seed of the synthetic traders (default: 7)")
    p.add_argument("--markets", type=_markets, default=6,
                   help="number of stand-alone synthetic markets (a 3-market neg-risk event group is added)")
    p.add_argument("--flow-rate", type=_rate, default=None, help="synthetic steps per second per market")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; 2 when it cannot listen on --host / --port."""
    from polymm_standin.server import serve  # the composition root: only here and `startup.venue`

    kw: dict[str, Any] = {"host": args.host, "port": args.port, "seed": args.seed, "market_count": args.markets}
    if args.flow_rate is not None:
        kw["flow_rate"] = args.flow_rate
    try:
        serve(**kw)
    except OSError as e:
        print(f"polymm exchange: {os_problem(e, listen=(args.host, args.port))}", file=sys.stderr)
        return 2
    return 0
