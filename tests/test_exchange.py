"""The stand-in exchange over real sockets: REST, Gamma and market WebSocket shapes, matching, flow.

Wire shapes are checked against captured Polymarket messages kept in ``tests/fixtures`` (same keys,
same value types), and the book hash against an independent copy of the official client's recipe.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
import websockets
from websockets.asyncio.client import ClientConnection

from polymm.domain.market import Side
from polymm.domain.prices import pips_to_str, price_to_pips
from polymm_standin.server import EmbeddedExchange, ExchangeServer, StandIn, run_exchange
from polymm_standin.sim import (
    LevelsChanged,
    MatchingEngine,
    OrderRejected,
    OrderType,
    Trade,
    make_markets,
    market_profiles,
)

FIXTURES = Path(__file__).parent / "fixtures"
HEX40 = re.compile(r"^[0-9a-f]{40}$")
COND = re.compile(r"^0x[0-9a-f]{64}$")
DECIMAL = re.compile(r"^\d+(\.\d+)?$")
MS = re.compile(r"^\d{13}$")
POST_ONLY = "invalid post-only order: order crosses book"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def recipe_hash(book: dict[str, Any]) -> str:
    """The official client's hash (py_clob_client_v2.utilities.generate_orderbook_summary_hash)."""
    payload = {
        "market": book["market"],
        "asset_id": book["asset_id"],
        "timestamp": book["timestamp"],
        "hash": "",
        "bids": [{"price": o["price"], "size": o["size"]} for o in book["bids"]],
        "asks": [{"price": o["price"], "size": o["size"]} for o in book["asks"]],
        "min_order_size": book["min_order_size"],
        "tick_size": book["tick_size"],
        "neg_risk": book["neg_risk"],
        "last_trade_price": book["last_trade_price"],
    }
    return hashlib.sha1(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def assert_same_shape(ours: dict[str, Any], captured: dict[str, Any], extra: set[str] = frozenset()) -> None:
    """Our message has the captured keys (plus ``extra``), each with the captured value type."""
    assert set(ours) == set(captured) | extra, set(ours) ^ (set(captured) | extra)
    for key, value in captured.items():
        assert type(ours[key]) is type(value), (key, ours[key], value)


def assert_levels(levels: list[dict[str, str]], tick: int) -> list[int]:
    prices = []
    for lv in levels:
        assert set(lv) == {"price", "size"}
        assert DECIMAL.match(lv["price"]) and DECIMAL.match(lv["size"]), lv
        assert Decimal(lv["size"]) > 0
        p = price_to_pips(lv["price"])
        assert p % tick == 0 and tick <= p <= 10_000 - tick, lv
        prices.append(p)
    return prices


@pytest_asyncio.fixture
async def ex() -> AsyncIterator[ExchangeServer]:
    async with run_exchange(seed=7, flow_rate=200.0) as server:
        yield server


@pytest_asyncio.fixture
async def quiet() -> AsyncIterator[ExchangeServer]:
    """An exchange whose synthetic flow is off: books change only when a test changes them."""
    async with run_exchange(seed=7, flow=False) as server:
        yield server


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> Any:
    return orjson.loads(await asyncio.wait_for(ws.recv(), timeout))


async def subscribe(ws: ClientConnection, assets: list[str], **extra: Any) -> Any:
    await ws.send(
        orjson.dumps({"type": "market", "assets_ids": assets, "initial_dump": True, **extra}).decode()
    )
    return await recv_json(ws)


# ------------------------------------------------------------------------------------------- REST


@pytest.mark.asyncio
async def test_rest_book_for_every_market_matches_protocol(ex: ExchangeServer, http: httpx.AsyncClient):
    captured = fixture("rest/book.json")
    protocol_only = {"min_order_size", "tick_size", "neg_risk", "last_trade_price"}
    for market in ex.markets:
        for token in (market.yes_token, market.no_token):
            r = await http.get(f"{ex.clob_url}/book", params={"token_id": token})
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("application/json")
            book = r.json()
            assert_same_shape(book, captured, protocol_only)
            assert book["market"] == market.condition_id and book["asset_id"] == token
            assert MS.match(book["timestamp"])
            assert abs(int(book["timestamp"]) - time.time() * 1000) < 60_000
            assert book["min_order_size"] == "5"
            assert book["tick_size"] == market.tick.text
            assert book["neg_risk"] is market.neg_risk
            assert isinstance(book["last_trade_price"], str)
            bids = assert_levels(book["bids"], market.tick.pips)
            asks = assert_levels(book["asks"], market.tick.pips)
            assert bids == sorted(bids) and len(set(bids)) == len(bids)  # ascending: best bid last
            assert asks == sorted(asks, reverse=True) and len(set(asks)) == len(asks)  # best ask last
            assert len(bids) >= 5 and len(asks) >= 5
            assert bids[-1] < asks[-1]
            assert HEX40.match(book["hash"])
            assert book["hash"] == recipe_hash(book)


@pytest.mark.asyncio
async def test_books_batch_and_yes_no_mirror(quiet: ExchangeServer, http: httpx.AsyncClient):
    m = quiet.markets[0]
    r = await http.post(f"{quiet.clob_url}/books", json=[{"token_id": m.yes_token}, {"token_id": m.no_token}])
    assert r.status_code == 200
    yes, no = r.json()
    assert (yes["asset_id"], no["asset_id"]) == (m.yes_token, m.no_token)
    flip = lambda levels: [(10_000 - price_to_pips(lv["price"]), lv["size"]) for lv in levels]  # noqa: E731
    as_pairs = lambda levels: [(price_to_pips(lv["price"]), lv["size"]) for lv in levels]  # noqa: E731
    # The NO book is the YES book mirrored: NO bids = YES asks at 1 - p, in wire order.
    assert as_pairs(no["bids"]) == flip(yes["asks"])
    assert as_pairs(no["asks"]) == flip(yes["bids"])
    single = (await http.get(f"{quiet.clob_url}/book", params={"token_id": m.no_token})).json()
    assert single == no


@pytest.mark.asyncio
async def test_rest_error_shapes(ex: ExchangeServer, http: httpx.AsyncClient):
    url = ex.clob_url
    for params in ({"token_id": "abc"}, {"token_id": "12x4"}, {"token_id": ""}, {}):
        r = await http.get(f"{url}/book", params=params)
        assert (r.status_code, r.json()) == (400, {"error": "Invalid token id"})
    unknown = {"token_id": "1" * 77}
    r = await http.get(f"{url}/book", params=unknown)
    assert (r.status_code, r.json()) == (404, {"error": "No orderbook exists for the requested token id"})
    for path in ("/tick-size", "/neg-risk", "/midpoint"):
        r = await http.get(url + path, params=unknown)
        assert r.status_code == 404 and "error" in r.json()
    r = await http.post(f"{url}/books", json=[{"token_id": ex.markets[0].yes_token}] * 501)
    assert (r.status_code, r.json()) == (400, {"error": "Payload exceeds the limit"})
    r = await http.post(f"{url}/books", json=[{"token_id": ex.markets[0].yes_token}] * 500)
    assert r.status_code == 200 and len(r.json()) == 500
    r = await http.post(f"{url}/books", content=b"{not json")
    assert r.status_code == 400 and "error" in r.json()
    r = await http.post(f"{url}/books", json=[{"token_id": "zz"}])
    assert (r.status_code, r.json()) == (400, {"error": "Invalid token id"})
    r = await http.get(f"{url}/no-such-route")
    assert r.status_code == 404 and "error" in r.json()
    r = await http.delete(f"{url}/book")
    assert r.status_code == 405 and "error" in r.json()


@pytest.mark.asyncio
async def test_small_clob_endpoints(quiet: ExchangeServer, http: httpx.AsyncClient):
    url = quiet.clob_url
    fine = next(m for m in quiet.markets if m.tick.text == "0.001")
    r = await http.get(f"{url}/tick-size", params={"token_id": fine.yes_token})
    assert r.json() == {"minimum_tick_size": 0.001}
    r = await http.get(f"{url}/tick-size/{quiet.markets[0].no_token}")
    assert r.json() == {"minimum_tick_size": 0.01}
    r = await http.get(f"{url}/neg-risk", params={"token_id": fine.yes_token})
    assert r.json() == {"neg_risk": False}
    book = (await http.get(f"{url}/book", params={"token_id": fine.yes_token})).json()
    mid = (Decimal(book["bids"][-1]["price"]) + Decimal(book["asks"][-1]["price"])) / 2
    r = await http.get(f"{url}/midpoint", params={"token_id": fine.yes_token})
    assert isinstance(r.json()["mid"], str) and Decimal(r.json()["mid"]) == mid
    r = await http.get(f"{url}/price", params={"token_id": fine.yes_token, "side": "BUY"})
    assert r.json() == {"price": book["bids"][-1]["price"]}  # BUY → best bid
    assert (await http.get(f"{url}/version")).json() == {"version": 2}
    t = (await http.get(f"{url}/time")).json()
    assert isinstance(t, int) and abs(t - time.time()) < 5
    r = await http.get(f"{url}/ok")
    assert r.status_code == 200 and r.json() == "OK"


@pytest.mark.asyncio
async def test_gamma_markets(ex: ExchangeServer, http: httpx.AsyncClient):
    r = await http.get(f"{ex.gamma_url}/markets", params={"closed": "false", "limit": 100})
    assert r.status_code == 200
    rows = r.json()
    assert len(rows) >= 6
    by_condition = {m.condition_id: m for m in ex.markets}
    for row in rows:
        for key in ("outcomes", "outcomePrices", "clobTokenIds"):
            assert isinstance(row[key], str)
            assert isinstance(json.loads(row[key]), list)
        m = by_condition[row["conditionId"]]
        assert json.loads(row["clobTokenIds"]) == [m.yes_token, m.no_token]
        assert json.loads(row["outcomes"]) == ["Yes", "No"]
        prices = [Decimal(p) for p in json.loads(row["outcomePrices"])]
        assert sum(prices) == 1
        assert isinstance(row["id"], str) and row["id"].isdigit()
        assert row["question"] == m.question and row["slug"] == m.slug
        assert row["active"] is True and row["closed"] is False and row["archived"] is False
        assert row["acceptingOrders"] is True and row["enableOrderBook"] is True
        assert row["orderPriceMinTickSize"] == float(m.tick.decimal)
        assert row["orderMinSize"] == 5 and row["negRisk"] is m.neg_risk
        assert isinstance(row["liquidity"], str) and isinstance(row["liquidityNum"], float)
        assert isinstance(row["volume"], str) and isinstance(row["volumeNum"], float)
        for key in ("volume24hr", "rewardsMinSize", "rewardsMaxSpread", "spread", "bestBid", "bestAsk"):
            assert isinstance(row[key], int | float), key
        assert 0 < row["bestBid"] < row["bestAsk"] < 1
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", row["endDate"])
    assert sum(1 for row in rows if row["orderPriceMinTickSize"] == 0.001) >= 1

    r = await http.get(f"{ex.gamma_url}/markets", params={"order": "volume24hr", "ascending": "false"})
    volumes = [row["volume24hr"] for row in r.json()]
    assert volumes == sorted(volumes, reverse=True)
    page = (await http.get(f"{ex.gamma_url}/markets", params={"limit": 2, "offset": 1})).json()
    assert [row["id"] for row in page] == [row["id"] for row in rows[1:3]]
    assert (await http.get(f"{ex.gamma_url}/markets", params={"closed": "true"})).json() == []
    one = (await http.get(f"{ex.gamma_url}/markets", params={"id": rows[2]["id"]})).json()
    assert [row["conditionId"] for row in one] == [rows[2]["conditionId"]]
    for bad in ({"limit": "ten"}, {"closed": "maybe"}, {"order": "nonsense"}):
        r = await http.get(f"{ex.gamma_url}/markets", params=bad)
        assert r.status_code == 400 and "error" in r.json()


# ------------------------------------------------------------------------------------------- WS


@pytest.mark.asyncio
async def test_ws_initial_dump_matches_rest(quiet: ExchangeServer, http: httpx.AsyncClient):
    captured = fixture("ws/book.json")
    tokens = [t for m in quiet.markets[:3] for t in (m.yes_token, m.no_token)]
    async with websockets.connect(quiet.ws_url) as ws:
        dump = await subscribe(ws, [*tokens, "1" * 77])
    assert isinstance(dump, list) and [b["asset_id"] for b in dump] == tokens
    for book in dump:
        assert_same_shape(book, captured, {"tick_size", "last_trade_price"})
        assert book["event_type"] == "book"
        rest = (await http.get(f"{quiet.clob_url}/book", params={"token_id": book["asset_id"]})).json()
        for key in (
            "market",
            "asset_id",
            "timestamp",
            "hash",
            "bids",
            "asks",
            "tick_size",
            "last_trade_price",
        ):
            assert book[key] == rest[key], key

    async with websockets.connect(quiet.ws_url) as ws:
        assert await subscribe(ws, ["1" * 77]) == []


@pytest.mark.asyncio
async def test_ws_live_frames_have_fixture_shapes(ex: ExchangeServer):
    m = ex.markets[0]
    shapes = {
        "price_change": fixture("ws/price_change_v2.json"),
        "last_trade_price": fixture("ws/last_trade_price.json"),
        "book": fixture("ws/book.json"),
    }
    extra = {
        "price_change": set(),
        "last_trade_price": {"transaction_hash"},
        "book": {"tick_size", "last_trade_price"},
    }
    seen: dict[str, int] = {}
    async with websockets.connect(ex.ws_url) as ws:
        await subscribe(ws, [m.yes_token, m.no_token])
        deadline = time.monotonic() + 10
        while len(seen) < 3 and time.monotonic() < deadline:
            frame = await recv_json(ws)
            assert isinstance(frame, dict)
            kind = frame["event_type"]
            seen[kind] = seen.get(kind, 0) + 1
            assert_same_shape(frame, shapes[kind], extra[kind])
            assert frame["market"] == m.condition_id and MS.match(frame["timestamp"])
            if kind == "price_change":
                entries = frame["price_changes"]
                entry_keys = set(shapes["price_change"]["price_changes"][0])
                assert all(
                    set(e) == entry_keys and all(isinstance(v, str) for v in e.values()) for e in entries
                )
                # Both tokens subscribed: every change is listed for YES and mirrored for NO.
                assert len(entries) % 2 == 0
                for y, n in zip(entries[::2], entries[1::2], strict=True):
                    assert (y["asset_id"], n["asset_id"]) == (m.yes_token, m.no_token)
                    assert price_to_pips(y["price"]) + price_to_pips(n["price"]) == 10_000
                    assert y["size"] == n["size"] and {y["side"], n["side"]} == {"BUY", "SELL"}
                    assert HEX40.match(y["hash"]) and HEX40.match(n["hash"])
                    assert price_to_pips(y["best_bid"]) + price_to_pips(n["best_ask"]) == 10_000
            elif kind == "last_trade_price":
                assert frame["asset_id"] in (m.yes_token, m.no_token) and frame["side"] in ("BUY", "SELL")
                assert DECIMAL.match(frame["price"]) and DECIMAL.match(frame["size"])
            else:
                assert frame["hash"] == recipe_hash({**frame, "min_order_size": "5", "neg_risk": False}), (
                    "WS book hash must be the REST recipe's"
                )
    assert set(seen) == {"price_change", "last_trade_price", "book"}, seen


@pytest.mark.asyncio
async def test_ws_ping_and_malformed_frames(ex: ExchangeServer, http: httpx.AsyncClient):
    m = ex.markets[0]
    ex.pause_flow()
    async with websockets.connect(ex.ws_url) as ws, websockets.connect(ex.ws_url) as other:
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), 5) == "PONG"
        for junk in (
            "{not json",
            "[1,2,3]",
            '"text"',
            '{"operation":"explode","assets_ids":[]}',
            '{"type":"market","assets_ids":"nope"}',
            '{"assets_ids":[1,2]}',
            "",
            "null",
        ):
            await ws.send(junk)
        await ws.send(b"\x00\x01binary")
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), 5) == "PONG"  # nothing else was sent back
        # The socket still works for real subscriptions, and so do the other socket and REST.
        assert len(await subscribe(ws, [m.yes_token])) == 1
        assert len(await subscribe(other, [m.no_token])) == 1
        assert (await http.get(f"{ex.clob_url}/ok")).status_code == 200


