"""Deterministic synthetic markets, events and traders for the stand-in exchange.

The demo, the integration tests and strategy experiments need markets that look and move like
Polymarket's without any network: plausible questions, real-looking ids, the venue's tick sizes, a
neg-risk event group, and books that stay two-sided with a few ticks of spread while trades go through
them. Everything here is a pure function of a seed, so a failing test or a demo session can be replayed:

* ``market_profiles(seed)`` / ``make_markets(seed)`` derive ids, ticks and starting values from
  ``random.Random`` seeded with a string (string seeds hash with SHA-512: the same on every run and
  machine, unlike ``hash()``); ``neg_risk_event(seed, size)`` adds a mutually exclusive event group
  (``negRisk`` markets sharing one ``negRiskMarketID``); ``Catalog`` holds both plus the mutable
  per-market state (closed, winner) that Gamma, the CLOB market routes and the controls read. Up to
  ``MAX_MARKETS`` (500) stand-alone markets: the first 16 ask the hand-written ``QUESTIONS``, the rest
  generated ones (``questions.generated_questions``: distinct, dated, categories mixed); about two in
  three of those pay liquidity rewards, one in 25 trades on 0.001 and one in 25 on 0.005;
* each market's ``SyntheticFlow`` owns its own generators seeded from (seed, market index), so the
  sequence of actions for a seed is fixed however the markets' steps interleave. Only the timing
  (Poisson gaps, ``activity``) varies between runs.

A market's hidden fair value (``FairValue``) is a mean-reverting random walk with jumps that are
scheduled some steps before they happen. It has its own generator, so the fair-value path of a seed
does not depend on what anybody trades. Each flow step advances it and lets one trader act:

* noise makers add post-only orders near fair value and cancel old ones (keeping 5..15 levels a side);
* noise takers send FAK orders through one to three levels, picking off quotes left stale by a move;
* the informed trader knows the next jump and trades toward it before it happens (its signed flow
  predicts the next fair-value move: adverse selection for whoever quoted against it);
* a competing market maker keeps one bid and one ask around fair value and now and then improves the
  best quote by one tick.

Orders go in as YES or NO at random, exercising the mirror.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from polymm.domain.market import Market, Outcome
from polymm.domain.prices import MAX_PIPS, Tick, price_to_pips

from .questions import generated_questions, slug

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
#: Category of each question (same order), which decides its tag and fee schedule.
CATEGORIES: tuple[str, ...] = (
    "economy",
    "crypto",
    "tech",
    "economy",
    "crypto",
    "tech",
    "sports",
    "weather",
    "economy",
    "culture",
    "politics",
    "tech",
    "weather",
    "economy",
    "tech",
    "sports",
)


@dataclass(frozen=True, slots=True)
class Tag:
    """A Gamma tag (``tag_id`` filter, event ``tags``)."""

    id: str
    label: str
    slug: str


TAGS: dict[str, Tag] = {
    "politics": Tag("2", "Politics", "politics"),
    "crypto": Tag("21", "Crypto", "crypto"),
    "sports": Tag("1", "Sports", "sports"),
    "economy": Tag("100328", "Economy", "economy"),
    "tech": Tag("1401", "Tech", "tech"),
    "culture": Tag("596", "Culture", "culture"),
    "weather": Tag("84", "Weather", "weather"),
}


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """V2 taker fee of a market: ``fee = shares × rate × p × (1 − p)`` (docs/protocol.md §8)."""

    rate: Decimal
    exponent: int = 1
    taker_only: bool = True
    rebate_rate: Decimal = Decimal("0.25")
    fee_type: str = ""


#: Categories whose markets charge taker fees (docs rates; others are fee-free here).
_FEES: dict[str, FeeSchedule] = {
    "crypto": FeeSchedule(Decimal("0.07"), rebate_rate=Decimal("0.2"), fee_type="crypto"),
    "sports": FeeSchedule(Decimal("0.03"), fee_type="sports"),
}

#: pUSD, the V2 collateral (reward ``asset_address``).
COLLATERAL_ADDRESS = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"

_TICK_001 = Tick(price_to_pips("0.01"))
_TICK_0001 = Tick(price_to_pips("0.001"))
_TICK_0005 = Tick(price_to_pips("0.005"))
_END_BASE = datetime(2027, 1, 1, 12, tzinfo=UTC)
_START_BASE = datetime(2026, 6, 1, 12, tzinfo=UTC)

MIN_LEVELS = 5
MAX_LEVELS = 15

DEFAULT_NEG_RISK_MARKETS = 3
#: Most stand-alone markets a catalog holds (``polymm exchange --markets``; the question pool allows more).
MAX_MARKETS = 500
#: Share of the generated markets (past the hand-written ones) that pay liquidity rewards.
REWARD_SHARE = 2 / 3


@dataclass(frozen=True, slots=True)
class MarketProfile:
    """A synthetic market plus what only the venue's metadata knows (Gamma ids, rewards, fees...)."""

    market: Market
    gamma_id: str
    start_fair: int  # YES pips, on the market's tick
    description: str
    #: Pretend pre-session volume (USDC) so Gamma's volume fields and sorting look like a live venue.
    base_volume: Decimal
    base_volume_24h: Decimal
    question_id: str = ""
    category: str = "economy"
    fees: FeeSchedule | None = None
    #: Liquidity-reward pool per day (USDC); 0 = not reward-eligible ("sampling" markets have one).
    reward_daily_rate: Decimal = Decimal(0)
    event_id: str = ""
    neg_risk_market_id: str = ""
    neg_risk_request_id: str = ""
    group_item_title: str = ""
    start_date: str = ""

    @property
    def tag(self) -> Tag:
        return TAGS[self.category]

    @property
    def fees_enabled(self) -> bool:
        return self.fees is not None

    @property
    def fee_rate(self) -> Decimal:
        """Taker fee rate (0 when fees are off); the trading side applies it at match time."""
        return self.fees.rate if self.fees is not None else Decimal(0)

    @property
    def has_rewards(self) -> bool:
        return self.reward_daily_rate > 0 and self.market.reward_min_size > 0


