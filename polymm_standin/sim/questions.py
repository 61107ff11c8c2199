"""Plausible market questions for catalogs of hundreds of synthetic markets.

The catalog's first markets use the sixteen hand-written ``catalog.QUESTIONS``; a stand-in with more
markets (``polymm exchange --markets 500``) needs hundreds more that still read like Polymarket's, are
all distinct (ids, slugs and Gamma lookups by slug depend on it) and are a pure function of the seed.
Each category has a few question templates filled from lists of subjects and deadlines; the pool
(a few thousand) is shuffled per seed and dealt out one category at a time in a seeded order, so any
prefix of the list mixes crypto, sports, politics... instead of running through one category first.

A question with a deadline carries it (``Question.deadline``): the catalog ends the market then, so the
question and the market's end date agree.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

YEAR = 2027
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
#: "before {Month} 2027" deadlines: one a quarter keeps the pool varied without near-duplicates.
_QUARTERS = ("March", "June", "September", "December")


@dataclass(frozen=True, slots=True)
class Question:
    """A generated question, its category (a ``catalog.TAGS`` key) and, when it names one, its deadline."""

    text: str
    category: str
    deadline: datetime | None = None


def _month_end(month: str, year: int = YEAR) -> datetime:
    """Noon UTC on the last day of ``month`` of ``year``: the end of a question "... in {month}"."""
    n = MONTHS.index(month) + 1
    first_of_next = datetime(year + n // 12, n % 12 + 1, 1, 12, tzinfo=UTC)
    return first_of_next - timedelta(days=1)


def _before(month: str, year: int = YEAR) -> datetime:
    """Noon UTC on the last day before ``month``: the end of a question "... before {month}"."""
    return datetime(year, MONTHS.index(month) + 1, 1, 12, tzinfo=UTC) - timedelta(days=1)


def _crypto() -> Iterator[Question]:
    coins = ("Bitcoin", "Ethereum", "Solana", "XRP", "Dogecoin", "Cardano", "Chainlink", "Avalanche", "Polkadot",
             "Litecoin", "Toncoin", "Sui")
    for coin in coins:
        for month in _QUARTERS:
            yield Question(f"Will {coin} hit a new all-time high before {month} {YEAR}?", "crypto", _before(month))
        for month in MONTHS:
            yield Question(f"Will {coin} close {month} {YEAR} higher than it opened?", "crypto", _month_end(month))
    for a in coins[:6]:
        for b in coins[:6]:
            if a != b:
                yield Question(f"Will {a} outperform {b} in {YEAR}?", "crypto", datetime(YEAR, 12, 31, 12, tzinfo=UTC))


def _economy() -> Iterator[Question]:
    for month in MONTHS:
        for level in ("2.5", "3", "3.5"):
            yield Question(f"Will US CPI inflation be above {level}% for {month} {YEAR}?", "economy",
                           _month_end(month))
        for level in ("4", "4.5", "5"):
            yield Question(f"Will the US unemployment rate be above {level}% in {month} {YEAR}?", "economy",
                           _month_end(month))
    for month in ("January", "April", "June", "July", "September", "October", "December"):
        for action in ("cut rates", "hike rates", "hold rates steady"):
            yield Question(f"Will the Fed {action} at its {month} {YEAR} meeting?", "economy", _month_end(month))
    banks = ("the ECB", "the Bank of England", "the Bank of Japan", "the Bank of Canada",
             "the Reserve Bank of Australia", "the Swiss National Bank")
    for bank in banks:
        for month in _QUARTERS:
            yield Question(f"Will {bank} cut interest rates before {month} {YEAR}?", "economy", _before(month))
    countries = ("the US", "China", "India", "Germany", "Japan", "the UK", "France", "Brazil", "Canada", "Mexico")
    for country in countries:
        for growth in ("1", "2", "3"):
            yield Question(f"Will {country}'s GDP grow more than {growth}% in {YEAR}?", "economy")
    for level in ("7,000", "7,500", "8,000", "8,500", "9,000"):
        yield Question(f"Will the S&P 500 close {YEAR} above {level}?", "economy",
                       datetime(YEAR, 12, 31, 12, tzinfo=UTC))
    for month in _QUARTERS:
        for price in ("3,500", "4,000", "4,500"):
            yield Question(f"Will gold trade above ${price} an ounce before {month} {YEAR}?", "economy",
                           _before(month))
        for price in ("50", "60", "90"):
            yield Question(f"Will WTI crude trade below ${price} a barrel before {month} {YEAR}?", "economy",
                           _before(month))


def _sports() -> Iterator[Question]:
    leagues = {
        f"the {YEAR} NBA Finals": ("Celtics", "Thunder", "Nuggets", "Knicks", "Cavaliers", "Timberwolves",
                                   "Warriors", "Mavericks", "Bucks", "76ers", "Suns", "Pacers", "Heat", "Magic"),
        "Super Bowl LXI": ("Chiefs", "Eagles", "Bills", "Ravens", "Lions", "49ers", "Packers", "Bengals", "Cowboys",
                           "Texans", "Steelers", "Rams", "Vikings", "Commanders"),
        f"the {YEAR} World Series": ("Dodgers", "Yankees", "Braves", "Phillies", "Orioles", "Astros", "Mets",
                                    "Padres", "Guardians", "Mariners", "Cubs", "Red Sox"),
        f"the {YEAR} Stanley Cup": ("Panthers", "Oilers", "Rangers", "Stars", "Avalanche", "Hurricanes",
                                   "Maple Leafs", "Golden Knights", "Jets", "Bruins", "Devils", "Lightning"),
        "the 2026-27 Premier League": ("Arsenal", "Liverpool", "Manchester City", "Chelsea", "Manchester United",
                                       "Tottenham", "Newcastle", "Aston Villa"),
        "the 2026-27 La Liga": ("Barcelona", "Atletico Madrid", "Athletic Bilbao", "Villarreal"),
        "the 2026-27 Bundesliga": ("Bayern Munich", "Bayer Leverkusen", "Borussia Dortmund", "RB Leipzig"),
    }
    for league, teams in leagues.items():
        for team in teams:
            yield Question(f"Will the {team} win {league}?" if not league.startswith("the 2026-27")
                           else f"Will {team} win {league}?", "sports")
    drivers = ("Max Verstappen", "Lando Norris", "Charles Leclerc", "Oscar Piastri", "Lewis Hamilton",
               "George Russell", "Carlos Sainz", "Fernando Alonso", "Kimi Antonelli")
    for driver in drivers:
        yield Question(f"Will {driver} win the {YEAR} F1 Drivers' Championship?", "sports")
        yield Question(f"Will {driver} win the {YEAR} Monaco Grand Prix?", "sports",
                       datetime(YEAR, 6, 1, 12, tzinfo=UTC))


def _politics() -> Iterator[Question]:
    countries = ("Canada", "Germany", "France", "Italy", "Japan", "Australia", "the Netherlands", "Israel",
                 "South Korea", "Poland", "Portugal", "Belgium", "Ireland", "Sweden")
    for country in countries:
        for month in _QUARTERS:
            yield Question(f"Will {country} hold a snap national election before {month} {YEAR}?", "politics",
                           _before(month))
            yield Question(f"Will {country}'s head of government leave office before {month} {YEAR}?", "politics",
                           _before(month))
    bills = ("a stablecoin bill", "a crypto market-structure bill", "a federal privacy law",
             "a national AI safety law", "a budget reconciliation bill", "a permitting reform bill")
    for bill in bills:
        for month in _QUARTERS:
            yield Question(f"Will the US Congress pass {bill} before {month} {YEAR}?", "politics", _before(month))
    for month in MONTHS:
        yield Question(f"Will the US federal government shut down in {month} {YEAR}?", "politics", _month_end(month))


def _tech() -> Iterator[Question]:
    launches = (("Apple", "a foldable iPhone"), ("Apple", "smart glasses"), ("Google", "Gemini 4"),
                ("OpenAI", "a new open-weight model"), ("Meta", "Llama 6"), ("Tesla", "an unsupervised robotaxi app"),
                ("Nintendo", "a new Zelda game"), ("Sony", "the PlayStation 6"), ("Microsoft", "a new Surface Duo"),
                ("Amazon", "an Alexa subscription tier"), ("xAI", "Grok 6"), ("Anthropic", "a new Claude model"),
                ("Samsung", "a tri-fold phone"), ("Valve", "a new Steam Deck"), ("SpaceX", "a Starship crew flight"))
    for company, product in launches:
        for month in _QUARTERS:
            yield Question(f"Will {company} release {product} before {month} {YEAR}?", "tech", _before(month))
    giants = ("Apple", "Microsoft", "Nvidia", "Alphabet", "Amazon", "Meta", "Tesla", "Broadcom")
    for company in giants:
        for month in _QUARTERS:
            yield Question(f"Will {company} be the largest company by market cap at the end of {month} {YEAR}?",
                           "tech", _month_end(month))
        yield Question(f"Will {company} announce layoffs of 1,000 or more employees in {YEAR}?", "tech",
                       datetime(YEAR, 12, 31, 12, tzinfo=UTC))


def _weather() -> Iterator[Question]:
    cities = ("New York", "London", "Paris", "Tokyo", "Phoenix", "Chicago", "Miami", "Los Angeles", "Madrid",
              "Delhi", "Sydney", "Toronto", "Berlin", "Seoul", "Dallas")
    for city in cities:
        for month in ("June", "July", "August"):
            yield Question(f"Will {city} record its hottest {month} on record in {YEAR}?", "weather",
                           _month_end(month))
    for city in ("New York", "Chicago", "Boston", "Washington DC", "Denver", "Seattle", "Toronto", "Berlin"):
        for month in ("January", "February", "March", "November", "December"):
            yield Question(f"Will {city} get more than 6 inches of snow in {month} {YEAR}?", "weather",
                           _month_end(month))
    for storms in range(12, 24, 2):
        yield Question(f"Will the {YEAR} Atlantic hurricane season have more than {storms} named storms?", "weather",
                       datetime(YEAR, 11, 30, 12, tzinfo=UTC))


def _culture() -> Iterator[Question]:
    artists = ("Taylor Swift", "Beyoncé", "Drake", "Rihanna", "Kendrick Lamar", "Billie Eilish", "Adele",
               "The Weeknd", "Bad Bunny", "Dua Lipa", "Olivia Rodrigo", "Sabrina Carpenter", "Ariana Grande")
    for artist in artists:
        for month in _QUARTERS:
            yield Question(f"Will {artist} release a new studio album before {month} {YEAR}?", "culture",
                           _before(month))
        yield Question(f"Will {artist} have a Billboard Hot 100 number one in {YEAR}?", "culture",
                       datetime(YEAR, 12, 31, 12, tzinfo=UTC))
        yield Question(f"Will {artist} headline the {YEAR} Super Bowl halftime show?", "culture",
                       datetime(YEAR, 2, 8, 12, tzinfo=UTC))


_SOURCES = (_crypto, _economy, _sports, _politics, _tech, _weather, _culture)


def slug(text: str) -> str:
    """The URL slug of a question, as the catalog makes it (lower-case words joined by dashes)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def question_pool() -> list[Question]:
    """Every generated question, each with a distinct slug (so, distinct text), in template order."""
    seen: set[str] = set()
    pool = []
    for source in _SOURCES:
        for q in source():
            s = slug(q.text)
            if s not in seen:
                seen.add(s)
                pool.append(q)
    return pool


def generated_questions(seed: int, count: int, exclude: Iterable[str] = ()) -> list[Question]:
    """``count`` distinct questions for ``seed``, none of whose slugs is in ``exclude`` (slugs of questions
    already in the catalog), categories interleaved in a seeded order. ValueError past the pool's size."""
    taken = {slug(t) for t in exclude}
    rng = random.Random(f"polymm-questions:{seed}")
    by_category: dict[str, list[Question]] = {}
    for q in question_pool():
        if slug(q.text) not in taken:
            by_category.setdefault(q.category, []).append(q)
    for questions in by_category.values():
        rng.shuffle(questions)
    available = sum(len(v) for v in by_category.values())
    if count > available:
        raise ValueError(f"only {available} generated questions exist, {count} asked")
    order = sorted(by_category)
    out: list[Question] = []
    while len(out) < count:
        rng.shuffle(order)
        for category in order:
            if by_category[category] and len(out) < count:
                out.append(by_category[category].pop())
    return out
