"""Building test books: a market on a tick, and a ``BookView`` from {price pips: size} maps."""

from __future__ import annotations

import orjson

from polymm.domain.market import Market
from polymm.domain.messages import parse_frame
from polymm.domain.order_book import BookView, OrderBook
from polymm.domain.prices import Tick, pips_to_str

COND = "0x" + "ef" * 32


def market_on(tick: Tick) -> Market:
    return Market(COND, "1", "2", "q?", tick)


def book_view(tick: Tick | str, bids: dict[int, float], asks: dict[int, float]) -> BookView:
    """The view of a book holding exactly these levels, built through a real ``book`` frame."""
    t = tick if isinstance(tick, Tick) else Tick.parse(tick)
    book = OrderBook(market_on(t))
    msg = {
        "event_type": "book",
        "market": COND,
        "asset_id": "1",
        "bids": [{"price": pips_to_str(p), "size": str(s)} for p, s in sorted(bids.items())],
        "asks": [{"price": pips_to_str(p), "size": str(s)} for p, s in sorted(asks.items(), reverse=True)],
    }
    events, errors = parse_frame(orjson.dumps(msg))
    assert errors == []
    book.apply(events[0])
    return book.view()
