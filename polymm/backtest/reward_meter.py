"""Polymarket's liquidity rewards in simulated time (docs/protocol.md §8), so a backtest's P&L is trading +
rewards − fees and the reward band's value is weighed against the adverse selection it costs.

Every ``sample_s`` simulated seconds (one minute, as the venue samples) the meter looks at the whole
book — every maker's resting orders, ours among them — and scores each maker with the venue's rule
(``polymm_standin.sim.maker_scores``, shared with the stand-in's earnings ledger: the size-cutoff-adjusted
mid, ``S = ((v − s)/v)²·size`` within the max spread and above the min size, and ``Q_min`` from both
sides, ``domain.rewards.reward_score``).

The sample pays our normalised share ``Q_min(ours) / Σ Q_min(every maker)`` of the minute's pool,
``daily_rate / 1440``: summed over the week's 10,080 samples this is exactly the venue's payout
(``Q_epoch / ΣQ_epoch × pool``, since the normalised shares of one sample sum to 1). Takers, and
makers with nothing in the band, score 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from polymm.domain.market import Market
from polymm_standin.sim import MarketBook, maker_scores

__all__ = ["SAMPLES_PER_DAY", "SAMPLE_S", "RewardMeter", "RewardSample", "maker_scores"]

SAMPLE_S = 60.0
SAMPLES_PER_DAY = 1440


@dataclass(frozen=True, slots=True)
class RewardSample:
    """One minute's scoring: the adjusted mid (pips), our ``Q_min``, every maker's, and what we earned."""

    t_s: float
    mid: float | None
    ours: float
    total: float
    paid: float  # USDC


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
