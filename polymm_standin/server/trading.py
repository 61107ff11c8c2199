"""The trading core of the stand-in exchange: signed orders, cancels, order/trade records, heartbeats.

``Trading`` sits between the HTTP routes (``TradingApi``) and the matching engine. It

* verifies and admits signed V2 orders (docs/protocol.md §5): owner = API key, signer = the key's address,
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
  sale) is not available to new orders (docs/protocol.md §10.5: selling unsettled shares is refused with
  ``not enough balance / allowance``), so the reversal never takes a balance below zero;
* runs the heartbeat dead-man switch (``heartbeat``) and expires GTD orders;
* keeps the records of ended orders and of finished trades up to ``TradingConfig.max_closed_orders`` /
  ``max_trades`` (the oldest forgotten first), so a long session's memory stays flat;
* on a market resolution (``admin.Controls.resolution_listeners``) closes the market; holders keep
  their shares and redeem them themselves (``redeemPositions`` through the relayer or JSON-RPC,
  ``chain``), as on Polymarket — unless ``TradingConfig.auto_redeem``, which redeems every holder at
  once (winning shares pay 1 pUSD, both tokens burned).

Identity: orders and trades belong to a wallet ADDRESS (all its API keys see and cancel them); the
engine owner of an order is the API key that placed it. Balances are keyed by the API key's address
(the EOA signer); the order's ``maker`` is shown as ``maker_address``. The stand-in's synthetic
traders (engine owners ``synthetic…``) appear on the wire under stable UUIDs and made-up addresses.

Trade shape (docs/protocol.md §5.4, fixtures): top-level ``side``/``asset_id``/``price``/``outcome``/``owner``/
``maker_address`` are the TAKER's; ``maker_orders[]`` lists every maker fill with the maker's own
``side``/``price``/``asset_id``; ``trader_side`` is the reader's role (TAKER or MAKER) and, on the
WebSocket, ``trade_owner`` is the recipient's API key. ``/data/trades`` lists oldest first, so offset
cursors stay valid while new trades arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Any

from polymm.domain.market import Market, Outcome, Side
from polymm.domain.prices import MAX_PIPS, PIPS_PER_UNIT, pips_to_str

from ..sim import units
from ..sim.matching import (
    INVALID_TOKEN,
    POST_ONLY_TYPE,
    Event,
    Fill,
    MatchingEngine,
    OrderRejected,
    OrderType,
    Trade,
)
from . import http
from .accounts import Accounts, LedgerEntry, fee_micro, notional_micro
from .auth import (
    AUTH_WINDOW_S,
    ApiKey,
    KeyStore,
    OrderFormatError,
    SignedOrder,
    parse_order,
)
from .faults import Faults
from .heartbeat import DEFAULT_HEARTBEAT_TIMEOUT_S, Heartbeats
from .ratelimit import STANDARD_TIER, RateTier, SignerLimits
from .user_channel import UserChannel

if TYPE_CHECKING:
    from ..sim.book import Order

from .records import (
    _NEXT_STATUS,
    TERMINAL_STATUSES,
    MakerFill,
    OrderRecord,
    TradeRecord,
    _synthetic_address,
    _synthetic_key,
)

log = logging.getLogger(__name__)

OWNER_MISMATCH = "the order owner has to be the owner of the API KEY"
SIGNER_MISMATCH = "the order signer address has to be the address of the API KEY"
INVALID_SIGNATURE = "invalid signature"
INVALID_EXPIRATION = "invalid expiration"
INVALID_PAYLOAD = "Invalid order payload"
#: docs/protocol.md gives no string for orders on a resolved market; this one is the stand-in's choice.
MARKET_CLOSED = "the market is closed: it has resolved and accepts no new orders"
BAD_JSON = "Invalid payload"
ORDER_NOT_FOUND = "Order not found"
NOT_CANCELED = "already canceled or matched"
MAX_BATCH_ORDERS = 15
MAX_BATCH_CANCELS = 1000
#: A GTD expiration must lie at least this far ahead, and the venue ends the order this long before it
#: (its "security threshold"): docs/protocol.md §5.3.
GTD_MIN_LEAD_S = 180
GTD_SECURITY_S = 60
MAX_ALLOWANCE = str((1 << 256) - 1)


#: pUSD a new wallet starts with on a stand-in of up to ``BALANCE_MARKETS`` stand-alone markets.
DEFAULT_STARTING_BALANCE = Decimal(10_000)
BALANCE_MARKETS = 6


def default_starting_balance(market_count: int) -> Decimal:
    """A new wallet's pUSD for a stand-in of ``market_count`` stand-alone markets: 10,000 up to 6 markets,
    then the same per market (a 300-market run quotes 50 times the books, so it gets 500,000): the demo
    wallet must not run out of collateral because the venue grew. Whole pUSD, rounded up."""
    scaled = DEFAULT_STARTING_BALANCE * max(market_count, BALANCE_MARKETS) / BALANCE_MARKETS
    return scaled.to_integral_value(rounding=ROUND_CEILING)


@dataclass(slots=True)
class TradingConfig:
    """Knobs of the trading core (mutable at run time; read when used)."""

    #: pUSD a new wallet (the demo wallet too) starts with; None: ``default_starting_balance`` of the
    #: stand-in's market count (``StandIn`` fills it in).
    starting_balance: Decimal | None = None
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
    #: Redeem every holder when a market resolves (winning shares pay 1 pUSD, both tokens burned).
    #: Polymarket does not: holders call ``redeemPositions`` (docs/protocol.md §15).
    auto_redeem: bool = False
    #: Per-signer rate limits on orders and cancels (``ratelimit``; docs/protocol.md §8): the venue's
    #: standard tier, or ``UNLIMITED_TIER`` for none.
    rate_tier: RateTier = STANDARD_TIER
    #: Records of ended orders (cancelled, matched, never rested) kept at most: the oldest to end is
    #: forgotten first (``/data/order/{id}`` then answers 404 as for an unknown id). Live orders are
    #: always kept.
    max_closed_orders: int = 20_000
    #: Trade records kept at most: the oldest is forgotten first once the venue is done with it
    #: (CONFIRMED or FAILED), so ``/data/trades`` lists from the oldest kept.
    max_trades: int = 20_000


def _price_text(usdc: int, shares: int) -> str:
    return units.decimal_str((Decimal(usdc) / Decimal(shares)).quantize(Decimal("0.000001")))


def _tick_error(order_id: str, shown: str, market: Market) -> http.ApiError:
    return http.ApiError(
        400, f"order {order_id} is invalid. Price ({shown}) breaks minimum tick size rule: {market.tick.text}"
    )


@dataclass(frozen=True, slots=True)
class _Admitted:
    """A signed order that passed the checks before funds (``Trading._admit``)."""

    id: str
    signed: SignedOrder
    order_type: OrderType
    post_only: bool
    token_id: str
    market: Market
    outcome: Outcome


class Trading:
    """Order entry, order/trade records, settlement, trade lifecycle, heartbeats (see module doc)."""

    def __init__(
        self,
        matching: MatchingEngine,
        keys: KeyStore,
        accounts: Accounts,
        user_channel: UserChannel,
        faults: Faults,
        config: TradingConfig | None = None,
        clock: Callable[[], int] = units.now_ms,
    ) -> None:
        self.matching = matching
        self.keys = keys
        self.accounts = accounts
        self.user_channel = user_channel
        self.faults = faults
        self.config = config or TradingConfig()
        self._clock = clock
        self.heartbeats = Heartbeats(self.config.heartbeat_timeout_s)
        #: Per-signer token buckets of the order and cancel routes (``config.rate_tier``, read at each use).
        self.limits = SignerLimits(lambda: self.config.rate_tier, clock)
        self.orders: dict[str, OrderRecord] = {}
        self.closed_markets: set[str] = set()  # resolved: no new orders
        self.trades: dict[str, TradeRecord] = {}
        self._live: dict[str, dict[str, OrderRecord]] = {}
        self._gtd: dict[str, OrderRecord] = {}
        self._trades_by_address: dict[str, deque[TradeRecord]] = {}
        #: Ids of ended orders still in ``orders``, oldest to end first (``_retire``).
        self._closed: dict[str, None] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        #: Trades that will fail (ghosts) and have not yet: what they brought in cannot be spent.
        self._failing: dict[str, TradeRecord] = {}
        self._monitor: asyncio.Task[None] | None = None
        #: Orders auto-cancelled by the heartbeat switch (count; for tests and diagnostics).
        self.heartbeat_cancels = 0
        matching.add_listener(self._on_event)
        matching.add_cancel_listener(self._on_cancel)

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
                    self.matching.cancel_orders(ids)
        if self._gtd:
            now = time.time()
            expired = [oid for oid, rec in self._gtd.items() if rec.expiration - GTD_SECURITY_S <= now]
            if expired:
                self.matching.cancel_orders(expired)

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
        """Admit one ``POST /order`` body; returns the success reply or raises ``http.ApiError``."""
        order = self._admit(api_key, body)
        side = Side.BUY if order.signed.side == 0 else Side.SELL
        price, size = self._implied(order.id, order.signed.maker_amount, order.signed.taker_amount, side,
                                    order.order_type, order.market)
        self._check_funds(api_key.address, order.market, order.outcome, order.token_id, side, price, size)
        rec = OrderRecord(
            id=order.id,
            owner=api_key.key,
            address=api_key.address,
            maker_address=order.signed.maker,
            market=order.market,
            token_id=order.token_id,
            outcome=order.outcome,
            side=side,
            price=price,
            original=size,
            order_type=order.order_type.value,
            expiration=order.signed.expiration,
            created_ms=self._clock(),
            status="MATCHED",
        )
        self.orders[order.id] = rec  # before matching: the trade listener settles the taker through it
        try:
            result = self.matching.place(
                api_key.key, order.token_id, side, price, Decimal(size) / units.MICRO,
                post_only=order.post_only, order_type=order.order_type, order_id=order.id,
            )
        except OrderRejected as exc:
            del self.orders[order.id]
            raise http.ApiError(400, exc.message) from None
        except Exception:
            del self.orders[order.id]
            raise
        if result.resting is not None:
            rec.status = "LIVE"
            self._live.setdefault(api_key.address.lower(), {})[order.id] = rec
            if order.order_type is OrderType.GTD and rec.expiration:
                self._gtd[order.id] = rec
            self._publish_order(rec, "PLACEMENT")
        else:
            self._retire(rec)  # matched on entry, or killed: it has ended
        return self._placed_reply(rec, result.status)

    def _admit(self, api_key: ApiKey, body: object) -> _Admitted:
        """The order of a ``POST /order`` body once every check before funds has passed (docs/protocol.md §5.3)."""
        if not isinstance(body, dict):
            raise http.ApiError(400, INVALID_PAYLOAD)
        try:
            signed = parse_order(body.get("order"))
        except OrderFormatError as exc:
            raise http.ApiError(400, f"{INVALID_PAYLOAD}: {exc}") from None
        if body.get("owner") != api_key.key:
            raise http.ApiError(400, OWNER_MISMATCH)
        try:
            order_type = OrderType(body.get("orderType", "GTC"))
        except ValueError:
            raise http.ApiError(400, f"invalid order type: {body.get('orderType')!r}") from None
        post_only = body.get("postOnly", False)
        if not isinstance(post_only, bool):
            raise http.ApiError(400, f"{INVALID_PAYLOAD}: invalid postOnly")
        token_id = str(signed.token_id)
        found = self.matching.lookup(token_id)
        if found is None:
            raise http.ApiError(400, INVALID_TOKEN)
        book, outcome = found
        market = book.market
        if market.condition_id in self.closed_markets:
            raise http.ApiError(400, MARKET_CLOSED)
        if signed.signer.lower() != api_key.address.lower():
            raise http.ApiError(400, SIGNER_MISMATCH)
        order_id, recovered = signed.signer_of(market.neg_risk)
        if recovered is None:
            raise http.ApiError(400, INVALID_SIGNATURE)
        if order_id in self.orders:
            raise http.ApiError(400, f"order {order_id} is invalid. Duplicated.")
        if post_only and not order_type.rests:
            raise http.ApiError(400, POST_ONLY_TYPE)
        if order_type is OrderType.GTD and signed.expiration < time.time() + GTD_MIN_LEAD_S:
            raise http.ApiError(400, INVALID_EXPIRATION)
        return _Admitted(order_id, signed, order_type, post_only, token_id, market, outcome)

    def _placed_reply(self, rec: OrderRecord, status: str) -> dict[str, Any]:
        """The success reply of an order: what it traded at once, summed over its trades."""
        trade_ids = list(rec.trades)
        making = taking = ""
        hashes: list[str] = []
        if trade_ids:
            recs = [self.trades[t] for t in trade_ids if t in self.trades]
            shares = sum(t.size for t in recs)
            usdc = sum(notional_micro(t.size, t.price) for t in recs)
            making_micro, taking_micro = (usdc, shares) if rec.side is Side.BUY else (shares, usdc)
            making, taking = units.micro_to_str(making_micro), units.micro_to_str(taking_micro)
            hashes = list(dict.fromkeys(t.transaction_hash for t in recs))
        return {
            "success": True,
            "errorMsg": "",
            "orderID": rec.id,
            "status": status,
            "makingAmount": making,
            "takingAmount": taking,
            "tradeIDs": trade_ids,
            "transactionsHashes": hashes,
        }

    def _implied(
        self, order_id: str, maker_amount: int, taker_amount: int, side: Side, order_type: OrderType, market: Market
    ) -> tuple[int, int]:
        """(price pips, size micro-shares) from the signed amounts (docs/protocol.md §5.2)."""
        usdc, shares = (maker_amount, taker_amount) if side is Side.BUY else (taker_amount, maker_amount)
        min_text = units.decimal_str(market.min_order_size)
        if shares == 0:
            raise http.ApiError(400, f"order {order_id} is invalid. Size (0) lower than the minimum: {min_text}")
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
        book = self.matching.market_book(market.condition_id)
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
            raise http.ApiError(
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
        done = [o.id for o in self.matching.cancel_orders(ids)] if ids else []
        for oid in ids:
            if oid not in done:
                not_canceled[oid] = NOT_CANCELED
        return {"canceled": done, "not_canceled": not_canceled}

    def live_ids(self, address: str, market: str | None = None, asset_id: str | None = None) -> list[str]:
        """Ids of the wallet's live orders, of one market (condition id) and/or token if given."""
        recs = self._live.get(address.lower(), {}).values()
        return [
            r.id
            for r in recs
            if (market is None or r.market.condition_id.lower() == market.lower())
            and (asset_id is None or r.token_id == asset_id)
        ]

    def cancel_where(self, address: str, market: str | None = None, asset_id: str | None = None) -> dict[str, Any]:
        return self.cancel(address, self.live_ids(address, market, asset_id))

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
        self._retire(rec)

    def _retire(self, rec: OrderRecord) -> None:
        """An order ended: its record is kept among the last ``max_closed_orders`` ended ones."""
        closed = self._closed
        closed[rec.id] = None
        while len(closed) > self.config.max_closed_orders:
            oid = next(iter(closed))
            del closed[oid]
            self.orders.pop(oid, None)

    # ---------------------------------------------------------------- heartbeats

    def on_resolution(self, resolution: Any) -> None:
        """A market resolved (``admin.Controls.resolution_listeners``): it takes no new orders, and the
        orders the venue cancelled for the resolution (already CANCELED by the cancel listener) read
        ``CANCELED_MARKET_RESOLVED``. Holders keep their shares (they redeem on chain) unless
        ``config.auto_redeem``: then winning shares pay 1 pUSD each and both tokens are burned.
        """
        self.closed_markets.add(resolution.condition_id)
        for order in getattr(resolution, "cancelled", ()):
            rec = self.orders.get(order.id)
            if rec is not None and rec.status == "CANCELED":
                rec.status = "CANCELED_MARKET_RESOLVED"
        book = self.matching.market_book(resolution.condition_id)
        if book is None or not self.config.auto_redeem:
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
        """A match: one trade record per price level, balances settled, user channel told."""
        taker = self.orders.get(trade.taker_order_id)
        if taker is not None and taker.owner != trade.taker_owner:
            taker = None
        maker_recs = {f.maker_order_id: self.orders.get(f.maker_order_id) for f in trade.fills}
        if taker is None and not any(maker_recs.values()):
            return  # synthetic traders among themselves
        levels: dict[int, list[Fill]] = {}
        for fill in trade.fills:
            levels.setdefault(trade.taker_price(fill), []).append(fill)
        touched: dict[str, OrderRecord] = {}
        records = [
            self._level_record(trade, _level_trade_id(trade.id, i), price, fills, taker, maker_recs, touched)
            for i, (price, fills) in enumerate(levels.items())
        ]
        for mrec in touched.values():
            live = self.matching.order(mrec.id)
            if live is None or live.remaining == 0:
                mrec.status = "MATCHED"
                self._forget_live(mrec)
        ts = self._clock()
        for rec in records:
            self._publish_trade(rec, ts)
            self._schedule(rec)
        for mrec in touched.values():
            self._publish_order(mrec, "UPDATE", ts)

    def _level_record(
        self,
        trade: Trade,
        trade_id: str,
        price: int,
        fills: list[Fill],
        taker: OrderRecord | None,
        maker_recs: dict[str, OrderRecord | None],
        touched: dict[str, OrderRecord],
    ) -> TradeRecord:
        """The trade record of one price level of a match: makers settled first, then the taker."""
        market = trade.book.market
        size = sum(f.size for f in fills)
        ledger: list[LedgerEntry] = []
        makers = tuple(self._maker_fill(trade_id, f, maker_recs.get(f.maker_order_id), market, ledger, touched)
                       for f in fills)
        fee = 0
        if taker is not None:
            fee = fee_micro(size, price, self.accounts.fee_rate(market.condition_id))
            taker.matched += size
            taker.trades.append(trade_id)
            ledger.insert(0, self.accounts.settle(taker.address, trade.token_id, trade.side, size, price, fee))
        rec = TradeRecord(
            id=trade_id,
            taker_order_id=trade.taker_order_id,
            market=market,
            asset_id=trade.token_id,
            outcome=market.outcomes[0 if trade.outcome is Outcome.YES else 1],
            side=trade.side,
            size=size,
            price=price,
            fee=fee,
            fee_rate_bps=self.accounts.fee_rate_bps(market.condition_id),
            owner=taker.owner if taker is not None else _synthetic_key(trade.taker_owner),
            taker_address=taker.address if taker is not None else None,
            maker_address=taker.maker_address if taker is not None else _synthetic_address(trade.taker_owner),
            transaction_hash=trade.transaction_hash,
            match_ms=trade.timestamp_ms,
            maker_orders=makers,
            # only a record a real account is party to takes a ghost: a sweep's synthetic-only
            # level must not use it up (nobody would ever see that trade fail)
            ghost=(taker is not None or any(m.address is not None for m in makers)) and self.faults.take_ghost_fill(),
            last_update_ms=trade.timestamp_ms,
            ledger=ledger,
        )
        self.trades[trade_id] = rec
        if rec.ghost:
            self._failing[trade_id] = rec
        for address in rec.participants():
            self._trades_by_address.setdefault(address, deque()).append(rec)
        self._trim_trades()
        return rec

    def _trim_trades(self) -> None:
        """Forget the oldest trade records beyond ``max_trades`` that the venue is done with (a record
        whose statuses are still to come stops it: kept, with the newer ones, until it ends)."""
        while len(self.trades) > self.config.max_trades:
            oldest = next(iter(self.trades.values()))
            if oldest.status not in TERMINAL_STATUSES:
                return
            del self.trades[oldest.id]
            for address in oldest.participants():  # each wallet's list is in the same (creation) order
                mine = self._trades_by_address.get(address)
                if mine and mine[0] is oldest:
                    mine.popleft()
                    if not mine:
                        del self._trades_by_address[address]

    def _maker_fill(
        self,
        trade_id: str,
        f: Fill,
        mrec: OrderRecord | None,
        market: Market,
        ledger: list[LedgerEntry],
        touched: dict[str, OrderRecord],
    ) -> MakerFill:
        """One maker's side of a level: an account's order is updated and settled; a synthetic's is named."""
        if mrec is not None and mrec.owner != f.maker_owner:
            mrec = None
        if mrec is not None:
            mrec.matched += f.size
            mrec.trades.append(trade_id)
            touched[mrec.id] = mrec
            ledger.append(self.accounts.settle(mrec.address, f.maker_token, f.maker_side, f.size, f.maker_price, 0))
        return MakerFill(
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


def _level_trade_id(match_id: str, level: int) -> str:
    """A match's first level keeps the match id; the others get ids derived from it."""
    if level == 0:
        return match_id
    return str(uuid.UUID(bytes=hashlib.sha256(f"{match_id}:{level}".encode()).digest()[:16], version=4))


def _max_variance_price(a: int, b: int) -> int:
    """The price in [min(a,b), max(a,b)] maximising p·(1−p) (the worst-case taker fee)."""
    lo, hi = min(a, b), max(a, b)
    half = MAX_PIPS // 2
    return half if lo <= half <= hi else (hi if hi < half else lo)
