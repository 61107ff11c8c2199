"""MarketBrain: one strategy step (signals + model + rewards + parity), as examples and properties."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from books import book_view, market_on
from hypothesis import given, settings
from hypothesis import strategies as st

from polymm.domain.market import Side
from polymm.domain.models import parity_ok
from polymm.domain.params import MarketParams
from polymm.domain.prices import MAX_PIPS, Tick
from polymm.domain.strategy import MODELS, MarketBrain, end_time_of

T01 = Tick.parse("0.01")


def brain(**market_kw) -> MarketBrain:
    return MarketBrain(replace(market_on(T01), **market_kw))


def view(bid=4800, ask=5200, bsize=200.0, asize=200.0, tick=T01):
    return book_view(tick, {bid: bsize, bid - 100: 300.0}, {ask: asize, ask + 100: 300.0})


def params(model: str, **kw) -> MarketParams:
    return MarketParams(model=model, spread=D("0.04"), size=D(10), **kw)


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


def test_rewards_pull_the_inner_layer_into_the_band_at_the_minimum_size() -> None:
    b = brain(reward_max_spread=D(3), reward_min_size=D(50))  # 3 cents around the adjusted mid
    d = b.decide(view(4700, 5300), D(0), params("avellaneda"), 1.0)
    bid, ask = d.targets.bids[0], d.targets.asks[0]
    assert abs(bid.price - 5000) < 300 and abs(ask.price - 5000) < 300
    assert bid.size == D(50) and ask.size == D(50)
    assert d.reward is not None and d.reward.q_min > 0
    plain = brain().decide(view(4700, 5300), D(0), params("avellaneda"), 1.0)
    assert plain.reward is None
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
