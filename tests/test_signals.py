"""Tests for polymm.domain.signals: hand-computed values, thresholds, windows and properties."""

from __future__ import annotations

import copy
import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polymm.domain.market import Side
from polymm.domain.order_book import BookView, Level
from polymm.domain.portfolio import Fill
from polymm.domain.prices import Tick
from polymm.domain.signals import (
    CompetitorConfig,
    CompetitorDetector,
    EventConfig,
    EventSignal,
    Ewma,
    FlowConfig,
    FlowImbalance,
    IntensityConfig,
    Liquidity,
    LiquidityConfig,
    LiquidityRegime,
    MarkoutConfig,
    Markouts,
    ParityArb,
    ParityConfig,
    SignalsConfig,
    SignalSet,
    SignalsSnapshot,
    TradingIntensity,
    Volatility,
    VolatilityConfig,
)

TICK = Tick(100)  # 0.01


def view(bid: int | None, ask: int | None, bid_sizes=(100.0,), ask_sizes=(100.0,), tick: Tick = TICK) -> BookView:
    bids = tuple(Level(bid - i * tick.pips, s) for i, s in enumerate(bid_sizes)) if bid is not None else ()
    asks = tuple(Level(ask + i * tick.pips, s) for i, s in enumerate(ask_sizes)) if ask is not None else ()
    return BookView(
        condition_id="c",
        epoch=0,
        version=1,
        tick=tick,
        best_bid=bid,
        best_ask=ask,
        bid_size=bids[0].size if bids else 0.0,
        ask_size=asks[0].size if asks else 0.0,
        bids=bids,
        asks=asks,
        last_trade=None,
        timestamp=0,
    )


def fill(side: Side, price: int, size: str = "10") -> Fill:
    return Fill(condition_id="c", order_id="o", side=side, price=price, size=Decimal(size))


# ------------------------------------------------------------------------------------------ EWMA / volatility


def test_ewma_irregular_steps_hand_computed():
    e = Ewma(half_life=1.0)
    assert not e.ready and e.value == 0.0
    e.add(1.0, dt=1.0)  # d = 0.5: S = 0.5, W = 0.5
    assert e.value == pytest.approx(1.0)
    e.add(3.0, dt=2.0)  # d = 0.25: S = 0.125 + 2.25 = 2.375, W = 0.125 + 0.75 = 0.875
    assert e.value == pytest.approx(2.375 / 0.875)
    e.add(0.0, dt=0.5)  # d = 2^-0.5: S = 2.375·d, W = 0.875·d + 1 − d
    d = 2**-0.5
    assert e.value == pytest.approx(2.375 * d / (0.875 * d + 1 - d))
    before = e.value
    e.add(100.0, dt=0.0)  # no elapsed time: no weight
    assert e.value == before


def test_ewma_long_gap_lets_new_value_dominate():
    a, b = Ewma(10.0), Ewma(10.0)
    a.add(1.0, 1.0)
    b.add(1.0, 1.0)
    a.add(5.0, 0.1)
    b.add(5.0, 100.0)
    assert 1.0 < a.value < 1.5
    assert b.value == pytest.approx(5.0, abs=1e-2)


def test_volatility_sigma_hand_computed():
    v = Volatility(VolatilityConfig(var_half_life=10.0))
    v.update(0.0, 5000.0)
    assert v.snapshot().sigma == 0.0 and v.snapshot().regime == 1.0
    v.update(10.0, 5100.0)  # Δ = 0.01, d = 0.5 → var = 1e-4 (bias-corrected)
    assert v.snapshot().sigma == pytest.approx(0.01)
    assert v.snapshot().sigma_pips == pytest.approx(100.0)
    v.update(30.0, 5100.0)  # Δ = 0, d = 0.25: S = 1.25e-5, W = 0.875
    assert v.snapshot().sigma == pytest.approx(math.sqrt(1.25e-5 / 0.875))
    assert v.snapshot().samples == 2


def test_volatility_same_instant_change_is_not_lost():
    v = Volatility(VolatilityConfig(var_half_life=10.0))
    v.update(0.0, 5000.0)
    v.update(0.0, 5100.0)  # same instant: deferred
    v.update(10.0, 5200.0)  # Δ measured from the sampled 5000 → 0.02
    assert v.snapshot().sigma == pytest.approx(0.02)
    v.update(20.0, None)  # one-sided book ignored
    assert v.snapshot().samples == 1


