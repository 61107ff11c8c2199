"""Market discovery: list, filter, rank and resolve Gamma markets for market making (docs/protocol.md §7, §8).

``Discovery`` walks Gamma ``/markets`` (``closed=false``, ordered server-side, paged with
``limit``/``offset``) through ``PublicClient.gamma_pages`` and turns each usable market into a
``Candidate``: the ``Market`` (via ``market_from_gamma``) plus the stats the filters and the ranking
use. Filters go to Gamma where docs/protocol.md §7 lists a parameter and are (re)applied client-side, so the
result is right even if a server ignores one:

* ``min_liquidity`` → ``liquidity_num_min`` (exact);
* ``min_volume_24h`` and ``min_volume_1wk`` → ``volume_num_min`` (a superset pre-filter: total volume ≥
  7-day volume ≥ 24 h volume; Gamma has no parameter for either window), then ``volume24hr`` and
  ``volume1wk`` client-side;
* ``min_hours_to_end``/``max_hours_to_end`` → ``end_date_min``/``end_date_max``;
* ``rewards_only`` → ``rewards_min_size=1`` (no reward program has a min size under one share);
* spread (both bounds), trend, score, price range, neg-risk, text search, ``max_reward_min_size``:
  client-side only.

Markets that are not live (``active`` false, ``closed``, not ``acceptingOrders``, no order book) are
left out and tallied in ``Discovery.filtered``. Markets that cannot be read (not an object, missing or
wrong token ids, bad condition id or tick, non-numeric numbers, bad dates) are skipped, never raised:
``Discovery.skipped`` counts them and ``Discovery.skip_reasons`` tallies them per field. Position-id
markets (exchange version 3, docs/protocol.md §12) are skipped the same way under ``positionIds``; asked for
by name (``Discovery.resolve``), one raises ``UnsupportedMarket`` saying so.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from ..config import Settings
from ..domain.market import Market, parse_time
from ..domain.prices import fmt_number, human
from .rest import (
    POSITION_ID_UNSUPPORTED,
    PublicClient,
    UnsupportedMarket,
    _json_list,
    is_position_id_market,
    market_from_gamma,
)

log = logging.getLogger(__name__)

NegRisk = Literal["include", "exclude", "only"]
RankBy = Literal["score", "volume", "spread", "reward"]

#: Weight of the reward yield against one decade of 24 h volume in ``Candidate.score``.
REWARD_WEIGHT = 2.0
#: Width (in cents) beyond two ticks at which the spread factor halves.
SPREAD_HALF_CENTS = 2.0


class SkippedMarket(ValueError):
    """A Gamma market that cannot be used; ``reason`` is the offending field. ``unsupported``: the
    market is well-formed but of a kind polymm does not trade (a position-id market)."""

    def __init__(self, reason: str, detail: str, unsupported: bool = False) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.unsupported = unsupported


def _num(m: dict, key: str, *, default: float | None = 0.0) -> float | None:
    """A Gamma number that may be a JSON number or a decimal string; absent/null/"" → ``default``."""
    value = m.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise SkippedMarket(key, f"not a number: {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise SkippedMarket(key, f"not a number: {value!r}") from None
    if not math.isfinite(x):
        raise SkippedMarket(key, f"not finite: {value!r}")
    return x


def _price(m: dict, key: str) -> float | None:
    """A best bid/ask/last price: Gamma writes 0 for "none"; outside [0, 1] is malformed."""
    x = _num(m, key, default=None)
    if x is not None and not 0 <= x <= 1:
        raise SkippedMarket(key, f"price out of [0, 1]: {x}")
    return x if x else None


def _end_date(m: dict) -> datetime | None:
    raw = m.get("endDate")
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise SkippedMarket("endDate", f"not a string: {raw!r}")
    try:
        return parse_time(raw)
    except ValueError:
        raise SkippedMarket("endDate", f"not an ISO date: {raw!r}") from None


def _reward_rate(m: dict) -> float:
    """Sum of ``clobRewards[].rewardsDailyRate`` (a market may carry several programs)."""
    rewards = m.get("clobRewards")
    if rewards is None:
        return 0.0
    if not isinstance(rewards, list):
        raise SkippedMarket("clobRewards", f"not a list: {type(rewards).__name__}")
    total = 0.0
    for r in rewards:
        if not isinstance(r, dict):
            raise SkippedMarket("clobRewards", "entry not an object")
        total += _num(r, "rewardsDailyRate") or 0.0
    return total


def _iso(d: datetime) -> str:
    return d.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Candidate:
    """One tradable Gamma market with the stats discovery filtered and ranked on.

    Prices are YES prices in [0, 1] (``None`` when Gamma has none); ``spread`` is ``best_ask −
    best_bid`` when both sides exist, else Gamma's ``spread`` field when positive, else ``None``.
    ``reward_max_spread`` is in cents, ``reward_min_size`` in shares, ``reward_daily_rate`` in USDC/day.
    ``hours_to_end`` is measured when the candidate was built. ``volume_1wk`` is Gamma's ``volume1wk``
    (USDC traded in the last 7 days), ``None`` when Gamma does not give it.
    """

    market: Market
    gamma_id: str
    volume_24h: float
    liquidity: float
    spread: float | None
    best_bid: float | None
    best_ask: float | None
    last_price: float | None
    end_date: datetime | None
    hours_to_end: float | None
    reward_daily_rate: float
    reward_min_size: float
    reward_max_spread: float
    outcome_price: float | None = None
    volume_1wk: float | None = None

    @property
    def condition_id(self) -> str:
        return self.market.condition_id

    @property
    def tick(self) -> float:
        return float(self.market.tick.decimal)

    @property
    def mid(self) -> float | None:
        if self.best_bid is not None and self.best_ask is not None:
            return (self.best_bid + self.best_ask) / 2
        return None

    @property
    def price(self) -> float | None:
        """The YES price filters use: mid, else last trade, else Gamma's ``outcomePrices[0]``."""
        for p in (self.mid, self.last_price, self.outcome_price):
            if p is not None:
                return p
        return None

    @property
    def trend(self) -> float | None:
        """The activity trend: the last day's volume against the week's daily average,
        ``volume_24h / (volume_1wk / 7)``. 1 is steady, above 1 rising, 0.3 means the last day traded 30%
        of an average day. ``None`` when the weekly volume is unknown or zero (nothing to compare with)."""
        if self.volume_1wk is None or self.volume_1wk <= 0:
            return None
        return max(0.0, self.volume_24h) / (self.volume_1wk / 7)

    @property
    def reward_eligible(self) -> bool:
        return self.reward_daily_rate > 0 and self.reward_min_size > 0 and self.reward_max_spread > 0

    @property
    def spread_factor(self) -> float:
        """How good the current spread is to quote into, in [0, 1] (see ``score``)."""
        if self.spread is None or self.spread <= 0:
            return 0.0
        tick = self.tick
        if self.spread < 2 * tick - 1e-12:
            return 0.5
        excess_cents = max(0.0, (self.spread - 2 * tick) * 100)
        return 1.0 / (1.0 + excess_cents / SPREAD_HALF_CENTS)

    @property
    def reward_yield(self) -> float:
        """Best-case reward USDC per day per USDC of qualifying two-sided capital (see ``score``)."""
        if not self.reward_eligible:
            return 0.0
        v = self.reward_max_spread
        half_cents = (self.spread / 2) * 100 if self.spread is not None else v
        s = max(half_cents, self.tick * 100)
        if s >= v:
            return 0.0
        return self.reward_daily_rate / self.reward_min_size * ((v - s) / v) ** 2

    @property
    def score(self) -> float:
        """Market-making attractiveness (higher is better)::

            score = spread_factor × (log10(1 + volume_24h) + REWARD_WEIGHT × reward_yield)

        * ``spread_factor`` (0..1): tighter is better but the spread must leave room to quote. With
          ``k = spread / tick``: no two-sided book → 0; ``k < 2`` (locked at one tick: you can only join
          the queue) → 0.5; otherwise ``1 / (1 + excess / 2¢)`` with ``excess = spread − 2·tick`` in
          cents, so two ticks scores 1.0 and every 2¢ of extra width halves it again.
        * ``log10(1 + volume_24h)``: flow to earn spread from, with diminishing returns (one point per
          decade of USDC volume).
        * ``reward_yield = rewardsDailyRate / rewardsMinSize × ((v − s) / v)²``: the daily pool per USDC
          of the smallest qualifying two-sided quote (``min_size`` shares each side cost ``min_size``
          USDC in total), times docs/protocol.md §8's order score ``S(v, s)`` for a quote at the touch: ``v`` =
          ``rewardsMaxSpread`` (¢), ``s = max(spread / 2, tick)`` in cents; 0 when ``s ≥ v`` or not
          eligible. ``REWARD_WEIGHT`` (2.0) trades one unit of yield for two decades of volume.
        """
        return self.spread_factor * (math.log10(1 + max(0.0, self.volume_24h)) + REWARD_WEIGHT * self.reward_yield)


