"""What the ``polymm`` commands do (``cli.py`` only parses arguments and prints).

* ``run_headless``: the engine without a screen — structured logs, the market file watcher, the
  metrics endpoint, and on SIGINT / SIGTERM / SIGHUP every order of ours cancelled at the venue before
  exit.
* ``cancel_all``: the panic button — cancel every open order of ours at the venue and confirm with
  ``GET /data/orders`` that none remain.
* ``status``: the venue (reachable, server time and clock skew), our open orders per market, balance
  and positions as the venue reports them, and what the journal says.
* ``list_markets``: discovery's ranking (volume, spread, reward, score).
* ``doctor``: one line per check (credentials, a key file others can read, venue, clock, auth, balance,
  allowances, Gamma, market WebSocket) with OK / WARN / FAIL and the reason.

They work against any venue URL (Polymarket or a stand-in). Secrets are never printed or logged:
the wallet is shown by its address, and the log formatters blank any secret that reaches a line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import httpx
import orjson

from .config import ConfigError, Settings
from .domain.market import Market
from .domain.prices import human
from .venue.discovery import Candidate, Discovery, Filters, RankBy
from .venue.rest import PublicClient

log = logging.getLogger("polymm")

HIDDEN = "<hidden>"
CLOCK_OK_S = 2.0  # /time has whole seconds: within this the clocks agree as far as we can tell
CLOCK_FAIL_S = 10.0  # beyond this L2 signatures (seconds timestamps) risk 401s


# ====================================================================== logging
_RECORD_KEYS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}


def settings_secrets(settings: Settings) -> list[str]:
    """Every secret value the process knows up front (the demo key too), for the log formatters."""
    from .engine.execution_factory import DEMO_PRIVATE_KEY

    out = [DEMO_PRIVATE_KEY, DEMO_PRIVATE_KEY.removeprefix("0x")]
    for s in (settings.private_key, settings.api_key, settings.api_secret, settings.api_passphrase):
        if s is not None and s.get_secret_value():
            v = s.get_secret_value()
            out += [v, v.removeprefix("0x")]
    return [s for s in out if len(s) >= 8]


class _Redacting(logging.Formatter):
    def __init__(self, secrets: Iterable[str] = (), **kw: Any) -> None:
        super().__init__(**kw)
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def redact(self, text: str) -> str:
        for s in self.secrets:
            if s in text:
                text = text.replace(s, HIDDEN)
        return text

    @staticmethod
    def fields(record: logging.LogRecord) -> dict[str, Any]:
        """The ``extra=`` fields of a record."""
        return {k: v for k, v in record.__dict__.items() if k not in _RECORD_KEYS and not k.startswith("_")}


class TextFormatter(_Redacting):
    """``2026-11-03 10:00:00,123 INFO polymm: message key=value ...`` (secrets blanked)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__(secrets, fmt="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = self.fields(record)
        if extra:
            line += " " + " ".join(f"{k}={v}" for k, v in extra.items())
        return self.redact(line)


class JsonFormatter(_Redacting):
    """One JSON object a line: ``ts`` (ISO 8601 UTC), ``level``, ``logger``, ``msg``, then the record's
    fields (``extra=``) and ``exc`` for a traceback (secrets blanked)."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        doc: dict[str, Any] = {"ts": ts, "level": record.levelname, "logger": record.name,
                               "msg": self.redact(record.getMessage())}
        for k, v in self.fields(record).items():
            doc[k] = self.redact(v) if isinstance(v, str) else v
        if record.exc_info:
            doc["exc"] = self.redact(self.formatException(record.exc_info))
        return self.redact(orjson.dumps(doc, default=str).decode())


def setup_logging(settings: Settings, stream: Any = None) -> None:
    """The programs' logging: ``settings.log_format`` (text | json) at ``settings.log_level`` to stderr."""
    secrets = settings_secrets(settings)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(secrets) if settings.log_format == "json" else TextFormatter(secrets))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for noisy in ("httpx", "httpcore", "websockets"):  # one line per request drowns the engine's log
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # the SDK logs every non-200 answer itself (a fresh wallet's derive-api-key 400 included); we report
    # the ones that matter, with what they mean
    logging.getLogger("py_clob_client_v2").setLevel(logging.CRITICAL)


# ====================================================================== the headless engine
async def initial_markets(settings: Settings, *, on_retry: Callable[[str], None] | None = None) -> list[Market]:
    """The markets to start with: the market file's (resolved at the venue), else ``POLYMM_MARKETS``
    among the top markets by 24 h volume, else the top ``max_markets``. A venue that answers 425 /
    429 / 5xx or not at all is asked again for up to ``venue_retry_s`` seconds (``on_retry`` hears
    each retry; ``VenueUnavailable`` says what it last answered)."""
    budget_s = settings.venue_retry_s
    from .engine.watchlist import read_market_file, resolve_markets
    from .venue.retry import with_retries

    say = on_retry or (lambda text: log.warning("%s", text))
    public = PublicClient(settings.clob_url, settings.gamma_url)
    try:
        if settings.market_file:
            lines = read_market_file(settings.market_file)
            return await with_retries(lambda: resolve_markets(lines, public), what="resolving the market file",
                                      budget_s=budget_s, on_retry=say)
        wanted = set(settings.market_ids)
        found = await with_retries(lambda: public.list_markets(limit=100), what="listing markets",
                                   budget_s=budget_s, on_retry=say)
    finally:
        await public.aclose()
    return [m for m in found if not wanted or m.condition_id in wanted][: settings.max_markets]


async def start_metrics(engine: Any, port: int) -> Any:
    """``polymm.metrics.start_metrics_server`` on 127.0.0.1:``port`` (None when ``port`` is 0); raises
    ConfigError when the port cannot be bound."""
    if not port:
        return None
    from .metrics import start_metrics_server

    return await start_metrics_server(engine, port)


async def stop_metrics(handle: Any) -> None:
    if handle is not None:
        await handle.stop()


async def run_extras(engine: Any, settings: Settings, provisional: Iterable[str] = ()) -> None:
    """What the programs add around an engine that runs: the market file watcher (when
    ``market_file`` is set) and the metrics endpoint (``metrics_port``). Runs until cancelled."""
    from .engine.watchlist import Watchlist

    try:
        metrics = await start_metrics(engine, settings.metrics_port)
    except ConfigError as e:  # the port is taken: say so; the market file still matters
        engine.store.log(f"metrics: {e}", "error")
        metrics = None
    try:
        if settings.market_file:
            watch = Watchlist(engine, settings.market_file, provisional=set(provisional))
            await watch.sync()
            await watch.run()
        else:
            await asyncio.Event().wait()
    finally:
        await stop_metrics(metrics)


def _echo_events(engine: Any) -> Callable[[int], None]:
    """Engine events (the TUI's event log) as log lines."""
    seen = [0.0]
    levels = {"error": logging.ERROR, "warning": logging.WARNING}

    def echo(_version: int) -> None:
        for e in engine.store.get("events", ()):
            if e.ts > seen[0]:
                seen[0] = e.ts
                log.log(levels.get(e.level, logging.INFO), e.text, extra={"source": "engine"})

    return echo


#: the signals that stop a program the orderly way (cancel all, confirm, exit). SIGHUP: the terminal it
#: ran in closed (its default would end the process with our orders still resting)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