def test_regime_rises_after_burst():
    v = Volatility(VolatilityConfig(fast_half_life=5.0, slow_half_life=300.0))
    mid = 5000.0
    for i in range(600):
        mid += 1 if i % 2 else -1
        v.update(float(i), mid)
    calm = v.snapshot()
    assert calm.regime == pytest.approx(1.0, abs=0.05)
    for i in range(600, 615):
        mid += 50 if i % 2 else -50
        v.update(float(i), mid)
    burst = v.snapshot()
    assert burst.regime == 2.0  # clipped at j_max: the PM4 original's 2.0
    assert burst.sigma > calm.sigma
    for i in range(615, 1500):  # calm again: fast decays below slow
        v.update(float(i), mid)
    assert v.snapshot().regime == 0.8  # and at j_min, the original's 0.8


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 100.0), st.integers(1, 9999)), max_size=40))
def test_sigma_nonnegative_and_j_bounded(steps):
    v = Volatility()
    t = 0.0
    for dt, mid in steps:
        t += dt
        v.update(t, float(mid))
        s = v.snapshot()
        assert s.sigma >= 0.0 and math.isfinite(s.sigma)
        assert 0.5 <= s.regime <= 3.0


# ------------------------------------------------------------------------------------------ flow


def test_flow_imbalance_sign_and_suggestions():
    f = FlowImbalance(FlowConfig(window=10.0, max_skew_ticks=2.0, widen_k=0.5))
    assert f.snapshot().imbalance == 0.0 and f.snapshot().widen == 1.0
    f.update(0.0, 30.0, True)
    f.update(1.0, 10.0, False)
    s = f.snapshot()
    assert s.imbalance == pytest.approx(0.5)
    assert s.skew_ticks == pytest.approx(1.0) and s.widen == pytest.approx(1.25)
    f.update(2.0, 60.0, False)
    assert f.snapshot().imbalance == pytest.approx((30 - 70) / 100)
    assert f.snapshot().skew_ticks < 0


def test_flow_window_expiry():
    f = FlowImbalance(FlowConfig(window=10.0))
    f.update(0.0, 30.0, True)
    f.update(5.0, 10.0, False)
    f.expire(9.999)
    assert f.snapshot().trades == 2
    f.expire(10.0)  # print at t=0 leaves the (now − 10, now] window
    s = f.snapshot()
    assert s.trades == 1 and s.buy_volume == 0.0 and s.imbalance == -1.0
    f.expire(15.0)
    assert f.snapshot().trades == 0 and f.snapshot().imbalance == 0.0


def test_flow_min_volume_neutralises_suggestions():
    f = FlowImbalance(FlowConfig(min_volume=100.0))
    f.update(0.0, 50.0, True)
    s = f.snapshot()
    assert s.imbalance == 1.0 and s.skew_ticks == 0.0 and s.widen == 1.0


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 30.0), st.floats(0.0, 1e6), st.booleans()), max_size=50))
def test_imbalance_always_bounded(prints):
    f = FlowImbalance(FlowConfig(window=20.0))
    t = 0.0
    for dt, size, buy in prints:
        t += dt
        f.update(t, size, buy)
        assert -1.0 <= f.snapshot().imbalance <= 1.0


# ------------------------------------------------------------------------------------------ liquidity

LCFG = LiquidityConfig(
    levels=2,
    high_max_spread_ticks=1,
    high_min_depth=1000,
    low_min_spread_ticks=5,
    low_max_depth=200,
    crisis_min_spread_ticks=20,
    crisis_max_depth=50,
)


