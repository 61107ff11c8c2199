"""The rest of the public CLOB REST surface (docs/protocol.md §3) and the trade tape behind it.

* batch prices: POST ``/midpoints``, ``/prices``, ``/spreads``, ``/last-trades-prices`` (bodies
  ``[{"token_id", "side"?}]``, ≤ 500 items; the GET forms take ``token_ids``/``sides`` comma lists);
  unknown tokens are left out of the answer, malformed ones fail the request (400);
* markets: ``/markets``, ``/sampling-markets``, ``/simplified-markets``,
  ``/sampling-simplified-markets`` as cursor pages (``MA==`` … ``LTE=``; "sampling" = reward-eligible
  and open), ``/markets/{cond}``, ``/clob-markets/{cond}`` (the compact V2 market info),
  ``/markets-by-token/{tok}``, ``/fee-rate``, ``/rewards/markets/current`` and ``/rewards/markets/{cond}``;
* ``/prices-history``: a bounded per-market series of last-trade prices, back-filled with a week of
  hourly points (deterministic per seed) so charts have a past.

``Tape`` listens to the matching engine and keeps the price series and the recent trades (the Data
API's ``/trades`` reads them too).
"""

from __future__ import annotations

import base64
import binascii
import random
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web
from multidict import MultiMapping

from polymm.domain.market import Outcome, Side
from polymm.domain.prices import MAX_PIPS, PIPS_PER_UNIT, pips_to_str

from ..sim import units
from ..sim.book import MarketBook
from ..sim.catalog import COLLATERAL_ADDRESS, Catalog, MarketProfile, MarketStatus
from ..sim.matching import Event, MatchingEngine, Trade
from . import http
from .http import json_response as _json

INVALID_TOKEN = "Invalid token id"
PAYLOAD_LIMIT = "Payload exceeds the limit"
MAX_BATCH = 500
#: CLOB market pages hold this many markets (the captured page in tests/fixtures says 100).
PAGE_SIZE = 100
START_CURSOR = "MA=="
END_CURSOR = "LTE="

INTERVALS: dict[str, int | None] = {"1m": 60, "1h": 3600, "6h": 6 * 3600, "1d": 86400, "1w": 7 * 86400}
INTERVALS |= {"max": None, "all": None}


def _num(d: Decimal) -> int | float:
    return int(d) if d == d.to_integral_value() else float(d)


# ------------------------------------------------------------------------------------------- tape


class Tape:
    """Per-market last-trade price series (bounded) and the most recent trades, from engine events."""

    HISTORY = 20_000
    TRADES = 5_000
    BACKFILL_HOURS = 7 * 24

    def __init__(
        self, matching: MatchingEngine, catalog: Catalog, clock: Callable[[], int], seed: int, backfill: bool = True
    ) -> None:
        self.matching = matching
        self.seed = seed
        self.clock = clock
        self.history: dict[str, deque[tuple[int, int]]] = {}
        self.trades: deque[Trade] = deque(maxlen=self.TRADES)
        if backfill:
            now_s = clock() // 1000
            for profile in catalog.profiles:
                self.backfill(profile, now_s)
        matching.add_listener(self._on_event)

    def series(self, condition_id: str) -> deque[tuple[int, int]]:
        s = self.history.get(condition_id)
        if s is None:
            s = self.history[condition_id] = deque(maxlen=self.HISTORY)
        return s

    def backfill(self, profile: MarketProfile, now_s: int) -> None:
        """Hourly points over the past week ending at the market's starting price (a seeded walk back)."""
        m = profile.market
        rng = random.Random(f"polymm-history:{self.seed}:{m.condition_id}")
        tick = m.tick.pips
        price = float(profile.start_fair)
        points = []
        hour = now_s - now_s % 3600
        for k in range(1, self.BACKFILL_HOURS + 1):
            price = min(max(price + rng.gauss(0.0, 1.2 * max(tick, 50)), tick), MAX_PIPS - tick)
            points.append((hour - k * 3600, m.tick.floor(int(price)) or tick))
        self.series(m.condition_id).extend(reversed(points))

    def _on_event(self, event: Event) -> None:
        if not isinstance(event, Trade):
            return
        self.trades.append(event)
        book = event.book
        if book.last_trade is None:
            return
        s = self.series(book.market.condition_id)
        t = event.timestamp_ms // 1000
        if s and s[-1][0] == t:
            s[-1] = (t, book.last_trade)
        else:
            s.append((t, book.last_trade))

    def points(self, condition_id: str, start_s: int | None, end_s: int | None) -> list[tuple[int, int]]:
        return [
            (t, p)
            for t, p in self.history.get(condition_id, ())
            if (start_s is None or t >= start_s) and (end_s is None or t <= end_s)
        ]


