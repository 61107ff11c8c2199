"""Every buffer that a long run fills stays at its bound (issue 16): far more items than the bound are
pushed through each one's own API, and it keeps the bound — the newest items where its users need
the latest, the oldest where order matters (the journal's write-ahead queue).

Signal windows (``domain/signals.py``), the ledger's per-leg history (``domain/ledger.py``), the journal's
writer queue, the store's deletion markers, and the stand-in's order and trade records."""

from __future__ import annotations

import random
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from py_clob_client_v2 import ClobClient, OrderArgs
from py_clob_client_v2.clob_types import CreateOrderOptions
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2

from polymm import state
from polymm.domain.ledger import Ledger
from polymm.domain.market import Market, Side
from polymm.domain.portfolio import Fill
from polymm.domain.signals import (
    CompetitorConfig,
    CompetitorDetector,
    EventConfig,
    EventSignal,
    FlowConfig,
    FlowImbalance,
    IntensityConfig,
    MarkoutConfig,
    Markouts,
    TradingIntensity,
)
from polymm.journal import Journal
from polymm.state import StateStore
from polymm_standin.server import StandIn
from polymm_standin.server.auth import ApiKey
from polymm_standin.server.records import TERMINAL_STATUSES
from polymm_standin.server.trading import Trading, TradingConfig

D = Decimal
CID = "0x" + "cd" * 32


def rng(seed: int = 16) -> random.Random:
    return random.Random(seed)


# ------------------------------------------------------------------------------------------ signal windows


def test_flow_keeps_the_newest_prints_of_its_window():
    cap = 50
    f = FlowImbalance(FlowConfig(window=1e9, max_prints=cap))  # the window never expires: only the cap binds
    r = rng()
    prints = [(float(t), r.uniform(1, 20), r.random() < 0.5) for t in range(20 * cap)]
    for t, size, buy in prints:
        f.update(t, size, buy)
        assert len(f._prints) <= cap
    snap = f.snapshot()
    newest = prints[-cap:]
    assert snap.trades == cap
    assert snap.buy_volume == pytest.approx(sum(s for _, s, b in newest if b))
    assert snap.sell_volume == pytest.approx(sum(s for _, s, b in newest if not b))
    f.expire(1e12)  # and the window still empties by time
    assert f.snapshot().trades == 0 and f.snapshot().buy_volume == 0.0


def test_flow_follows_a_new_bound_at_once():
    f = FlowImbalance(FlowConfig(window=1e9, max_prints=100))
    for t in range(100):
        f.update(float(t), 1.0, True)
    f.config = FlowConfig(window=1e9, max_prints=10)
    f.update(100.0, 1.0, False)
    assert f.snapshot().trades == 10 and f.snapshot().buy_volume == 9.0 and f.snapshot().sell_volume == 1.0


def test_competitor_keeps_the_newest_improvements():
    cap = 40
    det = CompetitorDetector(CompetitorConfig(window=1e9, min_events=3, max_events=cap))
    r = rng()
    sides = []
    for t in range(15 * cap):
        our = 5000 - 10 * (t % 2)  # we move every update, and are pennied by one tick each time: one event each
        bid = r.random() < 0.5
        sides.append(bid)
        if bid:
            det.update(float(t), our, None, our + 10, None, 10)
        else:
            det.update(float(t), None, our, None, our - 10, 10)
        assert det.snapshot().events <= cap
    snap = det.snapshot()
    assert snap.events == cap and snap.flagged
    assert snap.bid_events == sum(sides[-cap:])


def test_markouts_keep_the_newest_pending_fills():
    cap = 30
    m = Markouts(MarkoutConfig(max_pending=cap))
    for t in range(25 * cap):  # no mid yet: nothing resolves, everything waits
        m.on_fill(float(t), Fill("c", f"o{t}", Side.BUY, 5000 + t, D(1)))
        assert m.snapshot().pending <= cap
    assert m.snapshot().pending == cap
    assert [p.price for p in m._pending] == [5000 + t for t in range(24 * cap, 25 * cap)]
    m.on_mid(25 * cap + 100.0, 6000.0)  # every horizon of the kept ones passes at 60 s
    m.advance(25 * cap + 100.0)
    snap = m.snapshot()
    assert snap.pending == 0 and snap.counts == (cap, cap, cap)
    kept = range(24 * cap, 25 * cap)
    assert snap.means[0] == pytest.approx(sum(6000 - (5000 + t) for t in kept) / cap)


