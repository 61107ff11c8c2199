"""MarketBrain: one strategy step (signals + model + rewards + parity), as examples and properties."""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal as D

import pytest
from books import book_view, market_on
from hypothesis import given, settings
from hypothesis import strategies as st

from polymm.domain.market import Side
from polymm.domain.params import MarketParams
from polymm.domain.prices import MAX_PIPS, Tick
from polymm.domain.quoting import parity_ok
from polymm.domain.strategy import MODELS, MarketBrain, end_time_of

T01 = Tick.parse("0.01")


def brain(**market_kw) -> MarketBrain:
    return MarketBrain(replace(market_on(T01), **market_kw))


def view(bid=4800, ask=5200, bsize=200.0, asize=200.0, tick=T01):
    return book_view(tick, {bid: bsize, bid - 100: 300.0}, {ask: asize, ask + 100: 300.0})


def params(model: str, **kw) -> MarketParams:
    return MarketParams(model=model, **{"spread": D("0.04"), "size": D(10), **kw})


def test_every_model_quotes_a_two_sided_book() -> None:
    for model in MODELS:
        d = brain().decide(view(), D(0), params(model), 1000.0)
        assert d.model == model
        assert d.targets.bids and d.targets.asks, (model, d.targets.reason)
        assert d.signals.condition_id == market_on(T01).condition_id


def test_aggressive_buying_shifts_the_quotes_up() -> None:
    calm, pushed = brain(), brain()
    p = params("avellaneda")
    for b in (calm, pushed):
        b.decide(view(), D(0), p, 1000.0)
    for i in range(20):
        pushed.on_trade(1000.0 + i * 0.1, 5200, 100.0, True)
    a = calm.decide(view(), D(0), p, 1003.0).targets
    b = pushed.decide(view(), D(0), p, 1003.0).targets
    assert b.fair is not None and a.fair is not None
    assert b.bids[0].price >= a.bids[0].price and b.asks[0].price >= a.asks[0].price
    assert (b.bids[0].price, b.asks[0].price) != (a.bids[0].price, a.asks[0].price)


def test_a_crisis_book_gets_no_quotes_from_the_adaptive_models_but_fixed_still_quotes() -> None:
    thin = book_view(T01, {2000: 1.0}, {8000: 1.0})  # 60 ticks wide, 1 share deep
    for model in ("avellaneda", "pm4"):
        d = brain().decide(thin, D(0), params(model), 1.0)
        assert d.targets.quotes == () and "CRISIS" in d.targets.reason
    assert brain().decide(thin, D(0), params("fixed"), 1.0).targets.quotes


def test_rewards_pull_the_inner_layer_into_the_band_only_when_its_size_scores() -> None:
    kw = {"reward_max_spread": D("1.5"), "reward_min_size": D(50)}  # the band: (0.485, 0.515)
    d = brain(**kw).decide(view(4700, 5300), D(0), params("avellaneda", size=D(50)), 1.0)
    plain = brain().decide(view(4700, 5300), D(0), params("avellaneda", size=D(50)), 1.0)
    bid, ask = d.targets.bids[0], d.targets.asks[0]
    assert abs(bid.price - 5000) < 150 and abs(ask.price - 5000) < 150  # pulled in, both sides while flat
    assert abs(plain.targets.bids[0].price - 5000) >= 150 and abs(plain.targets.asks[0].price - 5000) >= 150
    assert bid.size == D(50) and ask.size == D(50)
    assert d.reward is not None and d.reward.q_min > 0
    assert plain.reward is None
    # an order under the reward minimum would earn nothing in the band: it stays where the model put
    # it, at the model's size (never raised to the minimum, which would undo the taper)
    small = brain(**kw).decide(view(4700, 5300), D(0), params("avellaneda"), 1.0)
    unpulled = brain().decide(view(4700, 5300), D(0), params("avellaneda"), 1.0)
    assert small.targets.quotes == unpulled.targets.quotes and small.targets.bids[0].size == D(10)
    assert abs(small.targets.bids[0].price - 5000) >= 150
    # the fixed model keeps the operator's spread exactly, and still estimates the score
    fixed = brain(reward_max_spread=D(3), reward_min_size=D(5)).decide(view(4700, 5300), D(0), params("fixed"), 1.0)
    assert (fixed.targets.bids[0].price, fixed.targets.asks[0].price) == (4800, 5200)
    assert fixed.reward is not None and fixed.reward.q_min > 0


def test_end_time_is_parsed_from_the_market_end_date() -> None:
    assert end_time_of(replace(market_on(T01), end_date="2026-12-31T00:00:00Z")) == 1798675200.0
    assert end_time_of(replace(market_on(T01), end_date="soon")) is None


