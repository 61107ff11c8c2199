"""Entry points: ``polymm-tui`` (the dashboard) and ``polymm {run, exchange, record, cancel-all, status,
markets, doctor}`` (plus ``replay`` and ``backtest`` when ``polymm.backtest.commands`` is present).

Modes: ``--demo`` starts the stand-in exchange in-process on 127.0.0.1 and trades against it (with
``--clob-url``: the demo wallet against the stand-in there); paper (the default) reads real market
data and simulates fills; ``--live`` sends real orders and needs credentials and a typed confirmation.
The commands live in ``ops.py``; this module parses arguments, loads settings and prints. Bad input
exits with code 2 and a message naming the option or variable and its allowed values.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import ops
from .argtypes import number
from .config import ConfigError, Settings, load_settings

LIVE_CONFIRM_WORD = "LIVE"


# ---------------------------------------------------------------- argument types
_port = number(int, lambda n: 0 <= n <= 65535, "a port number from 0 (off) to 65535")
_limit = number(int, lambda n: 1 <= n <= 1000, "an integer from 1 to 1000")
_scan = number(int, lambda n: 1 <= n <= 20_000, "an integer from 1 to 20000")
_seconds = number(float, lambda x: 0 < x <= 600, "seconds, more than 0 and at most 600")
_volume = number(float, lambda x: 0 <= x < float("inf"), "a number of dollars, 0 or more")


# ---------------------------------------------------------------- shared options
def _venue_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clob-url", help="CLOB REST base URL (POLYMM_CLOB_URL)")
    p.add_argument("--ws-url", help="WebSocket base URL, without /ws/market (POLYMM_WS_URL)")
    p.add_argument("--gamma-url", help="Gamma API base URL (POLYMM_GAMMA_URL)")


def _common(p: argparse.ArgumentParser, *, logs: bool = True) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--demo", action="store_true",
                   help="trade against the embedded stand-in exchange (with --clob-url: the demo wallet against the "
                        "stand-in there, e.g. `polymm exchange`)")
    g.add_argument("--live", action="store_true", help="send real orders (needs credentials and confirmation)")
    _venue_args(p)
    p.add_argument("--markets", help="comma-separated condition ids to trade (POLYMM_MARKETS)")
    p.add_argument("--market-file", metavar="PATH",
                   help="curated markets, one a line with per-market parameters, watched while running: add, remove "
                        "or edit a line to add, remove or retune a market (POLYMM_MARKET_FILE; format in README)")
    p.add_argument("--metrics-port", type=_port, metavar="N", help="serve metrics on port N; 0 = off "
                                                                   "(POLYMM_METRICS_PORT)")
    if logs:
        p.add_argument("--log-format", choices=("text", "json"),
                       help="log lines as text, or one JSON object a line (POLYMM_LOG_FORMAT)")
    p.add_argument("--seed", type=int, default=None, help="stand-in seed for --demo (POLYMM_DEMO_SEED)")


def _ops_args(p: argparse.ArgumentParser) -> None:
    """The options every operator command has: which venue, and as whom."""
    p.add_argument("--demo", action="store_true",
                   help="as the demo wallet: against the stand-in at --clob-url (e.g. `polymm exchange`), else a "
                        "fresh embedded stand-in")
    _venue_args(p)
    p.add_argument("--seed", type=int, default=None, help="stand-in seed for --demo (POLYMM_DEMO_SEED)")
    p.set_defaults(live=False)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("clob_url", "ws_url", "gamma_url", "markets", "market_file", "metrics_port", "log_format"):
        v = getattr(args, name, None)
        if v is not None:
            out[name] = v
    if getattr(args, "seed", None) is not None:
        out["demo_seed"] = args.seed
    if args.demo:
        out["mode"] = "demo"
    elif getattr(args, "live", False):
        out["mode"] = "live"
    if args.demo and args.clob_url:  # a stand-in already running there: its other hosts, same layout
        base = args.clob_url.rstrip("/")
        out.setdefault("ws_url", "ws" + base.removeprefix("http"))
        out.setdefault("gamma_url", f"{base}/gamma-api")
        out["data_url"] = f"{base}/data-api"
    return out


@contextlib.contextmanager
def _venue(settings: Settings, args: argparse.Namespace) -> Iterator[tuple[Settings, str]]:
    """For demo mode start the embedded stand-in and point the settings at it — unless ``--clob-url``
    names the stand-in to use (only the command-line flag does: a production URL from the environment
    never meets the demo wallet)."""
    if settings.mode != "demo":
        yield settings, "LIVE" if settings.mode == "live" else "PAPER"
        return
    if args.clob_url:
        yield settings, "DEMO"
        return
    from .exchange import EmbeddedExchange

    ex = EmbeddedExchange(seed=settings.demo_seed)
    urls = ex.start()
    try:
        demo = settings.model_copy(
            update={"clob_url": urls.clob_url, "ws_url": urls.ws_base, "gamma_url": urls.gamma_url,
                    "data_url": urls.data_url}
        )
        yield demo, "DEMO"
    finally:
        ex.stop()


def _wallet_address(settings: Settings) -> str:
    """The signing wallet's public address (shown instead of the key, which is never shown)."""
    from eth_account import Account

    assert settings.private_key is not None
    return Account.from_key(settings.private_key.get_secret_value()).address