def test_markouts_keep_the_newest_resolved_fills_of_their_window():
    """The resolved markouts are flat rows bounded by ``window`` per horizon (the newest kept)."""
    window = 20
    m = Markouts(MarkoutConfig(window=window))
    for t in range(10 * window):
        m.on_mid(float(t), 5000.0)
        m.on_fill(float(t), Fill("c", f"o{t}", Side.BUY, 5000 - t, D(1)))  # markout +t at every horizon
    m.advance(10 * window + 100.0)
    snap = m.snapshot()
    assert snap.counts == (window, window, window) and all(len(r) == window for r in m._done.values())
    kept = range(9 * window, 10 * window)
    assert snap.means[0] == pytest.approx(sum(kept) / window)


def test_event_volume_counts_the_newest_prints_of_its_bucket():
    cap = 25
    e = EventSignal(EventConfig(bucket=1e9, max_recent=cap))
    r = rng()
    sizes = [r.uniform(1, 50) for _ in range(40 * cap)]
    for t, size in enumerate(sizes):
        e.update(float(t), size)
        assert len(e._recent) <= cap
    assert e.snapshot().recent_volume == pytest.approx(sum(sizes[-cap:]))


def test_intensity_keeps_the_newest_samples_and_still_measures_a_rate():
    cap = 1000
    it = TradingIntensity(IntensityConfig(window=1e9, max_samples=cap, refit_s=0.0))
    r = rng(150)
    it.on_mid(5000.0)
    t, shares = 0.0, []
    for i in range(5 * cap):  # one print every 0.1 s at exponential depths (kappa 150 per price unit)
        depth = round(r.expovariate(150.0) * 10_000)
        size = r.uniform(1.0, 20.0)
        t += 0.1
        it.on_trade(t, 5000 + depth if i % 2 else 5000 - depth, size)
        shares.append(size)
        assert len(it._samples) <= cap
    snap = it.snapshot()
    assert snap.samples == cap == sum(it._count.values())
    assert sum(it._size.values()) == pytest.approx(sum(shares[-cap:]))
    assert snap.kappa == pytest.approx(150.0, rel=0.25)
    # the kept prints span the last 100 s: A (shares per second at the mid) is over that span
    assert snap.alpha == pytest.approx(sum(shares[-cap:]) / 100.0, rel=0.3)
    it.expire(t + 2e9)
    assert it.snapshot().samples == 0 and it._size == {} and it._count == {}


def test_intensity_keeps_the_newest_unmatched_prints_and_fills():
    cap = 20
    it = TradingIntensity(IntensityConfig(max_unmatched=cap, dedupe_s=1e9))
    it.on_mid(5000.0)
    for n in range(30 * cap):  # all at one instant: none leaves by time
        it.on_trade(1.0, 4000 + n, 1.0)
        it.on_fill(1.0, Fill("c", f"o{n}", Side.BUY, 7000 + n, D(1)))
        assert len(it._prints) <= cap and len(it._fills) <= cap
    assert [p.price for p in it._prints] == list(range(4000 + 29 * cap, 4000 + 30 * cap))
    assert [f.price for f in it._fills] == list(range(7000 + 29 * cap, 7000 + 30 * cap))


@pytest.mark.parametrize("make", [
    lambda: FlowConfig(max_prints=0), lambda: CompetitorConfig(max_events=0), lambda: MarkoutConfig(max_pending=0),
    lambda: EventConfig(max_recent=0), lambda: IntensityConfig(max_samples=0), lambda: IntensityConfig(max_unmatched=0),
])
def test_bounds_are_validated_with_named_errors(make):
    with pytest.raises(ValueError, match="max_"):
        make()


# ------------------------------------------------------------------------------------------ per-leg history


def leg(n: int, ts: float, order: str | None = None) -> Fill:
    side = Side.BUY if n % 2 else Side.SELL
    return Fill(CID, order or f"order-{n}", side, 4000 + n % 50, D(1), ts=ts, trade_id=f"trade-{n}", token="yes")


