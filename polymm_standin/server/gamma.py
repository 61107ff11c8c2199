"""Gamma ``/markets`` and ``/events``: discovery as Polymarket's Gamma API shapes it (docs/protocol.md §7).

Gamma differs from the CLOB on purpose and clients trip on it, so the stand-in reproduces the
differences: camelCase keys, ``id`` as a string, ``outcomes``/``outcomePrices``/``clobTokenIds`` as
JSON-ENCODED STRINGS (``"[\\"Yes\\", \\"No\\"]"``), numbers (not decimal strings) for prices and
ticks, ``liquidity``/``volume`` as strings beside their ``…Num`` numbers, and ``rewardsMaxSpread`` in
cents. Live fields (best bid/ask, spread, last trade, liquidity, volume, tick, closed) are read from
the matching engine and the catalog at request time. ``volume1wk`` (the 7-day volume) is the catalog's
pretend 24 h volume over a trend drawn per market from a generator seeded with its condition id (a
function of the catalog's seed, so the same every run), plus the session's trades.

Routes (under ``/gamma-api``): ``/markets`` (filters below), ``/markets/{id}``, ``/markets/slug/{slug}``,
``/events`` (nesting their markets), ``/events/{id}``, ``/events/slug/{slug}``, ``/tags``.

``/markets`` filters: ``limit`` (≤ 500), ``offset``, ``order`` (comma list of fields), ``ascending``,
``id``, ``slug``, ``clob_token_ids``, ``condition_ids``, ``question_ids`` (repeatable, ``name[]`` or
comma lists), ``closed`` (default false), ``active``, ``archived``, ``tag_id``, ``related_tags``
(accepted, no effect), ``liquidity_num_min/max``, ``volume_num_min/max``, ``start_date_min/max``,
``end_date_min/max``, ``rewards_min_size`` (markets whose ``rewardsMinSize`` is at least that).
``/events`` takes the same paging and ordering plus ``id``, ``slug``, ``closed``, ``active``,
``archived``, ``featured``, ``tag_id``, ``tag_slug``, ``exclude_tag_id``, ``liquidity_min/max``,
``volume_min/max``, ``start_date_min/max``, ``end_date_min/max``.
"""

from __future__ import annotations

import functools
import json
import operator
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from polymm.domain.market import Outcome
from polymm.domain.prices import PIPS_PER_UNIT, pips_to_decimal

from ..sim import units
from ..sim.book import BookSide
from ..sim.catalog import COLLATERAL_ADDRESS, TAGS, Catalog, EventProfile, MarketProfile, MarketStatus
from ..sim.matching import MatchingEngine
from . import http
from .http import json_response as _json

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
#: ``order=`` names that sort by their numeric twin (Gamma's string-typed amounts).
_NUMERIC_TWIN = {"liquidity": "liquidityNum", "volume": "volumeNum"}
#: The pretend trends (the last day's volume against the week's daily average) the 7-day volumes are drawn
#: with: from a market fading to a fifth of its usual day to one trading two and a half times it.
TREND_RANGE = (0.2, 2.5)


def _num(d: Decimal) -> int | float:
    """A JSON number as Gamma writes it: integral values as ints (``5``), others as floats."""
    return int(d) if d == d.to_integral_value() else float(d)


def base_volume_1wk(profile: MarketProfile) -> Decimal:
    """The pretend pre-session 7-day volume (USDC): ``7 × base_volume_24h / trend``, the trend drawn from
    ``TREND_RANGE`` by a generator seeded with the market's condition id, so a seed's markets always
    get the same; at least the 24 h volume and at most the all-time volume, as on a live venue."""
    trend = random.Random(f"polymm-volume-1wk:{profile.market.condition_id}").uniform(*TREND_RANGE)
    week = (profile.base_volume_24h * 7 / Decimal(str(round(trend, 4)))).quantize(Decimal("0.01"))
    return min(max(week, profile.base_volume_24h), max(profile.base_volume, profile.base_volume_24h))


def _side_notional(side: BookSide) -> int:
    return sum(p * level.total for p, level in side.levels.items())


def _fee_fields(profile: MarketProfile) -> dict[str, Any]:
    fees = profile.fees
    if fees is None:
        return {"feesEnabled": False, "feeType": None, "feeSchedule": None}
    return {
        "feesEnabled": True,
        "feeType": fees.fee_type,
        "feeSchedule": {
            "exponent": fees.exponent,
            "rate": float(fees.rate),
            "takerOnly": fees.taker_only,
            "rebateRate": float(fees.rebate_rate),
        },
    }


