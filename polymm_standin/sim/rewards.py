"""Scoring every maker's resting orders for Polymarket's liquidity rewards (docs/protocol.md §8).

One sample looks at the whole book — every maker's resting orders — and scores each maker with the
venue's rule:

* the size-cutoff-adjusted mid: the mid of the best bid and ask levels whose size is at least the
  market's reward minimum size (``domain.rewards.adjusted_mid``);
* each order scores ``S·size`` with ``S = ((v − s)/v)²``, ``s`` its distance from that mid in cents and
  ``v`` the market's max spread; orders under the minimum size or outside ``v`` score nothing;
* a maker's YES bids (and NO asks, which the single YES book already holds as YES bids) sum to
  ``Q_one``, its asks to ``Q_two``; ``Q_min = max(min(Q_one, Q_two), max(Q_one, Q_two)/3)`` while the
  mid is within [0.10, 0.90] (single-sided liquidity scores at a third), ``min(Q_one, Q_two)`` outside
  (two-sided required) — ``domain.rewards.reward_score``, the same code the strategy estimates with.

A maker's share of one sample's pool is ``Q_min / Σ Q_min`` over every maker of the market. The
backtest's reward meter (``polymm/backtest/reward_meter.py``) and the stand-in's earnings ledger
(``server/rewards.py``) both score with ``maker_scores``.
"""

from __future__ import annotations

from collections.abc import Callable

from polymm.domain.market import Market, Side
from polymm.domain.order_book import Level
from polymm.domain.rewards import adjusted_mid, reward_score

from .book import MarketBook, Order

#: The venue scores the book once a minute.
SAMPLE_S = 60.0
_MICRO = 1_000_000


def maker_scores(
    book: MarketBook, market: Market, owner_of: Callable[[Order], str] | None = None
) -> tuple[float | None, dict[str, float]]:
    """(adjusted mid in pips, ``Q_min`` per maker) of the book's resting orders (module docstring).

    Makers are the orders' engine owners, or what ``owner_of(order)`` names (the stand-in groups the
    orders of all of a wallet's API keys under the wallet's address, since the venue scores a maker
    address). No adjusted mid (a side without a level of the minimum size) → ``(None, {})``."""
    min_size = float(market.reward_min_size)
    bids = [Level(p, book.bids.levels[p].total / _MICRO) for p in book.bids.prices_best_first()]
    asks = [Level(p, book.asks.levels[p].total / _MICRO) for p in book.asks.prices_best_first()]
    mid = adjusted_mid(bids, asks, min_size)
    if mid is None:
        return None, {}
    per_owner: dict[str, tuple[list[tuple[int, float]], list[tuple[int, float]]]] = {}
    for side, levels in ((Side.BUY, book.bids.levels), (Side.SELL, book.asks.levels)):
        for price, level in levels.items():
            for o in level.orders.values():
                mine = per_owner.setdefault(o.owner if owner_of is None else owner_of(o), ([], []))
                mine[0 if side is Side.BUY else 1].append((price, o.remaining / _MICRO))
    spread = float(market.reward_max_spread)
    return mid, {owner: reward_score(b, a, mid, spread, min_size).q_min for owner, (b, a) in per_owner.items()}