@st.composite
def steps(draw: st.DrawFn):
    tick = draw(st.sampled_from([Tick.parse(t) for t in ("0.1", "0.01", "0.001")]))
    t = tick.pips
    n = MAX_PIPS // t
    books = []
    for _ in range(draw(st.integers(1, 4))):
        b = draw(st.integers(1, n - 2))
        a = draw(st.integers(b + 1, min(n - 1, b + draw(st.sampled_from([1, 2, 5, 30])))))
        books.append((b * t, a * t, draw(st.floats(1, 3000)), draw(st.floats(1, 3000))))
    trades = draw(st.lists(st.tuples(st.floats(1, 500), st.booleans()), max_size=6))
    lim = D(draw(st.integers(1, 500)))
    pos = draw(st.one_of(st.sampled_from([D(0), lim, -lim]), st.decimals(-2 * lim, 2 * lim, places=2)))
    model = draw(st.sampled_from(MODELS))
    p = MarketParams(model=model, spread=tick.decimal * draw(st.integers(2, 8)),
                     size=D(draw(st.integers(5, 200))), layers=draw(st.integers(1, 3)),
                     layer_step=tick.decimal, position_limit=lim)
    rewards = draw(st.sampled_from([(D(0), D(0)), (D(3), D(20)), (D("4.5"), D(100))]))
    return tick, books, trades, pos, p, rewards


@settings(max_examples=250, deadline=None)
@given(steps())
def test_property_every_decision_is_on_grid_inside_the_book_within_limits_and_parity_safe(case) -> None:
    tick, books, trades, pos, p, (max_spread, min_size) = case
    b = MarketBrain(replace(market_on(tick), reward_max_spread=max_spread, reward_min_size=min_size))
    now = 100.0
    for i, (bid, ask, bs, as_) in enumerate(books):
        v = book_view(tick, {bid: bs}, {ask: as_})
        for size, buy in trades[:i + 1]:
            b.on_trade(now, bid, size, buy)
        now += 0.5
        d = b.decide(v, pos, p, now)
        qb = [q.price for q in d.targets.quotes if q.side is Side.BUY]
        qa = [q.price for q in d.targets.quotes if q.side is Side.SELL]
        for q in d.targets.quotes:
            assert tick.valid(q.price), q  # on the grid, inside [tick, 1 - tick]
            assert q.size >= b.market.min_order_size  # the venue refuses anything smaller
        assert all(x < ask for x in qb) and all(x > bid for x in qa)  # never crossing
        if qb and qa:
            assert max(qb) < min(qa)
            assert parity_ok(max(qb), min(qa), MAX_PIPS - min(qa), MAX_PIPS - max(qb))
        assert sum(q.size for q in d.targets.bids) <= max(D(0), p.position_limit - pos)
        assert sum(q.size for q in d.targets.asks) <= max(D(0), p.position_limit + pos)


# ---------------------------------------------------------------- calibration: time, kappa, J once, rewards


def test_the_model_state_runs_on_the_steps_clock() -> None:
    b = brain()
    b.decide(view(), D(0), params("avellaneda"), 100.0)
    b.decide(view(4900, 5300), D(0), params("avellaneda"), 104.0)  # mid +100 pips over 4 s
    assert b.state.last_t == 104.0 and b.state.var == pytest.approx(100.0**2 / 4)


def test_avellaneda_horizon_is_capped_by_the_end_date() -> None:
    end = "2026-12-31T00:00:00Z"
    t_end = end_time_of(replace(market_on(T01), end_date=end))
    assert t_end is not None
    b = brain(end_date=end)
    p = params("avellaneda", horizon_s=600.0)
    assert b.horizon(p, t_end - 10_000) == 600.0
    assert b.horizon(p, t_end - 30) == pytest.approx(30.0)
    assert b.horizon(p, t_end + 5) == 0.0
    assert brain().horizon(p, 1e12) == 600.0  # no end date: the parameter
    d = b.decide(view(), D(0), p, t_end - 30)
    assert "T=30s" in d.targets.reason


def test_avellaneda_uses_the_estimated_kappa_once_the_prints_allow() -> None:
    b = brain()
    p = params("avellaneda", kappa=100.0)
    assert "k=100" in b.decide(view(), D(0), p, 1.0).targets.reason  # the fallback
    for i in range(27):  # 27 prints one cent from the mid (0.50), 3 two cents away
        b.on_trade(2.0 + i, 5100 if i % 2 else 4900, 10.0, bool(i % 2))
    for i in range(3):
        b.on_trade(30.0 + i, 5200 if i % 2 else 4800, 10.0, bool(i % 2))
    d = b.decide(view(), D(0), p, 40.0)
    assert d.signals.intensity.kappa == pytest.approx(math.log(30 / 3) / 0.01)
    assert "k=230" in d.targets.reason