def _event_stub(event: EventProfile | None) -> list[dict[str, Any]]:
    if event is None:
        return []
    return [{"id": event.id, "ticker": event.ticker, "slug": event.slug, "title": event.title}]


def gamma_market(
    profile: MarketProfile,
    matching: MatchingEngine,
    status: MarketStatus | None = None,
    event: EventProfile | None = None,
) -> dict[str, Any]:
    """One market in Gamma's shape, with live prices from the engine."""
    book = matching.market_book(profile.market.condition_id)
    assert book is not None, "profile and engine out of step"
    m = book.market  # the live market (its tick may have changed)
    status = status or MarketStatus(base_tick=m.tick)
    closed = status.closed and not status.gamma_stale
    bid, ask, last = book.best_bid(), book.best_ask(), book.last_trade
    if status.winner is not None:
        yes = Decimal(1 if status.winner is Outcome.YES else 0)
    elif bid is not None and ask is not None:
        yes = Decimal(bid + ask) / (2 * PIPS_PER_UNIT)
    elif last is not None:
        yes = pips_to_decimal(last)
    else:
        yes = Decimal("0.5")
    # Liquidity as the notional resting on the YES book (both sides), in USDC.
    resting = _side_notional(book.bids) + _side_notional(book.asks)
    liquidity = (Decimal(resting) / (units.MICRO * PIPS_PER_UNIT)).quantize(Decimal("0.0001"))
    session = matching.volume(m.condition_id)
    volume = profile.base_volume + session
    volume_24h = profile.base_volume_24h + session
    volume_1wk = base_volume_1wk(profile) + session
    doc: dict[str, Any] = {
        "id": profile.gamma_id,
        "question": m.question,
        "conditionId": m.condition_id,
        "questionID": profile.question_id,
        "slug": m.slug,
        "description": profile.description,
        "resolutionSource": "",
        "startDate": profile.start_date,
        "endDate": m.end_date,
        "endDateIso": m.end_date[:10],
        **({"gameStartTime": m.game_start} if m.game_start else {}),
        "image": "",
        "icon": "",
        "outcomes": json.dumps(list(m.outcomes)),
        "outcomePrices": json.dumps([units.decimal_str(yes), units.decimal_str(1 - yes)]),
        "clobTokenIds": json.dumps([m.yes_token, m.no_token]),
        "active": True,
        "closed": closed,
        "archived": False,
        "acceptingOrders": status.accepting_orders or status.gamma_stale,
        "enableOrderBook": True,
        "orderPriceMinTickSize": float(m.tick.decimal),
        "orderMinSize": _num(m.min_order_size),
        "negRisk": m.neg_risk,
        "liquidity": units.decimal_str(liquidity),
        "liquidityNum": float(liquidity),
        "volume": units.decimal_str(volume),
        "volumeNum": float(volume),
        "volume24hr": float(volume_24h),
        "volume1wk": float(volume_1wk),
        "rewardsMinSize": _num(m.reward_min_size),
        "rewardsMaxSpread": _num(m.reward_max_spread),
        "clobRewards": (
            [
                {
                    "id": profile.gamma_id,
                    "conditionId": m.condition_id,
                    "assetAddress": COLLATERAL_ADDRESS,
                    "rewardsAmount": 0,
                    "rewardsDailyRate": _num(profile.reward_daily_rate),
                    "startDate": profile.start_date[:10],
                    "endDate": "2500-12-31",
                }
            ]
            if profile.has_rewards
            else []
        ),
        "spread": float(pips_to_decimal(ask - bid)) if bid is not None and ask is not None else 0,
        "bestBid": float(pips_to_decimal(bid)) if bid is not None else 0,
        "bestAsk": float(pips_to_decimal(ask)) if ask is not None else 0,
        "lastTradePrice": float(pips_to_decimal(last)) if last is not None else 0,
        **_fee_fields(profile),
        "secondsDelay": 0,
        "events": _event_stub(event),
    }
    if m.neg_risk:
        doc["negRiskMarketID"] = profile.neg_risk_market_id
        doc["negRiskRequestID"] = profile.neg_risk_request_id
        doc["groupItemTitle"] = profile.group_item_title
    if closed and status.closed_ms is not None:
        doc["closedTime"] = datetime.fromtimestamp(status.closed_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S+00")
    return doc


def gamma_event(event: EventProfile, markets: Sequence[dict[str, Any]], closed: bool) -> dict[str, Any]:
    """An event with its markets nested (in Gamma's market shape)."""
    liquidity = sum(d["liquidityNum"] for d in markets)
    doc: dict[str, Any] = {
        "id": event.id,
        "ticker": event.ticker,
        "slug": event.slug,
        "title": event.title,
        "description": event.description,
        "startDate": event.start_date,
        "endDate": event.end_date,
        "image": "",
        "icon": "",
        "active": True,
        "closed": closed,
        "archived": False,
        "new": False,
        "featured": event.featured,
        "restricted": False,
        "liquidity": round(liquidity, 4),
        "volume": round(sum(d["volumeNum"] for d in markets), 2),
        "volume24hr": round(sum(d["volume24hr"] for d in markets), 2),
        "enableOrderBook": True,
        "negRisk": event.neg_risk,
        "tags": [{"id": event.tag.id, "label": event.tag.label, "slug": event.tag.slug}],
        "markets": list(markets),
    }
    if event.neg_risk:
        doc["negRiskMarketID"] = event.neg_risk_market_id
    return doc


# ------------------------------------------------------------------------------------------- query params


def _flag(query: Mapping[str, str], name: str) -> bool | None:
    value = query.get(name)
    if value is None:
        return None
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise http.ApiError(400, f"invalid {name}: {value!r} (expected true or false)")
    return lowered == "true"


def _int(query: Mapping[str, str], name: str, default: int, maximum: int | None = None) -> int:
    value = query.get(name)
    if value is None:
        return default
    try:
        n = int(value)
    except ValueError:
        raise http.ApiError(400, f"invalid {name}: {value!r} (expected a non-negative integer)") from None
    if n < 0:
        raise http.ApiError(400, f"invalid {name}: {value!r} (expected a non-negative integer)")
    return min(n, maximum) if maximum is not None else n


def _float(query: Mapping[str, str], name: str) -> float | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        x = float(value)
    except ValueError:
        x = float("nan")
    if x != x or x in (float("inf"), float("-inf")):
        raise http.ApiError(400, f"invalid {name}: {value!r} (expected a number)")
    return x


def _date(query: Mapping[str, str], name: str) -> datetime | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        d = datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        raise http.ApiError(400, f"invalid {name}: {value!r} (expected an ISO 8601 date or time)") from None
    return d if d.tzinfo is not None else d.replace(tzinfo=UTC)


def _parse_iso(text: str) -> datetime | None:
    try:
        d = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo is not None else d.replace(tzinfo=UTC)


def _values(query: MultiMapping[str], name: str) -> set[str]:
    """Repeated filter values, accepting ``name`` and ``name[]`` and comma lists."""
    out: set[str] = set()
    for key in (name, f"{name}[]"):
        for v in query.getall(key, ()):
            out.update(x.strip() for x in v.split(",") if x.strip())
    return out


Row = dict[str, Any]


def _at_least(key: str, bound: float, row: Row) -> bool:
    return bool(row[key] >= bound)


def _at_most(key: str, bound: float, row: Row) -> bool:
    return bool(row[key] <= bound)


def _range_filters(query: MultiMapping[str], spec: Sequence[tuple[str, str]]) -> list[Callable[[Row], bool]]:
    """Numeric min/max filters: (param stem, row key) → ``stem_min``/``stem_max``."""
    checks: list[Callable[[Row], bool]] = []
    for stem, key in spec:
        lo, hi = _float(query, f"{stem}_min"), _float(query, f"{stem}_max")
        if lo is not None:
            checks.append(functools.partial(_at_least, key, lo))
        if hi is not None:
            checks.append(functools.partial(_at_most, key, hi))
    return checks


def _date_filters(query: MultiMapping[str]) -> list[Callable[[Row], bool]]:
    checks: list[Callable[[Row], bool]] = []
    for stem, key in (("start_date", "startDate"), ("end_date", "endDate")):
        lo, hi = _date(query, f"{stem}_min"), _date(query, f"{stem}_max")
        for bound, later in ((lo, True), (hi, False)):
            if bound is None:
                continue

            def check(r: Row, k: str = key, b: datetime = bound, later: bool = later) -> bool:
                d = _parse_iso(r.get(k) or "")
                return d is not None and (d >= b if later else d <= b)

            checks.append(check)
    return checks


def _order(rows: list[Row], query: MultiMapping[str], template: Row | None) -> None:
    """Sort in place by ``order`` (comma list, first field most significant) and ``ascending``."""
    ascending = _flag(query, "ascending")
    order = [f.strip() for f in query.get("order", "").split(",") if f.strip()]
    if not order:
        return
    sortable = {k for k, v in (template or {}).items() if isinstance(v, str | int | float) and v is not None}
    keys = []
    for name in order:
        twin = _NUMERIC_TWIN.get(name)
        key = twin if twin in sortable else name
        if key not in sortable:
            raise http.ApiError(400, f"invalid order field: {name!r}")
        keys.append(key)
    for key in reversed(keys):
        rows.sort(key=operator.itemgetter(key), reverse=ascending is False)


def _page(rows: list[Row], query: MultiMapping[str]) -> list[Row]:
    limit = _int(query, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    offset = _int(query, "offset", 0)
    return rows[offset : offset + limit]


ProfileCheck = Callable[[MarketProfile], bool]
EventCheck = Callable[[EventProfile], bool]


def _is(key: str, value: bool, row: Row) -> bool:
    return row[key] is value


def _state_checks(query: MultiMapping[str], flags: Sequence[str]) -> list[Callable[[Row], bool]]:
    """``closed`` (Gamma lists open markets unless asked for closed ones) and the other state flags."""
    checks: list[Callable[[Row], bool]] = [functools.partial(_is, "closed", _flag(query, "closed") or False)]
    for key in flags:
        value = _flag(query, key)
        if value is not None:
            checks.append(functools.partial(_is, key, value))
    _flag(query, "related_tags")  # accepted, validated, no effect here
    return checks


def _tag_id(query: MultiMapping[str]) -> str | None:
    tag_id = query.get("tag_id")
    if tag_id is not None and not tag_id.isdigit():
        raise http.ApiError(400, f"invalid tag_id: {tag_id!r} (expected an integer)")
    return tag_id


def _market_checks(query: MultiMapping[str]) -> list[ProfileCheck]:
    """The identity filters of ``/markets`` (ids, slugs, tokens, conditions, questions, tag)."""
    ids = _values(query, "id")
    slugs = _values(query, "slug")
    tokens = _values(query, "clob_token_ids")
    conditions = {c.lower() for c in _values(query, "condition_ids")}
    questions = {c.lower() for c in _values(query, "question_ids")}
    tag_id = _tag_id(query)
    checks: list[ProfileCheck] = []
    if ids:
        checks.append(lambda p: p.gamma_id in ids)
    if slugs:
        checks.append(lambda p: p.market.slug in slugs)
    if tokens:
        checks.append(lambda p: bool(tokens & {p.market.yes_token, p.market.no_token}))
    if conditions:
        checks.append(lambda p: p.market.condition_id in conditions)
    if questions:
        checks.append(lambda p: p.question_id.lower() in questions)
    if tag_id is not None:
        checks.append(lambda p: p.tag.id == tag_id)
    return checks


def query_markets(
    profiles: Sequence[MarketProfile],
    matching: MatchingEngine,
    query: MultiMapping[str],
    catalog: Catalog | None = None,
) -> list[Row]:
    """GET ``/markets`` with Gamma's filters, ordering and paging. Bad parameters → ``ApiError`` 400."""
    row_checks = _state_checks(query, ("active", "archived"))
    picks = _market_checks(query)
    rewards_min = _float(query, "rewards_min_size")
    if rewards_min is not None:
        row_checks.append(functools.partial(_at_least, "rewardsMinSize", rewards_min))
    row_checks += _range_filters(query, (("liquidity_num", "liquidityNum"), ("volume_num", "volumeNum")))
    row_checks += _date_filters(query)
    _int(query, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    _int(query, "offset", 0)

    def render(profile: MarketProfile) -> Row:
        cond = profile.market.condition_id
        if catalog is None:
            return gamma_market(profile, matching)
        return gamma_market(profile, matching, catalog.status[cond], catalog.event_of(cond))

    template = render(profiles[0]) if profiles else None
    rows = []
    for profile in profiles:
        if all(pick(profile) for pick in picks):
            row = render(profile)
            if all(check(row) for check in row_checks):
                rows.append(row)
    _order(rows, query, template)
    return _page(rows, query)


def _event_checks(query: MultiMapping[str]) -> list[EventCheck]:
    """The identity filters of ``/events`` (ids, slugs, tag id, tag slug, excluded tags)."""
    ids = _values(query, "id")
    slugs = _values(query, "slug")
    tag_id = _tag_id(query)
    excluded = _values(query, "exclude_tag_id")
    if any(not x.isdigit() for x in excluded):
        raise http.ApiError(400, "invalid exclude_tag_id (expected integers)")
    tag_slug = query.get("tag_slug")
    checks: list[EventCheck] = [lambda e: e.tag.id not in excluded]
    if ids:
        checks.append(lambda e: e.id in ids)
    if slugs:
        checks.append(lambda e: e.slug in slugs)
    if tag_id is not None:
        checks.append(lambda e: e.tag.id == tag_id)
    if tag_slug is not None:
        checks.append(lambda e: e.tag.slug == tag_slug)
    return checks


def query_events(catalog: Catalog, matching: MatchingEngine, query: MultiMapping[str]) -> list[Row]:
    """GET ``/events``: events with their markets nested, filtered, ordered and paged."""
    row_checks = _state_checks(query, ("active", "archived", "featured"))
    picks = _event_checks(query)
    row_checks += _range_filters(query, (("liquidity", "liquidity"), ("volume", "volume")))
    row_checks += _date_filters(query)
    _int(query, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    _int(query, "offset", 0)

    docs = [(event, event_doc(catalog, matching, event)) for event in catalog.events]
    template = docs[0][1] if docs else None
    rows = [
        row for event, row in docs
        if all(pick(event) for pick in picks) and all(check(row) for check in row_checks)
    ]
    _order(rows, query, template)
    return _page(rows, query)


def event_doc(catalog: Catalog, matching: MatchingEngine, event: EventProfile) -> Row:
    markets = []
    for cond in event.condition_ids:
        profile = catalog.profile(cond)
        if profile is not None:
            markets.append(gamma_market(profile, matching, catalog.status[cond], event))
    closed = bool(markets) and all(d["closed"] for d in markets)
    return gamma_event(event, markets, closed)


# ------------------------------------------------------------------------------------------- routes




class GammaApi:
    """Gamma routes under ``/gamma-api``."""

    def __init__(self, catalog: Catalog, matching: MatchingEngine) -> None:
        self.catalog = catalog
        self.matching = matching

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/gamma-api/markets", self.markets),
            web.get("/gamma-api/markets/slug/{slug}", self.market_by_slug),
            web.get("/gamma-api/markets/{id}", self.market),
            web.get("/gamma-api/events", self.events),
            web.get("/gamma-api/events/slug/{slug}", self.event_by_slug),
            web.get("/gamma-api/events/{id}", self.event),
            web.get("/gamma-api/tags", self.tags),
        ]

    def _market_doc(self, profile: MarketProfile) -> Row:
        s = self
        cond = profile.market.condition_id
        return gamma_market(profile, s.matching, s.catalog.status[cond], s.catalog.event_of(cond))

    async def markets(self, request: web.Request) -> web.Response:
        s = self
        return _json(query_markets(s.catalog.profiles, s.matching, request.query, s.catalog))

    async def market(self, request: web.Request) -> web.Response:
        wanted = request.match_info["id"]
        if not wanted.isdigit():
            raise http.ApiError(400, f"invalid id: {wanted!r} (expected an integer)")
        for profile in self.catalog.profiles:
            if profile.gamma_id == wanted:
                return _json(self._market_doc(profile))
        raise http.ApiError(404, "market not found")

    async def market_by_slug(self, request: web.Request) -> web.Response:
        wanted = request.match_info["slug"]
        for profile in self.catalog.profiles:
            if profile.market.slug == wanted:
                return _json(self._market_doc(profile))
        raise http.ApiError(404, "market not found")

    async def events(self, request: web.Request) -> web.Response:
        s = self
        return _json(query_events(s.catalog, s.matching, request.query))

    async def event(self, request: web.Request) -> web.Response:
        wanted = request.match_info["id"]
        if not wanted.isdigit():
            raise http.ApiError(400, f"invalid id: {wanted!r} (expected an integer)")
        s = self
        event = s.catalog.event(wanted)
        if event is None:
            raise http.ApiError(404, "event not found")
        return _json(event_doc(s.catalog, s.matching, event))

    async def event_by_slug(self, request: web.Request) -> web.Response:
        s = self
        event = next((e for e in s.catalog.events if e.slug == request.match_info["slug"]), None)
        if event is None:
            raise http.ApiError(404, "event not found")
        return _json(event_doc(s.catalog, s.matching, event))

    async def tags(self, request: web.Request) -> web.Response:
        used = {p.category for p in self.catalog.profiles}
        return _json([{"id": t.id, "label": t.label, "slug": t.slug} for c, t in TAGS.items() if c in used])
