"""The trading core of the stand-in exchange: signed orders, cancels, order/trade records, heartbeats.

``Trading`` sits between the HTTP routes (``TradingApi``) and the matching engine. It

* verifies and admits signed V2 orders (PROTOCOL §5): owner = API key, signer = the key's address,
  EIP-712 signature, order id = digest, implied price on the tick grid, GTD expiration, funds net of
  open orders, then hands the order to the engine, which applies the book rules (post-only, min size,
  $1 marketable minimum, FOK/FAK) with Polymarket's own error strings;
* listens to the engine: every ``Trade`` that involves a real account (taker or maker) becomes one
  trade record PER PRICE LEVEL (so each record has one exact price), settles balances in each
  participant's own terms (``accounts``), updates the maker orders' ``size_matched``, and pushes
  ``order``/``trade`` events to the user channel; every cancel (whoever triggered it) marks the order
  CANCELED and pushes a CANCELLATION;
* drives each trade's status on a timer: MATCHED → MINED → CONFIRMED, ``trade_step_s`` apart, or —
  when ``faults.take_ghost_fill()`` says so at match time — MATCHED → RETRYING → FAILED, and a FAILED
  trade reverses exactly the balances it moved (orders keep their ``size_matched``, as on Polymarket).
  Ghost fills are only consumed by trades with a real participant (synthetic-only trades never use up
  the budget a test set). What a trade that is going to fail brought in (shares bought, pUSD from a
  sale) is not available to new orders (PROTOCOL §10 pitfall 5: selling unsettled shares is refused with
  ``not enough balance / allowance``), so the reversal never takes a balance below zero;
* runs the heartbeat dead-man switch (``heartbeat``) and expires GTD orders;
* on a market resolution (``admin.Controls.resolution_listeners``) redeems every holder: winning
  shares pay 1 pUSD, both tokens are burned.

Identity: orders and trades belong to a wallet ADDRESS (all its API keys see and cancel them); the
engine owner of an order is the API key that placed it. Balances are keyed by the API key's address
(the EOA signer); the order's ``maker`` is shown as ``maker_address``. The stand-in's synthetic
traders (engine owners ``synthetic…``) appear on the wire under stable UUIDs and made-up addresses.

Trade shape (PROTOCOL §5.4, fixtures): top-level ``side``/``asset_id``/``price``/``outcome``/``owner``/
``maker_address`` are the TAKER's; ``maker_orders[]`` lists every maker fill with the maker's own
``side``/``price``/``asset_id``; ``trader_side`` is the reader's role (TAKER or MAKER) and, on the
WebSocket, ``trade_owner`` is the recipient's API key. ``/data/trades`` lists oldest first, so offset
cursors stay valid while new trades arrive.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from eth_utils import to_checksum_address

from polymm.domain.market import Market, Outcome, Side
from polymm.domain.prices import MAX_PIPS, PIPS_PER_UNIT, pips_to_str

from . import wire
from .accounts import Accounts, LedgerEntry, fee_micro, notional_micro
from .auth import (
    AUTH_WINDOW_S,
    EXCHANGE_V2,
    NEG_RISK_ADAPTER,
    NEG_RISK_EXCHANGE_V2,
    ApiKey,
    KeyStore,
    OrderFormatError,
    parse_order,
    verify_l1,
    verify_l2,
)
from .faults import Faults
from .heartbeat import DEFAULT_HEARTBEAT_TIMEOUT_S, HeartbeatError, Heartbeats
from .matching import (
    INVALID_TOKEN,
    POST_ONLY_TYPE,
    Event,
    Fill,
    MatchingEngine,
    OrderRejected,
    OrderType,
    Trade,
)
from .user_channel import UserChannel
from .wire import json_response as _json_response

if TYPE_CHECKING:
    from .book import Order
    from .standin import StandIn

log = logging.getLogger(__name__)

OWNER_MISMATCH = "the order owner has to be the owner of the API KEY"
SIGNER_MISMATCH = "the order signer address has to be the address of the API KEY"
INVALID_SIGNATURE = "invalid signature"
INVALID_EXPIRATION = "invalid expiration"
INVALID_PAYLOAD = "Invalid order payload"
#: PROTOCOL.md gives no string for orders on a resolved market; this one is the stand-in's choice.
MARKET_CLOSED = "the market is closed: it has resolved and accepts no new orders"
BAD_JSON = "Invalid payload"
ORDER_NOT_FOUND = "Order not found"
NOT_CANCELED = "already canceled or matched"
MAX_BATCH_ORDERS = 15
MAX_BATCH_CANCELS = 1000
GTD_MIN_LEAD_S = 60
MAX_ALLOWANCE = str((1 << 256) - 1)
START_CURSOR = "MA=="
END_CURSOR = "LTE="


@dataclass(slots=True)
class TradingConfig:
    """Knobs of the trading core (mutable at run time; read when used)."""

    #: pUSD a new wallet starts with.
    starting_balance: Decimal = Decimal(10_000)
    #: Taker fee rate of markets without their own (``accounts.set_fee_rate``).
    default_fee_rate: Decimal = Decimal(0)
    #: Silence after the last heartbeat that cancels a wallet's orders.
    heartbeat_timeout_s: float = DEFAULT_HEARTBEAT_TIMEOUT_S
    #: Delay between trade statuses (MATCHED → MINED → CONFIRMED, or → RETRYING → FAILED).
    trade_step_s: float = 1.0
    #: Page size of ``/data/orders`` and ``/data/trades``.
    page_size: int = 100
    #: Accepted clock skew of auth timestamps, seconds.
    auth_window_s: float = AUTH_WINDOW_S
    #: How often heartbeats and GTD expirations are checked.
    monitor_interval_s: float = 0.05


# --------------------------------------------------------------------------------------------- records


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
        """The REST OpenOrder shape (PROTOCOL §5.4)."""
        return {
            "id": self.id,
            "status": self.status,
            "owner": self.owner,
            "maker_address": self.maker_address,
            "market": self.market.condition_id,
            "asset_id": self.token_id,
            "side": self.side.value,
            "original_size": wire.micro_to_str(self.original),
            "size_matched": wire.micro_to_str(self.matched),
            "price": pips_to_str(self.price),
            "outcome": self.outcome_label,
            "expiration": str(self.expiration),
            "order_type": self.order_type,
            "associate_trades": list(self.trades),
            "created_at": self.created_ms // 1000,
        }

    def ws_event(self, kind: str, timestamp_ms: int) -> bytes:
        """A user-channel ``order`` event (PROTOCOL §6.2, fixtures ``order_*.json``)."""
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
                "original_size": wire.micro_to_str(self.original),
                "size_matched": wire.micro_to_str(self.matched),
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
            "matched_amount": wire.micro_to_str(self.size),
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
            "size": wire.micro_to_str(self.size),
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


# --------------------------------------------------------------------------------------------- helpers


_SYNTH_NS = uuid.UUID("6f1c2b1e-9a43-4d55-8a9e-3c2f5d6e7a80")


def _synthetic_key(owner: str) -> str:
    return str(uuid.uuid5(_SYNTH_NS, owner))


def _synthetic_address(owner: str) -> str:
    return to_checksum_address("0x" + hashlib.sha256(f"polymm-synthetic:{owner}".encode()).hexdigest()[:40])


def encode_cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    """Offset of a ``next_cursor`` (``MA==`` = 0, ``LTE=`` = end → -1); ApiError on junk."""
    if not cursor:
        return 0
    try:
        offset = int(base64.b64decode(cursor, validate=True).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise wire.ApiError(400, f"invalid next_cursor: {cursor!r}") from None
    if offset < -1:
        raise wire.ApiError(400, f"invalid next_cursor: {cursor!r}")
    return offset


def page(items: list[Any], cursor: str | None, limit: int) -> dict[str, Any]:
    """One page of the CLOB envelope ``{limit,count,next_cursor,data}``."""
    offset = decode_cursor(cursor)
    if offset < 0:
        return {"limit": limit, "count": 0, "next_cursor": END_CURSOR, "data": []}
    data = items[offset : offset + limit]
    nxt = offset + limit
    return {
        "limit": limit,
        "count": len(data),
        "next_cursor": encode_cursor(nxt) if nxt < len(items) else END_CURSOR,
        "data": data,
    }


def _price_text(usdc: int, shares: int) -> str:
    return wire.decimal_str((Decimal(usdc) / Decimal(shares)).quantize(Decimal("0.000001")))


def _tick_error(order_id: str, shown: str, market: Market) -> wire.ApiError:
    return wire.ApiError(
        400, f"order {order_id} is invalid. Price ({shown}) breaks minimum tick size rule: {market.tick.text}"
    )


# --------------------------------------------------------------------------------------------- core


class Trading:
    """Order entry, order/trade records, settlement, trade lifecycle, heartbeats (see module doc)."""

    def __init__(
        self,
        engine: MatchingEngine,
        keys: KeyStore,
        accounts: Accounts,
        user_channel: UserChannel,
        faults: Faults,
        config: TradingConfig | None = None,
        clock: Callable[[], int] = wire.now_ms,
    ) -> None:
        self.engine = engine
        self.keys = keys
        self.accounts = accounts
        self.user_channel = user_channel
        self.faults = faults
        self.config = config or TradingConfig()
        self._clock = clock
        self.heartbeats = Heartbeats(self.config.heartbeat_timeout_s)
        self.orders: dict[str, OrderRecord] = {}
        self.closed_markets: set[str] = set()  # resolved: no new orders
        self.trades: dict[str, TradeRecord] = {}
        self._live: dict[str, dict[str, OrderRecord]] = {}
        self._gtd: dict[str, OrderRecord] = {}
        self._trades_by_address: dict[str, list[TradeRecord]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        #: Trades that will fail (ghosts) and have not yet: what they brought in cannot be spent.
        self._failing: dict[str, TradeRecord] = {}
        self._monitor: asyncio.Task[None] | None = None
        #: Orders auto-cancelled by the heartbeat switch (count; for tests and diagnostics).
        self.heartbeat_cancels = 0
        engine.add_listener(self._on_event)
        engine.add_cancel_listener(self._on_cancel)

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self._monitor is None:
            self._monitor = asyncio.create_task(self._run_monitor(), name="trading-monitor")

    async def stop(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None

    async def _run_monitor(self) -> None:
        while True:
            await asyncio.sleep(max(0.005, self.config.monitor_interval_s))
            try:
                self.check_timeouts()
            except Exception:
                log.exception("trading monitor failed")

    def check_timeouts(self) -> None:
        """Cancel the orders of wallets whose heartbeat lapsed, and expired GTD orders."""
        if self.faults.heartbeats_honoured:
            for address in self.heartbeats.expired():
                ids = list(self._live.get(address, {}))
                if ids:
                    log.info("heartbeat lapsed for %s: cancelling %d orders", address, len(ids))
                    self.heartbeat_cancels += len(ids)
                    self.engine.cancel_orders(ids)
        if self._gtd:
            now = time.time()
            expired = [oid for oid, rec in self._gtd.items() if rec.expiration <= now]
            if expired:
                self.engine.cancel_orders(expired)

    # ---------------------------------------------------------------- accounts & queries

    def open_account(self, address: str, nonce: int = 0) -> ApiKey:
        """Python-side: the API key of (address, nonce), created (with its funded account) if new."""
        api_key = self.keys.create_or_derive(address, nonce)
        self.accounts.account(api_key.address)
        return api_key

    def live_orders(self, address: str) -> list[OrderRecord]:
        return list(self._live.get(address.lower(), {}).values())

    def trades_of(self, address: str) -> list[TradeRecord]:
        """The wallet's trades (as taker or maker), oldest first."""
        return list(self._trades_by_address.get(address.lower(), ()))

    def reserved(self, address: str) -> tuple[int, dict[str, int]]:
        """(pUSD micro reserved by live BUYs, shares micro reserved by live SELLs per token)."""
        cash = 0
        shares: dict[str, int] = {}
        for rec in self._live.get(address.lower(), {}).values():
            if rec.side is Side.BUY:
                cash += notional_micro(rec.remaining, rec.price, round_up=True)
            else:
                shares[rec.token_id] = shares.get(rec.token_id, 0) + rec.remaining
        return cash, shares

    def failing_in(self, address: str, token_id: str | None) -> int:
        """What trades that are going to fail brought ``address`` and it cannot spend: shares of
        ``token_id`` (micro), or pUSD (micro) when ``token_id`` is None."""
        low = address.lower()
        total = 0
        for rec in self._failing.values():
            for e in rec.ledger:
                if e.address.lower() != low:
                    continue
                if token_id is None:
                    total += max(e.cash, 0)
                elif e.token_id == token_id:
                    total += max(e.shares, 0)
        return total

    # ---------------------------------------------------------------- order entry

    def place(self, api_key: ApiKey, body: object) -> dict[str, Any]:
        """Admit one ``POST /order`` body; returns the success reply or raises ``wire.ApiError``."""
        if not isinstance(body, dict):
            raise wire.ApiError(400, INVALID_PAYLOAD)
        try:
            signed = parse_order(body.get("order"))
        except OrderFormatError as exc:
            raise wire.ApiError(400, f"{INVALID_PAYLOAD}: {exc}") from None
        if body.get("owner") != api_key.key:
            raise wire.ApiError(400, OWNER_MISMATCH)
        try:
            order_type = OrderType(body.get("orderType", "GTC"))
        except ValueError:
            raise wire.ApiError(400, f"invalid order type: {body.get('orderType')!r}") from None
        post_only = body.get("postOnly", False)
        if not isinstance(post_only, bool):
            raise wire.ApiError(400, f"{INVALID_PAYLOAD}: invalid postOnly")
        token_id = str(signed.token_id)
        found = self.engine.lookup(token_id)
        if found is None:
            raise wire.ApiError(400, INVALID_TOKEN)
        book, outcome = found
        market = book.market
        if market.condition_id in self.closed_markets:
            raise wire.ApiError(400, MARKET_CLOSED)
        if signed.signer.lower() != api_key.address.lower():
            raise wire.ApiError(400, SIGNER_MISMATCH)
        order_id, recovered = signed.signer_of(market.neg_risk)
        if recovered is None:
            raise wire.ApiError(400, INVALID_SIGNATURE)
        if order_id in self.orders:
            raise wire.ApiError(400, f"order {order_id} is invalid. Duplicated.")
        if post_only and not order_type.rests:
            raise wire.ApiError(400, POST_ONLY_TYPE)
        if order_type is OrderType.GTD and signed.expiration <= time.time() + GTD_MIN_LEAD_S:
            raise wire.ApiError(400, INVALID_EXPIRATION)

        side = Side.BUY if signed.side == 0 else Side.SELL
        price, size = self._implied(order_id, signed.maker_amount, signed.taker_amount, side, order_type, market)
        self._check_funds(api_key.address, market, outcome, token_id, side, price, size)

        rec = OrderRecord(
            id=order_id,
            owner=api_key.key,
            address=api_key.address,
            maker_address=signed.maker,
            market=market,
            token_id=token_id,
            outcome=outcome,
            side=side,
            price=price,
            original=size,
            order_type=order_type.value,
            expiration=signed.expiration,
            created_ms=self._clock(),
            status="MATCHED",
        )
        self.orders[order_id] = rec  # before matching: the trade listener settles the taker through it
        try:
            result = self.engine.place(
                api_key.key,
                token_id,
                side,
                price,
                Decimal(size) / wire.MICRO,
                post_only=post_only,
                order_type=order_type,
                order_id=order_id,
            )
        except OrderRejected as exc:
            del self.orders[order_id]
            raise wire.ApiError(400, exc.message) from None
        except Exception:
            del self.orders[order_id]
            raise

        if result.resting is not None:
            rec.status = "LIVE"
            self._live.setdefault(api_key.address.lower(), {})[order_id] = rec
            if order_type is OrderType.GTD and rec.expiration:
                self._gtd[order_id] = rec
            self._publish_order(rec, "PLACEMENT")

        trade_ids = list(rec.trades)
        making = taking = ""
        hashes: list[str] = []
        if trade_ids:
            recs = [self.trades[t] for t in trade_ids if t in self.trades]
            shares = sum(t.size for t in recs)
            usdc = sum(notional_micro(t.size, t.price) for t in recs)
            making, taking = (usdc, shares) if side is Side.BUY else (shares, usdc)
            making, taking = wire.micro_to_str(making), wire.micro_to_str(taking)
            hashes = list(dict.fromkeys(t.transaction_hash for t in recs))
        return {
            "success": True,
            "errorMsg": "",
            "orderID": order_id,
            "status": result.status,
            "makingAmount": making,
            "takingAmount": taking,
            "tradeIDs": trade_ids,
            "transactionsHashes": hashes,
        }

    def _implied(
        self, order_id: str, maker_amount: int, taker_amount: int, side: Side, order_type: OrderType, market: Market
    ) -> tuple[int, int]:
        """(price pips, size micro-shares) from the signed amounts (PROTOCOL §5.2)."""
        usdc, shares = (maker_amount, taker_amount) if side is Side.BUY else (taker_amount, maker_amount)
        min_text = wire.decimal_str(market.min_order_size)
        if shares == 0:
            raise wire.ApiError(400, f"order {order_id} is invalid. Size (0) lower than the minimum: {min_text}")
        tick = market.tick
        num = usdc * PIPS_PER_UNIT
        if num % shares == 0:
            pips = num // shares
            if not tick.valid(pips):
                shown = pips_to_str(pips) if pips <= MAX_PIPS else _price_text(usdc, shares)
                raise _tick_error(order_id, shown, market)
            return pips, shares
        if order_type.rests:
            raise _tick_error(order_id, _price_text(usdc, shares), market)
        # Market (FOK/FAK) orders: the client derives one amount from the other with rounding, so
        # the implied price is only near the tick the order was priced at; use the nearest tick.
        pips = (2 * num + shares * tick.pips) // (2 * shares * tick.pips) * tick.pips
        if not tick.valid(pips):
            raise _tick_error(order_id, _price_text(usdc, shares), market)
        return pips, shares

    def _check_funds(
        self, address: str, market: Market, outcome: Outcome, token_id: str, side: Side, price: int, size: int
    ) -> None:
        cash_reserved, shares_reserved = self.reserved(address)
        acct = self.accounts.account(address)
        book = self.engine.market_book(market.condition_id)
        assert book is not None
        if side is Side.BUY:
            amount = notional_micro(size, price, round_up=True)
            best = book.best_ask(outcome)
            if best is not None and best <= price:  # marketable: add the worst-case taker fee
                amount += fee_micro(size, _max_variance_price(best, price), self.accounts.fee_rate(market.condition_id))
            balance, reserved = acct.cash - self.failing_in(address, None), cash_reserved
        else:
            amount = size
            balance = acct.shares(token_id) - self.failing_in(address, token_id)
            reserved = shares_reserved.get(token_id, 0)
        if balance - reserved < amount:
            raise wire.ApiError(
                400,
                "not enough balance / allowance: the balance is not enough -> "
                f"balance: {balance}, sum of active orders: {reserved}, order amount (inc. fees): {amount}",
            )

    # ---------------------------------------------------------------- cancels

    def cancel(self, address: str, order_ids: Iterable[object]) -> dict[str, Any]:
        """Cancel the wallet's live orders among ``order_ids``; the venue's cancel reply."""
        live = self._live.get(address.lower(), {})
        ids: list[str] = []
        not_canceled: dict[str, str] = {}
        for oid in dict.fromkeys(order_ids):
            if isinstance(oid, str) and oid in live:
                ids.append(oid)
            else:
                not_canceled[str(oid)] = NOT_CANCELED
        done = [o.id for o in self.engine.cancel_orders(ids)] if ids else []
        for oid in ids:
            if oid not in done:
                not_canceled[oid] = NOT_CANCELED
        return {"canceled": done, "not_canceled": not_canceled}

    def cancel_where(self, address: str, market: str | None = None, asset_id: str | None = None) -> dict[str, Any]:
        recs = self._live.get(address.lower(), {}).values()
        ids = [
            r.id
            for r in recs
            if (market is None or r.market.condition_id.lower() == market.lower())
            and (asset_id is None or r.token_id == asset_id)
        ]
        return self.cancel(address, ids)

    def _on_cancel(self, orders: list[Order]) -> None:
        ts = self._clock()
        for order in orders:
            rec = self.orders.get(order.id)
            if rec is None or rec.status != "LIVE":
                continue
            rec.status = "CANCELED"
            self._forget_live(rec)
            self._publish_order(rec, "CANCELLATION", ts)

    def _forget_live(self, rec: OrderRecord) -> None:
        live = self._live.get(rec.address.lower())
        if live is not None:
            live.pop(rec.id, None)
            if not live:
                del self._live[rec.address.lower()]
        self._gtd.pop(rec.id, None)

    # ---------------------------------------------------------------- heartbeats

    def on_resolution(self, resolution: Any) -> None:
        """A market resolved (``admin.Controls.resolution_listeners``): auto-redeem every holder.

        Winning shares pay 1 pUSD each, both tokens are burned; the orders the venue cancelled for
        the resolution (already CANCELED by the cancel listener) read ``CANCELED_MARKET_RESOLVED``.
        """
        self.closed_markets.add(resolution.condition_id)
        for order in getattr(resolution, "cancelled", ()):
            rec = self.orders.get(order.id)
            if rec is not None and rec.status == "CANCELED":
                rec.status = "CANCELED_MARKET_RESOLVED"
        book = self.engine.market_book(resolution.condition_id)
        if book is None:
            return
        m = book.market
        losing = m.no_token if resolution.winning_token == m.yes_token else m.yes_token
        paid = self.accounts.redeem(resolution.winning_token, losing)
        if paid:
            log.info("market %s resolved: redeemed %d accounts", m.condition_id, len(paid))

    def heartbeat(self, address: str, heartbeat_id: str) -> str:
        self.heartbeats.timeout_s = self.config.heartbeat_timeout_s
        return self.heartbeats.beat(address, heartbeat_id)

    # ---------------------------------------------------------------- matching events

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Trade):
            self._on_trade(event)

    def _on_trade(self, trade: Trade) -> None:
        taker = self.orders.get(trade.taker_order_id)
        if taker is not None and taker.owner != trade.taker_owner:
            taker = None
        maker_recs = {f.maker_order_id: self.orders.get(f.maker_order_id) for f in trade.fills}
        if taker is None and not any(maker_recs.values()):
            return  # synthetic traders among themselves
        market = trade.book.market
        cond = market.condition_id
        rate = self.accounts.fee_rate(cond)
        rate_bps = self.accounts.fee_rate_bps(cond)
        taker_owner = taker.owner if taker is not None else _synthetic_key(trade.taker_owner)
        taker_maker_address = taker.maker_address if taker is not None else _synthetic_address(trade.taker_owner)
        label = market.outcomes[0 if trade.outcome is Outcome.YES else 1]

        levels: dict[int, list[Fill]] = {}
        for fill in trade.fills:
            levels.setdefault(trade.taker_price(fill), []).append(fill)
        records: list[TradeRecord] = []
        touched: dict[str, OrderRecord] = {}
        for i, (price, fills) in enumerate(levels.items()):
            trade_id = trade.id if i == 0 else str(
                uuid.UUID(bytes=hashlib.sha256(f"{trade.id}:{i}".encode()).digest()[:16], version=4)
            )
            size = sum(f.size for f in fills)
            makers: list[MakerFill] = []
            ledger: list[LedgerEntry] = []
            for f in fills:
                mrec = maker_recs.get(f.maker_order_id)
                if mrec is not None and mrec.owner != f.maker_owner:
                    mrec = None
                if mrec is not None:
                    mrec.matched += f.size
                    mrec.trades.append(trade_id)
                    touched[mrec.id] = mrec
                    ledger.append(
                        self.accounts.settle(mrec.address, f.maker_token, f.maker_side, f.size, f.maker_price, 0)
                    )
                makers.append(
                    MakerFill(
                        order_id=f.maker_order_id,
                        owner=mrec.owner if mrec is not None else _synthetic_key(f.maker_owner),
                        maker_address=mrec.maker_address if mrec is not None else _synthetic_address(f.maker_owner),
                        address=mrec.address if mrec is not None else None,
                        size=f.size,
                        price=f.maker_price,
                        asset_id=f.maker_token,
                        outcome=market.outcomes[0 if f.maker_outcome is Outcome.YES else 1],
                        side=f.maker_side,
                    )
                )
            fee = 0
            if taker is not None:
                fee = fee_micro(size, price, rate)
                taker.matched += size
                taker.trades.append(trade_id)
                ledger.insert(0, self.accounts.settle(taker.address, trade.token_id, trade.side, size, price, fee))
            rec = TradeRecord(
                id=trade_id,
                taker_order_id=trade.taker_order_id,
                market=market,
                asset_id=trade.token_id,
                outcome=label,
                side=trade.side,
                size=size,
                price=price,
                fee=fee,
                fee_rate_bps=rate_bps,
                owner=taker_owner,
                taker_address=taker.address if taker is not None else None,
                maker_address=taker_maker_address,
                transaction_hash=trade.transaction_hash,
                match_ms=trade.timestamp_ms,
                maker_orders=tuple(makers),
                # only a record a real account is party to takes a ghost: a sweep's synthetic-only
                # level must not use it up (nobody would ever see that trade fail)
                ghost=(taker is not None or any(m.address is not None for m in makers))
                and self.faults.take_ghost_fill(),
                last_update_ms=trade.timestamp_ms,
                ledger=ledger,
            )
            self.trades[trade_id] = rec
            if rec.ghost:
                self._failing[trade_id] = rec
            for address in rec.participants():
                self._trades_by_address.setdefault(address, []).append(rec)
            records.append(rec)

        for mrec in touched.values():
            live = self.engine.order(mrec.id)
            if live is None or live.remaining == 0:
                mrec.status = "MATCHED"
                self._forget_live(mrec)
        ts = self._clock()
        for rec in records:
            self._publish_trade(rec, ts)
            self._schedule(rec)
        for mrec in touched.values():
            self._publish_order(mrec, "UPDATE", ts)

    # ---------------------------------------------------------------- trade lifecycle

    def _schedule(self, rec: TradeRecord) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # driven synchronously (no loop): statuses stay put until advance_trade()
        self._timers[rec.id] = loop.call_later(max(0.0, self.config.trade_step_s), self.advance_trade, rec.id)

    def advance_trade(self, trade_id: str) -> str | None:
        """Move one trade to its next status now (the timer calls this); returns the new status."""
        self._timers.pop(trade_id, None)
        rec = self.trades.get(trade_id)
        if rec is None or rec.status in TERMINAL_STATUSES:
            return None
        nxt = _NEXT_STATUS.get((rec.status, rec.ghost))
        if nxt is None:
            return None
        rec.status = nxt
        rec.last_update_ms = self._clock()
        if nxt == "FAILED":
            self.accounts.reverse(rec.ledger)
            rec.ledger = []
            self._failing.pop(trade_id, None)
        self._publish_trade(rec, rec.last_update_ms)
        if nxt not in TERMINAL_STATUSES:
            self._schedule(rec)
        return nxt

    # ---------------------------------------------------------------- user channel

    def _publish_order(self, rec: OrderRecord, kind: str, ts: int | None = None) -> None:
        if not self.user_channel.has_listeners(rec.address):
            return
        self.user_channel.publish(rec.address, rec.market.condition_id, rec.ws_event(kind, ts or self._clock()))

    def _publish_trade(self, rec: TradeRecord, ts: int) -> None:
        for address, (key, trader_side) in rec.participants().items():
            if self.user_channel.has_listeners(address):
                self.user_channel.publish(address, rec.market.condition_id, rec.ws_event(key, trader_side, ts))