# ------------------------------------------------------------------------------------------- shapes


def mid_pips(book: MarketBook, outcome: Outcome = Outcome.YES) -> Decimal | None:
    bid, ask = book.best_bid(outcome), book.best_ask(outcome)
    if bid is None or ask is None:
        return None
    return Decimal(bid + ask) / 2


def token_prices(book: MarketBook, status: MarketStatus) -> tuple[Decimal, Decimal]:
    """(YES, NO) display prices: 1/0 once resolved, else the mid, else the last trade, else 0.5."""
    if status.winner is not None:
        yes = Decimal(1 if status.winner is Outcome.YES else 0)
        return yes, 1 - yes
    mid = mid_pips(book)
    if mid is not None:
        yes = (mid / PIPS_PER_UNIT).quantize(Decimal("0.0001"))
    elif book.last_trade is not None:
        yes = Decimal(book.last_trade) / PIPS_PER_UNIT
    else:
        yes = Decimal("0.5")
    return yes, 1 - yes


def clob_rewards(profile: MarketProfile) -> dict[str, Any]:
    m = profile.market
    rates = (
        [{"asset_address": COLLATERAL_ADDRESS, "rewards_daily_rate": _num(profile.reward_daily_rate)}]
        if profile.has_rewards
        else None
    )
    return {"rates": rates, "min_size": _num(m.reward_min_size), "max_spread": _num(m.reward_max_spread)}


def clob_tokens(profile: MarketProfile, book: MarketBook, status: MarketStatus) -> list[dict[str, Any]]:
    m = profile.market
    prices = token_prices(book, status)
    return [
        {
            "token_id": m.token(outcome),
            "outcome": m.outcomes[i],
            "price": _num(prices[i]),
            "winner": status.winner is outcome,
        }
        for i, outcome in enumerate((Outcome.YES, Outcome.NO))
    ]


def clob_market(profile: MarketProfile, book: MarketBook, status: MarketStatus) -> dict[str, Any]:
    """GET ``/markets/{cond}`` and the items of ``/markets`` pages (keys as the captured pages)."""
    m = book.market  # the live market: its tick may have changed
    return {
        "enable_order_book": True,
        "active": True,
        "closed": status.closed,
        "archived": False,
        "accepting_orders": status.accepting_orders,
        "accepting_order_timestamp": None,
        "minimum_order_size": _num(m.min_order_size),
        "minimum_tick_size": float(m.tick.decimal),
        "condition_id": m.condition_id,
        "question_id": profile.question_id,
        "question": m.question,
        "description": profile.description,
        "market_slug": m.slug,
        "end_date_iso": m.end_date,
        "game_start_time": None,
        "seconds_delay": 0,
        "fpmm": "",
        "maker_base_fee": 0,
        "taker_base_fee": 0,
        "notifications_enabled": True,
        "neg_risk": m.neg_risk,
        "neg_risk_market_id": profile.neg_risk_market_id,
        "neg_risk_request_id": profile.neg_risk_request_id,
        "icon": "",
        "image": "",
        "rewards": clob_rewards(profile),
        "is_50_50_outcome": False,
        "tokens": clob_tokens(profile, book, status),
        "tags": [profile.tag.label, "All"],
    }


def simplified_market(profile: MarketProfile, book: MarketBook, status: MarketStatus) -> dict[str, Any]:
    return {
        "condition_id": profile.market.condition_id,
        "rewards": clob_rewards(profile),
        "tokens": clob_tokens(profile, book, status),
        "active": True,
        "closed": status.closed,
        "archived": False,
        "accepting_orders": status.accepting_orders,
    }


