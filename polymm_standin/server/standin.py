"""Running the stand-in exchange: in-process, in a background thread, or as a blocking server.

* ``StandIn`` is the exchange itself without sockets: markets, matching engine, market-channel hub
  and the synthetic flow (one task for every market). Tests can drive it synchronously (``step_flow``).
  At scale (``market_count`` up to 500): ``frames_per_s`` sets the total market-channel frame rate,
  shared out hot-to-quiet by seeded weights (``flows``); a new wallet's pUSD grows with the market
  count (``trading.default_starting_balance``); the venue's per-signer rate limits are on
  (``TradingConfig.rate_tier``, ``ratelimit``) and ``stats()`` counts their 429s.
* ``ExchangeServer`` binds it to a host/port (port 0 = any free port, read back from the socket)
  and knows the URLs of every Polymarket host it imitates. ``run_exchange`` is its context manager.
* ``EmbeddedExchange`` runs the same on its own event loop in a daemon thread, so the demo's UI loop
  never shares time with matching and fan-out.
* ``serve`` is the blocking CLI entry (``polymm exchange``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, TypeVar

from aiohttp import web

from polymm.domain.market import Market, Outcome

from ..sim import units
from ..sim.catalog import DEFAULT_NEG_RISK_MARKETS, MAX_MARKETS, Catalog, MarketProfile
from ..sim.flow import DEFAULT_FLOW_RATE, SyntheticFlow
from ..sim.market_channel import MarketChannel
from ..sim.matching import MatchingEngine
from .accounts import Accounts
from .admin import AdminApi, Controls, Resolution, TickChange, faults_middleware
from .auth import ApiKey, KeyStore
from .chain import Chain
from .clob import ClobApi, json_errors
from .data_api import DataApi
from .faults import Faults
from .flows import FlowRunner
from .gamma import GammaApi
from .market_sockets import MarketSockets
from .public import ClobExtraApi, Tape
from .relayer import BuilderKey, Relayer, RelayerConfig
from .rewards import RewardsApi, RewardsLedger  # rewards earned
from .rpc import RpcApi
from .trading import Trading, TradingConfig, default_starting_balance
from .trading_routes import TradingApi
from .user_channel import UserChannel

T = TypeVar("T")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_SEED = 7
DEFAULT_MARKETS = 6
#: Fair-value log entries kept over all markets (``SyntheticFlow.fair_log``): a venue of hundreds of
#: markets keeps fewer per market (at least ``MIN_FAIR_LOG``), so its memory stays bounded.
FAIR_LOG_BUDGET = 200_000
MIN_FAIR_LOG = 500


class StandIn:
    """The in-memory exchange: markets, matching engine, WS hubs, accounts and synthetic flow (no sockets).

    Trading parts (see ``trading``): ``keys`` (API keys), ``accounts`` (balances, fee rates),
    ``trading`` (orders, trades, heartbeats; ``trading.config`` is the ``TradingConfig`` passed in),
    ``user_channel`` (``/ws/user``). ``open_account(address)`` gives a wallet its API key without HTTP.

    Capital operations (docs/protocol.md §15): ``chain`` (nonces, blocks, split / merge / redeem on the
    accounts), ``relayer`` (``/relayer``; ``relayer.config`` is the ``RelayerConfig`` passed in;
    ``issue_builder_key`` gives a builder key without HTTP) and ``rpc`` (``/rpc``, JSON-RPC for EOAs).
    """

    def __init__(
        self,
        seed: int = DEFAULT_SEED,
        market_count: int = DEFAULT_MARKETS,
        *,
        flow_rate: float = DEFAULT_FLOW_RATE,
        flow: bool = True,
        clock: Callable[[], int] = units.now_ms,
        trading: TradingConfig | None = None,
        neg_risk_markets: int = DEFAULT_NEG_RISK_MARKETS,
        relayer: RelayerConfig | None = None,
        frames_per_s: float | None = None,
    ) -> None:
        if flow_rate <= 0:
            raise ValueError(f"flow_rate must be > 0 steps/s per market, got {flow_rate}")
        if not 1 <= market_count <= MAX_MARKETS:
            raise ValueError(f"market_count must be 1..{MAX_MARKETS}, got {market_count}")
        if frames_per_s is not None and not frames_per_s > 0:
            raise ValueError(f"frames_per_s must be > 0 frames/s over all markets, got {frames_per_s}")
        self.seed = seed
        self.flow_rate = flow_rate
        #: Total market-channel frames/s the flow aims at (None: ``flow_rate`` steps/s per market).
        self.frames_per_s = frames_per_s
        self.flow_enabled = flow
        self.clock = clock
        # Markets, events and per-market state (closed, winner): ``market_count`` stand-alone markets
        # plus a neg-risk event group of ``neg_risk_markets`` (0 = none). Live lists, shared below.
        self.catalog = Catalog.build(seed, market_count, neg_risk_markets)
        self.profiles: list[MarketProfile] = self.catalog.profiles
        self.markets: list[Market] = self.catalog.markets
        self.matching = MatchingEngine(self.markets, clock=clock, id_salt=f"standin:{seed}")
        log_len = min(SyntheticFlow.FAIR_LOG, max(MIN_FAIR_LOG, FAIR_LOG_BUDGET // len(self.profiles)))
        flows = [
            SyntheticFlow(self.matching, p, seed, i, clock=clock, fair_log_len=log_len)
            for i, p in enumerate(self.profiles)
        ]
        for f in flows:
            f.seed_book()
        self.flow_runner = FlowRunner(
            flows, flow_rate, flow, frames_per_s=frames_per_s, seed=seed, matching=self.matching
        )
        self.faults = Faults()
        self.channel = MarketChannel(self.matching, lambda: self.faults.market_ws_frozen)
        self.market_sockets = MarketSockets(self.channel, self.faults)
        self.tape = Tape(self.matching, self.catalog, clock, seed)  # price history + recent trades
        config = trading if trading is not None else TradingConfig()
        if config.starting_balance is None:  # the demo wallet's pUSD grows with the venue
            config.starting_balance = default_starting_balance(market_count)
        self.keys = KeyStore(seed)
        self.accounts = Accounts(config.starting_balance, config.default_fee_rate, self._catalog_fee_rate)
        self.user_channel = UserChannel(self.keys)
        self.trading = Trading(self.matching, self.keys, self.accounts, self.user_channel, self.faults, config, clock)
        # Tick changes, resolution, listings, socket drops.
        self.controls = Controls(
            seed, self.matching, self.catalog, self.channel, self.flow_runner, self.faults, self.user_channel, clock
        )
        self.controls.resolution_listeners.append(self.trading.on_resolution)  # closed (auto-redeemed if asked)
        self.data_api = DataApi(self.matching, self.catalog, self.tape, self.keys, self.accounts)
        # capital operations (docs/protocol.md §15): what unsettled trades brought cannot be spent on chain
        self.chain = Chain(self.catalog, self.accounts, locked=self.trading.failing_in, clock=clock, seed=seed)
        self.relayer = Relayer(self.chain, self.keys, self.faults, relayer, clock, seed)
        self.rpc = RpcApi(self.chain)
        # rewards earned (server/rewards.py): samples reward markets, serves /rewards/user*
        self.rewards = RewardsLedger(self.matching, self.catalog, self.trading.orders, clock=clock)

    @property
    def flows(self) -> list[SyntheticFlow]:
        return self.flow_runner.flows

    def build_app(self) -> web.Application:
        """The aiohttp application serving this stand-in: every route gets the parts it reads."""
        app = web.Application(middlewares=[json_errors, faults_middleware(self.faults)])
        app.add_routes(ClobApi(self.matching).routes())
        app.add_routes(ClobExtraApi(self.matching, self.catalog, self.tape, self.clock).routes())
        app.add_routes(GammaApi(self.catalog, self.matching).routes())
        app.add_routes(self.data_api.routes())
        admin = AdminApi(self.controls, self.faults, self.flow_runner, self.market_sockets, self.markets, self.stats)
        app.add_routes(admin.routes())
        app.add_routes([web.get("/ws/market", self.market_sockets.handle)])
        app.add_routes(TradingApi(self.trading, self.keys, self.accounts, self.matching, self.user_channel).routes())
        app.add_routes(self.relayer.routes())  # capital operations: /relayer, /auth/builder-api-key
        app.add_routes(self.rpc.routes())  # capital operations: /rpc
        app.add_routes(RewardsApi(self.rewards, self.keys, self.trading.config).routes())  # rewards earned
        return app

    def _catalog_fee_rate(self, condition_id: str) -> Decimal | None:
        """The taker fee rate the catalog lists for a market (None: fees off / unknown market)."""
        profile = self.catalog.profile(condition_id)
        fees = profile.fees if profile is not None else None
        return fees.rate if fees is not None else None

    @property
    def trading_config(self) -> TradingConfig:
        return self.trading.config

    def stats(self) -> dict[str, Any]:
        """The counters ``GET /_admin/stats`` serves: ``rate_limit`` (tier; ``http_429``: the 429s the
        signer limits sent), ``injected_http_errors`` (requests answered by fault bursts, by status) and
        ``flow`` (target and measured frames/s, steps)."""
        return {
            "rate_limit": self.trading.limits.stats(),
            "injected_http_errors": {str(status): n for status, n in sorted(self.faults.injected.items())},
            "flow": self.flow_runner.stats(),
        }

    def open_account(self, address: str, nonce: int = 0) -> ApiKey:
        """The wallet's API key for ``nonce`` (created, with a funded account, if new). No HTTP."""
        return self.trading.open_account(address, nonce)

    def issue_builder_key(
        self, owner: str = "", *, daily_limit: int | Literal["config"] | None = "config"
    ) -> BuilderKey:
        """A relayer builder key (``.key``, ``.secret``, ``.passphrase``; ``.creds()``). No HTTP.
        ``daily_limit``: transactions per UTC day, None = unlimited; default ``relayer.config.daily_limit``."""
        return self.relayer.issue_builder_key(owner, daily_limit=daily_limit)

    async def start(self) -> None:
        """Start the trading monitor and the synthetic flow tasks (when enabled) on the running loop."""
        self.trading.start()
        self.flow_runner.start()
        self.rewards.start()  # rewards earned

    async def stop(self) -> None:
        await self.rewards.stop()  # rewards earned
        await self.flow_runner.stop()
        await self.trading.stop()
        self.relayer.stop()  # capital operations
        await self.market_sockets.close_all()
        await self.user_channel.close_all()

    def pause_flow(self) -> None:
        self.flow_runner.pause()

    def resume_flow(self) -> None:
        self.flow_runner.resume()

    @property
    def flow_paused(self) -> bool:
        return self.flow_runner.paused

    def step_flow(self, steps: int = 1) -> None:
        """Advance every market's synthetic flow ``steps`` times, synchronously, in market order."""
        self.flow_runner.step(steps)

    # ---- market data and venue controls (see ``admin.Controls``; faults live in ``self.faults``)

    def fair_value(self, market_or_token: str) -> float:
        """The synthetic fair value (probability) of a token, or of the YES token for a condition id."""
        cond = self.catalog.resolve_id(market_or_token)
        flow = None if cond is None else self.flow_runner.find(cond)
        if cond is None or flow is None:
            raise KeyError(f"unknown market or token {market_or_token!r}")
        no = market_or_token == flow.market.no_token
        return flow.fair_value(Outcome.NO if no else Outcome.YES)

    async def drop_all_websockets(self, channel: str | None = None) -> int:
        """Close every open WebSocket (``channel``: "market" or "user"; None = all); returns how many."""
        return await self.controls.drop_websockets(channel)

    def change_tick_size(self, market_or_token: str, tick: str) -> TickChange:
        """Give a market a new tick (``tick_size_change`` goes out; validation uses it at once)."""
        return self.controls.change_tick_size(market_or_token, tick)

    def resolve_market(self, market_or_token: str, winner: str = "Yes") -> Resolution:
        """Resolve and close a market (orders cancelled, ``market_resolved`` sent, Gamma shows it closed)."""
        return self.controls.resolve_market(market_or_token, winner)


