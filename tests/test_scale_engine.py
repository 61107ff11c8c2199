"""The engine at hundreds of markets: stable slices of the shared caps, a strategy loop that looks only at
what changed, requotes put off (not queued) when the venue's rate limits have no room."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from polymm.config import load_settings
from polymm.domain.market import Market, Side
from polymm.domain.prices import Tick
from polymm.domain.quoting import Quote
from polymm.domain.requote import shares_for
from polymm.domain.risk import Position, RiskEngine, RiskLimits
from polymm.engine.engine import Engine
from polymm.venue.paper import PaperExecution

BIG = D(10**6)


def markets(n: int) -> list[Market]:
    return [Market("0x" + f"{i:064x}", f"{i}1", f"{i}2", f"market {i}", Tick.parse("0.01")) for i in range(n)]


def paper_engine(n: int, execution=None, **overrides) -> Engine:
    settings = load_settings(**{"_env_file": None, "mode": "paper", "journal_path": "off", **overrides})
    return Engine(settings, markets(n), mode="PAPER", execution=execution)


# ------------------------------------------------------------------ stable slices of the shared caps
def test_a_markets_room_under_the_total_cap_does_not_move_with_another_markets_orders() -> None:
    """Worst-case sharing made every market's size move whenever any other market's orders did — and
    each move was a requote. With slices, another market's orders within its slice change nothing."""
    risk = RiskEngine(RiskLimits(max_total_position=D(100), max_market_exposure=BIG, max_total_exposure=BIG,
                                 max_group_loss=BIG, max_correlated_exposure=BIG, daily_loss_limit=BIG))
    bid = [Quote(Side.BUY, 5000, D(80))]

    def room(other_bids: float) -> D:
        positions = {"a": Position(0.0, 0.5), "b": Position(0.0, 0.5, bids=other_bids)}
        v = risk.check("a", bid, positions, position_limit=D(1000), budget=1e9, now=0.0, share=0.5)
        return sum((q.size for q in v.quotes), D(0))

    assert room(0) == room(20) == room(50) == D(50)  # b within its slice: a's room stays its 50
    assert room(70) == D(30)  # b beyond its slice (e.g. its orders from before a joined): the cap still holds


def test_slices_follow_the_weights_of_the_traded_markets() -> None:
    assert shares_for({"a": 1.0, "b": 1.0, "c": 2.0}) == {"a": 0.25, "b": 0.25, "c": 0.5}
    assert shares_for({"a": 1.0, "b": 0.0}) == {"a": 1.0, "b": 0.0}


async def test_the_engine_recomputes_slices_only_when_the_traded_set_or_a_weight_changes() -> None:
    engine = paper_engine(4)
    cids = list(engine.markets)
    assert engine._share(cids[0]) == 0.25
    assert engine._allocation()[0] is engine._allocation()[0]  # cached: no O(markets) work per step
    await engine.pause(cids[3])
    assert engine._share(cids[0]) == 1 / 3 and engine._share(cids[3]) == 0.0
    engine.set_params(cids[0], capital_weight=2.0)
    assert engine._share(cids[0]) == 0.5
    engine.resume(cids[3])
    assert engine._share(cids[3]) == 0.2
    await engine.stop(cancel_orders=False)


# ------------------------------------------------------------------ the strategy loop's scheduling
async def test_a_pass_takes_only_changed_markets_past_their_gap_and_due_timers() -> None:
    engine = paper_engine(300)
    cids = list(engine.markets)
    engine._dirty.clear()
    now = 1000.0
    engine._last_step = {cids[0]: now - 1.0, cids[1]: now - 0.01}
    engine._dirty |= {cids[0], cids[1]}
    engine._schedule(cids[2], now - 0.5)  # due
    engine._schedule(cids[3], now - 0.5)
    engine._schedule(cids[3], now + 5.0)  # superseded: the earlier timer no longer counts
    engine._schedule(cids[4], now + 2.0)
    ready, soonest = engine._take_ready(now, gap=0.05)
    assert sorted(ready) == sorted([cids[0], cids[2]])
    assert soonest == now - 0.01 + 0.05  # cids[1] is due once its gap has passed
    assert cids[1] in engine._dirty and cids[0] not in engine._dirty
    engine._stepping.add(cids[4])
    ready, _ = engine._take_ready(now + 2.5, gap=0.05)
    assert cids[4] not in ready and cids[4] in engine._dirty  # stepped again once its step in flight is done
    await engine.stop(cancel_orders=False)


