"""REST and user-channel shapes: every captured REST answer parses; Gamma quirks; REST books; the loose
forms real payloads use (docs/protocol.md §12: nulls, numbers, ISO times, decimal balances, one allowance)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import msgspec
import orjson
import pytest

from polymm.domain.messages import BookSnapshot
from polymm.domain.prices import Tick, price_to_pips
from polymm.venue.rest import POSITION_ID_UNSUPPORTED, UnsupportedMarket, book_from_rest, market_from_gamma
from polymm.venue.wire import (
    Allowances,
    ClobMarket,
    ClobMarketsPage,
    DataTrade,
    GammaEvent,
    OrderEvent,
    TradeEvent,
    balance_amount,
    decode,
    epoch_seconds,
    parse_user_frame,
    reply_allowances,
    trade_from_rest,
    trade_status,
)

REST = Path(__file__).parent / "fixtures" / "rest"
USER = Path(__file__).parent / "fixtures" / "user"
WS = Path(__file__).parent / "fixtures" / "ws"


def _raw(name: str) -> bytes:
    return (REST / name).read_bytes()


def _doc(name: str):
    return json.loads(_raw(name))


def test_every_rest_fixture_is_covered() -> None:
    assert {p.name for p in REST.glob("*.json")} == {
        "balance_allowance_single.json",
        "book.json",
        "event.json",
        "events_list.json",
        "market.json",
        "market_position_ids.json",
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


def test_gamma_position_id_markets_are_refused_naming_why() -> None:
    """Protocol-V2 Gamma markets (``version: "v2"``, ``positionIds``) sign for exchange version 3;
    polymm signs with the V2 domain, so they are refused, never turned into a tradable Market."""
    doc = _doc("market_position_ids.json")
    with pytest.raises(UnsupportedMarket, match=r"^positionIds: position-id market \(exchange version 3\)"):
        market_from_gamma(doc)
    bare = {"conditionId": "0x" + "2" * 64, "question": "Q?", "positionIds": ["33", "44"]}
    with pytest.raises(UnsupportedMarket, match=re.escape(POSITION_ID_UNSUPPORTED)):
        market_from_gamma(bare)  # the plain array alone marks it, whatever else the market carries
    with pytest.raises(UnsupportedMarket):
        market_from_gamma({**bare, "positionIds": None, "clobTokenIds": ["1", "2"], "version": "v2"})
    # the same market with CLOB token ids and no V2 marker is an ordinary one
    tokens = {k: v for k, v in doc.items() if k not in ("version", "positionIds")}
    m = market_from_gamma({**tokens, "clobTokenIds": doc["positionIds"]})
    assert (m.yes_token, m.no_token) == tuple(doc["positionIds"])


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
    [o], errors = parse_user_frame(orjson.dumps(order))
    assert isinstance(o, OrderEvent) and o.size_matched == "2" and errors == []
    evs, errors = parse_user_frame(orjson.dumps([order, trade]))
    assert [type(e) for e in evs] == [OrderEvent, TradeEvent] and errors == []
    assert evs[1].maker_orders[0].order_id == "0xo"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"{", "bad_json"),
        (b"\xff", "bad_json"),
        (b'{"event_type": "bogus"}', "unknown_event"),
        (b'{"id": "x"}', "unknown_event"),
        (b'{"event_type": "order", "id": "x"}', "bad_field"),
        (b'{"event_type": "trade", "id": "t", "market": "m", "asset_id": "1", "side": "BUY", "size": true,'
         b' "price": "0.5", "status": "MATCHED"}', "bad_field"),
        (b"5", "not_object"),
    ],
)
def test_bad_user_input_is_counted_never_raised(raw: bytes, kind: str) -> None:
    events, errors = parse_user_frame(raw)
    assert events == [] and [e.kind for e in errors] == [kind]
    assert errors[0].detail  # something to log


def _user(name: str) -> bytes:
    return (USER / name).read_bytes()


def test_order_event_with_null_expiration_and_numbers_parses() -> None:
    """Real order events carry ``"expiration": null``; ``created_at``, sizes, prices and ``timestamp``
    can be numbers. Before, the typed decode rejected the whole frame."""
    raw = _user("order_null_expiration.json")
    doc = json.loads(raw)
    assert doc["expiration"] is None and isinstance(doc["created_at"], int) and isinstance(doc["price"], float)
    [o], errors = parse_user_frame(raw)
    assert errors == [] and isinstance(o, OrderEvent)
    assert (o.id, o.status, o.type) == (doc["id"], "LIVE", "PLACEMENT")
    assert o.expiration == "0"  # null: none sent
    assert (o.price, o.original_size, o.size_matched) == ("0.513", "5", "0")  # exact text, not 0.51300000000000001
    assert Decimal(o.price) == Decimal("0.513")
    assert o.created_at == "1725842520" and epoch_seconds(o.created_at) == 1725842520
    assert epoch_seconds(o.timestamp) == pytest.approx(1725842520.99)  # milliseconds, read as seconds


def test_trade_with_iso_match_time_and_numbers_parses() -> None:
    raw = _user("trade_iso_match_time.json")
    doc = json.loads(raw)
    [t], errors = parse_user_frame(raw)
    assert errors == [] and isinstance(t, TradeEvent)
    assert t.match_time == "2024-09-10T08:58:01Z"  # kept as sent
    assert t.match_ts == datetime(2024, 9, 10, 8, 58, 1, tzinfo=UTC).timestamp() == 1725958681
    assert (t.size, t.price, t.fee_rate_bps, t.last_update) == ("5", "0.52", "0", "1725958682")
    [mo] = t.maker_orders
    assert (mo.matched_amount, mo.price, mo.side) == ("5", "0.52", "")  # "side": null → not sent
    assert t.transaction_hash == "" and t.id == doc["id"]


def test_trade_with_numeric_match_time_parses() -> None:
    [t], errors = parse_user_frame(_user("trade_numeric_match_time.json"))
    assert errors == [] and isinstance(t, TradeEvent)
    assert t.match_time == "1726043102" and t.match_ts == 1726043102


def test_one_bad_item_never_takes_the_other_events_of_its_frame() -> None:
    """A dropped trade is a lost fill: the frame is taken apart and each item converted on its own."""
    doc = json.loads(_user("mixed_frame.json"))
    events, errors = parse_user_frame(_user("mixed_frame.json"))
    assert [type(e) for e in events] == [TradeEvent, OrderEvent]
    assert events[0].id == doc[0]["id"] and events[1].id == doc[2]["id"]
    assert [e.kind for e in errors] == ["bad_field", "unknown_event", "not_object"]
    assert "price" in errors[0].detail  # names the missing field


def test_documented_user_frames_parse_the_same_on_the_fast_and_the_item_path() -> None:
    """Normalising (the fallback) changes nothing in a frame the typed decode already accepts."""
    names = ["order_placement.json", "order_cancel.json", "user_trade1.json", "user_trade2.json",
             "user_trade3.json", "user_trade4.json"]
    docs = [json.loads((WS / n).read_bytes()) for n in names]
    fast, errors = parse_user_frame(orjson.dumps(docs))
    assert errors == [] and len(fast) == len(names)
    slow, errors = parse_user_frame(orjson.dumps([*docs, 5]))  # one bad item forces the item path
    assert slow == fast and [e.kind for e in errors] == ["not_object"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1672290701", 1672290701),
        (1672290701, 1672290701),
        ("1672290701.5", 1672290701.5),
        ("1672290701000", 1672290701),  # milliseconds (``timestamp`` fields)
        (1672290701000, 1672290701),
        ("2024-01-01T00:00:00Z", 1704067200),
        ("2024-01-01T00:00:00+00:00", 1704067200),
        ("2024-01-01T01:00:00+01:00", 1704067200),
        ("2024-01-01T00:00:00", 1704067200),  # no offset: UTC
        ("2024-01-01T00:00:00.250Z", 1704067200.25),
        ("", None),
        (None, None),
        ("soon", None),
        ("nan", None),
        (True, None),
    ],
)
def test_epoch_seconds_reads_every_form(value: object, expected: float | None) -> None:
    assert epoch_seconds(value) == expected


def test_trade_match_ts_falls_back_to_the_older_spelling() -> None:
    base = {"event_type": "trade", "id": "t", "market": "m", "asset_id": "1", "side": "BUY", "size": "1",
            "price": "0.5", "status": "MATCHED"}
    [t], _ = parse_user_frame(orjson.dumps({**base, "matchtime": "1672290701"}))
    assert t.match_ts == 1672290701  # type: ignore[union-attr]
    [t], _ = parse_user_frame(orjson.dumps(base))
    assert t.match_ts is None  # type: ignore[union-attr]


def test_trade_from_rest_tolerates_numbers_and_nulls() -> None:
    doc = json.loads((WS / "trades.json").read_bytes())
    t = trade_from_rest(doc)
    assert (t.id, t.status, t.match_ts) == (doc["id"], "CONFIRMED", 1726043102)
    loose = {**doc, "size": 5.5, "price": 0.489, "match_time": 1726043102, "transaction_hash": None}
    t = trade_from_rest(loose)  # as a JSON library hands it over: floats, ints, None
    assert (t.size, t.price, t.match_ts, t.transaction_hash) == ("5.5", "0.489", 1726043102, "")
    with pytest.raises(ValueError, match="id"):
        trade_from_rest({k: v for k, v in doc.items() if k != "id"})
    with pytest.raises(ValueError, match="object"):
        trade_from_rest([doc])


# ---------------------------------------------------------------- balance-allowance


@pytest.mark.parametrize(
    ("balance", "expected"),
    [
        ("250500000", Decimal("250.5")),  # the documented integer string, 1e6 units
        ("250.500000", Decimal("250.5")),  # a decimal string: already units (docs/protocol.md §12)
        (250500000, Decimal("250.5")),
        (250.5, Decimal("250.5")),
        ("0", Decimal(0)),
        ("0.000000", Decimal(0)),
        (" 1000000 ", Decimal(1)),
    ],
)
def test_balance_amount_reads_integer_and_decimal_forms(balance: object, expected: Decimal) -> None:
    assert balance_amount({"balance": balance}) == expected


@pytest.mark.parametrize("balance", [None, "", "abc", "-5", "NaN", "Infinity", True, [1], {"v": 1}])
def test_balance_amount_raises_naming_the_field(balance: object) -> None:
    reply = {} if balance is None else {"balance": balance}
    with pytest.raises(ValueError, match=r"^balance: "):
        balance_amount(reply)


def test_reply_allowances_reads_the_map_and_the_single_allowance() -> None:
    max_uint = 2**256 - 1
    mapped = reply_allowances({"balance": "1", "allowances": {"0xAbC": str(max_uint), "0xdef": "0"}})
    assert mapped == Allowances({"0xabc": max_uint, "0xdef": 0})
    assert mapped.of("0xABC") == max_uint and mapped.of("0xdef") == 0 and mapped.of("0x999") == 0
    single = reply_allowances(_doc("balance_allowance_single.json"))
    assert single.spenders == {} and single.every == max_uint  # exact: never through a float or 28 digits
    assert single.of("0xanything") == max_uint
    assert balance_amount(_doc("balance_allowance_single.json")) == Decimal("250.5")
    assert reply_allowances({"allowance": "12.5"}).every == 12_500_000  # a decimal: units, back to 1e6
    both = reply_allowances({"allowances": {"0xa": "7"}, "allowance": "9"})
    assert (both.of("0xa"), both.of("0xb")) == (7, 9)


@pytest.mark.parametrize(
    ("reply", "field"),
    [
        ({"balance": "1"}, "allowances"),
        ({"allowances": ["0xa"]}, "allowances"),
        ({"allowances": {"0xa": "lots"}}, r"allowances\[0xa\]"),
        ({"allowance": None, "allowances": None}, "allowances"),
        ({"allowance": "-1"}, "allowance"),
    ],
)
def test_reply_allowances_raises_naming_the_field(reply: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}"):
        reply_allowances(reply)


def test_trade_status() -> None:
    assert trade_status("TRADE_STATUS_CONFIRMED") == "CONFIRMED"
    assert trade_status("MATCHED") == "MATCHED"
