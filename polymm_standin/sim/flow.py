"""The synthetic traders: each market's hidden fair value and the flow that trades around it.

Each market's ``SyntheticFlow`` owns its own generators seeded from (seed, market index), so the
sequence of actions for a seed is fixed however the markets' steps interleave. Only the timing varies
between runs: the stand-in steps every market from one schedule (``activity.FlowSchedule``, run by
``server.flows.FlowRunner``); ``run`` steps one market alone at a Poisson rate. A market's hidden fair value
(``FairValue``) is a mean-reverting random walk with jumps scheduled some steps before they happen; it
has its own generator, so the fair-value path of a seed does not depend on what anybody trades. Each
flow step advances it and lets one trader act:

* noise makers add post-only orders near fair value and cancel old ones (keeping 5..15 levels a side);
* noise takers send FAK orders through one to three levels, picking off quotes left stale by a move;
* the informed trader knows the next jump and trades toward it before it happens (its signed flow
  predicts the next fair-value move: adverse selection for whoever quoted against it);
* a competing market maker keeps one bid and one ask around fair value and now and then improves the
  best quote by one tick.

Orders go in as YES or NO at random, exercising the mirror. The markets themselves come from
``catalog``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from polymm.domain.market import Outcome, Side
from polymm.domain.prices import MAX_PIPS

from . import units
from .catalog import (
    CATEGORIES,
    COLLATERAL_ADDRESS,
    DEFAULT_NEG_RISK_MARKETS,
    MAX_LEVELS,
    MIN_LEVELS,
    QUESTIONS,
    TAGS,
    Catalog,
    EventProfile,
    FeeSchedule,
    MarketProfile,
    MarketStatus,
    Tag,
    listed_market_profile,
    make_markets,
    market_profiles,
    neg_risk_event,
    single_market_event,
)
from .matching import MatchingEngine, OrderRejected, OrderType, PlaceResult

log = logging.getLogger(__name__)

#: Synthetic steps per second per market for the demo: lively books without a wall of trades.
DEFAULT_FLOW_RATE = 6.0


@dataclass(frozen=True, slots=True)
class Jump:
    """A fair-value jump that will happen in ``steps`` flow steps, by ``size`` YES pips."""

    steps: int
    size: float


class FairValue:
    """A market's hidden fair value in YES pips (float): mean-reverting walk plus scheduled jumps.

    Draws come only from its own generator, in a fixed pattern per step, so the path is a pure
    function of the seed whatever happens in the book.
    """

    JUMP_PROB = 0.01
    LEAD_STEPS = (6, 24)

    def __init__(self, start: float, base_tick: int, rng: random.Random, lo: float, hi: float) -> None:
        self.rng = rng
        self.value = float(start)
        self.anchor = float(start)
        unit = max(base_tick, 50)
        self.sigma = 0.4 * unit
        self.jump_range = (3.0 * unit, 8.0 * unit)
        self.lo, self.hi = lo, hi
        self.pending: Jump | None = None
        self.jumps = 0

    def advance(self) -> None:
        self.value += self.rng.gauss(0.0, self.sigma) + 0.002 * (self.anchor - self.value)
        self.value = min(max(self.value, self.lo), self.hi)
        roll = self.rng.random()
        if self.pending is not None:
            if self.pending.steps <= 1:
                target = min(max(self.value + self.pending.size, self.lo), self.hi)
                self.anchor += target - self.value
                self.value = target
                self.pending = None
                self.jumps += 1
            else:
                self.pending = Jump(self.pending.steps - 1, self.pending.size)
        elif roll < self.JUMP_PROB:
            lead = self.rng.randint(*self.LEAD_STEPS)
            size = self.rng.uniform(*self.jump_range) * (1 if self.rng.random() < 0.5 else -1)
            # Jump toward the middle when the walk is near an edge, so the move really happens.
            if self.value + size > self.hi or self.value + size < self.lo:
                size = -size
            self.pending = Jump(lead, size)


class SyntheticFlow:
    """One market's synthetic traders around a hidden fair value (see the module docstring).

    ``step()`` performs one action synchronously (tests drive it directly) and returns its name:
    ``add``/``cancel`` (noise makers), ``take`` (noise takers), ``informed``, ``mm-quote`` /
    ``mm-improve`` (the competing market maker) or ``idle``. ``run()`` steps at a Poisson rate.
    """

    #: Bound of ``fair_log`` (steps kept for markout measurements).
    FAIR_LOG = 20_000

    def __init__(
        self,
        matching: MatchingEngine,
        profile: MarketProfile,
        seed: int,
        index: int,
        max_orders: int = 80,
        clock: Callable[[], int] = units.now_ms,
        fair_log_len: int | None = None,
    ) -> None:
        self.matching = matching
        self.market = profile.market
        found = matching.lookup(self.market.yes_token)
        if found is None:
            raise ValueError(f"market {self.market.condition_id} is not in the engine")
        self.book = found[0]
        self.rng = random.Random(f"polymm-flow:{seed}:{index}")
        self.clock = clock
        base_tick = self.market.tick.pips
        edge = max(3 * base_tick, 300)
        self.lo, self.hi = edge, MAX_PIPS - edge
        fair_rng = random.Random(f"polymm-fair:{seed}:{index}")
        self.fair = FairValue(profile.start_fair, base_tick, fair_rng, self.lo, self.hi)
        self.maker = f"synthetic-mm-{index}"
        self.taker = f"synthetic-taker-{index}"
        self.informed_owner = f"synthetic-informed-{index}"
        self.competitor = f"synthetic-competitor-{index}"
        self.max_orders = max_orders
        self.steps = 0
        self.active = True
        #: Counts of actions by name.
        self.actions: Counter[str] = Counter()
        #: Net YES shares the informed trader bought (sells negative), cumulative.
        self.informed_position = Decimal(0)
        #: (step, epoch ms, fair YES price) per step, newest last.
        #: ``fair_log_len`` (default ``FAIR_LOG``) bounds it: a venue of hundreds of markets keeps less each.
        self.fair_log: deque[tuple[int, int, float]] = deque(maxlen=fair_log_len or self.FAIR_LOG)
        self._live: list[str] = []
        self._quotes: dict[Side, str] = {}

    # ---------------------------------------------------------------- public

    @property
    def tick(self) -> int:
        """The market's current tick in pips (it can change during a session)."""
        return self.book.market.tick.pips

    @property
    def spacing(self) -> int:
        # Fine-tick markets quote on every other tick, so 15 levels still span a sensible range.
        t = self.tick
        return t * 2 if t <= 10 else t

    def fair_value(self, outcome: Outcome = Outcome.YES) -> float:
        """The hidden fair value as a probability of ``outcome`` (the informed trader's view, minus the jump)."""
        yes = self.fair.value / MAX_PIPS
        return yes if outcome is Outcome.YES else 1.0 - yes

    def seed_book(self, levels: int = 10) -> None:
        """Lay down a starting ladder on both sides and a starting last-trade price."""
        self.matching.seed_last_trade(self.market.condition_id, self.market.tick.floor(int(self.fair.value)))
        for k in range(levels):
            for side in (Side.BUY, Side.SELL):
                for _ in range(2 if self.rng.random() < 0.4 else 1):
                    try:
                        self._add_maker(side, k)
                    except OrderRejected:
                        pass

    def deactivate(self) -> None:
        """Stop trading (the market closed); resting orders are the venue's to cancel."""
        self.active = False
        self._live.clear()
        self._quotes.clear()

    def step(self) -> str:
        """Advance the fair value and let one trader act; returns the action's name."""
        self.steps += 1
        self.fair.advance()
        self.fair_log.append((self.steps, self.clock(), self.fair.value / MAX_PIPS))
        if not self.active:
            action = "idle"
        else:
            try:
                action = self._act()
            except OrderRejected:
                # The book moved under a stale plan (possible when other traders are active): skip.
                action = "idle"
        self.actions[action] += 1
        return action

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

    def _act(self) -> str:
        bids, asks = self.book.bids, self.book.asks
        # Keep the book two-sided and of sane depth first (near 0/1 fewer levels fit: then move on).
        if len(bids) < MIN_LEVELS and self._add_maker(Side.BUY) != "idle":
            return "add"
        if len(asks) < MIN_LEVELS and self._add_maker(Side.SELL) != "idle":
            return "add"
        if len(bids) > MAX_LEVELS:
            return self._trim(Side.BUY)
        if len(asks) > MAX_LEVELS:
            return self._trim(Side.SELL)
        # Prune only when the list is long: a shorter list cannot hold too many live orders, and pruning
        # keeps the order of the survivors, so the actions are the same as pruning every step (cheaper).
        if len(self._live) > self.max_orders:
            self._prune()
            if len(self._live) > self.max_orders:
                return self._cancel_random()
        r = self.rng.random()
        if r < 0.12 and self.fair.pending is not None:
            action = self._informed()
            if action != "idle":
                return action
        if r < 0.50:
            thinner = Side.BUY if len(bids) < len(asks) else Side.SELL
            side = thinner if self.rng.random() < 0.65 else thinner.other
            return self._add_maker(side)
        if r < 0.66:
            return self._cancel_random()
        if r < 0.82:
            return self._take()
        return self._compete()

    def _size(self) -> Decimal:
        if self.rng.random() < 0.5:
            return Decimal(self.rng.choice((5, 10, 15, 20, 25, 50, 75, 100, 150, 200, 250, 300, 500)))
        cents = int(min(500.0, 5.0 + self.rng.lognormvariate(3.3, 1.0)) * 100)
        return Decimal(cents) / 100

    def _send(
        self, owner: str, yes_side: Side, yes_price: int, size: Decimal, *, post_only: bool = False,
        order_type: OrderType = OrderType.GTC,
    ) -> PlaceResult:
        """Place in YES terms, sending it as the NO order it mirrors 30% of the time."""
        if self.rng.random() < 0.3:
            return self.matching.place(
                owner, self.market.no_token, yes_side.other, MAX_PIPS - yes_price, size,
                post_only=post_only, order_type=order_type,
            )
        return self.matching.place(
            owner, self.market.yes_token, yes_side, yes_price, size, post_only=post_only, order_type=order_type
        )

    def _add_maker(self, side: Side, k: int | None = None) -> str:
        t = self.tick
        fair = self.fair.value
        if k is None:
            k = min(int(self.rng.expovariate(0.4)), MAX_LEVELS - 1)
        if side is Side.BUY:
            price = math.floor((fair - t / 2) / t) * t - k * self.spacing
            best_ask = self.book.asks.best()
            if best_ask is not None:
                price = min(price, best_ask - t)
        else:
            price = math.ceil((fair + t / 2) / t) * t + k * self.spacing
            best_bid = self.book.bids.best()
            if best_bid is not None:
                price = max(price, best_bid + t)
        price -= price % t  # an off-grid best (left from a coarser tick) must not leak into a price
        size = self._size()
        if not t <= price <= MAX_PIPS - t:
            return "idle"
        result = self._send(self.maker, side, price, size, post_only=True)
        self._live.append(result.order_id)
        return "add"

    def _prune(self) -> None:
        self._live = [oid for oid in self._live if self.matching.order(oid) is not None]

    def _cancel_random(self) -> str:
        self._prune()
        if not self._live:
            return "idle"
        self.matching.cancel(self._live.pop(self.rng.randrange(len(self._live))))
        return "cancel"

    def _trim(self, side: Side) -> str:
        """Cancel our orders on the worst level of an over-deep side."""
        book_side = self.book.side(side)
        worst = book_side.prices_in_key_order()[0]
        mine = [o.id for o in book_side.levels[worst].orders.values() if o.owner == self.maker]
        if not mine:
            return self._cancel_random()
        self.matching.cancel_orders(mine)
        return "cancel"

    def _marketable(self, side: Side, limit: int, shares: Decimal) -> Decimal:
        """At least 5 shares and the venue's $1 marketable minimum at the worst price either way."""
        worst = min(limit, MAX_PIPS - limit)
        cents = max(int(shares * 100), 500, -(-1_000_000 // worst))
        return Decimal(cents) / 100

    def _take(self) -> str:
        """A noise taker; quotes left stale by a fair-value move are picked off first."""
        bid, ask = self.book.bids.best(), self.book.asks.best()
        half = self.tick / 2
        fair = self.fair.value
        if bid is not None and bid > fair + half:
            side = Side.SELL
        elif ask is not None and ask < fair - half:
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
        shares = Decimal((through + into_last) // 10_000) / 100
        self._send(self.taker, side, limit, self._marketable(side, limit, shares), order_type=OrderType.FAK)
        return "take"

    def _informed(self) -> str:
        """Trade toward the upcoming jump through the quotes it will make stale."""
        jump = self.fair.pending
        if jump is None:
            return "idle"
        target = self.fair.value + jump.size
        side = Side.BUY if jump.size > 0 else Side.SELL
        opposite = self.book.side(side.other)
        t = self.tick
        room = len(opposite) - MIN_LEVELS
        if room <= 0:
            return "idle"
        prices = [
            p
            for p in opposite.prices_best_first()[: min(room, 3)]
            if (p < target - t if side is Side.BUY else p > target + t)
        ]
        if not prices:
            return "idle"
        limit = prices[-1]
        available = sum(opposite.levels[p].total for p in prices)
        shares = Decimal(min(available, 400 * units.MICRO) // 10_000) / 100
        size = self._marketable(side, limit, shares)
        result = self._send(self.informed_owner, side, limit, size, order_type=OrderType.FAK)
        filled = Decimal(result.filled) / units.MICRO
        self.informed_position += filled if side is Side.BUY else -filled
        return "informed"

    def _compete(self) -> str:
        """The competing market maker: improve the best quote by a tick now and then, else requote."""
        side = Side.BUY if self.rng.random() < 0.5 else Side.SELL
        if self.rng.random() < 0.3:
            action = self._improve(side)
            if action != "idle":
                return action
        return self._requote(side)

    def _own_quote(self, side: Side) -> int | None:
        oid = self._quotes.get(side)
        order = self.matching.order(oid) if oid is not None else None
        if order is None:
            self._quotes.pop(side, None)
            return None
        return order.yes_price

    def _quote(self, side: Side, price: int) -> str:
        t = self.tick
        if not t <= price <= MAX_PIPS - t or price % t:
            return "idle"
        size = Decimal(self.rng.choice((10, 20, 25, 40, 50, 100)))
        result = self._send(self.competitor, side, price, size, post_only=True)
        old = self._quotes.get(side)
        self._quotes[side] = result.order_id
        if old is not None:
            self.matching.cancel(old)
        return "mm-quote"

    def _requote(self, side: Side) -> str:
        t, fair = self.tick, self.fair.value
        half = 1.5 * self.spacing
        if side is Side.BUY:
            target = math.floor((fair - half) / t) * t
            ask = self.book.asks.best()
            if ask is not None:  # the highest grid price strictly below the best ask
                below = ask - 1
                target = min(target, below - below % t)
        else:
            target = math.ceil((fair + half) / t) * t
            bid = self.book.bids.best()
            if bid is not None:  # the lowest grid price strictly above the best bid
                above = bid + 1
                target = max(target, above + (-above) % t)
        if self._own_quote(side) == target:
            return "idle"
        return self._quote(side, target)

    def _improve(self, side: Side) -> str:
        """Quote one tick better than the best on ``side``, if that stays passive and on the right side of fair."""
        t, fair = self.tick, self.fair.value
        bid, ask = self.book.bids.best(), self.book.asks.best()
        if bid is None or ask is None or bid % t or ask % t:
            return "idle"
        if side is Side.BUY:
            price = bid + t
            if price >= ask or price > fair:
                return "idle"
        else:
            price = ask - t
            if price <= bid or price < fair:
                return "idle"
        return "mm-improve" if self._quote(side, price) == "mm-quote" else "idle"


def flows_for(
    matching: MatchingEngine, profiles: Sequence[MarketProfile], seed: int, clock: Callable[[], int] = units.now_ms
) -> list[SyntheticFlow]:
    """One seeded flow per market, books laid down."""
    flows = [SyntheticFlow(matching, p, seed, i, clock=clock) for i, p in enumerate(profiles)]
    for f in flows:
        f.seed_book()
    return flows


__all__ = [
    "CATEGORIES",
    "COLLATERAL_ADDRESS",
    "DEFAULT_NEG_RISK_MARKETS",
    "QUESTIONS",
    "TAGS",
    "Catalog",
    "EventProfile",
    "FairValue",
    "FeeSchedule",
    "Jump",
    "MarketProfile",
    "MarketStatus",
    "SyntheticFlow",
    "Tag",
    "flows_for",
    "listed_market_profile",
    "make_markets",
    "market_profiles",
    "neg_risk_event",
    "single_market_event",
]