def candidate_from_gamma(m: Any, now: datetime | None = None) -> Candidate:
    """A ``Candidate`` from one Gamma market object; raises ``SkippedMarket`` naming the bad field."""
    if not isinstance(m, dict):
        raise SkippedMarket("not an object", type(m).__name__)
    if is_position_id_market(m):  # before the field reads, so it is counted for what it is
        raise SkippedMarket("positionIds", POSITION_ID_UNSUPPORTED, unsupported=True)
    # Strict reads first, so a garbage number is not silently read as 0 by ``market_from_gamma``.
    volume_24h = _num(m, "volume24hr") or 0.0
    volume_1wk = _num(m, "volume1wk", default=None)
    liquidity = _num(m, "liquidityNum", default=None)
    if liquidity is None:
        liquidity = _num(m, "liquidity") or 0.0
    best_bid, best_ask, last = _price(m, "bestBid"), _price(m, "bestAsk"), _price(m, "lastTradePrice")
    gamma_spread = _num(m, "spread")
    min_size = _num(m, "rewardsMinSize") or 0.0
    max_spread = _num(m, "rewardsMaxSpread") or 0.0
    _num(m, "orderMinSize", default=None)
    rate = _reward_rate(m)
    end = _end_date(m)
    try:
        market = market_from_gamma(m)
    except ValueError as e:
        reason, _, detail = str(e).partition(":")
        raise SkippedMarket(reason or "market", detail.strip(), isinstance(e, UnsupportedMarket)) from None
    outcome_prices = _json_list(m.get("outcomePrices"))
    try:
        outcome_price = float(outcome_prices[0]) if outcome_prices else None
    except (TypeError, ValueError):
        outcome_price = None
    if best_bid is not None and best_ask is not None:
        spread: float | None = round(best_ask - best_bid, 10)
    else:
        spread = gamma_spread if gamma_spread else None
    now = now or datetime.now(UTC)
    return Candidate(
        market=market,
        gamma_id=str(m.get("id") or ""),
        volume_24h=volume_24h,
        liquidity=liquidity,
        spread=spread,
        best_bid=best_bid,
        best_ask=best_ask,
        last_price=last,
        end_date=end,
        hours_to_end=(end - now).total_seconds() / 3600 if end is not None else None,
        reward_daily_rate=rate,
        reward_min_size=min_size,
        reward_max_spread=max_spread,
        outcome_price=outcome_price,
        volume_1wk=volume_1wk,
    )


