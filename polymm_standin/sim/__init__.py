"""The stand-in exchange without sockets: book, matching, frames, catalog, synthetic flow, market channel.

Imports only ``polymm.domain`` (and the standard library, orjson): the backtest builds its simulated
venue from these names without loading the server or aiohttp.
"""

from .book import MarketBook, Order
from .catalog import QUESTIONS, Catalog, MarketProfile, make_markets, market_profiles
from .flow import DEFAULT_FLOW_RATE, FairValue, SyntheticFlow
from .market_channel import MarketChannel, Sink, Subscription
from .matching import (
    POST_ONLY_CROSSES,
    BookSnapshot,
    Event,
    Fill,
    LevelChange,
    LevelsChanged,
    MatchingEngine,
    OrderRejected,
    OrderType,
    PlaceResult,
    Trade,
)
from .rewards import maker_scores

__all__ = [
    "DEFAULT_FLOW_RATE",
    "POST_ONLY_CROSSES",
    "QUESTIONS",
    "BookSnapshot",
    "Catalog",
    "Event",
    "FairValue",
    "Fill",
    "LevelChange",
    "LevelsChanged",
    "MarketBook",
    "MarketChannel",
    "MarketProfile",
    "MatchingEngine",
    "Order",
    "OrderRejected",
    "OrderType",
    "PlaceResult",
    "Sink",
    "Subscription",
    "SyntheticFlow",
    "Trade",
    "make_markets",
    "maker_scores",
    "market_profiles",
]
