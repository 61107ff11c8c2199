"""Quoting models (Avellaneda–Stoikov, PM4) and their building blocks: layers, order diff, inventory
skew, YES/NO parity and liquidity-reward scoring."""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import ROUND_DOWN, Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polymm.domain.market import Side
from polymm.domain.model_state import EwmaParams, ModelState, update
from polymm.domain.order_book import BookView, Level
from polymm.domain.order_diff import AGE_SPREAD, LiveOrder, age_limit, diff_orders
from polymm.domain.params import MarketParams
from polymm.domain.prices import ALL_TICKS, MAX_PIPS, Tick
from polymm.domain.quoting import Quote, Targets, parity_ok
from polymm.domain.quoting_models.avellaneda import AvellanedaParams, as_spread, avellaneda_quotes, horizon_variance
from polymm.domain.quoting_models.pm4 import PM4Params, liquidity_premium, pm4_quotes
from polymm.domain.quoting_models.shaping import layered, skew
from polymm.domain.rewards import adjusted_mid, clamp_to_rewards, order_score, reward_score
from polymm.domain.sizes import cap_total, taper_sizes

T01 = Tick.parse("0.01")
D = Decimal


from books import book_view, market_on  # noqa: E402 - the tests' own helper module

_market = market_on
_view = book_view


def _prices(quotes: tuple[Quote, ...]) -> list[int]:
    return [q.price for q in quotes]


# ---------------------------------------------------------------- EWMA state


def test_update_seeds_then_smooths_with_a_variance_per_second() -> None:
    e = EwmaParams(alpha_fair=0.5, vol_half_life=4.0, alpha_fast=0.5, alpha_slow=0.25)
    s0 = ModelState()
    assert update(s0, _view("0.01", {4800: 1}, {}), e, 10.0) == s0  # one-sided: unchanged
    s1 = update(s0, _view("0.01", {4800: 1}, {5200: 3}), e, 10.0)  # micro = (4800*3 + 5200*1)/4 = 4900
    assert s1 == ModelState(fair=4900.0, last_mid=5000.0, var=0.0, abs_fast=0.0, abs_slow=0.0, n=1, last_t=10.0)
    # 4 s later the mid is 100 pips higher: sq = 100², dt = 4, var = 2500 pips²/s
    s2 = update(s1, _view("0.01", {5000: 1}, {5200: 1}), e, 14.0)  # micro 5100, mid 5100: d = 100
    assert s2.fair == pytest.approx(5000.0)
    assert s2.var == pytest.approx(2500.0) and s2.sigma == pytest.approx(50.0)
    assert s2.abs_fast == pytest.approx(50.0) and s2.abs_slow == pytest.approx(25.0)
    assert s2.regime() == pytest.approx(2.0) and s2.n == 2 and s2.last_t == 14.0
    # a view at the same instant moves the fair value only; its change counts with the next one's time
    s3 = update(s2, _view("0.01", {5100: 1}, {5300: 1}), e, 14.0)
    assert (s3.last_mid, s3.last_t, s3.var, s3.n) == (5100.0, 14.0, s2.var, 3) and s3.fair == pytest.approx(5100.0)
    s4 = update(s3, _view("0.01", {5100: 1}, {5300: 1}), e, 15.0)  # d = 100 from 5100 over 1 s
    w = 2 ** -0.25  # 1 s at a 4 s half-life
    assert s4.sq == pytest.approx(w * 100.0**2 + 100.0**2) and s4.dt == pytest.approx(w * 4.0 + 1.0)
    assert s4.var == pytest.approx(s4.sq / s4.dt)
    assert ModelState(abs_fast=10, abs_slow=1).regime() == 2.0  # clipped above: the PM4 original's 2.0
    assert ModelState(abs_fast=1, abs_slow=10).regime() == 0.8  # clipped below: its 0.8
    assert ModelState().regime() == 1.0
    with pytest.raises(ValueError, match="alpha_fair"):
        EwmaParams(alpha_fair=0)
    with pytest.raises(ValueError, match="vol_half_life"):
        EwmaParams(vol_half_life=0)


def _walk(step_s: float, seconds: float, seed: int, sigma_pips_per_s: float = 20.0) -> ModelState:
    """A random walk of the mid sampled every ``step_s`` seconds, fed through ``update``."""
    import random

    rng = random.Random(seed)
    state, mid, t = ModelState(), 5000.0, 0.0
    e = EwmaParams(vol_half_life=2_000.0)
    while t < seconds:
        mid += rng.gauss(0.0, sigma_pips_per_s * step_s**0.5)
        b = int(mid) - 50
        view = _view("0.0001", {b: 10}, {b + 100: 10})  # mid = b + 50 on the 1-pip grid
        state = update(state, view, e, t)
        t += step_s
    return state


def test_sigma_is_per_second_whatever_the_update_rate() -> None:
    """The same walk (σ = 20 pips per √s) sampled every 0.25 s and every 4 s gives the same σ per
    second, where a per-update σ would read 10 and 40 pips."""
    fast = _walk(0.25, 8_000, 1)
    slow = _walk(4.0, 40_000, 2)
    assert fast.sigma == pytest.approx(20.0, rel=0.1)
    assert slow.sigma == pytest.approx(20.0, rel=0.1)
    # a burst of 199 one-tick bounces a millisecond apart, after 100 quiet seconds: about 199 ticks²
    # over the last ~87 s of memory (60 s half-life), not 10⁴ ticks² per second
    state = update(ModelState(), _view("0.01", {4900: 1}, {5100: 1}), EwmaParams(), 0.0)
    for i in range(1, 200):
        state = update(state, _view("0.01", {4900 + 100 * (i % 2): 1}, {5100 + 100 * (i % 2): 1}), EwmaParams(),
                       100.0 + i / 1000)
    assert 199 * 100.0**2 / 100.2 < state.var < 199 * 100.0**2 / 60
    # the view's own timestamp (exchange ms) is the clock when no ``now`` is given
    v = _view("0.01", {4900: 1}, {5100: 1})
    assert update(ModelState(), v).last_t == v.timestamp / 1000


# ---------------------------------------------------------------- models: examples

WIDE = _view("0.01", {4000: 10}, {6000: 10})