def clob_market_info(profile: MarketProfile, book: MarketBook, status: MarketStatus) -> dict[str, Any]:
    """GET ``/clob-markets/{cond}``: the V2 client's compact market info."""
    m = book.market
    fees = profile.fees
    return {
        "c": m.condition_id,
        "t": [{"t": m.yes_token, "o": m.outcomes[0]}, {"t": m.no_token, "o": m.outcomes[1]}],
        "mts": float(m.tick.decimal),
        "nr": m.neg_risk,
        "fd": {
            "r": float(fees.rate) if fees else 0,
            "e": fees.exponent if fees else 1,
            "to": fees.taker_only if fees else True,
        },
        "mbf": 0,
        "tbf": 0,
        "r": {"mi": _num(m.reward_min_size), "ma": _num(m.reward_max_spread)} if profile.has_rewards else None,
        "ao": status.accepting_orders,
        "mos": _num(m.min_order_size),
        "sd": 0,
        "rfqe": False,
        "itode": False,
    }


def reward_market(profile: MarketProfile, book: MarketBook, status: MarketStatus) -> dict[str, Any]:
    m = profile.market
    return {
        "condition_id": m.condition_id,
        "rewards_max_spread": _num(m.reward_max_spread),
        "rewards_min_size": _num(m.reward_min_size),
        "rewards_config": [
            {
                "asset_address": COLLATERAL_ADDRESS,
                "start_date": profile.start_date[:10],
                "end_date": "2500-12-31",
                "rate_per_day": _num(profile.reward_daily_rate),
                "total_rewards": 0,
            }
        ],
        "tokens": [{k: t[k] for k in ("token_id", "outcome", "price")} for t in clob_tokens(profile, book, status)],
    }


# ------------------------------------------------------------------------------------------- paging


def encode_cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    """Offset of a ``next_cursor`` (absent/empty = start); None for the end sentinel. 400 if garbled."""
    if not cursor:
        return 0
    if cursor == END_CURSOR:
        return None
    try:
        text = base64.b64decode(cursor, validate=True).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise http.ApiError(400, f"invalid next_cursor: {cursor!r}") from None
    if not text.isdigit():
        raise http.ApiError(400, f"invalid next_cursor: {cursor!r}")
    return int(text)


def page(items: Sequence[Any], cursor: str | None, limit: int = PAGE_SIZE) -> dict[str, Any]:
    """One CLOB page ``{limit, count, next_cursor, data}``; ``next_cursor`` is ``LTE=`` on the last page."""
    offset = decode_cursor(cursor)
    data = [] if offset is None else list(items[offset : offset + limit])
    next_offset = None if offset is None or offset + limit >= len(items) else offset + limit
    return {
        "data": data,
        "next_cursor": END_CURSOR if next_offset is None else encode_cursor(next_offset),
        "limit": limit,
        "count": len(data),
    }


# ------------------------------------------------------------------------------------------- routes




def _valid_token(token: object) -> str:
    if not isinstance(token, str) or not (token.isascii() and token.isdigit()):
        raise http.ApiError(400, INVALID_TOKEN)
    return token


def _comma(query: MultiMapping[str], *names: str) -> list[str]:
    out: list[str] = []
    for name in names:
        for v in query.getall(name, ()):
            out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def _int_param(query: MultiMapping[str], name: str, minimum: int = 0) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        n = int(value)
    except ValueError:
        raise http.ApiError(400, f"invalid {name}: {value!r} (expected an integer)") from None
    if n < minimum:
        raise http.ApiError(400, f"invalid {name}: {value!r} (expected an integer >= {minimum})")
    return n


