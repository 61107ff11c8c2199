"""Every captured Polymarket message the stand-in also produces has the stand-in's shape.

``tests/fixtures`` holds the project's copies of captured REST answers and WebSocket frames. For each
one the stand-in produces, we fetch or provoke the stand-in's version over real sockets and compare
shapes: same keys, same value types, recursively (lists by their first element; ints and floats are
both "number"; a ``null`` in the capture means "nullable", any type passes). Where the stand-in
deliberately differs the difference is listed here, with the reason, and must match exactly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest_asyncio
import websockets

from polymm.domain.market import Side
from polymm_standin.server import ExchangeServer, run_exchange
from polymm_standin.sim import OrderType

FIXTURES = Path(__file__).parent / "fixtures"

#: What produces each fixture file. A new fixture file fails ``test_every_fixture_is_accounted_for``
#: until it is listed here.
PRODUCERS = {
    "rest/book.json": "GET /book",
    "rest/markets.json": "GET /markets (CLOB page)",
    "rest/market.json": "GET /markets/{condition_id}",
    "rest/market_slug.json": "GET /gamma-api/markets/slug/{slug}",
    "rest/markets_list.json": "GET /gamma-api/markets",
    "rest/event.json": "GET /gamma-api/events/{id}",
    "rest/events_list.json": "GET /gamma-api/events",
    "rest/trades.json": "GET /data-api/trades",
    "ws/book.json": "market WS book",
    "ws/price_change_v2.json": "market WS price_change",
    "ws/last_trade_price.json": "market WS last_trade_price",
    "ws/tick_size_change.json": "market WS tick_size_change",
    # Not produced: the pre-2025-09-15 single-asset price_change (obsolete, docs/protocol.md §6.1).
    "ws/price_change.json": None,
    # The user channel's frames: covered by the trading tests.
    "ws/trades.json": "user",
    "ws/order_placement.json": "user",
    "ws/order_cancel.json": "user",
    "ws/user_trade1.json": "user",
    "ws/user_trade2.json": "user",
    "ws/user_trade3.json": "user",
    "ws/user_trade4.json": "user",
    # Not produced: shapes seen in real payloads (docs/protocol.md §12) that the stand-in does not send, written
    # for polymm's parser tests (test_wire.py).
    "user/order_null_expiration.json": None,
    "user/trade_iso_match_time.json": None,
    "user/trade_numeric_match_time.json": None,
    "user/mixed_frame.json": None,
    "rest/balance_allowance_single.json": None,
    "rest/market_position_ids.json": None,
}

#: Gamma market fields docs/protocol.md §7 names; the stand-in may add these to a capture's keys.
GAMMA_MARKET_FIELDS = {
    "id", "question", "conditionId", "slug", "outcomes", "outcomePrices", "clobTokenIds", "active", "closed",
    "archived", "acceptingOrders", "enableOrderBook", "orderPriceMinTickSize", "orderMinSize", "negRisk",
    "negRiskMarketID", "endDate", "liquidity", "liquidityNum", "volume", "volumeNum", "volume24hr",
    "rewardsMinSize", "rewardsMaxSpread", "clobRewards", "spread", "bestBid", "bestAsk", "lastTradePrice",
    "feesEnabled", "feeType", "feeSchedule", "secondsDelay", "events",
}  # fmt: skip
#: Real Gamma market fields the stand-in writes beyond the list of docs/protocol.md §7 (all present on live Gamma).
GAMMA_MARKET_EXTRA = {
    "questionID", "description", "resolutionSource", "startDate", "endDateIso", "image", "icon",
    "negRiskRequestID", "groupItemTitle", "volume1wk",
}  # fmt: skip
#: Gamma event fields beyond the captures (live Gamma event fields; docs/protocol.md §7 lists the filters).
GAMMA_EVENT_EXTRA = {
    "ticker", "description", "startDate", "endDate", "image", "icon", "new", "featured", "restricted",
    "liquidity", "volume", "volume24hr", "enableOrderBook", "negRisk", "negRiskMarketID", "tags",
}  # fmt: skip


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def shape(value: Any) -> Any:
    """dict → {key: shape}, list → [shape of first element], scalar → type name (null → None)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def differences(ours: Any, captured: Any, path: str = "") -> set[str]:
    """How shape ``ours`` differs from shape ``captured``: ``path: missing|extra|<ours> != <captured>``."""
    if captured is None:
        return set()  # null in the capture: the field is nullable
    if isinstance(captured, dict):
        if not isinstance(ours, dict):
            return {f"{path}: {ours} != object"}
        out = {f"{path}.{k}: missing" for k in captured if k not in ours}
        out |= {f"{path}.{k}: extra" for k in ours if k not in captured}
        for k, v in captured.items():
            if k in ours:
                out |= differences(ours[k], v, f"{path}.{k}")
        return out
    if isinstance(captured, list):
        if not isinstance(ours, list):
            return {f"{path}: {ours} != list"}
        if not captured or not ours:
            return set()
        return differences(ours[0], captured[0], f"{path}[]")
    return set() if ours == captured else {f"{path}: {ours} != {captured}"}


