"""Fault controls of the stand-in, through the Python API and the loopback-only ``/_admin/`` routes.

Real sockets throughout: each test runs an exchange on an ephemeral port and watches what a client
sees (closed sockets, silence with PONGs, delays, error bursts, tick changes, resolutions).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from polymm.domain.market import Side
from polymm.domain.prices import price_to_pips
from polymm_standin.server import ExchangeServer, run_exchange
from polymm_standin.server.admin import LOOPBACK_ONLY, is_loopback
from polymm_standin.server.faults import Faults
from polymm_standin.sim import OrderRejected, OrderType


@pytest_asyncio.fixture
async def quiet() -> AsyncIterator[ExchangeServer]:
    async with run_exchange(seed=7, flow=False) as server:
        yield server


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


async def recv_json(ws: ClientConnection, timeout: float = 5.0) -> Any:
    return orjson.loads(await asyncio.wait_for(ws.recv(), timeout))


async def subscribe(ws: ClientConnection, assets: list[str], **extra: Any) -> Any:
    await ws.send(orjson.dumps({"type": "market", "assets_ids": assets, **extra}).decode())
    return await recv_json(ws)


async def admin(http: httpx.AsyncClient, ex: ExchangeServer, path: str, body: Any = None) -> httpx.Response:
    return await http.post(f"{ex.clob_url}/_admin/{path}", json=body if body is not None else {})


def add_bid(ex: ExchangeServer, index: int = 0, size: int = 5) -> None:
    """A resting YES bid at the market's lowest bid price (a price_change, no trade)."""
    m = ex.markets[index]
    ex.matching.place("fault-test", m.yes_token, Side.BUY, ex.matching.book(m.yes_token).bids[0][0], Decimal(size))


async def until_frame(ws: ClientConnection, event_type: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        frame = await recv_json(ws, max(0.01, deadline - time.monotonic()))
        for item in frame if isinstance(frame, list) else [frame]:
            if item.get("event_type") == event_type:
                return item


# ------------------------------------------------------------------------------------------- sockets


async def test_drop_all_websockets_python_api(quiet: ExchangeServer):
    m = quiet.markets[0]
    async with websockets.connect(quiet.ws_url) as a, websockets.connect(quiet.ws_url) as b:
        await subscribe(a, [m.yes_token])
        await subscribe(b, [m.no_token])
        assert quiet.standin.faults.sockets.count("market") == 2
        assert await quiet.standin.drop_all_websockets() == 2
        for ws in (a, b):
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 5)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1012
    assert quiet.standin.faults.sockets.count() == 0
    # A new connection works as before.
    async with websockets.connect(quiet.ws_url) as ws:
        assert len(await subscribe(ws, [m.yes_token])) == 1


async def test_drop_websockets_admin_route(quiet: ExchangeServer, http: httpx.AsyncClient, wait_until):
    async with websockets.connect(quiet.ws_url) as ws, websockets.connect(quiet.user_ws_url) as user:
        await subscribe(ws, [quiet.markets[0].yes_token])
        await wait_until(lambda: quiet.standin.user_channel.connections >= 1)  # the server has taken the user socket
        r = await admin(http, quiet, "drop-websockets", {"channel": "user"})
        assert r.json() == {"closed": 1}  # only the user socket: the market socket stays
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(user.recv(), 5)
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), 5) == "PONG"
        r = await admin(http, quiet, "drop-websockets", {"channel": "market"})
        assert (r.status_code, r.json()) == (200, {"closed": 1})
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    r = await admin(http, quiet, "drop-websockets", {"channel": "everything"})
    assert r.status_code == 400 and "error" in r.json()


async def test_freeze_keeps_pong_but_stops_data(quiet: ExchangeServer, http: httpx.AsyncClient):
    m = quiet.markets[0]
    async with websockets.connect(quiet.ws_url) as ws:
        await subscribe(ws, [m.yes_token, m.no_token])
        r = await admin(http, quiet, "freeze", {"frozen": True})
        assert r.json() == {"market_ws_frozen": True} and quiet.standin.faults.market_ws_frozen
        before = quiet.matching.book(m.yes_token).hash
        for _ in range(5):
            add_bid(quiet)  # the book moves ...
        quiet.standin.step_flow(20)
        assert quiet.matching.book(m.yes_token).hash != before
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), 5) == "PONG"  # ... PONG answers, nothing else came
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.3)
        assert quiet.standin.channel.frozen_dropped > 0
        # Thawed: the next change is delivered.
        quiet.standin.controls.freeze_market_ws(False)
        add_bid(quiet)
        frame = await recv_json(ws)
        assert frame["event_type"] == "price_change"


