"""``polymm markets``: discovery's ranking of open markets (24 h volume, spread, liquidity reward per day,
score), as a table or as JSON rows. ``--sort reward`` ranks by the reward pool per day the table shows."""

from __future__ import annotations

import logging
from typing import Any

from ..config import Settings
from ..domain.prices import AMOUNT_MAX_PLACES, PRICE_MAX_PLACES, fmt_amount, fmt_price
from ..venue.discovery import Candidate, Discovery, Filters, RankBy
from ..venue.rest import PublicClient

log = logging.getLogger("polymm")

MARKET_SORTS: tuple[str, ...] = ("score", "volume", "spread", "reward")


async def list_markets(
    settings: Settings,
    *,
    sort: RankBy = "score",
    limit: int = 20,
    search: str | None = None,
    rewards_only: bool = False,
    min_volume: float | None = None,
    scan: int = 500,
) -> list[Candidate]:
    """Discovery's candidates ranked by ``sort`` (``venue/discovery.py`` documents the score; ``reward``:
    the reward pool per day, the number the table's reward/day column shows, highest first)."""
    public = PublicClient(settings.clob_url, settings.gamma_url)
    try:
        d = Discovery(public, max_scan=scan)
        filters = Filters(search=search, rewards_only=rewards_only, min_volume_24h=min_volume)
        if sort == "reward":
            found = by_reward_per_day(await d.discover(filters))[:limit]
        else:
            found = await d.ranked(filters, by=sort, top=limit)
        if d.skipped:
            log.warning("markets: %d unreadable Gamma markets skipped (%s)", d.skipped, dict(d.skip_reasons))
        return found
    finally:
        await public.aclose()


def by_reward_per_day(cands: list[Candidate]) -> list[Candidate]:
    """Highest reward pool per day (``reward_daily_rate``, USDC/day) first; ties by 24 h volume
    (highest first), then condition id, so the order is deterministic."""
    return sorted(cands, key=lambda c: (-c.reward_daily_rate, -c.volume_24h, c.condition_id))


def _price(x: float | None) -> float | None:
    """A price of Gamma's (a float) without its binary noise: to the pip."""
    return None if x is None else round(x, PRICE_MAX_PLACES)


def _usdc(x: float) -> float:
    return round(x, AMOUNT_MAX_PLACES)


def market_row(c: Candidate) -> dict[str, Any]:
    """One candidate as ``polymm markets --json`` prints it (prices to the pip, dollars to 1e-6: no float
    noise)."""
    return {
        "condition_id": c.condition_id, "question": c.market.question, "slug": c.market.slug,
        "volume_24h": _usdc(c.volume_24h), "liquidity": _usdc(c.liquidity), "spread": _price(c.spread),
        "best_bid": _price(c.best_bid), "best_ask": _price(c.best_ask), "tick": c.tick,
        "reward_daily_rate": _usdc(c.reward_daily_rate),
        "reward_yield": round(c.reward_yield, 6), "reward_min_size": c.reward_min_size,
        "reward_max_spread": c.reward_max_spread, "score": round(c.score, 6), "neg_risk": c.market.neg_risk,
        "end_date": c.end_date.isoformat() if c.end_date else None,
    }


def render_markets(cands: list[Candidate]) -> str:
    """The table ``polymm markets`` prints."""
    lines = [f"{'#':>3}  {'condition_id':<66}  {'volume 24h':>12}  {'spread':>7}  {'reward/day':>10}  "
             f"{'score':>6}  question"]
    for i, c in enumerate(cands, start=1):
        spread = fmt_price(c.spread, c.market.tick) if c.spread is not None else "-"
        reward = fmt_amount(c.reward_daily_rate, grouping=True) if c.reward_daily_rate else "-"
        q = (c.market.question[:47] + "…") if len(c.market.question) > 48 else c.market.question
        lines.append(f"{i:>3}  {c.condition_id:<66}  {c.volume_24h:>12,.0f}  {spread:>7}  {reward:>10}  "
                     f"{c.score:>6.2f}  {q}")
    if not cands:
        lines.append("  (no market matched)")
    return "\n".join(lines)