@pytest.mark.parametrize(
    ("spread_ticks", "size", "regime"),
    [
        (1, 500.0, Liquidity.HIGH),  # depth 2×500 = 1000 ≥ 1000 and spread 1 ≤ 1
        (1, 499.0, Liquidity.NORMAL),  # depth 998 < 1000
        (2, 500.0, Liquidity.NORMAL),  # spread 2 > 1
        (4, 100.0, Liquidity.NORMAL),  # depth 200 is not < 200
        (5, 500.0, Liquidity.LOW),  # spread 5 ≥ 5
        (4, 99.0, Liquidity.LOW),  # depth 198 < 200
        (19, 500.0, Liquidity.LOW),
        (20, 500.0, Liquidity.CRISIS),  # spread 20 ≥ 20
        (2, 25.0, Liquidity.LOW),  # depth 50 is not < 50 → LOW only
        (2, 24.0, Liquidity.CRISIS),  # depth 48 < 50
    ],
)
def test_liquidity_thresholds(spread_ticks, size, regime):
    lr = LiquidityRegime(LCFG)
    bid = 5000
    s = lr.update(view(bid, bid + spread_ticks * 100, (size, size, 1e6), (size, size, 1e6)))
    assert s.regime is regime, s.reason
    assert s.spread_ticks == spread_ticks
    assert s.depth == pytest.approx(2 * size)  # only the top 2 levels count
    assert lr.snapshot() == s


def test_liquidity_thin_side_and_one_sided():
    lr = LiquidityRegime(LCFG)
    s = lr.update(view(5000, 5100, (5000.0, 5000.0), (10.0, 10.0)))
    assert s.regime is Liquidity.CRISIS and "depth" in s.reason and s.depth == 20.0
    s = lr.update(view(5000, None))
    assert s.regime is Liquidity.CRISIS and "one-sided" in s.reason
    s = lr.update(view(5000, 5000))
    assert s.regime is Liquidity.CRISIS and "crossed" in s.reason
    # ticks are counted on the book's own tick grid
    s = lr.update(view(5000, 5010, (600.0, 600.0), (600.0, 600.0), tick=Tick(10)))
    assert s.spread_ticks == 1 and s.regime is Liquidity.HIGH


# ------------------------------------------------------------------------------------------ competitor


def _penny(det: CompetitorDetector, t: float, our_bid: int) -> None:
    """We quote at our_bid; someone bids one tick above."""
    det.update(t, our_bid, 6000, our_bid + 100, 6000, 100)


def test_competitor_flagged_after_k_in_t():
    det = CompetitorDetector(CompetitorConfig(window=30.0, min_events=3, action="back_off", back_off_ticks=2))
    _penny(det, 0.0, 5000)
    _penny(det, 1.0, 5000)  # still pennied at the same prices: not re-counted
    _penny(det, 10.0, 5100)  # we matched, they pennied again
    assert det.snapshot().events == 2 and not det.snapshot().flagged  # K − 1
    _penny(det, 20.0, 5200)
    s = det.snapshot()
    assert s.flagged and s.events == 3 and s.bid_events == 3
    assert s.suggestion == "back_off" and s.widen_ticks == 2
    det.expire(30.0)  # the first event leaves the window
    assert not det.snapshot().flagged and det.snapshot().suggestion == "none"


def test_competitor_not_flagged_when_spread_beyond_t():
    det = CompetitorDetector(CompetitorConfig(window=30.0, min_events=3, action="match"))
    for i, t in enumerate((0.0, 16.0, 32.0, 48.0)):
        _penny(det, t, 5000 + 100 * i)
        assert not det.snapshot().flagged


def test_competitor_ask_side_match_and_ignores_big_jumps():
    det = CompetitorDetector(CompetitorConfig(window=30.0, min_events=2, action="match"))
    det.update(0.0, None, 5500, None, 5400, 100)  # pennied on the ask
    det.update(1.0, None, 5500, None, 5500, 100)  # they left
    det.update(2.0, None, 5500, None, 5300, 100)  # 2 ticks better: not a penny
    assert det.snapshot().events == 1
    det.update(3.0, None, 5500, None, 5400, 100)
    s = det.snapshot()
    assert s.flagged and s.ask_events == 2 and s.suggestion == "match" and s.widen_ticks == 0


def test_competitor_rejects_unknown_action():
    with pytest.raises(ValueError, match="allowed"):
        CompetitorConfig(action="panic")


# ------------------------------------------------------------------------------------------ parity