@dataclass(frozen=True, slots=True)
class EventProfile:
    """A Gamma event: one market, or a neg-risk group of mutually exclusive markets."""

    id: str
    ticker: str
    slug: str
    title: str
    description: str
    category: str
    start_date: str
    end_date: str
    condition_ids: tuple[str, ...]
    neg_risk: bool = False
    neg_risk_market_id: str = ""
    featured: bool = False

    @property
    def tag(self) -> Tag:
        return TAGS[self.category]


@dataclass(slots=True)
class MarketStatus:
    """What changes about a market during a session (besides its book)."""

    base_tick: Tick
    closed: bool = False
    winner: Outcome | None = None
    closed_ms: int | None = None
    #: True while the tick is the finer one the venue switches to beyond 0.96 / 0.04.
    auto_tick: bool = False
    #: Gamma lags: it keeps listing the market open and accepting orders whatever the CLOB says (seen on
    #: finished sports matches; ``Controls.set_gamma_stale``).
    gamma_stale: bool = False

    @property
    def accepting_orders(self) -> bool:
        return not self.closed


def _tick_for(index: int) -> Tick:
    # Most markets trade on 0.01; one in 25 on 0.001 (kept near 0.5) and one in 25 on the newer 0.005 grid
    # (markets 1 and 4 among the first six, as before).
    if index % 25 == 1:
        return _TICK_0001
    if index % 25 == 4:
        return _TICK_0005
    return _TICK_001


def _reward_eligible(index: int, rng: random.Random) -> bool:
    """Whether a market pays liquidity rewards: among the hand-written markets every sixth does not (so
    "sampling" lists are a real subset); past them about two in three do, as on the venue's larger lists."""
    if index < len(QUESTIONS):
        return index % 6 != 5
    return rng.random() < REWARD_SHARE


def _digest_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")


def _token_id(seed: int, index: int, outcome: str, space: str = "token") -> str:
    # Polymarket token ids are uint256 decimals; 77 digits is their usual length.
    return str(10**76 + _digest_int(f"polymm-{space}:{seed}:{index}:{outcome}") % (9 * 10**76))


def _hex32(text: str) -> str:
    return "0x" + hashlib.sha256(text.encode()).hexdigest()


def _slug(question: str) -> str:
    return slug(question)


def _reserved_questions() -> list[str]:
    """Questions generated markets must not repeat: the hand-written ones and every neg-risk item's."""
    return [*QUESTIONS, *(fmt.format(item) for _, _, fmt, items in _GROUPS for item in items)]