def test_avellaneda_flat_and_long_by_hand() -> None:
    params = MarketParams(size=D(10), position_limit=D(100))
    # kappa 1e5: the A-S spread 2/kappa is 0.2 pips, so the minimum width (2 cents) is what shows
    flat = avellaneda_quotes(WIDE, D(0), params, ModelState(fair=5000.0), AvellanedaParams(kappa=1e5))
    assert flat.quotes == (Quote(Side.BUY, 4900, D(10)), Quote(Side.SELL, 5100, D(10)))
    assert flat.fair == 5000.0
    # sigma 10 pips per √s: sigma² = 1e-6 per s; T - t = 100 s: V = 1e-4 (far under p(1-p) = 0.25)
    # gamma 2 per USDC, 50 shares: r = 0.50 - 50*2*1e-4 = 0.49
    # spread = 2*1e-4 + (2/2)*ln(1 + 2/50) = 0.03942: h = 0.01971 -> flat 0.48029 / 0.51971, long 0.47029 / 0.50971
    state = ModelState(fair=5000.0, var=10.0**2)
    model = AvellanedaParams(gamma=2, horizon=100, kappa=50)
    flat = avellaneda_quotes(WIDE, D(0), params, state, model)
    assert flat.quotes == (Quote(Side.BUY, 4800, D(10)), Quote(Side.SELL, 5200, D(10)))
    long = avellaneda_quotes(WIDE, D(50), params, state, model)
    assert long.quotes == (Quote(Side.BUY, 4700, D(5)), Quote(Side.SELL, 5100, D(10)))  # both move; bid tapered
    assert "A-S" in long.reason and "T=100s" in long.reason and "k=50" in long.reason
    # the horizon's variance is capped by p(1 - p): at p = 0.05 and a day's horizon V = 0.0475, not 8.64
    low = _view("0.01", {100: 1}, {900: 1})
    t = avellaneda_quotes(low, D(1), params, msgspec.structs.replace(state, fair=500.0),
                          AvellanedaParams(gamma=0.1, horizon=86_400, kappa=1e5))
    # r = 0.05 - 1*0.1*0.0475 = 0.04525; spread = 0.1*0.0475 + 20*ln(1 + 1e-6) = 0.00477: h = min width 0.01
    assert _prices(t.bids) == [300] and _prices(t.asks) == [600]  # 0.03525 down, 0.05525 up


def test_as_formulas_in_the_papers_units() -> None:
    # V = min(sigma² (T - t), p (1 - p))
    assert horizon_variance(4.0, 1.0, 0.5) == 0.25  # the Brownian variance would be 4: capped
    assert horizon_variance(1e-6, 100.0, 0.5) == pytest.approx(1e-4)
    assert horizon_variance(1e-6, 100.0, 0.0) == 0.0  # a resolved price does not move
    # the paper's example: gamma 0.1, sigma 2, T - t = 1, k = 1.5: spread = 0.4 + 20 ln(1 + 1/15) = 1.6908
    assert as_spread(0.1, 4.0, 1.5) == pytest.approx(0.4 + 20 * math.log(1 + 0.1 / 1.5))
    assert as_spread(0.1, 4.0, 1.5) == pytest.approx(1.6908, abs=1e-4)
    assert as_spread(0.0, 4.0, 1.5) == pytest.approx(2 / 1.5)  # the risk-neutral limit
    assert as_spread(1e-9, 4.0, 1.5) == pytest.approx(2 / 1.5, rel=1e-6)  # continuous at gamma -> 0
    with pytest.raises(ValueError, match="kappa"):
        AvellanedaParams(kappa=0)
    with pytest.raises(ValueError, match="horizon"):
        AvellanedaParams(horizon=-1)


def test_avellaneda_skew_is_in_shares_not_a_fraction_of_the_limit() -> None:
    """gamma is per USDC with the inventory in shares: the same 20 shares shift r alike whatever the
    position limit (normalising by the limit made a larger limit a weaker skew per share)."""
    state = ModelState(fair=5000.0, var=10.0**2)
    model = AvellanedaParams(gamma=5, horizon=1_000, kappa=1e5)  # shift 20*5*1e-3 = 0.1
    for limit in (D(50), D(100), D(1000)):
        t = avellaneda_quotes(WIDE, D(20), MarketParams(position_limit=limit), state, model)
        # r = 0.40, h = the minimum 0.01: bid 0.39, ask 0.41 (one tick over the best bid 0.40)
        assert (t.bids[0].price, t.asks[0].price) == (3900, 4100), limit


def test_pm4_by_hand() -> None:
    params = MarketParams(size=D(10), position_limit=D(100))
    model = PM4Params(gamma_a=1.0, skew_ticks=2.0, min_spread=0.02)
    flat = pm4_quotes(WIDE, D(0), params, ModelState(fair=5000.0), model)
    assert _prices(flat.bids) == [4900] and _prices(flat.asks) == [5100]
    # q = 0.5: M = 2; c = 0.50 - 0.5*2*0.01 = 0.49; bid = 0.49 - 0.02 = 0.47, ask = 0.49 + 0.01
    long = pm4_quotes(WIDE, D(50), params, ModelState(fair=5000.0), model)
    assert long.quotes == (Quote(Side.BUY, 4700, D(5)), Quote(Side.SELL, 5000, D(10)))
    short = pm4_quotes(WIDE, D(-50), params, ModelState(fair=5000.0), model)
    assert short.quotes == (Quote(Side.BUY, 5000, D(10)), Quote(Side.SELL, 5300, D(5)))
    # a hot regime (fast/slow = 9) is clipped at the original's J = 2: the half-spread doubles
    hot = pm4_quotes(WIDE, D(0), params, ModelState(fair=5000.0, abs_fast=9, abs_slow=1), model)
    assert _prices(hot.bids) == [4800] and _prices(hot.asks) == [5200] and "J=2.00" in hot.reason
    # a J passed in (the strategy's, from the signals) replaces the state's, within the same clip; a
    # calm regime narrows a volatility-wide spread, but never below the minimum width
    calm = pm4_quotes(WIDE, D(0), params, ModelState(fair=5000.0, abs_fast=9, abs_slow=1), model, 0.1)
    assert "J=0.80" in calm.reason and _prices(calm.bids) == [4900] and _prices(calm.asks) == [5100]
    vol = ModelState(fair=5000.0, var=100.0**2)  # σ 100 pips per √s: b = 1.5·0.01 = 0.015
    assert _prices(pm4_quotes(WIDE, D(0), params, vol, model, 0.8).bids) == [4800]  # h = 0.012: 0.488 down
    # gamma_a is the exponent of M: 2 gives M = 4 at q = 0.5 -> bid = 0.49 - 0.04 = 0.45
    steep = pm4_quotes(WIDE, D(50), params, ModelState(fair=5000.0), replace(model, gamma_a=2.0))
    assert _prices(steep.bids) == [4500] and "M=4.00" in steep.reason


def test_models_never_cross_and_respect_limits() -> None:
    tight = _view("0.01", {4900: 1}, {5000: 1})
    params = MarketParams(position_limit=D(50), layers=2)
    for quote in (
        lambda v, p, s: avellaneda_quotes(v, p, params, s, AvellanedaParams()),
        lambda v, p, s: pm4_quotes(v, p, params, s, PM4Params()),
    ):
        far = quote(tight, D(0), ModelState(fair=9000.0))  # fair far above the book
        assert _prices(far.bids) == [4900, 4800] and min(_prices(far.asks)) > 4900
        long = quote(tight, D(50), ModelState())
        assert long.bids == () and len(long.asks) == 2 and "long limit" in long.reason
        short = quote(tight, D(-50), ModelState())
        assert short.asks == () and len(short.bids) == 2 and "short limit" in short.reason
        assert quote(tight, D(0), ModelState()).fair == tight.microprice  # unseeded state: microprice
        off = quote(_view("0.01", {4900: 1}, {}), D(0), ModelState())
        assert off.quotes == () and "one-sided" in off.reason
    disabled = avellaneda_quotes(tight, D(0), params.updated(enabled=False), ModelState(), AvellanedaParams())
    assert disabled == Targets((), None, "disabled")


