"""LiveExecution: real orders through the official ``py-clob-client-v2``.

How it behaves, and why:

* **Off the event loop.** The client is synchronous (httpx); every call runs on a dedicated
  thread pool (``workers`` threads) so the event loop only decides and renders.
* **One round trip per batch.** Tick size, neg-risk and the order version are resolved once per
  market and handed to the client (its tick cache is seeded), so signing is local and placing N
  quotes of a market is one ``POST /orders`` (≤ 15 per call).
* **Never a duplicate.** The order id is the EIP-712 digest, computed before sending. On 425 / 429
  / 503 or a network error the *same signed orders* are resent after a backoff (429 honours
  ``retry_after_seconds``); the venue answers ``Duplicated`` for any that already landed, which
  counts as success. An order whose outcome stays unknown is kept as ``submitted`` (treated as
  resting) until reconciliation finds it or not.
* **Kill cannot be raced.** ``cancel_all`` closes the placement gate, waits for placements in
  flight, cancels at the venue, then checks ``/data/orders`` until nothing of ours rests.
* **Fills.** From the user WebSocket (and ``/data/trades`` on reconciliation): a fill is booked as
  *pending* at MATCHED, *settled* at CONFIRMED, and reversed at FAILED (ghost fills).
* **Inventory.** A YES ask is sent as SELL YES when we hold the shares, else as BUY NO at 1 − p; a
  YES bid as SELL NO at 1 − p when we hold NO shares, else BUY YES. Exposure is the same either way.
* **Heartbeat.** ``POST /v1/heartbeats`` every 5 s with the chained id: if this process dies, the
  venue cancels our orders by itself (~10 s).
* **Start-up.** Credentials are derived from the private key when not given; orphaned orders from
  an earlier run are cancelled; then the periodic reconciliation (open orders and trades) runs.

Secrets (private key, API secret and passphrase) never appear in a repr or a log line.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import msgspec

from ..domain.market import Market, Side
from ..domain.order_book import OrderBook
from ..domain.portfolio import REVERSAL, Fill
from ..domain.prices import MAX_PIPS, pips_to_decimal, pips_to_str, price_to_pips
from .execution import OpenOrder, OrderRequest
from .signing import OrderSigner
from .user_ws import UserSocket
from .wire import OrderEvent, TradeEvent, UserEvent, trade_status

log = logging.getLogger(__name__)

ZERO = Decimal(0)
BATCH_MAX = 15
RETRYABLE = {425, 429, 500, 502, 503, 504, None}  # None: no answer (network error, timeout)


@dataclass(frozen=True)
class LiveConfig:
    """Where and as whom to trade. ``creds`` = (api_key, secret, passphrase) or None to derive."""

    clob_url: str
    ws_url: str  # base, without /ws/user
    private_key: str
    chain_id: int = 137
    signature_type: int = 0
    funder: str | None = None
    creds: tuple[str, str, str] | None = None
    heartbeat_s: float = 5.0
    reconcile_s: float = 15.0
    settle_s: float = 5.0  # an order younger than this may not show in /data/orders yet
    workers: int = 4
    max_attempts: int = 5

    def __repr__(self) -> str:
        return f"LiveConfig(clob_url={self.clob_url!r}, chain_id={self.chain_id}, key=<hidden>)"


@dataclass(slots=True)
class _Pending:
    """A fill booked at MATCHED and not yet CONFIRMED (or FAILED)."""

    fill: Fill


class LiveExecution:
    """The execution interface over py-clob-client-v2 (see the module docstring)."""

    name = "live"

    def __init__(
        self,
        config: LiveConfig,
        on_fill: Callable[[Fill], None] = lambda f: None,
        on_log: Callable[[str, str], None] = lambda text, level: None,
    ) -> None:
        self.config = config
        self.on_fill = on_fill
        self.on_log = on_log
        self._pool = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="clob")
        self._urgent = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clob-kill")  # the kill's own lane
        self._client: Any = None
        self._api_key = ""
        self._markets: dict[str, Market] = {}
        self._by_token: dict[str, Market] = {}
        self._orders: dict[str, OpenOrder] = {}
        self._ours: deque[str] = deque(maxlen=20_000)  # every id we placed, for trade attribution
        self._ours_set: set[str] = set()
        self._shares: dict[str, Decimal] = {}  # token -> shares we hold (MATCHED fills included)
        self._booked: set[tuple[str, str]] = set()  # (trade id, order id) legs already booked (or failed)
        self._pending: dict[tuple[str, str], _Pending] = {}  # booked at MATCHED, not yet CONFIRMED
        self._placed_at: dict[str, float] = {}
        self._side_tasks: set[asyncio.Task] = set()
        self._inflight: set[asyncio.Future] = set()
        self._gate = asyncio.Event()
        self._gate.set()
        self._gate_open = threading.Event()  # the gate as worker threads see it: queued posts check it
        self._gate_open.set()
        self._version = 2
        self._exchange_addr: dict[bool, str] = {}
        self._signer: OrderSigner | None = None
        self._user: UserSocket | None = None
        self._tasks: list[asyncio.Task] = []
        self.heartbeat_id = ""
        self.last_heartbeat = 0.0
        self.errors: deque[float] = deque(maxlen=1000)  # times of venue errors (for the risk engine)
        self._usage: deque[tuple[float, str, int]] = deque()  # (time, "order" | "cancel", cost)
        self.orders_placed = 0  # orders the venue accepted (metrics)
        self.rejects = 0
        self.post_only_crosses = 0  # rejects that are not errors: a maker quote raced a moving book
        self.retries = 0
        self.settled_fills = 0
        self.failed_fills = 0
        #: every status the venue reports for one of our fills: (trade id, order id, status) → the journal
        self.on_fill_status: Callable[[str, str, str], None] | None = None
        self._reported: dict[tuple[str, str], str] = {}  # the last status told to on_fill_status, per leg
        self._connect_reconcile: asyncio.Future | None = None  # the last user-channel connect's reconcile
        #: set by a restart from the journal: replay the venue's trades since then (not just the last hour)
        #: at once on start, so fills made while we were down are booked before anything is quoted
        self.trades_since: float | None = None
        #: seconds from sending a batch to the venue's answer (retries included; none if no answer): metrics
        self.on_post_latency: Callable[[float], None] | None = None
        self._balances_at = 0.0  # epoch s of the start-up balances: earlier trades are already in them

    def __repr__(self) -> str:
        return f"LiveExecution({self.config.clob_url!r}, orders={len(self._orders)})"

    # ================================================================ plumbing
    async def _run(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args, **kw))

    def _error(self, text: str) -> None:
        self.errors.append(time.monotonic())
        self.on_log(text, "warning")

    def _spend(self, kind: str, n: int) -> None:
        """Count signer-bucket cost (PROTOCOL: 1 per order, 1 per cancelled id) for the budget display."""
        now = time.monotonic()
        self._usage.append((now, kind, n))
        while self._usage and self._usage[0][0] < now - 10.0:
            self._usage.popleft()

    def rate_usage(self, window_s: float = 1.0) -> tuple[int, int]:
        """(orders, cancels) spent in the last ``window_s`` seconds, against the per-signer buckets."""
        cutoff = time.monotonic() - window_s
        orders = sum(n for t, k, n in self._usage if t >= cutoff and k == "order")
        cancels = sum(n for t, k, n in self._usage if t >= cutoff and k == "cancel")
        return orders, cancels

    def recent_errors(self, window_s: float = 10.0) -> int:
        cutoff = time.monotonic() - window_s
        return sum(1 for t in self.errors if t >= cutoff)

    @property
    def user_channel(self) -> UserSocket | None:
        """The user WebSocket (None before ``start``): its ``connected`` and ``reconnects``."""
        return self._user

    @property
    def heartbeat_age(self) -> float | None:
        return None if not self.last_heartbeat else time.monotonic() - self.last_heartbeat

    # ================================================================ start / stop
    def _make_client(self) -> tuple[Any, str]:
        from py_clob_client_v2.client import ClobClient
        from py_clob_client_v2.clob_types import ApiCreds
        from py_clob_client_v2.config import get_contract_config

        c = self.config
        creds = ApiCreds(*c.creds) if c.creds else None
        client = ClobClient(c.clob_url, chain_id=c.chain_id, key=c.private_key, creds=creds,
                            signature_type=c.signature_type, funder=c.funder)
        if creds is None:
            client.set_api_creds(client.create_or_derive_api_key())
        try:
            self._version = int(client.get_version())
        except Exception:
            self._version = 2
        cfg = get_contract_config(c.chain_id)
        self._exchange_addr = {False: cfg.exchange_v2, True: cfg.neg_risk_exchange_v2}
        if c.signature_type != 3 and self._version == 2:
            self._signer = OrderSigner(client, c.chain_id, self._exchange_addr)
        return client, client.creds.api_key

    async def start(self, markets: Sequence[Market]) -> None:
        """Connect, derive credentials, cancel orphans, learn balances, start the background loops."""
        self._client, self._api_key = await self._run(self._make_client)
        for m in markets:
            self._add_market(m)
        n = await self._cancel_all_at_venue()
        if n:
            self.on_log(f"start-up: cancelled {n} orphaned orders", "warning")
        await self._load_balances(markets)
        self._balances_at = time.time()
        creds = self._client.creds
        self._user = UserSocket(
            f"{self.config.ws_url}/ws/user", creds.api_key, creds.api_secret, creds.api_passphrase,
            self._on_user_event, on_connect=self._on_user_connect,
        )
        self._tasks = [
            asyncio.create_task(self._user.run(), name="user-ws"),
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
            asyncio.create_task(self._reconcile_loop(), name="reconcile"),
        ]
        try:  # quote only once our order and trade events can reach us
            await asyncio.wait_for(self._user.subscribed.wait(), timeout=5.0)
        except TimeoutError:
            self.on_log("user channel not connected yet; fills will be reconciled over REST meanwhile", "warning")
        if self.trades_since is not None:  # restored: the venue's missed trades before the first quote
            connected = self._connect_reconcile  # the one the user channel's connect started, if any
            await (asyncio.shield(connected) if connected is not None else self._reconcile_once())

    def already_booked(self, keys: Iterable[tuple[str, str]]) -> None:
        """(trade id, order id) legs a journal already holds: a replay of them books nothing."""
        self._booked.update(keys)

    def _add_market(self, m: Market) -> None:
        self._markets[m.condition_id] = m
        self._by_token[m.yes_token] = m
        self._by_token[m.no_token] = m
        ticks = self._client._ClobClient__tick_sizes  # seed the client's cache: no /tick-size per order
        ticks[m.yes_token] = ticks[m.no_token] = m.tick.text

    def set_tick(self, market: Market) -> None:
        """After a tick-size change: the client's cache never expires by itself (pitfall 9)."""
        self._add_market(market)

    async def add_market(self, market: Market) -> None:
        self._add_market(market)

    async def _load_balances(self, markets: Sequence[Market]) -> None:
        from py_clob_client_v2.clob_types import AssetType, BalanceAllowanceParams

        for m in markets:
            for token in (m.yes_token, m.no_token):
                try:
                    r = await self._run(self._client.get_balance_allowance,
                                        BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=token))
                    self._shares[token] = Decimal(str(r.get("balance", "0"))) / 1_000_000
                except Exception as e:  # balances only steer SELL-vs-BUY choice; carry on
                    self._error(f"balance of {token[:8]}…: {_reason(e)}")

    async def collateral_balance(self) -> float | None:
        """The wallet's pUSD balance in dollars (None when the venue cannot say; the error is counted)."""
        from py_clob_client_v2.clob_types import AssetType, BalanceAllowanceParams

        try:
            r = await self._run(self._client.get_balance_allowance,
                                BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
            return int(str(r.get("balance", "0"))) / 1_000_000
        except Exception as e:
            self._error(f"collateral balance: {_reason(e)}")
            return None

    async def run(self) -> None:
        """Wait on the background loops; a failing loop surfaces here (the engine guards it)."""
        if self._tasks:
            done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                t.result()
        else:
            await asyncio.Event().wait()

    async def close(self) -> None:
        for t in [*self._tasks, *self._side_tasks]:
            t.cancel()
        if self._user is not None:
            await self._user.stop()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks = []
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._urgent.shutdown(wait=False, cancel_futures=True)

    # ================================================================ placing
    def _route(self, market: Market, req: OrderRequest) -> tuple[str, str, int]:
        """(token, venue side, venue price) for a YES-terms quote, preferring to sell what we hold."""
        if req.side is Side.SELL:
            if self._free_shares(market.yes_token) >= req.size:
                return market.yes_token, "SELL", req.price
            return market.no_token, "BUY", MAX_PIPS - req.price
        if self._free_shares(market.no_token) >= req.size:
            return market.no_token, "SELL", MAX_PIPS - req.price
        return market.yes_token, "BUY", req.price

    def _free_shares(self, token: str) -> Decimal:
        reserved = sum(
            (o.remaining for o in self._orders.values() if o.token_id == token and o.venue_side == "SELL"), ZERO
        )
        return self._shares.get(token, ZERO) - reserved

    def _sign(self, market: Market, token: str, side: str, price: int, size: Decimal) -> tuple[Any, str]:
        """(signed order, order id). The fast signer for EOA-style keys; the SDK for deposit wallets
        (type 3, a wrapped ERC-1271 signature)."""
        if self._signer is not None:
            return self._signer.sign(token, side, pips_to_decimal(price), size, market.tick.text, market.neg_risk)
        from py_clob_client_v2.clob_types import OrderArgsV2, PartialCreateOrderOptions
        from py_clob_client_v2.order_utils.exchange_order_builder_v2 import ExchangeOrderBuilderV2

        args = OrderArgsV2(token_id=token, price=float(pips_to_str(price)), size=float(size), side=side)
        opts = PartialCreateOrderOptions(tick_size=market.tick.text, neg_risk=market.neg_risk, version=self._version)
        signed = self._client.create_order(args, opts)
        builder = ExchangeOrderBuilderV2(self._exchange_addr[market.neg_risk], self.config.chain_id,
                                         self._client.signer)
        return signed, builder.build_order_hash(builder.build_order_typed_data(signed))

    def _sign_many(self, market: Market, routed: list[tuple[OrderRequest, str, str, int]]) -> list[tuple[Any, str]]:
        return [self._sign(market, tok, side, px, req.size) for req, tok, side, px in routed]

    async def place_many(self, market: Market, book: OrderBook | None, reqs: Sequence[OrderRequest]) -> list[str]:
        if not reqs or not self._gate.is_set():
            return []  # a cancel-all is running (kill, stop): drop, never queue behind it
        fut = asyncio.ensure_future(self._place_many(market, reqs))
        self._inflight.add(fut)
        try:
            return await asyncio.shield(fut)
        finally:
            self._inflight.discard(fut)

    async def _place_many(self, market: Market, reqs: Sequence[OrderRequest]) -> list[str]:
        routed = [(r, *self._route(market, r)) for r in reqs]
        self._spend("order", len(routed))
        signed = await self._run(self._sign_many, market, routed)
        now = time.monotonic()
        for (req, token, side, _px), (_order, oid) in zip(routed, signed, strict=True):
            self._orders[oid] = OpenOrder(oid, market.condition_id, req.side, req.price, req.size,
                                          status="submitted", token_id=token, venue_side=side)
            self._placed_at[oid] = now
            self._ours.append(oid)
            self._ours_set.add(oid)
            if len(self._ours_set) > self._ours.maxlen:  # type: ignore[operator]
                self._ours_set = set(self._ours)
        accepted: list[str] = []
        for i in range(0, len(signed), BATCH_MAX):
            accepted += await self._post_batch(market, signed[i : i + BATCH_MAX])
        self.orders_placed += len(accepted)
        return accepted

    async def _post_batch(self, market: Market, batch: list[tuple[Any, str]]) -> list[str]:
        from py_clob_client_v2.clob_types import OrderType, PostOrdersV2Args
        from py_clob_client_v2.exceptions import PolyApiException

        args = [PostOrdersV2Args(order=o, orderType=OrderType.GTC) for o, _ in batch]
        delay = 0.25
        sent = time.perf_counter()
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                res = await self._run(self._post_if_open, args)
                break
            except _GateClosed:  # a kill closed the gate while this batch waited for a worker: never sent
                for _, oid in batch:
                    self._orders.pop(oid, None)
                return []
            except PolyApiException as e:
                if e.status_code not in RETRYABLE or attempt == self.config.max_attempts:
                    self._error(f"post orders failed: {_reason(e)}")
                    if e.status_code not in RETRYABLE:  # a definite refusal: none of them rests
                        for _, oid in batch:
                            self._orders.pop(oid, None)
                    return []  # retryable but exhausted: kept as submitted, reconciliation decides
                self.retries += 1
                wait = _retry_after(e) or delay
                self._error(f"venue busy ({e.status_code}); retrying the same signed orders in {wait:.2f} s")
                await asyncio.sleep(wait)
                delay = min(delay * 2, 5.0)
            except Exception as e:  # network: outcome unknown, resend the same orders
                if attempt == self.config.max_attempts:
                    self._error(f"post orders: no answer ({type(e).__name__}); reconciliation will decide")
                    return []
                self.retries += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        if self.on_post_latency is not None:
            self.on_post_latency(time.perf_counter() - sent)
        accepted = []
        for (_, oid), r in zip(batch, res if isinstance(res, list) else [], strict=False):
            msg = str(r.get("errorMsg") or "") if isinstance(r, dict) else "bad reply"
            if not msg or "Duplicated" in msg:  # Duplicated: an earlier attempt already got it in
                o = self._orders.get(oid)
                if o is not None and o.status == "submitted":
                    self._orders[oid] = replace(o, status="live")
                accepted.append(oid)
            else:
                self.rejects += 1
                self._orders.pop(oid, None)
                if _is_post_only_cross(msg):  # the book moved under a maker quote: routine, not a fault
                    self.post_only_crosses += 1
                    self.on_log(f"post-only quote would have crossed ({market.short_question}); requoting", "info")
                else:
                    self._error(f"order rejected ({market.short_question}): {msg}")
        return accepted

    # ================================================================ cancelling
    async def cancel(self, order_ids: Sequence[str]) -> list[str]:
        ids = [i for i in order_ids if i in self._orders]
        if not ids:
            return []
        self._spend("cancel", len(ids))
        try:
            r = await self._run(self._client.cancel_orders, ids)
        except Exception as e:
            self._error(f"cancel failed: {_reason(e)}")
            return []
        gone = list(r.get("canceled") or []) + list((r.get("not_canceled") or {}).keys())
        for oid in gone:
            self._orders.pop(oid, None)
        return list(r.get("canceled") or [])

    async def cancel_market(self, condition_id: str) -> int:
        ids = [o.order_id for o in self._orders.values() if o.condition_id == condition_id]
        return len(await self.cancel(ids))

    async def cancel_all(self) -> int:
        """The kill path: close the gate, cancel what rests at once, let placements in flight land,
        cancel again and verify with ``/data/orders`` that nothing rests.

        Kill requests run on their own thread (``_urgent``), never queued behind placements waiting
        in the worker pool; posts still waiting in that pool are dropped unsent (``_post_if_open``)."""
        self._gate.clear()
        self._gate_open.clear()
        try:
            total = 0
            if self._inflight:
                first = asyncio.ensure_future(self._urgent_run(self._client.cancel_all))
                await asyncio.wait(list(self._inflight), timeout=5.0)
                try:
                    total += len((await first).get("canceled") or [])
                except Exception as e:  # the verified pass below retries
                    self._error(f"cancel-all (before in-flight placements landed) failed: {_reason(e)}")
            return total + await self._cancel_all_at_venue()
        finally:
            self._gate_open.set()
            self._gate.set()

    def _post_if_open(self, args: list[Any]) -> Any:
        """Runs on a worker thread: post the batch unless a kill closed the gate meanwhile."""
        if not self._gate_open.is_set():
            raise _GateClosed
        return self._client.post_orders(args, True)

    async def _urgent_run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._urgent, functools.partial(fn, *args))

    async def _cancel_all_at_venue(self) -> int:
        total = 0
        for attempt in range(self.config.max_attempts):
            try:
                r = await self._urgent_run(self._client.cancel_all)
                total += len(r.get("canceled") or [])
                left = await self._urgent_run(self._client.get_open_orders)
            except Exception as e:
                self._error(f"cancel-all attempt {attempt + 1} failed: {_reason(e)}")
                await asyncio.sleep(0.2 * (attempt + 1))
                continue
            if not left:
                self._orders.clear()
                return total
        self.on_log("cancel-all: orders may still rest at the venue; retrying on the next reconciliation", "error")
        return total

    # ================================================================ reads
    def open_orders(self, condition_id: str | None = None) -> list[OpenOrder]:
        return [o for o in self._orders.values() if condition_id is None or o.condition_id == condition_id]

    def on_book(self, book: OrderBook) -> None:
        return None

    def on_trade(self, book: OrderBook, asset_id: str, price: int, size: float, taker_is_buy: bool) -> list:
        return []  # real fills come from the user channel

    @property
    def pending_fills(self) -> int:
        return len(self._pending)

    # ================================================================ user channel
    def _on_user_connect(self) -> None:
        # anything may have happened while we were away: reconcile now
        task = self._connect_reconcile = asyncio.ensure_future(self._reconcile_once())
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    def _on_user_event(self, ev: UserEvent) -> None:
        if isinstance(ev, OrderEvent):
            self._on_order_event(ev)
        elif isinstance(ev, TradeEvent):
            self._on_trade_event(ev)

    def _on_order_event(self, ev: OrderEvent) -> None:
        o = self._orders.get(ev.id)
        if o is None:
            return
        if ev.type == "CANCELLATION" or ev.status.startswith("CANCELED"):
            self._orders.pop(ev.id, None)
            return
        matched = Decimal(ev.size_matched or "0")
        if ev.status == "MATCHED" or matched >= Decimal(ev.original_size or "0") > 0:
            self._orders.pop(ev.id, None)
            return
        self._orders[ev.id] = replace(o, status="live", filled=matched)

    def _on_trade_event(self, ev: TradeEvent) -> None:
        """Book each of our legs once: pending at its first live status, settled at CONFIRMED,
        reversed at FAILED. Replays (reconnects, reconciliation) are harmless."""
        status = trade_status(ev.status)
        before_start = ev.match_time.isdigit() and int(ev.match_time) < int(self._balances_at)
        for order_id, token, side, price, size, fee_bps in self._our_legs(ev):
            market = self._by_token.get(token)
            if market is None:
                continue
            key = (ev.id, order_id)
            if status == "FAILED":
                pending = self._pending.pop(key, None)
                self._booked.add(key)  # a later replay of MATCHED must not book it again
                if pending is not None:
                    booked = pending.fill
                    self.failed_fills += 1
                    self._shares[token] = self._shares.get(token, ZERO) - (size if side == "BUY" else -size)
                    self.on_fill(replace(booked, side=booked.side.other, trade_id=ev.id + REVERSAL,
                                         fee=-booked.fee))
                    self._error(f"trade {ev.id[:8]} FAILED after matching: fill of {size} reversed")
                self._report_status(key, status)
                continue
            if key not in self._booked:
                self._booked.add(key)
                fill = self._to_fill(market, order_id, token, side, price, size, fee_bps, ev.id)
                self._pending[key] = _Pending(fill)
                if not before_start:  # the start-up balances already hold a trade from before them
                    self._shares[token] = self._shares.get(token, ZERO) + (size if side == "BUY" else -size)
                self.on_fill(fill)
            if status == "CONFIRMED" and self._pending.pop(key, None) is not None:
                self.settled_fills += 1
            self._report_status(key, status)

    def _report_status(self, key: tuple[str, str], status: str) -> None:
        """Tell ``on_fill_status`` of a leg's status once per change (after the leg is booked):
        reconciliation replays the last hour's trades every few seconds."""
        if self.on_fill_status is not None and self._reported.get(key) != status:
            self._reported[key] = status
            self.on_fill_status(key[0], key[1], status)

    def _our_legs(self, ev: TradeEvent) -> list[tuple[str, str, str, Decimal, Decimal, str]]:
        """(order id, token, side, price, size, fee bps) for every leg of the trade that is ours."""
        legs = []
        if ev.taker_order_id in self._ours_set:
            legs.append((ev.taker_order_id, ev.asset_id, ev.side, Decimal(ev.price), Decimal(ev.size),
                         ev.fee_rate_bps))
        for mo in ev.maker_orders:
            if mo.order_id in self._ours_set or (self._api_key and mo.owner == self._api_key):
                token = mo.asset_id or ev.asset_id
                side = mo.side or (_opposite(ev.side) if token == ev.asset_id else ev.side)
                legs.append((mo.order_id, token, side, Decimal(mo.price), Decimal(mo.matched_amount), "0"))
        return legs

    def _to_fill(self, market: Market, order_id: str, token: str, side: str, price: Decimal, size: Decimal,
                 fee_bps: str, trade_id: str) -> Fill:
        pips = price_to_pips(price)
        yes_side = Side(side)
        if token == market.no_token:  # a NO fill at q is a YES fill at 1 - q on the other side
            yes_side, pips = yes_side.other, MAX_PIPS - pips
        p = price
        fee = size * Decimal(fee_bps or "0") / 10_000 * p * (1 - p)
        return Fill(market.condition_id, order_id, yes_side, pips, size, fee, time.time(), trade_id)

    # ================================================================ heartbeat
    async def _heartbeat_loop(self) -> None:
        from py_clob_client_v2.exceptions import PolyApiException

        while True:
            try:
                r = await self._run(self._client.post_heartbeat, self.heartbeat_id)
                self.heartbeat_id = str(r.get("heartbeat_id") or "")
                self.last_heartbeat = time.monotonic()
            except PolyApiException as e:
                expected = e.error_msg.get("heartbeat_id") if isinstance(e.error_msg, dict) else None
                if expected:  # our chain broke (e.g. a restart): continue from the venue's id
                    self.heartbeat_id = str(expected)
                    continue
                self._error(f"heartbeat failed: {_reason(e)}")
            except Exception as e:
                self._error(f"heartbeat failed: {type(e).__name__}")
            await asyncio.sleep(self.config.heartbeat_s)

    # ================================================================ reconciliation
    async def _reconcile_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.reconcile_s)
            await self._reconcile_once()

    async def _reconcile_once(self) -> None:
        """Venue truth wins: orphans at the venue are cancelled, vanished local orders dropped,
        missed trades replayed through the same (deduplicating) handler."""
        from py_clob_client_v2.clob_types import TradeParams

        try:
            venue = await self._run(self._client.get_open_orders)
        except Exception as e:
            self._error(f"reconcile: open orders unavailable: {_reason(e)}")
            return
        at_venue = {str(o.get("id")) for o in venue if isinstance(o, dict)}
        young = time.monotonic() - self.config.settle_s  # too recent to be visible there yet
        for oid in list(self._orders):
            if oid not in at_venue and self._placed_at.get(oid, 0.0) < young:
                self._orders.pop(oid, None)
                self._placed_at.pop(oid, None)
        for oid in at_venue:
            if oid in self._orders and self._orders[oid].status == "submitted":
                self._orders[oid] = replace(self._orders[oid], status="live")
        orphans = [oid for oid in at_venue if oid not in self._orders]
        if orphans and self._gate.is_set():
            try:
                await self._run(self._client.cancel_orders, orphans)
                self.on_log(f"reconcile: cancelled {len(orphans)} orders unknown to this session", "warning")
            except Exception as e:
                self._error(f"reconcile: cancel orphans failed: {_reason(e)}")
        try:
            since = time.time() - 3600
            if self.trades_since is not None:
                since = min(since, self.trades_since - 60)
            trades = await self._run(self._client.get_trades, TradeParams(after=int(since)))
        except Exception as e:
            self._error(f"reconcile: trades unavailable: {_reason(e)}")
            return
        for t in trades if isinstance(trades, list) else []:
            try:
                ev = msgspec.convert({**t, "event_type": "trade"}, TradeEvent, strict=False)
            except Exception:
                continue
            self._on_trade_event(ev)


class _GateClosed(Exception):
    """A queued post found the gate closed (a kill is running): it was not sent."""


def _opposite(side: str) -> str:
    return "SELL" if side == "BUY" else "BUY"


def _is_post_only_cross(msg: str) -> bool:
    """PROTOCOL §errors: ``invalid post-only order: order crosses book``. Not the GTC-cross
    ``order {id} crosses the book`` (cause undocumented), which stays an error."""
    return msg.startswith("invalid post-only order") and "crosses" in msg


def _reason(e: BaseException) -> str:
    msg = getattr(e, "error_msg", None)
    if isinstance(msg, dict):
        msg = msg.get("error") or msg
    status = getattr(e, "status_code", None)
    return f"{status} {msg}" if status is not None else str(msg or e)


def _retry_after(e: BaseException) -> float | None:
    msg = getattr(e, "error_msg", None)
    if isinstance(msg, dict):
        v = msg.get("retry_after_seconds")
        try:
            return float(v) if v is not None else None
        except (TypeError, ValueError):
            return None
    return None