def _iso(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rewards(rng: random.Random, tick: Tick, eligible: bool) -> tuple[Decimal, Decimal, Decimal]:
    """(min size shares, max spread cents, daily rate USDC) of a market's liquidity rewards."""
    if not eligible:
        return Decimal(0), Decimal(0), Decimal(0)
    min_size = Decimal(rng.choice((20, 50, 100, 200)))
    max_spread = Decimal("1.5") if tick is _TICK_0001 else Decimal(rng.choice(("3.5", "4.5")))
    return min_size, max_spread, Decimal(rng.choice((5, 10, 25, 50, 100)))


def market_profiles(seed: int, count: int = 6) -> list[MarketProfile]:
    """``count`` stand-alone synthetic binary markets (each its own Gamma event), a pure function of ``seed``."""
    if not 1 <= count <= MAX_MARKETS:
        raise ValueError(f"market count must be 1..{MAX_MARKETS}, got {count}")
    rng = random.Random(f"polymm-markets:{seed}")
    picks = rng.sample(range(len(QUESTIONS)), min(count, len(QUESTIONS)))
    gamma_ids = rng.sample(range(540_000, 990_000), count)
    event_ids = random.Random(f"polymm-events:{seed}").sample(range(20_000, 99_999), count)
    # Past the hand-written questions: generated ones (sim.questions), none equal to a catalog question.
    more = generated_questions(seed, count - len(picks), exclude=_reserved_questions())
    profiles = []
    for i in range(count):
        end = None
        if i < len(picks):
            question, category = QUESTIONS[picks[i]], CATEGORIES[picks[i]]
        else:
            generated = more[i - len(picks)]
            question, category, end = generated.text, generated.category, generated.deadline
        tick = _tick_for(i)
        lo, hi = (0.45, 0.55) if tick is _TICK_0001 else (0.15, 0.85)
        fair = tick.floor(int(rng.uniform(lo, hi) * MAX_PIPS))
        drawn_end = _END_BASE + timedelta(days=rng.randint(30, 400))  # drawn always: later draws stay put
        end = end or drawn_end
        extra = random.Random(f"polymm-market-meta:{seed}:{i}")
        min_size, max_spread, daily = _rewards(extra, tick, eligible=_reward_eligible(i, extra))
        market = Market(
            condition_id=_hex32(f"polymm-condition:{seed}:{i}"),
            yes_token=_token_id(seed, i, "yes"),
            no_token=_token_id(seed, i, "no"),
            question=question,
            tick=tick,
            min_order_size=Decimal(5),
            neg_risk=False,
            slug=_slug(question),
            reward_min_size=min_size,
            reward_max_spread=max_spread,
            end_date=_iso(end),
        )
        description = (
            f'This market will resolve to "Yes" if the event in the title happens by {end:%B} {end.day}, '
            f'{end.year}, and to "No" otherwise. (Synthetic market of the polymm stand-in exchange.)'
        )
        volume = Decimal(int(rng.lognormvariate(12.0, 1.5) * 100)) / 100
        volume_24h = (volume * Decimal(rng.uniform(0.005, 0.08))).quantize(Decimal("0.01"))
        start = _START_BASE + timedelta(days=extra.randint(0, 120))
        profiles.append(
            MarketProfile(
                market,
                str(gamma_ids[i]),
                fair,
                description,
                volume,
                volume_24h,
                question_id=_hex32(f"polymm-question:{seed}:{i}"),
                category=category,
                fees=_FEES.get(category),
                reward_daily_rate=daily,
                event_id=str(event_ids[i]),
                start_date=_iso(start),
            )
        )
    return profiles


def make_markets(seed: int, count: int = 6) -> list[Market]:
    """The ``Market`` objects of ``market_profiles(seed, count)``."""
    return [p.market for p in market_profiles(seed, count)]


def single_market_event(profile: MarketProfile) -> EventProfile:
    """The one-market Gamma event every stand-alone market belongs to (as on Polymarket)."""
    m = profile.market
    return EventProfile(
        id=profile.event_id,
        ticker=m.slug,
        slug=m.slug,
        title=m.question,
        description=profile.description,
        category=profile.category,
        start_date=profile.start_date,
        end_date=m.end_date,
        condition_ids=(m.condition_id,),
    )


# Neg-risk event templates: (title, category, item question format, items). One is picked per seed.
_GROUPS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        "Which party wins the most seats in the 2027 Spanish general election?",
        "politics",
        "Will {} win the most seats in the 2027 Spanish general election?",
        ("PP", "PSOE", "Vox", "Sumar", "Junts", "Podemos"),
    ),
    (
        "Best Picture winner at the 2027 Oscars?",
        "culture",
        "Will {} win Best Picture at the 2027 Oscars?",
        ("The Odyssey", "Dune: Part Three", "Project Hail Mary", "Frankenstein", "Hamnet", "Bugonia"),
    ),
    (
        "Fed decision in March 2027?",
        "economy",
        "Will the Fed decide {} at the March 2027 meeting?",
        ("a 50+ bps cut", "a 25 bps cut", "no change", "a 25+ bps hike"),
    ),
)