def _is_live(m: dict) -> bool:
    return not (
        m.get("active") is False
        or m.get("closed") is True
        or m.get("archived") is True
        or m.get("acceptingOrders") is False
        or m.get("enableOrderBook") is False
    )


@dataclass(frozen=True, slots=True)
class Filters:
    """What ``Discovery.discover`` keeps. ``None`` means "no constraint"; prices are YES prices.

    ``min_spread`` skips markets too tight (too competitive) to earn on; ``min_volume_1wk`` bounds the 7-day
    volume, ``min_trend`` ``Candidate.trend`` and ``min_score`` ``Candidate.score``. A market whose value is
    unknown (no spread, no ``volume1wk``) fails a filter that is set on it: the filter cannot vouch for it.
    """

    min_volume_24h: float | None = None
    min_liquidity: float | None = None
    max_spread: float | None = None
    min_spread: float | None = None
    min_volume_1wk: float | None = None
    min_trend: float | None = None
    min_score: float | None = None
    price_range: tuple[float, float] | None = None
    min_hours_to_end: float | None = None
    max_hours_to_end: float | None = None
    rewards_only: bool = False
    max_reward_min_size: float | None = None
    neg_risk: NegRisk = "include"
    search: str | None = None
    #: Server-side ordering (Gamma ``order``/``ascending``); ``rank`` re-orders client-side.
    order: str = "volume24hr"
    ascending: bool = False
    extra_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.neg_risk not in ("include", "exclude", "only"):
            raise ValueError(f"neg_risk: expected include, exclude or only, got {self.neg_risk!r}")
        if self.price_range is not None and self.price_range[0] > self.price_range[1]:
            raise ValueError(f"price_range: low above high: {self.price_range}")
        if self.min_spread is not None and self.max_spread is not None and self.min_spread > self.max_spread:
            raise ValueError(f"min_spread: above max_spread ({human(self.min_spread)} > {human(self.max_spread)})")

    def params(self, now: datetime) -> dict[str, Any]:
        """The Gamma ``/markets`` query parameters these filters map to (without paging)."""
        p: dict[str, Any] = {"closed": "false", "order": self.order, "ascending": str(self.ascending).lower()}
        if self.min_liquidity is not None:
            p["liquidity_num_min"] = self.min_liquidity
        volume_floor = max((v for v in (self.min_volume_24h, self.min_volume_1wk) if v is not None), default=None)
        if volume_floor is not None:
            p["volume_num_min"] = volume_floor
        if self.min_hours_to_end is not None:
            p["end_date_min"] = _iso(now + timedelta(hours=self.min_hours_to_end))
        if self.max_hours_to_end is not None:
            p["end_date_max"] = _iso(now + timedelta(hours=self.max_hours_to_end))
        if self.rewards_only:
            p["rewards_min_size"] = 1
        p.update(self.extra_params)
        return p

    def reject(self, c: Candidate) -> str | None:
        """The first filter ``c`` fails (its name), or ``None`` when it passes them all."""
        if self.min_volume_24h is not None and c.volume_24h < self.min_volume_24h:
            return "volume"
        if self.min_liquidity is not None and c.liquidity < self.min_liquidity:
            return "liquidity"
        if self.min_volume_1wk is not None and (c.volume_1wk is None or c.volume_1wk < self.min_volume_1wk):
            return "volume_1wk"
        if self.max_spread is not None and (c.spread is None or c.spread > self.max_spread + 1e-12):
            return "spread"
        if self.min_spread is not None and (c.spread is None or c.spread < self.min_spread - 1e-12):
            return "spread"
        if self.min_trend is not None:
            trend = c.trend
            if trend is None or trend < self.min_trend:
                return "trend"
        if self.price_range is not None:
            p = c.price
            lo, hi = self.price_range
            if p is None or not lo <= p <= hi:
                return "price"
        if self.min_hours_to_end is not None and (c.hours_to_end is None or c.hours_to_end < self.min_hours_to_end):
            return "end"
        if self.max_hours_to_end is not None and (c.hours_to_end is None or c.hours_to_end > self.max_hours_to_end):
            return "end"
        if self.rewards_only and not c.reward_eligible:
            return "rewards"
        if self.max_reward_min_size is not None and c.reward_min_size > self.max_reward_min_size:
            return "rewards"
        if self.neg_risk == "exclude" and c.market.neg_risk:
            return "neg_risk"
        if self.neg_risk == "only" and not c.market.neg_risk:
            return "neg_risk"
        if self.search:
            hay = f"{c.market.question}\n{c.market.slug}".lower()
            if not all(term in hay for term in self.search.lower().split()):
                return "search"
        if self.min_score is not None and c.score < self.min_score:
            return "score"
        return None