def test_parity_buy_arb_at_threshold():
    p = ParityArb(ParityConfig(threshold_bps=10))
    s = p.update(yes_bid=4800, yes_ask=4900, no_bid=5000, no_ask=5090)  # asks sum 0.9990
    assert s.buy_edge_bps == 10 and s.buy_flag and s.flagged and s.edge_bps == 10
    assert s.sell_edge_bps == -200 and not s.sell_flag
    s = p.update(yes_bid=4800, yes_ask=4900, no_bid=5000, no_ask=5091)  # 9 bps: below threshold
    assert s.buy_edge_bps == 9 and not s.flagged
    assert p.snapshot() == s


def test_parity_sell_arb_and_cost():
    p = ParityArb(ParityConfig(threshold_bps=10, cost_bps=5))
    s = p.update(yes_bid=5020, yes_ask=5100, no_bid=4995, no_ask=5100)  # bids sum 1.0015 → 15 − 5 = 10
    assert s.sell_edge_bps == 10 and s.sell_flag and not s.buy_flag
    s = p.update(yes_bid=5019, yes_ask=5100, no_bid=4995, no_ask=5100)
    assert s.sell_edge_bps == 9 and not s.flagged


def test_parity_from_merged_yes_book():
    p = ParityArb(ParityConfig(threshold_bps=10))
    s = p.update(5000, 5100)  # mirrored NO: sums exactly $1 ± spread, no arb
    assert s.buy_edge_bps == -100 and s.sell_edge_bps == -100 and not s.flagged
    s = p.update(5020, 5000)  # crossed merged book = a 20 bps arb both ways
    assert s.buy_edge_bps == 20 and s.sell_edge_bps == 20 and s.buy_flag and s.sell_flag
    s = p.update(None, 5000)
    assert s.sell_edge_bps is None and s.buy_edge_bps is None and not s.flagged


# ------------------------------------------------------------------------------------------ markouts


def test_markouts_horizons_and_signs():
    m = Markouts(MarkoutConfig(horizons=(1.0, 10.0, 60.0)))
    m.on_mid(99.0, 5000.0)
    m.on_fill(100.0, fill(Side.BUY, 5000, "10"))
    m.on_fill(100.0, fill(Side.SELL, 5010, "30"))
    m.on_mid(100.5, 5020.0)
    assert m.snapshot().counts == (0, 0, 0)
    m.on_mid(101.0, 5030.0)  # exactly t + 1: resolves at this mid
    s = m.snapshot()
    # buy: +(5030 − 5000) = +30; sell: −(5030 − 5010) = −20 → (10·30 + 30·(−20)) / 40 = −7.5
    assert s.counts == (2, 0, 0) and s.means[0] == pytest.approx(-7.5) and s.means[1] is None
    m.on_mid(105.0, 4990.0)
    m.on_mid(112.0, 4900.0)  # t + 10 = 110 passed: resolves at the mid in effect then (4990)
    s = m.snapshot()
    # buy: 4990 − 5000 = −10; sell: 5010 − 4990 = +20 → (−100 + 600) / 40 = 12.5
    assert s.counts == (2, 2, 0) and s.means[1] == pytest.approx(12.5)
    assert s.toxicity == pytest.approx(10 / 40)  # only the buy (size 10) was adverse at 10 s
    assert s.pending == 2
    m.advance(160.0)  # no new mid: the current one (4900) is in effect at t + 60
    s = m.snapshot()
    assert s.means[2] == pytest.approx((10 * -100 + 30 * 110) / 40) and s.pending == 0


def test_toxicity_rises_with_adverse_fills_and_widens():
    m = Markouts(MarkoutConfig(widen_k=1.0))
    m.on_mid(0.0, 5000.0)
    t = 0.0
    tox = []
    for _ in range(5):  # we buy, then the price falls: adverse
        t += 20
        m.on_fill(t, fill(Side.BUY, 5000))
        m.on_mid(t, 5000.0)
        m.on_mid(t + 10, 4950.0)
        m.on_mid(t + 15, 5000.0)
        tox.append(m.snapshot().toxicity)
    assert tox == [1.0] * 5
    assert m.snapshot().widen == pytest.approx(2.0)
    for _ in range(5):  # sells before a fall: good fills dilute toxicity
        t += 20
        m.on_fill(t, fill(Side.SELL, 5000))
        m.on_mid(t + 10, 4950.0)
        m.on_mid(t + 15, 5000.0)
    s = m.snapshot()
    assert s.toxicity == pytest.approx(0.5) and s.widen == pytest.approx(1.0)


