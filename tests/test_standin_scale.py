"""The stand-in at scale: hundreds of distinct markets, skewed seeded activity from one scheduler, a demo
wallet that grows with the venue, and the venue's per-signer rate limits (docs/protocol.md §8) against
the REAL ``py-clob-client-v2`` over real sockets.

The rate-limit tests run the stand-in on a clock the test moves (``Clock``), so refills need no sleep;
the sync SDK client runs in a worker thread (``asyncio.to_thread``) because the server runs on the
test's event loop. Every random choice is seeded.
"""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from engines import sdk_call, sdk_client
from py_clob_client_v2 import ClobClient, OrderArgs
from py_clob_client_v2.clob_types import PostOrdersV2Args, RequestArgs
from py_clob_client_v2.exceptions import PolyApiException
from py_clob_client_v2.headers.headers import create_level_2_headers
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2

from polymm.cli import main as polymm_main
from polymm.domain.market import Market
from polymm_standin.server import (
    STANDARD_TIER,
    UNLIMITED_TIER,
    ExchangeServer,
    StandIn,
    TradingConfig,
    default_starting_balance,
    run_exchange,
)
from polymm_standin.server.flows import frames_of
from polymm_standin.sim.activity import MAX_LAG_S, FlowSchedule, activity_weights
from polymm_standin.sim.catalog import MAX_MARKETS, QUESTIONS, Catalog, market_profiles
from polymm_standin.sim.units import MICRO, now_ms

KEY_A = "0x" + "31" * 32
KEY_B = "0x" + "32" * 32
RATE_LIMIT_HEADERS = ("Poly-RateLimit-Remaining", "Poly-RateLimit-Reset", "Poly-RateLimit-Tier")


# ------------------------------------------------------------------------------------------ catalog


def test_500_markets_are_distinct_plausible_and_seeded() -> None:
    catalog = Catalog.build(7, MAX_MARKETS)
    markets, profiles = catalog.markets, catalog.profiles
    assert len(markets) == MAX_MARKETS + 3  # the neg-risk group comes on top
    for values in (
        [m.question for m in markets],
        [m.slug for m in markets],
        [m.condition_id for m in markets],
        [t for m in markets for t in (m.yes_token, m.no_token)],
        [p.gamma_id for p in profiles],
        [p.question_id for p in profiles],
    ):
        assert len(set(values)) == len(values)
    assert len({e.id for e in catalog.events}) == len(catalog.events) == MAX_MARKETS + 1
    for m in markets:  # questions read like Polymarket's: no "(#17)" copies of a hand-written one
        assert re.fullmatch(r"Will [^()#]+\?", m.question), m.question
    # a pure function of the seed; another seed, another catalog
    assert [m.question for m in Catalog.build(7, MAX_MARKETS).markets] == [m.question for m in markets]
    assert [m.question for m in Catalog.build(8, MAX_MARKETS).markets] != [m.question for m in markets]
    # the first markets keep the hand-written questions (and everything else) of a small catalog
    small = market_profiles(7, 6)
    assert [p.market.question for p in small] == [m.question for m in markets[:6]]
    assert all(p.market.question in QUESTIONS for p in small)
    # every category and a few finer ticks appear
    assert {p.category for p in profiles} >= {"crypto", "sports", "politics", "economy", "tech", "weather", "culture"}
    assert {m.tick.text for m in markets} == {"0.01", "0.001", "0.005"}


def test_about_two_thirds_of_many_markets_pay_rewards() -> None:
    profiles = Catalog.build(11, 300).profiles
    paying = [p for p in profiles if p.has_rewards]
    assert 0.6 <= len(paying) / len(profiles) <= 0.8
    for p in paying:
        m = p.market
        assert m.reward_min_size > 0 and m.reward_max_spread > 0 and p.reward_daily_rate > 0


def test_more_markets_than_the_cap_are_refused_with_the_range() -> None:
    with pytest.raises(ValueError, match=r"1\.\.500, got 501"):
        market_profiles(1, MAX_MARKETS + 1)
    with pytest.raises(ValueError, match=r"market_count must be 1\.\.500, got 900"):
        StandIn(seed=1, market_count=900, flow=False)


