"""REST and user-channel shapes: every captured REST answer parses; Gamma quirks; REST books."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import msgspec
import orjson
import pytest

from polymm.domain.messages import BookSnapshot
from polymm.domain.prices import Tick, price_to_pips
from polymm.venue.rest import book_from_rest, market_from_gamma
from polymm.venue.wire import (
    ClobMarket,
    ClobMarketsPage,
    DataTrade,
    GammaEvent,
    OrderEvent,
    TradeEvent,
    decode,
    parse_user_frame,
    trade_status,
)

REST = Path(__file__).parent / "fixtures" / "rest"


def _raw(name: str) -> bytes:
    return (REST / name).read_bytes()


def _doc(name: str):
    return json.loads(_raw(name))


def test_every_rest_fixture_is_covered() -> None:
    assert {p.name for p in REST.glob("*.json")} == {
        "book.json",
        "event.json",
        "events_list.json",
        "market.json",
        "market_slug.json",
        "markets.json",
        "markets_list.json",
        "trades.json",
    }


# ---------------------------------------------------------------- CLOB REST


def test_clob_markets_page() -> None:
    page = decode(_raw("markets.json"), ClobMarketsPage)
    assert isinstance(page, ClobMarketsPage)
    doc = _doc("markets.json")
    assert len(page.data) == len(doc["data"]) == page.count == 100
    assert page.next_cursor == "MTAw" and page.limit == 100
    for m, d in zip(page.data, doc["data"], strict=True):
        assert m.condition_id == d["condition_id"] and m.condition_id.startswith("0x")
        assert [t.token_id for t in m.tokens] == [t["token_id"] for t in d["tokens"]]
        assert len(m.tokens) == 2
        assert (m.active, m.closed, m.accepting_orders) == (d["active"], d["closed"], d["accepting_orders"])
        assert Tick.parse(m.minimum_tick_size).pips in (100, 10)  # every market is on a Polymarket tick
        assert m.minimum_order_size == d["minimum_order_size"]


def test_clob_single_market() -> None:
    m = decode(_raw("market.json"), ClobMarket)
    assert isinstance(m, ClobMarket)
    assert m.condition_id == "0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917"
    assert [(t.outcome, t.price) for t in m.tokens] == [("Yes", 0.4865), ("No", 0.5135)]
    assert Tick.parse(m.minimum_tick_size) == Tick.parse("0.001")
    assert m.neg_risk is True and m.minimum_order_size == 5.0
    assert m.end_date_iso == "2024-11-05T00:00:00Z"


def test_clob_market_requires_tokens() -> None:
    with pytest.raises(msgspec.ValidationError, match="tokens"):
        decode(b'{"condition_id": "0x1"}', ClobMarket)


def test_book_from_rest_fixture() -> None:
    raw = _raw("book.json")
    snap = book_from_rest(raw)
    doc = _doc("book.json")
    assert isinstance(snap, BookSnapshot)
    assert (snap.market, snap.asset_id, snap.hash) == (doc["market"], doc["asset_id"], doc["hash"])
    assert [(lv.price, lv.size) for lv in snap.bids] == [(b["price"], float(b["size"])) for b in doc["bids"]]
    assert [(lv.price, lv.size) for lv in snap.asks] == [(a["price"], float(a["size"])) for a in doc["asks"]]
    assert snap.ts == 1728799418260
    # REST lists worst -> best: bids ascending, asks descending
    assert [price_to_pips(lv.price) for lv in snap.bids] == sorted(
        price_to_pips(lv.price) for lv in snap.bids
    )
    assert [price_to_pips(lv.price) for lv in snap.asks] == sorted(
        (price_to_pips(lv.price) for lv in snap.asks), reverse=True
    )


def test_book_from_rest_full_shape_and_errors() -> None:
    full = {
        "market": "0x1",
        "asset_id": "7",
        "timestamp": "1",
        "hash": "h",
        "bids": [{"price": "0.48", "size": "30"}],
        "asks": [{"price": "0.52", "size": "25"}],
        "min_order_size": "5",
        "tick_size": "0.01",
        "neg_risk": False,
        "last_trade_price": "0.50",
    }
    snap = book_from_rest(orjson.dumps(full))
    assert (snap.tick_size, snap.min_order_size, snap.last_trade_price) == ("0.01", "5", "0.50")
    for bad in (
        b"[]",
        b'"x"',
        b"{nope",
        b'{"market": "0x1"}',
        b'{"market":"0x1","asset_id":"7","bids":[{"price":1}]}',
    ):
        with pytest.raises(ValueError):
            book_from_rest(bad)


# ---------------------------------------------------------------- Gamma


def test_gamma_event_fixtures() -> None:
    ev = decode(_raw("event.json"), GammaEvent)
    assert isinstance(ev, GammaEvent)
    assert ev.id == "185377" and ev.active and not ev.closed and len(ev.markets) == 3
    events = decode(_raw("events_list.json"), list[GammaEvent])
    assert [e.id for e in events] == ["2890", "2891", "2892"]  # type: ignore[attr-defined]
    # nested event markets carry no token ids: market_from_gamma says which field is missing
    for m in ev.markets:
        with pytest.raises(ValueError, match="clobTokenIds"):
            market_from_gamma(m)


def test_gamma_markets_list_fixture() -> None:
    docs = _doc("markets_list.json")
    markets = [market_from_gamma(d) for d in docs]
    for m, d in zip(markets, docs, strict=True):
        assert m.condition_id == d["conditionId"]
        assert (m.yes_token, m.no_token) == tuple(d["clobTokenIds"])
        assert m.question == d["question"] and m.slug == d["slug"]
        assert m.tick == Tick.parse("0.01")  # no orderPriceMinTickSize: the default tick
        assert m.min_order_size == Decimal(5)
        assert m.outcomes == ("Yes", "No")


@pytest.mark.parametrize("as_string", [False, True])
def test_gamma_market_slug_fixture_tokens_as_list_or_json_string(as_string: bool) -> None:
    d = _doc("market_slug.json")
    tokens = d["clobTokenIds"]
    if as_string:
        d["clobTokenIds"] = json.dumps(tokens)  # the live API sends a JSON-encoded string
        assert isinstance(d["clobTokenIds"], str)
    m = market_from_gamma(d)
    assert (m.yes_token, m.no_token) == (tokens[0], tokens[1])
    assert m.condition_id == d["conditionId"] and m.question == "Kamala Harris divorce in 2025?"


def test_gamma_market_live_shape() -> None:
    d = {
        "id": "1",
        "question": "Q?",
        "conditionId": "0x" + "1" * 64,
        "slug": "q",
        "outcomes": '["Up", "Down"]',
        "clobTokenIds": '["11", "22"]',
        "orderPriceMinTickSize": 0.001,
        "orderMinSize": 15,
        "negRisk": True,
        "rewardsMinSize": 50,
        "rewardsMaxSpread": 3.5,
        "endDate": "2026-01-01T00:00:00Z",
    }
    m = market_from_gamma(d)
    assert m.outcomes == ("Up", "Down")
    assert m.tick == Tick.parse("0.001")
    assert m.min_order_size == Decimal(15) and m.neg_risk is True
    assert m.reward_min_size == Decimal(50) and m.reward_max_spread == Decimal("3.5")
    assert m.end_date == "2026-01-01T00:00:00Z"
    for tick in ("0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001", 0.0001, 0.01):
        assert market_from_gamma({**d, "orderPriceMinTickSize": tick}).tick == Tick.parse(str(tick))


def test_gamma_market_v2_position_ids() -> None:
    d = {"conditionId": "0x" + "2" * 64, "question": "Q?", "version": "v2", "positionIds": ["33", "44"]}
    m = market_from_gamma(d)
    assert (m.yes_token, m.no_token) == ("33", "44")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"clobTokenIds": None}, "clobTokenIds"),
        ({"clobTokenIds": []}, "clobTokenIds"),
        ({"clobTokenIds": ["1"]}, "clobTokenIds"),
        ({"clobTokenIds": '["1"]'}, "clobTokenIds"),
        ({"clobTokenIds": "not json"}, "clobTokenIds"),
        ({"clobTokenIds": ["1", "2", "3"]}, "clobTokenIds"),
        ({"conditionId": ""}, "conditionId"),
        ({"conditionId": None}, "conditionId"),
        ({"conditionId": 12}, "conditionId"),
        ({"orderPriceMinTickSize": 0.02}, "orderPriceMinTickSize"),
        ({"orderPriceMinTickSize": "abc"}, "orderPriceMinTickSize"),
        ({"orderPriceMinTickSize": 0}, "orderPriceMinTickSize"),
    ],
)
def test_gamma_market_bad_fields_raise_naming_the_field(change: dict, field: str) -> None:
    d = {**_doc("market_slug.json"), **change}
    with pytest.raises(ValueError, match=field):
        market_from_gamma(d)


# ---------------------------------------------------------------- Data API trades


def test_data_api_trades_fixture() -> None:
    trades = decode(_raw("trades.json"), list[DataTrade])
    docs = _doc("trades.json")
    assert isinstance(trades, list) and len(trades) == len(docs) == 4
    for t, d in zip(trades, docs, strict=True):
        assert isinstance(t, DataTrade)
        assert (t.side, t.asset, t.conditionId, t.size, t.price) == (
            d["side"],
            d["asset"],
            d["conditionId"],
            d["size"],
            d["price"],
        )
        assert t.timestamp == d["timestamp"] and t.transactionHash == d["transactionHash"]
    assert trades[0].price == 0.998


# ---------------------------------------------------------------- user channel


def test_parse_user_frame_object_and_array() -> None:
    order = {
        "event_type": "order",
        "id": "0xo",
        "market": "0xm",
        "asset_id": "1",
        "side": "BUY",
        "price": "0.5",
        "original_size": "10",
        "size_matched": "2",
        "type": "UPDATE",
        "status": "LIVE",
    }
    trade = {
        "event_type": "trade",
        "id": "t",
        "market": "0xm",
        "asset_id": "1",
        "side": "SELL",
        "size": "2",
        "price": "0.5",
        "status": "MATCHED",
        "maker_orders": [{"order_id": "0xo", "matched_amount": "2", "price": "0.5"}],
    }
    [o] = parse_user_frame(orjson.dumps(order))
    assert isinstance(o, OrderEvent) and o.size_matched == "2"
    evs = parse_user_frame(orjson.dumps([order, trade]))
    assert [type(e) for e in evs] == [OrderEvent, TradeEvent]
    assert evs[1].maker_orders[0].order_id == "0xo"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "raw", [b"{", b'{"event_type": "bogus"}', b'{"event_type": "order", "id": "x"}', b"5"]
)
def test_parse_user_frame_raises_decode_error(raw: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):  # ValidationError is a DecodeError: one except clause suffices
        parse_user_frame(raw)


def test_trade_status() -> None:
    assert trade_status("TRADE_STATUS_CONFIRMED") == "CONFIRMED"
    assert trade_status("MATCHED") == "MATCHED"