async def test_latency_python_api_and_admin(quiet: ExchangeServer, http: httpx.AsyncClient):
    url = f"{quiet.clob_url}/ok"
    quiet.standin.faults.latency_s = 0.25
    start = time.monotonic()
    assert (await http.get(url)).status_code == 200
    assert time.monotonic() - start >= 0.25  # delayed: only a lower bound, however busy the machine
    # Admin routes are never delayed: under a 30 s latency one still answers (the client gives up after
    # 5 s, failing the test); set a different latency through them.
    quiet.standin.faults.latency_s = 30
    r = await admin(http, quiet, "faults", {"latency_s": 0.15})
    assert r.json()["latency_s"] == 0.15
    start = time.monotonic()
    await http.get(f"{quiet.gamma_url}/markets", params={"limit": 1})
    assert time.monotonic() - start >= 0.15
    # Cleared, even from 30 s: the next request answers (within the client's 5 s).
    quiet.standin.faults.latency_s = 30
    assert (await admin(http, quiet, "clear")).json()["latency_s"] == 0
    assert (await http.get(url)).status_code == 200


async def test_http_error_bursts_for_exactly_n_requests(quiet: ExchangeServer, http: httpx.AsyncClient):
    token = quiet.markets[0].yes_token
    book = f"{quiet.clob_url}/book"
    quiet.standin.faults.add_http_errors(429, 3, retry_after_s=2.5)
    for _ in range(3):
        r = await http.get(book, params={"token_id": token})
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "3"
        assert r.json() == {"error": "Too Many Requests", "retry_after_seconds": 2.5}
    assert (await http.get(book, params={"token_id": token})).status_code == 200

    # 425 for /book only (admin route), other paths untouched.
    r = await admin(http, quiet, "http-errors", {"status": 425, "count": 2, "path_prefix": "/book"})
    assert r.status_code == 200 and r.json()["count"] == 2
    assert (await http.get(f"{quiet.clob_url}/ok")).status_code == 200
    statuses = [(await http.get(book, params={"token_id": token})).status_code for _ in range(3)]
    assert statuses == [425, 425, 200]

    # 503 through the faults route; the admin state shows it queued, then consumed.
    r = await admin(http, quiet, "faults", {"http_errors": [{"status": 503, "count": 1}]})
    assert [b["status"] for b in r.json()["http_errors"]] == [503]
    r = await http.get(f"{quiet.gamma_url}/markets")
    assert r.status_code == 503 and "Trading is currently disabled" in r.json()["error"]
    assert "Retry-After" not in r.headers
    assert (await http.get(f"{quiet.gamma_url}/markets")).status_code == 200
    state = (await http.get(f"{quiet.clob_url}/_admin/state")).json()
    assert state["faults"]["http_errors"] == []


async def test_admin_rejects_bad_input(quiet: ExchangeServer, http: httpx.AsyncClient):
    url = f"{quiet.clob_url}/_admin"
    bad = [
        ("faults", b"{not json"),
        ("faults", b"[1, 2]"),
        ("faults", orjson.dumps({"latency_s": -1})),
        ("faults", orjson.dumps({"latency_s": "slow"})),
        ("faults", orjson.dumps({"ghost_fills": -2})),
        ("faults", orjson.dumps({"market_ws_frozen": "yes"})),
        ("faults", orjson.dumps({"nonsense": 1})),
        ("faults", orjson.dumps({"http_errors": [{"status": 200, "count": 1}]})),
        ("faults", orjson.dumps({"http_errors": [{"status": 429, "count": 0}]})),
        ("http-errors", orjson.dumps({"status": 429, "count": 1, "path_prefix": "book"})),
        ("tick-size", orjson.dumps({"market": quiet.markets[0].condition_id, "tick_size": "0.02"})),
        ("tick-size", orjson.dumps({"market": quiet.markets[0].condition_id})),
        ("tick-size", orjson.dumps({"tick_size": "0.001"})),
        ("resolve", orjson.dumps({"market": quiet.markets[0].condition_id, "winner": "Maybe"})),
        ("freeze", orjson.dumps({"frozen": 1})),
        ("flow", orjson.dumps({})),
    ]
    for path, body in bad:
        r = await http.post(f"{url}/{path}", content=body)
        assert r.status_code == 400, (path, body, r.text)
        assert isinstance(r.json()["error"], str)
    unknown = (("tick-size", {"market": "0x" + "ab" * 32, "tick_size": "0.001"}), ("resolve", {"market": "123"}))
    for path, body in unknown:
        r = await http.post(f"{url}/{path}", json=body)
        assert r.status_code == 404 and "error" in r.json()
    # Nothing half-applied: a bad burst in a list leaves no burst behind.
    r = await admin(http, quiet, "faults", {"http_errors": [{"status": 503, "count": 1}, {"status": 1}]})
    assert r.status_code == 400 and quiet.standin.faults.http_errors == []
    assert quiet.standin.faults.as_dict() == Faults().as_dict()