@pytest.mark.asyncio
async def test_ws_price_change_on_add_and_cancel(quiet: ExchangeServer, http: httpx.AsyncClient):
    m = quiet.markets[0]
    async with websockets.connect(quiet.ws_url) as ws:
        await subscribe(ws, [m.yes_token, m.no_token])
        before = quiet.matching.book(m.yes_token)
        price = before.best_bid - 3 * m.tick.pips  # inside the book, behind the best bid
        existing = dict(before.bids).get(price, 0)
        # A NO SELL at 1 - p rests as a YES bid at p.
        placed = quiet.matching.place("tester", m.no_token, Side.SELL, 10_000 - price, "12.5")
        frame = await recv_json(ws)
        assert frame["event_type"] == "price_change" and frame["market"] == m.condition_id
        yes, no = frame["price_changes"]
        # size is the level's new aggregate, not the order's size.
        assert Decimal(yes["size"]) == Decimal(existing) / 10**6 + Decimal("12.5")
        assert (yes["asset_id"], yes["side"]) == (m.yes_token, "BUY")
        assert price_to_pips(yes["price"]) == price and price_to_pips(no["price"]) == 10_000 - price
        assert (no["asset_id"], no["side"], no["size"]) == (m.no_token, "SELL", yes["size"])
        assert (
            price_to_pips(yes["best_bid"]) == before.best_bid
            and price_to_pips(yes["best_ask"]) == before.best_ask
        )
        # The hash in the delta is the hash /book now serves (timestamp = time of the change).
        for entry in (yes, no):
            rest = (await http.get(f"{quiet.clob_url}/book", params={"token_id": entry["asset_id"]})).json()
            assert rest["hash"] == entry["hash"] and rest["timestamp"] == frame["timestamp"]

        quiet.matching.cancel(placed.order_id)
        frame = await recv_json(ws)
        yes, no = frame["price_changes"]
        assert Decimal(yes["size"]) * 10**6 == existing and no["size"] == yes["size"]
        if existing == 0:
            assert yes["size"] == "0"  # the level is gone