# ---------------------------------------------------------------- inventory, layers, diff


def test_taper_and_skew() -> None:
    assert taper_sizes(D(0), D(10), D(100)) == (D(10), D(10))
    assert taper_sizes(D(25), D(10), D(100)) == (D("7.5"), D(10))
    assert taper_sizes(D(-75), D(10), D(100)) == (D(10), D("2.5"))
    assert taper_sizes(D(100), D(10), D(100)) == (D(0), D(10))
    assert taper_sizes(D(98), D(10), D(100)) == (D(0.2).quantize(D("0.01")), D(10))  # room 2 > taper 0.2
    assert taper_sizes(D(-200), D(10), D(100)) == (D(10), D(0))
    assert taper_sizes(D(95), D(100), D(100)) == (D(5), D(100))  # taper 5, room 5
    s = skew(4900.0, 5100.0, D(50), D(100), D(10), 4, T01)  # shift 0.5*4 ticks = 200 pips
    assert (s.bid, s.ask, s.bid_size, s.ask_size) == (4700.0, 4900.0, D(5), D(10))
    s = skew(4900.0, 5100.0, D(-100), D(100), D(10), 4, T01)
    assert (s.bid, s.ask, s.bid_size, s.ask_size) == (5300.0, 5500.0, D(10), D(0))


def test_layered_steps_sizes_and_edges() -> None:
    q = layered(4900, 5100, 3, 200, D(10), 2.0, T01, ask_size=D(1))
    assert q == (
        Quote(Side.BUY, 4900, D(10)),
        Quote(Side.BUY, 4700, D(20)),
        Quote(Side.BUY, 4500, D(40)),
        Quote(Side.SELL, 5100, D(1)),
        Quote(Side.SELL, 5300, D(2)),
        Quote(Side.SELL, 5500, D(4)),
    )
    assert _prices(layered(300, None, 5, 150, D(1), 1.0, T01)) == [300, 100]  # step 0.015 -> 0.02; 0 dropped
    assert layered(300, 9800, 2, 100, D(0), 1.0, T01) == ()  # zero size: nothing
    assert _prices(layered(None, 9800, 3, 1, D(1), 1.0, T01)) == [9800, 9900]  # step < tick -> 1 tick
    assert cap_total(q[:3], D(25)) == (Quote(Side.BUY, 4900, D(10)), Quote(Side.BUY, 4700, D(15)))
    assert cap_total(q[:3], D(0)) == ()


def test_diff_orders_keeps_queue_position() -> None:
    def live(oid: str, side: Side, price: int, size: int = 10, at: float = 0.0) -> LiveOrder:
        return LiveOrder(oid, side, price, D(size), at)

    existing = [
        live("b0", Side.BUY, 4900),
        live("b1", Side.BUY, 4700),  # target moved 1 tick: within tolerance, kept
        live("b2", Side.BUY, 4500),  # target moved 3 ticks: replaced
        live("a0", Side.SELL, 5100, at=-100),  # too old: replaced
        live("a1", Side.SELL, 5300, size=5),  # size changed: replaced
        live("x", Side.SELL, 9000),  # no target: cancelled
    ]
    targets = [
        Quote(Side.BUY, 4900, D(10)),
        Quote(Side.BUY, 4600, D(10)),
        Quote(Side.BUY, 4200, D(10)),
        Quote(Side.SELL, 5100, D(10)),
        Quote(Side.SELL, 5300, D(10)),
    ]
    cancel, place = diff_orders(existing, targets, tolerance_ticks=1, max_age_s=60, now=10.0, tick=T01)
    assert {o.order_id for o in cancel} == {"b2", "a0", "a1", "x"}
    assert place == (targets[2], targets[3], targets[4])
    same = diff_orders(existing[:3], [*targets[:2], Quote(Side.BUY, 4500, D(10))], 0, 60, 10.0, T01)
    assert same == ((existing[1],), (targets[1],))  # tolerance 0: only the exact ones kept


def test_each_order_has_its_own_age_limit_so_orders_placed_together_are_not_replaced_together() -> None:
    """An order's age limit is ``max_age_s`` less up to a quarter, fixed by its id: the same in every run
    (replays replace the same orders), spread across the last quarter for orders placed together — so
    the start's orders do not all come due in one burst. ``diff_orders`` keeps an order within its own
    limit and replaces it past it, whatever the others' limits."""
    limits = [age_limit(f"0x{i:064x}", 300.0) for i in range(2000)]
    assert all(300.0 * (1 - AGE_SPREAD) <= x <= 300.0 for x in limits)
    assert min(limits) < 230.0 and max(limits) > 295.0  # spread over the whole quarter
    assert sum(1 for x in limits if x < 262.5) == pytest.approx(1000, abs=120)  # evenly, about half below the middle
    assert age_limit("0xabc", 300.0) == age_limit("0xabc", 300.0) != age_limit("0xabd", 300.0)
    early = next(f"e{i}" for i in range(1000) if age_limit(f"e{i}", 60.0) < 50.0)
    late = next(f"l{i}" for i in range(1000) if age_limit(f"l{i}", 60.0) > 55.0)
    target = [Quote(Side.BUY, 4900, D(10))]
    for oid, replaced in [(early, True), (late, False)]:  # both 52 s old: past the one's limit, within the other's
        order = LiveOrder(oid, Side.BUY, 4900, D(10), 0.0)
        cancel, place = diff_orders([order], target, tolerance_ticks=1, max_age_s=60, now=52.0, tick=T01)
        assert (cancel, place) == (((order,), tuple(target)) if replaced else ((), ())), oid
    order = LiveOrder(late, Side.BUY, 4900, D(10), 0.0)
    assert diff_orders([order], target, 1, 60, 60.5, T01) == ((order,), tuple(target))  # past every limit


def test_a_partly_filled_order_whose_remainder_still_fits_keeps_its_queue_place() -> None:
    """A fill no longer costs the rest of an order its place: a partly filled order whose remainder is
    at most its target's size and at least half of it satisfies the target (exactly or within tolerance);
    an unfilled order of a different size, a remainder under half, or one over the target is replaced."""
    def live(oid: str, price: int, left: str, partial: bool = True) -> LiveOrder:
        return LiveOrder(oid, Side.BUY, price, D(left), 0.0, partial)

    target = [Quote(Side.BUY, 4900, D(10))]
    for order, kept in [
        (live("p6", 4900, "6"), True),  # 4 of 10 filled, 6 left: kept
        (live("p5", 4800, "5"), True),  # half left, one tick off: within tolerance, kept
        (live("p4", 4900, "4"), False),  # under half left: replaced
        (live("u6", 4900, "6", partial=False), False),  # not filled, just smaller (a cut): replaced
        (live("p12", 4900, "12"), False),  # more than the target now allows: replaced
    ]:
        cancel, place = diff_orders([order], target, tolerance_ticks=1, max_age_s=60, now=1.0, tick=T01)
        assert (cancel, place) == (((), ()) if kept else ((order,), tuple(target))), order.order_id


