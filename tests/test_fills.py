"""Honest fills in simulation (``backtest/fills.py``): orders and cancels land after the latency, a cancel
racing a fill loses, the placement check runs at landing; the replay queues our orders in the recorded
book (queue position, prints at our level after the queue ahead, cleared levels, post-only rejects)."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from polymm.backtest.fills import LATENCY_S, OWNER, MatchingVenue, RecordedVenue
from polymm.backtest.replay import Replay, ReplayConfig
from polymm.backtest.scenarios import SCENARIOS
from polymm.backtest.simulation import SIM_START_MS, Simulation, bench_params, simulate
from polymm.domain.book_set import BookSet
from polymm.domain.market import Market, Side
from polymm.domain.messages import parse_frame
from polymm.domain.portfolio import Fill, Portfolio
from polymm.domain.prices import Tick
from polymm.domain.quoting import Quote
from polymm.venue.recorder import FrameReader, FrameWriter
from polymm_standin.sim.matching import MatchingEngine, OrderType

D = Decimal
COND = "0x" + "ab" * 32
YES, NO = "1001", "1002"
MARKET = Market(COND, YES, NO, "Will fills be honest?", Tick.parse("0.01"), D(5))
T0 = SIM_START_MS / 1000.0


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t

    def ms(self) -> int:
        return int(self.t * 1000)


def _collector() -> tuple[list[Fill], Portfolio, Callable[[Fill, str], None]]:
    """(the fills reported, the portfolio they were booked to, the venue's ``on_fill``)."""
    fills: list[Fill] = []
    book = Portfolio()

    def on_fill(f: Fill, _taker: str) -> None:
        fills.append(f)
        book.apply(f)

    return fills, book, on_fill


def _matching(latency: float) -> tuple[MatchingEngine, MatchingVenue, Clock, list[Fill], Portfolio]:
    clock = Clock()
    engine = MatchingEngine([MARKET], clock=clock.ms)
    fills, book, on_fill = _collector()
    venue = MatchingVenue(engine, on_fill, clock, lambda cid: book.position(cid).qty, latency)
    return engine, venue, clock, fills, book


def _land_until(venue, clock: Clock, t: float) -> int:
    """Land every action due by ``t``, each at its own instant (as the simulations do)."""
    n = 0
    while (due := venue.due()) is not None and due <= t:
        clock.t = due
        venue.land()
        n += 1
    clock.t = t
    return n


# ------------------------------------------------------------------------------ latency, on the matching engine


def test_an_order_lands_latency_after_it_was_sent_and_checked_then() -> None:
    engine, venue, clock, _, _ = _matching(0.010)
    asked: list[tuple[Quote, ...]] = []

    def recheck(quotes: tuple[Quote, ...]) -> tuple[Quote, ...]:
        asked.append(quotes)
        return quotes[:1]  # the check at landing cuts the second quote

    venue.submit(COND, (), (Quote(Side.BUY, 4800, D(10)), Quote(Side.BUY, 4700, D(10))), recheck)
    assert venue.busy(COND) and venue.due() == pytest.approx(T0 + 0.010)
    assert engine.open_orders(OWNER) == [] and venue.open_orders() == [] and asked == []  # on the wire
    assert _land_until(venue, clock, T0 + 0.009) == 0 and engine.open_orders(OWNER) == []
    assert _land_until(venue, clock, T0 + 0.010) == 1
    [o] = venue.open_orders(COND)
    assert (o.side, o.price, o.size, o.placed_at) == (Side.BUY, 4800, D(10), pytest.approx(T0 + 0.010))
    assert [x.id for x in engine.open_orders(OWNER)] == [o.order_id]
    assert len(asked) == 1 and venue.cuts == 1 and venue.places == 1 and not venue.busy(COND)


def test_a_cancel_racing_a_fill_loses_and_the_fill_is_booked() -> None:
    engine, venue, clock, fills, book = _matching(0.010)
    venue.submit(COND, (), (Quote(Side.BUY, 4800, D(10)),))
    _land_until(venue, clock, T0 + 0.010)
    [o] = venue.open_orders()
    clock.t += 1.0
    venue.submit(COND, (o.order_id,), ())
    assert venue.open_orders() == [] and venue.reserved() == {COND: (D(10), D(0))}  # closing: it may still fill
    clock.t += 0.005  # a taker sells into our bid while the cancel is on its way
    engine.place("taker", YES, Side.SELL, 4800, D(6), order_type=OrderType.FAK)
    assert [(f.side, f.price, f.size) for f in fills] == [(Side.BUY, 4800, D(6))]
    assert venue.reserved() == {COND: (D(4), D(0))}
    _land_until(venue, clock, clock.t + 0.005)
    assert venue.late_cancels == 0 and venue.reserved() == {} and engine.open_orders(OWNER) == []
    # the same race, lost completely: the order fills before its cancel lands
    venue.submit(COND, (), (Quote(Side.BUY, 4800, D(10)),))
    _land_until(venue, clock, clock.t + 0.010)
    [o] = venue.open_orders()
    venue.submit(COND, (o.order_id,), ())
    engine.place("taker", YES, Side.SELL, 4800, D(10), order_type=OrderType.FAK)
    _land_until(venue, clock, clock.t + 0.010)
    assert venue.late_cancels == 1 and venue.cancels == 2
    assert book.position(COND).qty == D(16) and len(fills) == 2


def test_an_order_the_book_crosses_by_the_time_it_lands_is_refused_post_only() -> None:
    engine, venue, clock, _, _ = _matching(0.010)
    venue.submit(COND, (), (Quote(Side.BUY, 4800, D(10)),))
    engine.place("maker", YES, Side.SELL, 4800, D(50), post_only=True)  # the ask came down meanwhile
    _land_until(venue, clock, T0 + 0.010)
    assert venue.open_orders() == [] and venue.post_only_rejects == 1 and venue.places == 0


def test_no_latency_lands_at_once() -> None:
    engine, venue, _, _, _ = _matching(0.0)
    assert venue.submit(COND, (), (Quote(Side.SELL, 5200, D(10)),)) is None
    assert not venue.busy(COND) and venue.due() is None and len(engine.open_orders(OWNER)) == 1


def test_the_backtest_waits_for_its_orders_in_flight_before_it_steps_again() -> None:
    """With a latency longer than the gaps between flow steps, a step is never sent while the market's
    last one is still on the wire (the engine's step lock), and every order lands latency after its step."""
    sim = Simulation(3, "fixed", bench_params(), latency_s=0.5)
    sent: list[float] = []
    landed: list[float] = []
    submit, land = sim.venue.submit, sim.venue.land

    def watched_submit(*args, **kw):
        act = submit(*args, **kw)
        if act is not None:
            sent.append(act.due)
        return act

    def watched_land():
        landed.append(sim.now)
        return land()

    sim.venue.submit, sim.venue.land = watched_submit, watched_land  # type: ignore[method-assign]
    r = sim.run_until(120)
    assert len(sent) > 20 and r.fills > 0
    assert all(b - a >= 0.5 - 1e-9 for a, b in itertools.pairwise(sent))  # never two in flight
    assert landed == pytest.approx(sent[:len(landed)])  # each landed at its due time


def test_latency_is_part_of_the_seeded_run() -> None:
    base = bench_params()
    sc = SCENARIOS["informed"]
    a = simulate(7, "fixed", params=base, scenario=sc, seconds=120)
    assert a == simulate(7, "fixed", params=base, scenario=sc, seconds=120, latency_s=LATENCY_S)
    b = simulate(7, "fixed", params=base, scenario=sc, seconds=120, latency_s=0.2)
    assert b == simulate(7, "fixed", params=base, scenario=sc, seconds=120, latency_s=0.2)
    assert b != a and b.fills > 0 and a.fills > 0


def test_a_longer_latency_costs_the_fixed_model_under_informed_flow() -> None:
    """Slow cancels leave stale quotes for the informed trader: a 2 s latency loses more than 1.5 ms
    (mean over seeds, the same seeds for both)."""
    base = bench_params()
    sc = SCENARIOS["informed"]
    fast = [simulate(s, "fixed", params=base, scenario=sc, seconds=180).pnl for s in range(1, 7)]
    slow = [simulate(s, "fixed", params=base, scenario=sc, seconds=180, latency_s=2.0).pnl for s in range(1, 7)]
    assert statistics.fmean(slow) < statistics.fmean(fast)


# ------------------------------------------------------------------------------ the recorded book as the other side


def _recorded(bids: dict[int, float], asks: dict[int, float], latency: float = 0.0):
    books = BookSet([MARKET])
    clock = Clock()
    fills, book, on_fill = _collector()
    venue = RecordedVenue(books, on_fill, clock, lambda cid: book.position(cid).qty, latency)
    venue.add_market(MARKET)
    _set(books, bids, asks)
    return books, venue, clock, fills


def _set(books: BookSet, bids: dict[int, float], asks: dict[int, float]) -> None:
    def side(levels: dict[int, float]) -> list[dict[str, str]]:
        return [{"price": f"{p / 10_000:.2f}", "size": repr(s)} for p, s in sorted(levels.items())]

    frame = orjson.dumps({"event_type": "book", "market": COND, "asset_id": YES, "timestamp": "1", "hash": "h",
                          "bids": side(bids), "asks": side(asks)}).decode()
    books.apply(parse_frame(frame)[0])


def test_we_queue_behind_the_recorded_size_and_prints_eat_the_queue_first() -> None:
    books, venue, _, fills = _recorded({4800: 100.0}, {5200: 100.0})
    book = books.get(COND)
    venue.submit(COND, (), (Quote(Side.BUY, 4800, D(10)),))
    [o] = venue.open_orders()
    assert o.queue_ahead == 100.0
    venue.on_trade(book, YES, 4800, 60.0, False)  # 60 of the 100 ahead
    _set(books, {4800: 40.0}, {5200: 100.0})
    venue.on_book(book)
    assert fills == [] and venue.open_orders()[0].queue_ahead == 40.0
    _set(books, {4800: 70.0}, {5200: 100.0})  # 30 more join the level: behind us
    venue.on_book(book)
    venue.on_trade(book, YES, 4800, 45.0, False)  # the 40 ahead, then 5 of ours: a partial fill
    assert [(f.side, f.price, f.size) for f in fills] == [(Side.BUY, 4800, D(5))]
    _set(books, {4800: 25.0}, {5200: 100.0})
    venue.on_book(book)
    _set(books, {4800: 3.0}, {5200: 100.0})  # orders ahead could not have left: nothing was ahead
    venue.on_book(book)
    assert venue.open_orders()[0].queue_ahead == 0.0 and venue.open_orders()[0].remaining == D(5)


def test_a_print_that_clears_the_level_fills_all_of_ours_there() -> None:
    """A taker that took all the recording shows at our price took our order too (it saw it)."""
    books, venue, _, fills = _recorded({4800: 100.0}, {5200: 100.0})
    book = books.get(COND)
    venue.submit(COND, (), (Quote(Side.BUY, 4800, D(10)),))
    venue.on_trade(book, YES, 4800, 100.0, False)  # exactly the level: the queue ahead, and us
    assert [(f.side, f.size) for f in fills] == [(Side.BUY, D(10))] and venue.open_orders() == []
    # without the rule the print is all queue ahead: nothing for us
    books, venue, _, fills = _recorded({4800: 100.0}, {5200: 100.0})
    venue.clear_levels = False
    venue.submit(COND, (), (Quote(Side.BUY, 4800, D(10)),))
    venue.on_trade(books.get(COND), YES, 4800, 100.0, False)
    assert fills == [] and venue.open_orders()[0].queue_ahead == 0.0


def test_prints_through_our_price_fill_us_first_up_to_their_size_in_yes_terms() -> None:
    books, venue, _, fills = _recorded({4800: 100.0}, {5300: 100.0})
    book = books.get(COND)
    venue.submit(COND, (), (Quote(Side.SELL, 5100, D(10)), Quote(Side.SELL, 5200, D(10))))
    # a NO sell at 0.47 is a YES buy at 0.53: through both our asks, the better one first
    venue.on_trade(book, NO, 4700, 14.0, False)
    assert [(f.side, f.price, f.size) for f in fills] == [(Side.SELL, 5100, D(10)), (Side.SELL, 5200, D(4))]


def test_an_order_that_would_cross_the_recorded_book_is_refused_and_counted() -> None:
    books, venue, clock, _ = _recorded({4800: 100.0}, {5200: 100.0}, latency=0.010)
    venue.submit(COND, (), (Quote(Side.BUY, 5100, D(10)), Quote(Side.SELL, 5300, D(10))))
    _set(books, {4800: 100.0}, {5100: 20.0})  # the recorded ask came down to our bid meanwhile
    _land_until(venue, clock, T0 + 0.010)
    assert [(o.side, o.price) for o in venue.open_orders()] == [(Side.SELL, 5300)]
    assert venue.post_only_rejects == 1 and venue.reject_messages == {"invalid post-only order: order crosses book": 1}


def test_the_view_has_our_orders_in_it() -> None:
    books, venue, _, _ = _recorded({4800: 100.0, 4700: 50.0}, {5300: 100.0})
    book = books.get(COND)
    venue.submit(COND, (), (Quote(Side.BUY, 4800, D(10)), Quote(Side.BUY, 5000, D(7)), Quote(Side.SELL, 5200, D(5))))
    v = venue.view(book, 10)
    assert (v.best_bid, v.best_ask, v.bid_size, v.ask_size) == (5000, 5200, 7.0, 5.0)
    assert [(lv.price, lv.size) for lv in v.bids] == [(5000, 7.0), (4800, 110.0), (4700, 50.0)]
    assert [(lv.price, lv.size) for lv in v.asks] == [(5200, 5.0), (5300, 100.0)]
    assert venue.touch(book) == (5000, 5200)


def test_a_recorded_order_that_would_cross_ours_was_refused_and_ours_stays_at_the_touch() -> None:
    """No venue shows a crossed book: a recorded ask at or below our resting bid could not have rested
    there with ours (post-only, it was refused). The strategy sees our bid at the touch and the recorded
    asks beyond it; our bid keeps resting and filling, and no longer escapes the move for free."""
    books, venue, _, fills = _recorded({4800: 100.0, 4700: 50.0}, {5300: 100.0})
    book = books.get(COND)
    venue.submit(COND, (), (Quote(Side.BUY, 5000, D(10)), Quote(Side.SELL, 5200, D(5))))
    _set(books, {4800: 100.0, 4700: 50.0}, {4900: 30.0, 5000: 20.0, 5300: 100.0})  # asks at and through our bid
    venue.on_book(book)
    assert venue.crossed == 1
    v = venue.view(book, 10)
    assert [(lv.price, lv.size) for lv in v.bids] == [(5000, 10.0), (4800, 100.0), (4700, 50.0)]
    assert [(lv.price, lv.size) for lv in v.asks] == [(5200, 5.0), (5300, 100.0)]  # 4900 and 5000 were refused
    assert venue.touch(book) == (5000, 5200)
    # a bid of ours landing between them rests: the refused asks are not at the venue
    venue.submit(COND, (), (Quote(Side.BUY, 4950, D(10)),))
    assert venue.post_only_rejects == 0 and sorted(o.price for o in venue.open_orders()) == [4950, 5000, 5200]
    venue.on_trade(book, YES, 4800, 15.0, False)  # a taker sell through both our bids: the better one first
    assert [(f.price, f.size) for f in fills] == [(5000, D(10)), (4950, D(5))]
    _set(books, {4800: 85.0, 4700: 50.0}, {4900: 30.0, 5300: 100.0})
    venue.on_book(book)
    assert venue.crossed == 1  # the same crossing, not a new one
    # the earlier rule: the view drops our crossed order instead, and the step cancels it
    venue.refuse_crossing = False
    v = venue.view(book, 10)
    assert [(lv.price, lv.size) for lv in v.bids] == [(4800, 85.0), (4700, 50.0)] and v.best_ask == 4900
    assert venue.touch(book) == (4800, 4900)


# ------------------------------------------------------------------------------ the replay with these fills


def _recording(tmp: Path, frames: list[tuple[float, str]]) -> Path:
    w = FrameWriter(tmp)
    w.add_markets([MARKET], int(T0 * 1e9))
    for t, raw in frames:
        w.write(raw, int(t * 1e9))
    w.close()
    return tmp


def _book_frame(bids: dict[str, str], asks: dict[str, str]) -> str:
    return orjson.dumps({"event_type": "book", "market": COND, "asset_id": YES, "timestamp": "1", "hash": "h",
                         "bids": [{"price": p, "size": s} for p, s in bids.items()],
                         "asks": [{"price": p, "size": s} for p, s in asks.items()]}).decode()


def test_the_replay_places_after_the_latency_and_counts_what_it_refused(tmp_path: Path) -> None:
    frames = [
        (T0, _book_frame({"0.48": "100"}, {"0.56": "100"})),  # mid 0.52: fixed quotes 0.50 / 0.54
        # 1 ms later (before our orders land) the recorded ask comes down to 0.50: our bid would cross
        (T0 + 0.001, _book_frame({"0.48": "100"}, {"0.50": "100"})),
        (T0 + 5, _book_frame({"0.48": "100"}, {"0.50": "100"})),
    ]
    rp = Replay(ReplayConfig(latency_s=0.002))
    report = rp.run(FrameReader(_recording(tmp_path, frames)))
    counters = dict(report.counters)
    assert counters["post_only_rejects"] >= 1 and counters["latency_ms"] == 2.0
    placed = sorted(o.placed_at for o in rp.venue.open_orders())
    assert placed and all(p >= T0 + 0.002 for p in placed)