def selection_filters(settings: Settings) -> Filters:
    """The automatic selection's filters (``POLYMM_SELECT_*``): what ``polymm run`` and the dashboard start
    with when no market list is given, and what the dashboard's picker shows."""
    return Filters(
        min_volume_24h=settings.select_min_volume_24h or None,
        max_spread=settings.select_max_spread,
        price_range=(settings.select_price_min, settings.select_price_max),
        min_hours_to_end=settings.select_min_hours_to_end or None,
        max_hours_to_end=settings.select_max_hours_to_end,
        rewards_only=settings.select_rewards_only,
        min_liquidity=settings.select_min_liquidity or None,
        min_spread=settings.select_min_spread,
        min_volume_1wk=settings.select_min_volume_1wk or None,
        min_trend=settings.select_min_trend or None,
        min_score=settings.select_min_score or None,
    )


def describe_filters(f: Filters) -> str:
    """The filters as a person reads them (the picker's status line, ``polymm markets``)."""
    parts = []
    if f.price_range is not None:
        parts.append(f"price {human(f.price_range[0])}–{human(f.price_range[1])}")
    if f.min_hours_to_end is not None or f.max_hours_to_end is not None:
        lo = f"≥ {human(f.min_hours_to_end)} h" if f.min_hours_to_end is not None else ""
        hi = f"≤ {human(f.max_hours_to_end)} h" if f.max_hours_to_end is not None else ""
        parts.append(f"{' '.join(x for x in (lo, hi) if x)} to end")
    if f.min_volume_24h is not None:
        parts.append(f"volume 24h ≥ {fmt_number(f.min_volume_24h, grouping=True)}")
    if f.min_volume_1wk is not None:
        parts.append(f"volume 7d ≥ {fmt_number(f.min_volume_1wk, grouping=True)}")
    if f.min_spread is not None:
        parts.append(f"spread ≥ {human(f.min_spread)}")
    if f.max_spread is not None:
        parts.append(f"spread ≤ {human(f.max_spread)}")
    if f.min_liquidity is not None:
        parts.append(f"liquidity ≥ {fmt_number(f.min_liquidity, grouping=True)}")
    if f.min_trend is not None:
        parts.append(f"trend ≥ {human(f.min_trend)}")
    if f.min_score is not None:
        parts.append(f"score ≥ {human(f.min_score)}")
    if f.rewards_only:
        parts.append("rewards only")
    if f.search:
        parts.append(f"search {f.search!r}")
    return ", ".join(parts) or "no filters"