@pytest.mark.asyncio
async def test_ws_trade_sends_last_trade_then_books(quiet: ExchangeServer):
    m = quiet.markets[2]
    async with websockets.connect(quiet.ws_url) as ws:
        await subscribe(ws, [m.yes_token, m.no_token])
        best_ask = quiet.matching.book(m.yes_token).best_ask
        quiet.matching.place("maker", m.yes_token, Side.SELL, best_ask, "100")  # a deep enough best level
        assert (await recv_json(ws))["event_type"] == "price_change"
        ask_size = quiet.matching.book(m.yes_token).asks[-1][1]
        # A NO SELL at 1 - best_ask is a YES BUY at best_ask: it lifts the best ask.
        size = Decimal("50")
        result = quiet.matching.place(
            "taker", m.no_token, Side.SELL, 10_000 - best_ask, size, order_type=OrderType.FAK
        )
        assert result.status == "matched" and result.trade is not None
        frames = [await recv_json(ws) for _ in range(3)]
    ltp, yes_book, no_book = frames
    assert ltp["event_type"] == "last_trade_price"
    assert (ltp["asset_id"], ltp["side"]) == (m.no_token, "SELL")
    assert price_to_pips(ltp["price"]) == 10_000 - best_ask and Decimal(ltp["size"]) == size
    assert (yes_book["event_type"], yes_book["asset_id"]) == ("book", m.yes_token)
    assert (no_book["event_type"], no_book["asset_id"]) == ("book", m.no_token)
    assert price_to_pips(yes_book["last_trade_price"]) == best_ask
    assert Decimal(yes_book["asks"][-1]["size"]) * 10**6 == ask_size - result.filled


@pytest.mark.asyncio
async def test_ws_subscription_filters_assets(quiet: ExchangeServer):
    a, b = quiet.markets[0], quiet.markets[3]
    async with websockets.connect(quiet.ws_url) as ws:
        assert await subscribe(ws, [a.yes_token]) != []
        # Only the YES token is subscribed: the frame lists only its entry.
        quiet.matching.place("t", a.yes_token, Side.BUY, quiet.matching.book(a.yes_token).bids[0][0], 5)
        frame = await recv_json(ws)
        assert [e["asset_id"] for e in frame["price_changes"]] == [a.yes_token]
        # Later operations: subscribe adds (with a dump of the new asset), unsubscribe removes.
        await ws.send(orjson.dumps({"operation": "subscribe", "assets_ids": [b.no_token]}).decode())
        dump = await recv_json(ws)
        assert [x["asset_id"] for x in dump] == [b.no_token]
        await ws.send(orjson.dumps({"operation": "unsubscribe", "assets_ids": [a.yes_token]}).decode())
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), 5) == "PONG"  # unsubscribe processed in order
        quiet.matching.place("t", a.yes_token, Side.BUY, quiet.matching.book(a.yes_token).bids[0][0], 5)
        quiet.matching.place("t", b.yes_token, Side.BUY, quiet.matching.book(b.yes_token).bids[0][0], 5)
        frame = await recv_json(ws)
        assert frame["market"] == b.condition_id
        assert [e["asset_id"] for e in frame["price_changes"]] == [b.no_token]
        assert frame["price_changes"][0]["side"] == "SELL"
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), 5) == "PONG"  # nothing else was queued before it


@pytest.mark.asyncio
async def test_pause_and_resume_flow(ex: ExchangeServer, http: httpx.AsyncClient, wait_until):
    token = ex.markets[0].yes_token

    async def hash_now() -> str:
        return (await http.get(f"{ex.clob_url}/book", params={"token_id": token})).json()["hash"]

    ex.pause_flow()  # at once: a flow steps synchronously and checks the gate before each burst
    first = await hash_now()
    # time is what is tested: a paused flow stays paused; running, it steps this market 200 times a second
    await asyncio.sleep(0.3)
    assert await hash_now() == first
    ex.resume_flow()

    async def moved() -> bool:
        return await hash_now() != first

    await wait_until(moved, why=lambda: "flow did not resume")


# ------------------------------------------------------------------------------------------- matching


def fixed_clock() -> int:
    return 1_790_000_000_000


def engine_with_market(tick: str = "0.01") -> tuple[MatchingEngine, Any]:
    market = next(m for m in make_markets(11) if m.tick.text == tick)
    return MatchingEngine([market], clock=fixed_clock), market


def test_price_time_priority_and_partial_fills():
    engine, m = engine_with_market()
    a = engine.place("alice", m.yes_token, Side.BUY, 5000, "10")
    b = engine.place("bob", m.yes_token, Side.BUY, 5000, "10")
    c = engine.place("carol", m.yes_token, Side.BUY, 5100, "5")
    assert engine.book(m.yes_token).bids == ((5000, 20_000_000), (5100, 5_000_000))
    # A sell of 17 at 0.50: best price first (carol), then time priority at 0.50 (alice before bob).
    result = engine.place("dave", m.yes_token, Side.SELL, 5000, "17")
    assert result.status == "matched" and result.resting is None and result.filled == 17_000_000
    trade = result.trade
    assert [(f.maker_order_id, f.yes_price, f.size) for f in trade.fills] == [
        (c.order_id, 5100, 5_000_000),
        (a.order_id, 5000, 10_000_000),
        (b.order_id, 5000, 2_000_000),
    ]
    assert engine.order(a.order_id) is None and engine.order(c.order_id) is None
    assert engine.order(b.order_id).remaining == 8_000_000
    assert engine.book(m.yes_token).bids == ((5000, 8_000_000),)
    # A bigger marketable buy takes what there is and rests the remainder at its limit.
    engine.place("erin", m.yes_token, Side.SELL, 5300, "6")
    big = engine.place("frank", m.yes_token, Side.BUY, 5300, "10.5")
    assert big.filled == 6_000_000 and big.resting is not None and big.resting.remaining == 4_500_000
    snap = engine.book(m.yes_token)
    assert snap.bids[-1] == (5300, 4_500_000) and snap.asks == ()
    assert snap.last_trade_price == 5300
    assert engine.volume(m.condition_id) == Decimal("2.55") + Decimal("5") + Decimal("1") + Decimal("3.18")


