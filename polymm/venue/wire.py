"""Typed shapes of Polymarket's user channel and REST answers (msgspec structs, lax decoding).

Only the fields polymm reads are declared; unknown fields are ignored, so additions on the venue
side never break parsing. Decimal amounts stay strings here and are converted exactly where used.
Trade statuses arrive as ``CONFIRMED`` on the WebSocket and ``TRADE_STATUS_CONFIRMED`` on REST:
``trade_status`` strips the prefix.
"""

from __future__ import annotations

import msgspec

# ---------------------------------------------------------------- user channel (/ws/user)


class OrderEvent(msgspec.Struct, frozen=True, tag_field="event_type", tag="order"):
    """PLACEMENT / UPDATE / CANCELLATION of one of our orders."""

    id: str
    market: str
    asset_id: str
    side: str
    price: str
    original_size: str
    size_matched: str = "0"
    type: str = ""
    status: str = ""
    outcome: str = ""
    owner: str = ""
    order_type: str = ""
    expiration: str = "0"
    created_at: str = ""
    timestamp: str = ""


class MakerOrder(msgspec.Struct, frozen=True):
    order_id: str
    matched_amount: str
    price: str
    asset_id: str = ""
    owner: str = ""
    maker_address: str = ""
    outcome: str = ""
    side: str = ""
    fee_rate_bps: str = "0"


class TradeEvent(msgspec.Struct, frozen=True, tag_field="event_type", tag="trade"):
    """A match that involves us, as taker or maker; re-sent on each status change."""

    id: str
    market: str
    asset_id: str
    side: str  # the taker's side
    size: str
    price: str
    status: str
    taker_order_id: str = ""
    maker_orders: list[MakerOrder] = []
    trader_side: str = ""
    owner: str = ""
    outcome: str = ""
    fee_rate_bps: str = "0"
    match_time: str = ""
    last_update: str = ""
    transaction_hash: str = ""
    timestamp: str = ""


UserEvent = OrderEvent | TradeEvent
_user = msgspec.json.Decoder(UserEvent | list[UserEvent], strict=False)


def parse_user_frame(raw: bytes | str) -> list[UserEvent]:
    """Decode one user-channel frame (object or array). Raises ``msgspec.DecodeError`` on bad
    input; the user socket counts and skips such frames."""
    doc = _user.decode(raw)
    return doc if isinstance(doc, list) else [doc]


def trade_status(status: str) -> str:
    return status.removeprefix("TRADE_STATUS_")


# ---------------------------------------------------------------- CLOB REST


class ClobToken(msgspec.Struct, frozen=True):
    token_id: str
    outcome: str
    price: float = 0.0
    winner: bool = False


class ClobMarket(msgspec.Struct, frozen=True):
    """One entry of CLOB ``/markets`` (and ``/markets/{condition_id}``)."""

    condition_id: str
    tokens: list[ClobToken]
    question: str = ""
    market_slug: str = ""
    active: bool = True
    closed: bool = False
    accepting_orders: bool = True
    enable_order_book: bool = True
    minimum_order_size: float = 5.0
    minimum_tick_size: float = 0.01
    neg_risk: bool = False
    end_date_iso: str | None = None


class ClobMarketsPage(msgspec.Struct, frozen=True):
    data: list[ClobMarket]
    next_cursor: str = "LTE="
    limit: int = 0
    count: int = 0


# ---------------------------------------------------------------- Gamma and Data API


class GammaEvent(msgspec.Struct, frozen=True):
    """A Gamma event; its ``markets`` stay raw and go through ``rest.market_from_gamma``."""

    id: str
    slug: str = ""
    title: str = ""
    active: bool = True
    closed: bool = False
    markets: list[dict] = []


class DataTrade(msgspec.Struct, frozen=True):
    """A Data API trade (numbers, camelCase)."""

    side: str
    asset: str
    conditionId: str
    size: float
    price: float
    timestamp: int
    outcome: str = ""
    transactionHash: str = ""


def decode(raw: bytes | str, shape: type) -> object:
    """Decode ``raw`` into ``shape`` leniently (numeric strings accepted as numbers)."""
    return msgspec.json.decode(raw, type=shape, strict=False)
