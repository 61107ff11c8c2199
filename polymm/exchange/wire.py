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

import hashlib
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from polymm.domain.market import Market, Outcome
from polymm.domain.prices import MAX_PIPS, Tick, pips_to_str

if TYPE_CHECKING:
    from .book import MarketBook

MICRO = 1_000_000
_MICRO_D = Decimal(MICRO)

#: Price strings as bytes, indexed by pips, for building level fragments without formatting.
_PRICE_BYTES: tuple[bytes, ...] = tuple(pips_to_str(p).encode() for p in range(MAX_PIPS + 1))


class SizeError(ValueError):
    """A size that is not a positive multiple of 1e-6 shares."""


def now_ms() -> int:
    """Wall-clock epoch milliseconds (the venue's WS and book timestamp unit)."""
    return time.time_ns() // 1_000_000


def micro_to_str(micro: int) -> str:
    """Minimal decimal string for a micro-share (or micro-USDC) amount: ``1500000`` -> ``"1.5"``."""
    whole, frac = divmod(micro, MICRO)
    if frac == 0:
        return str(whole)
    return f"{whole}.{frac:06d}".rstrip("0")


def to_micro(size: Decimal | str | int) -> int:
    """Exact micro-shares from a decimal share amount; ints are whole shares.

    Raises ``SizeError`` for non-numbers, more than six decimals, or non-positive sizes.
    """
    try:
        d = Decimal(size) if not isinstance(size, Decimal) else size
        if not d.is_finite():
            raise ValueError
        scaled = d * _MICRO_D
        exact = scaled == scaled.to_integral_value()
    except (ArithmeticError, TypeError, ValueError):
        raise SizeError(f"size {size!r} is not a number") from None
    if not exact:
        raise SizeError(f"size {size!r} has more than 6 decimals")
    micro = int(scaled)
    if micro <= 0:
        raise SizeError(f"size {size!r} must be positive")
    return micro


def decimal_str(d: Decimal) -> str:
    """Plain (non-scientific), minimal decimal string: ``Decimal("5.00")`` -> ``"5"``."""
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def price_str(pips: int | None) -> str:
    """Wire price string, ``""`` when absent (the WS convention for missing decimals)."""
    return "" if pips is None else pips_to_str(pips)


def level_fragment(price_pips: int, size_micro: int) -> bytes:
    """One rendered book level, exactly as the compact JSON the hash recipe serializes."""
    return b'{"price":"%s","size":"%s"}' % (_PRICE_BYTES[price_pips], micro_to_str(size_micro).encode())


# --------------------------------------------------------------------------------------------- books


def _rest_bytes(book: MarketBook, outcome: Outcome, timestamp_ms: int, hash_: str) -> bytes:
    m = book.market
    bids, asks = book.fragments(outcome)
    return b"".join(
        (
            b'{"market":"',
            m.condition_id.encode(),
            b'","asset_id":"',
            m.token(outcome).encode(),
            b'","timestamp":"',
            str(timestamp_ms).encode(),
            b'","hash":"',
            hash_.encode(),
            b'","bids":[',
            b",".join(bids),
            b'],"asks":[',
            b",".join(asks),
            b'],"min_order_size":"',
            decimal_str(m.min_order_size).encode(),
            b'","tick_size":"',
            m.tick.text.encode(),
            b'","neg_risk":',
            b"true" if m.neg_risk else b"false",
            b',"last_trade_price":"',
            price_str(book.last_trade_price(outcome)).encode(),
            b'"}',
        )
    )


def book_hash(book: MarketBook, outcome: Outcome, timestamp_ms: int) -> str:
    """SHA-1 hex of the compact REST book with an empty hash (the official client's recipe)."""
    return hashlib.sha1(_rest_bytes(book, outcome, timestamp_ms, "")).hexdigest()


def rest_book(book: MarketBook, outcome: Outcome) -> bytes:
    """GET ``/book`` body: every key of PROTOCOL §3, levels worst→best, hash consistent with the body."""
    return _rest_bytes(book, outcome, book.updated_ms, book.hash(outcome))


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
    """``tick_size_change`` for one token (PROTOCOL §6.1)."""
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
    fee_schedule: dict[str, str] | None,
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


# --------------------------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An HTTP error the venue answers as ``{"error": message}`` (PROTOCOL §2), never a traceback."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer (orjson), as every stand-in route gives it."""
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json", headers=headers)