async def run_headless(settings: Settings, mode: str, *, rearm: bool = False) -> int:
    """``polymm run``: start the engine, run its loops (and the extras) until SIGINT / SIGTERM /
    SIGHUP or a loop fails, then cancel every order of ours at the venue. 0 when the venue confirms
    none rest. ``rearm`` (``--rearm``): a kill latched in the journal is cleared once started."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            log.warning("%s: already stopping (cancelling orders at the venue)", sig.name, extra={"signal": sig.name})
        else:
            log.info("%s: stopping; cancelling every order of ours at the venue", sig.name,
                     extra={"signal": sig.name})
        stop.set()

    # started under nohup (SIGHUP ignored), the operator asked it to outlive the terminal: keep it so
    handled = [s for s in STOP_SIGNALS if not (s == signal.SIGHUP and signal.getsignal(s) == signal.SIG_IGN)]
    for sig in handled:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        return await _run_engine(settings, mode, stop, rearm)
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


async def _run_engine(settings: Settings, mode: str, stop: asyncio.Event, rearm: bool = False) -> int:
    from .engine.engine import Engine
    from .engine.heap import SETTLE_AFTER_S, settle_heap
    from .engine.watchlist import Watchlist

    try:
        markets = await initial_markets(settings)
    except Exception as e:  # the venue's Gamma did not answer: nothing started
        log.error("could not list markets at %s: %s", settings.gamma_url, venue_error(e),
                  extra={"error": type(e).__name__})
        return 1
    if stop.is_set():
        return 0  # stopped before anything started
    engine = Engine(settings, markets, mode=mode)
    engine.store.subscribe(_echo_events(engine))
    try:
        metrics = await start_metrics(engine, settings.metrics_port)
    except ConfigError as e:  # e.g. the port is taken: bad input, nothing started
        log.error("%s", e, extra={"metrics_port": settings.metrics_port})
        await engine.stop(cancel_orders=False)
        return 2
    if metrics is not None:
        log.info("metrics at %s", metrics.url, extra={"metrics_port": metrics.port})
    log.info("polymm %s: %d markets", mode, len(markets),
             extra={"mode": mode, "markets": len(markets), "venue": settings.clob_url,
                    "market_file": settings.market_file or None})
    tasks: list[asyncio.Task] = []
    code = 0
    started = False
    try:
        try:
            await engine.start()
            started = True
            if rearm and engine.halted:  # the operator's word, given on the command line
                was = engine.halt_reason
                await engine.rearm()
                log.warning("re-armed at start (--rearm); it was HALTED: %s", was, extra={"rearmed": True})
        except Exception as e:
            log.error("could not start: %s: %s", type(e).__name__, e, extra={"error": type(e).__name__})
            code = 1
        if started and not stop.is_set():
            if settings.market_file:  # the file's parameters before the first step
                watch = Watchlist(engine, settings.market_file, provisional={m.condition_id for m in markets})
                try:
                    await watch.sync()
                except Exception as e:  # reported; the watcher tries again on its next pass
                    log.exception("market file: first pass failed: %s", e)
                tasks.append(asyncio.create_task(watch.run(), name="market-file"))
            for name, fn in engine.loops():
                tasks.append(asyncio.create_task(engine.guard(name, fn), name=name))
            # start-up done: keep later full collections short
            asyncio.get_running_loop().call_later(SETTLE_AFTER_S, settle_heap)
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            for t in done:
                if t is not stopper and not t.cancelled() and t.exception() is not None:
                    log.error("%s loop failed: %s", t.get_name(), t.exception(), extra={"loop": t.get_name()})
                    code = 1
    finally:
        resting = len(engine.execution.open_orders()) if started else 0
        await engine.stop(cancel_orders=started)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await stop_metrics(metrics)
    if not started:
        return code
    left = len(engine.execution.open_orders())
    if left:
        log.error("stopped: %d orders of ours may still rest at the venue (cancel-all did not confirm); "
                  "run `polymm cancel-all`", left, extra={"orders_left": left})
        return 1
    log.info("stopped: %d resting orders cancelled; the venue confirms none of ours rest", resting,
             extra={"orders_cancelled": resting, "orders_left": 0})
    return code


# ====================================================================== venue access
@dataclass(frozen=True)
class Wallet:
    """Who we are at the venue: the signing address (never the key), the funder, and how."""

    address: str
    funder: str
    demo: bool


def wallet(settings: Settings) -> Wallet:
    """The configured wallet, or the demo wallet in demo mode; ConfigError without a key."""
    from eth_account import Account

    from .engine.execution_factory import live_config

    try:
        cfg = live_config(settings)
    except ConfigError:
        raise ConfigError("POLYMM_PRIVATE_KEY: required to act as a wallet at the venue (64 hex characters, "
                          "optionally 0x-prefixed; --demo uses the demo wallet)") from None
    address = Account.from_key(cfg.private_key).address
    return Wallet(address, cfg.funder or address, settings.private_key is None)


def _authed_client(settings: Settings) -> Any:
    """A py-clob-client-v2 client with L2 credentials: the configured ones, else derived from the key
    (created only when the venue has none yet). Blocking: call through ``asyncio.to_thread``."""
    from py_clob_client_v2.client import ClobClient
    from py_clob_client_v2.clob_types import ApiCreds

    from .engine.execution_factory import live_config

    cfg = live_config(settings)
    creds = ApiCreds(*cfg.creds) if cfg.creds else None
    client = ClobClient(cfg.clob_url, chain_id=cfg.chain_id, key=cfg.private_key, creds=creds,
                        signature_type=cfg.signature_type, funder=cfg.funder)
    if creds is None:
        try:
            creds = client.derive_api_key()
        except Exception:
            creds = client.create_api_key()
        client.set_api_creds(creds)
    return client


def venue_error(e: BaseException) -> str:
    """A venue exception as one line: status and the venue's error text, else the exception's kind."""
    msg = getattr(e, "error_msg", None)
    if isinstance(msg, dict):
        msg = msg.get("error") or msg
    status = getattr(e, "status_code", None)
    if status is not None:
        return f"{status} {msg}"
    text = str(msg or e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def short(cid: str) -> str:
    return f"{cid[:8]}…{cid[-4:]}" if len(cid) > 14 else cid


# ====================================================================== cancel-all
@dataclass(frozen=True)
class CancelResult:
    """What ``cancel_all`` did: ``confirmed`` only when ``GET /data/orders`` showed none of ours left."""

    cancelled: int
    not_cancelled: dict[str, str]
    left: list[str]  # order ids /data/orders still showed at the last look
    confirmed: bool
    errors: list[str]


async def cancel_all(settings: Settings, attempts: int = 3) -> CancelResult:
    """Cancel every open order of ours (``DELETE /cancel-all``; after a failed sweep, ``DELETE /orders``
    naming what ``/data/orders`` still shows), then read ``GET /data/orders`` until none remain — up to
    ``attempts`` rounds. Venue errors are collected, not raised (a panic button keeps trying)."""
    client = await asyncio.to_thread(_authed_client, settings)
    cancelled = 0
    not_cancelled: dict[str, str] = {}
    errors: list[str] = []
    left: list[str] = []
    swept_ok = True
    for i in range(attempts):
        try:
            if left and not swept_ok:
                r: dict[str, Any] = {"canceled": [], "not_canceled": {}}
                for k in range(0, len(left), 1000):  # DELETE /orders takes at most 1000 ids
                    part = await asyncio.to_thread(client.cancel_orders, left[k : k + 1000])
                    r["canceled"] += list(part.get("canceled") or [])
                    r["not_canceled"].update(part.get("not_canceled") or {})
            else:
                r = await asyncio.to_thread(client.cancel_all)
            swept_ok = True
            cancelled += len(r.get("canceled") or [])
            not_cancelled.update(r.get("not_canceled") or {})
        except Exception as e:
            swept_ok = False
            errors.append(f"cancel: {venue_error(e)}")
        try:
            orders = await asyncio.to_thread(client.get_open_orders)
            left = [str(o.get("id")) for o in orders if isinstance(o, dict)]
        except Exception as e:
            errors.append(f"GET /data/orders: {venue_error(e)}")
        else:
            if not left:
                return CancelResult(cancelled, not_cancelled, [], True, errors)
        await asyncio.sleep(0.2 * (i + 1))
    return CancelResult(cancelled, not_cancelled, left, False, errors)


# ====================================================================== status
@dataclass(frozen=True)
class Ping:
    """The venue's public health: ``/ok`` latency, ``/version``, ``/time`` and our clock's skew."""

    url: str
    reachable: bool
    latency_ms: float | None = None
    version: int | None = None
    server_time: int | None = None
    skew_s: float | None = None  # venue clock − ours (positive: ours is behind)
    error: str = ""


async def ping(settings: Settings, timeout: float = 5.0) -> Ping:
    url = settings.clob_url
    async with httpx.AsyncClient(timeout=timeout) as http:
        try:
            t0 = time.perf_counter()
            r = await http.get(f"{url}/ok")
            latency = (time.perf_counter() - t0) * 1000
            if r.status_code != 200:
                return Ping(url, False, latency, error=f"/ok answered {r.status_code}")
            version = None
            with contextlib.suppress(Exception):
                v = (await http.get(f"{url}/version")).json()
                version = int(v.get("version")) if isinstance(v, dict) else None
            before = time.time()
            r = await http.get(f"{url}/time")
            after = time.time()
            server = int(r.json())
        except (httpx.HTTPError, ValueError, TypeError) as e:
            return Ping(url, False, error=venue_error(e))
    # /time is whole seconds, truncated: the venue's clock read somewhere in [server, server + 1)
    skew = (server + 0.5) - (before + after) / 2
    return Ping(url, True, round(latency, 1), version, server, round(skew, 1))


@dataclass(frozen=True)
class MarketOrders:
    """Our open orders in one market, in YES terms (a BUY of NO is an ask)."""

    condition_id: str
    question: str
    bids: int
    asks: int
    orders: tuple[str, ...]  # "BUY Yes 10 @ 0.48"


@dataclass(frozen=True)
class PositionLine:
    condition_id: str
    title: str
    outcome: str
    size: float
    avg_price: float
    cur_price: float
    cash_pnl: float


@dataclass(frozen=True)
class JournalView:
    path: str
    state: Literal["present", "missing", "none", "unreadable"]
    note: str = ""
    latched: bool = False
    reason: str = ""
    positions: dict[str, Decimal] = field(default_factory=dict)
    open_orders: int = 0
    params: dict[str, dict[str, str]] = field(default_factory=dict)
    last_event_at: float | None = None


@dataclass(frozen=True)
class StatusReport:
    venue: Ping
    wallet: str | None = None
    wallet_note: str = ""
    collateral: Decimal | None = None
    orders: tuple[MarketOrders, ...] | None = None
    positions: tuple[PositionLine, ...] | None = None
    journal: JournalView | None = None
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.venue.reachable and not self.problems

    def to_json(self) -> str:
        return orjson.dumps(asdict(self), default=str, option=orjson.OPT_INDENT_2).decode()


def journal_view(settings: Settings, path: str | None) -> JournalView:
    """What the journal says (``read_status``), or why there is nothing to say."""
    from .journal import resolve_path

    if path is None:
        path = resolve_path(settings.journal_path, settings.mode)
        if not path:
            why = "journal off (POLYMM_JOURNAL_PATH=off)" if settings.journal_path == "off" else \
                "demo mode keeps no journal (POLYMM_JOURNAL_PATH or --journal to read one)"
            return JournalView("", "none", why)
    try:
        from .journal import read_status
    except ImportError:
        return JournalView(path, "none", "this build has no journal reader")
    try:
        js = read_status(path)
    except FileNotFoundError:
        return JournalView(path, "missing", "no journal there yet")
    except Exception as e:  # a corrupt or foreign file: say so, the rest of the status still counts
        return JournalView(path, "unreadable", f"{type(e).__name__}: {e}")
    return JournalView(js.path, "present", "", js.latched, js.reason, dict(js.positions), js.open_orders,
                       dict(js.params), js.last_event_at)


async def _questions(settings: Settings, cids: list[str]) -> dict[str, tuple[str, str, str]]:
    """condition id → (question, YES token, NO token) from Gamma (empty where it does not answer)."""
    if not cids:
        return {}
    from .venue.rest import market_from_gamma

    public = PublicClient(settings.clob_url, settings.gamma_url)
    out: dict[str, tuple[str, str, str]] = {}
    try:
        docs = await public.gamma_get("/markets", condition_ids=cids, limit=len(cids))
        for d in docs if isinstance(docs, list) else []:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                m = market_from_gamma(d)
                out[m.condition_id] = (m.question, m.yes_token, m.no_token)
    except Exception as e:
        log.debug("status: questions unavailable: %s", e)
    finally:
        await public.aclose()
    return out


def _group_orders(raw: list[dict], names: dict[str, tuple[str, str, str]]) -> tuple[MarketOrders, ...]:
    by_market: dict[str, list[dict]] = {}
    for o in raw:
        by_market.setdefault(str(o.get("market", "")), []).append(o)
    out = []
    for cid, orders in sorted(by_market.items()):
        question, _yes, no = names.get(cid, ("", "", ""))
        bids = asks = 0
        lines = []
        for o in orders:
            is_no = o.get("asset_id") == no if no else str(o.get("outcome", "")).lower() == "no"
            buys = o.get("side") == "BUY"
            if buys != is_no:
                bids += 1
            else:
                asks += 1
            left = Decimal(str(o.get("original_size") or 0)) - Decimal(str(o.get("size_matched") or 0))
            lines.append(f"{o.get('side')} {o.get('outcome') or ('No' if is_no else 'Yes')} {human(left)} "
                         f"@ {o.get('price')}")
        out.append(MarketOrders(cid, question, bids, asks, tuple(lines)))
    return tuple(out)


async def _positions(settings: Settings, user: str) -> tuple[PositionLine, ...]:
    async with httpx.AsyncClient(timeout=5.0) as http:
        r = await http.get(f"{settings.data_url}/positions", params={"user": user})
        if r.status_code != 200:
            raise RuntimeError(f"Data API /positions answered {r.status_code}")
        docs = r.json()
    out = []
    for d in docs if isinstance(docs, list) else []:
        if isinstance(d, dict):
            out.append(PositionLine(str(d.get("conditionId", "")), str(d.get("title", "")), str(d.get("outcome", "")),
                                    float(d.get("size") or 0), float(d.get("avgPrice") or 0),
                                    float(d.get("curPrice") or 0), float(d.get("cashPnl") or 0)))
    return tuple(out)


async def status(settings: Settings, journal_path: str | None = None, timeout: float = 5.0) -> StatusReport:
    """Everything ``polymm status`` shows (see the module docstring). Never raises for venue trouble:
    each part that failed is named in ``problems``."""
    venue = await ping(settings, timeout)
    journal = journal_view(settings, journal_path)
    if not venue.reachable:
        return StatusReport(venue, journal=journal, problems=(f"venue unreachable: {venue.error}",))
    try:
        w = wallet(settings)
    except ConfigError as e:
        return StatusReport(venue, None, f"no credentials: {e}", journal=journal)
    note = "demo wallet: a throwaway key, for stand-ins only" if w.demo else ""
    if w.funder != w.address:
        note = f"funds held by {w.funder}"
    problems: list[str] = []
    from py_clob_client_v2.clob_types import AssetType, BalanceAllowanceParams

    try:
        client = await asyncio.to_thread(_authed_client, settings)
    except Exception as e:
        return StatusReport(venue, w.address, note, journal=journal, problems=(f"auth failed: {venue_error(e)}",))
    collateral = orders = positions = None
    try:
        r = await asyncio.to_thread(client.get_balance_allowance,
                                    BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
        from .venue.wire import balance_amount

        collateral = balance_amount(r)  # 1e6-unit integers or decimal strings (PROTOCOL §12)
    except Exception as e:
        problems.append(f"balance unavailable: {venue_error(e)}")
    try:
        raw = [o for o in await asyncio.to_thread(client.get_open_orders) if isinstance(o, dict)]
        names = await _questions(settings, sorted({str(o.get("market", "")) for o in raw}))
        orders = _group_orders(raw, names)
    except Exception as e:
        problems.append(f"open orders unavailable: {venue_error(e)}")
    try:
        positions = await _positions(settings, w.funder)
    except Exception as e:
        problems.append(f"positions unavailable: {venue_error(e)}")
    return StatusReport(venue, w.address, note, collateral, orders, positions, journal, tuple(problems))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _ago(ts: float | None) -> str:
    if ts is None:
        return "never"
    s = max(0.0, time.time() - ts)
    return f"{s:.0f} s ago" if s < 120 else f"{s / 60:.0f} min ago" if s < 7200 else f"{s / 3600:.1f} h ago"


def render_status(r: StatusReport) -> str:
    v = r.venue
    lines = []
    if not v.reachable:
        lines.append(f"venue      {v.url}  UNREACHABLE: {v.error}")
    else:
        lines.append(f"venue      {v.url}  reachable in {v.latency_ms:.0f} ms" +
                     (f", CLOB version {v.version}" if v.version is not None else ""))
        when = datetime.fromtimestamp(v.server_time or 0, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        skew = v.skew_s or 0.0
        rel = "in step with ours" if abs(skew) <= CLOCK_OK_S else \
            f"our clock is {abs(skew):.1f} s {'behind' if skew > 0 else 'ahead'}"
        lines.append(f"clock      venue {when}, skew {skew:+.1f} s ({rel})")
    if r.wallet is not None or r.wallet_note:
        lines.append(f"wallet     {r.wallet or '-'}" + (f"  ({r.wallet_note})" if r.wallet_note else ""))
    if r.collateral is not None:
        lines.append(f"balance    {r.collateral:,.2f} pUSD")
    if r.orders is not None:
        n = sum(m.bids + m.asks for m in r.orders)
        lines.append(f"orders     {_count(n, 'open order')} of ours in {_count(len(r.orders), 'market')}" if n else
                     "orders     none of ours rest")
        for m in r.orders:
            lines.append(f"           {m.condition_id}  {m.question}")
            lines.append(f"             {_count(m.bids, 'bid')}, {_count(m.asks, 'ask')}: {', '.join(m.orders)}")
    if r.positions is not None:
        lines.append(f"positions  {len(r.positions)} (Data API)" if r.positions else "positions  none (Data API)")
        for p in r.positions:
            t = (p.title[:40] + "…") if len(p.title) > 41 else p.title
            lines.append(f"           {short(p.condition_id)}  {p.outcome} {p.size:,.2f} @ {p.avg_price:.4g}, "
                         f"now {p.cur_price:.4g}, P&L {p.cash_pnl:+,.2f}  {t}")
    j = r.journal
    if j is not None:
        if j.state == "present":
            latch = f"HALTED ({j.reason})" if j.latched else "ARMED"
            held = {c: q for c, q in j.positions.items() if q}
            lines.append(f"journal    {j.path}: {latch}, {_count(j.open_orders, 'order')} open when last seen, "
                         f"{_count(len(held), 'position')}, parameter overrides for "
                         f"{_count(len(j.params), 'market')}, last event {_ago(j.last_event_at)}")
            for cid, q in sorted(held.items()):
                lines.append(f"           {short(cid)}  {human(q)} YES")
            for cid, p in sorted(j.params.items()):
                lines.append(f"           {short(cid)}  " + " ".join(f"{k}={v}" for k, v in sorted(p.items())))
        else:
            lines.append(f"journal    {j.path + ': ' if j.path else ''}{j.note}")
    for p in r.problems:
        lines.append(f"problem    {p}")
    return "\n".join(lines)


# ====================================================================== markets
MARKET_SORTS: tuple[str, ...] = ("score", "volume", "spread", "reward")


async def list_markets(
    settings: Settings,
    *,
    sort: RankBy = "score",
    limit: int = 20,
    search: str | None = None,
    rewards_only: bool = False,
    min_volume: float | None = None,
    scan: int = 500,
) -> list[Candidate]:
    """Discovery's candidates ranked by ``sort`` (``venue/discovery.py`` documents the score)."""
    public = PublicClient(settings.clob_url, settings.gamma_url)
    try:
        d = Discovery(public, max_scan=scan)
        found = await d.ranked(Filters(search=search, rewards_only=rewards_only, min_volume_24h=min_volume),
                               by=sort, top=limit)
        if d.skipped:
            log.warning("markets: %d unreadable Gamma markets skipped (%s)", d.skipped, dict(d.skip_reasons))
        return found
    finally:
        await public.aclose()


