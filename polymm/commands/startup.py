"""What a command does before its work: settings from its flags and the environment (``load``: bad input
is said on stderr, naming the option or variable and what it allows), the live-mode confirmation, the
venue (``venue``: in demo mode the embedded stand-in exchange, started in-process), the journal the
programs keep and the instance lock of a wallet at a venue."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..config import ConfigError, Settings, load_settings

LIVE_CONFIRM_WORD = "LIVE"


def selection_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The automatic selection's settings the command line gives (``options.selection_args``)."""
    out: dict[str, Any] = {}
    if getattr(args, "min_volume", None) is not None:
        out["select_min_volume_24h"] = args.min_volume
    if getattr(args, "max_spread", None) is not None:
        out["select_max_spread"] = args.max_spread
    if getattr(args, "min_liquidity", None) is not None:
        out["select_min_liquidity"] = args.min_liquidity
    for flag, setting in (("min_spread", "select_min_spread"), ("min_volume_1wk", "select_min_volume_1wk"),
                          ("min_trend", "select_min_trend"), ("min_score", "select_min_score")):
        if getattr(args, flag, None) is not None:
            out[setting] = getattr(args, flag)
    if getattr(args, "price_range", None) is not None:
        out["select_price_min"], out["select_price_max"] = args.price_range
    if getattr(args, "hours_to_end", None) is not None:
        out["select_min_hours_to_end"], out["select_max_hours_to_end"] = args.hours_to_end
    if getattr(args, "rewards_only", None):
        out["select_rewards_only"] = True
    return out


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the command line gives (each wins over its ``POLYMM_*`` variable)."""
    out: dict[str, Any] = {}
    for name in ("clob_url", "ws_url", "gamma_url", "markets", "market_file", "metrics_port", "log_format"):
        v = getattr(args, name, None)
        if v is not None:
            out[name] = v
    if getattr(args, "seed", None) is not None:
        out["demo_seed"] = args.seed
    out.update(selection_overrides(args))
    if args.demo:
        out["mode"] = "demo"
    elif getattr(args, "live", False):
        out["mode"] = "live"
    if args.demo and args.clob_url:  # a stand-in already running there: its other hosts, same layout
        base = args.clob_url.rstrip("/")
        out.setdefault("ws_url", "ws" + base.removeprefix("http"))
        out.setdefault("gamma_url", f"{base}/gamma-api")
        out["data_url"] = f"{base}/data-api"
        out["rpc_url"], out["relayer_url"] = f"{base}/rpc", f"{base}/relayer"
    return out


def load(args: argparse.Namespace, prog: str, *, program: bool = True) -> Settings | None:
    """Settings for this run (``program``: one that trades, so also the file, port and live checks),
    or None after telling the user exactly what is wrong."""
    try:
        settings = load_settings(**overrides(args))
        if program:
            check_program(settings)
            check_live(settings)
    except ConfigError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return None
    return settings


@contextlib.contextmanager
def venue(settings: Settings, args: argparse.Namespace) -> Iterator[tuple[Settings, str]]:
    """For demo mode start the embedded stand-in and point the settings at it — unless ``--clob-url``
    names the stand-in to use (only the command-line flag does: a production URL from the environment
    never meets the demo wallet). Yields the settings and the mode's name (DEMO, PAPER or LIVE)."""
    if settings.mode != "demo":
        yield settings, "LIVE" if settings.mode == "live" else "PAPER"
        return
    if args.clob_url:
        yield settings, "DEMO"
        return
    from polymm_standin.server import EmbeddedExchange  # the composition root: only here and `polymm exchange`

    ex = EmbeddedExchange(seed=settings.demo_seed)
    urls = ex.start()
    try:
        demo = settings.model_copy(
            update={"clob_url": urls.clob_url, "ws_url": urls.ws_base, "gamma_url": urls.gamma_url,
                    "data_url": urls.data_url, "rpc_url": f"{urls.clob_url}/rpc",
                    "relayer_url": f"{urls.clob_url}/relayer"}
        )
        yield demo, "DEMO"
    finally:
        ex.stop()


def _wallet_address(settings: Settings) -> str:
    """The signing wallet's public address (shown instead of the key, which is never shown)."""
    from eth_account import Account

    assert settings.private_key is not None
    return Account.from_key(settings.private_key.get_secret_value()).address


def check_live(settings: Settings, confirm: bool = True) -> None:
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


def check_program(settings: Settings) -> None:
    """What must hold of the market file and the metrics port before anything starts."""
    if settings.market_file:
        path = Path(settings.market_file).expanduser()
        if not path.is_file():
            raise ConfigError(f"--market-file / POLYMM_MARKET_FILE: no such file {str(path)!r} (a text file, one "
                              f"market a line: `<condition_id> [key=value ...]`)")
        from ..engine.watchlist import read_market_file

        try:
            read_market_file(path)
        except (OSError, ValueError) as e:
            raise ConfigError(f"--market-file / POLYMM_MARKET_FILE: cannot read {str(path)!r}: {e}") from None


def warn_exposed_keys(prog: str) -> None:
    """Warn, as ssh does with a readable key, when an env file the settings read holds the private key
    and group or others can read it (the key itself is never printed)."""
    from ..statedir import exposed_key_files

    for f in exposed_key_files():
        say(f"{prog}: WARNING: {f.problem()}")


def say(line: str) -> None:
    """Print one line to stderr; a closed terminal (SIGHUP) just loses it."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def one_instance(settings: Settings, prog: str) -> Iterator[bool]:
    """Hold the lock of this venue and wallet while the program runs (``statedir.InstanceLock``): two
    processes trading one wallet would cancel each other's orders as unknown. Live and demo mode only:
    paper trades no wallet. Yields False after saying why the program must not start (another process
    holds the lock, named; or the state directory cannot hold it)."""
    if settings.mode not in ("live", "demo"):
        yield True
        return
    from ..ops.wallet import wallet
    from ..statedir import InstanceLock, InstanceLocked

    lock = InstanceLock(settings.clob_url, wallet(settings).address, prog)
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


def with_journal(settings: Settings) -> Settings:
    """The journal the programs keep (``journal.resolve_path``: per mode, none in demo mode)."""
    from ..journal import resolve_path

    return settings.model_copy(update={"journal_path": resolve_path(settings.journal_path, settings.mode) or "off"})


@contextlib.contextmanager
def profiled(on: bool) -> Iterator[None]:
    """``--profile``: the hot functions timed while the program runs (``ops.profile``), their table on
    stderr when it ends (however it ends)."""
    if not on:
        yield
        return
    from ..ops.profile import Profile

    profile = Profile().install()
    try:
        yield
    finally:
        profile.uninstall()
        print(profile.table(), file=sys.stderr)