def test_markout_config_validates_toxicity_horizon():
    with pytest.raises(ValueError):
        MarkoutConfig(horizons=(1.0, 60.0), toxicity_horizon=10.0)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.0, 20.0), st.booleans(), st.integers(1, 9999), st.integers(1, 9999), st.integers(1, 500)),
        max_size=30,
    )
)
def test_toxicity_bounded(events):
    m = Markouts()
    t = 0.0
    for dt, buy, price, mid, size in events:
        t += dt
        m.on_fill(t, fill(Side.BUY if buy else Side.SELL, price, str(size)))
        m.on_mid(t, float(mid))
        s = m.snapshot()
        assert 0.0 <= s.toxicity <= 1.0 and s.widen >= 1.0


# ------------------------------------------------------------------------------------------ events


def test_resolution_approaching():
    e = EventSignal(EventConfig(widen_hours=24, reduce_only_hours=2, widen_factor=1.5), end_time=100 * 3600.0)
    e.advance(70 * 3600.0)
    s = e.snapshot()
    assert s.hours_to_end == pytest.approx(30) and not s.resolution_near and s.widen == 1.0
    e.advance(76 * 3600.0)  # exactly 24 h left: not yet below
    assert not e.snapshot().resolution_near
    e.advance(77 * 3600.0)
    s = e.snapshot()
    assert s.resolution_near and not s.reduce_only and s.widen == 1.5
    e.advance(98.5 * 3600.0)
    assert e.snapshot().reduce_only
    e.advance(101 * 3600.0)
    assert e.snapshot().reduce_only and e.snapshot().hours_to_end == pytest.approx(-1)
    assert EventSignal().snapshot().hours_to_end is None


def test_volume_spike():
    e = EventSignal(EventConfig(bucket=60.0, volume_half_life=10.0, spike_k=3.0, min_buckets=5))
    t = 0.0
    for _ in range(20):  # 100 shares per minute
        e.update(t, 100.0)
        t += 60.0
    e.advance(t)
    s = e.snapshot()
    assert s.baseline_volume == pytest.approx(100.0) and not s.volume_spike
    assert s.volume_ratio == pytest.approx(0.0)  # the print at t − 60 just left the window
    e.update(t + 1, 250.0)
    assert not e.snapshot().volume_spike  # 250 < 300
    e.update(t + 2, 60.0)
    s = e.snapshot()
    assert s.volume_spike and s.recent_volume == 310.0 and s.volume_ratio == pytest.approx(3.1)
    e.advance(t + 62)  # window moves on
    assert not e.snapshot().volume_spike


def test_volume_baseline_decays_over_empty_buckets_and_needs_warmup():
    e = EventSignal(EventConfig(bucket=60.0, volume_half_life=1.0, min_buckets=3))
    e.update(0.0, 100.0)
    e.update(61.0, 1000.0)  # only one bucket closed: no spike yet
    assert e.snapshot().baseline_volume == pytest.approx(100.0) and not e.snapshot().volume_spike
    # buckets 1 (1000) then 2, 3 empty close at t = 240: d = 0.5 per bucket
    e.advance(240.0)
    # bucket 1 (1000) folds with d = 0.5, then the two empty buckets fold at once with d² = 0.25
    s_raw = 0.25 * (0.5 * (0.5 * 100) + 0.5 * 1000)
    w = 0.25 * (0.5 * 0.5 + 0.5) + 0.75
    assert e.snapshot().baseline_volume == pytest.approx(s_raw / w)
    e.update(241.0, 10_000.0)
    assert e.snapshot().volume_spike


# ------------------------------------------------------------------------------------------ order-arrival intensity


def _exponential_prints(it: TradingIntensity, kappa: float, n: int, seed: int, t0: float = 0.0) -> float:
    """``n`` prints at depths drawn from an exponential law of rate ``kappa`` (per price unit) around
    the mid 0.5, alternately above and below; returns the time of the last one."""
    import random

    rng = random.Random(seed)
    it.on_mid(5000.0)
    t = t0
    for i in range(n):
        depth = round(rng.expovariate(kappa) * 10_000)  # pips: the 0.0001 grid
        price = 5000 + depth if i % 2 else 5000 - depth
        t += 0.1
        it.on_trade(t, price, rng.uniform(1.0, 20.0))
    return t