def _check_live(settings: Settings, confirm: bool = True) -> None:
    """Live trading needs credentials, ``--live`` and a typed confirmation."""
    if settings.mode != "live":
        return
    if not settings.has_live_credentials:
        raise ConfigError("POLYMM_PRIVATE_KEY: required for --live (64 hex characters); see .env.example")
    if confirm:
        if not sys.stdin.isatty():
            raise ConfigError("--live: needs an interactive confirmation; refusing without a terminal")
        address = _wallet_address(settings)
        answer = input(
            f"Trade LIVE with real money on {settings.clob_url} as wallet {address}? "
            f"Type {LIVE_CONFIRM_WORD} to confirm: "
        )
        if answer.strip() != LIVE_CONFIRM_WORD:
            raise ConfigError("--live: not confirmed; nothing was sent")


def _check_program(settings: Settings) -> None:
    """What must hold of the market file and the metrics port before anything starts."""
    if settings.market_file:
        path = Path(settings.market_file).expanduser()
        if not path.is_file():
            raise ConfigError(f"--market-file / POLYMM_MARKET_FILE: no such file {str(path)!r} (a text file, one "
                              f"market a line: `<condition_id> [key=value ...]`)")
        from .engine.watchlist import read_market_file

        try:
            read_market_file(path)
        except (OSError, ValueError) as e:
            raise ConfigError(f"--market-file / POLYMM_MARKET_FILE: cannot read {str(path)!r}: {e}") from None


def _warn_exposed_keys(prog: str) -> None:
    """Warn, as ssh does with a readable key, when an env file the settings read holds the private key
    and group or others can read it (the key itself is never printed)."""
    from .statedir import exposed_key_files

    for f in exposed_key_files():
        _say(f"{prog}: WARNING: {f.problem()}")