def test_the_exchange_command_names_the_option_and_its_range(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, expected in (
        (["--markets", "900"], "argument --markets: must be 1..500, got 900"),
        (["--markets", "ten"], "argument --markets: must be 1..500, got ten"),
        (["--frames-per-s", "0"], "argument --frames-per-s: must be more than 0 and at most 100,000 frames/s, got 0"),
        (["--flow-rate", "5", "--frames-per-s", "100"],
         "argument --frames-per-s: not allowed with argument --flow-rate"),
        (["--rate-tier", "gold"], "argument --rate-tier: invalid choice: 'gold'"),
        (["--demo-pusd", "-5"], "argument --demo-pusd: must be a number above 0"),
    ):
        with pytest.raises(SystemExit) as info:
            polymm_main(["exchange", *argv])
        assert info.value.code == 2
        assert expected in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ activity


def test_activity_is_skewed_hot_to_quiet_and_seeded() -> None:
    weights = activity_weights(7, 300)
    assert weights == activity_weights(7, 300)  # same seed, same weights
    assert weights != activity_weights(8, 300)  # which markets are hot depends on the seed
    assert sum(weights) == pytest.approx(1.0)
    ranked = sorted(weights, reverse=True)
    assert sum(ranked[:30]) > 0.5  # the busiest tenth carries most of the activity
    assert ranked[0] > 100 * ranked[-1]  # and the tail is quiet, not dead
    assert ranked[-1] > 0
    assert sorted(ranked[150:]) == sorted(weights)[:150]


def test_one_heap_steps_each_market_at_its_share() -> None:
    weights = activity_weights(3, 200)
    schedule = FlowSchedule(weights, 2_000.0, random.Random(5), now=0.0)
    counts = [0] * len(weights)
    now = 0.0
    while now < 30.0:  # made-up time: 30 s in 5 ms wakes
        now += 0.005
        for index in schedule.pop_due(now, limit=10_000):
            counts[index] += 1
    total = sum(counts)
    assert total == pytest.approx(60_000, rel=0.03)
    hot = max(range(len(weights)), key=weights.__getitem__)
    assert counts[hot] == pytest.approx(weights[hot] * total, rel=0.1)
    assert len(schedule) == len(weights)  # one entry a market, whatever was popped
    first = FlowSchedule(weights, 2_000.0, random.Random(5), now=0.0).pop_due(0.5, 10_000)
    assert len(first) > 500  # and the same seed replays the same schedule
    assert first == FlowSchedule(weights, 2_000.0, random.Random(5), now=0.0).pop_due(0.5, 10_000)


def test_the_schedule_bounds_a_wake_and_drops_a_stale_backlog() -> None:
    schedule = FlowSchedule([1.0] * 10, 100.0, random.Random(1), now=0.0)  # 1,000 steps/s in all
    assert len(schedule.pop_due(5.0, limit=7)) == 7  # never more than asked in one wake
    # 5 s late: a market overdue by more than MAX_LAG_S restarts from now instead of replaying its
    # ~500 missed steps; only the last MAX_LAG_S are caught up
    caught_up = 0
    while due := schedule.pop_due(5.0, limit=1_000):
        caught_up += len(due)
    assert caught_up < 1_000 * (MAX_LAG_S + 0.5) < 5_000
    next_due = schedule.next_due()
    assert next_due is not None and next_due > 5.0


def test_frames_of_counts_what_a_full_subscriber_gets() -> None:
    s = StandIn(seed=4, market_count=2, flow=False, neg_risk_markets=0)
    events: list[Any] = []
    s.matching.add_listener(events.append)
    m = s.markets[0]
    book = s.matching.book(m.yes_token)
    ask = book.asks[-1][0]
    s.matching.place("test-maker", m.yes_token, "BUY", 100, Decimal(10))
    s.matching.place("test-taker", m.yes_token, "BUY", ask, Decimal(1_000), order_type="FAK")
    levels_traded = len({f.yes_price for f in events[-1].fills})
    assert [frames_of(e) for e in events] == [1, levels_traded + 2]


async def test_total_frame_rate_is_shared_hot_to_quiet_by_one_task(wait_until) -> None:
    async with run_exchange(port=0, seed=21, market_count=40, frames_per_s=4_000) as ex:
        runner = ex.standin.flow_runner
        assert [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("synthetic-flow")] == [
            "synthetic-flow"
        ]
        await wait_until(lambda: runner.steps >= 4_000, timeout=30)
        steps = sorted(((w, f.steps) for w, f in zip(runner.weights, runner.flows, strict=True)), reverse=True)
        hot, tail = sum(n for _, n in steps[:4]), sum(n for _, n in steps[-20:])
        assert hot > 2 * tail
        assert 0.5 < runner.frames_per_step < 5
        async with httpx.AsyncClient() as h:
            flow = (await h.get(f"{ex.clob_url}/_admin/stats")).json()["flow"]
        assert flow["mode"] == "total" and flow["target_frames_per_s"] == 4_000 and flow["markets"] == 43
        assert flow["steps"] > 0 and flow["frames"] > 0


# ------------------------------------------------------------------------------------------ demo wallet


def test_the_demo_wallets_pusd_grows_with_the_markets_unless_set() -> None:
    assert default_starting_balance(1) == default_starting_balance(6) == Decimal(10_000)
    assert default_starting_balance(300) == Decimal(500_000)
    assert default_starting_balance(7) == Decimal(11_667)  # whole pUSD, rounded up
    wide = StandIn(seed=2, market_count=60, flow=False)
    assert wide.trading.config.starting_balance == Decimal(100_000)
    assert wide.accounts.cash_micro(wide.open_account("0x" + "ab" * 20).address) == 100_000 * MICRO
    fixed = StandIn(seed=2, market_count=60, flow=False, trading=TradingConfig(starting_balance=Decimal(1_234)))
    assert fixed.accounts.cash_micro(fixed.open_account("0x" + "ab" * 20).address) == 1_234 * MICRO


def test_polymm_exchange_serves_its_scale_options(tmp_path) -> None:
    argv = [sys.executable, "-m", "polymm.cli", "exchange", "--port", "0", "--markets", "12", "--frames-per-s",
            "500", "--rate-tier", "unlimited", "--demo-pusd", "250000"]
    p = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [p.stdout.readline() for _ in range(9)]  # type: ignore[union-attr]
        text = "".join(lines)
        assert "15 markets, synthetic flow 500 frames/s over all markets" in lines[0], text
        assert "rate limits unlimited (no limits) per signer; new wallets start with 250,000 pUSD" in text
        base = re.search(r"CLOB REST\s+(http://127\.0\.0\.1:\d+)", text)
        assert base, text
        stats = httpx.get(f"{base.group(1)}/_admin/stats", timeout=5).json()
        assert stats["rate_limit"]["tier"] == "unlimited" and stats["flow"]["target_frames_per_s"] == 500
    finally:
        p.terminate()
        p.wait(timeout=10)


# ------------------------------------------------------------------------------------------ rate limits


class Clock:
    """The stand-in's clock (epoch ms), moved by the test: token buckets refill only when it moves."""

    def __init__(self) -> None:
        self.ms = now_ms()

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += round(seconds * 1000)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest_asyncio.fixture
async def ex(clock: Clock) -> AsyncIterator[ExchangeServer]:
    async with run_exchange(port=0, flow=False, seed=61, clock=clock, trading=TradingConfig()) as server:
        yield server


call = sdk_call


async def client(ex: ExchangeServer, key: str = KEY_A) -> ClobClient:
    return await sdk_client(ex, key)


async def l2(c: ClobClient, method: str, path: str, body: Any = None) -> httpx.Response:
    """A raw L2-authenticated request: the SDK does not show response headers."""
    raw = None if body is None else orjson.dumps(body)
    headers = create_level_2_headers(c.signer, c.creds, RequestArgs(method, path, serialized_body=raw.decode() if raw
                                                                    else None))
    async with httpx.AsyncClient() as h:
        return await h.request(method, c.host + path, headers=headers, content=raw)


def quiet_market(ex: ExchangeServer, index: int = 0) -> Market:
    """A market with its synthetic orders removed, so low bids rest and cross nothing."""
    m = ex.markets[index]
    ex.matching.cancel_orders([o.id for o in ex.matching.open_orders() if o.market == m])
    return m


async def signed_bids(c: ClobClient, m: Market, n: int) -> list[PostOrdersV2Args]:
    """``n`` signed resting bids at 0.01..0.05 (5 shares: the minimum size)."""
    prices = [0.01, 0.02, 0.03, 0.04, 0.05]
    orders = [await call(c.create_order, OrderArgs(token_id=m.yes_token, price=prices[i % 5], size=5, side="BUY"))
              for i in range(n)]
    return [PostOrdersV2Args(o) for o in orders]


async def refused(fn: Callable[..., Any], *args: Any) -> Any:
    with pytest.raises(PolyApiException) as info:
        await call(fn, *args)
    assert info.value.status_code == 429
    return info.value.error_msg


def live_ids(ex: ExchangeServer, c: ClobClient) -> set[str]:
    return {r.id for r in ex.trading.live_orders(c.signer.address())}


async def stats(ex: ExchangeServer) -> dict[str, Any]:
    async with httpx.AsyncClient() as h:
        return (await h.get(f"{ex.clob_url}/_admin/stats")).json()["rate_limit"]


async def test_a_burst_of_61_orders_refuses_the_batch_that_exceeds_whole(ex: ExchangeServer, clock: Clock) -> None:
    m = quiet_market(ex)
    c = await client(ex)
    batches = [await signed_bids(c, m, 15) for _ in range(5)]
    for batch in batches[:4]:  # 60 orders: the standard tier's burst
        assert all(r["success"] for r in await call(c.post_orders, batch))
    assert len(live_ids(ex, c)) == 60
    # the 61st order comes in a batch of 15: refused whole, with when to come back
    body = await refused(c.post_orders, batches[4])
    assert body["retry_after_seconds"] == 0.375  # 15 tokens at 40/s
    assert "orders rate limit of the standard tier (40/s, burst 60)" in body["error"]
    assert len(live_ids(ex, c)) == len(ex.trading.orders) == 60  # nothing of it rests, nor was even tried
    # a single order is refused too; a second later (on the stand-in's clock) the batch goes in
    await refused(c.post_order, batches[4][0].order)
    clock.advance(0.375)
    assert all(r["success"] for r in await call(c.post_orders, batches[4]))
    assert len(live_ids(ex, c)) == 75
    assert (await stats(ex))["http_429_orders"] == 2


async def test_the_429_and_every_trading_response_carry_the_limit_headers(ex: ExchangeServer, clock: Clock) -> None:
    m = quiet_market(ex)
    c = await client(ex)
    bids = await signed_bids(c, m, 15)
    payload = [order_to_json_v2(a.order, c.creds.api_key, "GTC") for a in bids]
    ok = await l2(c, "POST", "/orders", payload)
    assert ok.status_code == 200
    assert ok.headers["Poly-RateLimit-Remaining"] == "45" and ok.headers["Poly-RateLimit-Tier"] == "standard"
    assert int(ok.headers["Poly-RateLimit-Reset"]) == -(-clock.ms // 1000)  # admitted: now (Unix seconds)
    for _ in range(3):
        await l2(c, "POST", "/orders", payload)  # duplicates: refused order by order, but charged
    r = await l2(c, "POST", "/orders", payload)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert set(r.json()) == {"error", "retry_after_seconds"}
    assert r.headers["Poly-RateLimit-Remaining"] == "0"
    assert int(r.headers["Poly-RateLimit-Reset"]) == -(-(clock.ms + 375) // 1000)
    # a refusal for another reason still says where the signer stands; reads are not metered
    bad = await l2(c, "POST", "/order", {"order": {}})
    assert bad.status_code == 429 and all(h in bad.headers for h in RATE_LIMIT_HEADERS)
    clock.advance(1)
    bad = await l2(c, "POST", "/order", {"order": {}})
    assert bad.status_code == 400 and bad.headers["Poly-RateLimit-Remaining"] == "39"
    cancel = await l2(c, "DELETE", "/order", {"orderID": "0x" + "00" * 32})
    assert cancel.status_code == 200 and cancel.headers["Poly-RateLimit-Remaining"] == "119"  # the other bucket
    reads = await l2(c, "GET", "/data/orders")
    assert reads.status_code == 200 and not any(h in reads.headers for h in RATE_LIMIT_HEADERS)
    # the fault injector's 429 has the same shape
    ex.standin.faults.add_http_errors(429, 1, retry_after_s=0.375, path_prefix="/book")
    async with httpx.AsyncClient() as h:
        injected = await h.get(f"{ex.clob_url}/book", params={"token_id": m.yes_token})
    assert (injected.status_code, injected.headers["Retry-After"], set(injected.json())) == (
        429, "1", {"error", "retry_after_seconds"})
    async with httpx.AsyncClient() as h:
        counted = (await h.get(f"{ex.clob_url}/_admin/stats")).json()
    assert counted["rate_limit"]["http_429"] == 2 and counted["injected_http_errors"] == {"429": 1}


async def test_cancels_have_their_own_bucket_cost_per_id_and_batches_past_the_burst_are_refused(
    ex: ExchangeServer, clock: Clock
) -> None:
    c = await client(ex)
    unknown = ["0x" + f"{i:064x}" for i in range(1, 122)]
    r = await l2(c, "DELETE", "/orders", unknown[:120])  # 120 ids: the whole burst, even if none was live
    assert r.status_code == 200 and len(r.json()["not_canceled"]) == 120
    assert r.headers["Poly-RateLimit-Remaining"] == "0"
    r = await l2(c, "DELETE", "/order", {"orderID": unknown[0]})
    assert (r.status_code, r.headers["Retry-After"], r.json()["retry_after_seconds"]) == (429, "1", 0.013)
    clock.advance(0.5)  # 40 cancels back: orders are another bucket and were never touched
    r = await l2(c, "DELETE", "/orders", unknown[:41])
    assert r.status_code == 429 and r.json()["retry_after_seconds"] == 0.013
    assert (await l2(c, "DELETE", "/orders", unknown[:40])).status_code == 200
    clock.advance(60)
    r = await l2(c, "DELETE", "/orders", unknown)  # 121 ids > the burst of 120: can never pass whole
    assert r.status_code == 429 and "Retry-After" not in r.headers and "split it" in r.json()["error"]
    assert (await l2(c, "DELETE", "/orders", unknown[:120])).status_code == 200  # nothing was taken
    assert (await stats(ex))["http_429_cancels"] == 3


async def test_cancel_all_is_always_admitted_and_may_take_the_bucket_below_zero(
    ex: ExchangeServer, clock: Clock
) -> None:
    m = quiet_market(ex)
    c = await client(ex)
    for batch in [await signed_bids(c, m, 15) for _ in range(2)]:
        await call(c.post_orders, batch)
    assert len(live_ids(ex, c)) == 30
    unknown = ["0x" + f"{i:064x}" for i in range(1, 121)]
    assert (await l2(c, "DELETE", "/orders", unknown)).status_code == 200  # the cancel bucket is empty
    assert (await l2(c, "DELETE", "/order", {"orderID": unknown[0]})).status_code == 429
    r = await l2(c, "DELETE", "/cancel-all")
    assert r.status_code == 200 and len(r.json()["canceled"]) == 30 and live_ids(ex, c) == set()
    assert r.headers["Poly-RateLimit-Remaining"] == "-31"  # 1 + 30 cancelled, below zero
    r = await l2(c, "DELETE", "/order", {"orderID": unknown[0]})
    assert r.status_code == 429 and r.json()["retry_after_seconds"] == 0.4  # (31 + 1) / 80
    r = await l2(c, "DELETE", "/cancel-market-orders", {"market": m.condition_id})
    assert r.status_code == 429  # needs one token to be let in, unlike cancel-all
    assert (await l2(c, "DELETE", "/cancel-all")).status_code == 200  # still always admitted
    assert (await l2(c, "DELETE", "/cancel-all")).headers["Poly-RateLimit-Remaining"] == "-33"
    counted = await stats(ex)
    assert counted["http_429"] == counted["http_429_cancels"] == 3 and counted["http_429_orders"] == 0


async def test_signers_have_their_own_buckets_and_the_unlimited_tier_limits_nothing(ex: ExchangeServer) -> None:
    m = quiet_market(ex)
    a, b = await client(ex, KEY_A), await client(ex, KEY_B)
    for batch in [await signed_bids(a, m, 15) for _ in range(4)]:
        await call(a.post_orders, batch)
    await refused(a.post_orders, await signed_bids(a, m, 1))
    assert (await call(b.post_orders, await signed_bids(b, m, 15)))[0]["success"]  # B's bucket is full
    ex.trading.config.rate_tier = UNLIMITED_TIER  # read at each request
    for batch in [await signed_bids(a, m, 15) for _ in range(2)]:
        assert all(r["success"] for r in await call(a.post_orders, batch))
    r = await l2(a, "DELETE", "/order", {"orderID": "0x" + "00" * 32})
    assert r.headers["Poly-RateLimit-Tier"] == "unlimited" and "Poly-RateLimit-Remaining" not in r.headers
    ex.trading.config.rate_tier = STANDARD_TIER
    assert (await stats(ex))["http_429"] == 1
