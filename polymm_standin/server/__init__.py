"""The stand-in Polymarket exchange's server: a real HTTP + WebSocket server on loopback.

It speaks Polymarket's CLOB V2 protocol (docs/protocol.md) around ``polymm_standin.sim``'s matching
engine and deterministic synthetic traders, so the bot, the demo and the integration tests run offline
against the same code paths they use against Polymarket; only the URLs differ.

Public surface::

    async with run_exchange(port=0, seed=7) as ex:      # ExchangeServer
        ex.clob_url, ex.ws_url, ex.gamma_url, ex.matching, ex.markets, ex.pause_flow()

    ex = EmbeddedExchange(seed=7); urls = ex.start(); ...; ex.stop()   # own thread + loop

    serve(host, port, seed)                              # blocking, for ``polymm exchange``

Capital operations (docs/protocol.md §15): ``ex.relayer_url`` (Polymarket's relayer, for
``py-builder-relayer-client``; ``ex.standin.issue_builder_key()``) and ``ex.rpc_url`` (JSON-RPC, for
``web3``), both over ``ex.standin.chain``.
"""

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
from .trading import TradingConfig

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_SEED",
    "EmbeddedExchange",
    "ExchangeServer",
    "ExchangeUrls",
    "RelayerConfig",
    "StandIn",
    "TradingConfig",
    "run_exchange",
    "serve",
]