def test_intensity_recovers_the_decay_of_exponential_depths():
    """Taker depths exponential with rate kappa: N(δ ≥ d) ∝ e^(−κd), the A–S fill rate at d."""
    for kappa in (50.0, 150.0, 400.0):
        it = TradingIntensity(IntensityConfig(window=10_000.0))
        _exponential_prints(it, kappa, 3000, seed=int(kappa))
        snap = it.snapshot()
        assert snap.kappa == pytest.approx(kappa, rel=0.15), snap
        assert snap.samples == 3000 and snap.levels > 10
        # A: shares per second reaching the mid: 3000 prints of ~10.5 shares over 300 s ≈ 105
        assert snap.alpha == pytest.approx(3000 * 10.5 / 300, rel=0.3)


def test_intensity_waits_for_data_then_forgets_it():
    it = TradingIntensity(IntensityConfig(window=60.0, min_samples=5, refit_s=0.0))
    assert it.snapshot().kappa is None
    it.on_trade(0.0, 5100, 10.0)  # no mid yet: no depth, not counted
    assert it.snapshot().samples == 0
    it.on_mid(5000.0)
    for t in range(4):
        it.on_trade(float(t), 5050, 10.0)  # one depth only: no slope to fit
    it.on_trade(4.0, 5050, 10.0)
    assert it.snapshot().samples == 5 and it.snapshot().kappa is None  # one level
    it.on_trade(5.0, 4850, 5.0)  # a deeper one: 50 shares at >= 0.005, 5 at >= 0.015
    snap = it.snapshot()
    assert snap.levels == 2 and snap.kappa == pytest.approx(math.log(55 / 5) / 0.01, rel=1e-9)
    it.expire(62.0)  # the prints at 0..2 s left the 60 s window: 2 + 1 left
    assert it.snapshot().samples == 3 and it.snapshot().kappa is None
    it.expire(1000.0)
    assert it.snapshot() == it.snapshot() and it.snapshot().samples == 0 and it._size == {}
    # cumulated counts always decay with depth: the clip is what binds an extreme fit
    clip = TradingIntensity(IntensityConfig(min_samples=2, kappa_max=80.0, refit_s=0.0))
    clip.on_mid(5000.0)
    clip.on_trade(1.0, 5050, 100.0)
    clip.on_trade(1.0, 5150, 1.0)
    assert clip.snapshot().kappa == 80.0  # ln(101)/0.01 = 461, clipped


def test_intensity_counts_a_fill_and_its_print_once():
    cfg = IntensityConfig(min_samples=2, dedupe_s=2.0, refit_s=0.0)
    it = TradingIntensity(cfg)
    it.on_mid(5000.0)
    it.on_trade(10.0, 4950, 30.0)  # the print of a taker sell that hit our bid (and others')
    it.on_fill(10.0, fill(Side.BUY, 4950, "10"))  # our part of it: already on the tape
    assert it.snapshot().samples == 1 and it._size == {100: 30.0}
    it.on_fill(11.0, fill(Side.BUY, 4950, "25"))  # 20 shares were left on that print; 5 are new
    assert it._size == {100: 35.0}
    # a fill first, then its print: the print adds only what is not ours
    it.on_fill(20.0, fill(Side.SELL, 5100, "10"))
    it.on_trade(20.5, 5100, 12.0)
    assert it._size == {100: 35.0, 200: 12.0}
    # too far apart in time, or at another price: two trades
    it.on_fill(30.0, fill(Side.SELL, 5100, "10"))
    it.on_trade(33.0, 5100, 10.0)
    assert it._size[200] == 32.0
    # a reversal of a failed trade is no trade
    it.on_fill(40.0, Fill("c", "o", Side.BUY, 4900, Decimal(5), trade_id="t1:failed"))
    assert sum(it._count.values()) == 6 and it.snapshot().samples == 6


def test_intensity_refits_at_most_every_refit_s():
    it = TradingIntensity(IntensityConfig(min_samples=2, refit_s=1.0))
    it.on_mid(5000.0)
    it.on_trade(10.0, 5050, 90.0)
    it.on_trade(10.0, 5150, 10.0)
    first = it.snapshot()
    assert first.kappa == pytest.approx(math.log(10) / 0.01)
    it.on_trade(10.5, 5150, 90.0)  # half a second later: the last fit still stands
    assert it.snapshot() is first
    it.expire(11.0)  # a second after the fit: refitted with every print so far
    assert it.snapshot().kappa == pytest.approx(math.log(190 / 100) / 0.01) and it.snapshot().samples == 3


