"""Entry points: ``polymm-tui`` (the dashboard) and ``polymm {run, exchange}``.

Modes: ``--demo`` starts the stand-in exchange in-process on 127.0.0.1 and trades against it;
paper (the default) reads real market data and simulates fills; ``--live`` sends real orders and
needs credentials and a typed confirmation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from typing import Any

from .config import ConfigError, Settings, load_settings

LIVE_CONFIRM_WORD = "LIVE"


def _common(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--demo", action="store_true", help="trade against the embedded stand-in exchange")
    g.add_argument("--live", action="store_true", help="send real orders (needs credentials and confirmation)")
    p.add_argument("--clob-url", help="CLOB REST base URL (POLYMM_CLOB_URL)")
    p.add_argument("--ws-url", help="WebSocket base URL, without /ws/market (POLYMM_WS_URL)")
    p.add_argument("--gamma-url", help="Gamma API base URL (POLYMM_GAMMA_URL)")
    p.add_argument("--markets", help="comma-separated condition ids to trade (POLYMM_MARKETS)")
    p.add_argument("--seed", type=int, default=None, help="stand-in seed for --demo (POLYMM_DEMO_SEED)")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("clob_url", "ws_url", "gamma_url", "markets"):
        v = getattr(args, name, None)
        if v is not None:
            out[name] = v
    if args.seed is not None:
        out["demo_seed"] = args.seed
    if args.demo:
        out["mode"] = "demo"
    elif args.live:
        out["mode"] = "live"
    return out


@contextlib.contextmanager
def _venue(settings: Settings) -> Iterator[tuple[Settings, str]]:
    """For demo mode start the embedded stand-in and point the settings at it."""
    if settings.mode != "demo":
        yield settings, "LIVE" if settings.mode == "live" else "PAPER"
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


def _load(args: argparse.Namespace, prog: str) -> Settings | None:
    """Settings for this run, or None after telling the user exactly what is wrong."""
    try:
        settings = load_settings(**_overrides(args))
        _check_live(settings)
    except ConfigError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return None
    return settings


def tui_main(argv: list[str] | None = None) -> int:
    """``polymm-tui``: the dashboard."""
    p = argparse.ArgumentParser(prog="polymm-tui", description="polymm: Polymarket market maker dashboard")
    _common(p)
    args = p.parse_args(argv)
    settings = _load(args, "polymm-tui")
    if settings is None:
        return 2
    from .tui.app import PolymmApp

    with _venue(settings) as (settings, mode):
        PolymmApp(settings, mode=mode, venue_host=settings.clob_url, settle_heap=True).run()
    return 0


async def _run_headless(settings: Settings, mode: str) -> None:
    from .engine.engine import Engine
    from .engine.heap import SETTLE_AFTER_S, settle_heap
    from .venue.rest import PublicClient

    public = PublicClient(settings.clob_url, settings.gamma_url)
    try:
        wanted = set(settings.market_ids)
        found = await public.list_markets(limit=100)
    finally:
        await public.aclose()
    markets = [m for m in found if not wanted or m.condition_id in wanted][: settings.max_markets]
    engine = Engine(settings, markets, mode=mode)
    log = logging.getLogger("polymm")
    seen = [0]

    def echo(_v: int) -> None:
        events = engine.store.get("events", ())
        for e in events:
            if e.ts > seen[0]:
                seen[0] = e.ts
                log.log(logging.ERROR if e.level == "error" else logging.WARNING if e.level == "warning"
                        else logging.INFO, e.text)

    engine.store.subscribe(echo)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(engine.stop(cancel_orders=True)))
    log.info("polymm %s: %d markets", mode, len(markets))
    loop.call_later(SETTLE_AFTER_S, settle_heap)  # start-up done: keep full collections short
    with contextlib.suppress(asyncio.CancelledError):
        await engine.run()


def main(argv: list[str] | None = None) -> int:
    """``polymm``: headless engine and tools."""
    p = argparse.ArgumentParser(prog="polymm", description="polymm: Polymarket market maker")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the engine headless (logs to stderr; Ctrl-C cancels all and exits)")
    _common(run)
    ex = sub.add_parser("exchange", help="run the stand-in Polymarket exchange on loopback")
    ex.add_argument("--host", default="127.0.0.1")
    ex.add_argument("--port", type=int, default=8080)
    ex.add_argument("--seed", type=int, default=7)
    ex.add_argument("--markets", type=int, default=6,
                    help="number of stand-alone synthetic markets (a 3-market neg-risk event group is added)")
    ex.add_argument("--flow-rate", type=float, default=None, help="synthetic steps per second per market")
    rec = sub.add_parser("record", help="record raw market-channel frames to rotated .jsonl.gz files")
    rec.add_argument("--demo", action="store_true", help="record from the embedded stand-in exchange")
    rec.add_argument("--clob-url", help="CLOB REST base URL (POLYMM_CLOB_URL)")
    rec.add_argument("--ws-url", help="WebSocket base URL, without /ws/market (POLYMM_WS_URL)")
    rec.add_argument("--gamma-url", help="Gamma API base URL (POLYMM_GAMMA_URL)")
    rec.add_argument("--markets", help="comma-separated condition ids (default: top markets by 24 h volume)")
    rec.add_argument("--max-markets", type=int, default=None, help="markets to discover (POLYMM_MAX_MARKETS)")
    rec.add_argument("--seed", type=int, default=None, help="stand-in seed for --demo (POLYMM_DEMO_SEED)")
    rec.add_argument("--out", default="recordings", help="output directory (default: recordings)")
    rec.add_argument("--rotate-mb", type=float, default=64.0, help="start a new file after M MB (uncompressed)")
    rec.add_argument("--rotate-minutes", type=float, default=60.0, help="start a new file after K minutes")
    rec.add_argument("--duration", type=float, default=None, help="stop after S seconds (default: until Ctrl-C)")
    rec.set_defaults(live=False)
    args = p.parse_args(argv)

    if args.command == "record":
        from .venue.recorder import FrameWriter, record

        try:  # recording needs no credentials: no _check_live
            settings = load_settings(**_overrides(args))
        except ConfigError as e:
            print(f"polymm: {e}", file=sys.stderr)
            return 2
        writer = FrameWriter(args.out, rotate_bytes=int(args.rotate_mb * 1024 * 1024) or None,
                             rotate_seconds=args.rotate_minutes * 60 or None)
        with _venue(settings) as (settings, _mode):
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

    if args.command == "exchange":
        from .exchange import serve

        kw: dict[str, Any] = {"host": args.host, "port": args.port, "seed": args.seed, "market_count": args.markets}
        if args.flow_rate is not None:
            kw["flow_rate"] = args.flow_rate
        serve(**kw)
        return 0

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the engine's log
    settings = _load(args, "polymm")
    if settings is None:
        return 2
    with _venue(settings) as (settings, mode):
        asyncio.run(_run_headless(settings, mode))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