def test_ledger_history_stays_within_the_replay_horizon():
    """A long run: a fill a second, CONFIRMED at once, the history forgotten beyond an hour (what a replay
    can still bring) every 100 fills: the legs and the dedup keys stay at about an hour's worth, while
    positions and P&L keep every fill."""
    ledger, horizon, n_fills = Ledger(), 3600.0, 20_000
    qty = D(0)
    for n in range(n_fills):
        f = leg(n, float(n))
        assert ledger.record(f, "CONFIRMED") == [f]
        qty += f.size if f.side is Side.BUY else -f.size
        if n % 100 == 99:
            ledger.forget(before=n - horizon)
        assert ledger.legs() <= horizon + 100 and ledger.portfolio.seen() <= horizon + 100
    assert ledger.legs() == ledger.portfolio.seen() == horizon + 1  # fills at n - 3600 .. n, just forgotten
    assert ledger.portfolio.position(CID).qty == qty == ledger.shares("yes")
    assert ledger.portfolio.position(CID).fills == n_fills
    newest = leg(n_fills - 1, n_fills - 1.0)
    assert ledger.record(newest, "CONFIRMED") == [] and ledger.booked_for(newest.order_id) == D(1)  # still deduped


def test_ledger_forgets_only_what_the_venue_is_done_with():
    ledger = Ledger()
    ledger.record(leg(1, 10.0), "MATCHED")  # the venue may still fail it: kept
    ledger.record(leg(2, 10.0), "CONFIRMED")
    ledger.record(leg(3, 10.0), "MATCHED")
    ledger.record(leg(3, 10.0), "FAILED")  # reversed: its reversal's key goes with it
    ledger.record(leg(4, 10.0, order="resting"), "CONFIRMED")  # an order that can still fill: its size stays
    ledger.record(leg(5, 99.0), "CONFIRMED")  # too recent
    assert ledger.forget(before=50.0, keep_orders=["resting"]) == 3
    assert ledger.legs() == 2 and ledger.status("trade-1", "order-1") == "MATCHED"
    assert ledger.portfolio.seen() == 2
    assert ledger.booked_for("order-2") == 0 and ledger.booked_for("resting") == D(1)
    assert ledger.booked_for("order-1") == D(1)
    ledger.record(leg(1, 10.0), "CONFIRMED")  # ended now: forgettable on the next pass
    assert ledger.forget(before=50.0) == 1 and ledger.legs() == 1


def test_ledger_never_books_again_a_trade_from_before_what_it_forgot():
    """Forgetting drops a leg's dedup key: a replay reaching back past it would book the trade twice. The
    ledger refuses unknown trades older than its horizon (what it may have forgotten) instead."""
    ledger = Ledger()
    old = leg(2, 10.0)
    assert ledger.record(old, "CONFIRMED") == [old]
    assert ledger.forget(before=50.0) == 1 and ledger.horizon == 50.0
    assert ledger.record(old, "CONFIRMED") == [] and ledger.record(old, "MATCHED") == []  # a replay of it
    assert ledger.shares("yes") == D(-1) and ledger.portfolio.position(CID).fills == 1 and ledger.beyond_horizon == 2
    fresh = leg(3, 60.0)
    assert ledger.record(fresh, "MATCHED") == [fresh]  # newer than the horizon: booked as always
    assert ledger.forget(before=20.0) == 0 and ledger.horizon == 50.0  # the horizon never goes back


# ------------------------------------------------------------------------------------------ journal queue


class _StalledJournal(Journal):
    """A journal whose writer thread waits for ``release`` before it takes anything off the queue."""

    def __init__(self, path: Path, max_queued: int) -> None:
        self.release = threading.Event()
        super().__init__(path, max_queued=max_queued)

    def _writer(self) -> None:
        self.release.wait()
        super()._writer()


def test_journal_queue_stays_bounded_while_the_writer_is_stalled(tmp_path: Path):
    cap = 500
    j = _StalledJournal(tmp_path / "j.sqlite", max_queued=cap)
    try:
        for n in range(10 * cap):
            j.record_orders(CID, [(f"order-{n}", Side.BUY, 4000, D(5))])
            assert j.queued <= cap
        assert (j.queued, j.dropped) == (cap, 9 * cap)
    finally:
        j.release.set()
    assert j.flush(timeout=30)
    j.close()
    conn = sqlite3.connect(tmp_path / "j.sqlite")
    ids = {oid for (oid,) in conn.execute("SELECT order_id FROM orders")}
    conn.close()
    # a write-ahead log keeps its order: what was queued first is what got written
    assert ids == {f"order-{n}" for n in range(cap)}


