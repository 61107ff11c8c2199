"""The stand-in Polymarket exchange's server: a real HTTP + WebSocket server on loopback.

It speaks Polymarket's CLOB V2 protocol (docs/protocol.md) around ``polymm_standin.sim``'s matching
engine and deterministic synthetic traders, so the bot, the demo and the integration tests run offline
against the same code paths they use against Polymarket; only the URLs differ.

Public surface::

    async with run_exchange(port=0, seed=7) as ex:      # ExchangeServer
        ex.clob_url, ex.ws_url, ex.gamma_url, ex.matching, ex.markets, ex.pause_flow()

    ex = EmbeddedExchange(seed=7); urls = ex.start(); ...; ex.stop()   # own thread + loop

    serve(host, port, seed)                              # blocking, for ``polymm exchange``

At scale: ``market_count`` up to 500, ``frames_per_s`` (total market-channel frames/s, hot markets and
a quiet tail), ``TradingConfig.starting_balance`` (None: grows with the market count) and
``TradingConfig.rate_tier`` (``STANDARD_TIER`` by default, ``UNLIMITED_TIER``; ``ratelimit``). The
429s the limits sent: ``ex.trading.limits.http_429``, or ``GET /_admin/stats`` → ``rate_limit.http_429``.

Capital operations (docs/protocol.md §15): ``ex.relayer_url`` (Polymarket's relayer, for
``py-builder-relayer-client``; ``ex.standin.issue_builder_key()``) and ``ex.rpc_url`` (JSON-RPC, for
``web3``), both over ``ex.standin.chain``.
"""

from .ratelimit import RATE_TIERS, STANDARD_TIER, UNLIMITED_TIER, RateTier
from .relayer import RelayerConfig
from .standin import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_SEED,
    EmbeddedExchange,
    ExchangeServer,
    ExchangeUrls,
    StandIn,
    run_exchange,
    serve,
)
from .trading import TradingConfig, default_starting_balance

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_SEED",
    "RATE_TIERS",
    "STANDARD_TIER",
    "UNLIMITED_TIER",
    "EmbeddedExchange",
    "ExchangeServer",
    "ExchangeUrls",
    "RateTier",
    "RelayerConfig",
    "StandIn",
    "TradingConfig",
    "default_starting_balance",
    "run_exchange",
    "serve",
]