def test_plan_orders_sees_partial_fills_of_resting_orders() -> None:
    from polymm.domain.requote import plan_orders
    from polymm.venue.execution import OpenOrder

    view = BookView("c", 0, 1, T01, 4800, 5200, 100.0, 100.0, (Level(4800, 100.0),), (Level(5200, 100.0),), None, 0)
    targets = Targets((Quote(Side.BUY, 4900, D(10)),), 5000.0, "t")
    params = MarketParams(model="pm4")
    part = OpenOrder("o1", "c", Side.BUY, 4900, D(10), filled=D(3), placed_at=0.0)
    plan = plan_orders([part], targets, view, params, T01, epoch_changed=False, forced=False, last_fair=5000.0,
                       now=1.0)
    assert plan is not None and plan.cancel == () and plan.place == ()  # 7 left of 10: kept in the queue
    fresh = OpenOrder("o2", "c", Side.BUY, 4900, D(7), placed_at=0.0)
    plan = plan_orders([fresh], targets, view, params, T01, epoch_changed=False, forced=False, last_fair=5000.0,
                       now=1.0)
    assert plan is not None and plan.cancel == ("o2",) and plan.place == targets.quotes


def test_diff_orders_never_borrows_an_exact_layer_for_its_neighbour() -> None:
    """Bids rest at 0.23 and 0.21; the targets move to 0.22 and 0.21 (one-tick layers, tolerance one
    tick). The order at 0.21 is exactly on its own target, so it stays there and the 0.23 order is the
    one that serves 0.22 — no second order at 0.21, none missing at 0.22."""
    inner = LiveOrder("inner", Side.BUY, 2300, D(10), 0.0)
    outer = LiveOrder("outer", Side.BUY, 2100, D(10), -1.0)  # older: a greedy tie-break would take it
    targets = [Quote(Side.BUY, 2200, D(10)), Quote(Side.BUY, 2100, D(10))]
    cancel, place = diff_orders([inner, outer], targets, tolerance_ticks=1, max_age_s=60, now=1.0, tick=T01)
    assert cancel == () and place == ()


# ---------------------------------------------------------------- parity and rewards


def test_parity_examples() -> None:
    assert parity_ok(4900, 5100, 4900, 5100)
    assert not parity_ok(5000, None, 5000, None)  # buying both for exactly 1: no edge
    assert not parity_ok(5100, None, 4950, None)
    assert not parity_ok(None, 5000, None, 5000)
    assert not parity_ok(None, 4900, None, 5050)
    assert parity_ok(9900, None, None, 100)  # unrelated sides never lock anything
    assert parity_ok(None, None, None, None)


def test_reward_score_by_hand() -> None:
    # mid 0.50, v = 3 cents: bid 0.49 (1 c) scores (2/3)^2*100, ask 0.52 (2 c) scores (1/3)^2*50
    r = reward_score([(4900, 100.0)], [(5200, 50.0)], 5000.0, 3.0, 10.0)
    assert r.q_one == pytest.approx(400 / 9) and r.q_two == pytest.approx(50 / 9)
    assert r.q_min == pytest.approx(400 / 27)  # max(min, max/3) = 44.4/3 > 5.56
    balanced = reward_score([(4900, 100.0)], [(5100, 100.0)], 5000.0, 3.0, 10.0, b=2.0)
    assert balanced.q_one == balanced.q_two == balanced.q_min == pytest.approx(800 / 9)
    one_sided = reward_score([(4900, 90.0)], [], 5000.0, 3.0, 10.0)
    assert one_sided.q_two == 0.0 and one_sided.q_min == pytest.approx(40 / 3)  # 90*(4/9) = 40, / c
    edge = reward_score([(400, 90.0)], [], 500.0, 3.0, 10.0)  # mid 0.05: two-sided required
    assert edge.q_one == pytest.approx(40.0) and edge.q_min == 0.0
    for m, counts in ((999.0, False), (1000.0, True), (9000.0, True), (9001.0, False), (9500.0, False)):
        r1 = reward_score([], [(int(m) + 100, 90.0)], m, 3.0, 10.0)  # 1 c away: 40 on the ask side only
        assert r1.q_two == pytest.approx(40.0) and r1.q_min == (pytest.approx(40 / 3) if counts else 0.0), m
    outside = reward_score([(4700, 100.0)], [(5400, 100.0)], 5000.0, 3.0, 10.0)
    assert (outside.q_one, outside.q_two, outside.q_min) == (0.0, 0.0, 0.0)  # exactly v and beyond
    small = reward_score([(4900, 9.99)], [(5100, 9.99)], 5000.0, 3.0, 10.0)
    assert (small.q_one, small.q_two, small.q_min) == (0.0, 0.0, 0.0)
    assert order_score(5000, 10.0, 5000.0, 3.0, 10.0) == 10.0  # at the mid: full score
    assert order_score(4950, 10.0, 5000.0, 0.0, 1.0) == 0.0  # no band


def test_adjusted_mid_and_clamp_to_rewards() -> None:
    bids = (Level(4900, 1.0), Level(4800, 50.0))
    asks = (Level(5000, 60.0),)
    assert adjusted_mid(bids, asks, 10.0) == 4900.0  # the 1-share bid is ignored
    assert adjusted_mid(bids, asks, 100.0) is None
    # mid 0.50, v = 3 c: band is (0.47, 0.53) exclusive -> lo 0.48, hi 0.52
    assert clamp_to_rewards(4500, 5600, 5000.0, 3.0, T01) == (4800, 5200)
    assert clamp_to_rewards(4900, 5100, 5000.0, 3.0, T01) == (4900, 5100)  # already inside
    assert clamp_to_rewards(None, 5600, 5000.0, 3.0, T01) == (None, 5200)
    assert clamp_to_rewards(4500, 5600, 5000.0, 0.5, T01) == (4500, 5600)  # band holds no grid price
    assert clamp_to_rewards(1000, 9000, 5050.0, 0.3, Tick.parse("0.1")) == (1000, 9000)  # no grid price in band
    assert clamp_to_rewards(1000, 9000, 5050.0, 3.0, Tick.parse("0.1")) == (5000, 9000)  # 0.6 is not < 0.5350
    assert clamp_to_rewards(1000, 9000, 5000.0, 15.0, Tick.parse("0.1")) == (4000, 6000)
    # with inventory only the side that reduces it is pulled in: the adding side keeps the skew's price
    assert clamp_to_rewards(4500, 5600, 5000.0, 3.0, T01, inventory=20.0) == (4500, 5200)
    assert clamp_to_rewards(4500, 5600, 5000.0, 3.0, T01, inventory=-0.01) == (4800, 5600)
    assert clamp_to_rewards(4500, 5600, 5000.0, 3.0, T01, inventory=0.0) == (4800, 5200)


