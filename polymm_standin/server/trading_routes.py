"""The trading routes: L1 key management and every L2 trading and account call, and ``/ws/user``
(docs/protocol.md §4, §5). Authentication, request parsing and the per-signer rate limits
(``ratelimit``: what each order and cancel route costs, its 429s and ``Poly-RateLimit-*`` headers) live
here; what a call does is the trading core's (``trading.Trading``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from ..sim import units
from ..sim.matching import INVALID_TOKEN, MatchingEngine
from . import http
from .accounts import Accounts
from .auth import (
    EXCHANGE_V2,
    NEG_RISK_ADAPTER,
    NEG_RISK_EXCHANGE_V2,
    ApiKey,
    KeyStore,
    verify_l1,
    verify_l2,
)
from .heartbeat import HeartbeatError
from .http import json_response as _json_response
from .paging import page
from .ratelimit import Bucket
from .trading import BAD_JSON, MAX_ALLOWANCE, MAX_BATCH_CANCELS, MAX_BATCH_ORDERS, ORDER_NOT_FOUND, Trading
from .user_channel import UserChannel

log = logging.getLogger(__name__)


def _loads(raw: bytes, empty: Any = None) -> Any:
    if not raw.strip():
        return empty
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise http.ApiError(400, BAD_JSON) from None


Handler = Callable[[web.Request, ApiKey, bytes], Any]


class TradingApi:
    """aiohttp routes for L1 key management and every L2 trading/account call (docs/protocol.md §4, §5)."""

    def __init__(
        self, trading: Trading, keys: KeyStore, accounts: Accounts, matching: MatchingEngine, user_channel: UserChannel
    ) -> None:
        self.trading = trading
        self.keys = keys
        self.accounts = accounts
        self.matching = matching
        self.user_channel = user_channel

    def routes(self) -> list[web.RouteDef]:
        l2, orders, cancels = self._l2, Bucket.ORDERS, Bucket.CANCELS
        return [
            web.post("/auth/api-key", self.create_api_key),
            web.get("/auth/derive-api-key", self.derive_api_key),
            web.get("/auth/api-keys", l2(self.api_keys)),
            web.delete("/auth/api-key", l2(self.delete_api_key)),
            web.get("/auth/ban-status/closed-only", l2(self.closed_only)),
            web.post("/order", l2(self.post_order, orders)),
            web.post("/orders", l2(self.post_orders, orders)),
            web.delete("/order", l2(self.cancel_order, cancels)),
            web.delete("/orders", l2(self.cancel_orders, cancels)),
            web.delete("/cancel-all", l2(self.cancel_all, cancels)),
            web.delete("/cancel-market-orders", l2(self.cancel_market_orders, cancels)),
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
            web.get("/ws/user", self.user_channel.handle),
        ]

    def _l2(self, handler: Handler, bucket: Bucket | None = None) -> Callable[[web.Request], Any]:
        """An L2-authenticated route; one metered on ``bucket`` answers with the signer's
        ``Poly-RateLimit-*`` headers, errors (and 429s) included."""

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
            if bucket is None:
                return await handler(request, api_key, body)
            try:
                response = await handler(request, api_key, body)
            except http.ApiError as exc:
                response = exc.response()
            for name, value in self.trading.limits.headers(api_key.address, bucket).items():
                response.headers.setdefault(name, value)  # a 429's own (its reset time) stay
            return response

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
        self.trading.limits.admit(api_key.address, Bucket.ORDERS, 1)
        return _json_response(self.trading.place(api_key, _loads(body)))

    async def post_orders(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        items = _loads(body)
        if not isinstance(items, list):
            raise http.ApiError(400, BAD_JSON)
        if len(items) > MAX_BATCH_ORDERS:
            raise http.ApiError(400, f"Too many orders in payload: {len(items)}, max allowed: {MAX_BATCH_ORDERS}")
        self.trading.limits.admit(api_key.address, Bucket.ORDERS, len(items))  # the whole batch, or none of it
        results = []
        for item in items:
            try:
                results.append(self.trading.place(api_key, item))
            except http.ApiError as exc:
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
            raise http.ApiError(400, BAD_JSON)
        self.trading.limits.admit(api_key.address, Bucket.CANCELS, 1)
        return _json_response(self.trading.cancel(api_key.address, [order_id]))

    async def cancel_orders(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        ids = _loads(body)
        if not isinstance(ids, list):
            raise http.ApiError(400, BAD_JSON)
        if len(ids) > MAX_BATCH_CANCELS:
            raise http.ApiError(400, f"Too many orders in payload: {len(ids)}, max allowed: {MAX_BATCH_CANCELS}")
        self.trading.limits.admit(api_key.address, Bucket.CANCELS, len(ids))  # 1 per id sent, all or nothing
        return _json_response(self.trading.cancel(api_key.address, ids))

    async def cancel_all(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        """Always let in (the kill switch); costs 1 + the number cancelled afterwards, maybe below zero."""
        reply = self.trading.cancel_where(api_key.address)
        self.trading.limits.charge(api_key.address, Bucket.CANCELS, 1 + len(reply["canceled"]))
        return _json_response(reply)

    async def cancel_market_orders(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        obj = _loads(body, {})
        if not isinstance(obj, dict):
            raise http.ApiError(400, BAD_JSON)
        market, asset_id = obj.get("market") or None, obj.get("asset_id") or None
        if (market is not None and not isinstance(market, str)) or (
            asset_id is not None and not isinstance(asset_id, str)
        ):
            raise http.ApiError(400, BAD_JSON)
        limits = self.trading.limits
        limits.admit(api_key.address, Bucket.CANCELS, 1)  # let in on one token, as on the venue ...
        reply = self.trading.cancel_where(api_key.address, market, asset_id)
        limits.charge(api_key.address, Bucket.CANCELS, len(reply["canceled"]))  # ... then 1 per cancelled order
        return _json_response(reply)

    async def get_order(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        rec = self.trading.orders.get(request.match_info["order_id"])
        if rec is None or rec.address.lower() != api_key.address.lower():
            raise http.ApiError(404, ORDER_NOT_FOUND)
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
            raise http.ApiError(400, "invalid before/after timestamp") from None
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
                raise http.ApiError(400, INVALID_TOKEN)
            balance = self.accounts.shares_micro(api_key.address, token_id)
        else:
            raise http.ApiError(400, f"invalid asset_type: {asset_type!r}")
        spenders = (EXCHANGE_V2, NEG_RISK_EXCHANGE_V2, NEG_RISK_ADAPTER)
        return _json_response({"balance": str(balance), "allowances": dict.fromkeys(spenders, MAX_ALLOWANCE)})

    def _scoring(self, address: str, order_id: str) -> bool:
        rec = self.trading.orders.get(order_id)
        if rec is None or rec.status != "LIVE" or rec.address.lower() != address.lower():
            return False
        m = rec.market
        if m.reward_max_spread <= 0 or rec.remaining < m.reward_min_size * units.MICRO:
            return False
        book = self.matching.market_book(m.condition_id)
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
            raise http.ApiError(400, BAD_JSON)
        return _json_response({i: self._scoring(api_key.address, i) for i in ids})

    async def heartbeat(self, request: web.Request, api_key: ApiKey, body: bytes) -> web.Response:
        obj = _loads(body, {})
        hb = obj.get("heartbeat_id", "") if isinstance(obj, dict) else None
        if hb is None:
            hb = ""
        if not isinstance(hb, str):
            raise http.ApiError(400, BAD_JSON)
        if self.trading.faults.heartbeat_reply_without_id:  # Polymarket's docs page: no id to chain
            self.trading.heartbeats.timeout_s = self.trading.config.heartbeat_timeout_s
            self.trading.heartbeats.keep_alive(api_key.address)
            return _json_response({"status": "ok"})
        try:
            new_id = self.trading.heartbeat(api_key.address, hb)
        except HeartbeatError as exc:
            return _json_response({"error": exc.message, "heartbeat_id": exc.expected}, 400)
        return _json_response({"heartbeat_id": new_id})