def market_row(c: Candidate) -> dict[str, Any]:
    """One candidate as ``polymm markets --json`` prints it."""
    return {
        "condition_id": c.condition_id, "question": c.market.question, "slug": c.market.slug,
        "volume_24h": c.volume_24h, "liquidity": c.liquidity, "spread": c.spread, "best_bid": c.best_bid,
        "best_ask": c.best_ask, "tick": c.tick, "reward_daily_rate": c.reward_daily_rate,
        "reward_yield": round(c.reward_yield, 6), "reward_min_size": c.reward_min_size,
        "reward_max_spread": c.reward_max_spread, "score": round(c.score, 6), "neg_risk": c.market.neg_risk,
        "end_date": c.end_date.isoformat() if c.end_date else None,
    }


def render_markets(cands: list[Candidate]) -> str:
    lines = [f"{'#':>3}  {'condition_id':<66}  {'volume 24h':>12}  {'spread':>7}  {'reward/day':>10}  "
             f"{'score':>6}  question"]
    for i, c in enumerate(cands, start=1):
        spread = f"{c.spread:.4f}".rstrip("0").rstrip(".") if c.spread is not None else "-"
        reward = f"{c.reward_daily_rate:,.2f}" if c.reward_daily_rate else "-"
        q = (c.market.question[:47] + "…") if len(c.market.question) > 48 else c.market.question
        lines.append(f"{i:>3}  {c.condition_id:<66}  {c.volume_24h:>12,.0f}  {spread:>7}  {reward:>10}  "
                     f"{c.score:>6.2f}  {q}")
    if not cands:
        lines.append("  (no market matched)")
    return "\n".join(lines)