# ---------------------------------------------------------------- property


@st.composite
def cases(draw: st.DrawFn):
    tick = draw(st.sampled_from(ALL_TICKS))
    grid = draw(st.sampled_from([g for g in ALL_TICKS if tick.pips % g.pips == 0]))
    n = MAX_PIPS // grid.pips
    bid_idx = draw(st.integers(1, n - 2))
    ask_idx = draw(st.integers(bid_idx + 1, min(n - 1, bid_idx + draw(st.sampled_from([1, 3, 20, n])))))
    bids = {bid_idx * grid.pips: draw(st.integers(1, 5000)) / 10}
    asks = {ask_idx * grid.pips: draw(st.integers(1, 5000)) / 10}
    tn = MAX_PIPS // tick.pips
    params = MarketParams(
        spread=tick.decimal * 2,
        size=D(draw(st.integers(500, 1_000_000))) / 100,
        layers=draw(st.integers(1, 5)),
        layer_step=tick.decimal * draw(st.integers(1, max(1, min(tn - 1, 30)))),
        position_limit=D(draw(st.integers(1, 10_000))),
    )
    lim = params.position_limit
    positions = st.one_of(
        st.sampled_from([D(0), lim, -lim, lim - D("0.01"), -lim + D("0.01")]),
        st.decimals(min_value=-2 * lim, max_value=2 * lim, places=2),
    )
    p1, p2 = sorted((draw(positions), draw(positions)))
    sigma = draw(st.sampled_from([0.0, 1.0, 30.0, 300.0, 3000.0]))
    state = ModelState(
        fair=draw(st.one_of(st.none(), st.floats(0, MAX_PIPS))),
        var=sigma * sigma,
        abs_fast=draw(st.floats(0, 500)),
        abs_slow=draw(st.floats(0, 500)),
    )
    mult = draw(st.sampled_from([0.5, 1.0, 1.5]))
    fee = draw(st.sampled_from([0.0, 1.0, 2.5]))
    min_spread = float(draw(st.sampled_from(["0.0001", "0.01", "0.04", "0.3"])))
    if draw(st.booleans()):
        model: AvellanedaParams | PM4Params = AvellanedaParams(
            gamma=draw(st.sampled_from([0.0, 0.1, 1.0, 50.0])),
            horizon=draw(st.sampled_from([0.0, 1.0, 100.0, 10_000.0])),
            kappa=draw(st.sampled_from([1.0, 50.0, 300.0, 1e5])),
            fee_ticks=fee,
            min_spread=min_spread,
            size_mult=mult,
        )
    else:
        model = PM4Params(
            gamma_a=draw(st.sampled_from([0.0, 0.5, 1.0, 3.0])),
            skew_ticks=draw(st.sampled_from([0.0, 1.0, 5.0])),
            k_vol=draw(st.sampled_from([0.0, 1.0, 3.0])),
            fee_ticks=fee,
            min_spread=min_spread,
            size_mult=mult,
        )
    return tick, bids, asks, params, p1, p2, state, model


def _run(view: BookView, position: Decimal, params: MarketParams, state: ModelState, model) -> Targets:
    if isinstance(model, AvellanedaParams):
        return avellaneda_quotes(view, position, params, state, model)
    return pm4_quotes(view, position, params, state, model)


def _check(view: BookView, targets: Targets, position: Decimal, params: MarketParams, size_mult: float) -> None:
    tick = view.tick
    assert view.best_bid is not None and view.best_ask is not None
    qb, qa = _prices(targets.bids), _prices(targets.asks)
    assert len(qb) + len(qa) == len(targets.quotes)
    for q in targets.quotes:
        assert tick.valid(q.price), q  # on grid, inside [tick, 1 - tick]
        assert q.size > 0 and q.size == q.size.quantize(D("0.01")), q
        assert q.size <= params.size * D(repr(max(1.0, size_mult) ** (params.layers - 1))), q
    assert all(p < view.best_ask for p in qb) and all(p > view.best_bid for p in qa)
    if qb and qa:
        assert max(qb) < min(qa)
    assert qb == sorted(set(qb), reverse=True) and qa == sorted(set(qa))
    assert len(qb) <= params.layers and len(qa) <= params.layers
    assert sum(q.size for q in targets.bids) <= max(D(0), params.position_limit - position)
    assert sum(q.size for q in targets.asks) <= max(D(0), params.position_limit + position)
    if position >= params.position_limit:
        assert qb == [] and "long limit" in targets.reason
    if position <= -params.position_limit:
        assert qa == [] and "short limit" in targets.reason
    # our own YES quotes mirrored onto NO never lock in a loss
    if qb and qa:
        assert parity_ok(qb[0], qa[0], MAX_PIPS - qa[0], MAX_PIPS - qb[0])


@settings(max_examples=300, deadline=None)
@given(cases())
def test_property_models_on_grid_never_cross_and_skew_with_inventory(case) -> None:
    tick, bids, asks, params, p1, p2, state, model = case
    view = _view(tick, bids, asks)
    t1 = _run(view, p1, params, state, model)
    t2 = _run(view, p2, params, state, model)
    _check(view, t1, p1, params, model.size_mult)
    _check(view, t2, p2, params, model.size_mult)
    assert t1.fair == t2.fair == (state.fair if state.fair is not None else view.microprice)
    for t in (t1, t2):  # the minimum width holds whatever the regime, the skew or the book
        if t.bids and t.asks:
            assert t.asks[0].price - t.bids[0].price >= model.min_spread * 10_000 - 1e-6
    # p1 <= p2: the longer position never raises the inner bid or ask
    if t1.bids and t2.bids:
        assert t2.bids[0].price <= t1.bids[0].price
    if t1.asks and t2.asks:
        assert t2.asks[0].price <= t1.asks[0].price
    # ... nor bids more, nor offers less, on its inner level
    if t1.bids and t2.bids:
        assert t2.bids[0].size <= t1.bids[0].size
    if t1.asks and t2.asks:
        assert t2.asks[0].size >= t1.asks[0].size


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, MAX_PIPS) | st.none(), min_size=4, max_size=4))
def test_property_parity_matches_its_definition(prices) -> None:
    yb, ya, nb, na = prices
    locks_loss = (yb is not None and nb is not None and yb + nb >= MAX_PIPS) or (
        ya is not None and na is not None and ya + na <= MAX_PIPS
    )
    assert parity_ok(yb, ya, nb, na) is not locks_loss


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(ALL_TICKS),
    st.lists(st.tuples(st.booleans(), st.integers(1, 40), st.integers(1, 50)), max_size=8, unique_by=lambda x: x[:2]),
    st.data(),
)
def test_property_diff_orders_keeps_unchanged_layers(tick, raw, data) -> None:
    # targets at least 10 ticks apart per side; a move of 3 ticks is beyond a tolerance of 1
    targets = [Quote(Side.BUY if b else Side.SELL, k * 10 * tick.pips, D(s)) for b, k, s in raw]
    live = [LiveOrder(f"o{i}", q.side, q.price, q.size, float(i)) for i, q in enumerate(targets)]
    assert diff_orders(live, targets, 0, 60, 1.0, tick) == ((), ())
    near = [Quote(q.side, q.price + tick.pips, q.size) for q in targets]  # within tolerance: all kept
    assert diff_orders(live, near, 1, 60, 1.0, tick) == ((), ())
    moved = data.draw(st.sets(st.integers(0, len(targets) - 1)) if targets else st.just(set()))
    new = [Quote(q.side, q.price + 3 * tick.pips, q.size) if i in moved else q for i, q in enumerate(targets)]
    cancel, place = diff_orders(live, new, 1, 60, 1.0, tick)
    assert set(cancel) == {live[i] for i in moved}
    assert list(place) == [new[i] for i in sorted(moved)]
    # orders older than max age are all replaced
    cancel, place = diff_orders(live, targets, 5, 60, 61.0 + len(live), tick)
    assert set(cancel) == set(live) and list(place) == targets


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, MAX_PIPS - 1),
    st.integers(1, MAX_PIPS - 1),
    st.floats(0.5, 10),
    st.floats(0, 500),
    st.floats(0, 50),
)
def test_property_reward_score_zero_outside_band_and_decreasing(price, price2, v, size, min_size) -> None:
    mid = 5000.0
    s = order_score(price, size, mid, v, min_size)
    if abs(price - mid) >= v * 100 or size < min_size:
        assert s == 0.0
    else:
        assert 0.0 <= s <= size
    if abs(price2 - mid) >= abs(price - mid):
        assert order_score(price2, size, mid, v, min_size) <= s
    r = reward_score([(price, size)], [(price2, size)], mid, v, min_size)
    assert min(r.q_one, r.q_two) <= r.q_min <= max(r.q_one, r.q_two)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ALL_TICKS), st.integers(1, MAX_PIPS - 1), st.floats(0.1, 20), st.data())
