"""The public CLOB REST routes, and the error middleware every route of the stand-in runs behind.

The stand-in serves every Polymarket host from one aiohttp application on one port (built by
``standin.StandIn.build_app``):

URL layout (fixed; the venue clients and the CLI rely on it):

==============================  ==================================================================
``http://HOST:P/``              CLOB REST (``/book``, ``/books``, ``/tick-size``, ...)
``ws://HOST:P/ws/market``       CLOB market channel (``market_channel``)
``ws://HOST:P/ws/user``         CLOB user channel (credentials in the subscribe frame)
``http://HOST:P/gamma-api/``    Gamma (``/gamma-api/markets``, ``/gamma-api/events``: ``gamma``)
``http://HOST:P/data-api/``     Data API (``/positions``, ``/trades``: ``data_api``)
``http://HOST:P/_admin/``       fault controls, loopback peers only (``admin``)
==============================  ==================================================================

Every failure is a JSON ``{"error": "..."}`` (docs/protocol.md §2): a 4xx for bad input, the burst's status for
an injected error, and 500 for an unexpected bug (logged), never an HTML traceback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

from polymm.domain.market import Outcome, Side
from polymm.domain.prices import PIPS_PER_UNIT, pips_to_str

from ..sim import frames, units
from ..sim.book import MarketBook
from ..sim.matching import MatchingEngine
from . import http
from .http import json_response

log = logging.getLogger(__name__)

MAX_BOOKS = 500
INVALID_TOKEN = "Invalid token id"
NO_BOOK = "No orderbook exists for the requested token id"
PAYLOAD_LIMIT = "Payload exceeds the limit"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]




def _bytes_response(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every error into ``{"error": ...}``: ours, aiohttp's (404/405/413) and bugs."""
    try:
        return await handler(request)
    except http.ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return json_response({"error": exc.reason}, exc.status)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_response({"error": "internal server error"}, 500)


class ClobApi:
    """Public CLOB REST routes (docs/protocol.md §3), reading the matching engine's books."""

    def __init__(self, matching: MatchingEngine) -> None:
        self.matching = matching

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/book", self.book),
            web.post("/books", self.books),
            web.get("/tick-size", self.tick_size),
            web.get("/tick-size/{token_id}", self.tick_size),
            web.get("/neg-risk", self.neg_risk),
            web.get("/midpoint", self.midpoint),
            web.get("/price", self.price),
            web.get("/spread", self.spread),
            web.get("/last-trade-price", self.last_trade_price),
            web.get("/version", self.version),
            web.get("/time", self.time),
            web.get("/ok", self.ok),
            web.get("/", self.ok),
        ]

    def _find(self, token_id: object) -> tuple[MarketBook, Outcome]:
        if not isinstance(token_id, str) or not (token_id.isascii() and token_id.isdigit()):
            raise http.ApiError(400, INVALID_TOKEN)
        found = self.matching.lookup(token_id)
        if found is None:
            raise http.ApiError(404, NO_BOOK)
        return found

    def _token(self, request: web.Request) -> tuple[MarketBook, Outcome]:
        return self._find(request.match_info.get("token_id") or request.query.get("token_id"))

    async def _json_list(self, request: web.Request) -> list[Any]:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            raise http.ApiError(400, "Invalid payload") from None
        if not isinstance(body, list):
            raise http.ApiError(400, "Invalid payload")
        if len(body) > MAX_BOOKS:
            raise http.ApiError(400, PAYLOAD_LIMIT)
        return body

    async def book(self, request: web.Request) -> web.Response:
        book, outcome = self._token(request)
        return _bytes_response(frames.rest_book(book, outcome))

    async def books(self, request: web.Request) -> web.Response:
        items = await self._json_list(request)
        rendered = []
        for item in items:
            token_id = item.get("token_id") if isinstance(item, dict) else None
            try:
                book, outcome = self._find(token_id)
            except http.ApiError as exc:
                if exc.status == 404:
                    continue  # unknown books are left out of a batch rather than failing it
                raise
            rendered.append(frames.rest_book(book, outcome))
        return _bytes_response(b"[" + b",".join(rendered) + b"]")

    async def tick_size(self, request: web.Request) -> web.Response:
        book, _ = self._token(request)
        return json_response({"minimum_tick_size": float(book.market.tick.decimal)})

    async def neg_risk(self, request: web.Request) -> web.Response:
        book, _ = self._token(request)
        return json_response({"neg_risk": book.market.neg_risk})

    async def midpoint(self, request: web.Request) -> web.Response:
        book, outcome = self._token(request)
        bid, ask = book.best_bid(outcome), book.best_ask(outcome)
        if bid is None or ask is None:
            raise http.ApiError(404, NO_BOOK)
        return json_response({"mid": units.decimal_str(Decimal(bid + ask) / (2 * PIPS_PER_UNIT))})

    async def price(self, request: web.Request) -> web.Response:
        book, outcome = self._token(request)
        side = request.query.get("side", "").upper()
        if side not in (Side.BUY.value, Side.SELL.value):
            raise http.ApiError(400, "Invalid side")
        # BUY answers the best bid and SELL the best ask (docs/protocol.md §3, live-probed).
        best = book.best_bid(outcome) if side == Side.BUY.value else book.best_ask(outcome)
        if best is None:
            raise http.ApiError(404, NO_BOOK)
        return json_response({"price": pips_to_str(best)})

    async def spread(self, request: web.Request) -> web.Response:
        book, outcome = self._token(request)
        bid, ask = book.best_bid(outcome), book.best_ask(outcome)
        if bid is None or ask is None:
            raise http.ApiError(404, NO_BOOK)
        return json_response({"spread": pips_to_str(ask - bid)})

    async def last_trade_price(self, request: web.Request) -> web.Response:
        book, outcome = self._token(request)
        price = book.last_trade_price(outcome)
        if price is None:
            return json_response({"price": "0.5", "side": ""})
        yes_side = book.last_trade_side  # None for the seeded, pre-session last trade
        side = "" if yes_side is None else (yes_side if outcome is Outcome.YES else yes_side.other).value
        return json_response({"price": pips_to_str(price), "side": side})

    async def version(self, request: web.Request) -> web.Response:
        return json_response({"version": 2})

    async def time(self, request: web.Request) -> web.Response:
        return json_response(int(time.time()))

    async def ok(self, request: web.Request) -> web.Response:
        return json_response("OK")