async def test_every_declared_fault_is_settable_shown_and_cleared(quiet: ExchangeServer, http: httpx.AsyncClient):
    """A fault is declared once (its field in ``Faults``): the admin route, ``as_dict`` and ``clear`` follow."""
    defaults = Faults()
    settable = Faults.settable()
    assert {"latency_s", "market_ws_frozen", "heartbeats_honoured", "ghost_fills"} <= set(settable)
    changed = {}
    for name in settable:
        default = getattr(defaults, name)
        changed[name] = (not default) if isinstance(default, bool) else (3 if isinstance(default, int) else 0.001)
    r = await admin(http, quiet, "faults", changed)
    assert r.status_code == 200, r.text
    shown = r.json()
    assert {k: shown[k] for k in changed} == changed
    assert {k: getattr(quiet.standin.faults, k) for k in changed} == changed
    # A bad value names the field and what it allows; nothing changes.
    r = await admin(http, quiet, "faults", {"ghost_fills": 1, "latency_s": 99})
    assert r.status_code == 400 and r.json()["error"] == "latency_s must be within [0, 60]"
    assert quiet.standin.faults.ghost_fills == 3
    await admin(http, quiet, "clear")
    assert quiet.standin.faults.as_dict() == defaults.as_dict()


async def test_ghost_fills_and_heartbeats_are_set_for_the_trading_side(quiet: ExchangeServer, http: httpx.AsyncClient):
    r = await admin(http, quiet, "faults", {"ghost_fills": 2, "heartbeats_honoured": False})
    assert r.json()["ghost_fills"] == 2 and r.json()["heartbeats_honoured"] is False
    faults = quiet.standin.faults
    assert not faults.heartbeats_honoured
    assert [faults.take_ghost_fill() for _ in range(3)] == [True, True, False]
    await admin(http, quiet, "clear")
    assert faults.heartbeats_honoured and faults.ghost_fills == 0


async def test_flow_pause_through_admin(http: httpx.AsyncClient):
    async with run_exchange(seed=7, flow_rate=200.0) as ex:
        r = await admin(http, ex, "flow", {"paused": True})
        assert r.json() == {"paused": True} and ex.standin.flow_paused  # paused before the route answered
        before = ex.matching.book(ex.markets[0].yes_token).hash
        # time is what is tested: paused, the flow stays paused; running, it steps this market 200 times a second
        await asyncio.sleep(0.2)
        assert ex.matching.book(ex.markets[0].yes_token).hash == before
        assert (await admin(http, ex, "flow", {"paused": False})).json() == {"paused": False}


# ------------------------------------------------------------------------------------------- loopback


def test_is_loopback():
    for host in ("127.0.0.1", "127.5.6.7", "::1", "::ffff:127.0.0.1"):
        assert is_loopback(host), host
    for host in ("10.0.0.1", "192.0.2.2", "8.8.8.8", "::ffff:10.0.0.1", "2001:db8::1", "", None, "localhost", "x"):
        assert not is_loopback(host), host