def test_property_clamp_to_rewards(tick, mid, v, data) -> None:
    if not tick.min_price <= mid <= tick.max_price:
        return
    bid = tick.floor(data.draw(st.integers(tick.min_price, mid)))
    ask = tick.ceil(data.draw(st.integers(mid, tick.max_price)))
    if bid >= ask:
        return
    inventory = data.draw(st.sampled_from([0.0, 5.0, -5.0]))
    nb, na = clamp_to_rewards(bid, ask, float(mid), v, tick, inventory)
    # the side that adds to the inventory never moves
    if inventory > 0:
        assert nb == bid
    if inventory < 0:
        assert na == ask
    if inventory:
        other = clamp_to_rewards(bid, ask, float(mid), v, tick)  # flat: both may move
        assert (na if inventory > 0 else nb) == (other[1] if inventory > 0 else other[0]) or other == (bid, ask)
    assert nb is not None and na is not None
    assert tick.on_grid(nb) and tick.on_grid(na) and nb < na
    assert nb >= bid and na <= ask  # only ever pulled in
    if nb != bid:
        assert mid - v * 100 < nb < mid
    if na != ask:
        assert mid < na < mid + v * 100
    if bid > mid - v * 100:
        assert nb == bid
    if ask < mid + v * 100:
        assert na == ask
    # a longer inventory never raises a quote
    long_b, long_a = clamp_to_rewards(bid, ask, float(mid), v, tick, 5.0)
    short_b, short_a = clamp_to_rewards(bid, ask, float(mid), v, tick, -5.0)
    flat_b, flat_a = clamp_to_rewards(bid, ask, float(mid), v, tick)
    assert long_b <= flat_b <= short_b and long_a <= flat_a <= short_a


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(min_value=-300, max_value=300, places=2),
    st.decimals(min_value=-300, max_value=300, places=2),
    st.integers(1, 200).map(Decimal),
    st.integers(1, 10_000).map(lambda c: Decimal(c) / 100),
    st.floats(0, 20),
)

def test_property_skew_lowers_prices_and_tapers_the_adding_side(a, b, limit, size, skew_ticks) -> None:
    p1, p2 = sorted((a, b))
    s1 = skew(4900.0, 5100.0, p1, limit, size, skew_ticks, T01)
    s2 = skew(4900.0, 5100.0, p2, limit, size, skew_ticks, T01)
    assert s2.bid <= s1.bid and s2.ask <= s1.ask and s2.ask - s2.bid == pytest.approx(200.0)
    assert s2.bid_size <= s1.bid_size and s2.ask_size >= s1.ask_size
    for p, s in ((p1, s1), (p2, s2)):
        assert 0 <= s.bid_size <= min(size, max(Decimal(0), limit - p))
        assert 0 <= s.ask_size <= min(size, max(Decimal(0), limit + p))
        if p >= limit:
            assert s.bid_size == 0
        if p <= -limit:
            assert s.ask_size == 0
        if p == 0:
            assert s.bid_size == s.ask_size == size and s.bid == 4900.0


# ---------------------------------------------------------------- the memoised fast path == the plain Decimal code
#
# ``taper_sizes``, ``layered``, ``cap_total``, ``update`` and the models' ``_finish`` run on memo tables and
# fused loops. The reference below is the straightforward Decimal code they replaced; the results must be
# identical: equal values *and* the same Decimal representation (sizes quantized to 0.01), the same reasons.


