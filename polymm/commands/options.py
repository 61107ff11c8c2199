"""The options several commands share: which venue (``venue_args``), the trading programs' options
(``program_args``: ``polymm run`` and ``polymm-tui``) and the operator commands' (``operator_args``)."""

from __future__ import annotations

import argparse

from ..argtypes import number, number_range

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
    p.add_argument("--profile", action="store_true",
                   help="time the hot functions (frame parsing, book updates, the strategy step, risk checks, "
                        "signing) and print a table of calls, total, mean, p99 and worst on exit")
    selection_args(p)


_volume = number(float, lambda x: 0 <= x < float("inf"), "a number of dollars, 0 or more")
_spread = number(float, lambda x: 0 < x < 1, "a price difference above 0 and below 1")
_ratio = number(float, lambda x: 0 <= x <= 1000, "a number from 0 (any) to 1000")
_prices = number_range(0, 1, "LO:HI, two prices with 0 ≤ LO < HI ≤ 1, e.g. 0.10:0.90")
_hours = number_range(0, 100_000, "MIN or MIN:MAX hours with 0 ≤ MIN < MAX, e.g. 48 or 24:720", open_high=True)


def selection_args(p: argparse.ArgumentParser) -> None:
    """The automatic selection's filters (``POLYMM_SELECT_*``): which markets are picked when no market
    list is given, and which the dashboard's picker shows."""
    g = p.add_argument_group("automatic selection", "which markets are picked when no market list is given "
                                                    "(the dashboard's picker shows the same)")
    g.add_argument("--min-volume", type=_volume, metavar="USDC",
                   help="only markets with at least this 24 h volume (POLYMM_SELECT_MIN_VOLUME_24H)")
    g.add_argument("--min-liquidity", type=_volume, metavar="USDC",
                   help="only markets with at least this much resting in the book (POLYMM_SELECT_MIN_LIQUIDITY)")
    g.add_argument("--min-volume-1wk", type=_volume, metavar="USDC",
                   help="only markets with at least this 7-day volume (POLYMM_SELECT_MIN_VOLUME_1WK)")
    g.add_argument("--max-spread", type=_spread, metavar="X",
                   help="only markets whose spread is at most X (POLYMM_SELECT_MAX_SPREAD)")
    g.add_argument("--min-spread", type=_spread, metavar="X",
                   help="skip markets whose spread is under X, too competitive (POLYMM_SELECT_MIN_SPREAD)")
    g.add_argument("--min-trend", type=_ratio, metavar="X",
                   help="only markets whose last day traded at least X times their average day of the week "
                        "(POLYMM_SELECT_MIN_TREND)")
    g.add_argument("--min-score", type=_ratio, metavar="X",
                   help="only markets scoring at least X, the ranking `polymm markets` shows "
                        "(POLYMM_SELECT_MIN_SCORE)")
    g.add_argument("--price-range", type=_prices, metavar="LO:HI",
                   help="only markets whose YES price is within LO..HI (POLYMM_SELECT_PRICE_MIN/MAX; "
                        "default 0.10:0.90)")
    g.add_argument("--hours-to-end", type=_hours, metavar="MIN[:MAX]",
                   help="only markets ending in MIN (to MAX) hours or more (POLYMM_SELECT_MIN/MAX_HOURS_TO_END; "
                        "default 24)")
    g.add_argument("--rewards-only", action="store_true", default=None,
                   help="only markets paying liquidity rewards (POLYMM_SELECT_REWARDS_ONLY)")


def operator_args(p: argparse.ArgumentParser, *, demo_needs_url: bool = False) -> None:
    """The options every operator command has: which venue, and as whom (``demo_needs_url``: ``--demo``
    only with ``--clob-url``, a fresh embedded stand-in being pointless for the command)."""
    p.add_argument("--demo", action="store_true",
                   help="as the demo wallet: against the stand-in at --clob-url (e.g. `polymm exchange`, or the "
                        "running demo's)" + ("; --clob-url is required" if demo_needs_url else
                                             ", else a fresh embedded stand-in (said on stderr)"))
    venue_args(p)
    p.add_argument("--seed", type=int, default=None, help="stand-in seed for --demo (POLYMM_DEMO_SEED)")
    p.set_defaults(live=False)