def test_yes_no_mirror_and_cross_token_matching():
    engine, m = engine_with_market()
    # A NO BUY at 0.40 is a YES SELL at 0.60, visible in both token books.
    no_bid = engine.place("nora", m.no_token, Side.BUY, 4000, "25")
    yes_book, no_book = engine.book(m.yes_token), engine.book(m.no_token)
    assert yes_book.asks == ((6000, 25_000_000),) and yes_book.bids == ()
    assert no_book.bids == ((4000, 25_000_000),) and no_book.asks == ()
    assert no_book.best_bid == 4000 and yes_book.best_ask == 6000
    assert engine.order(no_bid.order_id).yes_side is Side.SELL
    # A NO SELL at 0.45 is a YES BUY at 0.55.
    engine.place("nils", m.no_token, Side.SELL, 4500, "8")
    assert engine.book(m.yes_token).bids == ((5500, 8_000_000),)
    assert engine.book(m.no_token).asks == ((4500, 8_000_000),)
    # A YES BUY at 0.60 meets the NO BUY at 0.40 (MINT): the YES taker pays 0.60.
    events: list[Any] = []
    engine.add_listener(events.append)
    result = engine.place("yan", m.yes_token, Side.BUY, 6000, "10")
    (fill,) = result.trade.fills
    assert (fill.maker_order_id, fill.maker_price, fill.yes_price, fill.size) == (
        no_bid.order_id,
        4000,
        6000,
        10_000_000,
    )
    assert result.trade.taker_price(fill) == 6000
    assert engine.book(m.no_token).bids == ((4000, 15_000_000),)
    assert [type(e) for e in events] == [Trade]
    assert engine.book(m.no_token).last_trade_price == 4000


def test_rejections_use_polymarket_strings_and_change_nothing():
    engine, m = engine_with_market()
    engine.place("mm", m.yes_token, Side.SELL, 5200, "10")
    engine.place("mm", m.yes_token, Side.BUY, 5000, "10")
    before = engine.book(m.yes_token)
    events: list[Any] = []
    engine.add_listener(events.append)

    def reject(*args: Any, **kw: Any) -> str:
        with pytest.raises(OrderRejected) as info:
            engine.place(*args, **kw)
        return info.value.message

    assert reject("x", m.yes_token, Side.BUY, 5200, "5", post_only=True) == POST_ONLY
    assert reject("x", m.no_token, Side.SELL, 4800, "5", post_only=True) == POST_ONLY  # = YES BUY 0.52
    assert reject("x", m.no_token, Side.BUY, 5000, "5", post_only=True) == POST_ONLY  # = YES SELL 0.50
    assert reject("x", m.yes_token, Side.BUY, 5200, "5", post_only=True, order_type="FAK") == (
        "invalid post-only order: only GTC and GTD order types are allowed"
    )
    msg = reject("x", m.yes_token, Side.BUY, 5105, "5", order_id="0xabc")
    assert msg == "order 0xabc is invalid. Price (0.5105) breaks minimum tick size rule: 0.01"
    assert reject("x", m.yes_token, Side.BUY, 0, "5", order_id="0xabc").startswith(
        "order 0xabc is invalid. Price (0)"
    )
    assert "breaks minimum tick size rule" in reject("x", m.yes_token, Side.SELL, 10_000, "5")
    assert reject("x", m.yes_token, Side.BUY, 4900, "4.99", order_id="0xdef") == (
        "order 0xdef is invalid. Size (4.99) lower than the minimum: 5"
    )
    assert reject("x", m.yes_token, Side.BUY, 5200, "1") == (
        "invalid amount for a marketable BUY order ($0.52), min size: $1"
    )
    assert reject("x", m.yes_token, Side.BUY, 5100, "5", order_type=OrderType.FAK).startswith(
        "no orders found to match with FAK order."
    )
    assert reject("x", m.yes_token, Side.BUY, 5200, "11", order_type=OrderType.FOK).startswith(
        "order couldn't be fully filled."
    )
    assert reject("x", "123", Side.BUY, 5000, "5") == "Invalid token id"
    assert engine.book(m.yes_token) == before and events == []
    # A post-only order that does not cross rests normally.
    assert engine.place("x", m.yes_token, Side.BUY, 5100, "5", post_only=True).status == "live"


def test_cancel_cancel_all_and_level_events():
    engine, m = engine_with_market("0.001")
    events: list[Any] = []
    engine.add_listener(events.append)
    o1 = engine.place("a", m.yes_token, Side.BUY, 4990, "10").order_id
    o2 = engine.place("a", m.no_token, Side.BUY, 4980, "7").order_id  # YES ask 0.502
    o3 = engine.place("b", m.yes_token, Side.BUY, 4990, "5.5").order_id
    assert [(e.changes[0].side, e.changes[0].price, e.changes[0].size) for e in events] == [
        (Side.BUY, 4990, 10_000_000),
        (Side.SELL, 5020, 7_000_000),
        (Side.BUY, 4990, 15_500_000),
    ]
    assert all(isinstance(e, LevelsChanged) for e in events)
    assert [o.id for o in engine.open_orders("a")] == [o1, o2]
    assert engine.cancel(o3) is not None and engine.cancel(o3) is None
    assert events[-1].changes[0].size == 10_000_000
    cancelled = engine.cancel_all("a")
    assert {o.id for o in cancelled} == {o1, o2}
    assert {(c.side, c.price, c.size) for c in events[-1].changes} == {
        (Side.BUY, 4990, 0),
        (Side.SELL, 5020, 0),
    }
    assert engine.open_orders() == [] and engine.book(m.no_token).bids == ()
    assert engine.cancel_all("nobody") == []


# ------------------------------------------------------------------------------------------- synthetic


def test_markets_are_deterministic_and_plausible():
    first, again, other = make_markets(7), make_markets(7), make_markets(8)
    assert len(first) >= 6
    assert first == again
    assert [m.condition_id for m in first] != [m.condition_id for m in other]
    ticks = [m.tick.text for m in first]
    assert ticks.count("0.01") > len(first) / 2 and "0.001" in ticks
    ids = {m.condition_id for m in first} | {t for m in first for t in (m.yes_token, m.no_token)}
    assert len(ids) == 3 * len(first)
    for m in first:
        assert COND.match(m.condition_id)
        assert m.yes_token.isdigit() and 76 <= len(m.yes_token) <= 78 and m.no_token.isdigit()
        assert m.question.endswith("?") and m.min_order_size == 5
    for p in market_profiles(7):
        assert 1500 <= p.start_fair <= 8500 and p.market.tick.on_grid(p.start_fair)
        if p.market.tick.text == "0.001":
            assert 4500 <= p.start_fair <= 5500
    assert len(make_markets(7, count=20)) == 20


def _state(standin: StandIn) -> list[Any]:
    return [
        (standin.matching.book(m.yes_token), [o.id for o in standin.matching.open_orders()])
        for m in standin.markets
    ]