def extras(diffs: set[str], prefix: str = "") -> set[str]:
    """Names of the extra keys directly under ``prefix``."""
    head = f"{prefix}."
    return {
        d[len(head) : -len(": extra")]
        for d in diffs
        if d.startswith(head) and d.endswith(": extra") and "." not in d[len(head) : -len(": extra")]
    }


def test_shape_helpers_catch_differences():
    captured = shape({"a": 1, "b": [{"c": "x"}], "n": None, "f": 0.5})
    assert differences(shape({"a": 2.5, "b": [{"c": "y"}], "n": [1], "f": 1}), captured) == set()
    assert differences(shape({"a": "1", "b": [{"c": "y", "d": 1}], "f": 1}), captured) == {
        ".a: str != number",
        ".b[].d: extra",
        ".n: missing",
    }
    assert differences(shape({"a": 1, "b": {"c": "x"}, "n": 1, "f": True}), captured) == {
        ".b: {'c': 'str'} != list",
        ".f: bool != number",
    }


def test_every_fixture_is_accounted_for():
    files = {str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.json")}
    assert files == set(PRODUCERS)


# ------------------------------------------------------------------------------------------- fixtures


@pytest_asyncio.fixture
async def ex() -> AsyncIterator[ExchangeServer]:
    async with run_exchange(seed=7, flow=False) as server:
        yield server


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


def lift_best_ask(ex: ExchangeServer, index: int = 0) -> None:
    """A marketable YES buy of 10 shares at the best ask (a trade)."""
    m = ex.markets[index]
    best_ask = ex.matching.book(m.yes_token).best_ask
    ex.matching.place("shape-taker", m.yes_token, Side.BUY, best_ask, Decimal(10), order_type=OrderType.FAK)


# ------------------------------------------------------------------------------------------- REST


async def test_rest_book_shape(ex: ExchangeServer, http: httpx.AsyncClient):
    book = (await http.get(f"{ex.clob_url}/book", params={"token_id": ex.markets[0].yes_token})).json()
    diffs = differences(shape(book), shape(fixture("rest/book.json")))
    # docs/protocol.md §3: the REST book has every key; the capture predates four of them.
    assert diffs == {f".{k}: extra" for k in ("min_order_size", "tick_size", "neg_risk", "last_trade_price")}


async def test_clob_market_and_markets_page_shapes(ex: ExchangeServer, http: httpx.AsyncClient):
    page = (await http.get(f"{ex.clob_url}/markets")).json()
    assert differences(shape(page), shape(fixture("rest/markets.json"))) == set()
    # The single-market capture has reward rates (a list): compare with a reward-eligible market.
    rewarded = next(d for d in page["data"] if d["rewards"]["rates"] is not None)
    one = (await http.get(f"{ex.clob_url}/markets/{rewarded['condition_id']}")).json()
    assert one == rewarded
    assert differences(shape(one), shape(fixture("rest/market.json"))) == set()
    # Every market of the page has the same shape (also those without rewards: rates is nullable).
    for item in page["data"]:
        assert differences(shape(item), shape(fixture("rest/markets.json")["data"][0])) == set()


async def test_gamma_market_shapes(ex: ExchangeServer, http: httpx.AsyncClient):
    rows = (await http.get(f"{ex.gamma_url}/markets")).json()
    by_slug = (await http.get(f"{ex.gamma_url}/markets/slug/{rows[0]['slug']}")).json()
    assert by_slug == rows[0] | {k: by_slug[k] for k in ("liquidity", "liquidityNum")}
    # Deliberate: Gamma sends clobTokenIds as a JSON-ENCODED STRING (docs/protocol.md §7, live Gamma); these
    # two captures carry a plain list. ``questionId`` in the list capture is ``questionID`` on Gamma.
    diffs = differences(shape(by_slug), shape(fixture("rest/market_slug.json")))
    assert ".clobTokenIds: str != list" in diffs
    assert extras(diffs) <= GAMMA_MARKET_FIELDS | GAMMA_MARKET_EXTRA
    assert diffs - {f".{k}: extra" for k in extras(diffs)} == {".clobTokenIds: str != list"}

    diffs = differences(shape(rows), shape(fixture("rest/markets_list.json")))
    assert extras(diffs, "[]") <= GAMMA_MARKET_FIELDS | GAMMA_MARKET_EXTRA
    assert diffs - {f"[].{k}: extra" for k in extras(diffs, "[]")} == {
        "[].clobTokenIds: str != list",
        "[].questionId: missing",
    }
    assert all(isinstance(json.loads(r["clobTokenIds"]), list) and r["questionID"].startswith("0x") for r in rows)


async def test_gamma_event_shapes(ex: ExchangeServer, http: httpx.AsyncClient):
    events = (await http.get(f"{ex.gamma_url}/events")).json()
    group = next(e for e in events if e["negRisk"])
    one = (await http.get(f"{ex.gamma_url}/events/{group['id']}")).json()
    cases = ((one, fixture("rest/event.json"), ""), (events, fixture("rest/events_list.json"), "[]"))
    for ours, captured, prefix in cases:
        diffs = differences(shape(ours), shape(captured))
        assert extras(diffs, prefix) <= GAMMA_EVENT_EXTRA
        nested = extras(diffs, f"{prefix}.markets[]")
        assert nested <= GAMMA_MARKET_FIELDS | GAMMA_MARKET_EXTRA
        assert diffs == {f"{prefix}.{k}: extra" for k in extras(diffs, prefix)} | {
            f"{prefix}.markets[].{k}: extra" for k in nested
        }


async def test_data_api_trades_shape(ex: ExchangeServer, http: httpx.AsyncClient):
    lift_best_ask(ex)
    trades = (await http.get(f"{ex.data_url}/trades")).json()
    assert len(trades) == 1
    assert differences(shape(trades), shape(fixture("rest/trades.json"))) == set()


# ------------------------------------------------------------------------------------------- WS


async def test_market_ws_shapes(ex: ExchangeServer):
    m = ex.markets[0]
    seen: dict[str, dict[str, Any]] = {}
    async with websockets.connect(ex.ws_url) as ws:
        await ws.send(orjson.dumps({"type": "market", "assets_ids": [m.yes_token, m.no_token]}).decode())
        dump = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
        seen["book"] = dump[0]
        low_bid = ex.matching.book(m.yes_token).bids[0][0]
        ex.matching.place("shape-maker", m.yes_token, Side.BUY, low_bid, Decimal(5))  # price_change
        lift_best_ask(ex)  # last_trade_price + book
        ex.standin.change_tick_size(m.condition_id, "0.001")  # tick_size_change
        while len(seen) < 4:
            frame = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
            seen.setdefault(frame["event_type"], frame)
    assert set(seen) == {"book", "price_change", "last_trade_price", "tick_size_change"}
    book = differences(shape(seen["book"]), shape(fixture("ws/book.json")))
    assert book == {".tick_size: extra", ".last_trade_price: extra"}  # docs/protocol.md §6.1: the WS copy carries them
    assert differences(shape(seen["price_change"]), shape(fixture("ws/price_change_v2.json"))) == set()
    ltp = differences(shape(seen["last_trade_price"]), shape(fixture("ws/last_trade_price.json")))
    assert ltp == {".transaction_hash: extra"}  # docs/protocol.md §6.1 lists it; the capture predates it
    assert differences(shape(seen["tick_size_change"]), shape(fixture("ws/tick_size_change.json"))) == set()
