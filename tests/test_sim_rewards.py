"""Liquidity rewards in simulated time (polymm/backtest/reward_meter.py): the venue's scoring per maker on a
real matching-engine book, our normalised share of each minute's pool."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from polymm.backtest.reward_meter import RewardMeter, maker_scores
from polymm.domain.market import Market, Side
from polymm.domain.prices import Tick
from polymm_standin.sim.matching import MatchingEngine

MARKET = Market("0x" + "ab" * 32, "1", "2", "Will it?", Tick.parse("0.01"), min_order_size=D(5),
                reward_min_size=D(20), reward_max_spread=D(3))


def engine(*orders: tuple[str, Side, int, str]) -> MatchingEngine:
    e = MatchingEngine([MARKET], clock=lambda: 0)
    for owner, side, price, size in orders:
        e.place(owner, MARKET.yes_token, side, price, D(size), post_only=True)
    return e


def book(e: MatchingEngine):
    b = e.market_book(MARKET.condition_id)
    assert b is not None
    return b


def test_each_maker_scores_by_distance_from_the_size_adjusted_mid_and_size() -> None:
    # a 10-share bid at 0.49 is under the 20-share minimum: the adjusted mid skips it (0.48 / 0.52 → 0.50)
    e = engine(("us", Side.BUY, 4900, "10"), ("them", Side.BUY, 4800, "50"), ("them", Side.SELL, 5200, "50"),
               ("us", Side.SELL, 5100, "30"))
    mid, scores = maker_scores(book(e), MARKET)
    assert mid == 5000 - 50  # best qualifying bid 0.48 (50) and ask 0.51 (ours, 30): mid 0.495
    # ours: the bid is under the minimum size (0); the ask 0.51 is 1.5 cents from the mid, v = 3
    ours_two = ((3 - 1.5) / 3) ** 2 * 30
    assert scores["us"] == pytest.approx(ours_two / 3)  # single-sided inside [0.10, 0.90]: a third
    them_one = ((3 - 1.5) / 3) ** 2 * 50  # 0.48: 1.5 cents below
    them_two = ((3 - 2.5) / 3) ** 2 * 50  # 0.52: 2.5 cents above
    assert scores["them"] == pytest.approx(max(min(them_one, them_two), max(them_one, them_two) / 3))


def test_outside_the_middle_band_only_two_sided_liquidity_scores() -> None:
    e = engine(("us", Side.BUY, 500, "40"), ("them", Side.BUY, 400, "40"), ("them", Side.SELL, 600, "40"))
    mid, scores = maker_scores(book(e), MARKET)
    assert mid == 550 and scores["us"] == 0 and scores["them"] > 0


def test_the_meter_pays_our_share_of_each_minutes_pool_once_per_minute() -> None:
    e = engine(("us", Side.BUY, 4900, "40"), ("us", Side.SELL, 5100, "40"),
               ("them", Side.BUY, 4900, "40"), ("them", Side.SELL, 5100, "40"))
    meter = RewardMeter(MARKET, D(144), "us")  # 144 a day: 0.1 a minute
    assert meter.observe(0.0, book(e)) == pytest.approx(0.05)  # equal liquidity: half the minute's pool
    assert meter.observe(30.0, book(e)) == 0.0  # not due yet
    assert meter.observe(125.0, book(e)) == pytest.approx(0.10)  # minutes 1 and 2 (each counted once)
    assert meter.earned == pytest.approx(0.15) and len(meter.samples) == 3 and meter.share() == pytest.approx(0.5)
    assert not RewardMeter(MARKET, D(0), "us").due(0.0)  # no pool, nothing to sample
