"""``polymm exchange``: the stand-in Polymarket exchange on loopback (``polymm_standin``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from ..argtypes import number, positive_decimal
from ..ops.errors import os_problem

#: Most stand-alone markets the stand-in builds (``polymm_standin.sim.catalog.MAX_MARKETS``; not imported:
#: the stand-in loads only when the command runs).
MAX_MARKETS = 500
MAX_FRAMES_PER_S = 100_000
#: ``--rate-tier`` names (``polymm_standin.server.ratelimit.RATE_TIERS``).
RATE_TIERS = ("standard", "unlimited")

_port = number(int, lambda n: 0 <= n <= 65535, "a port number from 1 to 65535 (0: any free port)")
_rate = number(float, lambda x: 0 < x <= 10_000, "steps per second, more than 0 and at most 10000")


def _whole_in(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number in ``lo..hi``; the error says the range and what was given
    (``must be 1..500, got 900``; argparse prefixes the option's name)."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            n = None
        if n is None or not lo <= n <= hi:
            raise argparse.ArgumentTypeError(f"must be {lo}..{hi}, got {text}")
        return n

    return parse


def _frames(text: str) -> float:
    """An argparse ``type`` for ``--frames-per-s``: more than 0, at most ``MAX_FRAMES_PER_S``."""
    try:
        x = float(text)
    except ValueError:
        x = float("nan")
    if not 0 < x <= MAX_FRAMES_PER_S:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_FRAMES_PER_S:,} frames/s, got {text}")
    return x


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exchange", help="run the stand-in Polymarket exchange on loopback",
                       description="Serve the stand-in exchange (CLOB REST and WebSockets, Gamma, Data API, relayer, "
                                   "JSON-RPC) until Ctrl-C or SIGTERM, printing its URLs. Exits 2 when it cannot "
                                   "listen there (the port in use, a port below 1024 without root, an address this "
                                   "machine does not have).")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8080, help="port to listen on (default: 8080; 0: any free port)")
    p.add_argument("--seed", type=int, default=7, help="seed of the markets and synthetic traders (default: 7)")
    p.add_argument("--markets", type=_whole_in(1, MAX_MARKETS), default=6,
                   help=f"number of stand-alone synthetic markets, 1..{MAX_MARKETS} (default: 6; a 3-market "
                        "neg-risk event group is added)")
    activity = p.add_mutually_exclusive_group()
    activity.add_argument("--flow-rate", type=_rate, default=None,
                          help="synthetic steps per second in every market alike (default: 6)")
    activity.add_argument("--frames-per-s", type=_frames, default=None,
                          help="total market-channel frames per second over all markets, shared out by seeded "
                               "weights: a few hot markets and a long quiet tail (instead of --flow-rate)")
    p.add_argument("--rate-tier", choices=RATE_TIERS, default="standard",
                   help="per-signer rate limits on orders and cancels: standard (40 orders/s, burst 60; 80 "
                        "cancels/s, burst 120; 429 past them) or unlimited (default: standard)")
    p.add_argument("--demo-pusd", type=positive_decimal, default=None, metavar="PUSD",
                   help="pUSD every new wallet, the demo wallet too, starts with (default: 10,000 up to 6 "
                        "markets, then 10,000 per 6 markets)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; 2 when it cannot listen on --host / --port."""
    # the composition root: only here and `startup.venue`
    from polymm_standin.server import RATE_TIERS as TIERS
    from polymm_standin.server import TradingConfig, serve

    trading = TradingConfig(starting_balance=args.demo_pusd, rate_tier=TIERS[args.rate_tier])
    kw: dict[str, Any] = {"host": args.host, "port": args.port, "seed": args.seed, "market_count": args.markets,
                          "trading": trading, "frames_per_s": args.frames_per_s}
    if args.flow_rate is not None:
        kw["flow_rate"] = args.flow_rate
    try:
        serve(**kw)
    except OSError as e:
        print(f"polymm exchange: {os_problem(e, listen=(args.host, args.port))}", file=sys.stderr)
        return 2
    return 0
