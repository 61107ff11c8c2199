"""The synthetic-flow backtest: deterministic, honest fills, bounded inventory, informed flow present."""

from __future__ import annotations

from decimal import Decimal

import pytest

from polymm.backtest import OWNER, Simulation, bench_params, simulate
from polymm.domain.market import Outcome, Side
from polymm.domain.messages import parse_frame
from polymm.domain.order_book import OrderBook
from polymm_standin.sim import frames
from polymm_standin.sim.matching import Trade

MODELS = ("fixed", "avellaneda", "pm4")
STEPS = 600


@pytest.mark.parametrize("model", MODELS)
def test_same_seed_same_report(model: str) -> None:
    a = simulate(3, model, STEPS, bench_params())
    b = simulate(3, model, STEPS, bench_params())
    assert a == b
    assert a.fills > 0  # a run that trades, or equality proves little


def test_different_seed_different_report() -> None:
    a = simulate(3, "fixed", STEPS, bench_params())
    b = simulate(4, "fixed", STEPS, bench_params())
    assert a != b
    assert (a.pnl, a.fills, a.condition_id) != (b.pnl, b.fills, b.condition_id)


def test_continuing_a_run_equals_one_long_run() -> None:
    sim = Simulation(5, "pm4", bench_params())
    sim.run(STEPS // 2)
    assert sim.run(STEPS - STEPS // 2) == simulate(5, "pm4", STEPS, bench_params())


# A small limit, so the informed sweeps push the inventory to it.
LIMIT = Decimal(20)


@pytest.mark.parametrize("seed", [0, 4])
def test_inventory_never_passes_the_limit(seed: int) -> None:
    """The true bound is the limit itself, although one flow action can sweep every resting order of
    ours on a side (the informed trader goes up to three levels deep) and fills can be partial: every
    model caps each side's total size by the room left to the limit (``limit − position`` for bids,
    ``limit + position`` for asks), after the liquidity-reward size bump too, and the simulation
    requotes after every flow action, so what rests on a side always fits the room. Checked at every
    fill (``max_abs_inventory``), on a rewards market (index 0) and one without rewards (index 5)."""
    base = bench_params().updated(position_limit=LIMIT)
    top = 0.0
    for model in MODELS:
        for market_index in (0, 5):
            r = simulate(seed, model, 1000, base, market_index=market_index)
            assert abs(r.final_inventory) <= r.max_abs_inventory <= LIMIT, (model, market_index)
            top = max(top, r.max_abs_inventory)
    assert top == LIMIT  # the limit was reached: the bound was exercised


def test_informed_trader_acts_and_hits_us() -> None:
    sim = Simulation(4, "fixed", bench_params())
    r = sim.run(STEPS)
    assert r.informed_actions == sim.flow.actions["informed"] > 0
    assert sim.flow.informed_position != 0
    assert r.informed_fills > 0


@pytest.mark.parametrize("model", ["fixed", "pm4"])
def test_fills_are_the_engines_maker_fills(model: str) -> None:
    """Every maker fill the engine reports for us is booked once, at its price and size, in YES terms."""
    sim = Simulation(6, model, bench_params())
    seen: list[tuple[Side, int, int]] = []

    def watch(event: object) -> None:
        if isinstance(event, Trade):
            for f in event.fills:
                if f.maker_owner == OWNER:
                    yes_side = f.maker_side if f.maker_outcome is Outcome.YES else f.maker_side.other
                    seen.append((yes_side, f.yes_price, f.size))

    sim.matching.add_listener(watch)
    r = sim.run(STEPS)
    pos = sim.portfolio.position(sim.market.condition_id)
    assert len(seen) > 0
    assert pos.fills == r.fills == len(seen)
    assert pos.qty == sum((Decimal(s).scaleb(-6) * (1 if side is Side.BUY else -1) for side, _, s in seen), Decimal(0))
    assert Decimal(str(r.volume)) == sum((Decimal(s).scaleb(-6) for _, _, s in seen), Decimal(0))
    # every order of ours the engine holds is one the venue tracks, at the size it has left
    mine = {o.id: Decimal(o.remaining).scaleb(-6) for o in sim.matching.open_orders(OWNER)}
    assert mine and mine == {o.order_id: o.remaining for o in sim.venue.open_orders()}


def test_view_matches_the_market_channel_book() -> None:
    """The simulation's ``BookView`` equals our ``OrderBook`` fed the stand-in's ``book`` frame of either token."""
    sim = Simulation(1, "avellaneda", bench_params())
    sim.run(300)
    mine = sim.view()
    for outcome in (Outcome.YES, Outcome.NO):
        events, errors = parse_frame(frames.ws_book(sim._book, outcome))
        assert errors == []
        book = OrderBook(sim.market)
        book.apply(events[0])
        theirs = book.view(10)
        for field in ("best_bid", "best_ask", "bid_size", "ask_size", "bids", "asks", "last_trade", "timestamp"):
            assert getattr(mine, field) == getattr(theirs, field), (outcome, field)


def test_the_pnl_is_trading_plus_the_rewards_the_venue_would_pay() -> None:
    # seed 3's market 0 pays a pool with a 20-share reward minimum: fixed quotes of 20 shares at ±2 cents,
    # inside its max spread, score; market 5 pays no rewards
    sim = Simulation(3, "fixed", bench_params(), market_index=0, size=Decimal(20))
    assert sim.market.reward_min_size == 20 and sim.rewards.active
    r = sim.run_until(180.0)
    assert [x.t_s for x in sim.rewards.samples] == [0.0, 60.0, 120.0, 180.0]  # one score a simulated minute
    assert r.rewards == sim.rewards.earned > 0 and 0 < r.reward_share <= 1
    assert r.pnl == pytest.approx(r.trading_pnl + r.rewards)
    none = simulate(3, "fixed", params=bench_params(), market_index=5, seconds=180.0, size=Decimal(20))
    assert none.rewards == 0 and none.pnl == none.trading_pnl
