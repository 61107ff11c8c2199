"""The earlier bots' signal responses polymm now has too: a liquidity-regime window and a spread
multiplier per regime, a competitor answered with smaller sizes, and markout penalties that fade with
time."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest
from books import book_view, market_on

from polymm.domain.market import Side
from polymm.domain.params import MarketParams
from polymm.domain.portfolio import Fill
from polymm.domain.prices import Tick
from polymm.domain.signals import (
    CompetitorConfig,
    CompetitorDetector,
    Liquidity,
    LiquidityConfig,
    LiquidityRegime,
    MarkoutConfig,
    Markouts,
    SignalsConfig,
)
from polymm.domain.strategy import MarketBrain

T01 = Tick.parse("0.01")


def book(spread_ticks: int, depth: float):
    """A two-sided book around 0.50, ``depth`` shares on each of its two top levels."""
    bid = 5000 - 100 * (spread_ticks // 2)
    ask = bid + 100 * spread_ticks
    return book_view(T01, {bid: depth, bid - 100: depth}, {ask: depth, ask + 100: depth})


CFG = LiquidityConfig(levels=2)  # HIGH: ≤ 1 tick and ≥ 5,000 deep; LOW: ≥ 5 ticks or < 500; CRISIS: ≥ 20 or < 50


def test_the_regime_window_reads_the_median_of_recent_books_but_a_crisis_at_once() -> None:
    single, windowed = LiquidityRegime(CFG), LiquidityRegime(replace(CFG, window=5))
    for _ in range(4):
        for lr in (single, windowed):
            assert lr.update(book(2, 1_000)).regime is Liquidity.NORMAL
    thin = book(6, 1_000)  # one wide update
    assert single.update(thin).regime is Liquidity.LOW
    s = windowed.update(thin)
    assert s.regime is Liquidity.NORMAL and s.reason.startswith("median of 5 books")
    for _ in range(2):  # three of the last five wide: the median is wide
        s = windowed.update(thin)
    assert s.regime is Liquidity.LOW, s.reason
    crisis = windowed.update(book(2, 10))  # 10 shares deep: a crisis, decided by this book alone
    assert crisis.regime is Liquidity.CRISIS and "median" not in crisis.reason
    assert windowed.update(book_view(T01, {5000: 1_000.0}, {})).regime is Liquidity.CRISIS  # one-sided
    with pytest.raises(ValueError, match="window"):
        LiquidityConfig(window=0)


def test_each_regime_scales_the_spread_through_the_signals_widening() -> None:
    cfg = replace(CFG, high_widen=0.8, low_widen=1.5)
    lr = LiquidityRegime(cfg)
    assert lr.update(book(1, 6_000)).regime is Liquidity.HIGH and lr.snapshot().widen == 0.8
    assert lr.update(book(2, 1_000)).widen == 1.0
    assert lr.update(book(6, 1_000)).widen == 1.5
    with pytest.raises(ValueError, match="high_widen"):
        LiquidityConfig(high_widen=1.2)
    with pytest.raises(ValueError, match="low_widen"):
        LiquidityConfig(low_widen=0.5)
    # in the step: the adaptive model's minimum width follows, and the reason says why
    signals = SignalsConfig(liquidity=replace(cfg, levels=5))
    params = MarketParams(model="avellaneda", spread=D("0.04"), size=D(10))
    thin = book_view(T01, {4900: 100.0}, {5500: 100.0})  # 6 ticks wide, 100 deep: LOW
    plain = MarketBrain(market_on(T01)).decide(thin, D(0), params, 1.0)
    wide = MarketBrain(market_on(T01), signals).decide(thin, D(0), params, 1.0)
    assert wide.signals.liquidity.regime is Liquidity.LOW and wide.signals.widen == pytest.approx(1.5)
    assert "liquidity LOW x1.50" in wide.targets.reason
    width = wide.targets.asks[0].price - wide.targets.bids[0].price
    assert width > plain.targets.asks[0].price - plain.targets.bids[0].price


def _pennied(det: CompetitorDetector, t: float, our_bid: int) -> None:
    det.update(t, our_bid, 6000, our_bid + 100, 6000, 100)


def test_a_competitor_is_answered_with_smaller_sizes_too() -> None:
    det = CompetitorDetector(CompetitorConfig(min_events=2, size_factor=0.5))
    _pennied(det, 0.0, 5000)
    assert det.snapshot().size_factor == 1.0  # not flagged yet
    _pennied(det, 1.0, 5100)
    assert det.snapshot().flagged and det.snapshot().size_factor == 0.5
    with pytest.raises(ValueError, match="size_factor"):
        CompetitorConfig(size_factor=0.0)
    # in the step: a flagged competitor halves the adaptive model's sizes
    cfg = SignalsConfig(competitor=CompetitorConfig(min_events=2, size_factor=0.5))
    params = MarketParams(model="avellaneda", spread=D("0.04"), size=D(10))
    brain = MarketBrain(market_on(T01), cfg)
    calm = brain.decide(book(4, 1_000), D(0), params, 1.0)
    assert calm.targets.bids[0].size == D(10)
    brain.signals.competitor = det  # the detector above: flagged
    d = brain.decide(book(4, 1_000), D(0), params, 2.0)
    assert d.signals.competitor.flagged
    assert {q.size for q in d.targets.quotes} == {D(5)} and "competitor: size x0.50" in d.targets.reason


def fill(side: Side, price: int, size: str = "10") -> Fill:
    return Fill(condition_id="c", order_id="o", side=side, price=price, size=D(size))


def test_markout_penalties_fade_with_time() -> None:
    def picked_off(cfg: MarkoutConfig) -> Markouts:
        m = Markouts(cfg)
        m.on_mid(0.0, 5000.0)
        for t in (1.0, 2.0, 3.0):  # we buy, then the price falls: picked off every time
            m.on_fill(t, fill(Side.BUY, 5000))
            m.on_mid(t + 0.1, 4900.0)
            m.on_mid(t + 0.2, 5000.0)
        m.on_mid(4.0, 4900.0)
        m.on_mid(20.0, 4900.0)  # every fill resolved at its 10 s horizon below its price
        return m

    kept = picked_off(MarkoutConfig(widen_k=1.0))
    fading = picked_off(MarkoutConfig(widen_k=1.0, half_life_s=30.0))
    assert kept.snapshot().toxicity == 1.0 and kept.snapshot().widen == pytest.approx(2.0)
    early = fading.snapshot().widen
    assert 1.5 < early < 2.0  # the fills are ~15 s old: most of the penalty still there
    for m in (kept, fading):
        m.advance(300.0)  # nearly five minutes later, no new fill
    assert kept.snapshot().widen == pytest.approx(2.0)  # without fading: until newer fills replace them
    late = fading.snapshot()
    assert late.toxicity == 1.0 and 1.0 <= late.widen < 1.01  # faded away
    with pytest.raises(ValueError, match="half_life_s"):
        MarkoutConfig(half_life_s=-1.0)


def test_the_settings_reach_the_signals_and_a_bad_one_is_named() -> None:
    from polymm.config import ConfigError, load_settings

    c = load_settings(_env_file=None, regime_window=20, regime_high_widen=0.8, regime_low_widen=1.5,
                      competitor_window_s=60, competitor_min_events=5, competitor_action="match",
                      competitor_back_off_ticks=2, competitor_size_factor=0.5, toxic_half_life_s=120).signals_config()
    assert (c.liquidity.window, c.liquidity.high_widen, c.liquidity.low_widen) == (20, 0.8, 1.5)
    assert (c.competitor.window, c.competitor.min_events, c.competitor.action, c.competitor.back_off_ticks,
            c.competitor.size_factor) == (60, 5, "match", 2, 0.5)
    assert c.markouts.half_life_s == 120
    d = load_settings(_env_file=None).signals_config()  # unset: as before
    assert (d.liquidity.window, d.liquidity.high_widen, d.liquidity.low_widen, d.competitor.size_factor,
            d.markouts.half_life_s) == (1, 1.0, 1.0, 1.0, 0.0)
    for field, value, env in (("regime_window", 0, "POLYMM_REGIME_WINDOW"),
                              ("regime_high_widen", 2, "POLYMM_REGIME_HIGH_WIDEN"),
                              ("competitor_action", "flee", "POLYMM_COMPETITOR_ACTION"),
                              ("competitor_size_factor", 0, "POLYMM_COMPETITOR_SIZE_FACTOR")):
        with pytest.raises(ConfigError) as e:
            load_settings(_env_file=None, **{field: value})
        assert env in str(e.value), str(e.value)