async def test_the_timer_heap_holds_a_few_entries_a_market_however_often_its_timers_are_replaced() -> None:
    """Every step replaces its market's fallback timer; the replaced entries stayed in the heap until they
    came due (at 300 markets ~1,700 a second, for up to 10 s). The heap is built again from the timers in
    force once it holds ``TIMERS_SLACK`` entries a market: the timers in force still come due, once each,
    and a replaced one never does."""
    from polymm.engine.engine import TIMERS_SLACK

    engine = paper_engine(3)
    cids = list(engine.markets)
    engine._dirty.clear()
    for i in range(10_000):
        engine._schedule(cids[i % 3], 1000.0 + i)
    assert len(engine._timers) <= TIMERS_SLACK * (3 + 1) + 1
    engine._schedule(cids[0], 50_000.0)  # replaced again, far off: its earlier timers no longer count
    ready, soonest = engine._take_ready(20_000.0, gap=0.0)
    assert sorted(ready) == sorted(cids[1:]) and soonest == 50_000.0
    assert engine._take_ready(20_000.0, gap=0.0)[0] == []  # each came due once
    await engine.stop(cancel_orders=False)


async def test_a_pass_steps_its_markets_at_once_and_the_loop_never_holds_the_event_loop_pass_after_pass() -> None:
    """Each step of a pass starts in the pass (its synchronous part done before the pass goes on), and
    the strategy gives the event loop's other work a turn at least every ``MAX_PASSES_IN_A_ROW`` passes
    — even with every market due again by the end of each pass."""
    from polymm.engine.engine import MAX_PASSES_IN_A_ROW

    engine = paper_engine(3)
    cids = list(engine.markets)
    passes, turns, stepped = 0, 0, []

    def take_ready(now: float, gap: float) -> tuple[list[str], float]:
        nonlocal passes
        passes += 1
        if passes > 200:
            engine._stopping = True
            return [], now
        return list(cids), now

    async def step(cid: str) -> None:
        stepped.append((passes, turns))  # where the pass was, and how many turns the other task had
        engine._stepping.discard(cid)

    engine._take_ready = take_ready  # type: ignore[method-assign]  # every market ready at every pass
    engine._step_task = step  # type: ignore[method-assign]  # a step with nothing to wait for

    async def other_work() -> None:
        nonlocal turns
        while not engine._stopping:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_work())
    await engine.run_strategy()
    await other
    assert len(stepped) == 3 * 200 and stepped[:3] == [(1, 0)] * 3  # the first pass: all three, no turn between
    assert MAX_PASSES_IN_A_ROW <= 2 and turns >= 200 // 2 - 1
    await engine.stop(cancel_orders=False)


async def test_a_pass_leaves_its_unlikely_steps_for_the_frames_read_meanwhile(wait_until, monkeypatch) -> None:
    """A pass runs every step likely to requote; the others only while it is younger than
    ``PASS_SLICE_S`` — the rest go first in the next pass, behind the likely requotes of the frames read
    meanwhile, and are never left twice; none is lost. (The pass is timed by a clock that moves 1.5 ms
    a step: any machine alike.)"""
    monkeypatch.setattr("polymm.engine.engine.PASS_SLICE_S", 0.002)
    engine = paper_engine(6)
    likely, u1, u2, u3, u4, late = engine.markets
    need = {likely: (1, 0.0), u1: (5, 1.0), u2: (5, 2.0), u3: (5, 3.0), u4: (5, 4.0), late: (9, 0.0)}
    stepped: list[str] = []
    carried: list[list[str]] = []
    engine.pass_clock = lambda: 0.0015 * len(stepped)

    def meanwhile() -> None:  # a frame read while the first pass ran: ``late``'s best price moved
        need[late] = (1, 0.0)
        engine._mark_dirty({late})

    async def step(cid: str) -> None:
        if not stepped:
            asyncio.get_running_loop().call_soon(meanwhile)
        stepped.append(cid)

    def need_of(cid: str) -> tuple[int, float]:  # as ``_need`` ranks a step the last pass left
        key = need[cid]
        return (2, key[1]) if key[0] > 1 and cid in engine._carried else key

    carry = engine._carry
    engine._carry = lambda cids, now: (carried.append(list(cids)), carry(cids, now))  # type: ignore[method-assign]
    engine._need = need_of  # type: ignore[method-assign]  # the pass's order, as the test sets it
    engine.step = step  # type: ignore[method-assign]  # a step that only says when it ran
    task = asyncio.create_task(engine.run_strategy())
    try:
        await wait_until(lambda: len(stepped) >= 6)
        assert stepped == [likely, u1, late, u2, u3, u4]  # without the slice: likely, u1, u2, u3, u4, late
        assert carried == [[u2, u3, u4, late]]  # the second pass ran all it was left (3 ms): never left twice
        assert not engine._carried
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.stop(cancel_orders=False)


