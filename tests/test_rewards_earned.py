"""Liquidity rewards EARNED on the stand-in (polymm_standin/server/rewards.py) read with the REAL
``py-clob-client-v2`` over real sockets, and through polymm's reader (polymm/venue/rewards.py).

Each test empties the books it uses (or keeps the seeded synthetic book to compete), posts resting
orders with the client, drives the ledger with ``sample_now()`` (no waiting) on a pinned sampling
clock, and checks what ``/rewards/user*`` answer against the published formula worked by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from py_clob_client_v2 import ClobClient, OrderArgs, OrderType
from py_clob_client_v2.clob_types import RequestArgs
from py_clob_client_v2.exceptions import PolyApiException
from py_clob_client_v2.headers.headers import create_level_2_headers

from polymm.venue.rewards import EarnedRewards, RewardsShapeError, read_earned
from polymm_standin.server import ExchangeServer, run_exchange
from polymm_standin.server.rewards import RewardsLedger
from polymm_standin.sim import MarketProfile
from polymm_standin.sim.catalog import COLLATERAL_ADDRESS

KEYS = {name: "0x" + byte * 32 for name, byte in (("a", "a1"), ("b", "b2"), ("c", "c3"), ("d", "d4"))}
DAY = "2026-12-05"
DAY_MS = int(datetime(2026, 12, 5, 12, tzinfo=UTC).timestamp() * 1000)
MICRO = Decimal("0.000001")


@pytest_asyncio.fixture
async def ex() -> AsyncIterator[ExchangeServer]:
    async with run_exchange(port=0, flow=False) as server:
        server.standin.rewards.clock = lambda: DAY_MS  # every sample lands on DAY, whenever the test runs
        await server.standin.rewards.stop()  # only the test's sample_now() samples (unless it restarts it)
        yield server


def ledger(ex: ExchangeServer) -> RewardsLedger:
    return ex.standin.rewards


async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


async def client(ex: ExchangeServer, who: str) -> ClobClient:
    c = ClobClient(ex.clob_url, 137, key=KEYS[who])
    c.set_api_creds(await call(c.create_or_derive_api_key))
    return c


def reward_profiles(ex: ExchangeServer) -> list[MarketProfile]:
    """Stand-alone reward markets on the 0.01 grid."""
    return [p for p in ex.standin.profiles
            if p.has_rewards and p.market.tick.text == "0.01" and not p.market.neg_risk]


def no_reward_profile(ex: ExchangeServer) -> MarketProfile:
    return next(p for p in ex.standin.profiles if not p.has_rewards)


def empty(ex: ExchangeServer, profile: MarketProfile) -> None:
    """Remove the synthetic orders so the test owns the book."""
    m = profile.market
    ex.matching.cancel_orders([o.id for o in ex.matching.open_orders() if o.market.condition_id == m.condition_id])


async def quote(c: ClobClient, profile: MarketProfile, bid: float, ask: float, size: float) -> None:
    """A resting YES bid at ``bid`` and a YES ask at ``ask`` (posted as a NO bid at 1 − ask: no shares needed)."""
    m = profile.market
    for token, price in ((m.yes_token, bid), (m.no_token, round(1 - ask, 2))):
        reply = await call(c.create_and_post_order, OrderArgs(token_id=token, price=price, size=size, side="BUY"),
                           None, OrderType.GTC, True)
        assert reply["success"] and reply["status"] == "live", reply


async def raw(c: ClobClient, path: str, **params: str) -> httpx.Response:
    """An L2-authenticated GET with query parameters the client does not send."""
    headers = create_level_2_headers(c.signer, c.creds, RequestArgs("GET", path))
    async with httpx.AsyncClient() as h:
        return await h.get(c.host + path, params=params, headers=headers)


def pool(profile: MarketProfile, samples: int, sample_s: float = 60.0) -> Decimal:
    return profile.reward_daily_rate * Decimal(samples) * Decimal(repr(sample_s)) / 86_400


# ------------------------------------------------------------------------------------------ earnings


async def test_makers_earn_their_share_of_each_samples_pool(ex: ExchangeServer) -> None:
    first, second = reward_profiles(ex)[:2]
    plain = no_reward_profile(ex)
    for p in (first, second, plain):
        empty(ex, p)
    a, b, c, d = [await client(ex, who) for who in "abcd"]
    size = float(first.market.reward_min_size)
    # A quotes 1 cent either side of 0.50, B 2 cents: both two-sided, inside the max spread, at the min size
    await quote(a, first, 0.49, 0.51, size)
    await quote(b, first, 0.48, 0.52, size)
    # C rests outside the max spread (5 cents away), D inside it but under the min size: neither scores
    assert first.market.reward_max_spread < 5
    await quote(c, first, 0.45, 0.55, size)
    await quote(d, first, 0.49, 0.51, size - 1)
    # A alone in a second reward market (the whole pool), and in a market without rewards
    await quote(a, second, 0.49, 0.51, float(second.market.reward_min_size))
    await quote(a, plain, 0.49, 0.51, 20.0)

    samples = [ledger(ex).sample_now() for _ in range(3)]
    assert {s.date for s in samples} == {DAY}
    assert plain.market.condition_id not in samples[0].markets  # not sampled: no pool

    v = float(first.market.reward_max_spread)
    q_a, q_b = ((v - 1) / v) ** 2 * size, ((v - 2) / v) ** 2 * size  # S·size, the same on both sides
    share_a = Decimal(repr(q_a / (q_a + q_b)))
    expected_a = pool(first, 3) * share_a
    expected_b = pool(first, 3) * (1 - share_a)

    cond1, cond2 = first.market.condition_id, second.market.condition_id
    rows = await call(a.get_earnings_for_user_for_day, DAY)
    assert {r["condition_id"] for r in rows} == {cond1, cond2}
    for r in rows:
        assert r["date"].startswith(DAY) and r["asset_address"] == COLLATERAL_ADDRESS and r["asset_rate"] == 1
        assert r["maker_address"] == a.get_address()
    by_cond = {r["condition_id"]: Decimal(str(r["earnings"])) for r in rows}
    assert abs(by_cond[cond1] - expected_a) <= MICRO
    assert by_cond[cond2] == pool(second, 3).quantize(MICRO, ROUND_DOWN)  # alone: the whole pool

    earned = await call(read_earned, a, DAY)
    assert earned == EarnedRewards(DAY, by_cond[cond1] + by_cond[cond2], by_cond)
    assert earned.total > 0
    total = await call(a.get_total_earnings_for_user_for_day, DAY)
    assert [(t["asset_address"], t["maker_address"]) for t in total] == [(COLLATERAL_ADDRESS, a.get_address())]

    earned_b = await call(read_earned, b, DAY)
    assert set(earned_b.by_market) == {cond1} and abs(earned_b.total - expected_b) <= MICRO
    assert earned.by_market[cond1] + earned_b.total <= pool(first, 3)  # never more than the pool
    for nobody in (c, d):
        assert await call(read_earned, nobody, DAY) == EarnedRewards(DAY, Decimal(0), {})
        assert await call(nobody.get_total_earnings_for_user_for_day, DAY) == []
    assert await call(read_earned, a, "2026-12-04") == EarnedRewards("2026-12-04", Decimal(0), {})

    # live shares: A and B split the first market, A has all of the second, nobody scores elsewhere
    pct = {who: await call(cl.get_reward_percentages) for who, cl in (("a", a), ("b", b), ("c", c), ("d", d))}
    assert pct["c"] == {} and pct["d"] == {}
    assert set(pct["a"]) == {cond1, cond2} and pct["a"][cond2] == 100
    assert abs(Decimal(str(pct["a"][cond1])) - share_a * 100) <= Decimal("0.0001")
    assert 99.999 <= pct["a"][cond1] + pct["b"][cond1] <= 100


async def test_synthetic_makers_compete_for_the_pool(ex: ExchangeServer) -> None:
    profile = reward_profiles(ex)[0]
    m = profile.market
    a = await client(ex, "a")
    book = ex.matching.market_book(m.condition_id)
    assert book is not None and book.bids.best() is not None and book.asks.best() is not None
    # join the synthetic makers' best bid and ask (post-only: never crossing)
    bid, ask = book.bids.best() / 10_000, book.asks.best() / 10_000
    await quote(a, profile, bid, ask, float(m.reward_min_size))
    wallet = a.get_address().lower()
    credits = Decimal(0)
    for _ in range(2):
        s = ledger(ex).sample_now().markets[m.condition_id]
        assert 0 < s.credits[wallet] < s.pool  # the synthetic traders' orders score too
        credits += s.credits[wallet]
    earned = await call(read_earned, a, DAY)
    assert earned.by_market == {m.condition_id: credits.quantize(MICRO, ROUND_DOWN)}
    pct = (await call(a.get_reward_percentages))[m.condition_id]
    assert 0 < pct < 100


async def test_the_sampler_runs_on_its_interval(ex: ExchangeServer, wait_until) -> None:
    profile = reward_profiles(ex)[1]
    empty(ex, profile)
    a = await client(ex, "a")
    await quote(a, profile, 0.49, 0.51, float(profile.market.reward_min_size))
    ledger(ex).start()  # the fixture stopped it; it waits 60 s ...
    ledger(ex).set_sample_s(0.05)  # ... until woken with a new interval

    async def paid() -> EarnedRewards | None:
        earned = await call(read_earned, a, DAY)
        return earned if ledger(ex).samples_taken >= 2 and earned.total > 0 else None

    earned = await wait_until(paid, timeout=20)
    assert set(earned.by_market) == {profile.market.condition_id}
    # each sample paid the whole pool of 0.05 s; several may have run between the two reads
    assert earned.total >= pool(profile, 1, 0.05).quantize(MICRO, ROUND_DOWN)


# ------------------------------------------------------------------------------------------ routes


async def test_markets_route_pages_and_sorts_the_reward_markets(ex: ExchangeServer) -> None:
    first, second = reward_profiles(ex)[:2]
    for p in (first, second):
        empty(ex, p)
    a = await client(ex, "a")
    await quote(a, first, 0.49, 0.51, float(first.market.reward_min_size))
    await quote(a, second, 0.49, 0.51, float(second.market.reward_min_size))
    ledger(ex).sample_now()
    ledger(ex).page_size = 1

    # /rewards/user in pages of one: the client follows the cursor
    page = (await raw(a, "/rewards/user", date=DAY)).json()
    assert page["count"] == 1 and page["limit"] == 1 and page["next_cursor"] not in ("", "LTE=")
    rows = await call(a.get_earnings_for_user_for_day, DAY)
    assert [r["condition_id"] for r in rows] == [first.market.condition_id, second.market.condition_id]

    reward_conds = [p.market.condition_id for p in ledger(ex).reward_profiles()]
    items = await call(a.get_user_earnings_and_markets_config, DAY)
    assert [it["condition_id"] for it in items] == reward_conds  # every reward market, one a page
    mine = {it["condition_id"]: it for it in items}
    for p in (first, second):
        it = mine[p.market.condition_id]
        assert it["earning_percentage"] == 100 and it["maker_address"] == a.get_address()
        assert it["earnings"][0]["earnings"] == float(pool(p, 1).quantize(MICRO, ROUND_DOWN))
        assert it["rewards_config"][0]["rate_per_day"] == float(p.reward_daily_rate)
        assert it["rewards_min_size"] == float(p.market.reward_min_size)
        assert [t["token_id"] for t in it["tokens"]] == [p.market.yes_token, p.market.no_token]

    page = (await raw(a, "/rewards/user/markets", date=DAY, page_size="2", order_by="earnings",
                      position="DESC")).json()
    assert page["count"] == 2 and page["next_cursor"] != "LTE=" and page["total_count"] == len(reward_conds)
    top = [Decimal(str(it["earnings"][0]["earnings"])) for it in page["data"]]
    assert top == sorted((Decimal(str(r["earnings"])) for r in rows), reverse=True)
    # no competition: nobody else scores there (ours, and markets where nobody scores at all)
    alone = (await raw(a, "/rewards/user/markets", date=DAY, no_competition="true", page_size="500")).json()
    ours = {first.market.condition_id, second.market.condition_id}
    assert ours <= {it["condition_id"] for it in alone["data"]} < set(reward_conds)
    assert all(it["market_competitiveness"] == 0 for it in alone["data"] if it["condition_id"] not in ours)


async def test_bad_parameters_are_refused_naming_the_field(ex: ExchangeServer) -> None:
    a = await client(ex, "a")
    for bad in ("2026/12/05", "2026-13-01", "yesterday"):
        with pytest.raises(PolyApiException) as info:
            await call(a.get_earnings_for_user_for_day, bad)
        assert info.value.status_code == 400
        assert "date" in info.value.error_msg["error"] and "YYYY-MM-DD" in info.value.error_msg["error"]
    missing = await raw(a, "/rewards/user/total")
    assert missing.status_code == 400 and "date is required" in missing.json()["error"]
    sig = await raw(a, "/rewards/user", date=DAY, signature_type="7")
    assert sig.status_code == 400 and "signature_type" in sig.json()["error"]
    assert (await raw(a, "/rewards/user", date=DAY, signature_type="2")).status_code == 200  # accepted, ignored
    order_by = await raw(a, "/rewards/user/markets", order_by="luck")
    assert order_by.status_code == 400
    assert "order_by" in order_by.json()["error"] and "earnings" in order_by.json()["error"]  # the allowed values
    size = await raw(a, "/rewards/user/markets", page_size="0")
    assert size.status_code == 400 and "page_size" in size.json()["error"]
    flag = await raw(a, "/rewards/user/markets", no_competition="maybe")
    assert flag.status_code == 400 and "no_competition" in flag.json()["error"]
    cursor = await raw(a, "/rewards/user", date=DAY, next_cursor="@@")
    assert cursor.status_code == 400 and "next_cursor" in cursor.json()["error"]
    async with httpx.AsyncClient() as h:  # no L2 headers
        anon = await h.get(ex.clob_url + "/rewards/user", params={"date": DAY})
    assert anon.status_code == 401
    with pytest.raises(ValueError, match="date must be YYYY-MM-DD"):
        read_earned(a, "2026-02-30")


# ------------------------------------------------------------------------------------------ the reader


class _Canned:
    def __init__(self, total: Any, rows: Any) -> None:
        self.total, self.rows = total, rows

    def get_total_earnings_for_user_for_day(self, date: str) -> Any:
        return self.total

    def get_earnings_for_user_for_day(self, date: str) -> Any:
        return self.rows


def test_reader_takes_numbers_or_strings_exactly_and_refuses_other_shapes() -> None:
    rows = [{"condition_id": "0x1", "earnings": 0.1}, {"condition_id": "0x1", "earnings": "0.2"},
            {"condition_id": "0x2", "earnings": 1}]
    earned = read_earned(_Canned([{"earnings": "1.3"}], rows), DAY)
    assert earned == EarnedRewards(DAY, Decimal("1.3"), {"0x1": Decimal("0.3"), "0x2": Decimal(1)})
    for total, bad_rows, where in (
        ({"earnings": 1}, [], "/rewards/user/total: want a list"),
        ([{"earnings": True}], [], "row 0: earnings must be a number"),
        ([{"earnings": "NaN"}], [], "earnings must be finite"),
        ([], [{"earnings": 1}], "/rewards/user row 0: want a 'condition_id'"),
        ([], [{"condition_id": "0x1"}], "want an object with 'earnings'"),
        ([], [{"condition_id": "0x1", "earnings": "lots"}], "numeric string"),
    ):
        with pytest.raises(RewardsShapeError, match=where):
            read_earned(_Canned(total, bad_rows), DAY)