class ClobExtraApi:
    """Public CLOB routes beyond the book basics (see the module docstring)."""

    def __init__(self, matching: MatchingEngine, catalog: Catalog, tape: Tape, clock: Callable[[], int]) -> None:
        self.matching = matching
        self.catalog = catalog
        self.tape = tape
        self.clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/midpoints", self.midpoints),
            web.get("/midpoints", self.midpoints),
            web.post("/prices", self.prices),
            web.get("/prices", self.prices),
            web.post("/spreads", self.spreads),
            web.get("/spreads", self.spreads),
            web.post("/last-trades-prices", self.last_trades_prices),
            web.get("/last-trades-prices", self.last_trades_prices),
            web.get("/fee-rate", self.fee_rate),
            web.get("/fee-rate/{token_id}", self.fee_rate),
            web.get("/markets", self.markets),
            web.get("/sampling-markets", self.sampling_markets),
            web.get("/simplified-markets", self.simplified_markets),
            web.get("/sampling-simplified-markets", self.sampling_simplified_markets),
            web.get("/markets/{condition_id}", self.market),
            web.get("/clob-markets/{condition_id}", self.clob_market_info),
            web.get("/markets-by-token/{token_id}", self.markets_by_token),
            web.get("/prices-history", self.prices_history),
            web.get("/rewards/markets/current", self.rewards_current),
            web.get("/rewards/markets/{condition_id}", self.rewards_market),
        ]

    # ---- helpers

    def _lookup(self, token: object) -> tuple[MarketBook, Outcome] | None:
        return self.matching.lookup(_valid_token(token))

    async def _items(self, request: web.Request, with_side: bool = False) -> list[tuple[str, str | None]]:
        """(token, side) pairs from a POST body list or GET ``token_ids``/``sides`` query lists."""
        if request.method == "GET":
            tokens = _comma(request.query, "token_ids", "token_id")
            sides = _comma(request.query, "sides", "side")
            if with_side and len(sides) != len(tokens):
                raise http.ApiError(400, "token_ids and sides must have the same length")
            raw: list[Any] = [
                {"token_id": t, **({"side": sides[i]} if with_side else {})} for i, t in enumerate(tokens)
            ]
        else:
            try:
                raw = orjson.loads(await request.read())
            except orjson.JSONDecodeError:
                raise http.ApiError(400, "Invalid payload") from None
            if not isinstance(raw, list):
                raise http.ApiError(400, "Invalid payload")
        if len(raw) > MAX_BATCH:
            raise http.ApiError(400, PAYLOAD_LIMIT)
        out: list[tuple[str, str | None]] = []
        for item in raw:
            if not isinstance(item, dict):
                raise http.ApiError(400, "Invalid payload")
            token = _valid_token(item.get("token_id"))
            side = item.get("side")
            if with_side:
                if not isinstance(side, str) or side.upper() not in (Side.BUY.value, Side.SELL.value):
                    raise http.ApiError(400, "Invalid side")
                side = side.upper()
            out.append((token, side if with_side else None))
        return out

    def _market(self, cond: str) -> tuple[MarketProfile, MarketBook, MarketStatus]:
        if not (isinstance(cond, str) and cond.startswith("0x") and len(cond) == 66):
            raise http.ApiError(400, f"invalid condition id: {cond!r}")
        profile = self.catalog.profile(cond.lower())
        if profile is None:
            raise http.ApiError(404, "market not found")
        cond = profile.market.condition_id
        book = self.matching.market_book(cond)
        assert book is not None
        return profile, book, self.catalog.status[cond]

    def _all(self, sampling: bool = False) -> Iterable[tuple[MarketProfile, MarketBook, MarketStatus]]:
        for profile in self.catalog.profiles:
            cond = profile.market.condition_id
            status = self.catalog.status[cond]
            if sampling and (status.closed or not profile.has_rewards):
                continue
            book = self.matching.market_book(cond)
            assert book is not None
            yield profile, book, status

    # ---- batch prices

    async def midpoints(self, request: web.Request) -> web.Response:
        out: dict[str, str] = {}
        for token, _ in await self._items(request):
            found = self.matching.lookup(token)
            mid = mid_pips(*found) if found is not None else None
            if mid is not None:
                out[token] = units.decimal_str(mid / PIPS_PER_UNIT)
        return _json(out)

    async def prices(self, request: web.Request) -> web.Response:
        out: dict[str, dict[str, str]] = {}
        for token, side in await self._items(request, with_side=True):
            found = self.matching.lookup(token)
            if found is None:
                continue
            book, outcome = found
            # BUY answers the best bid and SELL the best ask, as GET /price (docs/protocol.md §3).
            best = book.best_bid(outcome) if side == Side.BUY.value else book.best_ask(outcome)
            if best is not None:
                out.setdefault(token, {})[str(side)] = pips_to_str(best)
        return _json(out)

    async def spreads(self, request: web.Request) -> web.Response:
        out: dict[str, str] = {}
        for token, _ in await self._items(request):
            found = self.matching.lookup(token)
            if found is None:
                continue
            book, outcome = found
            bid, ask = book.best_bid(outcome), book.best_ask(outcome)
            if bid is not None and ask is not None:
                out[token] = pips_to_str(ask - bid)
        return _json(out)

    async def last_trades_prices(self, request: web.Request) -> web.Response:
        out = []
        for token, _ in await self._items(request):
            found = self.matching.lookup(token)
            if found is None:
                continue
            book, outcome = found
            price = book.last_trade_price(outcome)
            yes_side = book.last_trade_side
            if price is None:
                out.append({"token_id": token, "price": "0.5", "side": ""})
                continue
            side = "" if yes_side is None else (yes_side if outcome is Outcome.YES else yes_side.other).value
            out.append({"token_id": token, "price": pips_to_str(price), "side": side})
        return _json(out)

    async def fee_rate(self, request: web.Request) -> web.Response:
        found = self._lookup(request.match_info.get("token_id") or request.query.get("token_id"))
        if found is None:
            raise http.ApiError(404, "market not found")
        profile = self.catalog.profile(found[0].market.condition_id)
        assert profile is not None
        return _json({"base_fee": int(profile.fee_rate * 10_000)})

    # ---- markets

    async def markets(self, request: web.Request) -> web.Response:
        items = [clob_market(*x) for x in self._all()]
        return _json(page(items, request.query.get("next_cursor")))

    async def sampling_markets(self, request: web.Request) -> web.Response:
        items = [clob_market(*x) for x in self._all(sampling=True)]
        return _json(page(items, request.query.get("next_cursor")))

    async def simplified_markets(self, request: web.Request) -> web.Response:
        items = [simplified_market(*x) for x in self._all()]
        return _json(page(items, request.query.get("next_cursor")))

    async def sampling_simplified_markets(self, request: web.Request) -> web.Response:
        items = [simplified_market(*x) for x in self._all(sampling=True)]
        return _json(page(items, request.query.get("next_cursor")))

    async def market(self, request: web.Request) -> web.Response:
        return _json(clob_market(*self._market(request.match_info["condition_id"])))

    async def clob_market_info(self, request: web.Request) -> web.Response:
        return _json(clob_market_info(*self._market(request.match_info["condition_id"])))

    async def markets_by_token(self, request: web.Request) -> web.Response:
        found = self._lookup(request.match_info["token_id"])
        if found is None:
            raise http.ApiError(404, "market not found")
        return _json({"condition_id": found[0].market.condition_id})

    async def rewards_current(self, request: web.Request) -> web.Response:
        items = [reward_market(*x) for x in self._all(sampling=True)]
        return _json(page(items, request.query.get("next_cursor")))

    async def rewards_market(self, request: web.Request) -> web.Response:
        profile, book, status = self._market(request.match_info["condition_id"])
        items = [reward_market(profile, book, status)] if profile.has_rewards else []
        return _json(page(items, request.query.get("next_cursor")))

    # ---- history

    async def prices_history(self, request: web.Request) -> web.Response:
        q = request.query
        token = q.get("market") or q.get("token_id")
        if not token:
            raise http.ApiError(400, "market (a token id) is required")
        found = self._lookup(token)
        if found is None:
            raise http.ApiError(404, "market not found")
        book, outcome = found
        start, end = _int_param(q, "startTs"), _int_param(q, "endTs")
        interval = q.get("interval")
        fidelity = _int_param(q, "fidelity", minimum=1)
        if interval is not None:
            if interval not in INTERVALS:
                raise http.ApiError(400, f"invalid interval: {interval!r}; allowed: {', '.join(INTERVALS)}")
            if start is not None or end is not None:
                raise http.ApiError(400, "use either interval or startTs/endTs, not both")
            span = INTERVALS[interval]
            if span is not None:
                end = self.clock() // 1000
                start = end - span
        if start is not None and end is not None and start > end:
            raise http.ApiError(400, "startTs must not be after endTs")
        points = self.tape.points(book.market.condition_id, start, end)
        if fidelity is not None:
            bucket = fidelity * 60
            kept: dict[int, tuple[int, int]] = {}
            for t, p in points:
                kept[t // bucket] = (t, p)
            points = list(kept.values())
        flip = outcome is Outcome.NO
        history = [{"t": t, "p": float(Decimal(MAX_PIPS - p if flip else p) / PIPS_PER_UNIT)} for t, p in points]
        return _json({"history": history})