async def test_a_price_move_or_a_likely_requote_goes_at_once_a_change_of_size_waits_its_gap() -> None:
    """Tick-to-trade: a frame that moves the best bid or ask goes to the strategy without waiting out
    ``min_step_gap_s``, and so does any change to a market whose step is likely to requote (its targets
    have no slack left: here a tolerance of 0 ticks); frames that only change sizes of a market with slack
    left (most of them) are still coalesced."""
    engine = paper_engine(3, min_step_gap_s=0.05)
    engine.feed.trusted = lambda c: (True, "")  # type: ignore[method-assign]  # no sockets here
    a, b, c = engine.markets.values()
    engine.params[c.condition_id] = engine.params[c.condition_id].updated(tolerance_ticks=0)
    for m in (a, b, c):
        show_book(engine, m, "0.48", "0.52")
        await engine.step(m.condition_id)
    assert all(engine.execution.open_orders(m.condition_id) for m in (a, b, c))
    now = 1000.0
    engine._dirty.clear()
    engine._last_step = {m.condition_id: now - 0.01 for m in (a, b, c)}  # all inside their gap
    show_book(engine, a, "0.49", "0.52")  # a's best bid moved
    for m in (b, c):  # the same prices, other sizes
        show_book(engine, m, "0.48", "0.52", size="250")
        engine.feed.received_ns[m.condition_id] = 1
    engine._dirty |= {a.condition_id, b.condition_id, c.condition_id}
    ready, soonest = engine._take_ready(now, gap=0.05)
    assert sorted(ready) == sorted([a.condition_id, c.condition_id])
    assert b.condition_id in engine._dirty and soonest == now - 0.01 + 0.05
    await engine.stop(cancel_orders=False)


async def test_book_changes_are_coalesced_only_while_the_strategy_is_busy() -> None:
    """With the loop to spare a market is stepped on its next frame (tick-to-trade); once planning takes
    more than a quarter of the loop, changes are coalesced into one step per ``min_step_gap_s`` again,
    until it falls under 15%."""
    from polymm.engine.engine import BUSY_SHARE, IDLE_SHARE

    engine = paper_engine(2, min_step_gap_s=0.05)
    now = engine._busy_since + 1.0
    engine._step_cpu = (BUSY_SHARE + 0.05) * 1.0
    assert engine._gap(now) == 0.05
    engine._step_cpu = (IDLE_SHARE + BUSY_SHARE) / 2  # between the two: stays busy
    assert engine._gap(now + 1.0) == 0.05
    engine._step_cpu = IDLE_SHARE / 2
    assert engine._gap(now + 2.0) == 0.0
    engine._step_cpu = (IDLE_SHARE + BUSY_SHARE) / 2  # between the two: stays idle
    assert engine._gap(now + 3.0) == 0.0
    assert engine._gap(now + 3.1) == 0.0  # measured over half a second at least
    await engine.stop(cancel_orders=False)


async def test_markets_without_quotes_go_first_then_price_moves_then_the_requotes_put_off_longest() -> None:
    """… then changes of size, the oldest frame first (newest first made the frames that waited longest
    wait longest again: tick-to-trade), then timers (no frame), the most recently active first."""
    engine = paper_engine(7)
    engine.feed.trusted = lambda c: (True, "")  # type: ignore[method-assign]  # no sockets here
    from polymm.venue.execution import OrderRequest

    a, b, c, d, e, f, g = engine.markets.values()
    for m in (d, e, f, g):
        show_book(engine, m, "0.48", "0.52")
        await engine.step(m.condition_id)  # quoted: their last step saw 0.48 / 0.52
    ex = engine.execution
    await ex.place_many(b, None, [OrderRequest(Side.BUY, 4000, D(10))])
    await ex.place_many(c, None, [OrderRequest(Side.BUY, 4000, D(10))])
    engine._deferred[c.condition_id] = (5.0, 2)
    show_book(engine, e, "0.49", "0.52")  # e's best bid moved, then d's: e's frame is the older
    engine.feed.received_ns[e.condition_id] = 1_000
    show_book(engine, d, "0.48", "0.51")
    engine.feed.received_ns[d.condition_id] = 2_000
    show_book(engine, f, "0.48", "0.52")  # sizes only: f's frame older than g's
    engine.feed.received_ns[f.condition_id] = 3_000
    engine.feed.received_ns[g.condition_id] = 4_000
    engine._active_at.update({f.condition_id: 8.0, g.condition_id: 9.0})  # g the more recently active
    order = sorted([m.condition_id for m in (g, b, c, d, f, e, a)], key=engine._need)
    assert order == [m.condition_id for m in (a, e, d, c, f, g, b)]
    await engine.stop(cancel_orders=False)