def _outward_address() -> str | None:
    """This machine's non-loopback IPv4 address, if it has one (UDP connect sends nothing)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            addr = s.getsockname()[0]
    except OSError:
        return None
    return None if is_loopback(addr) or addr == "0.0.0.0" else addr


async def test_admin_refuses_a_non_loopback_peer(http: httpx.AsyncClient):
    addr = _outward_address()
    if addr is None:
        pytest.skip("no non-loopback interface to connect from (is_loopback is tested directly)")
    async with run_exchange(host=addr, seed=7, flow=False) as ex:
        r = await http.get(f"http://{addr}:{ex.port}/_admin/state")
        assert (r.status_code, r.json()) == (403, {"error": LOOPBACK_ONLY})
        r = await http.post(f"http://{addr}:{ex.port}/_admin/freeze", json={"frozen": True})
        assert r.status_code == 403 and not ex.standin.faults.market_ws_frozen
        # The public routes answer that peer normally.
        assert (await http.get(f"http://{addr}:{ex.port}/ok")).status_code == 200


# ------------------------------------------------------------------------------------------- venue changes


async def test_tick_size_change_python_api(quiet: ExchangeServer, http: httpx.AsyncClient):
    m = quiet.markets[0]
    assert m.tick.text == "0.01"
    async with websockets.connect(quiet.ws_url) as ws:
        await subscribe(ws, [m.yes_token, m.no_token])
        old_hash = quiet.matching.book(m.yes_token).hash
        change = quiet.standin.change_tick_size(m.condition_id, "0.001")
        assert (change.old.text, change.new.text, change.reason) == ("0.01", "0.001", "control")
        frames = [await recv_json(ws), await recv_json(ws)]
    assert [(f["event_type"], f["asset_id"], f["old_tick_size"], f["new_tick_size"]) for f in frames] == [
        ("tick_size_change", m.yes_token, "0.01", "0.001"),
        ("tick_size_change", m.no_token, "0.01", "0.001"),
    ]
    assert quiet.markets[0].tick.text == "0.001"  # the live market list follows
    book = (await http.get(f"{quiet.clob_url}/book", params={"token_id": m.yes_token})).json()
    assert book["tick_size"] == "0.001" and book["hash"] != old_hash
    assert (await http.get(f"{quiet.clob_url}/tick-size", params={"token_id": m.no_token})).json() == {
        "minimum_tick_size": 0.001
    }
    gamma = (await http.get(f"{quiet.gamma_url}/markets", params={"condition_ids": m.condition_id})).json()
    assert gamma[0]["orderPriceMinTickSize"] == 0.001
    # Validation uses the new grid: 0.001 steps pass, finer ones fail.
    low = quiet.matching.book(m.yes_token).bids[0][0]
    assert quiet.matching.place("t", m.yes_token, Side.BUY, low + 10, Decimal(5)).status == "live"
    with pytest.raises(OrderRejected, match=r"breaks minimum tick size rule: 0\.001"):
        quiet.matching.place("t", m.yes_token, Side.BUY, low + 15, Decimal(5))
    # The flow keeps working on the new tick.
    quiet.standin.step_flow(200)
    snap = quiet.matching.book(m.yes_token)
    assert snap.best_bid is not None and snap.best_ask is not None and snap.best_bid < snap.best_ask


async def test_tick_size_change_admin_route(quiet: ExchangeServer, http: httpx.AsyncClient):
    m = quiet.markets[2]
    async with websockets.connect(quiet.ws_url) as ws:
        await subscribe(ws, [m.no_token])
        r = await admin(http, quiet, "tick-size", {"market": m.no_token, "tick_size": "0.005"})
        assert r.json() == {"market": m.condition_id, "old_tick_size": "0.01", "new_tick_size": "0.005"}
        frame = await recv_json(ws)
    assert (frame["event_type"], frame["asset_id"], frame["new_tick_size"]) == ("tick_size_change", m.no_token, "0.005")
    r = await admin(http, quiet, "tick-size", {"market": m.condition_id, "tick_size": "0.005"})
    assert r.status_code == 400  # already that tick


async def test_tick_size_switches_by_itself_beyond_096(quiet: ExchangeServer):
    m = next(x for x in quiet.markets if x.tick.text == "0.01" and not x.neg_risk)
    engine = quiet.matching
    engine.cancel_orders([o.id for o in engine.open_orders() if o.market.condition_id == m.condition_id])
    async with websockets.connect(quiet.ws_url) as ws:
        await subscribe(ws, [m.yes_token])
        engine.place("mm", m.yes_token, Side.SELL, price_to_pips("0.97"), Decimal(20))
        engine.place("taker", m.yes_token, Side.BUY, price_to_pips("0.97"), Decimal(10), order_type=OrderType.FAK)
        up = await until_frame(ws, "tick_size_change")
        assert (up["old_tick_size"], up["new_tick_size"]) == ("0.01", "0.001")
        assert engine.market_book(m.condition_id).market.tick.text == "0.001"
        # Trading back inside 0.05..0.95 restores 0.01.
        engine.place("mm", m.yes_token, Side.BUY, price_to_pips("0.5"), Decimal(20))
        engine.place("taker", m.yes_token, Side.SELL, price_to_pips("0.5"), Decimal(10), order_type=OrderType.FAK)
        down = await until_frame(ws, "tick_size_change")
        assert (down["old_tick_size"], down["new_tick_size"]) == ("0.001", "0.01")
    assert [c.reason for c in quiet.standin.controls.tick_changes] == ["auto", "auto"]


async def test_resolve_market(quiet: ExchangeServer, http: httpx.AsyncClient):
    m = quiet.markets[0]
    cond = m.condition_id
    resolutions = []
    quiet.standin.controls.resolution_listeners.append(resolutions.append)
    async with websockets.connect(quiet.ws_url) as custom, websockets.connect(quiet.ws_url) as plain:
        await subscribe(custom, [m.yes_token], custom_feature_enabled=True)
        await subscribe(plain, [m.no_token])
        r = await admin(http, quiet, "resolve", {"market": cond, "winner": "No"})
        assert r.status_code == 200
        body = r.json()
        assert body["winning_outcome"] == "NO" and body["winning_asset_id"] == m.no_token
        assert len(body["cancelled_orders"]) > 10
        resolved = await until_frame(custom, "market_resolved")
        assert resolved == {
            "event_type": "market_resolved",
            "id": quiet.standin.catalog.profile(cond).gamma_id,
            "market": cond,
            "assets_ids": [m.yes_token, m.no_token],
            "winning_asset_id": m.no_token,
            "winning_outcome": "No",
            "timestamp": resolved["timestamp"],
        }
        await plain.send("PING")
        frames = []
        while (frame := await asyncio.wait_for(plain.recv(), 5)) != "PONG":
            frames.append(orjson.loads(frame))
        assert frames and all(f["event_type"] == "price_change" for f in frames)  # the cancellations, no resolution
    assert [r.condition_id for r in resolutions] == [cond]
    assert len(resolutions[0].cancelled) == len(body["cancelled_orders"])
    book = (await http.get(f"{quiet.clob_url}/book", params={"token_id": m.yes_token})).json()
    assert book["bids"] == [] and book["asks"] == []
    quiet.standin.step_flow(50)  # the flow stays out of a closed market
    assert quiet.matching.book(m.yes_token).bids == () and quiet.matching.open_orders() != []
    open_rows = (await http.get(f"{quiet.gamma_url}/markets")).json()
    assert cond not in {row["conditionId"] for row in open_rows}
    (row,) = (await http.get(f"{quiet.gamma_url}/markets", params={"closed": "true"})).json()
    assert row["conditionId"] == cond and row["closed"] is True and row["acceptingOrders"] is False
    assert orjson.loads(row["outcomePrices"]) == ["0", "1"]
    clob = (await http.get(f"{quiet.clob_url}/markets/{cond}")).json()
    assert clob["closed"] is True and clob["accepting_orders"] is False
    assert [(t["outcome"], t["winner"], t["price"]) for t in clob["tokens"]] == [("Yes", False, 0), ("No", True, 1)]
    sampling = (await http.get(f"{quiet.clob_url}/sampling-markets")).json()["data"]
    assert cond not in {d["condition_id"] for d in sampling}
    # Closed assets are left out of initial dumps; resolving again is refused.
    async with websockets.connect(quiet.ws_url) as ws:
        assert await subscribe(ws, [m.yes_token, m.no_token]) == []
    r = await admin(http, quiet, "resolve", {"market": cond})
    assert r.status_code == 400 and "already resolved" in r.json()["error"]
    with pytest.raises(ValueError, match="closed"):
        quiet.standin.change_tick_size(cond, "0.001")


async def test_new_market_listing(quiet: ExchangeServer, http: httpx.AsyncClient):
    before = len(quiet.markets)
    async with websockets.connect(quiet.ws_url) as custom, websockets.connect(quiet.ws_url) as plain:
        await subscribe(custom, [], custom_feature_enabled=True)
        await subscribe(plain, [])
        r = await admin(http, quiet, "new-market")
        listed = r.json()
        frame = await recv_json(custom)
        await plain.send("PING")
        assert await asyncio.wait_for(plain.recv(), 5) == "PONG"  # no new_market without custom features
    assert frame["event_type"] == "new_market" and frame["market"] == listed["market"]
    assert frame["assets_ids"] == listed["assets_ids"] == frame["clob_token_ids"]
    assert set(frame["event_message"]) == {"id", "ticker", "slug", "title", "description"}
    assert len(quiet.markets) == before + 1
    gamma = (await http.get(f"{quiet.gamma_url}/markets", params={"id": listed["id"]})).json()
    assert [g["conditionId"] for g in gamma] == [listed["market"]]
    book = (await http.get(f"{quiet.clob_url}/book", params={"token_id": listed["assets_ids"][0]})).json()
    assert len(book["bids"]) >= 5 and len(book["asks"]) >= 5