# ====================================================================== doctor
CheckStatus = Literal["OK", "WARN", "FAIL"]


@dataclass(frozen=True)
class Check:
    name: str
    status: CheckStatus
    reason: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name:<12} {self.reason}"


def _credentials_check(settings: Settings) -> Check:
    if settings.private_key is None:
        if settings.mode == "demo":
            w = wallet(settings)
            return Check("credentials", "OK", f"demo wallet {w.address} (throwaway key, for stand-ins only)")
        level: CheckStatus = "FAIL" if settings.mode == "live" else "WARN"
        return Check("credentials", level, "POLYMM_PRIVATE_KEY not set: paper trading only (live mode needs a "
                                            "64-hex-character key)")
    w = wallet(settings)
    if settings.signature_type != 0 and settings.funder is None:
        return Check("credentials", "FAIL", f"wallet {w.address}; POLYMM_FUNDER is required with "
                                            f"POLYMM_SIGNATURE_TYPE={settings.signature_type} (the wallet that "
                                            f"holds the funds, 0x + 40 hex)")
    api = "API credentials set" if settings.api_key is not None else "API credentials derived from the key"
    funder = f", funds held by {w.funder}" if w.funder != w.address else ""
    return Check("credentials", "OK", f"wallet {w.address}{funder}; key well-formed; {api}")