async def test_a_market_whose_step_is_likely_to_requote_goes_first_whatever_moved() -> None:
    """At 300 markets a step that posts waited behind every step ahead of it in its pass (~0.2 ms each),
    and two thirds of the posts came from changes of size. A market whose targets have no ticks left
    before an order of ours falls out of tolerance goes first on any change; a move of the best prices
    smaller than the ticks left goes after it (it is not likely to requote)."""
    from polymm.domain.requote import slack_ticks

    engine = paper_engine(3, default_model="fixed", default_tolerance_ticks=3)
    engine.feed.trusted = lambda c: (True, "")  # type: ignore[method-assign]  # no sockets here
    x, y, z = engine.markets.values()
    for m in (x, y, z):
        show_book(engine, m, "0.48", "0.52")
        await engine.step(m.condition_id)
        assert engine._slack(m.condition_id, engine.execution.open_orders(m.condition_id)) == 3  # on target
    show_book(engine, x, "0.51", "0.55")  # x's fair value moves 3 ticks: its orders keep their places
    await engine.step(x.condition_id)
    assert sorted(o.price for o in engine.execution.open_orders(x.condition_id)) == [4800, 5200]
    assert engine._slack(x.condition_id, engine.execution.open_orders(x.condition_id)) == 0  # the next move requotes
    show_book(engine, y, "0.49", "0.52")  # y's best bid moves one tick of its three: y's frame the oldest
    engine.feed.received_ns[y.condition_id] = 1_000
    show_book(engine, x, "0.51", "0.55", size="70")  # x: a change of size only
    engine.feed.received_ns[x.condition_id] = 2_000
    show_book(engine, z, "0.45", "0.52")  # z's best bid moves three ticks: all it had
    engine.feed.received_ns[z.condition_id] = 3_000
    order = sorted(engine.markets, key=engine._need)
    assert order == [x.condition_id, z.condition_id, y.condition_id]
    engine._carried.add(y.condition_id)  # left by the last pass: ahead of every other unlikely step
    assert engine._need(y.condition_id)[0] == 2 and engine._need(z.condition_id)[0] == 1
    # the ticks left, as ``plan_orders`` counts the tolerance (widened under pressure; no order: none left)
    tick = Tick.parse("0.01")
    bid, ask = Quote(Side.BUY, 4800, D(10)), Quote(Side.SELL, 5200, D(10))
    resting = engine.execution.open_orders(y.condition_id)
    assert slack_ticks(resting, [bid, ask], 3, 1.0, tick) == 3
    assert slack_ticks(resting, [Quote(Side.BUY, 4700, D(10)), ask], 3, 1.0, tick) == 2
    assert slack_ticks(resting, [Quote(Side.BUY, 4700, D(10)), ask], 3, 2.0, tick) == 5
    assert slack_ticks(resting, [bid, ask], 0, 2.0, tick) == 0
    assert slack_ticks([], [bid], 3, 1.0, tick) == 0
    await engine.stop(cancel_orders=False)


async def test_the_ticks_left_are_counted_against_the_orders_and_the_pressure_of_now() -> None:
    """Counted at the step, half of the steps that posted on a change of size (at 300 markets) had no
    ticks left when they ran: an order of the market had gone since (filled, cancelled, closed by the
    reconciliation), or the tolerance had narrowed as the rate limits got room again. Both count now."""
    engine = paper_engine(3, default_model="fixed", default_tolerance_ticks=3)
    engine.feed.trusted = lambda c: (True, "")  # type: ignore[method-assign]  # no sockets here
    x, y, z = engine.markets.values()
    engine.pressure = 2.0  # the rate limits short of room: a tolerance of 6 ticks
    for m in (x, y, z):
        show_book(engine, m, "0.48", "0.52")
        await engine.step(m.condition_id)
    show_book(engine, y, "0.51", "0.55")  # y's fair value moves 3 ticks: 3 of its 6 left
    await engine.step(y.condition_id)
    assert sorted(o.price for o in engine.execution.open_orders(y.condition_id)) == [4800, 5200]
    bid = next(o for o in engine.execution.open_orders(x.condition_id) if o.side is Side.BUY)
    await engine.execution.cancel([bid.order_id])  # x's bid gone since its step: none left
    engine.pressure = 1.0  # room again: y has 3 − 3 = 0 left
    for m, at in ((z, 1_000), (x, 2_000), (y, 3_000)):  # changes of size only, z's frame the oldest
        show_book(engine, m, "0.51" if m is y else "0.48", "0.55" if m is y else "0.52", size="70")
        engine.feed.received_ns[m.condition_id] = at
    assert [engine._need(m.condition_id)[0] for m in (x, y, z)] == [1, 1, 5]
    assert sorted(engine.markets, key=engine._need) == [x.condition_id, y.condition_id, z.condition_id]
    await engine.stop(cancel_orders=False)