def test_intensity_config_is_validated_with_named_errors():
    for kw, name in (({"window": 0}, "window"), ({"min_samples": 1}, "min_samples"), ({"dedupe_s": -1}, "dedupe_s"),
                     ({"kappa_min": 5.0, "kappa_max": 1.0}, "kappa_min, kappa_max"), ({"refit_s": -1}, "refit_s")):
        with pytest.raises(ValueError, match=name):
            IntensityConfig(**kw)


def test_signal_set_measures_prints_from_the_last_mid_and_widens_without_the_regime():
    ss = SignalSet("c", SignalsConfig(intensity=IntensityConfig(min_samples=2, refit_s=0.0)))
    ss.on_book(0.0, view(4900, 5100))  # mid 0.50
    ss.on_trade(1.0, 4900, 90.0, False)  # depth 0.01
    ss.on_trade(1.5, 5200, 10.0, True)  # depth 0.02
    snap = ss.snapshot(2.0)
    assert snap.intensity.kappa == pytest.approx(math.log(100 / 10) / 0.01)
    assert snap.widen == pytest.approx(snap.widen_ex_volatility * max(1.0, snap.volatility.regime))
    assert snap.widen_ex_volatility == pytest.approx(snap.flow.widen * snap.markouts.widen * snap.events.widen)


# ------------------------------------------------------------------------------------------ signal set


def test_signal_set_end_to_end():
    ss = SignalSet("c", end_time=10 * 3600.0)
    ss.on_quotes(4900, 5100)
    ss.on_book(0.0, view(4900, 5100))
    ss.on_fill(0.5, fill(Side.BUY, 4900))
    ss.on_trade(0.6, 4900, 50.0, False)
    ss.on_book(2.0, view(5000, 5100))  # someone bid one tick above us
    snap = ss.snapshot(12.0)
    assert isinstance(snap, SignalsSnapshot) and snap.ts == 12.0 and snap.condition_id == "c"
    assert snap.flow.imbalance == -1.0
    assert snap.competitor.events == 1
    assert snap.markouts.means[0] == pytest.approx(5000 - 4900)  # mid in effect at 1.5 s was 5000
    assert snap.markouts.counts[1] == 1  # 10 s horizon resolved by snapshot(12)
    assert snap.volatility.sigma > 0
    assert snap.liquidity.regime is Liquidity.LOW  # depth 100 < 500 by default
    assert not snap.parity.flagged and snap.parity.buy_edge_bps == -100
    assert snap.events.hours_to_end == pytest.approx(10 - 12 / 3600)
    assert snap.widen >= 1.0
    with pytest.raises(AttributeError):
        snap.ts = 0.0  # type: ignore[misc]
    ss.on_token_books(13.0, 5000, 5050, 4900, 4940)  # asks sum 0.9990 → 10 bps
    ss.on_book(14.0, view(5000, 5100))  # merged book no longer overrides token books
    assert ss.snapshot().parity.buy_flag and ss.snapshot().parity.buy_edge_bps == 10


def test_flat_markout_is_not_adverse():
    m = Markouts()
    m.on_mid(0.0, 5000.0)
    m.on_fill(0.0, fill(Side.BUY, 5000))
    m.on_fill(0.0, fill(Side.SELL, 5000, "30"))
    m.on_mid(10.0, 4990.0)  # buy −10 (adverse, size 10), sell +10
    m.on_fill(20.0, fill(Side.BUY, 4990, "60"))
    m.advance(30.0)  # flat: 0 markout, not adverse
    s = m.snapshot()
    assert s.counts[1] == 3 and s.toxicity == pytest.approx(10 / 100)


# ------------------------------------------------------------------------------------------ cached snapshots