def test_flow_is_deterministic_for_a_seed():
    a = StandIn(seed=5, flow=False, clock=fixed_clock)
    b = StandIn(seed=5, flow=False, clock=fixed_clock)
    c = StandIn(seed=6, flow=False, clock=fixed_clock)
    assert _state(a) == _state(b)
    for s in (a, b, c):
        s.step_flow(400)
    assert _state(a) == _state(b)  # levels, sizes, hashes and order ids all identical
    assert [x.bids for x, _ in _state(a)] != [x.bids for x, _ in _state(c)]
    assert [m.condition_id for m in a.markets] == [m.condition_id for m in b.markets]


def test_flow_keeps_books_two_sided_and_realistic():
    s = StandIn(seed=7, flow=False)
    spreads: dict[int, list[int]] = {i: [] for i in range(len(s.markets))}
    depths: list[int] = []
    actions: set[str] = set()
    for _ in range(1500):
        for i, flow in enumerate(s.flows):
            actions.add(flow.step())
            bid, ask = flow.book.bids.best(), flow.book.asks.best()
            assert bid is not None and ask is not None and bid < ask
            spreads[i].append((ask - bid) // flow.tick)
            depths += [len(flow.book.bids), len(flow.book.asks)]
    assert {"add", "cancel", "take"} <= actions
    for i, sp in spreads.items():
        assert statistics.median(sp) <= 4, (i, statistics.median(sp))
    assert min(depths) >= 3 and max(depths) <= 16
    assert 5 <= statistics.median(depths) <= 15
    assert all(s.matching.volume(m.condition_id) > 0 for m in s.markets)
    # Sizes on the books stay plausible: 2-decimal share amounts.
    for m in s.markets:
        for _, size in s.matching.book(m.yes_token).bids:
            assert size % 10_000 == 0


# ------------------------------------------------------------------------------------------- embedding


def test_embedded_exchange_runs_in_its_own_thread():
    ex = EmbeddedExchange(seed=3, flow_rate=50.0)
    urls = ex.start()
    try:
        assert urls.clob_url == f"http://127.0.0.1:{urls.port}"
        assert urls.ws_url == f"{urls.ws_base}/ws/market" and urls.gamma_url.endswith("/gamma-api")
        r = httpx.get(f"{urls.clob_url}/book", params={"token_id": ex.markets[0].yes_token}, timeout=5)
        assert r.status_code == 200 and r.json()["asset_id"] == ex.markets[0].yes_token
        count = ex.call(lambda: len(ex.matching.open_orders()))
        assert count > 0
        ex.pause_flow()
        ex.resume_flow()
    finally:
        ex.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{urls.clob_url}/ok", timeout=2)


def test_serve_prints_urls_and_stops_on_ctrl_c():
    code = "from polymm_standin.server import serve; serve(port=0, seed=4, flow_rate=20)"
    root = Path(__file__).resolve().parents[1]
    with subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    ) as proc:
        try:
            text = "".join(proc.stdout.readline() for _ in range(7))
            port = re.search(r"CLOB REST\s+http://127\.0\.0\.1:(\d+)", text)
            assert port, text + proc.stderr.read()
            for label in ("market WS", "user WS", "Gamma API", "Data API"):
                assert label in text
            r = httpx.get(f"http://127.0.0.1:{port.group(1)}/version", timeout=5)
            assert r.json() == {"version": 2}
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=10) == 0, proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()


# ------------------------------------------------------------------------------------------- more public REST


@pytest.mark.asyncio
async def test_batch_price_routes(quiet: ExchangeServer, http: httpx.AsyncClient):
    url = quiet.clob_url
    m, fine = quiet.markets[0], next(x for x in quiet.markets if x.tick.text == "0.001")
    tokens = [m.yes_token, m.no_token, fine.yes_token]
    body = [{"token_id": t} for t in [*tokens, "1" * 77]]  # an unknown token is left out
    books = {t: quiet.matching.book(t) for t in tokens}

    def mid(t: str) -> Decimal:
        return Decimal(books[t].best_bid + books[t].best_ask) / 20_000

    mids = (await http.post(f"{url}/midpoints", json=body)).json()
    assert set(mids) == set(tokens) and all(Decimal(mids[t]) == mid(t) for t in tokens)
    query = {"token_ids": ",".join(tokens)}
    assert (await http.get(f"{url}/midpoints", params=query)).json() == mids
    for t in tokens:
        single = (await http.get(f"{url}/midpoint", params={"token_id": t})).json()
        assert Decimal(single["mid"]) == Decimal(mids[t])

    sides = [{"token_id": m.yes_token, "side": "BUY"}, {"token_id": m.yes_token, "side": "sell"}]
    prices = (await http.post(f"{url}/prices", json=sides)).json()
    b = books[m.yes_token]
    assert prices == {m.yes_token: {"BUY": pips_to_str(b.best_bid), "SELL": pips_to_str(b.best_ask)}}

    spreads = (await http.post(f"{url}/spreads", json=body)).json()
    assert {t: price_to_pips(s) for t, s in spreads.items()} == {
        t: books[t].best_ask - books[t].best_bid for t in tokens
    }
    last = (await http.post(f"{url}/last-trades-prices", json=body)).json()
    assert [x["token_id"] for x in last] == tokens
    assert price_to_pips(last[0]["price"]) + price_to_pips(last[1]["price"]) == 10_000
    assert all(set(x) == {"token_id", "price", "side"} for x in last)

    for path, bad in (
        ("/midpoints", [{"token_id": "abc"}]),
        ("/prices", [{"token_id": m.yes_token, "side": "HOLD"}]),
        ("/prices", [{"token_id": m.yes_token}]),
        ("/spreads", {"token_id": m.yes_token}),
        ("/last-trades-prices", [{"token_id": m.yes_token}] * 501),
        ("/midpoints", ["x"]),
    ):
        r = await http.post(url + path, json=bad)
        assert r.status_code == 400 and isinstance(r.json()["error"], str), (path, r.text)
    r = await http.post(f"{url}/midpoints", content=b"{nope")
    assert r.status_code == 400


@pytest.mark.asyncio
async def test_clob_market_routes_and_cursors(quiet: ExchangeServer, http: httpx.AsyncClient):
    url = quiet.clob_url
    page = (await http.get(f"{url}/markets")).json()
    assert (page["limit"], page["count"], page["next_cursor"]) == (100, len(quiet.markets), "LTE=")
    assert [d["condition_id"] for d in page["data"]] == [m.condition_id for m in quiet.markets]
    assert (await http.get(f"{url}/markets", params={"next_cursor": "MA=="})).json() == page
    second = (await http.get(f"{url}/markets", params={"next_cursor": "MQ=="})).json()  # base64("1")
    assert second["data"] == page["data"][1:]
    end = (await http.get(f"{url}/markets", params={"next_cursor": "LTE="})).json()
    assert (end["data"], end["count"], end["next_cursor"]) == ([], 0, "LTE=")
    for bad in ("%%%", "bm9wZQ==", "LTI="):  # not base64, "nope", "-2"
        r = await http.get(f"{url}/markets", params={"next_cursor": bad})
        assert r.status_code == 400 and "next_cursor" in r.json()["error"]

    sampling = (await http.get(f"{url}/sampling-markets")).json()["data"]
    assert 0 < len(sampling) < len(page["data"])  # reward-eligible ones only
    assert all(d["rewards"]["rates"] and d["rewards"]["min_size"] > 0 for d in sampling)
    simple = (await http.get(f"{url}/simplified-markets")).json()["data"]
    assert set(simple[0]) == {"condition_id", "rewards", "tokens", "active", "closed", "archived", "accepting_orders"}
    assert len((await http.get(f"{url}/sampling-simplified-markets")).json()["data"]) == len(sampling)

    m = quiet.markets[1]
    one = (await http.get(f"{url}/markets/{m.condition_id}")).json()
    assert one["condition_id"] == m.condition_id and one["minimum_tick_size"] == 0.001
    assert [t["token_id"] for t in one["tokens"]] == [m.yes_token, m.no_token]
    assert abs(sum(t["price"] for t in one["tokens"]) - 1) < 1e-9
    info = (await http.get(f"{url}/clob-markets/{m.condition_id}")).json()
    assert info["c"] == m.condition_id and info["t"] == [{"t": m.yes_token, "o": "Yes"}, {"t": m.no_token, "o": "No"}]
    assert (info["mts"], info["nr"], info["mos"], info["ao"]) == (0.001, False, 5, True)
    assert set(info["fd"]) == {"r", "e", "to"}
    assert (await http.get(f"{url}/markets-by-token/{m.no_token}")).json() == {"condition_id": m.condition_id}
    fee = (await http.get(f"{url}/fee-rate", params={"token_id": m.yes_token})).json()
    assert set(fee) == {"base_fee"} and isinstance(fee["base_fee"], int)
    rewards = (await http.get(f"{url}/rewards/markets/current")).json()
    assert {d["condition_id"] for d in rewards["data"]} == {d["condition_id"] for d in sampling}
    assert set(rewards["data"][0]) == {
        "condition_id", "rewards_max_spread", "rewards_min_size", "rewards_config", "tokens"
    }  # fmt: skip
    for path, status in (
        ("/markets/0x" + "00" * 32, 404),
        ("/markets/banana", 400),
        ("/clob-markets/0x12", 400),
        ("/markets-by-token/" + "1" * 77, 404),
        ("/markets-by-token/abc", 400),
        ("/fee-rate?token_id=x", 400),
    ):
        r = await http.get(url + path)
        assert r.status_code == status and "error" in r.json(), path


