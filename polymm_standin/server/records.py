"""The stand-in's order and trade records and their wire shapes (docs/protocol.md §5.3, §5.4).

A trade record has one exact price (one per price level a match crossed); ``TradeRecord.doc`` renders
it for a reader (taker or maker), with the taker's fields on top and every maker fill in
``maker_orders``. Synthetic traders appear under stable UUIDs and made-up addresses.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from eth_utils import to_checksum_address

from polymm.domain.market import Market, Outcome, Side
from polymm.domain.prices import pips_to_str

from ..sim import units
from .accounts import LedgerEntry

_SYNTH_NS = uuid.UUID("6f1c2b1e-9a43-4d55-8a9e-3c2f5d6e7a80")


def _synthetic_key(owner: str) -> str:
    return str(uuid.uuid5(_SYNTH_NS, owner))


def _synthetic_address(owner: str) -> str:
    return to_checksum_address("0x" + hashlib.sha256(f"polymm-synthetic:{owner}".encode()).hexdigest()[:40])


@dataclass(slots=True, eq=False)
class OrderRecord:
    """Everything the venue remembers about one order of a real account, in any status."""

    id: str
    owner: str  # API key
    address: str  # the key's wallet (checksum)
    maker_address: str  # the order's ``maker`` (funder)
    market: Market
    token_id: str
    outcome: Outcome
    side: Side
    price: int  # pips, own token terms
    original: int  # micro-shares
    order_type: str
    expiration: int  # epoch s, 0 = none
    created_ms: int
    matched: int = 0
    status: str = "LIVE"
    trades: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        return self.original - self.matched

    @property
    def outcome_label(self) -> str:
        return self.market.outcomes[0 if self.outcome is Outcome.YES else 1]

    def open_order(self) -> dict[str, Any]:
        """The REST OpenOrder shape (docs/protocol.md §5.4)."""
        return {
            "id": self.id,
            "status": self.status,
            "owner": self.owner,
            "maker_address": self.maker_address,
            "market": self.market.condition_id,
            "asset_id": self.token_id,
            "side": self.side.value,
            "original_size": units.micro_to_str(self.original),
            "size_matched": units.micro_to_str(self.matched),
            "price": pips_to_str(self.price),
            "outcome": self.outcome_label,
            "expiration": str(self.expiration),
            "order_type": self.order_type,
            "associate_trades": list(self.trades),
            "created_at": self.created_ms // 1000,
        }

    def ws_event(self, kind: str, timestamp_ms: int) -> bytes:
        """A user-channel ``order`` event (docs/protocol.md §6.2, fixtures ``order_*.json``)."""
        return orjson.dumps(
            {
                "event_type": "order",
                "type": kind,
                "id": self.id,
                "owner": self.owner,
                "order_owner": self.owner,
                "market": self.market.condition_id,
                "asset_id": self.token_id,
                "side": self.side.value,
                "original_size": units.micro_to_str(self.original),
                "size_matched": units.micro_to_str(self.matched),
                "price": pips_to_str(self.price),
                "associate_trades": list(self.trades) or None,
                "outcome": self.outcome_label,
                "created_at": str(self.created_ms // 1000),
                "expiration": str(self.expiration),
                "order_type": self.order_type,
                "status": self.status,
                "maker_address": self.maker_address,
                "timestamp": str(timestamp_ms),
            }
        )


@dataclass(frozen=True, slots=True)
class MakerFill:
    order_id: str
    owner: str  # wire owner (API key or a synthetic's UUID)
    maker_address: str
    address: str | None  # the real wallet that settles it (None for synthetic)
    size: int
    price: int  # maker's own terms
    asset_id: str
    outcome: str
    side: Side

    def wire(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "owner": self.owner,
            "maker_address": self.maker_address,
            "matched_amount": units.micro_to_str(self.size),
            "price": pips_to_str(self.price),
            "fee_rate_bps": "0",
            "asset_id": self.asset_id,
            "outcome": self.outcome,
            "side": self.side.value,
        }


_NEXT_STATUS = {
    ("MATCHED", False): "MINED",
    ("MINED", False): "CONFIRMED",
    ("MATCHED", True): "RETRYING",
    ("RETRYING", True): "FAILED",
}
TERMINAL_STATUSES = frozenset({"CONFIRMED", "FAILED"})


@dataclass(slots=True, eq=False)
class TradeRecord:
    """One trade at one price between a taker order and one or more makers."""

    id: str
    taker_order_id: str
    market: Market
    asset_id: str
    outcome: str
    side: Side
    size: int
    price: int  # taker terms
    fee: int  # taker fee, micro pUSD
    fee_rate_bps: str
    owner: str  # taker's wire owner
    taker_address: str | None  # the real taker wallet (None for synthetic)
    maker_address: str  # taker's maker address on the wire
    transaction_hash: str
    match_ms: int
    maker_orders: tuple[MakerFill, ...]
    ghost: bool
    status: str = "MATCHED"
    last_update_ms: int = 0
    ledger: list[LedgerEntry] = field(default_factory=list)

    def participants(self) -> dict[str, tuple[str, str]]:
        """Real wallets (lower-cased) → (their API key on this trade, TAKER|MAKER); taker first."""
        out: dict[str, tuple[str, str]] = {}
        if self.taker_address is not None:
            out[self.taker_address.lower()] = (self.owner, "TAKER")
        for m in self.maker_orders:
            if m.address is not None and m.address.lower() not in out:
                out[m.address.lower()] = (m.owner, "MAKER")
        return out

    def rest(self, trader_side: str) -> dict[str, Any]:
        """The ``/data/trades`` shape for a reader on ``trader_side``."""
        return {
            "id": self.id,
            "taker_order_id": self.taker_order_id,
            "market": self.market.condition_id,
            "asset_id": self.asset_id,
            "side": self.side.value,
            "size": units.micro_to_str(self.size),
            "fee_rate_bps": self.fee_rate_bps,
            "price": pips_to_str(self.price),
            "status": self.status,
            "match_time": str(self.match_ms // 1000),
            "last_update": str((self.last_update_ms or self.match_ms) // 1000),
            "outcome": self.outcome,
            "bucket_index": 0,
            "owner": self.owner,
            "maker_address": self.maker_address,
            "transaction_hash": self.transaction_hash,
            "maker_orders": [m.wire() for m in self.maker_orders],
            "trader_side": trader_side,
        }

    def ws_event(self, trade_owner: str, trader_side: str, timestamp_ms: int) -> bytes:
        body = self.rest(trader_side)
        body["event_type"] = "trade"
        body["type"] = "TRADE"
        body["trade_owner"] = trade_owner
        body["timestamp"] = str(timestamp_ms)
        return orjson.dumps(body)