# ------------------------------------------------------------------------------------------ store deletion markers


def test_store_keeps_the_newest_deletion_markers():
    s = StateStore()
    n = state.DELETED_KEPT + 2_000
    for i in range(n):
        s.set(f"market/{i}", i)
        s.delete(f"market/{i}")
        assert len(s._deleted) <= state.DELETED_KEPT
    assert len(s._deleted) == state.DELETED_KEPT
    assert "market/0" not in s._deleted and f"market/{n - 1}" in s._deleted
    before = s.version - 2 * 10  # the last ten deletions (a set and a delete each)
    _, changed = s.changed_since(before)
    assert changed == {f"market/{i}": None for i in range(n - 10, n)}


# ------------------------------------------------------------------------------------------ stand-in records

KEY_A = "0x" + "a1" * 32
KEY_B = "0x" + "b2" * 32


class _Venue:
    """A stand-in driven synchronously (no loop, no sockets, no synthetic traders) with two wallets and
    an empty book, so that their orders meet each other only."""

    def __init__(self, cap: int) -> None:
        self.standin = StandIn(seed=16, market_count=1, flow=False,
                               trading=TradingConfig(starting_balance=D(100_000), max_closed_orders=cap,
                                                     max_trades=cap))
        self.m: Market = self.standin.markets[0]
        matching = self.standin.matching
        matching.cancel_orders([o.id for o in matching.open_orders()])  # the seeded ladder
        self.clients = {k: ClobClient("http://unused", 137, key=k) for k in (KEY_A, KEY_B)}
        self.keys = {k: self.standin.open_account(c.get_address()) for k, c in self.clients.items()}

    def place(self, key: str, side: str, price: float, token: str | None = None, order_type: str = "GTC") -> dict:
        c, api_key = self.clients[key], self.keys[key]
        args = OrderArgs(token_id=token or self.m.yes_token, price=price, size=5.0, side=side)
        order = c.builder.build_order(args, CreateOrderOptions(tick_size=self.m.tick.text, neg_risk=self.m.neg_risk))
        return self.standin.trading.place(api_key, order_to_json_v2(order, api_key.key, order_type))

    @property
    def trading(self) -> Trading:
        return self.standin.trading

    def key(self, key: str) -> ApiKey:
        return self.keys[key]


def test_standin_keeps_the_newest_ended_orders_and_every_live_one():
    cap = 10
    v = _Venue(cap)
    address = v.key(KEY_A).address
    live = [v.place(KEY_A, "BUY", 0.01)["orderID"] for _ in range(3)]  # these rest throughout
    ended = []
    for _ in range(12 * cap):
        oid = v.place(KEY_A, "BUY", 0.02)["orderID"]
        assert v.trading.cancel(address, [oid])["canceled"] == [oid]
        ended.append(oid)
        assert len(v.trading.orders) <= cap + len(live)
    assert set(v.trading.orders) == set(live) | set(ended[-cap:])
    assert all(v.trading.orders[o].status == "LIVE" for o in live)
    assert all(v.trading.orders[o].status == "CANCELED" for o in ended[-cap:])


def test_standin_keeps_the_newest_finished_trades():
    cap = 10
    v = _Venue(cap)
    a, b = v.key(KEY_A).address.lower(), v.key(KEY_B).address.lower()

    def trade() -> str:
        v.place(KEY_B, "BUY", 0.5, token=v.m.no_token)  # rests as a YES ask at 0.5
        reply = v.place(KEY_A, "BUY", 0.5, order_type="FAK")  # takes it
        (tid,) = reply["tradeIDs"]
        return tid

    first = trade()  # left MATCHED: its statuses are still to come, so nothing after it is trimmed
    done = []
    for _ in range(2 * cap):
        tid = trade()
        v.trading.advance_trade(tid)
        v.trading.advance_trade(tid)  # MINED, CONFIRMED
        done.append(tid)
    assert len(v.trading.trades) == 2 * cap + 1 and next(iter(v.trading.trades)) == first
    v.trading.advance_trade(first)
    v.trading.advance_trade(first)
    for _ in range(10 * cap):
        tid = trade()
        v.trading.advance_trade(tid)
        v.trading.advance_trade(tid)
        done.append(tid)
        assert len(v.trading.trades) <= cap
    newest = done[-cap:]
    assert list(v.trading.trades) == newest
    assert [t.id for t in v.trading.trades_of(a)] == newest == [t.id for t in v.trading.trades_of(b)]
    assert all(t.status in TERMINAL_STATUSES for t in v.trading.trades_of(a))
    assert len(v.trading.orders) <= cap  # every order here ended (B's by a match, A's taker at once)



