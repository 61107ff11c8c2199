"""Polymarket's liquidity rewards in simulated time (docs/protocol.md §8), so a backtest's P&L is trading +
rewards − fees and the reward band's value is weighed against the adverse selection it costs.

Every ``sample_s`` simulated seconds (one minute, as the venue samples) the meter looks at the whole
book — every maker's resting orders, ours among them — and scores each maker with the venue's rule:

* the size-cutoff-adjusted mid: the mid of the best bid and ask levels whose size is at least the
  market's reward minimum size (``domain.rewards.adjusted_mid``);
* each order scores ``S·size`` with ``S = ((v − s)/v)²``, ``s`` its distance from that mid in cents and
  ``v`` the market's max spread; orders under the minimum size or outside ``v`` score nothing;
* a maker's YES bids (and NO asks, which the single YES book already holds as YES bids) sum to
  ``Q_one``, its asks to ``Q_two``; ``Q_min = max(min(Q_one, Q_two), max(Q_one, Q_two)/3)`` while the
  mid is within [0.10, 0.90] (single-sided liquidity scores at a third), ``min(Q_one, Q_two)`` outside
  (two-sided required) — ``domain.rewards.reward_score``, the same code the strategy estimates with.

The sample pays our normalised share ``Q_min(ours) / Σ Q_min(every maker)`` of the minute's pool,
``daily_rate / 1440``: summed over the week's 10,080 samples this is exactly the venue's payout
(``Q_epoch / ΣQ_epoch × pool``, since the normalised shares of one sample sum to 1). Takers, and
makers with nothing in the band, score 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from polymm.domain.market import Market, Side
from polymm.domain.order_book import Level
from polymm.domain.rewards import adjusted_mid, reward_score
from polymm_standin.sim import MarketBook

SAMPLE_S = 60.0
SAMPLES_PER_DAY = 1440
_MICRO = 1_000_000


@dataclass(frozen=True, slots=True)
class RewardSample:
    """One minute's scoring: the adjusted mid (pips), our ``Q_min``, every maker's, and what we earned."""

    t_s: float
    mid: float | None
    ours: float
    total: float
    paid: float  # USDC


def maker_scores(book: MarketBook, market: Market) -> tuple[float | None, dict[str, float]]:
    """(adjusted mid in pips, ``Q_min`` per owner) of the book's resting orders (module docstring)."""
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
                mine = per_owner.setdefault(o.owner, ([], []))
                mine[0 if side is Side.BUY else 1].append((price, o.remaining / _MICRO))
    spread = float(market.reward_max_spread)
    return mid, {owner: reward_score(b, a, mid, spread, min_size).q_min for owner, (b, a) in per_owner.items()}


@dataclass
class RewardMeter:
    """Samples a book every ``sample_s`` simulated seconds and accrues ``owner``'s share of the pool."""

    market: Market
    daily_rate: Decimal
    owner: str
    sample_s: float = SAMPLE_S
    earned: float = 0.0  # USDC
    samples: list[RewardSample] = field(default_factory=list)
    _next: float = 0.0

    @property
    def active(self) -> bool:
        return self.daily_rate > 0 and self.market.reward_max_spread > 0 and self.market.reward_min_size > 0

    def due(self, t_s: float) -> bool:
        return self.active and t_s >= self._next

    def observe(self, t_s: float, book: MarketBook) -> float:
        """Score the book at ``t_s`` if a sample is due (every sample boundary passed counts once);
        returns what this call paid us."""
        paid = 0.0
        while self.due(t_s):
            paid += self._sample(self._next, book)
            self._next += self.sample_s
        return paid

    def _sample(self, t_s: float, book: MarketBook) -> float:
        mid, scores = maker_scores(book, self.market)
        total = sum(scores.values())
        ours = scores.get(self.owner, 0.0)
        paid = float(self.daily_rate) / SAMPLES_PER_DAY * (ours / total) if total > 0 else 0.0
        self.earned += paid
        self.samples.append(RewardSample(t_s, mid, ours, total, paid))
        return paid

    def share(self) -> float:
        """Our mean normalised share over the samples taken (0 without any)."""
        return sum(s.ours / s.total for s in self.samples if s.total > 0) / len(self.samples) if self.samples else 0.0