# ------------------------------------------------------------------ requotes put off for the rate limits
class NoRoom(PaperExecution):
    """An order path whose rate limits have no room for new quotes until ``room`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.room = False
        self.asked: list[int] = []

    def try_place(self, n: int, ahead: int = 0) -> bool:
        self.asked.append(n)
        return self.room

    def place_eta(self, n: int, ahead: int = 0) -> float:
        return 0.3


async def test_a_requote_without_rate_limit_room_keeps_the_old_quotes_and_comes_back() -> None:
    import time

    from polymm.domain.messages import parse_frame

    ex = NoRoom()
    engine = paper_engine(1, execution=ex, default_model="fixed", min_step_gap_s=0.0)
    (m,) = engine.markets.values()
    cid = m.condition_id
    frame = (b'[{"event_type":"book","asset_id":"' + m.yes_token.encode() + b'","market":"' + cid.encode()
             + b'","bids":[{"price":"0.48","size":"100"}],"asks":[{"price":"0.52","size":"100"}],'
             b'"timestamp":"1","hash":"x"}]')
    engine.feed.books.apply(parse_frame(frame)[0])
    engine.feed.snapshotted.add(cid)
    engine.feed.trusted = lambda c: (True, "")  # type: ignore[method-assign]  # no sockets here
    t = time.monotonic()
    await engine.step(cid)
    assert ex.asked and not ex.open_orders(cid)  # no room: nothing placed, nothing cancelled
    assert engine.deferrals == 1 and cid in engine._deferred
    assert engine._next_due[cid] >= t + 0.3  # stepped again once the limiter expects room
    ex.room = True
    await engine.step(cid)
    assert len(ex.open_orders(cid)) == 2 and cid not in engine._deferred
    await engine.stop(cancel_orders=False)


class Turns(PaperExecution):
    """An order path with room for ``room`` orders: a request fits when the orders waiting ahead of it
    and its own do; ``place_eta`` 0.1 s an order."""

    def __init__(self, room: int = 0) -> None:
        super().__init__()
        self.room = room
        self.asked: list[tuple[int, int]] = []  # (n, ahead)

    def try_place(self, n: int, ahead: int = 0) -> bool:
        self.asked.append((n, ahead))
        return ahead + n <= self.room

    def place_eta(self, n: int, ahead: int = 0) -> float:
        return 0.1 * (ahead + n)


def show_book(engine, m, bid: str, ask: str, size: str = "100") -> None:
    from polymm.domain.messages import parse_frame

    frame = (b'[{"event_type":"book","asset_id":"' + m.yes_token.encode() + b'","market":"'
             + m.condition_id.encode() + b'","bids":[{"price":"' + bid.encode() + b'","size":"' + size.encode()
             + b'"}],"asks":[{"price":"' + ask.encode() + b'","size":"100"}],"timestamp":"1","hash":"x"}]')
    engine.feed.books.apply(parse_frame(frame)[0])
    engine.feed.snapshotted.add(m.condition_id)


class Room(Turns):
    """``Turns`` whose limits have no wait while the orders fit (``place_eta`` 0: room to spare)."""

    def place_eta(self, n: int, ahead: int = 0) -> float:
        return 0.0 if ahead + n <= self.room else 0.1 * (ahead + n)


async def test_the_requote_tolerance_widens_while_requotes_are_put_off_and_narrows_with_room() -> None:
    """Hundreds of markets want more requotes than the venue's limits admit; put off, each went out
    seconds after the frame it answered. While requotes are put off the tolerance widens, so a move
    within it keeps the quotes (nothing asked of the limits, nothing put off) and the larger moves go at
    once. It widens too while the limits are nearly spent, and narrows back to 1 with room to spare."""
    from polymm.engine.engine import PRESSURE_EVERY_S, PRESSURE_LOW_ORDERS, PRESSURE_MAX, PRESSURE_SPARE_ORDERS

    ex = Room(room=100)
    engine = paper_engine(1, execution=ex, default_model="fixed", min_step_gap_s=0.0)
    engine.feed.trusted = lambda c: (True, "")  # type: ignore[method-assign]  # no sockets here
    (m,) = engine.markets.values()
    cid = m.condition_id
    show_book(engine, m, "0.48", "0.52")
    await engine.step(cid)
    placed = {o.order_id for o in ex.open_orders(cid)}
    assert len(placed) == 2 and engine.pressure == 1.0
    t = 1000.0
    for _ in range(3):  # three looks with requotes put off meanwhile: ×1.5 each
        engine.deferrals += 1
        t += PRESSURE_EVERY_S
        engine._adapt_pressure(t)
    assert engine.pressure == 1.5 ** 3
    engine._adapt_pressure(t + PRESSURE_EVERY_S / 2)  # at most once per PRESSURE_EVERY_S
    assert engine.pressure == 1.5 ** 3
    asked = len(ex.asked)
    show_book(engine, m, "0.50", "0.54")  # two ticks: within 3.4 × the tolerance of 1 tick
    await engine.step(cid)
    assert {o.order_id for o in ex.open_orders(cid)} == placed and len(ex.asked) == asked
    show_book(engine, m, "0.53", "0.57")  # five ticks: requoted at once
    await engine.step(cid)
    assert not placed & {o.order_id for o in ex.open_orders(cid)} and len(ex.asked) == asked + 1
    assert engine.deferrals == 3
    for _ in range(20):  # nothing put off and room to spare: ÷1.25 a look, down to 1
        t += PRESSURE_EVERY_S
        engine._adapt_pressure(t)
    assert engine.pressure == 1.0
    placed = {o.order_id for o in ex.open_orders(cid)}
    show_book(engine, m, "0.55", "0.59")  # two ticks again: beyond the tolerance of 1 now
    await engine.step(cid)
    assert not placed & {o.order_id for o in ex.open_orders(cid)}
    for _ in range(20):  # put off all along: bounded
        engine.deferrals += 1
        t += PRESSURE_EVERY_S
        engine._adapt_pressure(t)
    assert engine.pressure == PRESSURE_MAX
    ex.room = (PRESSURE_LOW_ORDERS + PRESSURE_SPARE_ORDERS) // 2  # some room, not to spare: it stays
    t += PRESSURE_EVERY_S
    engine._adapt_pressure(t)
    assert engine.pressure == PRESSURE_MAX
    engine.pressure, ex.room = 2.0, PRESSURE_LOW_ORDERS - 1  # nothing put off, the limits nearly spent: wider
    t += PRESSURE_EVERY_S
    engine._adapt_pressure(t)
    assert engine.pressure == 3.0
    await engine.stop(cancel_orders=False)


async def test_requotes_waiting_for_order_room_go_in_turn_and_meanwhile_only_crossed_orders_are_pulled() -> None:
    """Without a queue, a market put off was stepped every ``min_step_gap_s`` only to be put off again
    (at 300 markets, 85% of ~3,500 steps a second). Now it waits its turn — first put off, first served:
    later requotes count the orders ahead of them, and its timer comes when the limits will have room
    for them and its own. Its book changes meanwhile run no strategy step, but an order the book now
    trades through is cancelled at once."""
    import time

    from polymm.venue.execution import OrderRequest

    ex = Turns(room=0)
    engine = paper_engine(3, execution=ex, default_model="fixed", min_step_gap_s=0.0)
    engine.feed.trusted = lambda c: (True, "")  # type: ignore[method-assign]  # no sockets here
    a, b, c = engine.markets.values()
    for m in (a, b, c):
        show_book(engine, m, "0.48", "0.52")
    t = time.monotonic()
    await engine.step(a.condition_id)
    await engine.step(b.condition_id)
    assert list(engine._deferred) == [a.condition_id, b.condition_id]
    assert ex.asked[0][1] == 0 and ex.asked[-1][1] == 2  # b counts a's two orders ahead of its own
    assert engine._next_due[b.condition_id] >= t + 0.4 > engine._next_due[a.condition_id] >= t + 0.2
    # a third market that was not waiting cannot jump the queue when room for two appears
    ex.room = 2
    await engine.step(c.condition_id)
    assert ex.asked[-1] == (2, 4) and list(engine._deferred) == [a.condition_id, b.condition_id, c.condition_id]
    await engine.step(a.condition_id)  # the head of the queue fits
    assert len(ex.open_orders(a.condition_id)) == 2 and list(engine._deferred) == [b.condition_id, c.condition_id]
    # b's book moves while it waits: no strategy step — unless an order of ours is traded through
    await ex.place_many(b, None, [OrderRequest(Side.BUY, 4500, D(10))])
    asked = len(ex.asked)
    show_book(engine, b, "0.46", "0.50")
    engine._dirty.add(b.condition_id)
    ready, _ = engine._take_ready(time.monotonic(), gap=0.0)
    assert b.condition_id not in ready and b.condition_id not in engine._dirty and len(ex.asked) == asked
    assert len(ex.open_orders(b.condition_id)) == 1 and not engine._step_tasks
    show_book(engine, b, "0.40", "0.44")  # the best ask now at 0.44: our bid at 0.45 is traded through
    engine._dirty.add(b.condition_id)
    ready, _ = engine._take_ready(time.monotonic(), gap=0.0)
    assert b.condition_id not in ready and engine._step_tasks
    await asyncio.gather(*engine._step_tasks)
    assert ex.open_orders(b.condition_id) == [] and len(ex.asked) == asked  # cancelled without a step
    await engine.stop(cancel_orders=False)


# ------------------------------------------------------------------ the kept position book
async def test_the_kept_position_book_matches_a_full_recount_through_quotes_fills_and_cancels(wait_until) -> None:
    """Each step reads only the markets that changed; the risk tick recounts them all now and then (every
    ``POSITIONS_CHECK_EVERY_S``). Through quoting, a fill and a kill, the recount never finds a change that
    nobody reported."""
    from engines import Writes, hit_our_bid, ours, running_engine

    from polymm_standin.server import run_exchange

    async with run_exchange(port=0, seed=131, flow=False) as ex, running_engine(ex, count=4) as engine:
        cids = list(engine.markets)
        await wait_until(lambda: all(ours(ex, engine, c) for c in cids), timeout=30)
        hit_our_bid(ex, engine, cids[0])
        await wait_until(lambda: engine.portfolio.position(cids[0]).qty != 0, timeout=30)
        # another trader moves a book without trading with us: only the mark of that market changes (it
        # is paused, so no requote of ours touches it either)
        await engine.pause(cids[1])
        paused = Writes(engine.store, "risk")
        await wait_until(lambda: paused() >= 2, timeout=30)
        m = engine.markets[cids[1]]
        book = engine.feed.books.get(cids[1])
        inside = book.best_bid + m.tick.pips
        mark_before = engine._mark(cids[1])
        ex.matching.place("someone", m.yes_token, Side.BUY, inside, D(100))
        await wait_until(lambda: engine._mark(cids[1]) != mark_before, timeout=30)
        ticks = Writes(engine.store, "risk")
        await wait_until(lambda: ticks() >= 3, timeout=30)
        await engine.kill("test")
        kept = engine._positions()
        assert {c: kept[c] for c in kept} == {c: p for c, p in engine._count_positions().items()}
        assert kept[cids[0]].qty != 0
        engine._check_positions()  # the risk tick's check, now
        assert engine.position_book_misses == 0


async def test_a_change_of_size_only_leaves_the_position_book_a_move_of_the_mark_reads_it_again() -> None:
    """A book change touches the kept position book only when the mark moved (best bid or ask; the last
    trade on a one-sided book): 85% of the stand-in's frames change sizes only, and each read the
    market's position again at the next step. The kept book still matches a full recount."""
    engine = paper_engine(2)
    a, b = engine.markets.values()
    for m in (a, b):
        show_book(engine, m, "0.48", "0.52")
    engine._on_books_changed({a.condition_id, b.condition_id})
    assert engine._pos_touched == {a.condition_id, b.condition_id}  # first seen: read
    engine._positions()
    assert engine._pos_touched == set()
    from polymm.domain.messages import parse_frame

    def sizes(m, bid_size: str) -> None:  # the same best prices, another size
        engine.feed.books.apply(parse_frame(
            b'[{"event_type":"book","asset_id":"' + m.yes_token.encode() + b'","market":"' + m.condition_id.encode()
            + b'","bids":[{"price":"0.48","size":"' + bid_size.encode() + b'"}],"asks":[{"price":"0.52",'
            b'"size":"100"}],"timestamp":"2","hash":"y"}]')[0])

    sizes(a, "250")
    engine._on_books_changed({a.condition_id})
    assert engine._pos_touched == set() and a.condition_id in engine._dirty  # stepped, not read again
    show_book(engine, b, "0.49", "0.52")  # b's mark moved
    engine._on_books_changed({b.condition_id})
    assert engine._pos_touched == {b.condition_id}
    kept = engine._positions()
    assert kept[b.condition_id].mark == 0.505
    assert {c: kept[c] for c in kept} == dict(engine._count_positions().items())
    await engine.stop(cancel_orders=False)


