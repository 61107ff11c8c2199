"""The options several commands share: which venue (``venue_args``), the trading programs' options
(``program_args``: ``polymm run`` and ``polymm-tui``) and the operator commands' (``operator_args``)."""

from __future__ import annotations

import argparse

from ..argtypes import number

port = number(int, lambda n: 0 <= n <= 65535, "a port number from 0 (off) to 65535")
#: ``--width`` of the charts (``replay``, ``backtest``)
chart_width = number(int, lambda v: 10 <= v <= 400, "a width from 10 to 400 columns")


def venue_args(p: argparse.ArgumentParser) -> None:
    """Where the venue is: its CLOB, WebSocket and Gamma base URLs."""
    p.add_argument("--clob-url", help="CLOB REST base URL (POLYMM_CLOB_URL)")
    p.add_argument("--ws-url", help="WebSocket base URL, without /ws/market (POLYMM_WS_URL)")
    p.add_argument("--gamma-url", help="Gamma API base URL (POLYMM_GAMMA_URL)")


def program_args(p: argparse.ArgumentParser, *, logs: bool = True) -> None:
    """The options of the programs that trade (``polymm run``; ``polymm-tui`` without ``logs``)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--demo", action="store_true",
                   help="trade against the embedded stand-in exchange (with --clob-url: the demo wallet against the "
                        "stand-in there, e.g. `polymm exchange`)")
    g.add_argument("--live", action="store_true", help="send real orders (needs credentials and confirmation)")
    venue_args(p)
    p.add_argument("--markets", help="comma-separated condition ids to trade (POLYMM_MARKETS)")
    p.add_argument("--market-file", metavar="PATH",
                   help="curated markets, one a line with per-market parameters, watched while running: add, remove "
                        "or edit a line to add, remove or retune a market (POLYMM_MARKET_FILE; format in README)")
    p.add_argument("--metrics-port", type=port, metavar="N", help="serve metrics on port N; 0 = off "
                                                                  "(POLYMM_METRICS_PORT)")
    if logs:
        p.add_argument("--log-format", choices=("text", "json"),
                       help="log lines as text, or one JSON object a line (POLYMM_LOG_FORMAT)")
    p.add_argument("--seed", type=int, default=None, help="stand-in seed for --demo (POLYMM_DEMO_SEED)")


def operator_args(p: argparse.ArgumentParser) -> None:
    """The options every operator command has: which venue, and as whom."""
    p.add_argument("--demo", action="store_true",
                   help="as the demo wallet: against the stand-in at --clob-url (e.g. `polymm exchange`), else a "
                        "fresh embedded stand-in")
    venue_args(p)
    p.add_argument("--seed", type=int, default=None, help="stand-in seed for --demo (POLYMM_DEMO_SEED)")
    p.set_defaults(live=False)