def _ref_shares(x: Decimal | float) -> Decimal:
    d = x if isinstance(x, Decimal) else Decimal(repr(float(x)))
    return max(d, Decimal(0)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def _ref_q_hat(position: Decimal, limit: Decimal, bound: float = 1.0) -> float:
    return min(max(float(position / limit), -bound), bound)


def _ref_taper_sizes(position: Decimal, size: Decimal, limit: Decimal) -> tuple[Decimal, Decimal]:
    q = _ref_q_hat(position, limit)
    bid = min(_ref_shares(size * Decimal(repr(1.0 - max(q, 0.0)))), _ref_shares(limit - position))
    ask = min(_ref_shares(size * Decimal(repr(1.0 - max(-q, 0.0)))), _ref_shares(limit + position))
    return bid, ask


def _ref_layered(inner_bid, inner_ask, layers, layer_step, size, size_mult, tick, ask_size=None):
    step = max(tick.ceil(layer_step), tick.pips)
    out: list[Quote] = []
    for side, inner, base, sign in (
        (Side.BUY, inner_bid, size, -1),
        (Side.SELL, inner_ask, size if ask_size is None else ask_size, 1),
    ):
        if inner is None:
            continue
        for i in range(layers):
            p = inner + sign * i * step
            s = _ref_shares(base * Decimal(repr(size_mult**i)))
            if tick.min_price <= p <= tick.max_price and s > 0:
                out.append(Quote(side, p, s))
    return tuple(out)


def _ref_cap_total(quotes, room: Decimal) -> tuple[Quote, ...]:
    out: list[Quote] = []
    left = _ref_shares(room)
    for q in quotes:
        if left <= 0:
            break
        s = min(q.size, left)
        out.append(Quote(q.side, q.price, s))
        left -= s
    return tuple(out)


def _ref_finish(view, position, params, bid_raw, ask_raw, size_mult, fair, reason) -> Targets:
    tick, t = view.tick, view.tick.pips
    bid = tick.floor(min(math.floor(bid_raw), view.best_ask - t))
    ask = tick.ceil(max(math.ceil(ask_raw), view.best_bid + t))
    notes = [reason]
    bid_size, ask_size = _ref_taper_sizes(position, params.size, params.position_limit)
    if position >= params.position_limit:
        notes.append("long limit: no bids")
    if position <= -params.position_limit:
        notes.append("short limit: no asks")
    quotes = _ref_layered(
        bid if bid >= tick.min_price else None,
        ask if ask <= tick.max_price else None,
        params.layers,
        round(params.layer_step * 10_000),
        bid_size,
        size_mult,
        tick,
        ask_size,
    )
    bids = _ref_cap_total([q for q in quotes if q.side is Side.BUY], params.position_limit - position)
    asks = _ref_cap_total([q for q in quotes if q.side is Side.SELL], params.position_limit + position)
    return Targets(bids + asks, fair, "; ".join(notes))


def _ref_avellaneda(view, position, params, state, model) -> Targets:
    if not params.enabled:
        return Targets((), None, "disabled")
    if view.best_bid is None or view.best_ask is None:
        return Targets((), None, "book is one-sided")
    fair = state.fair if state.fair is not None else view.microprice
    p = min(max(fair / 10_000, 0.0), 1.0)
    var_u = state.var / 1e8
    v = min(var_u * model.horizon, p * (1.0 - p))
    g = model.gamma
    r = fair - float(position) * g * v * 10_000
    spread = 2.0 / model.kappa if g <= 0 else g * v + 2.0 / g * math.log1p(g / model.kappa)
    h = max(model.min_spread * 10_000 / 2, spread * 10_000 / 2 + model.fee_ticks * view.tick.pips)
    reason = (f"A-S r={r / 10_000:.4f} h={h / 10_000:.4f} sigma={math.sqrt(var_u):.5f}/s "
              f"T={model.horizon:.0f}s k={model.kappa:.0f}")
    return _ref_finish(view, position, params, r - h, r + h, model.size_mult, fair, reason)


def _ref_pm4(view, position, params, state, model) -> Targets:
    if not params.enabled:
        return Targets((), None, "disabled")
    if view.best_bid is None or view.best_ask is None:
        return Targets((), None, "book is one-sided")
    fair = state.fair if state.fair is not None else view.microprice
    q = _ref_q_hat(position, params.position_limit, 0.99)
    m = 1.0 / (1.0 - abs(q)) ** model.gamma_a
    j = state.regime(model.j_lo, model.j_hi)
    floor = model.min_spread * 10_000 / 2
    h = max(floor, max(floor, model.k_vol * state.sigma + model.fee_ticks * view.tick.pips) * j)
    c = fair - q * model.skew_ticks * view.tick.pips
    bid_half = h * m if q > 0 else h
    ask_half = h * m if q < 0 else h
    reason = f"PM4 c={c / 10_000:.4f} J={j:.2f} M={m:.2f}"
    return _ref_finish(view, position, params, c - bid_half, c + ask_half, model.size_mult, fair, reason)


def _ref_update(state: ModelState, view: BookView, now: float | None = None) -> ModelState:
    e = EwmaParams()
    def ewma(prev, sample, alpha):
        return sample if prev is None else (1.0 - alpha) * prev + alpha * sample

    micro, mid = view.microprice, view.mid
    if micro is None or mid is None:
        return state
    t = view.timestamp / 1000 if now is None else now
    fair = ewma(state.fair, micro, e.alpha_fair)
    if state.last_mid is None or state.last_t is None:
        return msgspec.structs.replace(state, fair=fair, last_mid=mid, last_t=t, n=state.n + 1)
    if t <= state.last_t:
        return msgspec.structs.replace(state, fair=fair, n=state.n + 1)
    d = mid - state.last_mid
    w = 2 ** (-(t - state.last_t) / e.vol_half_life)
    sq = w * state.sq + d * d
    dt = w * state.dt + (t - state.last_t)
    return ModelState(
        fair=fair,
        last_mid=mid,
        var=sq / dt,
        abs_fast=ewma(state.abs_fast, abs(d), e.alpha_fast),
        abs_slow=ewma(state.abs_slow, abs(d), e.alpha_slow),
        n=state.n + 1,
        last_t=t,
        sq=sq,
        dt=dt,
    )


def _same(a, b) -> None:
    """Equal, and every Decimal printed alike (same exponent): identical results."""
    assert a == b
    assert repr(a) == repr(b)


@settings(max_examples=300, deadline=None)
@given(cases(), st.integers(0, 3))
def test_property_models_equal_the_plain_decimal_code(case, repeat) -> None:
    tick, bids, asks, params, p1, p2, state, model = case
    view = _view(tick, bids, asks)
    ref = _ref_avellaneda if isinstance(model, AvellanedaParams) else _ref_pm4
    for position in (p1, p2, D(0)):
        for _ in range(1 + repeat):  # again: now from the memo tables
            _same(_run(view, position, params, state, model), ref(view, position, params, state, model))
            _same(taper_sizes(position, params.size, params.position_limit),
                  _ref_taper_sizes(position, params.size, params.position_limit))
    _same(update(state, view), _ref_update(state, view))
    seeded = update(update(ModelState(), view), _view(tick, asks, {}))  # one-sided second view: unchanged
    _same(seeded, _ref_update(_ref_update(ModelState(), view), _view(tick, asks, {})))
    later = update(update(seeded, view, now=5.0), view, now=5.0 + repeat)  # an instant later, or the same
    _same(later, _ref_update(_ref_update(seeded, view, 5.0), view, 5.0 + repeat))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(ALL_TICKS),
    st.integers(-200, MAX_PIPS + 200) | st.none(),
    st.integers(-200, MAX_PIPS + 200) | st.none(),
    st.integers(0, 6),
    st.integers(0, 700),
    st.decimals(min_value=-5, max_value=5_000, places=4) | st.integers(0, 1000).map(D),
    st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.7, 1.0, 1.1, 1.5, 2.0, 3.0, 5.0, 2, 3, -0.0, 1 / 3]),
    st.decimals(min_value=-5, max_value=5_000, places=3) | st.none(),
    st.decimals(min_value=-50, max_value=5_000, places=5),
)
def test_property_layered_and_cap_total_equal_the_plain_decimal_code(
    tick, inner_bid, inner_ask, layers, step, size, mult, ask_size, room
) -> None:
    for _ in range(2):
        got = layered(inner_bid, inner_ask, layers, step, size, mult, tick, ask_size)
        _same(got, _ref_layered(inner_bid, inner_ask, layers, step, size, mult, tick, ask_size))
        _same(cap_total(got, room), _ref_cap_total(got, room))
        bids = [q for q in got if q.side is Side.BUY]
        _same(cap_total(bids, room), _ref_cap_total(bids, room))


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(min_value=-300, max_value=300, places=3) | st.integers(-300, 300),
    st.decimals(min_value=0, max_value=1000, places=4) | st.integers(0, 1000),
    st.decimals(min_value="0.01", max_value=500, places=2) | st.integers(1, 500),
)
def test_property_taper_sizes_equal_the_plain_decimal_code_for_any_operand_types(position, size, limit) -> None:
    for _ in range(2):
        _same(taper_sizes(position, size, limit), _ref_taper_sizes(position, size, limit))