# ------------------------------------------------------------------ the venue's rate limits, paced
async def test_a_burst_of_requotes_across_many_markets_gets_no_429_from_the_venue(wait_until) -> None:
    """40 markets quote at once (80 orders, past the venue's burst of 60), then every one of them
    requotes at once (a parameter change: 80 cancels and 80 orders): the order path paces itself by the
    venue's per-signer buckets, so the stand-in (standard tier, on by default) never answers 429, and
    every market ends up quoting its new targets."""
    from engines import ours, running_engine

    from polymm_standin.server import run_exchange

    async with run_exchange(port=0, seed=137, flow=False, market_count=40) as ex:
        markets = [m for m in ex.markets if not m.neg_risk][:40]
        async with running_engine(ex, markets=markets, quote_interval_s=0.5) as engine:
            cids = [m.condition_id for m in markets]
            await wait_until(lambda: all(ours(ex, engine, c) for c in cids), timeout=60)
            before = {o.id for o in ours(ex, engine)}
            for cid in cids:
                engine.set_params(cid, spread=D("0.06"))
            await wait_until(lambda: all(ours(ex, engine, c) for c in cids)
                             and not before & {o.id for o in ours(ex, engine)}, timeout=60)
            limiter = engine.execution.limiter
            assert ex.standin.trading.limits.http_429 == 0 and engine.execution.venue_429s == 0
            assert limiter.waited + engine.deferrals > 0  # the bursts were over the venue's: something waited