def _max_variance_price(a: int, b: int) -> int:
    """The price in [min(a,b), max(a,b)] maximising p·(1−p) (the worst-case taker fee)."""
    lo, hi = min(a, b), max(a, b)
    half = MAX_PIPS // 2
    return half if lo <= half <= hi else (hi if hi < half else lo)


# --------------------------------------------------------------------------------------------- HTTP




def _loads(raw: bytes, empty: Any = None) -> Any:
    if not raw.strip():
        return empty
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise wire.ApiError(400, BAD_JSON) from None


Handler = Callable[[web.Request, ApiKey, bytes], Any]


class TradingApi:
    """aiohttp routes for L1 key management and every L2 trading/account call (PROTOCOL §4, §5)."""

    def __init__(self, standin: StandIn) -> None:
        self.standin = standin
        self.trading: Trading = standin.trading
        self.keys: KeyStore = standin.keys
        self.accounts: Accounts = standin.accounts
        self.engine = standin.engine

    def routes(self) -> list[web.RouteDef]:
        l2 = self._l2
        return [
            web.post("/auth/api-key", self.create_api_key),
            web.get("/auth/derive-api-key", self.derive_api_key),
            web.get("/auth/api-keys", l2(self.api_keys)),
            web.delete("/auth/api-key", l2(self.delete_api_key)),
            web.get("/auth/ban-status/closed-only", l2(self.closed_only)),
            web.post("/order", l2(self.post_order)),
            web.post("/orders", l2(self.post_orders)),
            web.delete("/order", l2(self.cancel_order)),
            web.delete("/orders", l2(self.cancel_orders)),
            web.delete("/cancel-all", l2(self.cancel_all)),
            web.delete("/cancel-market-orders", l2(self.cancel_market_orders)),
            web.get("/data/order/{order_id}", l2(self.get_order)),
            web.get("/data/orders", l2(self.get_orders)),
            web.get("/data/trades", l2(self.get_trades)),
            web.get("/balance-allowance", l2(self.balance_allowance)),
            web.get("/balance-allowance/update", l2(self.balance_allowance)),
            web.get("/order-scoring", l2(self.order_scoring)),
            web.post("/orders-scoring", l2(self.orders_scoring)),
            web.get("/orders-scoring", l2(self.orders_scoring)),
            web.post("/v1/heartbeats", l2(self.heartbeat)),
            web.post("/heartbeats", l2(self.heartbeat)),
            web.get("/ws/user", self.standin.user_channel.handle),
        ]

    def _l2(self, handler: Handler) -> Callable[[web.Request], Any]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            api_key = verify_l2(
                self.keys,
                request.headers,
                request.method,
                request.path,
                body,
                window_s=self.trading.config.auth_window_s,
            )
            return await handler(request, api_key, body)

        return wrapped

    # ---------------------------------------------------------------- L1

    async def create_api_key(self, request: web.Request) -> web.Response:
        address, nonce = verify_l1(request.headers, window_s=self.trading.config.auth_window_s)
        api_key = self.keys.create(address, nonce)
        self.accounts.account(api_key.address)
        return _json_response(api_key.creds())

    async def derive_api_key(self, request: web.Request) -> web.Response:
        address, nonce = verify_l1(request.headers, window_s=self.trading.config.auth_window_s)
        return _json_response(self.keys.derive(address, nonce).creds())

    async def api_keys(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        return _json_response({"apiKeys": [k.key for k in self.keys.keys_of(api_key.address)]})

    async def delete_api_key(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        self.keys.delete(api_key.key)
        return _json_response("OK")

    async def closed_only(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        return _json_response({"closed_only": False})

    # ---------------------------------------------------------------- orders

    async def post_order(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        return _json_response(self.trading.place(api_key, _loads(body)))

    async def post_orders(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        items = _loads(body)
        if not isinstance(items, list):
            raise wire.ApiError(400, BAD_JSON)
        if len(items) > MAX_BATCH_ORDERS:
            raise wire.ApiError(400, f"Too many orders in payload: {len(items)}, max allowed: {MAX_BATCH_ORDERS}")
        results = []
        for item in items:
            try:
                results.append(self.trading.place(api_key, item))
            except wire.ApiError as exc:
                results.append(
                    {
                        "success": False,
                        "errorMsg": exc.message,
                        "orderID": "",
                        "status": "",
                        "makingAmount": "",
                        "takingAmount": "",
                        "tradeIDs": [],
                        "transactionsHashes": [],
                    }
                )
        return _json_response(results)

    async def cancel_order(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        obj = _loads(body)
        order_id = obj.get("orderID") if isinstance(obj, dict) else None
        if not isinstance(order_id, str):
            raise wire.ApiError(400, BAD_JSON)
        return _json_response(self.trading.cancel(api_key.address, [order_id]))

    async def cancel_orders(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        ids = _loads(body)
        if not isinstance(ids, list):
            raise wire.ApiError(400, BAD_JSON)
        if len(ids) > MAX_BATCH_CANCELS:
            raise wire.ApiError(400, f"Too many orders in payload: {len(ids)}, max allowed: {MAX_BATCH_CANCELS}")
        return _json_response(self.trading.cancel(api_key.address, ids))

    async def cancel_all(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        return _json_response(self.trading.cancel_where(api_key.address))

    async def cancel_market_orders(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        obj = _loads(body, {})
        if not isinstance(obj, dict):
            raise wire.ApiError(400, BAD_JSON)
        market, asset_id = obj.get("market") or None, obj.get("asset_id") or None
        if (market is not None and not isinstance(market, str)) or (
            asset_id is not None and not isinstance(asset_id, str)
        ):
            raise wire.ApiError(400, BAD_JSON)
        return _json_response(self.trading.cancel_where(api_key.address, market, asset_id))

    async def get_order(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        rec = self.trading.orders.get(request.match_info["order_id"])
        if rec is None or rec.address.lower() != api_key.address.lower():
            raise wire.ApiError(404, ORDER_NOT_FOUND)
        return _json_response(rec.open_order())

    async def get_orders(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        q = request.query
        oid, market, asset_id = q.get("id"), q.get("market"), q.get("asset_id")
        recs = [
            r.open_order()
            for r in self.trading.live_orders(api_key.address)
            if (not oid or r.id == oid)
            and (not market or r.market.condition_id.lower() == market.lower())
            and (not asset_id or r.token_id == asset_id)
        ]
        return _json_response(page(recs, q.get("next_cursor"), self.trading.config.page_size))

    async def get_trades(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        q = request.query
        tid, market, asset_id, maker = q.get("id"), q.get("market"), q.get("asset_id"), q.get("maker_address")
        try:
            before = int(q["before"]) if q.get("before") else None
            after = int(q["after"]) if q.get("after") else None
        except ValueError:
            raise wire.ApiError(400, "invalid before/after timestamp") from None
        me = api_key.address.lower()
        out = []
        for t in self.trading.trades_of(me):
            if tid and t.id != tid:
                continue
            if market and t.market.condition_id.lower() != market.lower():
                continue
            if asset_id and t.asset_id != asset_id and all(m.asset_id != asset_id for m in t.maker_orders):
                continue
            if maker and t.maker_address.lower() != maker.lower() and all(
                m.maker_address.lower() != maker.lower() for m in t.maker_orders
            ):
                continue
            match_s = t.match_ms // 1000
            if (before is not None and match_s > before) or (after is not None and match_s < after):
                continue
            out.append(t.rest("TAKER" if (t.taker_address or "").lower() == me else "MAKER"))
        return _json_response(page(out, q.get("next_cursor"), self.trading.config.page_size))

    # ---------------------------------------------------------------- account

    async def balance_allowance(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        q = request.query
        asset_type = (q.get("asset_type") or "COLLATERAL").upper()
        if asset_type == "COLLATERAL":
            balance = self.accounts.cash_micro(api_key.address)
        elif asset_type == "CONDITIONAL":
            token_id = q.get("token_id", "")
            if not (token_id.isascii() and token_id.isdigit()):
                raise wire.ApiError(400, INVALID_TOKEN)
            balance = self.accounts.shares_micro(api_key.address, token_id)
        else:
            raise wire.ApiError(400, f"invalid asset_type: {asset_type!r}")
        spenders = (EXCHANGE_V2, NEG_RISK_EXCHANGE_V2, NEG_RISK_ADAPTER)
        return _json_response({"balance": str(balance), "allowances": dict.fromkeys(spenders, MAX_ALLOWANCE)})

    def _scoring(self, address: str, order_id: str) -> bool:
        rec = self.trading.orders.get(order_id)
        if rec is None or rec.status != "LIVE" or rec.address.lower() != address.lower():
            return False
        m = rec.market
        if m.reward_max_spread <= 0 or rec.remaining < m.reward_min_size * wire.MICRO:
            return False
        book = self.engine.market_book(m.condition_id)
        assert book is not None
        bid, ask = book.best_bid(rec.outcome), book.best_ask(rec.outcome)
        if bid is None or ask is None:
            return False
        spread_pips = m.reward_max_spread * 100  # cents → pips
        return abs(2 * rec.price - (bid + ask)) <= 2 * spread_pips

    async def order_scoring(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        return _json_response({"scoring": self._scoring(api_key.address, request.query.get("order_id", ""))})

    async def orders_scoring(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        ids = _loads(body)
        if ids is None:
            ids = [i for i in request.query.get("order_ids", "").split(",") if i]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise wire.ApiError(400, BAD_JSON)
        return _json_response({i: self._scoring(api_key.address, i) for i in ids})

    async def heartbeat(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        obj = _loads(body, {})
        hb = obj.get("heartbeat_id", "") if isinstance(obj, dict) else None
        if hb is None:
            hb = ""
        if not isinstance(hb, str):
            raise wire.ApiError(400, BAD_JSON)
        if self.trading.faults.heartbeat_reply_without_id:  # Polymarket's docs page: no id to chain
            self.trading.heartbeats.timeout_s = self.trading.config.heartbeat_timeout_s
            self.trading.heartbeats.keep_alive(api_key.address)
            return _json_response({"status": "ok"})
        try:
            new_id = self.trading.heartbeat(api_key.address, hb)
        except HeartbeatError as exc:
            return _json_response({"error": exc.message, "heartbeat_id": exc.expected}, 400)
        return _json_response({"heartbeat_id": new_id})


def routes(standin: StandIn) -> list[web.RouteDef]:
    """Every trading route (L1 keys, L2 trading/account calls, ``/ws/user``), for ``server.build_app``."""
    return TradingApi(standin).routes()
