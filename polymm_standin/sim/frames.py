"""Polymarket's wire shapes, as the stand-in exchange writes them.

Everything that decides how a value looks on the wire lives here, so the matching engine can stay
in integers (price pips, micro-shares) and the server never formats a number by hand:

* sizes are exact integer micro-shares (1e-6, the venue's own on-chain unit) and go out as minimal
  decimal strings (``30000000`` -> ``"30"``, ``219217767`` -> ``"219.217767"``);
* a book level is pre-rendered once as the bytes ``{"price":"0.52","size":"30"}`` and kept beside
  the level (see ``book.BookSide``), so a REST book, a WS ``book`` event and the SHA-1 book hash are
  byte joins of cached fragments rather than per-request dict building;
* the book hash follows the recipe the official client uses (``py_clob_client_v2.utilities.
  generate_orderbook_summary_hash``): SHA-1 of the compact REST body with ``"hash":""``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from polymm.domain.market import Market, Outcome
from polymm.domain.prices import Tick

from .book import MarketBook, rest_bytes
from .units import price_str


def rest_book(book: MarketBook, outcome: Outcome) -> bytes:
    """GET ``/book`` body: every key of docs/protocol.md §3, levels worst→best, hash consistent with the body."""
    return rest_bytes(book, outcome, book.updated_ms, book.hash(outcome))


def ws_book(book: MarketBook, outcome: Outcome) -> bytes:
    """Market-channel ``book`` event: the REST book minus ``min_order_size``/``neg_risk``."""
    m = book.market
    bids, asks = book.fragments(outcome)
    return b"".join(
        (
            b'{"event_type":"book","market":"',
            m.condition_id.encode(),
            b'","asset_id":"',
            m.token(outcome).encode(),
            b'","timestamp":"',
            str(book.updated_ms).encode(),
            b'","hash":"',
            book.hash(outcome).encode(),
            b'","bids":[',
            b",".join(bids),
            b'],"asks":[',
            b",".join(asks),
            b'],"tick_size":"',
            m.tick.text.encode(),
            b'","last_trade_price":"',
            price_str(book.last_trade_price(outcome)).encode(),
            b'"}',
        )
    )


# --------------------------------------------------------------------------------------------- market events


def ws_tick_size_change(market: Market, outcome: Outcome, old: Tick, new: Tick, timestamp_ms: int) -> bytes:
    """``tick_size_change`` for one token (docs/protocol.md §6.1)."""
    return orjson.dumps(
        {
            "event_type": "tick_size_change",
            "market": market.condition_id,
            "asset_id": market.token(outcome),
            "old_tick_size": old.text,
            "new_tick_size": new.text,
            "timestamp": str(timestamp_ms),
        }
    )


def ws_best_bid_ask(market: Market, outcome: Outcome, bid: int | None, ask: int | None, timestamp_ms: int) -> bytes:
    """Custom-feature ``best_bid_ask`` for one token; absent sides (and then the spread) are ``""``."""
    return orjson.dumps(
        {
            "event_type": "best_bid_ask",
            "market": market.condition_id,
            "asset_id": market.token(outcome),
            "best_bid": price_str(bid),
            "best_ask": price_str(ask),
            "spread": price_str(ask - bid) if bid is not None and ask is not None else "",
            "timestamp": str(timestamp_ms),
        }
    )


def ws_market_resolved(market: Market, gamma_id: str, winner: Outcome, timestamp_ms: int) -> bytes:
    """Custom-feature ``market_resolved``."""
    return orjson.dumps(
        {
            "event_type": "market_resolved",
            "id": gamma_id,
            "market": market.condition_id,
            "assets_ids": [market.yes_token, market.no_token],
            "winning_asset_id": market.token(winner),
            "winning_outcome": market.outcomes[0 if winner is Outcome.YES else 1],
            "timestamp": str(timestamp_ms),
        }
    )


def ws_new_market(
    market: Market,
    gamma_id: str,
    event: dict[str, str],
    tags: Sequence[str],
    fee_schedule: dict[str, str | bool] | None,
    timestamp_ms: int,
) -> bytes:
    """Custom-feature ``new_market`` (``event``: id, ticker, slug, title, description)."""
    tokens = [market.yes_token, market.no_token]
    doc: dict[str, Any] = {
        "event_type": "new_market",
        "id": gamma_id,
        "market": market.condition_id,
        "condition_id": market.condition_id,
        "question": market.question,
        "slug": market.slug,
        "assets_ids": tokens,
        "clob_token_ids": tokens,
        "outcomes": list(market.outcomes),
        "active": True,
        "order_price_min_tick_size": market.tick.text,
        "event_message": event,
        "tags": list(tags),
        "fees_enabled": fee_schedule is not None,
        "fee_schedule": fee_schedule,
        "timestamp": str(timestamp_ms),
    }
    return orjson.dumps(doc)
