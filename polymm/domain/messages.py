"""Typed market-channel messages and a tolerant frame parser.

A Polymarket market-channel frame is one JSON object or a JSON array of them. ``parse_frame``
decodes it straight into typed ``msgspec`` structs (in C: no intermediate dicts) and never raises:
if the fast typed decode rejects a frame, each item is decoded on its own, so a malformed item, an
unknown ``event_type`` or a missing field becomes a counted ``FrameError`` while the rest of the
frame is still delivered.

Prices stay as the wire's decimal strings here and become integer pips where they are applied
(``price_to_pips`` is a table lookup for every string Polymarket sends). Sizes decode to float:
book sizes are for analytics and display only.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

import msgspec


class WireLevel(msgspec.Struct, frozen=True):
    """A ``{"price": "0.52", "size": "30"}`` book level."""

    price: str
    size: float


class LevelChange(msgspec.Struct, frozen=True):
    """One level's new aggregate size on one token (``size`` 0 removes the level).

    ``side`` BUY is a bid level, SELL an ask level.
    """

    asset_id: str
    price: str
    size: float
    side: str
    hash: str = ""
    best_bid: str = ""
    best_ask: str = ""


def _ms(text: str) -> int:
    return int(text) if text.isdigit() else 0


class BookSnapshot(msgspec.Struct, frozen=True, tag_field="event_type", tag="book"):
    """A full replacement of one token's book (``bids``/``asks`` as sent: worst to best)."""

    market: str
    asset_id: str
    bids: list[WireLevel] = []
    asks: list[WireLevel] = []
    timestamp: str = ""
    hash: str = ""
    tick_size: str = ""
    last_trade_price: str = ""
    min_order_size: str = ""

    @property
    def ts(self) -> int:
        return _ms(self.timestamp)


class PriceChange(msgspec.Struct, frozen=True, tag_field="event_type", tag="price_change"):
    """Level changes on one market. The current shape lists them in ``price_changes``; the legacy
    single-asset shape carries one level's fields at the top level (see ``changes``)."""

    market: str
    timestamp: str = ""
    price_changes: list[LevelChange] = []
    # legacy single-level shape
    asset_id: str = ""
    price: str = ""
    size: float = 0.0
    side: str = ""
    hash: str = ""

    @property
    def ts(self) -> int:
        return _ms(self.timestamp)

    @property
    def changes(self) -> list[LevelChange]:
        if self.price_changes or not self.asset_id:
            return self.price_changes
        return [LevelChange(self.asset_id, self.price, self.size, self.side, self.hash)]


class LastTrade(msgspec.Struct, frozen=True, tag_field="event_type", tag="last_trade_price"):
    market: str
    asset_id: str
    price: str
    side: str  # the taker's side
    size: float = 0.0
    fee_rate_bps: str = ""
    timestamp: str = ""
    transaction_hash: str = ""

    @property
    def ts(self) -> int:
        return _ms(self.timestamp)


class TickSizeChange(msgspec.Struct, frozen=True, tag_field="event_type", tag="tick_size_change"):
    market: str
    asset_id: str
    old_tick_size: str
    new_tick_size: str
    timestamp: str = ""

    @property
    def ts(self) -> int:
        return _ms(self.timestamp)


class MarketResolved(msgspec.Struct, frozen=True, tag_field="event_type", tag="market_resolved"):
    """A market resolved (custom-feature event): stop quoting it."""

    market: str
    winning_asset_id: str = ""
    winning_outcome: str = ""
    assets_ids: list[str] = []
    timestamp: str = ""

    @property
    def ts(self) -> int:
        return _ms(self.timestamp)


class Ignored(msgspec.Struct, frozen=True):
    """Event types the book does not need (custom-feature and user-channel events)."""

    event_type: str


MarketEvent = BookSnapshot | PriceChange | LastTrade | TickSizeChange | MarketResolved

#: Event types Polymarket sends that the book skips without counting them as errors.
IGNORED_EVENT_TYPES = frozenset({"best_bid_ask", "new_market", "order", "trade"})


class FrameError(NamedTuple):
    """Why (part of) a frame was skipped. ``kind`` is a short stable key for counting."""

    kind: str
    detail: str


_fast = msgspec.json.Decoder(MarketEvent | list[MarketEvent], strict=False)
_generic = msgspec.json.Decoder()


def parse_item(item: object) -> MarketEvent | FrameError | None:
    """Convert one decoded JSON object. ``None`` means a known event we deliberately ignore."""
    if not isinstance(item, dict):
        return FrameError("not_object", f"item is {type(item).__name__}, expected an object")
    et = item.get("event_type")
    if not isinstance(et, str):  # also keeps an unhashable value out of the set lookups below
        return FrameError("unknown_event", f"event_type {et!r}; known: {', '.join(sorted(_TAGS))}")
    if et in IGNORED_EVENT_TYPES:
        return None
    if et not in _TAGS:
        return FrameError("unknown_event", f"event_type {et!r}; known: {', '.join(sorted(_TAGS))}")
    try:
        return msgspec.convert(item, MarketEvent, strict=False)
    except msgspec.ValidationError as e:
        return FrameError("bad_field", f"{et}: {e}")


_TAGS = frozenset({"book", "price_change", "last_trade_price", "tick_size_change", "market_resolved"})


def parse_frame(raw: bytes | str) -> tuple[list[MarketEvent], list[FrameError]]:
    """Parse one WebSocket frame (object or array) into events and errors. Never raises."""
    try:
        doc = _fast.decode(raw)
        return (doc if isinstance(doc, list) else [doc]), []
    except msgspec.ValidationError:
        pass  # one item is off or of another type: take the frame apart below
    except (msgspec.DecodeError, UnicodeDecodeError) as e:  # msgspec raises the latter for invalid UTF-8
        return [], [FrameError("bad_json", str(e)[:160])]
    try:
        doc = _generic.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as e:  # e.g. a JSON string holding invalid UTF-8
        return [], [FrameError("bad_json", str(e)[:160])]
    events: list[MarketEvent] = []
    errors: list[FrameError] = []
    for item in doc if isinstance(doc, list) else (doc,):
        r = parse_item(item)
        if r is None:
            continue
        if isinstance(r, FrameError):
            errors.append(r)
        else:
            events.append(r)
    return events, errors


class ErrorCounter:
    """Counts skipped input by kind and says whether a kind is new (so it is logged once)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, err: FrameError) -> bool:
        self.counts[err.kind] += 1
        return self.counts[err.kind] == 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())
