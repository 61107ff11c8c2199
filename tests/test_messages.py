"""The tolerant market-channel parser: every captured message parses, bad input is counted, never raised."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polymm.domain.book_set import BookSet
from polymm.domain.market import Market
from polymm.domain.messages import (
    BookSnapshot,
    ErrorCounter,
    FrameError,
    LastTrade,
    PriceChange,
    TickSizeChange,
    parse_frame,
)
from polymm.domain.prices import Tick
from polymm.venue.wire import OrderEvent, TradeEvent, parse_user_frame

WS = Path(__file__).parent / "fixtures" / "ws"

#: every file in tests/fixtures/ws and what it is; a new fixture must be classified here
MARKET_FIXTURES = {
    "book.json": BookSnapshot,
    "price_change.json": PriceChange,
    "price_change_v2.json": PriceChange,
    "last_trade_price.json": LastTrade,
    "tick_size_change.json": TickSizeChange,
}
USER_FIXTURES = {
    "order_placement.json": OrderEvent,
    "order_cancel.json": OrderEvent,
    "user_trade1.json": TradeEvent,
    "user_trade2.json": TradeEvent,
    "user_trade3.json": TradeEvent,
    "user_trade4.json": TradeEvent,
}
REST_STYLE_FIXTURES = {"trades.json"}  # a trade object without ``event_type`` (as REST lists them)


def _raw(name: str) -> bytes:
    return (WS / name).read_bytes()


def test_every_ws_fixture_is_classified() -> None:
    on_disk = {p.name for p in WS.glob("*.json")}
    assert on_disk == set(MARKET_FIXTURES) | set(USER_FIXTURES) | REST_STYLE_FIXTURES


@pytest.mark.parametrize("name", sorted(MARKET_FIXTURES))
def test_market_fixtures_parse_without_errors(name: str) -> None:
    raw = _raw(name)
    events, errors = parse_frame(raw)
    assert errors == []
    assert len(events) == 1 and type(events[0]) is MARKET_FIXTURES[name]
    doc = json.loads(raw)
    ev = events[0]
    assert ev.market == doc["market"]
    assert ev.ts == int(doc["timestamp"])
    # the same message as a str, and wrapped in an array, parse the same
    assert parse_frame(raw.decode()) == (events, [])
    assert parse_frame(b"[" + raw + b"]") == (events, [])


def test_market_fixture_fields() -> None:
    [book] = parse_frame(_raw("book.json"))[0]
    assert isinstance(book, BookSnapshot)
    assert (len(book.bids), len(book.asks)) == (76, 86)
    assert book.bids[-1].price == "0.511" and book.bids[-1].size == 1304.72
    assert book.hash == "655a38d4977427b086c25b985993691b753ed166"
    [v2] = parse_frame(_raw("price_change_v2.json"))[0]
    assert isinstance(v2, PriceChange)
    assert [(c.price, c.size, c.side, c.best_bid, c.best_ask) for c in v2.changes] == [
        ("0.6", 3300.0, "BUY", "0.6", "0.7"),
        ("0.5", 3400.0, "BUY", "0.6", "0.7"),
        ("0.7", 3400.0, "BUY", "0.6", "0.7"),
    ]
    [legacy] = parse_frame(_raw("price_change.json"))[0]
    assert isinstance(legacy, PriceChange) and legacy.price_changes == []
    [ch] = legacy.changes
    assert (ch.price, ch.size, ch.side) == ("0.514", 21574.08, "SELL")
    assert ch.hash == "bf32b3746fff40c76c98021b7f3f07261169dd26"
    [ltp] = parse_frame(_raw("last_trade_price.json"))[0]
    assert isinstance(ltp, LastTrade) and (ltp.price, ltp.size, ltp.side) == ("0.491", 85.36, "SELL")
    [tsc] = parse_frame(_raw("tick_size_change.json"))[0]
    assert isinstance(tsc, TickSizeChange) and (tsc.old_tick_size, tsc.new_tick_size) == ("0.01", "0.001")


def test_all_market_fixtures_in_one_array_frame() -> None:
    items = [json.loads(_raw(n)) for n in sorted(MARKET_FIXTURES)]
    events, errors = parse_frame(orjson.dumps(items))
    assert errors == []
    assert [type(e) for e in events] == [MARKET_FIXTURES[n] for n in sorted(MARKET_FIXTURES)]


@pytest.mark.parametrize("name", sorted(USER_FIXTURES))
def test_user_fixtures_parse_with_wire_and_are_skipped_silently_by_the_market_parser(name: str) -> None:
    raw = _raw(name)
    [ev], errors = parse_user_frame(raw)
    assert type(ev) is USER_FIXTURES[name] and errors == []
    doc = json.loads(raw)
    assert ev.id == doc["id"] and ev.market == doc["market"] and ev.price == doc["price"]
    assert parse_user_frame(b"[" + raw + b"," + raw + b"]") == ([ev, ev], [])
    # "order"/"trade" on the market socket are known event types: ignored, not errors
    assert parse_frame(raw) == ([], [])


def test_user_trade_fixture_fields() -> None:
    [t], _ = parse_user_frame(_raw("user_trade4.json"))
    assert isinstance(t, TradeEvent)
    assert t.trader_side == "MAKER" or t.trader_side == "TAKER"
    assert len(t.maker_orders) >= 2
    assert all(mo.order_id.startswith("0x") and mo.matched_amount for mo in t.maker_orders)
    [o], _ = parse_user_frame(_raw("order_cancel.json"))
    assert isinstance(o, OrderEvent)
    assert (o.type, o.status, o.size_matched, o.original_size) == ("CANCELLATION", "CANCELED", "5", "5")


def test_rest_style_trade_fixture_converts_to_a_trade_event() -> None:
    raw = _raw("trades.json")
    doc = json.loads(raw)
    assert "event_type" not in doc
    # without an event_type the market parser counts it, it does not raise
    events, errors = parse_frame(raw)
    assert events == [] and [e.kind for e in errors] == ["unknown_event"]
    # nor on the user channel, where it is counted the same way
    assert parse_user_frame(raw)[0] == [] and [e.kind for e in parse_user_frame(raw)[1]] == ["unknown_event"]
    [t], _ = parse_user_frame(orjson.dumps({**doc, "event_type": "trade"}))
    assert isinstance(t, TradeEvent)
    assert (t.id, t.status, t.price, t.size, t.side) == (doc["id"], "CONFIRMED", "0.489", "5", "BUY")
    assert t.maker_orders[0].matched_amount == "5"


# ---------------------------------------------------------------- malformed input

_BOOK = {
    "event_type": "book",
    "market": "0xm",
    "asset_id": "1",
    "bids": [{"price": "0.4", "size": "1"}],
    "asks": [],
}
_LTP = {"event_type": "last_trade_price", "market": "0xm", "asset_id": "1", "price": "0.5", "side": "BUY"}


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"{not json", "bad_json"),
        (b"", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        (b'[{"event_type": "book"}', "bad_json"),
        (b'{"event_type": "bogus", "market": "0xm"}', "unknown_event"),
        (b'{"market": "0xm"}', "unknown_event"),
        (b'{"event_type": ["book"]}', "unknown_event"),  # unhashable event_type
        (b'{"event_type": {"a": 1}}', "unknown_event"),
        (b'{"event_type": 7}', "unknown_event"),
        (b'{"event_type": "book", "market": "0xm"}', "bad_field"),  # asset_id missing
        (b'{"event_type": "last_trade_price", "market": "0xm", "asset_id": "1", "side": "BUY"}', "bad_field"),
        (
            b'{"event_type": "last_trade_price", "market": "0xm", "asset_id": "1", "price": 0.5,'
            b' "side": "BUY"}',
            "bad_field",
        ),
        (
            b'{"event_type": "price_change", "market": "0xm",'
            b' "price_changes": [{"asset_id": "1", "price": "0.5"}]}',
            "bad_field",
        ),
        (
            b'{"event_type": "book", "market": "0xm", "asset_id": "1",'
            b' "bids": [{"price": "0.4", "size": "x"}]}',
            "bad_field",
        ),
        (b'"PONG"', "not_object"),
        (b"null", "not_object"),
        (b"[1]", "not_object"),
    ],
)
def test_malformed_frames_become_counted_errors(raw: bytes, kind: str) -> None:
    events, errors = parse_frame(raw)
    assert events == []
    assert [e.kind for e in errors] == [kind]
    assert errors[0].detail  # says why


def test_one_bad_item_does_not_lose_the_good_ones() -> None:
    frame = orjson.dumps(
        [
            _BOOK,
            {"event_type": "bogus"},
            {**_LTP, "price": None},
            _LTP,
            7,
            {"event_type": "best_bid_ask", "market": "0xm", "asset_id": "1"},  # ignored silently
            {"event_type": ["x"]},
        ]
    )
    events, errors = parse_frame(frame)
    assert [type(e) for e in events] == [BookSnapshot, LastTrade]
    assert [e.kind for e in errors] == ["unknown_event", "bad_field", "not_object", "unknown_event"]


def test_empty_array_and_ignored_types_are_not_errors() -> None:
    assert parse_frame(b"[]") == ([], [])
    for et in ("best_bid_ask", "new_market", "order", "trade"):
        assert parse_frame(orjson.dumps({"event_type": et})) == ([], [])


def test_market_resolved_is_an_event_and_stops_the_book() -> None:
    from polymm.domain.book_set import BookSet
    from polymm.domain.messages import MarketResolved

    frame = {"event_type": "market_resolved", "id": "1", "market": "0xm", "assets_ids": ["1", "2"],
             "winning_asset_id": "1", "winning_outcome": "Yes", "timestamp": "1750000000000"}
    events, errors = parse_frame(orjson.dumps(frame))
    assert errors == [] and isinstance(events[0], MarketResolved) and events[0].winning_outcome == "Yes"
    books = BookSet([_market()])
    assert books.apply(events) == {"0xm"} and books.get("0xm").resolved
    assert parse_frame(orjson.dumps({"event_type": "market_resolved"}))[1][0].kind == "bad_field"


def _market() -> Market:
    return Market("0xm", "1", "2", "q", Tick.parse("0.01"))


@pytest.mark.parametrize(
    "change",
    [
        {"asset_id": "1", "price": "abc", "size": "1", "side": "BUY"},
        {"asset_id": "1", "price": "0.00001", "size": "1", "side": "BUY"},
        {"asset_id": "1", "price": "1.5", "size": "1", "side": "SELL"},
        {"asset_id": "1", "price": "-0.1", "size": "1", "side": "SELL"},
        {"asset_id": "1", "price": "", "size": "1", "side": "SELL"},
        {"asset_id": "1", "price": "NaN", "size": "1", "side": "SELL"},
        {"asset_id": "1", "price": "Infinity", "size": "1", "side": "SELL"},
        {"asset_id": "1", "price": "1e999999", "size": "1", "side": "SELL"},
        {"asset_id": "1", "price": "0.5", "size": "1", "side": "buy"},
        {"asset_id": "2", "price": "0.5", "size": "1", "side": ""},
    ],
)
def test_bad_price_or_side_parses_then_is_counted_by_the_books(change: dict) -> None:
    good = {"asset_id": "1", "price": "0.42", "size": "3", "side": "BUY"}
    frame = orjson.dumps({"event_type": "price_change", "market": "0xm", "price_changes": [change, good]})
    events, errors = parse_frame(frame)
    assert errors == [] and len(events) == 1  # prices stay strings until applied
    books = BookSet([_market()])
    assert books.apply(events) == {"0xm"}  # the good entry still lands
    assert books.errors.counts == {"bad_price": 1}
    book = books.get("0xm")
    assert book is not None and book.bid() == 4200 and book.n_asks == 0


def test_legacy_shape_with_bad_values_is_counted() -> None:
    frame = orjson.dumps(
        {
            "event_type": "price_change",
            "market": "0xm",
            "asset_id": "1",
            "price": "x",
            "size": "1",
            "side": "BUY",
        }
    )
    books = BookSet([_market()])
    assert books.apply(parse_frame(frame)[0]) == set()
    assert books.errors.total == 1


def test_timestamps() -> None:
    [ev] = parse_frame(orjson.dumps({**_LTP, "timestamp": "abc"}))[0]
    assert ev.ts == 0
    [ev] = parse_frame(orjson.dumps(_LTP))[0]
    assert ev.ts == 0
    [ev] = parse_frame(orjson.dumps({**_LTP, "timestamp": "1750428146322"}))[0]
    assert ev.ts == 1750428146322


def test_error_counter_reports_each_kind_once() -> None:
    c = ErrorCounter()
    assert c.add(FrameError("bad_json", "a")) is True
    assert c.add(FrameError("bad_json", "b")) is False
    assert c.add(FrameError("bad_field", "c")) is True
    assert c.add(FrameError("bad_json", "d")) is False
    assert c.counts == {"bad_json": 3, "bad_field": 1}
    assert c.total == 4


# ---------------------------------------------------------------- never raises (fuzz)

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["0.5", "0.00001", "abc", "nan", "inf", "BUY", "SELL", "1", "2", ""]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_TEMPLATES = [
    _BOOK,
    _LTP,
    {
        "event_type": "price_change",
        "market": "0xm",
        "price_changes": [
            {"asset_id": "1", "price": "0.5", "size": "1", "side": "BUY"},
            {"asset_id": "2", "price": "0.5", "size": "1", "side": "SELL"},
        ],
    },
    {
        "event_type": "price_change",
        "market": "0xm",
        "asset_id": "2",
        "price": "0.3",
        "size": "1",
        "side": "SELL",
    },
    {
        "event_type": "tick_size_change",
        "market": "0xm",
        "asset_id": "1",
        "old_tick_size": "0.01",
        "new_tick_size": "0.001",
    },
]


@st.composite
def _mutated_items(draw: st.DrawFn) -> object:
    """A real message with one field replaced by arbitrary JSON (or nested change/level mangled)."""
    item = json.loads(json.dumps(draw(st.sampled_from(_TEMPLATES))))
    key = draw(st.sampled_from([*item.keys(), "extra"]))
    target = item
    if key in ("price_changes", "bids") and item[key] and draw(st.booleans()):
        target = item[key][0]
        key = draw(st.sampled_from([*target.keys()]))
    target[key] = draw(_JSON)
    return item


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_mutated_items(), _JSON), max_size=4), st.booleans())
def test_parse_and_apply_never_raise(items: list, as_array: bool) -> None:
    payload = items if as_array or len(items) != 1 else items[0]
    events, errors = parse_frame(json.dumps(payload).encode())  # json: ints beyond 64 bits too
    assert all(isinstance(e, FrameError) and e.kind for e in errors)
    assert len(events) + len(errors) <= (len(payload) if isinstance(payload, list) else 1)
    books = BookSet([_market()])
    books.apply(events)  # must not raise either
    book = books.get("0xm")
    assert book is not None
    assert all(0 < p < 10_000 for p in (book.bid(), book.ask()) if p is not None)


def test_invalid_utf8_inside_a_json_string_is_a_bad_frame_not_an_exception() -> None:
    """Found by the property below: the typed decoder rejects the shape first, then the generic
    decoder raised UnicodeDecodeError (not a msgspec error) on the string's bytes."""
    for raw in (b'"\x80"', b'["\x80"]', b'{"event_type": "\xff"}'):
        events, errors = parse_frame(raw)
        assert events == [] and [e.kind for e in errors] == ["bad_json"], raw


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    events, errors = parse_frame(raw)
    assert isinstance(events, list) and isinstance(errors, list)