def _uncached_snapshot(ss: SignalSet, now: float) -> SignalsSnapshot:
    """What ``ss.snapshot(now)`` must return, computed on a copy with every cached snapshot dropped."""
    c = copy.deepcopy(ss)
    for sig in (c.volatility, c.flow, c.competitor, c.markouts, c.events, c.intensity):
        sig._snap = None
    c._snap = None
    return c.snapshot(now)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["book", "trade", "fill", "quotes", "snapshot", "tokens", "end_time"]),
            st.floats(0.0, 40.0),  # time step
            st.integers(4000, 6000),  # a price
            st.integers(1, 5),  # a spread in ticks (0: locked)
            st.integers(0, 400),  # a size
            st.booleans(),
        ),
        max_size=60,
    )
)
def test_property_cached_snapshots_equal_fresh_ones(events) -> None:
    cfg = SignalsConfig(
        flow=FlowConfig(window=20.0),
        competitor=CompetitorConfig(window=15.0, min_events=2),
        markouts=MarkoutConfig(horizons=(1.0, 10.0), toxicity_horizon=1.0, window=5),
        events=EventConfig(bucket=10.0, min_buckets=1),
        intensity=IntensityConfig(window=30.0, min_samples=2, dedupe_s=2.0, refit_s=0.0),
    )
    ss = SignalSet("c", cfg, end_time=500.0)
    t = 0.0
    tokens = False
    for kind, dt, price, spread, size, flag in events:
        t += dt
        if kind == "book":
            bid = price - price % 100
            v = view(bid, bid + (spread - 1) * 100, (float(size + 1),), (float(size + 2), 50.0))
            ss.on_book(t, v)
            # the liquidity classification and the parity snapshot are memoised on their inputs
            assert ss.liquidity.snapshot() == LiquidityRegime(cfg.liquidity).update(v)
            if not tokens:  # own token books, once seen, replace the merged book's parity
                assert ss.parity.snapshot() == ParityArb(cfg.parity).update(v.best_bid, v.best_ask)
        elif kind == "trade":
            ss.on_trade(t, price, float(size), flag)
        elif kind == "fill":
            ss.on_fill(t, fill(Side.BUY if flag else Side.SELL, price, str(size + 1)))
        elif kind == "quotes":
            ss.on_quotes(price - 100 * spread, price + 100 * spread if flag else None)
        elif kind == "tokens":
            tokens = True
            ss.on_token_books(t, price, price + 100, 10_000 - price - 100 * spread, 10_000 - price + 50)
        elif kind == "end_time":
            ss.events.set_end_time(t + size if flag else None)
        expected = _uncached_snapshot(ss, t)
        got = ss.snapshot(t)
        assert got == expected
        assert ss.snapshot(t) == expected  # again: served from the caches


def test_snapshots_follow_a_new_config_and_repeat_unchanged():
    ss = SignalSet("c")
    ss.on_book(0.0, view(4900, 5100))
    ss.on_trade(1.0, 4900, 50.0, True)
    s1 = ss.snapshot(2.0)
    assert ss.snapshot(2.0) is s1  # nothing changed: the same immutable snapshot
    assert s1.flow.skew_ticks == 2.0
    ss.flow.config = FlowConfig(max_skew_ticks=5.0)  # a new config is picked up at once
    assert ss.snapshot(2.0).flow.skew_ticks == 5.0
    ss.volatility.config = VolatilityConfig(j_min=2.0)
    assert ss.snapshot(2.0).volatility.regime == 1.0  # slow EWMA still 0
    ss.competitor.config = CompetitorConfig(min_events=0)
    assert ss.snapshot(2.0).competitor.flagged
    ss.events.end_time = 2.0 + 3600.0  # set directly, not through set_end_time
    assert ss.snapshot(2.0).events.hours_to_end == pytest.approx(1.0)
    assert ss.snapshot(3.0).events.hours_to_end == pytest.approx(1.0 - 1 / 3600)
    ss.parity.config = ParityConfig(threshold_bps=-200)
    ss.on_book(4.0, view(4900, 5100))  # the same top of book, a new config
    assert ss.snapshot(4.0).parity.flagged
    ss.liquidity.config = LiquidityConfig(crisis_max_depth=0, low_max_depth=0, low_min_spread_ticks=50,
                                          crisis_min_spread_ticks=60)
    ss.on_book(5.0, view(4900, 5100))
    assert ss.snapshot(5.0).liquidity.regime is Liquidity.NORMAL