@dataclass(frozen=True, slots=True)
class ExchangeUrls:
    """Where each imitated Polymarket host lives (no trailing slashes, like the real base URLs)."""

    port: int
    clob_url: str
    ws_base: str
    ws_url: str
    user_ws_url: str
    gamma_url: str
    data_url: str
    relayer_url: str
    rpc_url: str

    @classmethod
    def for_address(cls, host: str, port: int) -> ExchangeUrls:
        h = f"[{host}]" if ":" in host else host
        http, ws = f"http://{h}:{port}", f"ws://{h}:{port}"
        return cls(
            port=port,
            clob_url=http,
            ws_base=ws,
            ws_url=f"{ws}/ws/market",
            user_ws_url=f"{ws}/ws/user",
            gamma_url=f"{http}/gamma-api",
            data_url=f"{http}/data-api",
            relayer_url=f"{http}/relayer",
            rpc_url=f"{http}/rpc",
        )


class ExchangeServer:
    """A ``StandIn`` served over HTTP + WebSocket on ``host:port``."""

    def __init__(self, standin: StandIn, host: str = DEFAULT_HOST, port: int = 0) -> None:
        self.standin = standin
        self.host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._urls: ExchangeUrls | None = None

    async def start(self) -> ExchangeUrls:
        runner = web.AppRunner(self.standin.build_app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        port = runner.addresses[0][1]
        self._urls = ExchangeUrls.for_address(self.host, port)
        await self.standin.start()
        return self._urls

    async def stop(self) -> None:
        await self.standin.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def urls(self) -> ExchangeUrls:
        if self._urls is None:
            raise RuntimeError("exchange server not started")
        return self._urls

    # Convenience pass-throughs so callers hold one object.
    port = property(lambda self: self.urls.port)
    clob_url = property(lambda self: self.urls.clob_url)
    ws_base = property(lambda self: self.urls.ws_base)
    ws_url = property(lambda self: self.urls.ws_url)
    user_ws_url = property(lambda self: self.urls.user_ws_url)
    gamma_url = property(lambda self: self.urls.gamma_url)
    data_url = property(lambda self: self.urls.data_url)
    relayer_url = property(lambda self: self.urls.relayer_url)
    rpc_url = property(lambda self: self.urls.rpc_url)

    @property
    def markets(self) -> list[Market]:
        return self.standin.markets

    @property
    def matching(self) -> MatchingEngine:
        return self.standin.matching

    @property
    def accounts(self) -> Accounts:
        return self.standin.accounts

    @property
    def trading(self) -> Trading:
        return self.standin.trading

    @property
    def faults(self) -> Faults:
        return self.standin.faults

    def open_account(self, address: str, nonce: int = 0) -> ApiKey:
        return self.standin.open_account(address, nonce)

    def pause_flow(self) -> None:
        self.standin.pause_flow()

    def resume_flow(self) -> None:
        self.standin.resume_flow()

    def step_flow(self, steps: int = 1) -> None:
        self.standin.step_flow(steps)


@contextlib.asynccontextmanager
async def run_exchange(
    host: str = DEFAULT_HOST,
    port: int = 0,
    seed: int = DEFAULT_SEED,
    market_count: int = DEFAULT_MARKETS,
    flow_rate: float = DEFAULT_FLOW_RATE,
    flow: bool = True,
    clock: Callable[[], int] = units.now_ms,
    trading: TradingConfig | None = None,
    relayer: RelayerConfig | None = None,
    frames_per_s: float | None = None,
) -> AsyncIterator[ExchangeServer]:
    """Serve a fresh stand-in on the running loop for the duration of the block."""
    standin = StandIn(
        seed, market_count, flow_rate=flow_rate, flow=flow, clock=clock, trading=trading, relayer=relayer,
        frames_per_s=frames_per_s,
    )
    server = ExchangeServer(standin, host, port)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


class EmbeddedExchange:
    """A stand-in exchange on its own event loop in a daemon thread (used by ``polymm-tui --demo``).

    ``start()`` blocks until the server listens and returns its URLs; ``stop()`` shuts it down and
    joins the thread. Touch the engine only through ``call`` (it runs on the exchange's loop).
    """

    def __init__(
        self,
        seed: int = DEFAULT_SEED,
        market_count: int = DEFAULT_MARKETS,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        flow_rate: float = DEFAULT_FLOW_RATE,
        flow: bool = True,
        trading: TradingConfig | None = None,
        relayer: RelayerConfig | None = None,
        frames_per_s: float | None = None,
    ) -> None:
        self._open = functools.partial(
            run_exchange, host=host, port=port, seed=seed, market_count=market_count, flow_rate=flow_rate,
            flow=flow, trading=trading, relayer=relayer, frames_per_s=frames_per_s,
        )
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._server: ExchangeServer | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.urls: ExchangeUrls | None = None

    def start(self, timeout: float = 10.0) -> ExchangeUrls:
        if self._thread is not None:
            raise RuntimeError("embedded exchange already started")
        self._thread = threading.Thread(target=self._main, name="polymm-exchange", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"stand-in exchange did not start within {timeout} s")
        if self._error is not None:
            self._thread.join(timeout)
            raise RuntimeError(f"stand-in exchange failed to start: {self._error}") from self._error
        assert self.urls is not None
        return self.urls

    def stop(self, timeout: float = 10.0) -> None:
        loop, stopping, thread = self._loop, self._stopping, self._thread
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop already gone
                loop.call_soon_threadsafe(stopping.set)
        if thread is not None:
            thread.join(timeout)
        self._thread = None

    def __enter__(self) -> EmbeddedExchange:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def markets(self) -> list[Market]:
        if self._server is None:
            raise RuntimeError("embedded exchange not started")
        return self._server.markets

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = 10.0, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the exchange's loop and return its result (thread-safe)."""
        if self._loop is None:
            raise RuntimeError("embedded exchange not started")

        async def invoke() -> T:
            return fn(*args, **kwargs)

        future: Future[T] = asyncio.run_coroutine_threadsafe(invoke(), self._loop)
        return future.result(timeout)

    @property
    def matching(self) -> MatchingEngine:
        """The engine (read it, or mutate it via ``call``: it belongs to the exchange thread)."""
        if self._server is None:
            raise RuntimeError("embedded exchange not started")
        return self._server.matching

    @property
    def standin(self) -> StandIn:
        """The exchange itself (mutate it only via ``call``: it belongs to the exchange thread)."""
        if self._server is None:
            raise RuntimeError("embedded exchange not started")
        return self._server.standin

    def open_account(self, address: str, nonce: int = 0) -> ApiKey:
        """Thread-safe ``StandIn.open_account``: the wallet's API key, created and funded if new."""
        return self.call(self.standin.open_account, address, nonce)

    def pause_flow(self) -> None:
        self.call(self.standin.pause_flow)

    def resume_flow(self) -> None:
        self.call(self.standin.resume_flow)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        async with self._open() as server:
            self._server = server
            self.urls = server.urls
            self._ready.set()
            await self._stopping.wait()


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    seed: int = DEFAULT_SEED,
    market_count: int = DEFAULT_MARKETS,
    flow_rate: float = DEFAULT_FLOW_RATE,
    flow: bool = True,
    out: Callable[[str], None] | None = None,
    *,
    frames_per_s: float | None = None,
    trading: TradingConfig | None = None,
) -> None:
    """Run the stand-in until Ctrl-C, printing where each Polymarket host lives."""
    out = out or functools.partial(print, flush=True)

    async def main() -> None:
        async with run_exchange(
            host, port, seed, market_count, flow_rate, flow, trading=trading, frames_per_s=frames_per_s
        ) as ex:
            u = ex.urls
            out(f"polymm stand-in exchange: seed {seed}, {len(ex.markets)} markets, synthetic flow "
                f"{_flow_text(flow, flow_rate, frames_per_s)}")
            out(f"  CLOB REST   {u.clob_url}")
            out(f"  market WS   {u.ws_url}")
            out(f"  user WS     {u.user_ws_url}")
            out(f"  Gamma API   {u.gamma_url}")
            out(f"  Data API    {u.data_url}")
            out(f"  relayer     {u.relayer_url}")
            out(f"  JSON-RPC    {u.rpc_url}")
            config = ex.trading.config
            out(f"  rate limits {config.rate_tier.describe()} per signer; new wallets start with "
                f"{_human(config.starting_balance or 0)} pUSD")
            out("Ctrl-C to stop.")
            # our own handlers: a process started in the background by a shell inherits SIGINT
            # *ignored*, and Python then never raises KeyboardInterrupt — Ctrl-C / SIGTERM must stop it
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            try:
                await stop.wait()
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


def _human(x: float | Decimal) -> str:
    """A number for people: thousands grouped, no trailing zeros, never an exponent (``500,000``, ``2.5``)."""
    text = format(Decimal(str(x)), ",f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _flow_text(flow: bool, flow_rate: float, frames_per_s: float | None) -> str:
    """How busy the synthetic traders are, for the banner."""
    if not flow:
        return "off"
    if frames_per_s is not None:
        return f"{_human(frames_per_s)} frames/s over all markets, hot to quiet"
    return f"{_human(flow_rate)} steps/s per market"