def test_avellaneda_inventory_moves_both_quotes() -> None:
    wide = book_view(T01, {4500: 200.0, 4400: 300.0}, {5500: 200.0, 5600: 300.0})
    p = params("avellaneda", gamma=1.0, horizon_s=1_000.0, kappa=1e4)
    flat, long = brain(), brain()
    for b in (flat, long):  # the same history: σ² = 100 pips² per second
        b.decide(book_view(T01, {4500: 200.0}, {5500: 200.0}), D(0), p, 0.0)
        b.decide(book_view(T01, {4600: 200.0}, {5600: 200.0}), D(0), p, 100.0)
    a = flat.decide(wide, D(0), p, 100.0).targets
    z = long.decide(wide, D(50), p, 100.0).targets
    # r moves by q·γ·σ²·τ = 50 · 1 · 1e-6 · 1000 = 0.05: both quotes five ticks lower
    assert z.bids[0].price == a.bids[0].price - 500 and z.asks[0].price == a.asks[0].price - 500


def _hot(b: MarketBrain) -> float:
    """Ten calm minutes of one-tick moves, then a burst of five-tick ones: the signals' J goes to its top."""
    t = 0.0
    for i in range(600):
        b.signals.on_book(t, view(4500 + 100 * (i % 2), 5500 + 100 * (i % 2)))
        t += 1.0
    for i in range(15):
        b.signals.on_book(t, view(4500 + 500 * (i % 2), 5500 + 500 * (i % 2)))
        t += 1.0
    return t


def test_pm4_applies_the_volatility_regime_once_with_the_originals_clip() -> None:
    p = params("pm4", k_vol=0.0)  # the half-spread is the minimum width: spread/2 · widen, times J
    b = brain()
    t = _hot(b)
    d = b.decide(view(4500, 5500), D(0), p, t)
    assert d.signals.volatility.regime == 2.0  # fast/slow well above 2: the original's clip
    assert "J=2.00" in d.targets.reason and d.widen == 1.0  # not widened by the signals' J as well
    # once: 0.04 × 2 = 0.08 wide around 0.50 (twice would be 0.16)
    assert (d.targets.bids[0].price, d.targets.asks[0].price) == (4600, 5400)
    # avellaneda has no J of its own: the signals' regime still widens it
    a = brain()
    t = _hot(a)
    assert a.decide(view(4500, 5500), D(0), params("avellaneda"), t).widen == 2.0
    # the clip is a parameter of the market
    c = brain()
    t = _hot(c)
    assert "J=1.50" in c.decide(view(4500, 5500), D(0), params("pm4", j_max=1.5), t).targets.reason


def test_pm4_takes_gamma_a_from_the_market_parameters() -> None:
    d = brain().decide(view(), D(50), params("pm4", gamma_a=2.0, position_limit=D(100)), 1.0)
    assert "M=4.00" in d.targets.reason  # 1/(1 − 0.5)^2
    assert "M=2.00" in brain().decide(view(), D(50), params("pm4", position_limit=D(100)), 1.0).targets.reason


def test_pm4_quotes_a_thin_book_wider_by_its_c_risk_and_kappa0() -> None:
    """The market's c_risk / kappa0 reach pm4 with the liquidity signal's depth (the thinner side's top
    levels): 50 shares against a size of 100 is half a quote, κ = 0.5, premium 0.01/0.5 = 0.02 — the half
    spread 0.02 + 0.02; a book 100 quotes deep adds 0.0001 only. Off by default."""
    thin = book_view(T01, {4500: 50.0}, {5500: 50.0})
    deep = book_view(T01, {4500: 10_000.0}, {5500: 10_000.0})
    kw = {"k_vol": 0.0, "size": D(100), "position_limit": D(1000)}
    d = brain().decide(thin, D(0), params("pm4", c_risk=0.01, kappa0=1.0, **kw), 1.0)
    assert d.signals.liquidity.depth == 50.0 and "liquidity +0.0200" in d.targets.reason
    assert (d.targets.bids[0].price, d.targets.asks[0].price) == (4600, 5400)
    d = brain().decide(deep, D(0), params("pm4", c_risk=0.01, kappa0=1.0, **kw), 1.0)
    assert "liquidity +0.0001" in d.targets.reason
    assert (d.targets.bids[0].price, d.targets.asks[0].price) == (4700, 5300)  # 0.0201 off the grid: out
    d = brain().decide(thin, D(0), params("pm4", c_risk=0.01, kappa0=4.0, **kw), 1.0)
    assert "liquidity +0.0050" in d.targets.reason
    plain = brain().decide(thin, D(0), params("pm4", **kw), 1.0)
    assert "liquidity +" not in plain.targets.reason
    assert (plain.targets.bids[0].price, plain.targets.asks[0].price) == (4800, 5200)


