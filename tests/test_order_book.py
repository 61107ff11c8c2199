"""The YES-terms order book: snapshots, deltas, NO mirroring, tick changes, reads, and properties
checked against a reference model through the real parser (``parse_frame`` + ``BookSet.apply``)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polymm.domain.book_set import BookSet
from polymm.domain.market import Market
from polymm.domain.messages import (
    BookSnapshot,
    LastTrade,
    LevelChange,
    PriceChange,
    TickSizeChange,
    parse_frame,
)
from polymm.domain.order_book import Level, OrderBook
from polymm.domain.prices import ALL_TICKS, MAX_PIPS, Tick, pips_to_str, price_to_pips

FIXTURES = Path(__file__).parent / "fixtures"

COND = "0x" + "ab" * 32
OTHER_COND = "0x" + "cd" * 32
YES = "1111111111"
NO = "2222222222"


def _market(tick: str | Tick = "0.01", cond: str = COND, yes: str = YES, no: str = NO) -> Market:
    t = tick if isinstance(tick, Tick) else Tick.parse(tick)
    return Market(condition_id=cond, yes_token=yes, no_token=no, question="q?", tick=t)


def _ws(name: str) -> bytes:
    return (FIXTURES / "ws" / name).read_bytes()


def _rest_json(name: str) -> object:
    return json.loads((FIXTURES / "rest" / name).read_text())


def _fixture_market() -> Market:
    """The market of the ws fixtures (0xdd22…), from the REST ``/markets/{cond}`` fixture."""
    doc = _rest_json("market.json")
    assert isinstance(doc, dict)
    yes, no = doc["tokens"]
    assert yes["outcome"] == "Yes" and no["outcome"] == "No"
    return Market(
        doc["condition_id"],
        yes["token_id"],
        no["token_id"],
        doc["question"],
        Tick.parse(doc["minimum_tick_size"]),
    )


def _events(raw: bytes | str) -> list:
    events, errors = parse_frame(raw)
    assert errors == []
    return events


def _pc(*changes: dict, ts: str = "1") -> bytes:
    return orjson.dumps(
        {"event_type": "price_change", "market": COND, "timestamp": ts, "price_changes": list(changes)}
    )


def _ch(asset: str, price: str, size: str, side: str) -> dict:
    return {"asset_id": asset, "price": price, "size": size, "side": side, "hash": "h"}


def _book_msg(asset: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]], **extra: str) -> bytes:
    doc = {
        "event_type": "book",
        "market": COND,
        "asset_id": asset,
        "timestamp": "1700000000000",
        "hash": "abc",
        "bids": [{"price": p, "size": s} for p, s in bids],
        "asks": [{"price": p, "size": s} for p, s in asks],
        **extra,
    }
    return orjson.dumps(doc)


def _simple_book(tick: str = "0.01") -> OrderBook:
    book = OrderBook(_market(tick))
    for ev in _events(
        _book_msg(
            YES,
            [("0.45", "30"), ("0.47", "20"), ("0.48", "10")],
            [("0.55", "40"), ("0.53", "25"), ("0.52", "5")],
        )
    ):
        book.apply(ev)
    return book


# ---------------------------------------------------------------- snapshots


def test_fixture_no_token_snapshot_is_mirrored_into_yes_terms() -> None:
    m = _fixture_market()
    snap = _events(_ws("book.json"))[0]
    assert isinstance(snap, BookSnapshot) and snap.asset_id == m.no_token
    book = OrderBook(m)
    assert book.apply(snap) is True
    # NO best bid 0.511 / best ask 0.514  ->  YES best bid 0.486 / best ask 0.489
    assert book.bid() == price_to_pips("0.486")
    assert book.ask() == price_to_pips("0.489")
    assert book.n_bids == len(snap.asks) and book.n_asks == len(snap.bids)
    # seen as the NO token's book it is exactly what was sent, worst -> best like REST
    no_bids, no_asks = book.levels_for(m.no_token)
    assert no_bids == [Level(price_to_pips(lv.price), lv.size) for lv in snap.bids]
    assert no_asks == [Level(price_to_pips(lv.price), lv.size) for lv in snap.asks]
    assert book.hashes[m.no_token] == snap.hash
    assert book.timestamp == int(snap.timestamp)
    assert book.epoch == 0  # the WS fixture has no tick_size: the market's tick stays


def test_yes_and_no_snapshots_of_the_same_liquidity_give_the_same_book() -> None:
    m = _fixture_market()
    snap = _events(_ws("book.json"))[0]
    assert isinstance(snap, BookSnapshot)
    from_no = OrderBook(m)
    from_no.apply(snap)
    # the same book as the YES token would be sent: YES bids = NO asks at 1 - p, worst -> best
    yes_bids = [(pips_to_str(MAX_PIPS - price_to_pips(lv.price)), str(lv.size)) for lv in reversed(snap.asks)]
    yes_asks = [(pips_to_str(MAX_PIPS - price_to_pips(lv.price)), str(lv.size)) for lv in reversed(snap.bids)]
    from_yes = OrderBook(m)
    from_yes.apply(_events(_book_msg(m.yes_token, yes_bids, yes_asks))[0])
    assert from_yes.bids == from_no.bids
    assert from_yes.asks == from_no.asks
    assert (from_yes.bid(), from_yes.ask()) == (from_no.bid(), from_no.ask())
    assert from_yes.levels_for(m.yes_token) == from_no.levels_for(m.yes_token)
    assert from_yes.levels_for(m.no_token) == from_no.levels_for(m.no_token)


def test_snapshot_is_a_full_replacement() -> None:
    book = _simple_book()
    book.apply(_events(_book_msg(YES, [("0.10", "1")], [("0.90", "2")]))[0])
    assert book.levels_for(YES) == ([Level(1000, 1.0)], [Level(9000, 2.0)])
    assert (book.n_bids, book.n_asks) == (1, 1)
    book.apply(_events(_book_msg(NO, [], []))[0])  # an empty book empties both sides
    assert book.bid() is None and book.ask() is None
    assert book.levels_for(YES) == ([], [])
    assert book.mid is None and book.spread is None and book.microprice is None


def test_a_book_gives_the_garbage_collector_nothing_to_walk() -> None:
    """Per-price sizes live in arrays, not lists of floats: 20 books of 2 × 10,001 list slots made each
    full collection walk ~0.5 M elements (tui_bench: 150–300 ms pauses of the event loop)."""
    import gc

    book = _simple_book()
    book.apply(_events(_book_msg(YES, [("0.10", "1")], [("0.90", "2")]))[0])  # a snapshot makes new ones
    assert len(gc.get_referents(book.bids)) <= 1 and len(gc.get_referents(book.asks)) <= 1  # a list: 10,001
    assert (book.bids[1000], book.asks[9000], len(book.bids)) == (1.0, 2.0, MAX_PIPS + 1)


def test_a_snapshot_reuses_the_books_arrays() -> None:
    """Each resync is a snapshot: two fresh 80 kB arrays per market each time churned the allocator
    (~48 MB of RSS in two minutes of resyncs at 300 markets). They are zeroed in place."""
    book = _simple_book()
    where = (book.bids.buffer_info()[0], book.asks.buffer_info()[0])
    for bid in ("0.10", "0.20"):
        book.apply(_events(_book_msg(YES, [(bid, "1")], [("0.90", "2")]))[0])
    assert (book.bids.buffer_info()[0], book.asks.buffer_info()[0]) == where
    assert book.levels_for(YES) == ([Level(2000, 1.0)], [Level(9000, 2.0)]) and book.bids[1000] == 0.0


def test_snapshot_with_bad_price_leaves_the_book_untouched() -> None:
    book = _simple_book()
    before = (list(book.bids), list(book.asks), book.version)
    snap = _events(_book_msg(YES, [("0.40", "1"), ("0.00001", "2")], []))[0]
    with pytest.raises(ValueError):
        book.apply(snap)
    assert (list(book.bids), list(book.asks), book.version) == before


def test_snapshot_with_new_tick_size_starts_a_new_epoch() -> None:
    book = _simple_book("0.01")
    book.apply(_events(_book_msg(YES, [("0.451", "1")], [("0.459", "2")], tick_size="0.001"))[0])
    assert book.tick == Tick.parse("0.001")
    assert book.epoch == 1
    assert (book.bid(), book.ask()) == (4510, 4590)
    book.apply(_events(_book_msg(YES, [("0.452", "1")], [], tick_size="0.001"))[0])
    assert book.epoch == 1  # same tick: same epoch


def test_rest_book_fixture_through_book_from_rest() -> None:
    from polymm.venue.rest import book_from_rest

    snap = book_from_rest((FIXTURES / "rest" / "book.json").read_bytes())
    m = _market("0.01", yes=snap.asset_id, no="other")
    book = OrderBook(m)
    book.apply(snap)
    assert (book.bid(), book.ask()) == (1000, 1400)  # 0.1 / 0.14 are the last (best) entries
    bids, asks = book.levels_for(snap.asset_id)
    assert bids == [Level(price_to_pips(lv.price), lv.size) for lv in snap.bids]
    assert asks == [Level(price_to_pips(lv.price), lv.size) for lv in snap.asks]


# ---------------------------------------------------------------- price changes


def test_price_change_current_shape_fixture() -> None:
    raw = _ws("price_change_v2.json")
    ev = _events(raw)[0]
    assert isinstance(ev, PriceChange) and len(ev.changes) == 3
    asset = ev.changes[0].asset_id
    book = OrderBook(_market("0.1", cond=ev.market, yes=asset, no="no"))
    assert book.apply(ev) is True
    assert book.levels_for(asset) == ([Level(5000, 3400.0), Level(6000, 3300.0), Level(7000, 3400.0)], [])
    assert book.bid() == 7000
    assert book.timestamp == 1729084877448
    assert book.hashes[asset] == "cf32b3746fff40c76c98021b7f3f07261169dd28"  # the last entry's hash
    assert book.apply(ev) is False  # sizes are aggregates: re-applying changes nothing


def test_price_change_legacy_single_asset_shape_fixture() -> None:
    m = _fixture_market()
    book = OrderBook(m)
    book.apply(_events(_ws("book.json"))[0])
    ev = _events(_ws("price_change.json"))[0]
    assert isinstance(ev, PriceChange) and ev.price_changes == []
    [ch] = ev.changes
    assert (ch.asset_id, ch.price, ch.size, ch.side) == (m.no_token, "0.514", 21574.08, "SELL")
    v = book.version
    assert book.apply(ev) is True
    # a NO ask at 0.514 is a YES bid at 0.486
    assert book.bids[price_to_pips("0.486")] == 21574.08
    assert book.bid() == 4860
    assert book.version == v + 1
    assert book.timestamp == 1723967931411


def test_size_zero_removes_and_best_levels_rescan() -> None:
    book = _simple_book()
    assert (book.bid(), book.ask()) == (4800, 5200)
    v = book.version
    book.apply(_events(_pc(_ch(YES, "0.48", "0", "BUY")))[0])
    assert book.bid() == 4700 and book.bids[4800] == 0.0 and book.n_bids == 2
    assert book.version == v + 1
    book.apply(_events(_pc(_ch(YES, "0.47", "0", "BUY")))[0])
    assert book.bid() == 4500  # scans over the empty 0.46
    book.apply(_events(_pc(_ch(YES, "0.45", "0", "BUY")))[0])
    assert book.bid() is None and book.n_bids == 0
    # asks: the NO token's BUY at 0.48 is the YES ask at 0.52
    book.apply(_events(_pc(_ch(NO, "0.48", "0", "BUY")))[0])
    assert book.ask() == 5300
    book.apply(_events(_pc(_ch(YES, "0.53", "0.0", "SELL"), _ch(NO, "0.47", "0", "BUY")))[0])
    assert book.ask() == 5500
    assert book.levels_for(YES) == ([], [Level(5500, 40.0)])


def test_removing_an_absent_level_is_not_a_change() -> None:
    book = _simple_book()
    v = book.version
    assert book.apply(_events(_pc(_ch(YES, "0.30", "0", "BUY")))[0]) is False
    assert book.version == v
    assert book.apply(_events(_pc(_ch(YES, "0.48", "10", "BUY")))[0]) is False  # same size
    assert book.apply(_events(_pc(_ch(YES, "0.48", "11", "BUY")))[0]) is True


def test_a_new_better_level_becomes_best_and_finer_prices_rescan() -> None:
    book = _simple_book("0.01")
    book.apply(_events(_pc(_ch(YES, "0.4875", "3", "BUY")))[0])  # finer than the tick: still a level
    assert book.bid() == 4875
    book.apply(_events(_pc(_ch(YES, "0.4801", "3", "BUY")))[0])
    book.apply(_events(_pc(_ch(YES, "0.4875", "0", "BUY")))[0])
    assert book.bid() == 4801  # the scan stride follows the finest price seen
    book.apply(_events(_pc(_ch(YES, "0.4801", "0", "BUY")))[0])
    assert book.bid() == 4800


def test_prices_zero_and_one_are_not_levels() -> None:
    book = _simple_book()
    assert book.apply(_events(_pc(_ch(YES, "0", "5", "BUY"), _ch(YES, "1", "5", "SELL")))[0]) is False
    assert book.bids[0] == 0.0 and book.asks[MAX_PIPS] == 0.0


def test_apply_change_rejects_a_bad_side() -> None:
    book = _simple_book()
    with pytest.raises(ValueError, match="BUY, SELL"):
        book.apply_change(LevelChange(YES, "0.40", 1.0, "HOLD"))


# ---------------------------------------------------------------- trades and ticks


def test_last_trade_price_fixture_and_no_print_mirrored() -> None:
    m = _fixture_market()
    book = OrderBook(m)
    ev = _events(_ws("last_trade_price.json"))[0]
    assert isinstance(ev, LastTrade) and ev.asset_id == m.yes_token
    v = book.version
    assert book.apply(ev) is True
    assert book.last_trade == price_to_pips("0.491")
    assert book.last_trade_size == 85.36
    assert book.version == v + 1
    assert book.timestamp == 1724564136087
    no_print = LastTrade(m.condition_id, m.no_token, "0.491", "BUY", 1.0)
    book.apply(no_print)
    assert book.last_trade == MAX_PIPS - 4910
    assert book.view().last_trade == 5090


def test_snapshot_last_trade_price_is_mirrored_for_no() -> None:
    book = OrderBook(_market())
    book.apply(_events(_book_msg(NO, [], [], last_trade_price="0.30"))[0])
    assert book.last_trade == 7000
    book.apply(_events(_book_msg(YES, [], [], last_trade_price=""))[0])
    assert book.last_trade == 7000  # "" means no trade yet: keep what we know


def test_tick_size_change_fixture_new_epoch_levels_kept() -> None:
    ev = _events(_ws("tick_size_change.json"))[0]
    assert isinstance(ev, TickSizeChange)
    book = OrderBook(_market("0.01", cond=ev.market, yes=ev.asset_id, no="no"))
    book.apply(
        _events(_book_msg(ev.asset_id, [("0.95", "10"), ("0.96", "5")], [("0.97", "7"), ("0.99", "1")]))[0]
    )
    before = book.levels_for(ev.asset_id)
    epoch, version = book.epoch, book.version
    assert book.apply(ev) is True
    assert book.tick == Tick.parse("0.001")
    assert book.epoch == epoch + 1
    assert book.version > version
    assert book.levels_for(ev.asset_id) == before  # resting orders are still on the venue
    assert (book.bid(), book.ask()) == (9600, 9700)
    # the finer grid: a level between the old ticks becomes best, and the rescan finds it again
    book.apply(_events(_pc(_ch(ev.asset_id, "0.965", "3", "BUY"), _ch(ev.asset_id, "0.961", "2", "BUY")))[0])
    assert book.bid() == 9650
    book.apply(_events(_pc(_ch(ev.asset_id, "0.965", "0", "BUY")))[0])
    assert book.bid() == 9610
    book.apply_tick_change(Tick.parse("0.001"))
    assert book.epoch == epoch + 1  # unchanged tick: no new epoch
    book.apply(_events(_pc(_ch(ev.asset_id, "0.961", "0", "BUY"), _ch(ev.asset_id, "0.96", "0", "BUY")))[0])
    assert book.bid() == 9500


# ---------------------------------------------------------------- reads


def test_depth_mid_spread_microprice_and_view() -> None:
    book = _simple_book()
    assert book.mid == 5000.0
    assert book.spread == 400
    # (bid * ask_size + ask * bid_size) / (bid_size + ask_size) = (4800*5 + 5200*10) / 15
    assert book.microprice == pytest.approx((4800 * 5 + 5200 * 10) / 15)
    assert book.depth(1) == (10.0, 5.0)
    assert book.depth(2) == (30.0, 30.0)
    assert book.depth(10) == (60.0, 70.0)
    assert book.bid_levels(2) == (Level(4800, 10.0), Level(4700, 20.0))
    assert book.ask_levels(5) == (Level(5200, 5.0), Level(5300, 25.0), Level(5500, 40.0))
    assert not book.crossed
    view = book.view(depth=2)
    assert (view.best_bid, view.best_ask, view.bid_size, view.ask_size) == (4800, 5200, 10.0, 5.0)
    assert view.bids == book.bid_levels(2) and view.asks == book.ask_levels(2)
    assert view.mid == book.mid and view.spread == book.spread
    assert view.microprice == pytest.approx(book.microprice)
    assert view.condition_id == COND and view.tick == Tick.parse("0.01")
    assert view.version == book.version and view.epoch == book.epoch


def test_level_reads_are_cached_per_side_until_that_side_changes() -> None:
    book = _simple_book()
    bids, asks = book.bid_levels(10), book.ask_levels(10)
    assert book.bid_levels(10) is bids and book.view(10).asks is asks  # nothing changed: reused
    assert book.bid_levels(1) == bids[:1] and book.bid_levels(0) == () and book.bid_levels(-1) == ()
    assert book.bid_levels(20) == bids  # the side holds fewer than 10 levels: all of them
    book.apply(_events(_pc(_ch(YES, "0.49", "7", "BUY")))[0])  # a new best bid
    assert book.bid_levels(10) == (Level(4900, 7.0), *bids) and book.ask_levels(10) is asks
    book.apply(_events(_pc(_ch(YES, "0.52", "0", "SELL")))[0])  # the best ask leaves
    assert book.ask_levels(10) == asks[1:]
    book.apply(_events(_pc(_ch(YES, "0.53", "1.5", "SELL")))[0])  # a size change
    assert book.ask_levels(1) == (Level(5300, 1.5),)
    assert book.ask_levels(2) == (Level(5300, 1.5), Level(5500, 40.0))  # deeper than the last read
    book.apply_tick_change(Tick.parse("0.001"))
    book.apply(_events(_pc(_ch(YES, "0.525", "2", "SELL")))[0])  # on the finer grid only
    assert book.ask_levels(3) == (Level(5250, 2.0), Level(5300, 1.5), Level(5500, 40.0))
    book.apply(_events(_book_msg(YES, [("0.40", "1")], []))[0])  # a snapshot replaces both sides
    assert book.bid_levels(5) == (Level(4000, 1.0),) and book.ask_levels(5) == ()


def test_one_sided_reads() -> None:
    book = OrderBook(_market())
    book.apply(_events(_book_msg(YES, [("0.40", "1")], []))[0])
    view = book.view()
    assert view.best_ask is None and view.mid is None and view.spread is None and view.microprice is None
    assert book.ask_levels(3) == () and book.depth(3) == (1.0, 0.0)


def test_levels_for_orders_worst_to_best_for_both_tokens() -> None:
    book = _simple_book()
    yes_bids, yes_asks = book.levels_for(YES)
    assert [lv.price for lv in yes_bids] == [4500, 4700, 4800]  # ascending: best last
    assert [lv.price for lv in yes_asks] == [5500, 5300, 5200]  # descending: best last
    no_bids, no_asks = book.levels_for(NO)
    assert no_bids == [Level(4500, 40.0), Level(4700, 25.0), Level(4800, 5.0)]  # from YES asks
    assert no_asks == [Level(5500, 30.0), Level(5300, 20.0), Level(5200, 10.0)]  # from YES bids


# ---------------------------------------------------------------- BookSet


def test_bookset_routes_by_token_and_reports_changed_markets() -> None:
    bs = BookSet([_market(), _market(cond=OTHER_COND, yes="3", no="4")])
    frame = orjson.dumps(
        [
            {
                "event_type": "book",
                "market": COND,
                "asset_id": YES,
                "bids": [{"price": "0.4", "size": "1"}],
                "asks": [],
            },
            {
                "event_type": "price_change",
                "market": OTHER_COND,
                "price_changes": [_ch("4", "0.3", "2", "BUY")],
            },
        ]
    )
    assert bs.apply(_events(frame)) == {COND, OTHER_COND}
    assert bs.get(OTHER_COND).ask() == 7000  # type: ignore[union-attr]
    assert bs.by_token(NO) is bs.get(COND)
    assert bs.apply(_events(_pc(_ch("999", "0.5", "1", "BUY")))) == set()
    assert bs.unknown == 1
    bs.remove(OTHER_COND)
    assert bs.get(OTHER_COND) is None and bs.by_token("3") is None


def test_bookset_counts_bad_values_and_keeps_the_good_ones() -> None:
    bs = BookSet([_market()])
    frame = _pc(
        _ch(YES, "0.40", "5", "BUY"),
        _ch(YES, "abc", "5", "BUY"),
        _ch(YES, "0.00001", "5", "BUY"),
        _ch(YES, "Infinity", "5", "BUY"),
        _ch(YES, "0.41", "5", "HOLD"),
        _ch(YES, "0.60", "5", "SELL"),
    )
    assert bs.apply(_events(frame)) == {COND}
    book = bs.get(COND)
    assert book is not None and book.levels_for(YES) == ([Level(4000, 5.0)], [Level(6000, 5.0)])
    assert bs.errors.counts["bad_price"] == 4
    # bad prices in other event types are counted too, never raised
    bad = orjson.dumps(
        [
            {"event_type": "last_trade_price", "market": COND, "asset_id": YES, "price": "2", "side": "BUY"},
            {
                "event_type": "tick_size_change",
                "market": COND,
                "asset_id": YES,
                "old_tick_size": "0.01",
                "new_tick_size": "0.02",
            },
            {"event_type": "book", "market": COND, "asset_id": YES, "bids": [{"price": "x", "size": "1"}]},
        ]
    )
    assert bs.apply(_events(bad)) == set()
    assert bs.errors.counts["bad_price"] == 7
    assert book.levels_for(YES) == ([Level(4000, 5.0)], [Level(6000, 5.0)])
    assert book.tick == Tick.parse("0.01")


def test_bookset_uncached_price_spelling_still_reports_the_change() -> None:
    bs = BookSet([_market()])
    changed = bs.apply(_events(_pc(_ch(YES, "0.500000", "5", "BUY"), ts="42")))
    book = bs.get(COND)
    assert book is not None and book.bid() == 5000
    assert changed == {COND}
    assert book.timestamp == 42
    assert book.version == 1


# ---------------------------------------------------------------- properties against a reference model


class RefBook:
    """The reference: two dicts of price -> size, bids strictly below asks by construction."""

    def __init__(self) -> None:
        self.bids: dict[int, float] = {}
        self.asks: dict[int, float] = {}

    def set(self, is_bid: bool, p: int, size: float) -> bool:
        side = self.bids if is_bid else self.asks
        old = side.get(p, 0.0)
        if size > 0:
            side[p] = size
        else:
            side.pop(p, None)
        return old != (size if size > 0 else 0.0)

    def yes_levels(self) -> tuple[list[Level], list[Level]]:
        return (
            [Level(p, self.bids[p]) for p in sorted(self.bids)],
            [Level(p, self.asks[p]) for p in sorted(self.asks, reverse=True)],
        )


def _fmt(p: int, style: int) -> str:
    """A wire spelling of ``p`` pips: minimal, 4 decimals, or padded (not in the lookup table)."""
    if style == 0:
        return pips_to_str(p)
    if style == 1:
        return f"{p / 10_000:.4f}"
    return str((Decimal(p) / 10_000).quantize(Decimal("0.000001")))


def _size_str(size: float, zero_style: int) -> str:
    if size > 0:
        return repr(size)
    return ("0", "0.0", "0.00")[zero_style]


def _entries(is_bid: bool, p: int, size: float, style: int, zero_style: int) -> tuple[dict, dict]:
    """The YES entry and its mirrored NO entry, as Polymarket lists both tokens for one change."""
    s = _size_str(size, zero_style)
    yes = _ch(YES, _fmt(p, style), s, "BUY" if is_bid else "SELL")
    no = _ch(NO, _fmt(MAX_PIPS - p, style), s, "SELL" if is_bid else "BUY")
    return yes, no


SIZES = st.one_of(st.just(0.0), st.integers(1, 10**7).map(lambda c: c / 100))
LEVEL_OP = st.tuples(st.booleans(), st.integers(0, 12), SIZES)  # is_bid, ticks away from fair, size
OP = st.one_of(
    st.tuples(
        st.just("levels"), st.lists(LEVEL_OP, min_size=1, max_size=3), st.integers(0, 2), st.integers(0, 2)
    ),
    st.tuples(st.just("shift"), st.integers(-6, 6)),
)


@st.composite
def scenarios(draw: st.DrawFn, max_ops: int = 25) -> tuple[Tick, int, list]:
    tick = draw(st.sampled_from(ALL_TICKS))
    n = MAX_PIPS // tick.pips
    fair = draw(st.integers(1, n - 2))  # bids at grid index <= fair, asks at >= fair + 1
    ops = draw(st.lists(OP, min_size=1, max_size=max_ops))
    return tick, fair, ops


def _run(tick: Tick, fair: int, ops: list):
    """Interpret ``ops`` against the reference; yield (frame entries [(yes, no)...], expected change)."""
    ref = RefBook()
    n = MAX_PIPS // tick.pips
    for op in ops:
        pairs: list[tuple[dict, dict]] = []
        changed = False
        if op[0] == "levels":
            _, levels, style, zero_style = op
            for is_bid, k, size in levels:
                idx = fair - k if is_bid else fair + 1 + k
                if not 1 <= idx <= n - 1:
                    continue
                p = idx * tick.pips
                changed |= ref.set(is_bid, p, size)
                pairs.append(_entries(is_bid, p, size, style, zero_style))
        else:
            fair = min(max(fair + op[1], 1), n - 2)
            # a moving fair value first clears the levels that would now cross (as a real book would)
            for p in [p for p in ref.bids if p > fair * tick.pips]:
                changed |= ref.set(True, p, 0.0)
                pairs.append(_entries(True, p, 0.0, 0, 0))
            for p in [p for p in ref.asks if p < (fair + 1) * tick.pips]:
                changed |= ref.set(False, p, 0.0)
                pairs.append(_entries(False, p, 0.0, 0, 0))
        yield ref, pairs, changed


def _assert_matches(book: OrderBook, ref: RefBook, tick: Tick) -> None:
    yes_bids, yes_asks = book.levels_for(YES)
    assert (yes_bids, yes_asks) == ref.yes_levels()
    assert book.bid() == (max(ref.bids) if ref.bids else None)
    assert book.ask() == (min(ref.asks) if ref.asks else None)
    assert (book.n_bids, book.n_asks) == (len(ref.bids), len(ref.asks))
    if ref.bids and ref.asks:
        assert book.bid() < book.ask()  # type: ignore[operator]
        assert not book.crossed
    for lv in (*yes_bids, *yes_asks):
        assert tick.valid(lv.price), lv
    no_bids, no_asks = book.levels_for(NO)
    assert no_bids == [Level(MAX_PIPS - lv.price, lv.size) for lv in yes_asks]
    assert no_asks == [Level(MAX_PIPS - lv.price, lv.size) for lv in yes_bids]
    view = book.view(depth=5)
    assert view.bids == tuple(reversed(yes_bids))[:5]
    assert view.asks == tuple(reversed(yes_asks))[:5]
    # the levels are cached per side until that side changes: any depth, in any order, is still exact
    for n in (2, 0, 7, 1, len(yes_bids) + 1, 5):
        assert book.bid_levels(n) == tuple(reversed(yes_bids))[:n]
        assert book.ask_levels(n) == tuple(reversed(yes_asks))[:n]


@settings(max_examples=60, deadline=None)
@given(scenarios())
def test_property_both_token_deltas_track_the_reference(scenario: tuple[Tick, int, list]) -> None:
    tick, fair, ops = scenario
    bs = BookSet([_market(tick), _market(tick, cond=OTHER_COND, yes="3", no="4")])
    book = bs.get(COND)
    assert book is not None
    for i, (ref, pairs, changed) in enumerate(_run(tick, fair, ops)):
        if not pairs:
            continue
        version = book.version
        entries = [e for pair in pairs for e in pair]
        got = bs.apply(_events(_pc(*entries, ts=str(1000 + i))))
        assert got == ({COND} if changed else set())
        assert (book.version > version) == changed
        if changed:
            assert book.timestamp == 1000 + i
        _assert_matches(book, ref, tick)
    other = bs.get(OTHER_COND)
    assert other is not None and other.levels_for("3") == ([], []) and other.version == 0
    assert bs.errors.total == 0 and bs.unknown == 0


@settings(max_examples=40, deadline=None)
@given(scenarios())
def test_property_no_entries_alone_equal_yes_entries_alone(scenario: tuple[Tick, int, list]) -> None:
    tick, fair, ops = scenario
    only_yes, only_no = BookSet([_market(tick)]), BookSet([_market(tick)])
    by, bn = only_yes.get(COND), only_no.get(COND)
    assert by is not None and bn is not None
    ref = None
    for ref, pairs, changed in _run(tick, fair, ops):  # noqa: B007 - the last state is checked below
        if not pairs:
            continue
        assert only_yes.apply(_events(_pc(*(y for y, _ in pairs)))) == ({COND} if changed else set())
        assert only_no.apply(_events(_pc(*(n for _, n in pairs)))) == ({COND} if changed else set())
        assert by.bids == bn.bids and by.asks == bn.asks
        assert (by.best_bid, by.best_ask, by.n_bids, by.n_asks) == (
            bn.best_bid,
            bn.best_ask,
            bn.n_bids,
            bn.n_asks,
        )
        assert by.version == bn.version
    assert ref is not None
    _assert_matches(by, ref, tick)  # the last reference state
    _assert_matches(bn, ref, tick)


def _snapshot_msg(ref: RefBook, token: str, tick: Tick) -> dict:
    bids, asks = ref.yes_levels()
    if token == NO:
        bids, asks = (
            [Level(MAX_PIPS - lv.price, lv.size) for lv in asks],
            [Level(MAX_PIPS - lv.price, lv.size) for lv in bids],
        )
    return {
        "event_type": "book",
        "market": COND,
        "asset_id": token,
        "timestamp": "5",
        "hash": "snap",
        "bids": [{"price": pips_to_str(lv.price), "size": repr(lv.size)} for lv in bids],
        "asks": [{"price": pips_to_str(lv.price), "size": repr(lv.size)} for lv in asks],
        "tick_size": tick.text,
        "last_trade_price": "",
    }


@settings(max_examples=40, deadline=None)
@given(
    scenarios(max_ops=15),
    st.lists(st.tuples(st.booleans(), st.sampled_from([YES, NO]), st.booleans()), min_size=15, max_size=15),
    st.lists(st.tuples(st.booleans(), st.integers(1, 9999), st.integers(1, 1000)), max_size=5),
)
def test_property_snapshot_then_deltas_in_any_interleaving(
    scenario: tuple[Tick, int, list], plan: list[tuple[bool, str, bool]], junk: list[tuple[bool, int, int]]
) -> None:
    tick, fair, ops = scenario
    bs = BookSet([_market(tick)])
    book = bs.get(COND)
    assert book is not None
    # whatever the book held before (stale deltas, even off-grid ones) the first snapshot replaces
    bs.apply(_events(_pc(*(_ch(YES, pips_to_str(p), str(s), "BUY" if b else "SELL") for b, p, s in junk))))
    first = True
    for (ref, pairs, _), (snap_now, token, same_frame) in zip(_run(tick, fair, ops), plan, strict=False):
        delta = {
            "event_type": "price_change",
            "market": COND,
            "timestamp": "6",
            "price_changes": [e for pair in pairs for e in pair],
        }
        if first or snap_now:
            # a snapshot of the state *after* this step, sent alone or in one array with the deltas
            snap = _snapshot_msg(ref, token, tick)
            if same_frame and pairs:
                bs.apply(_events(orjson.dumps([delta, snap])))
            else:
                if pairs and not first:
                    bs.apply(_events(orjson.dumps(delta)))
                bs.apply(_events(orjson.dumps(snap)))
            first = False
        elif pairs:
            bs.apply(_events(orjson.dumps(delta)))
        _assert_matches(book, ref, tick)
    assert book.epoch == 0  # snapshots carried the same tick
    assert bs.errors.total == 0