def _key_file_check() -> Check | None:
    """The env files the settings read that hold ``POLYMM_PRIVATE_KEY``: FAIL when group or others can
    read one (as ssh refuses a readable key), OK when they are private; None when none holds a key."""
    from .statedir import env_files, exposed_key_files, holds_key

    exposed = exposed_key_files()
    if exposed:
        return Check("key file", "FAIL", "; ".join(f.problem() for f in exposed))
    held = [str(p) for p in env_files() if p.is_file() and holds_key(p)]
    if held:
        return Check("key file", "OK", f"{', '.join(held)} holds POLYMM_PRIVATE_KEY, readable by its owner only")
    return None


async def _ws_check(settings: Settings, token: str | None, timeout: float) -> Check:
    import websockets

    url = f"{settings.ws_url}/ws/market"
    assets = [token] if token else []
    try:
        t0 = time.perf_counter()
        async with asyncio.timeout(timeout):
            async with websockets.connect(url, open_timeout=timeout, ping_interval=None) as ws:
                await ws.send(orjson.dumps({"type": "market", "assets_ids": assets, "initial_dump": True,
                                            "level": 2}).decode())
                raw = await ws.recv()
        ms = (time.perf_counter() - t0) * 1000
    except TimeoutError:
        return Check("market ws", "FAIL", f"{url}: no frame within {timeout:g} s of subscribing")
    except Exception as e:
        return Check("market ws", "FAIL", f"{url}: {type(e).__name__}: {e}")
    kind = "a frame"
    with contextlib.suppress(Exception):
        doc = orjson.loads(raw)
        first = doc[0] if isinstance(doc, list) and doc else doc
        if isinstance(first, dict) and first.get("event_type"):
            kind = f"a {first['event_type']} frame"
    return Check("market ws", "OK", f"{url}: subscribed, {kind} after {ms:.0f} ms")


async def doctor(settings: Settings, timeout: float = 5.0) -> list[Check]:
    """Each check of ``polymm doctor``, in order; the first FAIL does not stop the others."""
    checks = [_credentials_check(settings)]
    key_file = _key_file_check()
    if key_file is not None:
        checks.append(key_file)
    venue = await ping(settings, timeout)
    if not venue.reachable:
        checks.append(Check("venue", "FAIL", f"{venue.url}: {venue.error}"))
    else:
        checks.append(Check("venue", "OK", f"{venue.url} answered in {venue.latency_ms:.0f} ms"))
        if venue.version == 2:
            checks.append(Check("version", "OK", "CLOB V2"))
        else:
            checks.append(Check("version", "FAIL", f"CLOB version {venue.version}: polymm speaks V2 only"))
        skew = abs(venue.skew_s or 0.0)
        where = f"venue clock {venue.skew_s:+.1f} s from ours (/time has whole seconds)"
        checks.append(Check("clock", "OK" if skew <= CLOCK_OK_S else "WARN" if skew <= CLOCK_FAIL_S else "FAIL",
                            where if skew <= CLOCK_OK_S else f"{where}: sync the clock (NTP); L2 auth signs the "
                                                              f"time and a skewed clock is refused with 401"))
    has_wallet = checks[0].status == "OK"
    if venue.reachable and has_wallet:
        checks += await _account_checks(settings)
    elif has_wallet:
        checks.append(Check("auth", "FAIL", "skipped: the venue is unreachable"))
    token = None
    public = PublicClient(settings.clob_url, settings.gamma_url, timeout=timeout)
    try:
        found = await public.list_markets(limit=5)
        checks.append(Check("gamma", "OK" if found else "WARN",
                            f"{settings.gamma_url}: {len(found)} open markets in the first page" if found
                            else f"{settings.gamma_url}: no open markets listed"))
        token = found[0].yes_token if found else None
    except Exception as e:
        checks.append(Check("gamma", "FAIL", f"{settings.gamma_url}: {venue_error(e)}"))
    finally:
        await public.aclose()
    checks.append(await _ws_check(settings, token, timeout))
    return checks


