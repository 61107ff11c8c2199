"""Gamma ``/markets``: market discovery as Polymarket's Gamma API shapes it (PROTOCOL §7).

Gamma differs from the CLOB on purpose and clients trip on it, so the stand-in reproduces the
differences: camelCase keys, ``id`` as a string, ``outcomes``/``outcomePrices``/``clobTokenIds`` as
JSON-ENCODED STRINGS (``"[\\"Yes\\", \\"No\\"]"``), numbers (not decimal strings) for prices and
ticks, and ``liquidity``/``volume`` as strings beside their ``…Num`` numbers. Live fields (best
bid/ask, spread, last trade, liquidity, volume) are read from the matching engine at request time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from multidict import MultiMapping

from polymm.domain.prices import PIPS_PER_UNIT, pips_to_decimal

from . import wire
from .book import BookSide
from .matching import MatchingEngine
from .synthetic import MarketProfile

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
#: ``order=`` names that sort by their numeric twin (Gamma's string-typed amounts).
_NUMERIC_TWIN = {"liquidity": "liquidityNum", "volume": "volumeNum"}


def _num(d: Decimal) -> int | float:
    """A JSON number as Gamma writes it: integral values as ints (``5``), others as floats."""
    return int(d) if d == d.to_integral_value() else float(d)


def _side_notional(side: BookSide) -> int:
    return sum(p * level.total for p, level in side.levels.items())


def gamma_market(profile: MarketProfile, engine: MatchingEngine) -> dict[str, Any]:
    """One market in Gamma's shape, with live prices from the engine."""
    m = profile.market
    book = engine.market_book(m.condition_id)
    assert book is not None, "profile and engine out of step"
    bid, ask, last = book.best_bid(), book.best_ask(), book.last_trade
    if bid is not None and ask is not None:
        yes = Decimal(bid + ask) / (2 * PIPS_PER_UNIT)
    elif last is not None:
        yes = pips_to_decimal(last)
    else:
        yes = Decimal("0.5")
    # Liquidity as the notional resting on the YES book (both sides), in USDC.
    resting = _side_notional(book.bids) + _side_notional(book.asks)
    liquidity = (Decimal(resting) / (wire.MICRO * PIPS_PER_UNIT)).quantize(Decimal("0.0001"))
    session = engine.volume(m.condition_id)
    volume = profile.base_volume + session
    volume_24h = profile.base_volume_24h + session
    return {
        "id": profile.gamma_id,
        "question": m.question,
        "conditionId": m.condition_id,
        "slug": m.slug,
        "description": profile.description,
        "endDate": m.end_date,
        "outcomes": json.dumps(list(m.outcomes)),
        "outcomePrices": json.dumps([wire.decimal_str(yes), wire.decimal_str(1 - yes)]),
        "clobTokenIds": json.dumps([m.yes_token, m.no_token]),
        "active": True,
        "closed": False,
        "archived": False,
        "acceptingOrders": True,
        "enableOrderBook": True,
        "orderPriceMinTickSize": float(m.tick.decimal),
        "orderMinSize": _num(m.min_order_size),
        "negRisk": m.neg_risk,
        "liquidity": wire.decimal_str(liquidity),
        "liquidityNum": float(liquidity),
        "volume": wire.decimal_str(volume),
        "volumeNum": float(volume),
        "volume24hr": float(volume_24h),
        "rewardsMinSize": _num(m.reward_min_size),
        "rewardsMaxSpread": _num(m.reward_max_spread),
        "spread": float(pips_to_decimal(ask - bid)) if bid is not None and ask is not None else 0,
        "bestBid": float(pips_to_decimal(bid)) if bid is not None else 0,
        "bestAsk": float(pips_to_decimal(ask)) if ask is not None else 0,
        "lastTradePrice": float(pips_to_decimal(last)) if last is not None else 0,
        "feesEnabled": False,
        "secondsDelay": 0,
    }


def _flag(query: Mapping[str, str], name: str) -> bool | None:
    value = query.get(name)
    if value is None:
        return None
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise wire.ApiError(400, f"invalid {name}: {value!r} (expected true or false)")
    return lowered == "true"


def _int(query: Mapping[str, str], name: str, default: int, maximum: int | None = None) -> int:
    value = query.get(name)
    if value is None:
        return default
    try:
        n = int(value)
    except ValueError:
        raise wire.ApiError(400, f"invalid {name}: {value!r} (expected a non-negative integer)") from None
    if n < 0:
        raise wire.ApiError(400, f"invalid {name}: {value!r} (expected a non-negative integer)")
    return min(n, maximum) if maximum is not None else n


def _values(query: MultiMapping[str], name: str) -> set[str]:
    """Repeated filter values, accepting ``name`` and ``name[]`` and comma lists."""
    out: set[str] = set()
    for key in (name, f"{name}[]"):
        for v in query.getall(key, ()):
            out.update(x for x in v.split(",") if x)
    return out


def query_markets(
    profiles: Sequence[MarketProfile], engine: MatchingEngine, query: MultiMapping[str]
) -> list[dict[str, Any]]:
    """GET ``/markets`` with Gamma's filters, ordering and paging. Bad parameters → ``ApiError`` 400."""
    closed = _flag(query, "closed")
    active = _flag(query, "active")
    ascending = _flag(query, "ascending")
    limit = _int(query, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    offset = _int(query, "offset", 0)
    ids = _values(query, "id")
    slugs = _values(query, "slug")
    tokens = _values(query, "clob_token_ids")
    conditions = _values(query, "condition_ids")

    rows = []
    for profile in profiles:
        m = profile.market
        if ids and profile.gamma_id not in ids:
            continue
        if slugs and m.slug not in slugs:
            continue
        if tokens and not tokens & {m.yes_token, m.no_token}:
            continue
        if conditions and m.condition_id not in conditions:
            continue
        rows.append(gamma_market(profile, engine))
    # Gamma lists open markets unless asked for closed ones.
    rows = [r for r in rows if r["closed"] is (closed or False)]
    if active is not None:
        rows = [r for r in rows if r["active"] is active]

    order = [f.strip() for f in query.get("order", "").split(",") if f.strip()]
    if order:
        sortable = {k for k, v in rows[0].items() if isinstance(v, str | int | float)} if rows else set()
        for name in reversed(order):
            key = _NUMERIC_TWIN.get(name, name)
            if rows and key not in sortable:
                raise wire.ApiError(400, f"invalid order field: {name!r}")
            rows.sort(key=lambda r, k=key: r[k], reverse=ascending is False)
    return rows[offset : offset + limit]