def _say(line: str) -> None:
    """Print one line to stderr; a closed terminal (SIGHUP) just loses it."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _one_instance(settings: Settings, prog: str) -> Iterator[bool]:
    """Hold the lock of this venue and wallet while the program runs (``statedir.InstanceLock``): two
    processes trading one wallet would cancel each other's orders as unknown. Live and demo mode only:
    paper trades no wallet. Yields False after saying why the program must not start (another process
    holds the lock, named; or the state directory cannot hold it)."""
    if settings.mode not in ("live", "demo"):
        yield True
        return
    from .statedir import InstanceLock, InstanceLocked

    lock = InstanceLock(settings.clob_url, ops.wallet(settings).address, prog)
    try:
        lock.acquire()
    except InstanceLocked as e:
        print(f"{prog}: {e}", file=sys.stderr)
        yield False
        return
    except OSError as e:
        print(f"{prog}: cannot take the instance lock in {lock.directory}: {e}", file=sys.stderr)
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def _with_journal(settings: Settings) -> Settings:
    """The journal the programs keep (``journal.resolve_path``: per mode, none in demo mode)."""
    from .journal import resolve_path

    return settings.model_copy(update={"journal_path": resolve_path(settings.journal_path, settings.mode) or "off"})


def _load(args: argparse.Namespace, prog: str, *, program: bool = True) -> Settings | None:
    """Settings for this run (``program``: one that trades, so also the file, port and live checks),
    or None after telling the user exactly what is wrong."""
    try:
        settings = load_settings(**_overrides(args))
        if program:
            _check_program(settings)
            _check_live(settings)
    except ConfigError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return None
    return settings


# ---------------------------------------------------------------- polymm-tui
def tui_main(argv: list[str] | None = None) -> int:
    """``polymm-tui``: the dashboard."""
    p = argparse.ArgumentParser(prog="polymm-tui", description="polymm: Polymarket market maker dashboard")
    _common(p, logs=False)
    args = p.parse_args(argv)
    _warn_exposed_keys("polymm-tui")
    settings = _load(args, "polymm-tui")
    if settings is None:
        return 2
    with _venue(_with_journal(settings), args) as (settings, mode), _one_instance(settings, "polymm-tui") as ok:
        if not ok:
            return 1
        try:
            markets = asyncio.run(ops.initial_markets(settings)) if settings.market_file else None
        except Exception as e:  # the venue's Gamma did not answer: say so, no traceback
            print(f"polymm-tui: could not look up the market file's markets at {settings.gamma_url}: "
                  f"{ops.venue_error(e)}", file=sys.stderr)
            return 1
        app = _program_app(settings, mode, markets)
        app.run()
    summary = app.stop_summary
    if summary is None:
        _say("polymm-tui: stopped before the engine started; no orders were placed")
        return 0
    _say(f"polymm-tui: {summary.line()}")
    return 0 if summary.confirmed else 1


def _program_app(settings: Settings, mode: str, markets: list | None) -> Any:
    """The dashboard plus what the program adds once its engine runs: the market file watcher and the
    metrics endpoint (``ops.run_extras``)."""
    from .tui.app import PolymmApp

    async def extras(engine: Any) -> None:
        await ops.run_extras(engine, settings, provisional=[m.condition_id for m in markets or ()])

    return PolymmApp(settings, mode=mode, markets=markets, venue_host=settings.clob_url, settle_heap=True,
                     on_engine=extras if settings.market_file or settings.metrics_port else None, stop_signals=True)


# ---------------------------------------------------------------- polymm
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="polymm", description="polymm: Polymarket market maker")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="run the engine headless (logs to stderr; SIGINT / SIGTERM / SIGHUP cancel all "
                                     "and exit)",
                         description="Run the engine without a screen. Logs go to stderr (--log-format text|json). "
                                     "SIGINT, SIGTERM or SIGHUP cancels every order of ours at the venue, then exits "
                                     "0 once the venue confirms none rest (1 if it does not). One process per wallet "
                                     "and venue: a second one refuses to start, naming the first.")
    _common(run)
    run.add_argument("--rearm", action="store_true",
                     help="clear a kill latched in the journal (HALTED before a restart) once the start-up catch-up "
                          "with the venue is done; without it a latched kill keeps `polymm run` HALTED")
    ex = sub.add_parser("exchange", help="run the stand-in Polymarket exchange on loopback")
    ex.add_argument("--host", default="127.0.0.1")
    ex.add_argument("--port", type=int, default=8080)
    ex.add_argument("--seed", type=int, default=7)
    ex.add_argument("--markets", type=int, default=6,
                    help="number of stand-alone synthetic markets (a 3-market neg-risk event group is added)")
    ex.add_argument("--flow-rate", type=float, default=None, help="synthetic steps per second per market")
    rec = sub.add_parser("record", help="record raw market-channel frames to rotated .jsonl.gz files")
    rec.add_argument("--demo", action="store_true", help="record from the embedded stand-in exchange")
    _venue_args(rec)
    rec.add_argument("--markets", help="comma-separated condition ids (default: top markets by 24 h volume)")
    rec.add_argument("--max-markets", type=int, default=None, help="markets to discover (POLYMM_MAX_MARKETS)")
    rec.add_argument("--seed", type=int, default=None, help="stand-in seed for --demo (POLYMM_DEMO_SEED)")
    rec.add_argument("--out", default="recordings", help="output directory (default: recordings)")
    rec.add_argument("--rotate-mb", type=float, default=64.0, help="start a new file after M MB (uncompressed)")
    rec.add_argument("--rotate-minutes", type=float, default=60.0, help="start a new file after K minutes")
    rec.add_argument("--duration", type=float, default=None, help="stop after S seconds (default: until Ctrl-C)")
    rec.set_defaults(live=False)

    ca = sub.add_parser("cancel-all", help="panic button: cancel every open order of ours at the venue",
                        description="Cancel every open order of ours at the venue (DELETE /cancel-all), print how "
                                    "many, and confirm with GET /data/orders that none remain. Exits 1 if some still "
                                    "rest. A polymm still running keeps quoting: stop it first (ctrl+k or SIGTERM).")
    _ops_args(ca)
    st = sub.add_parser("status", help="venue, clock skew, our orders, balance, positions and the journal",
                        description="Show whether the venue answers, its time and our clock's skew, our open orders "
                                    "per market, the balance and positions as the venue reports them, and what the "
                                    "journal says (latch, positions, parameter overrides). Exits 1 when the venue "
                                    "cannot be reached or a part of the status could not be read.")
    _ops_args(st)
    st.add_argument("--journal", metavar="PATH",
                    help="the journal to read (default: the one `polymm run` keeps in this mode)")
    st.add_argument("--json", action="store_true", help="print one JSON object")
    mk = sub.add_parser("markets", help="scan and rank markets from Gamma / CLOB discovery",
                        description="List open markets ranked for market making. Columns: 24 h volume (USDC), "
                                    "spread, liquidity reward pool (USDC/day) and score (see "
                                    "polymm/venue/discovery.py, Candidate.score).")
    _ops_args(mk)
    mk.add_argument("--sort", choices=ops.MARKET_SORTS, default="score", help="rank by (default: score)")
    mk.add_argument("--limit", type=_limit, default=20, help="rows to show, 1..1000 (default: 20)")
    mk.add_argument("--search", help="only markets whose question or slug has every word")
    mk.add_argument("--rewards-only", action="store_true", help="only markets paying liquidity rewards")
    mk.add_argument("--min-volume", type=_volume, help="only markets with at least this 24 h volume (USDC)")
    mk.add_argument("--scan", type=_scan, default=500,
                    help="Gamma markets to read at most, 1..20000 (default: 500)")
    mk.add_argument("--json", action="store_true", help="print a JSON array")
    dr = sub.add_parser("doctor", help="check credentials, clock, balances, allowances and the market WebSocket",
                        description="One line per check with OK / WARN / FAIL and the reason: credentials (the "
                                    "wallet is shown by its address, never the key), the venue and its version, clock "
                                    "skew against /time, L2 auth, balance and allowances, Gamma, and the market "
                                    "WebSocket (connect, subscribe, a frame within --timeout). Exits 1 on any FAIL.")
    _ops_args(dr)
    dr.add_argument("--timeout", type=_seconds, default=5.0, help="seconds to wait for each answer (default: 5)")
    xp = sub.add_parser("export-pnl", help="one UTC day's P&L per market from the journal, as CSV",
                        description="Print (or write to --out) one UTC day's P&L per market from the journal as CSV: "
                                    "date, condition_id, position (end of day), realized, unrealized, fees, total, "
                                    "fills (the day's share: its last snapshot minus the previous day's), and a "
                                    "TOTAL row. Exits 1 when there is no journal.")
    xp.add_argument("--date", required=True, help="the UTC day, YYYY-MM-DD")
    xp.add_argument("--journal", metavar="PATH",
                    help="the journal to read (default: the one `polymm run` keeps in this mode: POLYMM_MODE)")
    xp.add_argument("--out", metavar="FILE", help="write the CSV here instead of standard output")
    rb = sub.add_parser(
        "rebuild-positions", help="rebuild the journal's fills and positions from the venue's trades; print the "
                                  "differences",
        description="Read every trade of the wallet from the venue (GET /data/trades, all pages; from --since on when "
                    "given), find our legs (our API key as a maker order's owner, or as the taker's), book them as "
                    "the live execution does (a FAILED trade's leg booked and reversed as <trade id>:failed), and "
                    "compare per market: the position the journal restores to, the rebuilt one, the venue's token "
                    "balances, legs only in the journal, legs only at the venue. Unless --dry-run, the journal's "
                    "fills, fill statuses and positions are then replaced in one transaction; its reconcile: "
                    "adjustment rows are not kept (where the rebuilt position still differs from the venue's "
                    "balances the report says so, and the next start's reconciliation takes the venue's number). "
                    "Refuses to rewrite while a polymm trades this wallet on this venue (exit 1, naming it). Exits 2 "
                    "for bad input (no journal there, no wallet key), 1 when the venue could not be read completely.")
    _ops_args(rb)
    rb.add_argument("--live", action="store_true",
                    help="the live journal (journal-live.sqlite) as the default --journal (also POLYMM_MODE=live)")
    rb.add_argument("--journal", metavar="PATH",
                    help="the journal to rebuild (default: the one `polymm run` keeps in this mode; paper and demo "
                         "mode need it given)")
    rb.add_argument("--since", type=_since, metavar="WHEN",
                    help="only the venue's trades from WHEN on (epoch seconds, or ISO-8601 such as 2025-11-22 or "
                         "2025-11-22T10:00:00Z); the journal's rows from before it are kept as they are")
    rb.add_argument("--dry-run", action="store_true", help="print the differences, change nothing")
    rb.add_argument("--json", action="store_true", help="print one JSON object")
    from .backtest import commands as backtest_commands  # adds `replay` and `backtest`

    backtest_commands.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """``polymm``: headless engine and tools."""
    args = _parser().parse_args(argv)
    if getattr(args, "func", None) is not None:  # commands registered by other modules (replay, backtest)
        return int(args.func(args) or 0)
    if args.command == "record":
        return _record(args)
    if args.command == "exchange":
        from .exchange import serve

        kw: dict[str, Any] = {"host": args.host, "port": args.port, "seed": args.seed, "market_count": args.markets}
        if args.flow_rate is not None:
            kw["flow_rate"] = args.flow_rate
        serve(**kw)
        return 0
    if args.command in ("cancel-all", "status", "markets", "doctor"):
        return _operator(args)
    if args.command == "export-pnl":
        return _export_pnl(args)
    if args.command == "rebuild-positions":
        return _rebuild_positions(args)
    _warn_exposed_keys("polymm run")
    settings = _load(args, "polymm")
    if settings is None:
        return 2
    ops.setup_logging(settings)
    with _venue(_with_journal(settings), args) as (settings, mode), _one_instance(settings, "polymm run") as ok:
        return asyncio.run(ops.run_headless(settings, mode, rearm=args.rearm)) if ok else 1


def _export_pnl(args: argparse.Namespace) -> int:
    from .journal import export_pnl, resolve_path

    prog = "polymm export-pnl"
    try:
        settings = load_settings()
    except ConfigError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    path = args.journal or resolve_path(settings.journal_path, settings.mode)
    if not path:
        print(f"{prog}: --journal: no journal in {settings.mode} mode; give the journal's path", file=sys.stderr)
        return 2
    try:
        text = export_pnl(path, args.date)
    except ValueError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 1
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _since(text: str) -> int:
    """``--since``: see ``ops.parse_since``."""
    try:
        return ops.parse_since(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _rebuild_positions(args: argparse.Namespace) -> int:
    """``polymm rebuild-positions``: 2 for bad input, 1 when the venue could not be read completely or
    a polymm holds this wallet's instance lock (to rewrite), else 0."""
    import sqlite3

    from .journal import JournalChanged, resolve_path
    from .statedir import InstanceLocked

    prog = "polymm rebuild-positions"
    if args.demo and args.live:
        print(f"{prog}: --demo and --live: choose one (the demo wallet at a stand-in, or the configured wallet's "
              f"live journal)", file=sys.stderr)
        return 2
    settings = _load(args, prog, program=False)
    if settings is None:
        return 2
    if settings.mode == "demo" and not args.clob_url:
        print(f"{prog}: --clob-url: required with --demo (the stand-in whose trades to read, e.g. `polymm exchange`"
              f"'s http://127.0.0.1:8080); a fresh embedded stand-in has none", file=sys.stderr)
        return 2
    path = args.journal or resolve_path(settings.journal_path, settings.mode)
    if not path or (settings.mode == "paper" and not args.journal):
        why = "demo mode keeps no journal" if settings.mode == "demo" else \
            "the journal is off (POLYMM_JOURNAL_PATH=off)" if settings.journal_path == "off" else \
            "paper mode's journal holds simulated fills, not the venue's (--live or POLYMM_MODE=live for the live one)"
        print(f"{prog}: --journal: {why}; give the journal's path", file=sys.stderr)
        return 2
    ops.setup_logging(settings.model_copy(update={"log_level": "WARNING"}))  # stdout is the answer
    try:
        report = asyncio.run(ops.rebuild_positions(settings, path, dry_run=args.dry_run, since=args.since,
                                                   program=prog))
    except ConfigError as e:  # no journal there, not a journal, no wallet key
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    except InstanceLocked as e:
        print(f"{prog}: not rewriting the journal: {e} (--dry-run only reads)", file=sys.stderr)
        return 1
    except (JournalChanged, sqlite3.Error, OSError) as e:  # the journal, or the state directory of the lock
        print(f"{prog}: {e}; nothing was written", file=sys.stderr)
        return 1
    except Exception as e:
        print(f"{prog}: {settings.clob_url}: {ops.venue_error(e)}", file=sys.stderr)
        return 1
    print(report.to_json() if args.json else ops.render_rebuild(report))
    return 0 if report.ok else 1


