"""Risk scenarios end to end: the engine on the real order path against the stand-in's venue."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from engines import Writes, hit_our_bid, ours, running_engine, yes_bids

from polymm.domain.market import Side
from polymm_standin.server import run_exchange
from polymm_standin.sim.matching import OrderType

pytestmark = pytest.mark.asyncio


async def test_kill_leaves_zero_orders_at_the_venue_within_a_second_and_nothing_until_rearmed(wait_until) -> None:
    async with run_exchange(port=0, seed=61, flow_rate=20) as ex, running_engine(ex) as engine:
        await wait_until(lambda: len(ours(ex, engine)) >= 6)
        t0 = time.monotonic()
        await engine.kill("scenario")
        await wait_until(lambda: ours(ex, engine) == [], timeout=1.0)
        assert time.monotonic() - t0 < 1.0
        assert engine.store.get("risk").halted and engine.store.get("risk").reason == "scenario"
        steps = [Writes(engine.store, f"book/{cid}") for cid in engine.markets]
        frames = engine.feed.frames
        # several strategy steps of every market and book changes later
        await wait_until(lambda: all(n() >= 3 for n in steps) and engine.feed.frames >= frames + 10)
        assert ours(ex, engine) == [] and engine.execution.open_orders() == []
        await engine.rearm()
        await wait_until(lambda: len(ours(ex, engine)) >= 6)


async def test_the_daily_loss_limit_trips_on_a_forced_adverse_move(wait_until) -> None:
    async with run_exchange(port=0, seed=62, flow=False) as ex, running_engine(
        ex, count=1, daily_loss_limit=Decimal(1), default_size=Decimal(10)
    ) as engine:
        cid = next(iter(engine.markets))
        await wait_until(lambda: len(yes_bids(ours(ex, engine, cid))) >= 1)
        size = hit_our_bid(ex, engine, cid)
        await wait_until(lambda: engine.portfolio.position(cid).qty == size)
        # the market collapses: every bid is swept away and the last trade prints at 0.05
        m = engine.markets[cid]
        ex.matching.place("test-taker", m.yes_token, Side.SELL, 500, Decimal(20_000), order_type=OrderType.FAK)
        ex.matching.place("test-maker", m.yes_token, Side.BUY, 500, Decimal(20))
        ex.matching.place("test-taker", m.yes_token, Side.SELL, 500, Decimal(20), order_type=OrderType.FAK)
        # generous deadlines (a loaded 2-core CI machine took over 5 s once); a pass takes well under 1 s
        await wait_until(lambda: engine.halted, timeout=30)
        assert engine.halt_reason.startswith("daily loss")
        assert engine.store.get("risk").daily_pnl < -1
        await wait_until(lambda: ours(ex, engine) == [], timeout=15)


async def test_a_stale_feed_pulls_the_quotes_and_they_return_when_it_recovers(wait_until) -> None:
    async with run_exchange(port=0, seed=63, flow_rate=50) as ex, running_engine(
        ex, count=2, feed_stale_s=1.0
    ) as engine:
        await wait_until(lambda: len(ours(ex, engine)) >= 4)
        ex.standin.controls.freeze_market_ws(True)  # socket up, no data, while the books move

        def pulled() -> bool:  # a market marked untrusted with nothing of ours left at the venue
            return any((st := engine.store.market(cid)) is not None and st.status == "untrusted"
                       and ours(ex, engine, cid) == [] for cid in engine.markets)

        await wait_until(pulled, timeout=8)
        assert any("quotes pulled" in e.text for e in engine.store.get("events"))
        ex.standin.controls.freeze_market_ws(False)
        await wait_until(lambda: len(ours(ex, engine)) >= 4, timeout=10,
                         why=lambda: [e.text for e in engine.store.get("events")][-15:])


async def test_at_the_position_limit_the_adding_side_stops(wait_until) -> None:
    async with run_exchange(port=0, seed=64, flow=False) as ex, running_engine(
        ex, count=1, default_size=Decimal(50), default_position_limit=Decimal(50)
    ) as engine:
        cid = next(iter(engine.markets))
        await wait_until(lambda: len(yes_bids(ours(ex, engine, cid))) >= 1)
        size = hit_our_bid(ex, engine, cid)
        await wait_until(lambda: engine.portfolio.position(cid).qty == size)
        await wait_until(lambda: ours(ex, engine, cid) and not yes_bids(ours(ex, engine, cid)), timeout=5)
        steps = Writes(engine.store, f"book/{cid}")
        await wait_until(lambda: steps() >= 3)  # steps keep running: still no bid, the reducing ask still rests
        assert yes_bids(ours(ex, engine, cid)) == []
        assert [o.yes_side for o in ours(ex, engine, cid)] == [Side.SELL]
        assert "long limit" in engine.store.market(cid).reason
