"""Deterministic synthetic markets and order flow for the stand-in exchange.

The demo, the integration tests and strategy experiments need markets that look and move like
Polymarket's without any network: plausible questions, real-looking ids, the venue's tick sizes, and
books that stay two-sided with a few ticks of spread while trades go through them. Everything here is
a pure function of a seed, so a failing test or a demo session can be replayed:

* ``market_profiles(seed)`` / ``make_markets(seed)`` derive ids, ticks and starting values from
  ``random.Random`` seeded with a string (string seeds hash with SHA-512: the same on every run and
  machine, unlike ``hash()``);
* each market's ``SyntheticFlow`` owns its own ``random.Random`` seeded from (seed, market index), so
  the sequence of actions for a seed is fixed however the markets' asyncio tasks interleave. Only the
  timing (Poisson gaps from an unseeded generator) varies between runs.

A flow step walks a hidden fair value and then adds a maker order near it, cancels one of its resting
orders, or sends a marketable FAK order through one to three levels (biased toward stale quotes, so
the book follows the fair value). Orders go in as YES or NO at random, exercising the mirror.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from polymm.domain.market import Market, Side
from polymm.domain.prices import MAX_PIPS, Tick, price_to_pips

from .matching import MatchingEngine, OrderRejected, OrderType

log = logging.getLogger(__name__)

QUESTIONS: tuple[str, ...] = (
    "Will the Fed cut interest rates at the December 2026 meeting?",
    "Will Bitcoin close above $150,000 on December 31, 2026?",
    "Will SpaceX's Starship reach orbit before March 2027?",
    "Will the US unemployment rate be above 4.5% in January 2027?",
    "Will Ethereum flip Bitcoin by market cap in 2027?",
    "Will OpenAI release GPT-6 before July 2027?",
    "Will the Lakers win the 2027 NBA Finals?",
    "Will a hurricane make US landfall as Category 5 in 2027?",
    "Will the S&P 500 hit 8,000 before April 2027?",
    "Will Taylor Swift announce a new album before February 2027?",
    "Will the UK hold a general election in 2027?",
    "Will Apple release a foldable iPhone in 2027?",
    "Will global average temperature set a new record in 2027?",
    "Will Argentina's inflation fall below 20% in 2027?",
    "Will NASA's Artemis III launch before December 2027?",
    "Will Real Madrid win the 2026-27 Champions League?",
)

_TICK_001 = Tick(price_to_pips("0.01"))
_TICK_0001 = Tick(price_to_pips("0.001"))
_TICK_0005 = Tick(price_to_pips("0.005"))
_END_BASE = datetime(2027, 1, 1, 12, tzinfo=UTC)

MIN_LEVELS = 5
MAX_LEVELS = 15


@dataclass(frozen=True, slots=True)
class MarketProfile:
    """A synthetic market plus what only the simulation knows: Gamma id and starting fair value."""

    market: Market
    gamma_id: str
    start_fair: int  # YES pips, on the market's tick
    description: str
    #: Pretend pre-session volume (USDC) so Gamma's volume fields and sorting look like a live venue.
    base_volume: Decimal
    base_volume_24h: Decimal


def _tick_for(index: int) -> Tick:
    # Most markets trade on 0.01; one on 0.001 (kept near 0.5) and one on the newer 0.005 grid.
    if index == 1:
        return _TICK_0001
    if index == 4:
        return _TICK_0005
    return _TICK_001


def _token_id(seed: int, index: int, outcome: str) -> str:
    # Polymarket token ids are uint256 decimals; 77 digits is their usual length.
    h = int.from_bytes(hashlib.sha256(f"polymm-token:{seed}:{index}:{outcome}".encode()).digest(), "big")
    return str(10**76 + h % (9 * 10**76))


def _slug(question: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", question.lower()).strip("-")


def market_profiles(seed: int, count: int = 6) -> list[MarketProfile]:
    """``count`` synthetic binary markets, a pure function of ``seed``."""
    rng = random.Random(f"polymm-markets:{seed}")
    picks = rng.sample(range(len(QUESTIONS)), min(count, len(QUESTIONS)))
    gamma_ids = rng.sample(range(540_000, 990_000), count)
    profiles = []
    for i in range(count):
        question = QUESTIONS[picks[i]] if i < len(picks) else f"{QUESTIONS[i % len(QUESTIONS)]} (#{i + 1})"
        tick = _tick_for(i)
        lo, hi = (0.45, 0.55) if tick is _TICK_0001 else (0.15, 0.85)
        fair = tick.floor(int(rng.uniform(lo, hi) * MAX_PIPS))
        end = _END_BASE + timedelta(days=rng.randint(30, 400))
        market = Market(
            condition_id="0x" + hashlib.sha256(f"polymm-condition:{seed}:{i}".encode()).hexdigest(),
            yes_token=_token_id(seed, i, "yes"),
            no_token=_token_id(seed, i, "no"),
            question=question,
            tick=tick,
            min_order_size=Decimal(5),
            neg_risk=False,
            slug=_slug(question),
            reward_min_size=Decimal(rng.choice((20, 50, 100, 200))),
            reward_max_spread=Decimal("1.5") if tick is _TICK_0001 else Decimal(rng.choice(("3.5", "4.5"))),
            end_date=end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        description = (
            f'This market will resolve to "Yes" if the event in the title happens by {end:%B} {end.day}, '
            f'{end.year}, and to "No" otherwise. (Synthetic market of the polymm stand-in exchange.)'
        )
        volume = Decimal(int(rng.lognormvariate(12.0, 1.5) * 100)) / 100
        volume_24h = (volume * Decimal(rng.uniform(0.005, 0.08))).quantize(Decimal("0.01"))
        profiles.append(MarketProfile(market, str(gamma_ids[i]), fair, description, volume, volume_24h))
    return profiles


def make_markets(seed: int, count: int = 6) -> list[Market]:
    """The ``Market`` objects of ``market_profiles(seed, count)``."""
    return [p.market for p in market_profiles(seed, count)]


class SyntheticFlow:
    """One market's synthetic traders: a maker that quotes around a drifting fair value, and takers.

    ``step()`` performs one action synchronously (tests drive it directly); ``run()`` steps at a
    Poisson rate on the event loop.
    """

    def __init__(
        self, engine: MatchingEngine, profile: MarketProfile, seed: int, index: int, max_orders: int = 80
    ) -> None:
        self.engine = engine
        self.market = profile.market
        found = engine.lookup(self.market.yes_token)
        if found is None:
            raise ValueError(f"market {self.market.condition_id} is not in the engine")
        self.book = found[0]
        self.rng = random.Random(f"polymm-flow:{seed}:{index}")
        self.tick = self.market.tick.pips
        # Fine-tick markets quote on every other tick, so 15 levels still span a sensible range.
        self.spacing = self.tick * 2 if self.tick <= 10 else self.tick
        self.fair = float(profile.start_fair)
        self.anchor = float(profile.start_fair)
        self.sigma = 0.4 * max(self.tick, 50)
        edge = max(3 * self.tick, 300)
        self.lo, self.hi = edge, MAX_PIPS - edge
        self.maker = f"synthetic-mm-{index}"
        self.taker = f"synthetic-taker-{index}"
        self.max_orders = max_orders
        self.steps = 0
        self._live: list[str] = []

    # ---------------------------------------------------------------- public

    def seed_book(self, levels: int = 10) -> None:
        """Lay down a starting ladder on both sides and a starting last-trade price."""
        self.engine.seed_last_trade(self.market.condition_id, self.market.tick.floor(int(self.fair)))
        for k in range(levels):
            for side in (Side.BUY, Side.SELL):
                for _ in range(2 if self.rng.random() < 0.4 else 1):
                    try:
                        self._add_maker(side, k)
                    except OrderRejected:
                        pass

    def step(self) -> str:
        """One synthetic action; returns its name (``add``, ``cancel``, ``take``, or ``idle``)."""
        self.steps += 1
        self._walk()
        try:
            return self._act()
        except OrderRejected:
            # The book moved under a stale plan (possible when other traders are active): skip.
            return "idle"

    async def run(self, rate: float, gate: asyncio.Event) -> None:
        """Step forever at ``rate`` steps/s (Poisson gaps) while ``gate`` is set."""
        timing = random.Random()
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            if not gate.is_set():
                await gate.wait()
                next_at = loop.time()
            now = loop.time()
            burst = 0
            while next_at <= now and burst < 1000:
                try:
                    self.step()
                except Exception:
                    log.exception("synthetic flow step failed in %s", self.market.condition_id)
                burst += 1
                next_at += timing.expovariate(rate)
            next_at = max(next_at, now)  # drop any backlog beyond one burst
            await asyncio.sleep(next_at - now)

    # ---------------------------------------------------------------- actions

    def _walk(self) -> None:
        self.fair += self.rng.gauss(0.0, self.sigma) + 0.002 * (self.anchor - self.fair)
        self.fair = min(max(self.fair, self.lo), self.hi)

    def _act(self) -> str:
        bids, asks = self.book.bids, self.book.asks
        if len(bids) < MIN_LEVELS:
            return self._add_maker(Side.BUY)
        if len(asks) < MIN_LEVELS:
            return self._add_maker(Side.SELL)
        if len(bids) > MAX_LEVELS:
            return self._trim(Side.BUY)
        if len(asks) > MAX_LEVELS:
            return self._trim(Side.SELL)
        self._prune()
        if len(self._live) > self.max_orders:
            return self._cancel_random()
        r = self.rng.random()
        if r < 0.6:
            thinner = Side.BUY if len(bids) < len(asks) else Side.SELL
            side = thinner if self.rng.random() < 0.65 else thinner.other
            return self._add_maker(side)
        if r < 0.8:
            return self._cancel_random()
        return self._take()

    def _size(self) -> Decimal:
        if self.rng.random() < 0.5:
            return Decimal(self.rng.choice((5, 10, 15, 20, 25, 50, 75, 100, 150, 200, 250, 300, 500)))
        cents = int(min(500.0, 5.0 + self.rng.lognormvariate(3.3, 1.0)) * 100)
        return Decimal(cents) / 100

    def _send(self, owner: str, yes_side: Side, yes_price: int, size: Decimal, **kw: object):
        """Place in YES terms, sending it as the NO order it mirrors 30% of the time."""
        if self.rng.random() < 0.3:
            return self.engine.place(
                owner, self.market.no_token, yes_side.other, MAX_PIPS - yes_price, size, **kw
            )
        return self.engine.place(owner, self.market.yes_token, yes_side, yes_price, size, **kw)

    def _add_maker(self, side: Side, k: int | None = None) -> str:
        t = self.tick
        if k is None:
            k = min(int(self.rng.expovariate(0.4)), MAX_LEVELS - 1)
        if side is Side.BUY:
            price = math.floor((self.fair - t / 2) / t) * t - k * self.spacing
            best_ask = self.book.asks.best()
            if best_ask is not None:
                price = min(price, best_ask - t)
        else:
            price = math.ceil((self.fair + t / 2) / t) * t + k * self.spacing
            best_bid = self.book.bids.best()
            if best_bid is not None:
                price = max(price, best_bid + t)
        size = self._size()
        if not t <= price <= MAX_PIPS - t:
            return "idle"
        result = self._send(self.maker, side, price, size, post_only=True)
        self._live.append(result.order_id)
        return "add"

    def _prune(self) -> None:
        self._live = [oid for oid in self._live if self.engine.order(oid) is not None]

    def _cancel_random(self) -> str:
        self._prune()
        if not self._live:
            return "idle"
        self.engine.cancel(self._live.pop(self.rng.randrange(len(self._live))))
        return "cancel"

    def _trim(self, side: Side) -> str:
        """Cancel our orders on the worst level of an over-deep side."""
        book_side = self.book.side(side)
        worst = book_side.prices_in_key_order()[0]
        mine = [o.id for o in book_side.levels[worst].orders.values() if o.owner == self.maker]
        if not mine:
            return self._cancel_random()
        self.engine.cancel_orders(mine)
        return "cancel"

    def _take(self) -> str:
        bid, ask = self.book.bids.best(), self.book.asks.best()
        half = self.tick / 2
        if bid is not None and bid > self.fair + half:
            side = Side.SELL  # a stale bid above fair: informed sellers hit it
        elif ask is not None and ask < self.fair - half:
            side = Side.BUY
        else:
            side = Side.BUY if self.rng.random() < 0.5 else Side.SELL
        opposite = self.book.side(side.other)
        if len(opposite) <= MIN_LEVELS:
            return self._add_maker(side.other)
        depth = min(self.rng.choice((1, 1, 1, 2, 2, 3)), len(opposite) - MIN_LEVELS)
        prices = opposite.prices_best_first()[:depth]
        limit = prices[-1]
        through = sum(opposite.levels[p].total for p in prices[:-1])
        into_last = self.rng.randint(1, opposite.levels[limit].total)
        cents = (through + into_last) // 10_000
        # At least 5 shares and the venue's $1 marketable minimum at the worst price either way.
        worst = min(limit, MAX_PIPS - limit)
        cents = max(cents, 500, -(-1_000_000 // worst))
        self._send(self.taker, side, limit, Decimal(cents) / 100, order_type=OrderType.FAK)
        return "take"
