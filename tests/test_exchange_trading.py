"""The stand-in's trading core against the REAL, unmodified ``py-clob-client-v2`` over real sockets.

Keys, L1/L2 auth, order entry and its rejections (exact Polymarket strings), batches, cancels, order
and trade queries with pagination, balances and fees, the trade status lifecycle (and ghost fills),
heartbeats, and the ``/ws/user`` channel. The sync client runs in a worker thread
(``asyncio.to_thread``) because the server runs on the test's event loop.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
import websockets
from engines import sdk_call, sdk_client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from py_clob_client_v2 import ClobClient, OrderArgs, OrderType
from py_clob_client_v2.clob_types import (
    ApiCreds,
    AssetType,
    BalanceAllowanceParams,
    CreateOrderOptions,
    MarketOrderArgs,
    OpenOrderParams,
    OrderMarketCancelParams,
    OrderPayload,
    OrderScoringParams,
    PostOrdersV2Args,
    RequestArgs,
    TradeParams,
)
from py_clob_client_v2.exceptions import PolyApiException
from py_clob_client_v2.headers.headers import create_level_1_headers, create_level_2_headers
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2

from polymm.domain.market import Market
from polymm_standin.server import ExchangeServer, StandIn, run_exchange
from polymm_standin.server.accounts import fee_micro
from polymm_standin.server.auth import EXCHANGE_V2, NEG_RISK_EXCHANGE_V2, parse_order
from polymm_standin.server.http import ApiError
from polymm_standin.server.trading import TradingConfig
from polymm_standin.sim.units import decimal_str

FIXTURES = Path(__file__).parent / "fixtures" / "ws"
KEY_A = "0x" + "11" * 32
KEY_B = "0x" + "22" * 32
POST_ONLY = "invalid post-only order: order crosses book"
STEP = 0.03  # trade status step in these tests


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


@pytest_asyncio.fixture
async def ex() -> AsyncIterator[ExchangeServer]:
    config = TradingConfig(trade_step_s=STEP, heartbeat_timeout_s=1.0, page_size=3, monitor_interval_s=0.02)
    async with run_exchange(port=0, flow=False, trading=config) as server:
        yield server


call = sdk_call


async def client(ex: ExchangeServer, key: str = KEY_A) -> ClobClient:
    return await sdk_client(ex, key)


def empty_market(ex: ExchangeServer, index: int = 0) -> Market:
    """A market with every synthetic order removed, so tests own its book."""
    m = ex.markets[index]
    ex.matching.cancel_orders([o.id for o in ex.matching.open_orders() if o.market == m])
    return m


def buy(m: Market, price: float, size: float, token: str | None = None) -> OrderArgs:
    return OrderArgs(token_id=token or m.yes_token, price=price, size=size, side="BUY")


def sell(m: Market, price: float, size: float, token: str | None = None) -> OrderArgs:
    return OrderArgs(token_id=token or m.yes_token, price=price, size=size, side="SELL")


async def rejected(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[int, Any]:
    with pytest.raises(PolyApiException) as info:
        await call(fn, *args, **kwargs)
    return info.value.status_code, info.value.error_msg


async def l2(
    c: ClobClient, method: str, path: str, body: Any = None, query: str = "", ts: int | None = None, **over: str
) -> httpx.Response:
    """A raw L2-authenticated request (for what the client does not expose)."""
    raw = None if body is None else (body if isinstance(body, bytes) else orjson.dumps(body))
    headers = create_level_2_headers(
        c.signer, c.creds, RequestArgs(method, path, serialized_body=raw.decode() if raw else None), timestamp=ts
    )
    headers.update(over)
    async with httpx.AsyncClient() as h:
        return await h.request(method, c.host + path + query, headers=headers, content=raw)


# ------------------------------------------------------------------------------------------------ keys


async def test_api_keys_create_derive_and_l1_errors(ex: ExchangeServer) -> None:
    c = ClobClient(ex.clob_url, 137, key=KEY_A)
    first = await call(c.create_or_derive_api_key)
    second = await call(c.create_or_derive_api_key)
    assert first == second
    assert len(first.api_key) == 36 and len(base64.urlsafe_b64decode(first.api_secret)) == 32
    status, err = await rejected(c.create_api_key)
    assert (status, err) == (400, {"error": "Could not create api key"})
    assert await call(c.derive_api_key) == first
    other = await call(c.create_api_key, 5)  # another nonce → another key of the same wallet
    assert other.api_key != first.api_key
    c.set_api_creds(first)
    keys = await call(c.get_api_keys)
    assert set(keys["apiKeys"]) == {first.api_key, other.api_key}
    assert await call(c.get_closed_only_mode) == {"closed_only": False}

    # L1 headers signed by another wallet, or stale, are refused.
    b = ClobClient(ex.clob_url, 137, key=KEY_B)
    headers = create_level_1_headers(b.signer)
    headers["POLY_ADDRESS"] = c.get_address()
    stale = create_level_1_headers(c.signer, timestamp=int(time.time()) - 3600)  # validly signed, but old
    async with httpx.AsyncClient() as h:
        bad = await h.post(ex.clob_url + "/auth/api-key", headers=headers)
        old = await h.get(ex.clob_url + "/auth/derive-api-key", headers=stale)
    assert (bad.status_code, bad.json()) == (401, {"error": "Invalid L1 Request headers"})
    assert (old.status_code, old.json()) == (401, {"error": "Invalid L1 Request headers"})


async def test_l2_rejects_bad_hmac_stale_timestamp_and_unknown_key(ex: ExchangeServer) -> None:
    c = await client(ex)
    assert await call(c.get_open_orders) == []
    wrong = ClobClient(ex.clob_url, 137, key=KEY_A, creds=ApiCreds(
        c.creds.api_key, base64.urlsafe_b64encode(b"\x01" * 32).decode(), c.creds.api_passphrase
    ))
    status, err = await rejected(wrong.get_open_orders)
    assert (status, err) == (401, {"error": "Unauthorized/Invalid api key"})
    stale = await l2(c, "GET", "/data/orders", ts=int(time.time()) - 1000)  # correct HMAC, old timestamp
    assert stale.status_code == 401
    unknown = await l2(c, "GET", "/data/orders", POLY_API_KEY="00000000-0000-4000-8000-000000000000")
    assert unknown.status_code == 401
    async with httpx.AsyncClient() as h:
        bare = await h.get(ex.clob_url + "/data/orders")
    assert (bare.status_code, bare.json()) == (401, {"error": "Unauthorized/Invalid api key"})
    # The body is covered: same headers, different body → refused.
    body = orjson.dumps({"orderID": "0x" + "ab" * 32})
    headers = create_level_2_headers(c.signer, c.creds, RequestArgs("DELETE", "/order", serialized_body=body.decode()))
    async with httpx.AsyncClient() as h:
        ok = await h.request("DELETE", ex.clob_url + "/order", headers=headers, content=body)
        other = body.replace(b"ab", b"cd")
        tampered = await h.request("DELETE", ex.clob_url + "/order", headers=headers, content=other)
    assert ok.status_code == 200 and tampered.status_code == 401


# ------------------------------------------------------------------------------------------------ orders


async def test_resting_order_in_open_orders_and_book(ex: ExchangeServer) -> None:
    m = ex.markets[0]
    c = await client(ex)
    book = await call(c.get_order_book, m.yes_token)
    bid, ask = Decimal(book["bids"][-1]["price"]), Decimal(book["asks"][-1]["price"])
    assert bid < ask
    before = Decimal(book["bids"][-1]["size"])
    t0 = time.perf_counter()
    reply = await call(c.create_and_post_order, buy(m, float(bid), 10), None, OrderType.GTC, True)
    assert time.perf_counter() - t0 < 2.0  # /version, /tick-size, /neg-risk answered; no 30 s poll
    assert reply == {
        "success": True,
        "errorMsg": "",
        "orderID": reply["orderID"],
        "status": "live",
        "makingAmount": "",
        "takingAmount": "",
        "tradeIDs": [],
        "transactionsHashes": [],
    }
    assert reply["orderID"].startswith("0x") and len(reply["orderID"]) == 66
    [order] = await call(c.get_open_orders)
    assert order["id"] == reply["orderID"]
    assert (order["status"], order["side"], order["price"], order["original_size"]) == ("LIVE", "BUY", str(bid), "10")
    assert (order["owner"], order["maker_address"]) == (c.creds.api_key, c.get_address())
    assert order["asset_id"] == m.yes_token and order["market"] == m.condition_id and order["outcome"] == "Yes"
    assert await call(c.get_order, reply["orderID"]) == order
    after = await call(c.get_order_book, m.yes_token)
    assert after["bids"][-1] == {"price": str(bid), "size": str(before + 10)}
    assert await call(c.get_open_orders, OpenOrderParams(market=m.condition_id)) == [order]
    assert await call(c.get_open_orders, OpenOrderParams(asset_id=m.no_token)) == []


async def test_order_id_is_the_clients_eip712_digest(ex: ExchangeServer) -> None:
    m = ex.markets[0]
    c = await client(ex)
    for neg_risk, contract in ((False, EXCHANGE_V2), (True, NEG_RISK_EXCHANGE_V2)):
        order = c.builder.build_order(buy(m, 0.2, 7), CreateOrderOptions(tick_size="0.01", neg_risk=neg_risk))
        builder = ExchangeOrderBuilderV2(contract, 137, c.signer)
        expected = builder.build_order_hash(builder.build_order_typed_data(order))
        order_id, signer = parse_order(order_to_json_v2(order, "k", "GTC")["order"]).signer_of(neg_risk)
        assert (order_id, signer) == (expected, c.get_address())
    order = c.builder.build_order(buy(m, 0.2, 7), CreateOrderOptions(tick_size="0.01", neg_risk=False))
    builder = ExchangeOrderBuilderV2(EXCHANGE_V2, 137, c.signer)
    reply = await call(c.post_order, order)
    assert reply["orderID"] == builder.build_order_hash(builder.build_order_typed_data(order))


async def test_post_only_crossing_and_other_rejections(ex: ExchangeServer, wait_until) -> None:
    m = ex.markets[0]
    c = await client(ex)
    book = await call(c.get_order_book, m.yes_token)
    ask = float(book["asks"][-1]["price"])
    status, err = await rejected(c.create_and_post_order, buy(m, ask, 10), None, OrderType.GTC, True)
    assert (status, err) == (400, {"error": POST_ONLY})

    # Resting below the minimum size.
    order = await call(c.create_order, buy(m, 0.05, 3))
    status, err = await rejected(c.post_order, order)
    oid = parse_order(order_to_json_v2(order, "", "GTC")["order"]).signer_of(False)[0]
    assert err == {"error": f"order {oid} is invalid. Size (3) lower than the minimum: 5"}
    # Off the market's tick (signed for a finer tick than the market's 0.01).
    fine = c.builder.build_order(buy(m, 0.055, 10), CreateOrderOptions(tick_size="0.001", neg_risk=False))
    oid = parse_order(order_to_json_v2(fine, "", "GTC")["order"]).signer_of(False)[0]
    status, err = await rejected(c.post_order, fine)
    assert err == {"error": f"order {oid} is invalid. Price (0.055) breaks minimum tick size rule: 0.01"}
    # Marketable below $1.
    status, err = await rejected(c.create_and_post_order, buy(m, ask, 1))
    assert "invalid amount for a marketable BUY order" in err["error"] and "min size: $1" in err["error"]
    # GTD must expire at least three minutes out.
    soon = OrderArgs(token_id=m.yes_token, price=0.05, size=10, side="BUY", expiration=int(time.time()) + 150)
    status, err = await rejected(c.create_and_post_order, soon, None, OrderType.GTD)
    assert err == {"error": "invalid expiration"}
    later = OrderArgs(token_id=m.yes_token, price=0.05, size=10, side="BUY", expiration=int(time.time()) + 600)
    gtd = await call(c.create_and_post_order, later, None, OrderType.GTD)
    assert gtd["status"] == "live"
    assert (await call(c.get_order, gtd["orderID"]))["expiration"] == str(later.expiration)
    # the venue ends it a minute before the expiration it states (its security threshold)
    ex.trading.orders[gtd["orderID"]].expiration = int(time.time()) + 55
    await wait_until(lambda: ex.trading.orders[gtd["orderID"]].status == "CANCELED")
    # FOK that cannot fill, FAK with nothing to hit.
    empty = empty_market(ex, 2)
    status, err = await rejected(c.create_and_post_order, buy(empty, 0.5, 10), None, OrderType.FOK)
    assert err == {"error": "order couldn't be fully filled. FOK orders are fully filled or killed."}
    status, err = await rejected(c.create_and_post_order, buy(empty, 0.5, 10), None, OrderType.FAK)
    assert err["error"].startswith("no orders found to match with FAK order.")
    # The same signed order twice.
    dup = await call(c.create_order, buy(m, 0.05, 10))
    first = await call(c.post_order, dup)
    status, err = await rejected(c.post_order, dup)
    assert err == {"error": f"order {first['orderID']} is invalid. Duplicated."}


async def test_identity_checks_signer_owner_and_signature(ex: ExchangeServer) -> None:
    m = ex.markets[0]
    a, b = await client(ex, KEY_A), await client(ex, KEY_B)
    foreign = await call(b.create_order, buy(m, 0.05, 10))  # signed by B
    status, err = await rejected(a.post_order, foreign)  # posted with A's credentials
    assert (status, err) == (400, {"error": "the order signer address has to be the address of the API KEY"})
    mine = await call(a.create_order, buy(m, 0.05, 10))
    body = order_to_json_v2(mine, b.creds.api_key, "GTC")  # owner = someone else's key
    resp = await l2(a, "POST", "/order", body)
    assert (resp.status_code, resp.json()) == (400, {"error": "the order owner has to be the owner of the API KEY"})
    body = order_to_json_v2(mine, a.creds.api_key, "GTC")
    body["order"]["makerAmount"] = str(int(body["order"]["makerAmount"]) + 10_000)  # no longer what was signed
    resp = await l2(a, "POST", "/order", body)
    assert (resp.status_code, resp.json()) == (400, {"error": "invalid signature"})


async def test_malformed_input_never_crashes(ex: ExchangeServer) -> None:
    c = await client(ex)
    for body in (b"{not json", b"[]", b'{"order": 5}', b'{"order": {"side": "UP"}}', b'"x"'):
        resp = await l2(c, "POST", "/order", body)
        assert resp.status_code == 400 and "error" in resp.json(), body
    resp = await l2(c, "POST", "/orders", b'{"a": 1}')
    assert resp.status_code == 400
    resp = await l2(c, "DELETE", "/order", b'{"orderID": 7}')
    assert resp.status_code == 400
    resp = await l2(c, "GET", "/data/order/0xnope")
    assert (resp.status_code, resp.json()) == (404, {"error": "Order not found"})
    resp = await l2(c, "GET", "/data/orders", query="?next_cursor=%21%21")
    assert resp.status_code == 400
    resp = await l2(c, "GET", "/balance-allowance", query="?asset_type=CONDITIONAL&token_id=abc")
    assert resp.status_code == 400
    resp = await l2(c, "POST", "/v1/heartbeats", b'{"heartbeat_id": 3}')
    assert resp.status_code == 400
    assert (await call(c.get_ok)) == "OK"  # still serving


async def test_batch_orders(ex: ExchangeServer) -> None:
    m = ex.markets[0]
    c = await client(ex)
    book = await call(c.get_order_book, m.yes_token)
    ask = float(book["asks"][-1]["price"])
    args = [PostOrdersV2Args(await call(c.create_order, buy(m, p, 10))) for p in (0.05, 0.06, 0.07)]
    args.append(PostOrdersV2Args(await call(c.create_order, buy(m, ask, 10))))  # crosses: refused post-only
    results = await call(c.post_orders, args, True)
    assert [r["success"] for r in results] == [True, True, True, False]
    assert [r["status"] for r in results[:3]] == ["live"] * 3
    assert results[3]["errorMsg"] == POST_ONLY and results[3]["orderID"] == ""
    assert {o["id"] for o in await call(c.get_open_orders)} == {r["orderID"] for r in results[:3]}
    too_many = [order_to_json_v2(a.order, c.creds.api_key, "GTC") for a in args] * 4
    resp = await l2(c, "POST", "/orders", too_many)
    assert (resp.status_code, resp.json()) == (400, {"error": "Too many orders in payload: 16, max allowed: 15"})


async def test_cancels(ex: ExchangeServer) -> None:
    m, m2 = ex.markets[0], ex.markets[2]
    c = await client(ex)
    ids = [(await call(c.create_and_post_order, buy(m, p, 10)))["orderID"] for p in (0.05, 0.06, 0.07, 0.08)]
    other = [(await call(c.create_and_post_order, buy(m2, p, 10)))["orderID"] for p in (0.05, 0.06)]
    unknown = "0x" + "00" * 32
    assert await call(c.cancel_order, OrderPayload(ids[0])) == {"canceled": [ids[0]], "not_canceled": {}}
    again = await call(c.cancel_order, OrderPayload(ids[0]))
    assert again == {"canceled": [], "not_canceled": {ids[0]: "already canceled or matched"}}
    res = await call(c.cancel_orders, [ids[1], ids[2], unknown])
    assert sorted(res["canceled"]) == sorted(ids[1:3]) and list(res["not_canceled"]) == [unknown]
    assert (await call(c.get_order, ids[1]))["status"] == "CANCELED"
    res = await call(c.cancel_market_orders, OrderMarketCancelParams(market=m2.condition_id))
    assert sorted(res["canceled"]) == sorted(other)
    assert [o["id"] for o in await call(c.get_open_orders)] == [ids[3]]
    # Another wallet cannot cancel it.
    b = await client(ex, KEY_B)
    assert (await call(b.cancel_order, OrderPayload(ids[3])))["canceled"] == []
    assert await call(c.cancel_all) == {"canceled": [ids[3]], "not_canceled": {}}
    assert await call(c.get_open_orders) == []
    assert all(o.owner.startswith("synthetic") for o in ex.matching.open_orders())


# ------------------------------------------------------------------------------------------------ trades


async def test_crossing_order_trades_and_confirms(ex: ExchangeServer, wait_until) -> None:
    m = ex.markets[0]
    c = await client(ex)
    book = await call(c.get_order_book, m.yes_token)
    ask, ask_size = Decimal(book["asks"][-1]["price"]), Decimal(book["asks"][-1]["size"])
    size = min(Decimal(5), ask_size)
    reply = await call(c.create_and_post_order, buy(m, float(ask), float(size)))
    assert reply["status"] == "matched" and reply["success"]
    assert len(reply["tradeIDs"]) == 1 and len(reply["transactionsHashes"]) == 1
    assert (reply["makingAmount"], reply["takingAmount"]) == (decimal_str(size * ask), decimal_str(size))
    [trade] = await call(c.get_trades, TradeParams(id=reply["tradeIDs"][0]))
    assert trade["transaction_hash"] == reply["transactionsHashes"][0]
    assert (trade["side"], trade["price"], trade["size"], trade["trader_side"]) == ("BUY", str(ask), str(size), "TAKER")
    assert trade["taker_order_id"] == reply["orderID"] and trade["owner"] == c.creds.api_key
    [maker] = trade["maker_orders"]
    assert maker["side"] == "SELL" and maker["matched_amount"] == str(size)
    assert set(trade) == set(fixture("trades.json"))

    async def status() -> str:
        return (await call(c.get_trades, TradeParams(id=reply["tradeIDs"][0])))[0]["status"]

    seen = {await status()}

    async def confirmed() -> bool:
        seen.add(s := await status())
        return s == "CONFIRMED"

    await wait_until(confirmed, step=STEP / 2)
    assert "CONFIRMED" in seen and seen <= {"MATCHED", "MINED", "CONFIRMED"}
    fee = fee_micro(int(size * 1_000_000), int(ask * 10_000), ex.accounts.fee_rate(m.condition_id))
    assert ex.accounts.cash_micro(c.get_address()) == 10_000_000_000 - int(size * ask * 1_000_000) - fee
    bal = await call(c.get_balance_allowance, BalanceAllowanceParams(AssetType.CONDITIONAL, m.yes_token))
    assert bal["balance"] == str(int(size * 1_000_000)) and bal["allowances"]


async def test_two_accounts_mint_fees_and_market_orders(ex: ExchangeServer) -> None:
    m = empty_market(ex)
    ex.accounts.set_fee_rate(m.condition_id, "0.04")
    a, b = await client(ex, KEY_A), await client(ex, KEY_B)
    resting = await call(a.create_and_post_order, buy(m, 0.40, 20), None, OrderType.GTC, True)
    # B buys NO at 0.60: a MINT against A's YES bid at 0.40.
    reply = await call(b.create_and_post_order, buy(m, 0.60, 15, token=m.no_token))
    assert reply["status"] == "matched"
    [trade] = await call(b.get_trades, TradeParams(id=reply["tradeIDs"][0]))
    assert (trade["asset_id"], trade["side"], trade["price"]) == (m.no_token, "BUY", "0.6")
    assert trade["fee_rate_bps"] == "400"
    [mo] = trade["maker_orders"]
    assert (mo["order_id"], mo["side"], mo["price"], mo["asset_id"], mo["outcome"]) == (
        resting["orderID"], "BUY", "0.4", m.yes_token, "Yes"
    )
    [seen_by_a] = await call(a.get_trades)
    assert seen_by_a["trader_side"] == "MAKER" and seen_by_a["id"] == trade["id"]
    order = await call(a.get_order, resting["orderID"])
    assert (order["size_matched"], order["status"], order["associate_trades"]) == ("15", "LIVE", [trade["id"]])
    fee = 15 * 0.04 * 0.6 * 0.4  # shares × rate × p × (1 − p)
    assert ex.accounts.cash_micro(b.get_address()) == 10_000_000_000 - 9_000_000 - round(fee * 1_000_000)
    assert ex.accounts.cash_micro(a.get_address()) == 10_000_000_000 - 6_000_000  # makers pay no fee
    assert ex.accounts.shares_micro(a.get_address(), m.yes_token) == 15_000_000
    assert ex.accounts.shares_micro(b.get_address(), m.no_token) == 15_000_000
    # A market SELL of A's YES hits... nothing but its own bid is left on the YES side: fill B's MERGE instead.
    await call(b.create_and_post_order, sell(m, 0.55, 10, token=m.no_token), None, OrderType.GTC, True)
    sold = await call(a.create_and_post_market_order, MarketOrderArgs(token_id=m.yes_token, amount=10, side="SELL"))
    assert sold["status"] == "matched" and sold["takingAmount"] == "4.5"  # 10 × (1 − 0.55), a MERGE
    assert ex.accounts.shares_micro(a.get_address(), m.yes_token) == 5_000_000
    assert ex.accounts.shares_micro(b.get_address(), m.no_token) == 5_000_000


async def test_catalog_fee_schedule_neg_risk_and_resolution(ex: ExchangeServer) -> None:
    c = await client(ex)
    address = c.get_address()
    # A market whose catalog entry charges taker fees: the trade and the balance show it.
    m = next(m for m in ex.markets if ex.accounts.fee_rate(m.condition_id) > 0 and m.tick.text == "0.01")
    rate = ex.accounts.fee_rate(m.condition_id)
    book = await call(c.get_order_book, m.yes_token)
    ask = Decimal(book["asks"][-1]["price"])
    reply = await call(c.create_and_post_order, buy(m, float(ask), 5), None, OrderType.FAK)
    [trade] = await call(c.get_trades, TradeParams(id=reply["tradeIDs"][0]))
    assert trade["fee_rate_bps"] == decimal_str(rate * 10_000)
    fee = fee_micro(5_000_000, int(ask * 10_000), rate)
    assert fee > 0 and ex.accounts.cash_micro(address) == 10_000_000_000 - int(ask * 5_000_000) - fee
    # A neg-risk market: the client signs for the NegRisk exchange (it asks /neg-risk), and it verifies.
    nr = next(m for m in ex.markets if m.neg_risk)
    placed = await call(c.create_and_post_order, buy(nr, 0.02, 10))
    assert placed["status"] == "live"
    # Resolution: the resting order is cancelled and, redeemed at once (auto_redeem: the real venue
    # leaves redeeming to the holders), winning shares pay out 1 pUSD each.
    cash = ex.accounts.cash_micro(address)
    resting = await call(c.create_and_post_order, buy(m, 0.02, 10))
    ex.trading.config.auto_redeem = True
    ex.standin.resolve_market(m.condition_id, "Yes")
    assert (await call(c.get_order, resting["orderID"]))["status"] == "CANCELED_MARKET_RESOLVED"
    assert ex.accounts.shares_micro(address, m.yes_token) == 0
    assert ex.accounts.cash_micro(address) == cash + 5_000_000


async def test_balance_checks_net_of_open_orders(ex: ExchangeServer) -> None:
    m = empty_market(ex)
    c = await client(ex)
    ex.accounts.set_cash(c.get_address(), 60)
    await call(c.create_and_post_order, buy(m, 0.5, 100))  # reserves $50
    status, err = await rejected(c.create_and_post_order, buy(m, 0.5, 40))
    assert status == 400 and err["error"] == (
        "not enough balance / allowance: the balance is not enough -> balance: 60000000, "
        "sum of active orders: 50000000, order amount (inc. fees): 20000000"
    )
    assert (await call(c.create_and_post_order, buy(m, 0.5, 20)))["status"] == "live"  # exactly what is left
    status, err = await rejected(c.create_and_post_order, sell(m, 0.9, 5))  # holds no shares
    assert err["error"].startswith("not enough balance / allowance") and "balance: 0," in err["error"]
    bal = await call(c.get_balance_allowance, BalanceAllowanceParams(AssetType.COLLATERAL))
    assert bal["balance"] == "60000000"  # gross, like the on-chain balance


async def test_ghost_fill_fails_and_restores_balances(ex: ExchangeServer, wait_until) -> None:
    m = ex.markets[0]
    c = await client(ex)
    address = c.get_address()
    ex.faults.ghost_fills = 1
    book = await call(c.get_order_book, m.yes_token)
    ask = float(book["asks"][-1]["price"])
    reply = await call(c.create_and_post_order, buy(m, ask, 5))
    assert reply["status"] == "matched" and ex.faults.ghost_fills == 0
    assert ex.accounts.shares_micro(address, m.yes_token) == 5_000_000  # moved at MATCHED...
    trade_id = reply["tradeIDs"][0]
    await wait_until(lambda: ex.trading.trades[trade_id].status == "FAILED")
    [trade] = await call(c.get_trades, TradeParams(id=trade_id))
    assert trade["status"] == "FAILED"
    assert ex.accounts.shares_micro(address, m.yes_token) == 0  # ...and moved back
    assert ex.accounts.cash_micro(address) == 10_000_000_000
    # The next trade is a normal one again.
    reply = await call(c.create_and_post_order, buy(m, ask, 5))
    await wait_until(lambda: ex.trading.trades[reply["tradeIDs"][0]].status == "CONFIRMED")


async def test_pagination_cursors(ex: ExchangeServer) -> None:
    m = ex.markets[0]
    c = await client(ex)
    ids = {(await call(c.create_and_post_order, buy(m, 0.01 * p, 10)))["orderID"] for p in range(2, 9)}
    first = (await l2(c, "GET", "/data/orders", query="?next_cursor=MA==")).json()
    assert (first["limit"], first["count"], first["next_cursor"]) == (3, 3, base64.b64encode(b"3").decode())
    second = (await l2(c, "GET", "/data/orders", query=f"?next_cursor={first['next_cursor']}")).json()
    third = (await l2(c, "GET", "/data/orders", query=f"?next_cursor={second['next_cursor']}")).json()
    assert third["count"] == 1 and third["next_cursor"] == "LTE="
    assert {o["id"] for o in first["data"] + second["data"] + third["data"]} == ids
    end = (await l2(c, "GET", "/data/orders", query="?next_cursor=LTE=")).json()
    assert (end["count"], end["data"], end["next_cursor"]) == (0, [], "LTE=")
    assert {o["id"] for o in await call(c.get_open_orders)} == ids  # the client loops to LTE=
    book = await call(c.get_order_book, m.yes_token)
    limit = min(float(book["asks"][-1]["price"]) + 0.05, 0.99)
    for _ in range(4):
        await call(c.create_and_post_order, buy(m, limit, 5), None, OrderType.FAK)
    trades = await call(c.get_trades)
    assert len(trades) >= 4 and len({t["id"] for t in trades}) == len(trades)
    paged = await call(c.get_trades_paginated)
    assert paged["count"] == 3 and paged["next_cursor"] == "Mw=="
    later = await call(c.get_trades, TradeParams(after=int(time.time()) + 100))
    assert later == []


async def test_order_scoring(ex: ExchangeServer) -> None:
    m = ex.markets[0]
    c = await client(ex)
    book = await call(c.get_order_book, m.yes_token)
    bid = float(book["bids"][-1]["price"])
    near = await call(c.create_and_post_order, buy(m, bid, float(m.reward_min_size)), None, OrderType.GTC, True)
    far = await call(c.create_and_post_order, buy(m, 0.02, float(m.reward_min_size)))
    assert await call(c.is_order_scoring, OrderScoringParams(near["orderID"])) == {"scoring": True}
    resp = await l2(c, "POST", "/orders-scoring", [near["orderID"], far["orderID"]])
    assert resp.json() == {near["orderID"]: True, far["orderID"]: False}


# ------------------------------------------------------------------------------------------------ heartbeats


async def test_heartbeat_chain_and_silence_cancels(ex: ExchangeServer, wait_until) -> None:
    m = ex.markets[0]
    c = await client(ex)
    first = (await call(c.post_heartbeat, ""))["heartbeat_id"]
    second = (await call(c.post_heartbeat, first))["heartbeat_id"]
    assert first != second
    status, err = await rejected(c.post_heartbeat, first)  # stale
    assert (status, err) == (400, {"error": "Invalid Heartbeat ID", "heartbeat_id": second})
    status, err = await rejected(c.post_heartbeat, "")  # a chain is running: "" is stale too
    assert err["heartbeat_id"] == second
    ids = [(await call(c.create_and_post_order, buy(m, p, 10)))["orderID"] for p in (0.05, 0.06)]
    third = (await call(c.post_heartbeat, second))["heartbeat_id"]
    await asyncio.sleep(0.4)  # time is what is tested: 0.4 s after a heartbeat is within the 1 s window
    assert len(await call(c.get_open_orders)) == 2
    await wait_until(lambda: not ex.trading.live_orders(c.get_address()))
    assert [(await call(c.get_order, i))["status"] for i in ids] == ["CANCELED", "CANCELED"]
    status, err = await rejected(c.post_heartbeat, third)  # the session ended with the cancel
    assert err == {"error": "Invalid Heartbeat ID", "heartbeat_id": ""}
    assert "heartbeat_id" in await call(c.post_heartbeat, "")


async def test_heartbeats_not_honoured_never_cancel(ex: ExchangeServer) -> None:
    m = ex.markets[0]
    c = await client(ex)
    ex.faults.heartbeats_honoured = False
    await call(c.post_heartbeat, "")
    await call(c.create_and_post_order, buy(m, 0.05, 10))
    await asyncio.sleep(1.4)  # time is what is tested: past the 1 s heartbeat window, nothing was cancelled
    assert len(await call(c.get_open_orders)) == 1
    assert ex.trading.heartbeat_cancels == 0


# ------------------------------------------------------------------------------------------------ user WS


async def ws_events(ws: Any, want: Callable[[dict[str, Any]], bool], timeout: float = 3.0) -> dict[str, Any]:
    """The next event satisfying ``want`` (frames may be arrays)."""
    deadline = time.monotonic() + timeout
    while True:
        raw = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        if raw == "PONG":
            continue
        frame = json.loads(raw)
        for event in frame if isinstance(frame, list) else [frame]:
            if want(event):
                return event


async def test_user_channel_orders_and_trades(ex: ExchangeServer) -> None:
    m = empty_market(ex)
    a, b = await client(ex, KEY_A), await client(ex, KEY_B)
    ex.accounts.set_shares(a.get_address(), m.no_token, 100)
    creds = {"apiKey": a.creds.api_key, "secret": a.creds.api_secret, "passphrase": a.creds.api_passphrase}
    async with websockets.connect(ex.user_ws_url) as ws:
        await ws.send(json.dumps({"type": "user", "auth": creds, "markets": [m.condition_id]}))
        await ws.send("PING")
        assert await asyncio.wait_for(ws.recv(), 2) == "PONG"
        rest = await call(a.create_and_post_order, sell(m, 0.6, 10, token=m.no_token), None, OrderType.GTC, True)
        placed = await ws_events(ws, lambda e: e.get("type") == "PLACEMENT")
        captured = fixture("order_placement.json")
        assert set(placed) == set(captured)
        assert all(type(placed[k]) is type(v) for k, v in captured.items() if v is not None)
        assert (placed["id"], placed["status"], placed["side"], placed["size_matched"]) == (
            rest["orderID"], "LIVE", "SELL", "0"
        )
        # B takes 4 of A's NO ask (buying NO at 0.6).
        taken = await call(b.create_and_post_order, buy(m, 0.6, 4, token=m.no_token))
        trade = await ws_events(ws, lambda e: e.get("event_type") == "trade" and e["status"] == "MATCHED")
        captured = fixture("user_trade2.json")
        assert set(trade) == set(captured)
        assert all(type(trade[k]) is type(v) for k, v in captured.items())
        assert set(trade["maker_orders"][0]) == set(fixture("user_trade3.json")["maker_orders"][0])
        assert trade["id"] == taken["tradeIDs"][0]
        assert (trade["trader_side"], trade["trade_owner"]) == ("MAKER", creds["apiKey"])
        assert trade["maker_orders"][0]["order_id"] == rest["orderID"] and trade["maker_orders"][0]["side"] == "SELL"
        update = await ws_events(ws, lambda e: e.get("type") == "UPDATE")
        assert (update["size_matched"], update["status"]) == ("4", "LIVE")
        statuses = [(await ws_events(ws, lambda e: e.get("event_type") == "trade"))["status"] for _ in range(2)]
        assert statuses == ["MINED", "CONFIRMED"]
        # The rest fills: UPDATE with status MATCHED.
        await call(b.create_and_post_order, buy(m, 0.6, 6, token=m.no_token))
        full = await ws_events(ws, lambda e: e.get("type") == "UPDATE")
        assert (full["size_matched"], full["status"]) == ("10", "MATCHED")
        # Other markets are filtered out; cancels arrive.
        other = ex.markets[3]
        await call(a.create_and_post_order, buy(other, 0.02, 10))
        again = await call(a.create_and_post_order, buy(m, 0.1, 10))
        await call(a.cancel_order, OrderPayload(again["orderID"]))
        ev = await ws_events(ws, lambda e: e.get("event_type") == "order" and e["type"] != "UPDATE")
        assert ev["market"] == m.condition_id and ev["type"] == "PLACEMENT"
        cancel = await ws_events(ws, lambda e: e.get("type") == "CANCELLATION")
        assert (cancel["id"], cancel["status"]) == (again["orderID"], "CANCELED")
        assert set(cancel) == set(fixture("order_cancel.json"))


async def test_user_channel_rejects_bad_credentials(ex: ExchangeServer) -> None:
    a = await client(ex)
    bad = {"apiKey": a.creds.api_key, "secret": a.creds.api_secret, "passphrase": "wrong"}
    async with websockets.connect(ex.user_ws_url) as ws:
        await ws.send(json.dumps({"type": "user", "auth": bad}))
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 2)
    assert ex.standin.user_channel.rejected == 1


# ------------------------------------------------------------------------------------------------ Python API


def test_python_api_without_sockets() -> None:
    """``StandIn`` driven synchronously: accounts, signed orders, fills and trade statuses, no loop."""
    standin = StandIn(seed=3, flow=False, trading=TradingConfig(starting_balance=Decimal(100)))
    m = standin.markets[0]
    c = ClobClient("http://unused", 137, key=KEY_A)
    api_key = standin.open_account(c.get_address())
    assert standin.open_account(c.get_address()) == api_key  # idempotent
    assert standin.accounts.balance(api_key.address) == Decimal(100)
    ask = standin.matching.book(m.yes_token).best_ask
    assert ask is not None
    order = c.builder.build_order(buy(m, ask / 10_000, 5), CreateOrderOptions(tick_size=m.tick.text, neg_risk=False))
    reply = standin.trading.place(api_key, order_to_json_v2(order, api_key.key, "FAK"))
    assert reply["status"] == "matched"
    trade = standin.trading.trades[reply["tradeIDs"][0]]
    assert [standin.trading.advance_trade(trade.id) for _ in range(3)] == ["MINED", "CONFIRMED", None]
    assert standin.accounts.position(api_key.address, m.yes_token) == 5
    fee = fee_micro(5_000_000, ask, standin.accounts.fee_rate(m.condition_id))
    assert standin.accounts.cash_micro(api_key.address) == 100_000_000 - 500 * ask - fee


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=20,
)
_ORDER_KEYS = ("salt", "maker", "signer", "tokenId", "makerAmount", "takerAmount", "side", "expiration",
               "signatureType", "timestamp", "metadata", "builder", "signature")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    order=st.dictionaries(st.sampled_from(_ORDER_KEYS), _json | st.text(alphabet="0123456789abcdefx", max_size=70)),
    extra=st.dictionaries(st.sampled_from(("owner", "orderType", "postOnly", "deferExec")), _json),
)
def test_garbage_orders_are_refused_cleanly(order: dict[str, Any], extra: dict[str, Any]) -> None:
    standin = _FUZZ_STANDIN
    api_key = standin.open_account("0x" + "ab" * 20)
    with pytest.raises(ApiError) as info:
        standin.trading.place(api_key, {"order": order, "owner": api_key.key, **extra})
    assert info.value.status == 400 and info.value.message


_FUZZ_STANDIN = StandIn(seed=5, market_count=1, flow=False)
