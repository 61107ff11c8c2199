"""The stand-in Polymarket exchange: a real HTTP + WebSocket server on loopback.

It speaks Polymarket's CLOB V2 protocol (PROTOCOL.md) with a matching engine and deterministic
synthetic traders, so the bot, the demo and the integration tests run offline against the same code
paths they use against Polymarket; only the URLs differ.

Public surface::

    async with run_exchange(port=0, seed=7) as ex:      # ExchangeServer
        ex.clob_url, ex.ws_url, ex.gamma_url, ex.engine, ex.markets, ex.pause_flow()

    ex = EmbeddedExchange(seed=7); urls = ex.start(); ...; ex.stop()   # own thread + loop

    serve(host, port, seed)                              # blocking, for ``polymm exchange``
"""

from .book import MarketBook, Order
from .matching import (
    BookSnapshot,
    Fill,
    LevelChange,
    LevelsChanged,
    MatchingEngine,
    OrderRejected,
    OrderType,
    PlaceResult,
    Trade,
)
from .standin import (
    DEFAULT_FLOW_RATE,
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
from .synthetic import MarketProfile, SyntheticFlow, make_markets, market_profiles
from .trading import TradingConfig

__all__ = [
    "DEFAULT_FLOW_RATE",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_SEED",
    "BookSnapshot",
    "EmbeddedExchange",
    "ExchangeServer",
    "ExchangeUrls",
    "Fill",
    "LevelChange",
    "LevelsChanged",
    "MarketBook",
    "MarketProfile",
    "MatchingEngine",
    "Order",
    "OrderRejected",
    "OrderType",
    "PlaceResult",
    "StandIn",
    "SyntheticFlow",
    "Trade",
    "TradingConfig",
    "make_markets",
    "market_profiles",
    "run_exchange",
    "serve",
]