@pytest.mark.asyncio
async def test_prices_history(quiet: ExchangeServer, http: httpx.AsyncClient):
    url = f"{quiet.clob_url}/prices-history"
    m = quiet.markets[0]
    full = (await http.get(url, params={"market": m.yes_token, "interval": "max"})).json()["history"]
    assert len(full) >= 7 * 24  # a week of hourly back-fill
    ts = [p["t"] for p in full]
    assert ts == sorted(ts) and all(isinstance(p["p"], float) and 0 < p["p"] < 1 for p in full)
    # A trade lands in the series (YES price; the NO series mirrors it).
    best_ask = quiet.matching.book(m.yes_token).best_ask
    quiet.matching.place("hist", m.yes_token, Side.BUY, best_ask, Decimal(10), order_type=OrderType.FAK)
    day = (await http.get(url, params={"market": m.yes_token, "interval": "1d"})).json()["history"]
    assert 23 <= len(day) <= 26 and day[-1]["p"] == best_ask / 10_000
    no = (await http.get(url, params={"market": m.no_token, "interval": "1d"})).json()["history"]
    assert [round(p["p"] + q["p"], 9) for p, q in zip(day, no, strict=True)] == [1.0] * len(day)
    start, end = ts[10], ts[20]
    window = (await http.get(url, params={"market": m.yes_token, "startTs": start, "endTs": end})).json()["history"]
    assert [p["t"] for p in window] == ts[10:21]
    coarse = (await http.get(url, params={"market": m.yes_token, "interval": "1w", "fidelity": 360})).json()
    assert 27 <= len(coarse["history"]) <= 30  # one point per 6 h bucket
    for params, status in (
        ({}, 400),
        ({"market": "abc"}, 400),
        ({"market": "1" * 77}, 404),
        ({"market": m.yes_token, "interval": "2d"}, 400),
        ({"market": m.yes_token, "fidelity": "0"}, 400),
        ({"market": m.yes_token, "startTs": "soon"}, 400),
        ({"market": m.yes_token, "startTs": end, "endTs": start}, 400),
        ({"market": m.yes_token, "interval": "1d", "startTs": start}, 400),
    ):
        r = await http.get(url, params=params)
        assert r.status_code == status and "error" in r.json(), params


# ------------------------------------------------------------------------------------------- Gamma filters, events