async def test_live_execution_forgets_placements_no_longer_open_after_a_replay() -> None:
    """The placement times of orders that were cancelled or filled go once a trade replay is booked
    (they grew by one entry per order placed, for ever); those still open stay."""
    from engines import Live

    from polymm.venue.execution import OrderRequest
    from polymm_standin.server import run_exchange

    async with run_exchange(port=0, seed=29, flow=False) as ex, Live(ex, unanswered_s=0.0, settle_s=0.0) as exe:
        m = ex.markets[0]
        book = ex.matching.book(m.yes_token)
        bid = book.bids[-1][0]
        for k in range(1, 6):  # five rounds: place two bids, cancel one of them
            ids = await exe.place_many(m, None, [OrderRequest(Side.BUY, bid - k * m.tick.pips, Decimal(5)),
                                                 OrderRequest(Side.BUY, bid - (k + 10) * m.tick.pips, Decimal(5))])
            await exe.cancel(ids[:1])
        assert len(exe._placed_at) == 10
        assert await exe._replay_trades()
        assert set(exe._placed_at) == {o.order_id for o in exe.open_orders()} and len(exe._placed_at) == 5
        assert exe.trades_since is None


async def test_trade_replays_read_from_the_last_replay_not_the_whole_hour_and_never_book_twice(wait_until) -> None:
    """Every ``reconcile_s`` a replay read the venue's trades of the whole last hour (tens of thousands at
    hundreds of markets) and the ledger kept every leg of that hour. Now the first replay reads the hour,
    the next ones from ``REPLAY_OVERLAP_S`` before the previous one started, and legs older than that go.
    A replay forced back over the hour afterwards books nothing twice (against the real venue's trades)."""
    import time

    from engines import Live

    from polymm.venue.execution import OrderRequest
    from polymm.venue.live import REPLAY_OVERLAP_S
    from polymm_standin.server import run_exchange
    from polymm_standin.sim.matching import OrderType

    async with run_exchange(port=0, seed=31, flow=False) as ex, Live(ex, reconcile_s=3600.0) as exe:
        await wait_until(lambda: exe.ready()[0])  # the catch-up (the first replay) is done
        m = ex.markets[0]
        asked: list[int] = []
        get_trades = exe._client.get_trades

        def noting(params, *args, **kwargs):  # the SDK's own call, its ``after`` noted
            asked.append(params.after)
            return get_trades(params, *args, **kwargs)

        exe._client.get_trades = noting
        bid = ex.matching.book(m.yes_token).bids[-1][0]
        await exe.place_many(m, None, [OrderRequest(Side.BUY, bid + m.tick.pips, Decimal(5))])
        ex.matching.place("test-taker", m.yes_token, Side.SELL, bid + m.tick.pips, Decimal(5), order_type=OrderType.FAK)
        await wait_until(lambda: exe.ledger.shares(m.yes_token) == Decimal(5))
        first = exe._replayed_from
        assert first is not None
        assert await exe._replay_trades()
        assert asked == [int(first - REPLAY_OVERLAP_S)]  # from the last replay less the overlap, not the hour
        await wait_until(lambda: exe.ledger.pending_legs() == 0, timeout=30)  # the venue is done with the trade
        assert exe.ledger.forget(before=time.time() + 1) == 1  # its leg forgotten (as in a long run)
        exe._replayed_from = None  # and a replay forced back over the whole hour
        assert await exe._replay_trades()
        assert abs(asked[-1] - (time.time() - 3600)) < 60
        assert exe.ledger.shares(m.yes_token) == Decimal(5) and exe.ledger.beyond_horizon >= 1  # not booked twice