def _record(args: argparse.Namespace) -> int:
    from .venue.recorder import FrameWriter, record

    settings = _load(args, "polymm record", program=False)  # recording needs no credentials
    if settings is None:
        return 2
    writer = FrameWriter(args.out, rotate_bytes=int(args.rotate_mb * 1024 * 1024) or None,
                         rotate_seconds=args.rotate_minutes * 60 or None)
    with _venue(settings, args) as (settings, _mode):
        try:
            recorder, ids = asyncio.run(record(
                settings.clob_url, settings.gamma_url, f"{settings.ws_url}/ws/market", writer,
                settings.market_ids, args.max_markets or settings.max_markets, args.duration))
        except Exception as e:  # discovery failed / nothing to record: say so, no traceback
            writer.close()
            print(f"polymm record: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
    print(f"polymm record: {recorder.frames} frames from {len(ids)} markets ({settings.ws_url}) "
          f"in {len(writer.files)} files under {writer.directory.resolve()}")
    for f in writer.files:
        print(f"  {f}")
    return 0


def _operator(args: argparse.Namespace) -> int:
    """cancel-all, status, markets, doctor: print the answer; 2 for bad input, 1 when the venue says no."""
    prog = f"polymm {args.command}"
    settings = _load(args, prog, program=False)
    if settings is None:
        return 2
    ops.setup_logging(settings.model_copy(update={"log_level": "WARNING"}))  # stdout is the answer
    with _venue(settings, args) as (settings, _mode):
        try:
            return asyncio.run(_OPERATOR[args.command](settings, args))
        except ConfigError as e:  # no credentials for a command that needs them
            print(f"{prog}: {e}", file=sys.stderr)
            return 2
        except Exception as e:
            print(f"{prog}: {settings.clob_url}: {ops.venue_error(e)}", file=sys.stderr)
            return 1


async def _cancel_all(settings: Settings, args: argparse.Namespace) -> int:
    w = ops.wallet(settings)
    r = await ops.cancel_all(settings)
    print(f"cancelled {r.cancelled} orders of wallet {w.address} at {settings.clob_url}")
    if r.not_cancelled:
        print(f"{len(r.not_cancelled)} not cancelled (already filled or cancelled): "
              + ", ".join(f"{ops.short(k)} ({v})" for k, v in list(r.not_cancelled.items())[:5]))
    for e in r.errors:
        print(f"venue error: {e}")
    if r.confirmed:
        print("GET /data/orders confirms none of ours remain")
        return 0
    if r.left:
        print(f"FAILED: GET /data/orders still shows {len(r.left)} open orders of ours: "
              + ", ".join(ops.short(i) for i in r.left[:10]))
    else:
        print("FAILED: could not confirm with GET /data/orders that none of ours remain")
    return 1


async def _status(settings: Settings, args: argparse.Namespace) -> int:
    report = await ops.status(settings, args.journal)
    print(report.to_json() if args.json else ops.render_status(report))
    return 0 if report.ok else 1


async def _markets(settings: Settings, args: argparse.Namespace) -> int:
    found = await ops.list_markets(settings, sort=args.sort, limit=args.limit, search=args.search,
                                   rewards_only=args.rewards_only, min_volume=args.min_volume, scan=args.scan)
    print(json.dumps([ops.market_row(c) for c in found], indent=2) if args.json else ops.render_markets(found))
    return 0


async def _doctor(settings: Settings, args: argparse.Namespace) -> int:
    checks = await ops.doctor(settings, args.timeout)
    for c in checks:
        print(c.line())
    failed = [c.name for c in checks if c.status == "FAIL"]
    print(f"{len(checks)} checks: " + (f"FAIL in {', '.join(failed)}" if failed else "no failures"))
    return 1 if failed else 0


_OPERATOR = {"cancel-all": _cancel_all, "status": _status, "markets": _markets, "doctor": _doctor}


if __name__ == "__main__":
    raise SystemExit(main())