def rank(candidates: Iterable[Candidate], by: RankBy = "score") -> list[Candidate]:
    """Candidates best first.

    ``score``: ``Candidate.score`` descending; ``volume``: 24 h volume descending; ``spread``: spread
    ascending (no two-sided book last); ``reward``: ``Candidate.reward_yield`` descending, then daily
    rate. Ties fall back to 24 h volume (descending), then condition id, so the order is deterministic.
    """
    keys: dict[str, Callable[[Candidate], tuple]] = {
        "score": lambda c: (-c.score,),
        "volume": lambda c: (-c.volume_24h,),
        "spread": lambda c: (c.spread is None, c.spread if c.spread is not None else 0.0),
        "reward": lambda c: (-c.reward_yield, -c.reward_daily_rate),
    }
    if by not in keys:
        raise ValueError(f"rank by: expected one of {sorted(keys)}, got {by!r}")
    key = keys[by]
    return sorted(candidates, key=lambda c: (*key(c), -c.volume_24h, c.condition_id))


#: Walks of the listing at most, while the last one met a market twice (``Discovery.discover``)
WALKS = 3


class Discovery:
    """Gamma market discovery over a ``PublicClient``.

    ``clock`` returns the current UTC time (for hours-to-end); tests pin it.
    """

    def __init__(
        self,
        client: PublicClient,
        *,
        page_size: int = 100,
        max_scan: int = 5000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be positive")
        self.client = client
        self.page_size = page_size
        self.max_scan = max_scan
        self.clock = clock
        self.skipped = 0
        self.skip_reasons: Counter[str] = Counter()
        self.filtered: Counter[str] = Counter()
        self.pages = 0

    def _skip(self, m: Any, e: SkippedMarket) -> None:
        self.skipped += 1
        self.skip_reasons[e.reason] += 1
        ident = m.get("id") or m.get("slug") if isinstance(m, dict) else None
        log.warning("discovery: skipping Gamma market %s: %s", ident, e)

    def _candidates(self, docs: list, now: datetime, live_only: bool = True) -> Iterable[Candidate]:
        for m in docs:
            if live_only and isinstance(m, dict) and not _is_live(m):
                self.filtered["inactive"] += 1
                continue
            try:
                yield candidate_from_gamma(m, now)
            except SkippedMarket as e:
                self._skip(m, e)

    async def discover(self, filters: Filters | None = None, *, limit: int | None = None) -> list[Candidate]:
        """Live markets passing ``filters``, in Gamma's order, at most ``limit`` of them.

        Pages through Gamma (``page_size`` a page) until a short page, ``limit`` kept candidates or
        ``max_scan`` markets read. Offset paging over a list that moves (Gamma orders by 24 h volume,
        which every trade changes) can miss a market: one that moves up past a page boundary after
        its page was read is never seen, and the one it pushed down is seen twice. So a walk that
        met a market twice is followed by another, up to ``WALKS``, and what it finds that the walks
        before did not is added (at 300 markets of the stand-in one selection in a dozen missed two,
        and half of a day's runs of ``bench/scale_bench.py`` waited in vain for the 300th market).
        """
        f = filters or Filters()
        now = self.clock()
        out: list[Candidate] = []
        seen: set[str] = set()
        for walk in range(WALKS):
            before = (self.skipped, self.skip_reasons.copy(), self.filtered["inactive"])
            twice = await self._walk(f, now, out, seen, limit)
            if walk:  # a market skipped or inactive was counted by the first walk already
                self.skipped, self.skip_reasons, self.filtered["inactive"] = before
            if not twice or (limit is not None and len(out) >= limit):
                break
        return out

    async def _walk(self, f: Filters, now: datetime, out: list[Candidate], seen: set[str], limit: int | None) -> bool:
        """One walk of the listing into ``out`` (markets in ``seen`` are not added again); whether it
        met a market twice (the list moved while it was read)."""
        twice = False
        met: set[str] = set()
        async for page in self.client.gamma_pages(
            "/markets", page_size=self.page_size, max_items=self.max_scan, **f.params(now)
        ):
            self.pages += 1
            if not isinstance(page, list):
                self._skip(page, SkippedMarket("page", f"not a list: {type(page).__name__}"))
                break
            for c in self._candidates(page, now):
                if c.condition_id in met:
                    twice = True
                    continue
                met.add(c.condition_id)
                if c.condition_id in seen:
                    continue
                seen.add(c.condition_id)
                reason = f.reject(c)
                if reason is not None:
                    self.filtered[reason] += 1
                    continue
                out.append(c)
                if limit is not None and len(out) >= limit:
                    return False
        return twice

    async def ranked(
        self, filters: Filters | None = None, *, by: RankBy = "score", top: int | None = None
    ) -> list[Candidate]:
        """``discover`` then ``rank``; the first ``top`` (all when ``None``)."""
        out = rank(await self.discover(filters), by=by)
        return out if top is None else out[:top]

    async def resolve(self, identifier: str) -> Candidate:
        """A condition id (``0x`` + 64 hex), slug, token id or Gamma id → its ``Candidate``.

        Looks up Gamma with ``condition_ids``, ``slug`` or ``clob_token_ids`` (all-digit identifiers
        try token ids, then Gamma ``id``). Only open markets are found (Gamma's ``closed=false``
        default), though one paused for orders still resolves. Raises ``UnsupportedMarket`` (a
        ``ValueError``) when the match is a position-id market, ``LookupError`` when nothing usable
        matches (a malformed match is counted as skipped).
        """
        ident = identifier.strip()
        if not ident:
            raise LookupError("empty market identifier")
        if ident.lower().startswith("0x"):
            attempts = [{"condition_ids": [ident.lower()]}]
        elif ident.isdigit():
            attempts = [{"clob_token_ids": [ident]}, {"id": [ident]}]
        else:
            attempts = [{"slug": [ident]}]
        now = self.clock()
        refused: SkippedMarket | None = None
        for params in attempts:
            doc = await self.client.gamma_get("/markets", **params, limit=10)
            docs = doc if isinstance(doc, list) else [doc]
            for m in docs:
                try:
                    c = candidate_from_gamma(m, now)
                except SkippedMarket as e:
                    self._skip(m, e)
                    if e.unsupported and _names(m, ident):
                        refused = e
                    continue
                mk = c.market
                if ident.lower() in (mk.condition_id.lower(), mk.slug, mk.yes_token, mk.no_token, c.gamma_id):
                    return c
        if refused is not None:  # say why, rather than "no market" (the user named one that exists)
            raise UnsupportedMarket(f"{identifier}: {refused.detail}")
        raise LookupError(f"no open Gamma market matches {identifier!r}")


def _names(m: dict, ident: str) -> bool:
    """Whether a raw Gamma market is the one ``ident`` names (condition id, slug, Gamma id or a token)."""
    low = ident.lower()
    tokens = _json_list(m.get("clobTokenIds")) + _json_list(m.get("positionIds"))
    return low in {str(m.get("conditionId") or "").lower(), str(m.get("slug") or ""), str(m.get("id") or ""),
                   *(str(t) for t in tokens)}


__all__ = [
    "REWARD_WEIGHT",
    "Candidate",
    "Discovery",
    "Filters",
    "SkippedMarket",
    "candidate_from_gamma",
    "rank",
]