async def _account_checks(settings: Settings) -> list[Check]:
    from py_clob_client_v2.clob_types import AssetType, BalanceAllowanceParams
    from py_clob_client_v2.config import get_contract_config

    from .venue.wire import balance_amount, reply_allowances

    try:
        client = await asyncio.to_thread(_authed_client, settings)
        closed = await asyncio.to_thread(client.get_closed_only_mode)
    except Exception as e:
        return [Check("auth", "FAIL", f"L2 auth refused: {venue_error(e)} (check the API credentials and the clock)")]
    if isinstance(closed, dict) and closed.get("closed_only"):
        out = [Check("auth", "FAIL", "API key accepted, but the account is in closed-only mode (cancels only)")]
    else:
        out = [Check("auth", "OK", "L2 API key accepted")]
    try:
        r = await asyncio.to_thread(client.get_balance_allowance,
                                    BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
    except Exception as e:
        return [*out, Check("balance", "FAIL", f"balance unavailable: {venue_error(e)}")]
    if not isinstance(r, dict):
        return [*out, Check("balance", "FAIL", f"balance reply unreadable: a {type(r).__name__}, not an object")]
    try:  # integer strings are 1e6 units, decimal strings ("250.500000") already units (PROTOCOL §12)
        balance = balance_amount(r)
        out.append(Check("balance", "OK" if balance > 0 else "WARN",
                         f"{balance:,.2f} pUSD" if balance > 0 else "0 pUSD: no bid can be placed"))
    except ValueError as e:
        out.append(Check("balance", "FAIL", f"balance reply unreadable: {e}"))
    try:  # an ``allowances`` map, or one ``allowance`` for every spender (PROTOCOL §12)
        allowed = reply_allowances(r)
    except ValueError as e:
        return [*out, Check("allowances", "FAIL", f"balance reply unreadable: {e}")]
    cfg = get_contract_config(settings.chain_id)
    exchanges = {"CTF Exchange V2": cfg.exchange_v2, "NegRisk Exchange V2": cfg.neg_risk_exchange_v2}
    # Two neg-risk adapters: the SDK's, and the one Polymarket's changelog tells V2 integrations to
    # use. Which one the CLOB's allowance check reads is unconfirmed, so one approved is enough and
    # the line says which.
    adapters = {"the SDK's neg-risk adapter": cfg.neg_risk_adapter,
                "the V2 neg-risk adapter": "0xadA2005600Dec949baf300f4C6120000bDB6eAab"}
    missing = [f"{name} ({addr})" for name, addr in exchanges.items() if allowed.of(addr) <= 0]
    approved = [f"{name} ({addr})" for name, addr in adapters.items() if allowed.of(addr) > 0]
    if not approved:
        missing.append("either neg-risk adapter (" + " or ".join(adapters.values()) + ")")
    shape = " (one allowance for every spender)" if allowed.every is not None and not allowed.spenders else ""
    if missing:
        out.append(Check("allowances", "FAIL", "no pUSD allowance for " + ", ".join(missing) +
                         f"{shape}: approve them from the wallet before trading"))
    else:
        which = (f"both neg-risk adapters ({', '.join(adapters.values())})" if len(approved) == len(adapters)
                 else f"{approved[0]} only")
        out.append(Check("allowances", "OK", f"pUSD approved for {', '.join(exchanges)} and {which}{shape}"))
    return out



# ====================================================================== rebuild-positions
# The rule for adjustments: a ``reconcile:`` row in the journal is the ledger taking a venue balance it
# could not explain from the journal's legs. A rebuild replaces every leg with the venue's own, so no
# such row is kept: where the rebuilt position still differs from the venue's balances the report says
# so, and the next start's reconciliation takes the venue's number (with its own adjustment row).


def parse_since(text: str) -> int:
    """``--since``: epoch seconds, or an ISO-8601 date or date and time (UTC unless it has an offset).
    Whole seconds (what ``/data/trades``' ``after`` takes). ValueError naming what is allowed."""
    from .venue.wire import epoch_seconds

    value = text.strip()
    try:
        secs: float | None = float(value)
    except ValueError:
        secs = epoch_seconds(value) if value else None  # ISO-8601; a date alone is its midnight UTC
    if secs is None or secs != secs or not 0 <= secs < 1e11:
        raise ValueError(f"must be epoch seconds or an ISO-8601 date or time, e.g. 2025-11-22 or "
                         f"2025-11-22T10:00:00Z (got {text!r})")
    return int(secs)



@dataclass(frozen=True)
class RebuildLeg:
    """One fill row (a leg of ours, or the reversal of a failed one) as the rebuild compares it."""

    trade_id: str
    order_id: str
    condition_id: str
    side: str  # YES terms
    price: str  # YES terms, e.g. "0.45"
    size: Decimal
    token: str
    status: str

    @property
    def key(self) -> tuple[str, str]:
        return self.trade_id, self.order_id

    def same_fill(self, other: RebuildLeg) -> bool:
        return (self.condition_id, self.side, self.price, self.size, self.token) == \
            (other.condition_id, other.side, other.price, other.size, other.token)

    def line(self) -> str:
        return (f"trade {short(self.trade_id)}  order {short(self.order_id)}  {self.side} {human(self.size)} YES "
                f"@ {self.price}  {self.status}")

    def to_dict(self) -> dict[str, Any]:
        return {"trade_id": self.trade_id, "order_id": self.order_id, "condition_id": self.condition_id,
                "side": self.side, "price": self.price, "size": human(self.size), "token": self.token,
                "status": self.status}


def _rebuild_leg(fill: Any, status: str) -> RebuildLeg:
    from .domain.prices import pips_to_str

    return RebuildLeg(fill.trade_id, fill.order_id, fill.condition_id, fill.side.value, pips_to_str(fill.price),
                      fill.size, fill.token, status)


@dataclass(frozen=True)
class RebuildMarket:
    """One market: the position the journal restores to, the one rebuilt from the venue's trades and
    the venue's token balances (YES − NO), and the legs that differ."""

    condition_id: str
    question: str
    journal: Decimal
    rebuilt: Decimal
    venue: Decimal | None  # None: the balances could not be read
    journal_shares: tuple[Decimal, Decimal]  # (YES, NO)
    rebuilt_shares: tuple[Decimal, Decimal]
    venue_shares: tuple[Decimal, Decimal] | None
    only_journal: tuple[RebuildLeg, ...] = ()
    only_venue: tuple[RebuildLeg, ...] = ()
    changed: tuple[tuple[RebuildLeg, RebuildLeg], ...] = ()  # (journal's, venue's) of the same leg
    adjustments: int = 0  # the journal's ``reconcile:`` rows (none are kept)
    agrees: bool | None = None  # the rebuilt shares are the venue's (pending legs aside); None: unknown

    @property
    def differs(self) -> bool:
        """The journal disagrees with the venue's trades (legs, statuses, adjustments or position)."""
        return bool(self.only_journal or self.only_venue or self.changed or self.adjustments) or \
            self.journal != self.rebuilt

    def to_dict(self) -> dict[str, Any]:
        def pair(p: tuple[Decimal, Decimal] | None) -> dict[str, str] | None:
            return None if p is None else {"yes": human(p[0]), "no": human(p[1])}

        return {"condition_id": self.condition_id, "question": self.question, "journal": human(self.journal),
                "rebuilt": human(self.rebuilt), "venue": None if self.venue is None else human(self.venue),
                "journal_shares": pair(self.journal_shares), "rebuilt_shares": pair(self.rebuilt_shares),
                "venue_shares": pair(self.venue_shares), "differs": self.differs, "agrees_with_venue": self.agrees,
                "only_journal": [leg.to_dict() for leg in self.only_journal],
                "only_venue": [leg.to_dict() for leg in self.only_venue],
                "changed": [{"journal": a.to_dict(), "venue": b.to_dict()} for a, b in self.changed],
                "adjustments": self.adjustments}


@dataclass(frozen=True)
class RebuildReport:
    """What ``rebuild_positions`` found and did."""

    journal: str
    venue: str
    wallet: str
    wallet_note: str
    dry_run: bool
    since: int | None
    trades: int = 0  # the wallet's trades the venue listed
    legs: int = 0  # legs of ours in them (failed ones included)
    failed: int = 0  # legs of FAILED trades: booked and reversed
    kept: int = 0  # journal rows from before --since, kept as they were
    rows: int = 0  # fill rows the rebuilt journal holds (reversals included)
    markets: tuple[RebuildMarket, ...] = ()
    resting: int | None = None  # orders of ours resting at the venue (their fills may land meanwhile)
    written: bool = False
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def differences(self) -> bool:
        return any(m.differs for m in self.markets)

    def to_json(self) -> str:
        doc = {"journal": self.journal, "venue": self.venue, "wallet": self.wallet, "wallet_note": self.wallet_note,
               "dry_run": self.dry_run, "since": self.since, "trades": self.trades, "legs": self.legs,
               "failed": self.failed, "kept_before_since": self.kept, "rows": self.rows,
               "resting_orders": self.resting, "differences": self.differences, "written": self.written,
               "markets": [m.to_dict() for m in self.markets], "problems": list(self.problems)}
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()


async def rebuild_positions(settings: Settings, journal_path: str, *, dry_run: bool = True, since: int | None = None,
                            program: str = "polymm rebuild-positions") -> RebuildReport:
    """``polymm rebuild-positions``: the journal's fills and positions rebuilt from the venue's trades.

    Signs in as the configured wallet, reads every trade of the wallet from ``GET /data/trades``
    (from ``since`` on when given), finds our legs in each and maps them to YES-terms fills with the
    live execution's own functions (``our_legs``, ``leg_fill``: our API key as a maker order's
    owner, or as the taker's with trader_side TAKER), and books them through a ``Ledger`` in
    match-time order, exactly as the live execution books them: a leg of a FAILED trade is booked
    (MATCHED) and reversed (``<trade id>:failed``). Each market's rebuilt position is compared with
    the one the journal restores to and with the venue's token balances.

    Unless ``dry_run``: while holding the wallet's instance lock (``InstanceLocked`` when a polymm
    trades it), the journal's ``fills``, ``fill_status`` and ``positions`` are replaced in one
    transaction. The journal's ``reconcile:`` adjustment rows are not kept (see the rule above this
    function). With ``since``, the journal's rows from before it are kept as they were (the venue was
    not asked about them). Nothing is written when a trade, a leg's market or the venue's history
    could not be read (``problems``). ConfigError (naming the option) for a missing journal or a file
    that is not one, and without a wallet key."""
    import sqlite3
    from pathlib import Path

    from .journal import read_fills

    path = str(Path(journal_path).expanduser())
    if not Path(path).is_file():
        raise ConfigError(f"--journal: no journal at {path} (the journal `polymm run` keeps: "
                          f"$XDG_STATE_HOME/polymm/journal-<mode>.sqlite, or POLYMM_JOURNAL_PATH)")
    w = wallet(settings)
    note = "demo wallet: a throwaway key, for stand-ins only" if w.demo else \
        (f"funds held by {w.funder}" if w.funder != w.address else "")
    lock = None
    if not dry_run:  # no polymm may trade (and journal) this wallet while its journal is rewritten
        from .statedir import InstanceLock

        lock = InstanceLock(settings.clob_url, w.address, program)
        lock.acquire()
    try:
        try:
            before = read_fills(path)
        except sqlite3.Error as e:
            raise ConfigError(f"--journal: {path} is not a polymm journal ({e})") from None
        return await _rebuild(settings, before, w.address, note, dry_run, since)
    finally:
        if lock is not None:
            lock.release()


async def _rebuild(settings: Settings, before: Any, address: str, note: str, dry_run: bool,
                   since: int | None) -> RebuildReport:
    from py_clob_client_v2.clob_types import AssetType, BalanceAllowanceParams, TradeParams

    from .domain.ledger import ADJUSTMENT, Ledger
    from .domain.portfolio import Fill
    from .journal import rewrite_fills
    from .venue.live import leg_fill, market_from_clob, our_legs
    from .venue.wire import balance_amount, epoch_seconds, trade_from_rest, trade_status

    client = await asyncio.to_thread(_authed_client, settings)
    raw = await asyncio.to_thread(client.get_trades, TradeParams(after=since) if since is not None else None)
    blocking: list[str] = []  # problems that make the rebuild incomplete: nothing is written
    problems: list[str] = []
    now = time.time()
    events = []
    for i, t in enumerate(raw if isinstance(raw, list) else []):
        try:
            ev = trade_from_rest(t)
        except ValueError as e:
            tid = t.get("id") if isinstance(t, dict) else None
            blocking.append(f"trade {tid or f'#{i + 1}'}: unreadable ({e})")
            continue
        ts = ev.match_ts or epoch_seconds(ev.last_update) or now
        if since is None or ts >= since:
            events.append((ts, i, ev))
    events.sort(key=lambda e: (e[0], e[1]))  # match-time order: average-cost P&L depends on it

    markets: dict[str, Any] = {}  # condition id → Market, or the lookup's error text

    async def market(cid: str) -> Any:
        if cid not in markets:
            try:
                markets[cid] = market_from_clob(await asyncio.to_thread(client.get_market, cid))
            except Exception as e:
                markets[cid] = venue_error(e) if not isinstance(e, ValueError) else f"unreadable: {e}"
        return markets[cid]

    api_key = client.creds.api_key  # our legs: found and mapped by the live execution's own functions
    ledger = Ledger()
    rows: list[tuple[Fill, str | None]] = []
    kept = [(f, st) for f, st in before.fills if since is not None and f.ts < since
            and not f.trade_id.startswith(ADJUSTMENT)]
    rows += kept
    rows += [(owed, "REVERSAL") for owed in ledger.restore(kept)]  # a FAILED leg whose reversal was never journaled
    history: dict[tuple[str, str], list[tuple[str, float]]] = {}
    venue_keys: list[tuple[str, str]] = []
    legs = failed = 0
    for ts, _, ev in events:
        status = trade_status(ev.status)
        changed_at = epoch_seconds(ev.last_update) or ts
        for leg in our_legs(ev, api_key):
            order_id, token = leg[0], leg[1]
            m = await market(ev.market)
            if isinstance(m, str):
                blocking.append(f"trade {ev.id}: its market {ev.market or '(none)'} could not be looked up: {m}")
                continue
            if token not in (m.yes_token, m.no_token):
                blocking.append(f"trade {ev.id}: token {short(token)} is not one of market {short(ev.market)}'s")
                continue
            fill = leg_fill(m, leg, ev.id, ts)
            legs += 1
            seen = history.setdefault((ev.id, order_id), [])
            booked = []
            if status == "FAILED":  # booked when it matched, reversed when it failed
                failed += 1
                booked += ledger.record(fill, "MATCHED")
                seen.append(("MATCHED", ts))
            booked += ledger.record(fill, status)
            seen.append((status, ts if status == "MATCHED" else changed_at))
            for b in booked:
                rows.append((b, "REVERSAL" if b.is_reversal else None))
                venue_keys.append((b.trade_id, b.order_id))
                if b.is_reversal:
                    history.setdefault((b.trade_id, b.order_id), []).append(("REVERSAL", changed_at))

    # the rows as written: each original leg with the venue's last status for it
    final: list[tuple[Fill, str]] = []
    for f, st in rows:
        if st is None or not (f.is_reversal or f.trade_id.startswith(ADJUSTMENT)):
            st = ledger.status(f.trade_id, f.order_id) or st or "booked"
        final.append((f, st))
    statuses: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for f, st in final:
        key = (f.trade_id, f.order_id)
        merged: dict[str, float] = {}
        for s, t in [*before.history.get(key, []), *history.get(key, []), *([(st, f.ts)] if st != "booked" else [])]:
            merged.setdefault(s, t)
        statuses[key] = sorted(merged.items(), key=lambda item: item[1])

    # the journal as a restart would restore it, and the comparison
    restored = Ledger()
    restored.restore(before.fills)
    in_journal = {(f.trade_id, f.order_id): _rebuild_leg(f, st) for f, st in before.fills
                  if not f.trade_id.startswith(ADJUSTMENT) and (since is None or f.ts >= since)}
    by_key = {(f.trade_id, f.order_id): (f, st) for f, st in final}
    at_venue = {k: _rebuild_leg(*by_key[k]) for k in venue_keys}
    adjustments: dict[str, int] = {}
    for f, _ in before.fills:
        if f.trade_id.startswith(ADJUSTMENT):
            adjustments[f.condition_id] = adjustments.get(f.condition_id, 0) + 1
    cids = sorted({f.condition_id for f, _ in before.fills} | ledger.markets())
    for cid in cids:
        await market(cid)

    def tokens(cid: str) -> tuple[str, str]:
        m = markets.get(cid)
        if m is not None and not isinstance(m, str):
            return m.yes_token, m.no_token
        seen = [f for f, _ in [*before.fills, *final] if f.condition_id == cid and f.token]
        return (next((f.token for f in seen if not f.no), ""), next((f.token for f in seen if f.no), ""))

    async def balance(token: str) -> Decimal:
        r = await asyncio.to_thread(client.get_balance_allowance,
                                    BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=token))
        return balance_amount(r)

    pairs = {cid: tokens(cid) for cid in cids}
    wanted = sorted({t for pair in pairs.values() for t in pair if t})
    got = dict(zip(wanted, await asyncio.gather(*(balance(t) for t in wanted), return_exceptions=True), strict=True))
    for t, r in got.items():
        if isinstance(r, BaseException):
            problems.append(f"balance of token {short(t)} unavailable: {venue_error(r)}")
    try:
        resting: int | None = len([o for o in await asyncio.to_thread(client.get_open_orders) if isinstance(o, dict)])
    except Exception as e:
        resting = None
        problems.append(f"open orders unavailable: {venue_error(e)}")

    rebuilt_markets = []
    for cid in cids:
        yes, no = pairs[cid]
        m = markets.get(cid)
        question = m.question if m is not None and not isinstance(m, str) else ""
        if isinstance(m, str) and cid not in {f.condition_id for f, _ in final}:
            problems.append(f"market {cid}: could not be looked up ({m}); its balances are unknown")
        venue_pair = None
        if yes and no and all(isinstance(got.get(t), Decimal) for t in (yes, no)):
            venue_pair = (got[yes], got[no])
        agrees = None
        if venue_pair is not None:
            agrees = True
            for token, venue in zip((yes, no), venue_pair, strict=True):
                h = ledger.holding(token)
                ours, pending = (h.shares, h.pending) if h is not None else (Decimal(0), Decimal(0))
                agrees = agrees and venue in (ours, ours - pending)  # the venue may not count unsettled legs yet
        j = {k: v for k, v in in_journal.items() if v.condition_id == cid}
        v = {k: x for k, x in at_venue.items() if x.condition_id == cid}
        rebuilt_markets.append(RebuildMarket(
            cid, question,
            journal=_qty(restored, cid), rebuilt=_qty(ledger, cid),
            venue=None if venue_pair is None else venue_pair[0] - venue_pair[1],
            journal_shares=(restored.shares(yes), restored.shares(no)),
            rebuilt_shares=(ledger.shares(yes), ledger.shares(no)), venue_shares=venue_pair,
            only_journal=tuple(j[k] for k in j if k not in v), only_venue=tuple(v[k] for k in v if k not in j),
            changed=tuple((j[k], v[k]) for k in j
                          if k in v and (not j[k].same_fill(v[k]) or j[k].status != v[k].status)),
            adjustments=adjustments.get(cid, 0), agrees=agrees))

    written = False
    if not dry_run and not blocking:
        text = (f"rebuilt from the venue's trades: {legs} legs ({failed} of failed trades, reversed), "
                f"{sum(adjustments.values())} adjustment rows dropped" +
                (f", {len(kept)} rows from before --since kept" if since is not None else ""))
        await asyncio.to_thread(rewrite_fills, before.path, final, statuses, dict(ledger.portfolio.positions),
                                expect=before.fingerprint, note=text)
        written = True
    elif not dry_run:
        blocking.append("nothing was written: the venue's history could not be read completely")
    return RebuildReport(before.path, settings.clob_url, address, note, dry_run, since, trades=len(events),
                         legs=legs, failed=failed, kept=len(kept), rows=len(final), markets=tuple(rebuilt_markets),
                         resting=resting, written=written, problems=tuple(blocking + problems))


