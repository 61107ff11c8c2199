"""Market discovery (polymm.venue.discovery) against the stand-in's Gamma and against malformed data."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import orjson
import pytest

from polymm.domain.market import Market
from polymm.domain.prices import Tick
from polymm.venue.discovery import Candidate, Discovery, Filters, SkippedMarket, candidate_from_gamma, rank
from polymm.venue.rest import POSITION_ID_UNSUPPORTED, PublicClient, UnsupportedMarket
from polymm_standin.server import run_exchange

pytestmark = pytest.mark.asyncio

SEED = 7
NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
async def venue():
    async with run_exchange(port=0, seed=SEED, flow=False) as ex:
        client = PublicClient(ex.clob_url, ex.gamma_url)
        try:
            yield ex, client
        finally:
            await client.aclose()


def _disc(client: PublicClient, **kw) -> Discovery:
    return Discovery(client, clock=lambda: NOW, **kw)


def _ids(cands) -> set[str]:
    return {c.condition_id for c in cands}


# ------------------------------------------------------------------------------------------- stand-in


async def test_discover_lists_every_live_market(venue):
    ex, client = venue
    d = _disc(client)
    cands = await d.discover()
    assert _ids(cands) == {m.condition_id for m in ex.markets}
    assert len(cands) == len(ex.markets) >= 6
    assert d.skipped == 0 and not d.skip_reasons
    by_id = {m.condition_id: m for m in ex.markets}
    for c in cands:
        m = by_id[c.condition_id]
        assert (c.market.yes_token, c.market.no_token, c.market.tick) == (m.yes_token, m.no_token, m.tick)
        assert c.market.neg_risk == m.neg_risk
        assert c.hours_to_end is not None and c.hours_to_end > 0
        assert c.best_bid is not None and c.best_ask is not None and c.best_ask > c.best_bid
        assert c.spread == pytest.approx(c.best_ask - c.best_bid)
        assert c.reward_max_spread == float(m.reward_max_spread)
    # Gamma's order (volume24hr descending) is kept
    vols = [c.volume_24h for c in cands]
    assert vols == sorted(vols, reverse=True)
    # some markets carry rewards, at least one does not
    assert any(c.reward_daily_rate > 0 for c in cands) and any(not c.reward_eligible for c in cands)


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2]


@pytest.mark.parametrize(
    ("make", "pred"),
    [
        (
            lambda cs: Filters(min_volume_24h=_median([c.volume_24h for c in cs])),
            lambda f, c: c.volume_24h >= f.min_volume_24h,
        ),
        (
            lambda cs: Filters(min_liquidity=_median([c.liquidity for c in cs])),
            lambda f, c: c.liquidity >= f.min_liquidity,
        ),
        (
            lambda cs: Filters(max_spread=min(c.spread for c in cs if c.spread is not None) + 1e-9),
            lambda f, c: c.spread is not None and c.spread <= f.max_spread,
        ),
        (lambda cs: Filters(price_range=(0.3, 0.6)), lambda f, c: 0.3 <= c.price <= 0.6),
        (
            lambda cs: Filters(min_hours_to_end=_median([c.hours_to_end for c in cs])),
            lambda f, c: c.hours_to_end >= f.min_hours_to_end,
        ),
        (
            lambda cs: Filters(max_hours_to_end=_median([c.hours_to_end for c in cs]) - 1),
            lambda f, c: c.hours_to_end <= f.max_hours_to_end,
        ),
        (lambda cs: Filters(rewards_only=True), lambda f, c: c.reward_eligible),
        (lambda cs: Filters(max_reward_min_size=50), lambda f, c: c.reward_min_size <= 50),
        (lambda cs: Filters(search="best PICTURE"), lambda f, c: "best picture" in c.market.question.lower()),
        (lambda cs: Filters(search="bitcoin"), lambda f, c: "bitcoin" in c.market.slug),
    ],
    ids=["volume", "liquidity", "spread", "price", "min-hours", "max-hours", "rewards", "reward-size", "search",
         "search-slug"],
)
async def test_each_filter_narrows_correctly(venue, make, pred):
    _, client = venue
    every = await _disc(client).discover()
    f = make(every)
    got = await _disc(client).discover(f)
    expected = {c.condition_id for c in every if pred(f, c)}
    assert _ids(got) == expected
    assert 0 < len(expected) < len(every), "the filter must really narrow the set"
    assert all(f.reject(c) is None for c in got)


async def test_server_side_filters_do_the_narrowing(venue):
    """Liquidity, end date and rewards go to Gamma: nothing is left for the client to drop."""
    _, client = venue
    every = await _disc(client).discover()
    liq = _median([c.liquidity for c in every])
    hours = _median([c.hours_to_end for c in every])
    d = _disc(client)
    got = await d.discover(Filters(min_liquidity=liq, min_hours_to_end=hours, rewards_only=True))
    assert got and len(got) < len(every)
    assert d.filtered["liquidity"] == d.filtered["end"] == d.filtered["rewards"] == 0
    # 24 h volume is pre-filtered on total volume (a superset), so the client finishes it
    params = Filters(min_volume_24h=100, min_hours_to_end=24, max_hours_to_end=48).params(NOW)
    assert params["volume_num_min"] == 100
    assert params["end_date_min"] == "2026-03-02T00:00:00Z" and params["end_date_max"] == "2026-03-03T00:00:00Z"
    assert params["closed"] == "false" and params["order"] == "volume24hr" and params["ascending"] == "false"


async def test_neg_risk_include_exclude_only(venue):
    ex, client = venue
    neg = {m.condition_id for m in ex.markets if m.neg_risk}
    plain = {m.condition_id for m in ex.markets if not m.neg_risk}
    assert neg and plain
    assert _ids(await _disc(client).discover(Filters(neg_risk="include"))) == neg | plain
    assert _ids(await _disc(client).discover(Filters(neg_risk="exclude"))) == plain
    assert _ids(await _disc(client).discover(Filters(neg_risk="only"))) == neg
    with pytest.raises(ValueError, match="neg_risk"):
        Filters(neg_risk="maybe")  # type: ignore[arg-type]


async def test_pagination_small_pages(venue):
    ex, client = venue
    n = len(ex.markets)
    full = await _disc(client, page_size=100).discover()
    d2 = _disc(client, page_size=2)
    paged = await d2.discover()
    assert [c.condition_id for c in paged] == [c.condition_id for c in full]
    assert d2.pages == math.ceil(n / 2)  # stops at the short last page
    d3 = _disc(client, page_size=n)  # an exactly full page needs one more (empty) page to end
    assert len(await d3.discover()) == n and d3.pages == 2
    # a result limit stops early, keeping Gamma's order
    d4 = _disc(client, page_size=2)
    first = await d4.discover(limit=3)
    assert [c.condition_id for c in first] == [c.condition_id for c in full[:3]]
    assert d4.pages == 2
    # max_scan bounds what is read at all
    d5 = _disc(client, page_size=2, max_scan=5)
    assert [c.condition_id for c in await d5.discover()] == [c.condition_id for c in full[:5]]
    assert d5.pages == 3


async def test_rank_orders_as_documented(venue):
    _, client = venue
    cands = await _disc(client).discover()
    by_score = rank(cands)
    assert [c.score for c in by_score] == sorted((c.score for c in cands), reverse=True)
    assert by_score[0].score > by_score[-1].score
    assert [c.volume_24h for c in rank(cands, by="volume")] == sorted((c.volume_24h for c in cands), reverse=True)
    spreads = [c.spread for c in rank(cands, by="spread")]
    assert spreads == sorted(spreads) and spreads[0] < spreads[-1]
    rewards = rank(cands, by="reward")
    assert [c.reward_yield for c in rewards] == sorted((c.reward_yield for c in cands), reverse=True)
    assert not rewards[-1].reward_eligible and rewards[0].reward_yield > 0
    for c in cands:
        expected = c.spread_factor * (math.log10(1 + c.volume_24h) + 2.0 * c.reward_yield)
        assert c.score == pytest.approx(expected)
    top = await _disc(client).ranked(by="volume", top=2)
    assert [c.condition_id for c in top] == [c.condition_id for c in rank(cands, by="volume")[:2]]
    with pytest.raises(ValueError):
        rank(cands, by="nope")  # type: ignore[arg-type]


async def test_resolve_by_each_identifier(venue):
    ex, client = venue
    d = _disc(client)
    for m in (ex.markets[0], next(m for m in ex.markets if m.neg_risk)):
        for ident in (m.condition_id, m.condition_id.upper().replace("0X", "0x"), m.slug, m.yes_token, m.no_token):
            c = await d.resolve(ident)
            assert c.condition_id == m.condition_id, ident
            assert (c.market.yes_token, c.market.no_token) == (m.yes_token, m.no_token)
            assert c.market.tick == m.tick and c.market.min_order_size == m.min_order_size
            assert c.market.neg_risk == m.neg_risk
            assert c.market.reward_min_size == m.reward_min_size
            assert c.reward_max_spread == float(m.reward_max_spread)
        by_gamma_id = await d.resolve(c.gamma_id)
        assert by_gamma_id.condition_id == m.condition_id
    for bad in ("no-such-market-slug", "0x" + "ab" * 32, "123456789012345678901234567890", "  "):
        with pytest.raises(LookupError):
            await d.resolve(bad)
    assert d.skipped == 0


# ------------------------------------------------------------------------------------------- unit: formula


def _cand(spread: float | None, vol: float = 1000.0, tick: str = "0.01", rate: float = 0.0, min_size: float = 0.0,
          max_spread: float = 0.0, cond: str = "0x01") -> Candidate:
    m = Market(cond, "1", "2", "q", Tick.parse(tick), reward_min_size=Decimal(str(min_size)),
               reward_max_spread=Decimal(str(max_spread)))
    bid = 0.5 - spread / 2 if spread is not None else None
    ask = 0.5 + spread / 2 if spread is not None else None
    return Candidate(m, "1", vol, 0.0, spread, bid, ask, None, None, None, rate, min_size, max_spread)


async def test_spread_factor_and_reward_yield_formula():
    assert _cand(None).spread_factor == 0.0
    assert _cand(0.01).spread_factor == 0.5  # one tick: no room to improve
    assert _cand(0.02).spread_factor == 1.0  # two ticks: the sweet spot
    assert _cand(0.04).spread_factor == pytest.approx(0.5)  # 2¢ beyond two ticks halves it
    assert _cand(0.12).spread_factor == pytest.approx(1 / 6)
    assert _cand(0.002, tick="0.001").spread_factor == 1.0
    # reward: 100/day over min size 50 at the touch 1¢ from mid with a 4¢ band → 2 × (3/4)²
    c = _cand(0.02, rate=100, min_size=50, max_spread=4)
    assert c.reward_yield == pytest.approx(2 * (3 / 4) ** 2)
    assert c.score == pytest.approx(1.0 * (math.log10(1001) + 2.0 * 2 * 0.5625))
    assert _cand(0.08, rate=100, min_size=50, max_spread=4).reward_yield == 0.0  # touch outside the band
    assert _cand(0.02, rate=100, min_size=0, max_spread=4).reward_yield == 0.0  # not eligible
    # ordering consequences
    wide, tight, locked = _cand(0.06, cond="0xa"), _cand(0.02, cond="0xb"), _cand(0.01, cond="0xc")
    assert [c.condition_id for c in rank([wide, locked, tight])] == ["0xb", "0xc", "0xa"]
    busy, quiet = _cand(0.02, vol=1e6, cond="0xd"), _cand(0.02, vol=10, cond="0xe")
    assert [c.condition_id for c in rank([quiet, busy])] == ["0xd", "0xe"]
    paid = _cand(0.02, vol=10, rate=50, min_size=20, max_spread=3.5, cond="0xf")
    assert rank([busy, paid], by="reward")[0] is paid
    assert rank([busy, paid], by="volume")[0] is busy


# ------------------------------------------------------------------------------------------- malformed Gamma


def _good(i: int, **over) -> dict:
    doc = {
        "id": str(1000 + i),
        "question": f"Good market {i}?",
        "conditionId": "0x" + f"{i:064x}",
        "slug": f"good-market-{i}",
        "outcomes": json.dumps(["Yes", "No"]),
        "outcomePrices": json.dumps(["0.4", "0.6"]),
        "clobTokenIds": json.dumps([str(10_000 + 2 * i), str(10_001 + 2 * i)]),
        "active": True,
        "closed": False,
        "acceptingOrders": True,
        "enableOrderBook": True,
        "orderPriceMinTickSize": 0.01,
        "orderMinSize": 5,
        "negRisk": False,
        "endDate": "2026-12-31T12:00:00Z",
        "liquidity": "1234.5",
        "liquidityNum": 1234.5,
        "volume24hr": "321.5",  # numbers may come as strings
        "rewardsMinSize": "50",
        "rewardsMaxSpread": 3.5,
        "clobRewards": [{"rewardsDailyRate": "25"}],
        "spread": 0.02,
        "bestBid": "0.39",
        "bestAsk": 0.41,
        "lastTradePrice": 0.4,
    }
    doc.update(over)
    return doc


BAD = [
    _good(1, clobTokenIds=None),  # missing tokens
    _good(2, clobTokenIds=json.dumps(["1"])),  # one token
    _good(3, orderPriceMinTickSize=0.03),  # not a Polymarket tick
    _good(4, volume24hr="lots"),  # non-numeric
    _good(5, liquidityNum="NaN"),  # not finite
    _good(6, bestBid=1.7),  # price out of range
    _good(7, endDate="next tuesday"),
    _good(8, conditionId="nope"),
    _good(9, clobRewards="x"),
    42,
    "market",
    None,
    [],
]


def _mock_client(pages: list[list], seen: list[httpx.QueryParams]) -> PublicClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params)
        offset, limit = int(request.url.params.get("offset", 0)), int(request.url.params.get("limit", 100))
        rows = [r for page in pages for r in page]
        if "slug" in request.url.params:
            rows = [r for r in rows if isinstance(r, dict) and r.get("slug") in request.url.params.get_list("slug")]
        return httpx.Response(200, content=orjson.dumps(rows[offset : offset + limit]))

    client = PublicClient("http://clob.test", "http://gamma.test/gamma-api")
    client._http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return client


async def test_malformed_markets_are_skipped_and_counted():
    seen: list[httpx.QueryParams] = []
    inactive = _good(20, acceptingOrders=False)
    rows = [_good(0), *BAD, _good(10), inactive, _good(11, volume24hr=None, bestBid=0, bestAsk=0, spread=0)]
    client = _mock_client([rows], seen)
    d = _disc(client, page_size=4)
    got = await d.discover()
    await client.aclose()
    assert [c.market.slug for c in got] == ["good-market-0", "good-market-10", "good-market-11"]
    assert d.skipped == len(BAD) == sum(d.skip_reasons.values())
    assert d.skip_reasons["not an object"] == 4
    assert d.skip_reasons["clobTokenIds"] == 2
    for reason in ("orderPriceMinTickSize", "volume24hr", "liquidityNum", "bestBid", "endDate", "conditionId",
                   "clobRewards"):
        assert d.skip_reasons[reason] == 1, reason
    assert d.filtered["inactive"] == 1
    good = got[0]
    assert good.volume_24h == 321.5 and good.liquidity == 1234.5 and good.best_bid == 0.39
    assert good.reward_daily_rate == 25 and good.reward_min_size == 50 and good.reward_eligible
    assert good.hours_to_end == pytest.approx((datetime(2026, 12, 31, 12, tzinfo=UTC) - NOW).total_seconds() / 3600)
    empty = got[2]  # no book: no spread, price falls back to outcomePrices, never reaches the top of a score rank
    assert empty.spread is None and empty.price == 0.4 and empty.volume_24h == 0 and empty.score == 0
    # paging walked limit/offset with Gamma's open-market defaults
    assert [p["offset"] for p in seen] == [str(4 * i) for i in range(len(seen))] and len(seen) == math.ceil(
        len(rows) / 4
    )
    assert all(p["closed"] == "false" and p["limit"] == "4" for p in seen)


async def test_a_market_that_moves_up_while_the_listing_is_read_is_still_found():
    """Gamma orders by 24 h volume, which trades change while the pages are read: a market that moves
    up past a page boundary after its page was read is missed by one walk (and the one it pushed down
    is read twice), so another walk finds it; the markets and the counts are each counted once."""
    rows = [_good(10 + i) for i in range(12)] + [_good(1, clobTokenIds=None)]  # and one malformed
    requests: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        requests.append(offset)
        page = rows[offset : offset + limit]
        if len(requests) == 1:  # after the first page: market 15 (on the second page) trades up to the top
            rows.insert(0, rows.pop(5))
        return httpx.Response(200, content=orjson.dumps(page))

    client = PublicClient("http://clob.test", "http://gamma.test/gamma-api")
    client._http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    d = _disc(client, page_size=4)
    got = await d.discover()
    await client.aclose()
    assert sorted(c.market.slug for c in got) == sorted(f"good-market-{10 + i}" for i in range(12))
    assert len(got) == 12  # none twice
    assert requests == [0, 4, 8, 12, 0, 4, 8, 12]  # a second walk, and no third: it met no market twice
    assert d.skipped == 1 and d.skip_reasons["clobTokenIds"] == 1


async def test_resolve_malformed_match_is_counted_not_raised():
    seen: list[httpx.QueryParams] = []
    client = _mock_client([[_good(0), _good(3, orderPriceMinTickSize="abc")]], seen)
    d = _disc(client)
    assert (await d.resolve("good-market-0")).market.yes_token == "10000"
    with pytest.raises(LookupError):
        await d.resolve("good-market-3")
    await client.aclose()
    assert d.skipped == 1 and d.skip_reasons["orderPriceMinTickSize"] == 1
    assert seen[-1].get_list("slug") == ["good-market-3"]


async def test_non_list_answer_is_counted():
    client = PublicClient("http://clob.test", "http://gamma.test")
    client._http = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"error": "weird"}))
    )
    d = _disc(client)
    assert await d.discover() == []
    await client.aclose()
    assert d.skipped == 1 and d.skip_reasons["page"] == 1 and d.pages == 1


async def test_candidate_from_gamma_reads_plain_arrays_and_refuses_position_id_markets():
    doc = _good(0, clobTokenIds=["7", "8"], outcomes=["Up", "Down"])
    c = candidate_from_gamma(doc, NOW)
    assert (c.market.yes_token, c.market.no_token, c.market.outcomes) == ("7", "8", ("Up", "Down"))
    # protocol-V2 markets sign for exchange version 3 (docs/protocol.md §12): refused, never a candidate
    v2 = _good(0, clobTokenIds=None, positionIds=["7", "8"], version="v2")
    with pytest.raises(SkippedMarket) as e:
        candidate_from_gamma(v2, NOW)
    assert e.value.reason == "positionIds" and e.value.unsupported
    assert str(e.value) == f"positionIds: {POSITION_ID_UNSUPPORTED}"


def _position_id(i: int) -> dict:
    return _good(i, clobTokenIds=None, positionIds=[str(70_000 + 2 * i), str(70_001 + 2 * i)], version="v2")


async def test_position_id_markets_are_skipped_and_counted_under_their_reason():
    client = _mock_client([[_good(0), _position_id(1), _good(2), _position_id(3)]], [])
    d = _disc(client)
    got = await d.discover()
    await client.aclose()
    assert [c.market.slug for c in got] == ["good-market-0", "good-market-2"]
    assert d.skipped == 2 and d.skip_reasons == {"positionIds": 2}


@pytest.mark.parametrize("ident", ["0x" + f"{1:064x}", "good-market-1", "70002"])
async def test_resolving_a_position_id_market_says_why_it_is_refused(ident: str):
    """Asked for by name, a position-id market is not 'not found': the error says what it is."""
    client = _mock_client([[_good(0), _position_id(1)]], [])
    d = _disc(client)
    with pytest.raises(UnsupportedMarket) as e:
        await d.resolve(ident)
    await client.aclose()
    assert str(e.value) == f"{ident}: position-id market (exchange version 3) is not supported yet"
    assert d.skip_reasons["positionIds"] >= 1