def test_memo_tables_never_mix_equal_keys_of_other_types() -> None:
    # an int / float equal to a Decimal is the same dict key: they are never served from the tables
    assert taper_sizes(D(1), D(10), D(3)) == _ref_taper_sizes(D(1), D(10), D(3))
    assert taper_sizes(1, 10, 3) == _ref_taper_sizes(1, 10, 3)  # float division, float rounding
    with pytest.raises(TypeError):
        taper_sizes(0.0, D(10), D(100))  # float / Decimal, as the Decimal code raises
    _same(layered(4900, 5100, 5, 100, D(10), 3.0, T01), _ref_layered(4900, 5100, 5, 100, D(10), 3.0, T01))
    _same(layered(4900, 5100, 5, 100, D(10), 3, T01), _ref_layered(4900, 5100, 5, 100, D(10), 3, T01))
    with pytest.raises(TypeError):
        layered(4900, 5100, 2.0, 100, D(10), 1.0, T01)  # type: ignore[arg-type]
    # zeros keep their sign, as quantize does
    _same(taper_sizes(D(0), D("-0"), D(100)), _ref_taper_sizes(D(0), D("-0"), D(100)))
    _same(taper_sizes(D(0), D(0), D(100)), _ref_taper_sizes(D(0), D(0), D(100)))


def test_under_rate_limit_pressure_only_quotes_well_off_target_are_replaced() -> None:
    """With no room at the venue's rate limits, a resting order keeps its place within three times the
    tolerance and up to half smaller than its target — never larger (it would hold more than the limits
    gave the target) — while one the book trades through is still replaced, and named as crossing."""
    from polymm.domain.requote import plan_orders

    params = MarketParams(model="pm4")
    view = book_view(T01, {4000: 50.0}, {6000: 50.0})

    class Resting:
        def __init__(self, oid: str, side: Side, price: int, size: str) -> None:
            self.order_id, self.side, self.price, self.remaining, self.placed_at = oid, side, price, D(size), 0.0
            self.size = self.remaining  # nothing filled

    resting = [Resting("bid", Side.BUY, 4700, "8"), Resting("ask", Side.SELL, 5300, "10")]
    targets = Targets((Quote(Side.BUY, 4900, D(10)), Quote(Side.SELL, 5300, D(10))), 5100.0, "")

    def plan(pressure: bool, orders=resting, t=targets):  # under pressure: three times the tolerance
        return plan_orders(orders, t, view, params, T01, epoch_changed=False, forced=False, last_fair=None,
                           now=1.0, pressure=3.0 if pressure else 1.0)

    assert plan(False).cancel == ("bid",)  # two ticks off and smaller: replaced normally
    assert plan(True).cancel == () and plan(True).place == ()  # kept under pressure
    far = Targets((Quote(Side.BUY, 5100, D(10)), targets.quotes[1]), 5100.0, "")
    assert plan(True, t=far).cancel == ("bid",)  # four ticks off: replaced even so
    bigger = [Resting("bid", Side.BUY, 4900, "12"), resting[1]]
    assert plan(True, orders=bigger).cancel == ("bid",)  # larger than its target: never kept
    crossed = [Resting("bid", Side.BUY, 6000, "10"), resting[1]]
    p = plan(True, orders=crossed)
    assert p.crossing == ("bid",) and "bid" in p.cancel


def test_pm4_liquidity_premium_c_risk_over_kappa_by_hand() -> None:
    """PM4's c_risk and kappa0: c_risk/κ on the base half-spread, κ = kappa0 · depth/size (in quotes,
    clipped to 0.25–100); 0 turns it off. Size 10, c_risk 0.01, kappa0 1."""
    assert liquidity_premium(0.01, 1.0, 10.0, 10.0) == pytest.approx(100.0)  # one quote deep: 0.01
    assert liquidity_premium(0.01, 1.0, 40.0, 10.0) == pytest.approx(25.0)  # four: a quarter
    assert liquidity_premium(0.01, 2.0, 40.0, 10.0) == pytest.approx(12.5)  # kappa0 scales κ
    assert liquidity_premium(0.01, 1.0, 0.0, 10.0) == pytest.approx(400.0)  # empty side: 0.25 quotes at most
    assert liquidity_premium(0.01, 1.0, 1e9, 10.0) == pytest.approx(1.0)  # 100 quotes at least
    assert liquidity_premium(0.01, 1.0, None, 10.0) == pytest.approx(100.0)  # unknown depth: one quote
    assert liquidity_premium(0.0, 1.0, 1.0, 10.0) == 0.0
    params = MarketParams(size=D(10), position_limit=D(100))
    model = PM4Params(gamma_a=1.0, skew_ticks=2.0, min_spread=0.02, c_risk=0.01, kappa0=1.0)
    # one quote deep: h = 0.01 + 0.01 = 0.02 around 0.50
    thin = pm4_quotes(WIDE, D(0), params, ModelState(fair=5000.0), model, depth=10.0)
    assert _prices(thin.bids) == [4800] and _prices(thin.asks) == [5200] and "liquidity +0.0100" in thin.reason
    # an empty side: h = 0.01 + 0.04 = 0.05
    empty = pm4_quotes(WIDE, D(0), params, ModelState(fair=5000.0), model, depth=0.0)
    assert _prices(empty.bids) == [4500] and _prices(empty.asks) == [5500]
    # off (c_risk 0): the spread is the minimum width, and the reason says nothing of it
    off = pm4_quotes(WIDE, D(0), params, ModelState(fair=5000.0), replace(model, c_risk=0.0), depth=0.0)
    assert _prices(off.bids) == [4900] and _prices(off.asks) == [5100] and "liquidity" not in off.reason
    with pytest.raises(ValueError, match="kappa0: must be > 0"):
        PM4Params(kappa0=0.0)
    with pytest.raises(ValueError, match="c_risk: must be >= 0"):
        PM4Params(c_risk=-0.1)


@given(st.floats(0, 1e6), st.floats(-1e6, 1e6), st.floats(0, 1e6), st.integers(0, 10**6), st.floats(0, 1e6))
def test_a_state_with_another_fair_value_is_the_state_replace_gives(fair: float, mid: float, var: float, n: int,
                                                                    new_fair: float) -> None:
    s = ModelState(fair, mid, var, var / 2, var / 3, n, 12.5, var * 4, 0.25)
    assert s.with_fair(new_fair) == msgspec.structs.replace(s, fair=new_fair)
    assert s.with_fair(new_fair).fair == new_fair and s.fair == fair