async def test_statements_the_journal_dropped_raise_an_alert(tmp_path) -> None:
    """A stalled disk makes the bounded journal queue drop statements: that is said, as an alert, since a
    restart cannot restore what was dropped."""
    engine = paper_engine(1, journal_path=str(tmp_path / "j.sqlite"))
    engine.journal.dropped = 1_234  # as the writer's bounded queue counts them
    engine._check_journal()
    assert "journal behind: 1,234 records not written" in engine._alert
    assert any("journal behind" in e.text for e in engine.store.get("events", ()))
    await engine.stop(cancel_orders=False)


# ------------------------------------------------------------------ fallback timers under load
def test_a_busy_strategy_puts_the_fast_fallback_timers_off_and_spreads_them() -> None:
    """A step on a timer answers no frame: while the strategy is busy an active market's fallback is the
    quiet interval, not the fast one. Each market's is spread by a factor of its own (0.8 to 1), so timers
    that came due in one pass part again instead of coming due together pass after pass."""
    engine = paper_engine(50, quote_interval_fast_s=0.25, quote_interval_s=1.0)
    cids = list(engine.markets)
    now = 1000.0
    for cid in cids:
        engine._active_at[cid] = now  # every book just moved: the fast interval
    engine._busy = False
    idle = [engine._fallback(cid, now) for cid in cids]
    assert all(0.25 * 0.8 <= x <= 0.25 for x in idle)  # never later than the setting
    assert len({round(x, 9) for x in idle}) == len(cids)  # spread: no two markets alike
    engine._busy = True
    busy = [engine._fallback(cid, now) for cid in cids]
    assert all(0.8 <= x <= 1.0 for x in busy)
    assert [b / i for b, i in zip(busy, idle, strict=True)] == pytest.approx([4.0] * len(cids))  # its own factor
    engine._active_at.clear()  # quiet: the quiet interval busy or not
    assert engine._fallback(cids[0], now) == pytest.approx(busy[0])


async def test_the_strategy_schedules_each_market_on_its_spread_fallback(wait_until) -> None:
    engine = paper_engine(20, quote_interval_fast_s=0.25, quote_interval_s=1.0)
    cids = list(engine.markets)
    task = asyncio.create_task(engine.run_strategy())
    try:
        await wait_until(lambda: all(cid in engine._last_step for cid in cids))
        gaps = [engine._next_due[cid] - engine._last_step[cid] for cid in cids]
        assert gaps == pytest.approx([engine._fallback(cid, engine._last_step[cid]) for cid in cids])
        assert max(gaps) - min(gaps) > 0.05  # stepped in one pass, due apart
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.stop(cancel_orders=False)