def _qty(ledger: Any, cid: str) -> Decimal:
    pos = ledger.portfolio.positions.get(cid)
    return pos.qty if pos is not None else Decimal(0)


def render_rebuild(r: RebuildReport) -> str:
    """The human table of ``polymm rebuild-positions``."""
    lines = [f"journal    {r.journal}" + ("  (dry run: nothing written)" if r.dry_run else "")]
    lines.append(f"venue      {r.venue}  wallet {r.wallet}" + (f"  ({r.wallet_note})" if r.wallet_note else ""))
    since = "" if r.since is None else \
        f" since {datetime.fromtimestamp(r.since, UTC).strftime('%Y-%m-%d %H:%M:%S UTC')}"
    lines.append(f"trades     {_count(r.trades, 'trade')} of this wallet at the venue{since}: "
                 f"{_count(r.legs, 'leg')} of ours" + (f", {r.failed} of FAILED trades (booked and reversed)"
                                                       if r.failed else ""))
    if r.kept:
        lines.append(f"           {_count(r.kept, 'journal row')} from before --since kept as they are")
    if r.resting:
        lines.append(f"orders     {_count(r.resting, 'order')} of ours rest at the venue: fills may land while this "
                     f"runs (`polymm cancel-all` first)")
    if not r.markets:
        lines.append("markets    none: neither the journal nor the venue has a fill of ours")
    else:
        head = (f"{'market':<16} {'journal':>10} {'rebuilt':>10} {'venue':>10} {'venue YES':>10} {'venue NO':>10}  "
                f"{'only journal':>12} {'only venue':>10} {'changed':>7} {'adj':>3}  question")
        lines += ["", head]
        for m in r.markets:
            vy, vn = (human(m.venue_shares[0]), human(m.venue_shares[1])) if m.venue_shares else ("?", "?")
            q = (m.question[:37] + "…") if len(m.question) > 38 else m.question
            mark = " *" if m.differs else ""
            lines.append(f"{short(m.condition_id):<16} {human(m.journal):>10} {human(m.rebuilt):>10} "
                         f"{human(m.venue) if m.venue is not None else '?':>10} {vy:>10} {vn:>10}  "
                         f"{len(m.only_journal):>12} {len(m.only_venue):>10} {len(m.changed):>7} "
                         f"{m.adjustments:>3}  {q}{mark}")
        lines.append("(positions in YES shares: YES − NO; * = the journal differs from the venue's trades)")
    for title, pick in (("legs only in the journal", lambda m: m.only_journal),
                        ("legs only at the venue", lambda m: m.only_venue)):
        found = [(m, leg) for m in r.markets for leg in pick(m)]
        if found:
            lines += ["", f"{title}:"]
            lines += [f"  {short(m.condition_id)}  {leg.line()}" for m, leg in found]
    changed = [(m, a, b) for m in r.markets for a, b in m.changed]
    if changed:
        lines += ["", "legs that differ (journal → venue):"]
        for m, a, b in changed:
            what = [f"{x} {getattr(a, x)} → {getattr(b, x)}" for x in ("side", "price", "token", "status")
                    if getattr(a, x) != getattr(b, x)]
            if a.size != b.size:
                what.insert(0, f"size {human(a.size)} → {human(b.size)}")
            lines.append(f"  {short(m.condition_id)}  trade {short(a.trade_id)}  order {short(a.order_id)}: "
                         + ", ".join(what))
    dropped = sum(m.adjustments for m in r.markets)
    lines.append("")
    if not r.differences:
        lines.append("the journal agrees with the venue's trades")
    off = [m for m in r.markets if m.agrees is False]
    for m in off:
        assert m.venue_shares is not None and m.venue is not None
        lines.append(f"{short(m.condition_id)}: rebuilt {human(m.rebuilt)} YES, the venue's balances {human(m.venue)} "
                     f"(YES {human(m.venue_shares[0])}, NO {human(m.venue_shares[1])}): "
                     f"{'a rewrite keeps' if r.dry_run else 'the journal keeps'} no adjustment; the next start's "
                     f"reconciliation takes the venue's number")
    if r.written:
        lines.append(f"written: {_count(r.rows, 'fill row')} and {_count(len(r.markets), 'position')}"
                     + (f"; {_count(dropped, 'adjustment row')} dropped" if dropped else ""))
    elif r.dry_run and r.differences:
        lines.append("dry run: run without --dry-run to rewrite the journal from the venue's trades")
    for p in r.problems:
        lines.append(f"problem    {p}")
    return "\n".join(lines)