def neg_risk_event(seed: int, size: int = DEFAULT_NEG_RISK_MARKETS) -> tuple[EventProfile, list[MarketProfile]]:
    """A neg-risk event of ``size`` mutually exclusive markets (shared ``negRiskMarketID``).

    Starting fair values sum to about 1, as a mutually exclusive group's prices do. Question ids are
    the neg-risk market id with the market's index in its last byte, as on Polymarket.
    """
    rng = random.Random(f"polymm-negrisk:{seed}")
    largest = max(len(g[3]) for g in _GROUPS)
    if not 2 <= size <= largest:
        raise ValueError(f"neg-risk group size must be 2..{largest}, got {size}")
    fitting = [g for g in _GROUPS if len(g[3]) >= size]
    title, category, fmt, items = fitting[rng.randrange(len(fitting))]
    names = list(items[:size])
    weights = sorted((rng.uniform(0.5, 3.0) for _ in names), reverse=True)
    total = sum(weights)
    nr_id = _hex32(f"polymm-negrisk-market:{seed}")[:-2] + "00"
    request_id = _hex32(f"polymm-negrisk-request:{seed}")
    end = _END_BASE + timedelta(days=rng.randint(60, 300))
    start = _START_BASE + timedelta(days=rng.randint(0, 60))
    event_id = str(100_000 + rng.randrange(900_000))
    gamma_ids = rng.sample(range(1_000_000, 1_100_000), size)
    group_volume = Decimal(int(rng.lognormvariate(13.0, 1.0) * 100)) / 100
    profiles = []
    for j, name in enumerate(names):
        question = fmt.format(name)
        tick = _TICK_001
        fair = tick.floor(int(min(max(0.96 * weights[j] / total, 0.06), 0.9) * MAX_PIPS))
        min_size, max_spread, daily = _rewards(rng, tick, eligible=True)
        market = Market(
            condition_id=_hex32(f"polymm-negrisk-condition:{seed}:{j}"),
            yes_token=_token_id(seed, j, "yes", "negrisk-token"),
            no_token=_token_id(seed, j, "no", "negrisk-token"),
            question=question,
            tick=tick,
            min_order_size=Decimal(5),
            neg_risk=True,
            neg_risk_market_id=nr_id,
            slug=_slug(question),
            reward_min_size=min_size,
            reward_max_spread=max_spread,
            end_date=_iso(end),
        )
        share = Decimal(fair) / MAX_PIPS
        volume = (group_volume * share).quantize(Decimal("0.01"))
        profiles.append(
            MarketProfile(
                market,
                str(gamma_ids[j]),
                fair,
                f'This market will resolve to "Yes" if {name} is the outcome of "{title}", and to "No" '
                f"otherwise. (Synthetic neg-risk market of the polymm stand-in exchange.)",
                volume,
                (volume * Decimal("0.03")).quantize(Decimal("0.01")),
                question_id=nr_id[:-2] + f"{j:02x}",
                category=category,
                fees=_FEES.get(category),
                reward_daily_rate=daily,
                event_id=event_id,
                neg_risk_market_id=nr_id,
                neg_risk_request_id=request_id,
                group_item_title=name,
                start_date=_iso(start),
            )
        )
    event = EventProfile(
        id=event_id,
        ticker=_slug(title),
        slug=_slug(title),
        title=title,
        description=f"Mutually exclusive outcomes of: {title} (synthetic neg-risk event of the polymm stand-in).",
        category=category,
        start_date=_iso(start),
        end_date=_iso(end),
        condition_ids=tuple(p.market.condition_id for p in profiles),
        neg_risk=True,
        neg_risk_market_id=nr_id,
        featured=True,
    )
    return event, profiles


