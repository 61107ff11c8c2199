"""The headless engine on the real order path against the stand-in."""

from __future__ import annotations

import time

import pytest
from engines import Writes, ours, running_engine

from polymm.domain.market import Side
from polymm_standin.server import run_exchange

pytestmark = pytest.mark.asyncio



async def test_a_tick_size_change_moves_quoting_and_the_client_to_the_new_grid(wait_until) -> None:
    async with run_exchange(port=0, seed=41, flow_rate=20) as ex, running_engine(ex) as engine:
        m = next(m for m in engine.markets.values() if m.tick.text == "0.01")
        await wait_until(lambda: len(engine.execution.open_orders(m.condition_id)) >= 2)
        ex.standin.change_tick_size(m.condition_id, "0.001")
        await wait_until(lambda: engine.markets[m.condition_id].tick.text == "0.001")
        # pitfall 9: the client's tick cache never expires by itself; the SDK's ``get_tick_size`` answers
        # from it (it asks the venue only for a token it has never seen)
        ticks = [await engine.execution.client_tick_size(t) for t in (m.yes_token, m.no_token)]
        assert ticks == ["0.001", "0.001"]
        steps = Writes(engine.store, f"book/{m.condition_id}")
        await wait_until(lambda: steps() >= 3)  # the market steps on the new grid
        await wait_until(lambda: len([o for o in ours(ex, engine) if o.market.condition_id == m.condition_id]) >= 2)
        assert engine.execution.rejects == 0


async def test_stop_cancels_every_order_at_the_venue(wait_until) -> None:
    async with run_exchange(port=0, seed=42, flow_rate=10) as ex:
        async with running_engine(ex) as engine:
            await wait_until(lambda: len(ours(ex, engine)) >= 6)
            key = engine.execution.api_key
        assert [o for o in ex.matching.open_orders() if o.owner == key] == []


async def test_the_engine_records_market_frames_when_asked(tmp_path, wait_until) -> None:
    from polymm.domain.messages import parse_frame
    from polymm.venue.recorder import FrameReader

    async with run_exchange(port=0, seed=43, flow_rate=50) as ex:
        async with running_engine(ex, record_dir=str(tmp_path)) as engine:
            await wait_until(lambda: engine.feed.frames >= 100)
            seen = engine.feed.frames
        frames = list(FrameReader(tmp_path))
        assert len(frames) >= seen and all(not parse_frame(raw)[1] for _, raw in frames)


async def test_a_model_switch_takes_effect_on_the_next_step_and_decisions_reach_the_store(wait_until) -> None:
    async with run_exchange(port=0, seed=44, flow_rate=20) as ex, running_engine(
        ex, count=1, default_model="pm4"
    ) as engine:
        cid = next(iter(engine.markets))
        await wait_until(lambda: engine.store.get(f"decision/{cid}") is not None and len(ours(ex, engine)) >= 2)
        assert engine.store.get(f"decision/{cid}").model == "pm4"
        assert "PM4" in engine.store.get(f"decision/{cid}").reason
        engine.set_params(cid, model="fixed", spread="0.06")
        await wait_until(lambda: engine.store.get(f"decision/{cid}").model == "fixed")
        d = engine.store.get(f"decision/{cid}")
        assert d.targets and "fixed spread around mid" in d.reason
        assert engine.store.get(f"signals/{cid}").condition_id == cid
        # the venue now holds the fixed quotes: the 6-cent width apart

        def width() -> int:
            bids = [o.yes_price for o in ours(ex, engine) if o.yes_side is Side.BUY]
            asks = [o.yes_price for o in ours(ex, engine) if o.yes_side is Side.SELL]
            return min(asks) - max(bids) if bids and asks else 0

        await wait_until(lambda: width() >= 600)


async def test_the_fallback_step_interval_adapts_to_activity() -> None:
    from polymm.config import load_settings
    from polymm.engine.engine import Engine
    from polymm_standin.sim.catalog import make_markets

    settings = load_settings(_env_file=None, quote_interval_s=2.0, quote_interval_fast_s=0.1)
    m = make_markets(1, 1)[0]
    engine = Engine(settings, [m])
    now = time.monotonic()
    assert engine._interval(m.condition_id, now) == 2.0  # quiet
    engine._on_books_changed({m.condition_id})
    assert engine._interval(m.condition_id, time.monotonic()) == 0.1  # active
    assert engine._interval(m.condition_id, time.monotonic() + 6.0) == 2.0  # quiet again
    await engine.public.aclose()