def test_rewards_pull_only_the_side_that_reduces_the_inventory() -> None:
    kw = {"reward_max_spread": D("1.5"), "reward_min_size": D(5)}  # the band: (0.485, 0.515)
    p = params("avellaneda")
    for pos, adding, reducing in ((D(30), Side.BUY, Side.SELL), (D(-30), Side.SELL, Side.BUY)):
        plain = brain().decide(view(4700, 5300), pos, p, 1.0).targets
        d = brain(**kw).decide(view(4700, 5300), pos, p, 1.0).targets
        add = next(q for q in d.quotes if q.side is adding)
        red = next(q for q in d.quotes if q.side is reducing)
        add_plain = next(q for q in plain.quotes if q.side is adding)
        red_plain = next(q for q in plain.quotes if q.side is reducing)
        assert add == add_plain and add.size == D(7)  # the model's price and its taper (10 × 0.7)
        assert abs(red.price - 5000) < 150 <= abs(red_plain.price - 5000)  # pulled into the band
        assert red.size == red_plain.size == D(10)  # the model's size: never raised for the reward


@st.composite
def reward_steps(draw: st.DrawFn):
    tick = draw(st.sampled_from([Tick.parse(t) for t in ("0.01", "0.001")]))
    t = tick.pips
    n = MAX_PIPS // t
    b = draw(st.integers(n // 10, n - n // 10 - 20))  # room for the widest gap and the moves below 1
    a = draw(st.integers(b + 1, b + draw(st.sampled_from([1, 2, 5, 15]))))
    bs, as_ = draw(st.floats(50, 3000)), draw(st.floats(50, 3000))
    lim = D(draw(st.integers(20, 500)))
    positions = st.one_of(st.sampled_from([D(0), lim, -lim]), st.decimals(-lim, lim, places=2))
    p1, p2 = sorted((draw(positions), draw(positions)))
    p = MarketParams(model=draw(st.sampled_from(["avellaneda", "pm4"])), spread=tick.decimal * draw(st.integers(2, 8)),
                     size=D(draw(st.integers(5, 60))), layers=draw(st.integers(1, 3)), layer_step=tick.decimal,
                     position_limit=lim, gamma=draw(st.sampled_from([0.0, 0.03, 1.0, 20.0])),
                     horizon_s=draw(st.sampled_from([1.0, 60.0, 3600.0])),
                     gamma_a=draw(st.sampled_from([0.5, 1.0, 3.0])))
    rewards = draw(st.sampled_from([(D(3), D(20)), (D("4.5"), D(100)), (D(1), D(5))]))
    moves = draw(st.lists(st.integers(-3, 3), min_size=1, max_size=4))
    return tick, (b * t, a * t, bs, as_), moves, p1, p2, p, rewards


@settings(max_examples=200, deadline=None)
@given(reward_steps())
def test_property_with_rewards_quotes_stay_monotone_in_inventory_and_the_taper_holds(case) -> None:
    tick, (bid, ask, bs, as_), moves, p1, p2, p, (max_spread, min_size) = case
    market = replace(market_on(tick), reward_max_spread=max_spread, reward_min_size=min_size)
    decisions = []
    for pos in (p1, p2):
        b = MarketBrain(market)  # the same history for both positions
        now = 10.0
        for m in moves:
            v = book_view(tick, {bid + m * tick.pips: bs}, {ask + m * tick.pips: as_})
            b.decide(v, pos, p, now)
            now += 1.5
        decisions.append(b.decide(book_view(tick, {bid: bs}, {ask: as_}), pos, p, now).targets)
    t1, t2 = decisions
    # a longer position never raises the inner bid or the inner ask
    if t1.bids and t2.bids:
        assert t2.bids[0].price <= t1.bids[0].price
    if t1.asks and t2.asks:
        assert t2.asks[0].price <= t1.asks[0].price
    for pos, t in ((p1, t1), (p2, t2)):
        for q in t.quotes:
            assert tick.valid(q.price) and bid < q.price if q.side is Side.SELL else q.price < ask
        qhat = min(max(float(pos / p.position_limit), -1.0), 1.0)
        # the side that adds keeps its taper (raised only to the venue's minimum, never to the reward's)
        if pos > 0 and t.bids:
            taper = (p.size * D(repr(1.0 - qhat))).quantize(D("0.01"), rounding="ROUND_DOWN")
            assert t.bids[0].size <= max(taper, market.min_order_size)
        if pos < 0 and t.asks:
            taper = (p.size * D(repr(1.0 + qhat))).quantize(D("0.01"), rounding="ROUND_DOWN")
            assert t.asks[0].size <= max(taper, market.min_order_size)