@pytest.mark.asyncio
async def test_gamma_filters_and_ordering(quiet: ExchangeServer, http: httpx.AsyncClient):
    url = f"{quiet.gamma_url}/markets"
    rows = (await http.get(url)).json()
    assert len(rows) == len(quiet.markets)

    async def ids(**params: Any) -> list[str]:
        r = await http.get(url, params=params)
        assert r.status_code == 200, r.text
        return [row["id"] for row in r.json()]

    a, b = rows[0], rows[3]
    both = sorted([a["id"], b["id"]])
    assert sorted(await ids(**{"id[]": [a["id"], b["id"]]})) == both
    assert sorted(await ids(id=f"{a['id']},{b['id']}")) == both
    assert sorted(await ids(**{"slug[]": [a["slug"], b["slug"]]})) == both
    tokens = [json.loads(a["clobTokenIds"])[1], json.loads(b["clobTokenIds"])[0]]
    assert sorted(await ids(**{"clob_token_ids[]": tokens})) == both
    assert sorted(await ids(**{"condition_ids[]": [a["conditionId"], b["conditionId"]]})) == both
    assert await ids(question_ids=a["questionID"]) == [a["id"]]
    assert len(await ids(active="true")) == len(rows) and await ids(active="false") == []

    tag = quiet.standin.catalog.profiles[0].tag
    tagged = [p.gamma_id for p in quiet.standin.catalog.profiles if p.tag.id == tag.id]
    assert sorted(await ids(tag_id=tag.id)) == sorted(tagged)

    liq = sorted(r["liquidityNum"] for r in rows)
    mid_liq = liq[len(liq) // 2]
    assert sorted(await ids(liquidity_num_min=mid_liq)) == sorted(r["id"] for r in rows if r["liquidityNum"] >= mid_liq)
    assert sorted(await ids(liquidity_num_max=mid_liq)) == sorted(r["id"] for r in rows if r["liquidityNum"] <= mid_liq)
    vol = sorted(r["volumeNum"] for r in rows)[3]
    assert sorted(await ids(volume_num_min=vol)) == sorted(r["id"] for r in rows if r["volumeNum"] >= vol)
    assert sorted(await ids(volume_num_max=vol)) == sorted(r["id"] for r in rows if r["volumeNum"] <= vol)
    ends = sorted(r["endDate"] for r in rows)
    cut = ends[len(ends) // 2]
    assert sorted(await ids(end_date_max=cut)) == sorted(r["id"] for r in rows if r["endDate"] <= cut)
    assert sorted(await ids(end_date_min=cut[:10])) == sorted(r["id"] for r in rows if r["endDate"] >= cut[:10])
    assert sorted(await ids(rewards_min_size=100)) == sorted(r["id"] for r in rows if r["rewardsMinSize"] >= 100)
    assert await ids(rewards_min_size=100_000) == []

    ordered = (await http.get(url, params={"order": "negRisk,volume24hr", "ascending": "false"})).json()
    keys = [(r["negRisk"], r["volume24hr"]) for r in ordered]
    assert keys == sorted(keys, reverse=True) and ordered[0]["negRisk"] is True
    asc = (await http.get(url, params={"order": "liquidity", "ascending": "true"})).json()
    assert [r["liquidityNum"] for r in asc] == sorted(r["liquidityNum"] for r in rows)

    for bad in (
        {"tag_id": "crypto"},
        {"liquidity_num_min": "lots"},
        {"volume_num_max": "nan"},
        {"end_date_min": "next tuesday"},
        {"offset": "-1"},
        {"ascending": "up"},
        {"order": "volume24hr,nope"},
        {"rewards_min_size": "x"},
    ):
        r = await http.get(url, params=bad)
        assert r.status_code == 400 and "error" in r.json(), bad
    r = await http.get(f"{quiet.gamma_url}/markets/{a['id']}")
    assert r.json()["conditionId"] == a["conditionId"]
    assert (await http.get(f"{quiet.gamma_url}/markets/999")).status_code == 404
    assert (await http.get(f"{quiet.gamma_url}/markets/abc")).status_code == 400


@pytest.mark.asyncio
async def test_gamma_events_and_neg_risk_group(quiet: ExchangeServer, http: httpx.AsyncClient):
    events = (await http.get(f"{quiet.gamma_url}/events")).json()
    nested = [mk["conditionId"] for e in events for mk in e["markets"]]
    assert sorted(nested) == sorted(m.condition_id for m in quiet.markets)  # every market in one event
    (group,) = [e for e in events if e["negRisk"]]
    assert len(group["markets"]) >= 3
    nr_id = group["negRiskMarketID"]
    assert re.match(r"^0x[0-9a-f]{64}$", nr_id)
    for i, mk in enumerate(group["markets"]):
        assert mk["negRisk"] is True and mk["negRiskMarketID"] == nr_id
        assert mk["questionID"][:-2] == nr_id[:-2] and int(mk["questionID"][-2:], 16) == i
        assert mk["events"] == [{k: group[k] for k in ("id", "ticker", "slug", "title")}]
    fair_sum = sum(float(json.loads(mk["outcomePrices"])[0]) for mk in group["markets"])
    assert 0.75 < fair_sum < 1.2  # mutually exclusive outcomes: YES prices add up to about 1
    one = (await http.get(f"{quiet.gamma_url}/events/{group['id']}")).json()
    assert one == group
    assert (await http.get(f"{quiet.gamma_url}/events/slug/{group['slug']}")).json() == group
    assert (await http.get(f"{quiet.gamma_url}/events/1")).status_code == 404
    assert (await http.get(f"{quiet.gamma_url}/events/x1")).status_code == 400
    assert [e["id"] for e in (await http.get(f"{quiet.gamma_url}/events", params={"featured": "true"})).json()] == [
        group["id"]
    ]
    tag = group["tags"][0]
    by_tag = (await http.get(f"{quiet.gamma_url}/events", params={"tag_id": tag["id"]})).json()
    assert group["id"] in [e["id"] for e in by_tag] and all(e["tags"][0]["id"] == tag["id"] for e in by_tag)
    excluded = (await http.get(f"{quiet.gamma_url}/events", params={"exclude_tag_id": tag["id"]})).json()
    assert group["id"] not in [e["id"] for e in excluded] and len(excluded) + len(by_tag) == len(events)
    by_slug = (await http.get(f"{quiet.gamma_url}/events", params={"tag_slug": tag["slug"]})).json()
    assert [e["id"] for e in by_slug] == [e["id"] for e in by_tag]
    assert (await http.get(f"{quiet.gamma_url}/events", params={"closed": "true"})).json() == []
    params = {"order": "volume", "ascending": "false", "limit": 3}
    ordered = (await http.get(f"{quiet.gamma_url}/events", params=params)).json()
    assert [e["volume"] for e in ordered] == sorted((e["volume"] for e in events), reverse=True)[:3]
    # The CLOB agrees: neg-risk books and /neg-risk.
    cond = group["markets"][0]["conditionId"]
    token = json.loads(group["markets"][0]["clobTokenIds"])[0]
    assert (await http.get(f"{quiet.clob_url}/neg-risk", params={"token_id": token})).json() == {"neg_risk": True}
    clob = (await http.get(f"{quiet.clob_url}/markets/{cond}")).json()
    assert clob["neg_risk"] is True and clob["neg_risk_market_id"] == nr_id
    assert (await http.get(f"{quiet.clob_url}/clob-markets/{cond}")).json()["nr"] is True


def test_neg_risk_group_is_deterministic_and_optional():
    a, b = StandIn(seed=9, flow=False), StandIn(seed=9, flow=False)
    assert a.markets == b.markets and [e.id for e in a.catalog.events] == [e.id for e in b.catalog.events]
    assert sum(m.neg_risk for m in a.markets) == 3
    bigger = StandIn(seed=9, flow=False, neg_risk_markets=4)
    assert sum(m.neg_risk for m in bigger.markets) == 4
    assert not any(m.neg_risk for m in StandIn(seed=9, market_count=2, flow=False, neg_risk_markets=0).markets)
    assert {m.tick.text for m in a.markets} >= {"0.01", "0.001", "0.005"}
    with pytest.raises(ValueError, match="neg-risk group size"):
        StandIn(seed=9, flow=False, neg_risk_markets=1)


# ------------------------------------------------------------------------------------------- market WS extras


@pytest.mark.asyncio
async def test_ws_duplicate_assets_are_ignored(quiet: ExchangeServer):
    m = quiet.markets[0]
    async with websockets.connect(quiet.ws_url) as ws:
        dump = await subscribe(ws, [m.yes_token, m.yes_token, m.no_token, 42, m.yes_token])
        assert [b["asset_id"] for b in dump] == [m.yes_token, m.no_token]
        quiet.matching.place("t", m.yes_token, Side.BUY, quiet.matching.book(m.yes_token).bids[0][0], 5)
        frame = await recv_json(ws)
        assert [e["asset_id"] for e in frame["price_changes"]] == [m.yes_token, m.no_token]  # once each
        # A live subscribe of already-subscribed assets adds nothing (empty dump).
        await ws.send(orjson.dumps({"operation": "subscribe", "assets_ids": [m.yes_token, m.yes_token]}).decode())
        assert await recv_json(ws) == []
    assert quiet.standin.channel.ignored["duplicate or non-string assets"] == 4


@pytest.mark.asyncio
async def test_ws_custom_feature_best_bid_ask(quiet: ExchangeServer):
    m = quiet.markets[0]
    async with websockets.connect(quiet.ws_url) as custom, websockets.connect(quiet.ws_url) as plain:
        await subscribe(custom, [m.yes_token, m.no_token], custom_feature_enabled=True)
        await subscribe(plain, [m.yes_token])
        snap = quiet.matching.book(m.yes_token)
        better = snap.best_bid + m.tick.pips
        assert better < snap.best_ask
        placed = quiet.matching.place("t", m.yes_token, Side.BUY, better, 5)
        frames = [await recv_json(custom) for _ in range(3)]
        assert [f["event_type"] for f in frames] == ["price_change", "best_bid_ask", "best_bid_ask"]
        yes, no = frames[1], frames[2]
        assert (yes["asset_id"], yes["best_bid"], yes["best_ask"]) == (
            m.yes_token,
            pips_to_str(better),
            pips_to_str(snap.best_ask),
        )
        assert yes["spread"] == pips_to_str(snap.best_ask - better)
        assert (no["asset_id"], no["best_ask"]) == (m.no_token, pips_to_str(10_000 - better))
        # A change deeper in the book moves no best price: no best_bid_ask.
        quiet.matching.place("t", m.yes_token, Side.BUY, snap.bids[0][0], 5)
        assert (await recv_json(custom))["event_type"] == "price_change"
        await custom.send("PING")
        assert await asyncio.wait_for(custom.recv(), 5) == "PONG"
        # Without custom features there is never a best_bid_ask.
        assert [(await recv_json(plain))["event_type"] for _ in range(2)] == ["price_change", "price_change"]
        # custom_feature_enabled can be switched off by a later operation frame.
        off = {"operation": "subscribe", "assets_ids": [], "custom_feature_enabled": False}
        await custom.send(orjson.dumps(off).decode())
        assert await recv_json(custom) == []
        quiet.matching.cancel(placed.order_id)  # the best bid moves back
        assert (await recv_json(custom))["event_type"] == "price_change"
        await custom.send("PING")
        assert await asyncio.wait_for(custom.recv(), 5) == "PONG"


# ------------------------------------------------------------------------------------------- Data API


@pytest.mark.asyncio
async def test_data_api_positions_and_trades(quiet: ExchangeServer, http: httpx.AsyncClient):
    from polymm_standin.server.data_api import PositionRecord

    user = "0x" + "ab" * 20
    m, other = quiet.markets[0], quiet.markets[1]
    # Without a positions hook the Data API reads the accounts' share balances.
    quiet.standin.accounts.set_shares(user, other.yes_token, 12)
    (held,) = (await http.get(f"{quiet.data_url}/positions", params={"user": user})).json()
    assert (held["asset"], held["size"], held["proxyWallet"]) == (other.yes_token, 12.0, user)
    holdings = {
        user: [
            PositionRecord(m.yes_token, Decimal(100), Decimal("0.40")),
            PositionRecord(m.no_token, Decimal(20), Decimal("0.5")),
            PositionRecord(other.no_token, Decimal("0.5"), Decimal("0.3")),
        ]
    }
    quiet.standin.data_api.positions_for = lambda address: holdings.get(address.lower(), [])  # the accounts' hook
    url = f"{quiet.data_url}/positions"
    rows = (await http.get(url, params={"user": user})).json()
    protocol = {
        "proxyWallet", "asset", "conditionId", "size", "avgPrice", "initialValue", "currentValue", "cashPnl",
        "percentPnl", "totalBought", "realizedPnl", "curPrice", "redeemable", "mergeable", "title", "slug",
        "outcome", "outcomeIndex", "oppositeOutcome", "oppositeAsset", "endDate", "negativeRisk",
    }  # fmt: skip
    assert [r["asset"] for r in rows] == [m.yes_token, m.no_token]  # size >= 1 by default, biggest first
    yes = rows[0]
    assert protocol <= set(yes)
    snap = quiet.matching.book(m.yes_token)
    mid = (snap.best_bid + snap.best_ask) / 20_000
    assert yes["curPrice"] == pytest.approx(mid) and yes["initialValue"] == 40.0
    assert yes["currentValue"] == pytest.approx(100 * mid) and yes["cashPnl"] == pytest.approx(100 * mid - 40)
    assert yes["percentPnl"] == pytest.approx((100 * mid - 40) / 40 * 100, abs=1e-3)
    assert (yes["outcome"], yes["outcomeIndex"], yes["oppositeAsset"]) == ("Yes", 0, m.no_token)
    assert yes["mergeable"] is True and yes["redeemable"] is False and yes["negativeRisk"] is False
    small = (await http.get(url, params={"user": user, "sizeThreshold": "0"})).json()
    assert len(small) == 3 and small[-1]["mergeable"] is False
    params = {"user": user, "market": m.condition_id, "sortBy": "CASHPNL", "sortDirection": "ASC"}
    only = (await http.get(url, params=params)).json()
    assert [r["cashPnl"] for r in only] == sorted(r["cashPnl"] for r in rows)
    assert (await http.get(url, params={"user": "0x" + "cd" * 20})).json() == []
    wrong = (("sizeThreshold", "x"), ("sortBy", "LUCK"), ("limit", "-1"))
    bads = [{}, {"user": "bob"}] + [{"user": user, k: v} for k, v in wrong]
    for bad in bads:
        r = await http.get(url, params=bad)
        assert r.status_code == 400 and "error" in r.json(), bad

    # Trades: taker side by default, makers too with takerOnly=false, newest first.
    best_ask = snap.best_ask
    quiet.matching.place("0x" + "ef" * 20, m.yes_token, Side.BUY, best_ask, Decimal(7), order_type=OrderType.FAK)
    quiet.matching.place("someone", m.yes_token, Side.SELL, snap.best_bid, Decimal(6), order_type=OrderType.FAK)
    trades = (await http.get(f"{quiet.data_url}/trades")).json()
    assert [(t["side"], t["size"]) for t in trades] == [("SELL", 6.0), ("BUY", 7.0)]
    assert trades[1]["proxyWallet"] == "0x" + "ef" * 20 and trades[1]["price"] == best_ask / 10_000
    mine = (await http.get(f"{quiet.data_url}/trades", params={"user": "0x" + "EF" * 20})).json()
    assert [t["size"] for t in mine] == [7.0]
    both = (await http.get(f"{quiet.data_url}/trades", params={"takerOnly": "false", "limit": 100})).json()
    assert len(both) > 2 and {t["side"] for t in both} == {"BUY", "SELL"}
    assert (await http.get(f"{quiet.data_url}/trades", params={"market": other.condition_id})).json() == []
    assert (await http.get(f"{quiet.data_url}/trades", params={"side": "HOLD"})).status_code == 400
    # A user's orders carry their API key as owner: the trade shows the key's wallet.
    key = quiet.standin.open_account("0x" + "12" * 20)
    ask = quiet.matching.book(m.yes_token).best_ask
    quiet.matching.place(key.key, m.yes_token, Side.BUY, ask, Decimal(5), order_type=OrderType.FAK)
    latest = (await http.get(f"{quiet.data_url}/trades", params={"limit": 1})).json()
    assert latest[0]["proxyWallet"] == "0x" + "12" * 20


# ------------------------------------------------------------------------------------------- synthetic traders


def test_synthetic_actions_and_fair_values_are_deterministic():
    def run(seed: int, poke: bool = False) -> tuple[list[str], list[float], list[Any]]:
        s = StandIn(seed=seed, flow=False, clock=fixed_clock)
        actions = []
        for i in range(300):
            if poke and i % 10 == 0:  # an outside trader: the books differ, the fair-value path must not
                m = s.markets[0]
                ask = s.matching.book(m.yes_token).best_ask
                s.matching.place("outsider", m.yes_token, Side.BUY, ask, Decimal(5), order_type=OrderType.FAK)
            for f in s.flows:
                actions.append(f.step())
        return actions, [f.fair_value() for f in s.flows], _state(s)

    a, b, c = run(5), run(5), run(6)
    assert a == b
    assert a[0] != c[0] and a[1] != c[1]
    poked = run(5, poke=True)
    assert poked[1] == a[1]  # fair values depend on the seed only
    assert poked[2] != a[2]
    s = StandIn(seed=5, flow=False, clock=fixed_clock)
    m = s.markets[0]
    assert s.fair_value(m.condition_id) == s.fair_value(m.yes_token) == pytest.approx(1 - s.fair_value(m.no_token))
    with pytest.raises(KeyError):
        s.fair_value("123")
    s.step_flow(3)
    assert [step for step, _, _ in s.flows[0].fair_log] == [1, 2, 3]
    assert s.flows[0].fair_log[-1][1:] == (fixed_clock(), s.fair_value(m.yes_token))


def test_informed_trader_predicts_the_next_fair_value_move():
    s = StandIn(seed=21, flow=False, clock=fixed_clock)
    horizon = 30
    flows_, moves = [], []
    for flow in s.flows:
        positions, fairs = [], []
        for _ in range(1500):
            flow.step()
            positions.append(flow.informed_position)
            fairs.append(flow.fair_value())
        for t in range(1, len(fairs) - horizon):
            traded = float(positions[t] - positions[t - 1])
            if traded:
                flows_.append(traded)
                moves.append(fairs[t + horizon] - fairs[t])
    assert len(flows_) > 100
    assert statistics.correlation(flows_, moves) > 0.3
    # It made money against the book: bought below, sold above where fair value went.
    hits = sum(1 for x, y in zip(flows_, moves, strict=True) if (x > 0) == (y > 0))
    assert hits / len(flows_) > 0.75


def test_competing_maker_improves_the_best_quote():
    s = StandIn(seed=4, flow=False, clock=fixed_clock)
    improved = 0
    for _ in range(600):
        for flow in s.flows:
            bid, ask = flow.book.bids.best(), flow.book.asks.best()
            if flow.step() != "mm-improve":
                continue
            improved += 1
            new_bid, new_ask = flow.book.bids.best(), flow.book.asks.best()
            if new_bid != bid:
                assert new_bid == bid + flow.tick and new_ask == ask
                level = flow.book.bids.levels[new_bid]
            else:
                assert new_ask == ask - flow.tick
                level = flow.book.asks.levels[new_ask]
            assert [o.owner for o in level.orders.values()] == [flow.competitor]
            assert new_bid < new_ask
    assert improved >= 20
    # It keeps quotes of its own in the books (some may just have been filled).
    owners = {o.owner for o in s.matching.open_orders()}
    assert sum(f.competitor in owners for f in s.flows) >= len(s.flows) * 2 // 3