def listed_market_profile(seed: int, n: int) -> MarketProfile:
    """The ``n``-th market listed during a session (``new_market``), deterministic per seed."""
    rng = random.Random(f"polymm-new-market:{seed}:{n}")
    q = rng.randrange(len(QUESTIONS))
    question = QUESTIONS[q].removesuffix("?") + f" (new listing #{n + 1})?"
    category = CATEGORIES[q]
    tick = _TICK_001
    end = _END_BASE + timedelta(days=rng.randint(60, 500))
    min_size, max_spread, daily = _rewards(rng, tick, eligible=True)
    market = Market(
        condition_id=_hex32(f"polymm-new-condition:{seed}:{n}"),
        yes_token=_token_id(seed, n, "yes", "new-token"),
        no_token=_token_id(seed, n, "no", "new-token"),
        question=question,
        tick=tick,
        slug=_slug(question),
        reward_min_size=min_size,
        reward_max_spread=max_spread,
        end_date=_iso(end),
    )
    return MarketProfile(
        market,
        str(2_000_000 + n),
        tick.floor(int(rng.uniform(0.2, 0.8) * MAX_PIPS)),
        "A market listed during the session. (Synthetic market of the polymm stand-in exchange.)",
        Decimal(0),
        Decimal(0),
        question_id=_hex32(f"polymm-new-question:{seed}:{n}"),
        category=category,
        fees=_FEES.get(category),
        reward_daily_rate=daily,
        event_id=str(200_000 + n),
        start_date=_iso(datetime.now(UTC)),
    )


class Catalog:
    """Every market and event of a stand-in, and each market's session state.

    ``markets`` is a live list (the same object ``StandIn.markets`` exposes): a tick-size change
    replaces the market in place, a listing appends to it.
    """

    def __init__(self, profiles: Iterable[MarketProfile], events: Iterable[EventProfile]) -> None:
        self.profiles: list[MarketProfile] = []
        self.markets: list[Market] = []
        self.events: list[EventProfile] = []
        self.status: dict[str, MarketStatus] = {}
        self._index: dict[str, int] = {}
        self._tokens: dict[str, str] = {}
        self._events: dict[str, EventProfile] = {}
        self._event_of: dict[str, EventProfile] = {}
        for p in profiles:
            self._add_profile(p)
        for e in events:
            self.add_event(e)

    @classmethod
    def build(cls, seed: int, count: int = 6, neg_risk_markets: int = DEFAULT_NEG_RISK_MARKETS) -> Catalog:
        """``count`` stand-alone markets (one event each) then, if asked, one neg-risk event group."""
        profiles = market_profiles(seed, count)
        events = [single_market_event(p) for p in profiles]
        if neg_risk_markets:
            event, group = neg_risk_event(seed, neg_risk_markets)
            profiles += group
            events.append(event)
        return cls(profiles, events)

    def _add_profile(self, p: MarketProfile) -> None:
        m = p.market
        if m.condition_id in self._index:
            raise ValueError(f"duplicate market {m.condition_id}")
        self._index[m.condition_id] = len(self.profiles)
        self.profiles.append(p)
        self.markets.append(m)
        self._tokens[m.yes_token] = self._tokens[m.no_token] = m.condition_id
        self.status[m.condition_id] = MarketStatus(base_tick=m.tick)

    def add_event(self, event: EventProfile) -> None:
        self.events.append(event)
        self._events[event.id] = event
        for cond in event.condition_ids:
            self._event_of[cond] = event

    def add(self, profile: MarketProfile, event: EventProfile) -> None:
        """List a new market with its event."""
        self._add_profile(profile)
        self.add_event(event)

    # ---- lookups

    def profile(self, condition_id: str) -> MarketProfile | None:
        i = self._index.get(condition_id)
        return None if i is None else self.profiles[i]

    def condition_of(self, token_id: str) -> str | None:
        return self._tokens.get(token_id)

    def resolve_id(self, market_or_token: str) -> str | None:
        """A condition id from either a condition id or a token id (None if unknown)."""
        if market_or_token in self._index:
            return market_or_token
        return self._tokens.get(market_or_token)

    def event(self, event_id: str) -> EventProfile | None:
        return self._events.get(event_id)

    def event_of(self, condition_id: str) -> EventProfile | None:
        return self._event_of.get(condition_id)

    def replace_market(self, market: Market) -> None:
        """Swap in a changed copy of a market (same condition id), e.g. after a tick-size change."""
        i = self._index[market.condition_id]
        self.profiles[i] = replace(self.profiles[i], market=market)
        self.markets[i] = market
