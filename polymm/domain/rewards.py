"""Liquidity rewards (docs/protocol.md §8): our score, the size-cutoff-adjusted mid, and the reward band the
adaptive models pull their inner quotes into.

Prices are pips in YES terms, sizes shares; the band's width (``max_spread_cents``) is in cents.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from .market import Market, Side
from .order_book import BookView, Level
from .prices import PIPS_PER_UNIT, Tick
from .quoting import Quote, Targets
from .sizes import cap_total

_PIPS_PER_CENT = PIPS_PER_UNIT // 100

@dataclass(frozen=True, slots=True)
class RewardScore:
    """docs/protocol.md §8: ``q_one`` (bid-side liquidity), ``q_two`` (ask-side) and ``q_min``."""

    q_one: float
    q_two: float
    q_min: float


def order_score(price: int, size: float, mid: float, max_spread_cents: float, min_size: float, b: float = 1.0) -> float:
    """``S(v, s)·size`` with ``S = ((v − s)/v)²·b``, ``s = |price − mid|`` in cents; 0 when
    ``s ≥ v`` or ``size < min_size``."""
    s = abs(price - mid) / _PIPS_PER_CENT
    v = max_spread_cents
    if v <= 0 or s >= v or size < min_size:
        return 0.0
    return ((v - s) / v) ** 2 * b * size


def reward_score(
    levels_bids: Sequence[tuple[int, float]],
    levels_asks: Sequence[tuple[int, float]],
    mid: float,
    max_spread_cents: float,
    min_size: float,
    b: float = 1.0,
) -> RewardScore:
    """Our liquidity-reward score for one sample (docs/protocol.md §8), all in YES terms (pips, shares).

    ``levels_bids`` are our YES bids plus our NO asks mirrored to YES bids (a NO ask at q is a YES bid
    at 1 − q), so ``Q_one = Σ S·size`` over them; ``levels_asks`` likewise give ``Q_two``. ``mid`` is the
    size-cutoff-adjusted mid (``adjusted_mid``). With ``c = 3``: for mid in [0.10, 0.90]
    ``Q_min = max(min(Q_one, Q_two), max(Q_one/c, Q_two/c))`` (single-sided liquidity scores at a third),
    otherwise ``Q_min = min(Q_one, Q_two)`` (two-sided required)."""
    q_one = sum(order_score(p, s, mid, max_spread_cents, min_size, b) for p, s in levels_bids)
    q_two = sum(order_score(p, s, mid, max_spread_cents, min_size, b) for p, s in levels_asks)
    if 1000 <= mid <= 9000:
        c = 3.0
        q_min = max(min(q_one, q_two), max(q_one / c, q_two / c))
    else:
        q_min = min(q_one, q_two)
    return RewardScore(q_one, q_two, q_min)


def adjusted_mid(bids: Sequence[Level], asks: Sequence[Level], min_size: float) -> float | None:
    """The size-cutoff-adjusted mid: the mid of the best bid and best ask levels (best first) whose
    size is at least ``min_size``; ``None`` when a side has no such level."""
    b = next((lv.price for lv in bids if lv.size >= min_size), None)
    a = next((lv.price for lv in asks if lv.size >= min_size), None)
    return None if b is None or a is None else (b + a) / 2


def clamp_to_rewards(
    bid: int | None, ask: int | None, mid: float, max_spread_cents: float, tick: Tick, inventory: float = 0.0
) -> tuple[int | None, int | None]:
    """Pull the inner bid/ask into the reward band (strictly within ``max_spread_cents`` of ``mid``).

    ``lo`` = the lowest grid price ``> mid − v``, ``hi`` = the highest grid price ``< mid + v`` (v in pips).
    A bid below ``lo`` is raised to ``lo`` and an ask above ``hi`` lowered to ``hi``, but only when the new
    price stays strictly on its own side of the mid (bid < mid < ask); when the result would have
    bid ≥ ask both are returned unchanged. Quotes already inside the band are unchanged. The result is on
    the grid; the caller must still apply the book's non-crossing rule.

    ``inventory`` (shares, YES) picks the sides that may move: long (> 0) only the ask, short (< 0)
    only the bid, flat both. The side that would add to the inventory stays where the model's skew put
    it: pulling it in would undo the skew (a stronger skew would narrow the spread instead of moving it),
    and pay the reward for taking on more of the risk the skew is shedding."""
    v = max_spread_cents * _PIPS_PER_CENT
    lo = tick.ceil(math.floor(mid - v) + 1)
    hi = tick.floor(math.ceil(mid + v) - 1)
    new_bid = lo if bid is not None and bid < lo and lo < mid and inventory <= 0 else bid
    new_ask = hi if ask is not None and ask > hi and hi > mid and inventory >= 0 else ask
    if new_bid is not None and new_ask is not None and new_bid >= new_ask:
        return bid, ask
    return new_bid, new_ask


def estimate(view: BookView, targets: Targets, market: Market) -> RewardScore | None:
    """Our reward score for ``targets`` (docs/protocol.md §8) around the size-cutoff-adjusted mid; None without one."""
    mid = adjusted_mid(view.bids, view.asks, float(market.reward_min_size))
    if mid is None:
        return None
    return reward_score([(q.price, float(q.size)) for q in targets.bids],
                        [(q.price, float(q.size)) for q in targets.asks],
                        mid, float(market.reward_max_spread), float(market.reward_min_size))


def pull_into_band(view: BookView, targets: Targets, position: Decimal, limit: Decimal, market: Market) -> Targets:
    """The inner layer pulled into the reward band when its size scores (``targets`` unchanged when
    there is no adjusted mid or the result would cross itself). Only the sides ``clamp_to_rewards``
    lets move for this inventory: flat, both; long, the ask; short, the bid. The side that adds to the
    inventory keeps the model's price and its tapered size; ``limit`` is the position limit."""
    mid = adjusted_mid(view.bids, view.asks, float(market.reward_min_size))
    if mid is None:
        return targets
    bids = [q for q in targets.quotes if q.side is Side.BUY]
    asks = [q for q in targets.quotes if q.side is Side.SELL]
    new_bid, new_ask = clamp_to_rewards(bids[0].price if bids else None, asks[0].price if asks else None,
                                        mid, float(market.reward_max_spread), view.tick, float(position))
    # a side moves only when its order scores as it is (at least the reward minimum size): one under
    # it earns nothing, so pulling it in would only pay the adverse selection of a tighter quote; and
    # the size stays the model's (raising it to the minimum would undo the inventory taper)
    if position <= 0:
        _raise_bid(bids, new_bid, view.best_ask, market.reward_min_size)
    if position >= 0:
        _lower_ask(asks, new_ask, view.best_bid, market.reward_min_size)
    if bids and asks and bids[0].price >= asks[0].price:  # never self-cross
        return targets
    # a larger inner layer must not take the side past its room to the limit: outer layers give way
    return Targets(cap_total(bids, limit - position) + cap_total(asks, limit + position), targets.fair, targets.reason)


def _raise_bid(bids: list[Quote], price: int | None, best_ask: int | None, min_size: Decimal) -> None:
    """Raise the inner bid (``bids[0]``) to ``price`` when that stays below the best ask and it scores."""
    if bids and price is not None and best_ask is not None and price < best_ask and bids[0].size >= min_size:
        bids[0] = Quote(Side.BUY, max(price, bids[0].price), bids[0].size)


def _lower_ask(asks: list[Quote], price: int | None, best_bid: int | None, min_size: Decimal) -> None:
    """Lower the inner ask (``asks[0]``) to ``price`` when that stays above the best bid and it scores."""
    if asks and price is not None and best_bid is not None and price > best_bid and asks[0].size >= min_size:
        asks[0] = Quote(Side.SELL, min(price, asks[0].price), asks[0].size)
