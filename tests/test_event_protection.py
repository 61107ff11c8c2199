"""Event protection: no quotes from ``POLYMM_HALT_BEFORE_START_MIN`` minutes before a game starts
(Gamma's ``gameStartTime``), none once it has started, none in the last ``POLYMM_HALT_BEFORE_END_H``
hours before the end date; the reason is shown per market."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from engines import ours, running_engine

from polymm.domain.order_book import BookView, Level
from polymm.domain.prices import Tick
from polymm.domain.signals import EventConfig, EventSignal
from polymm.domain.strategy import instant
from polymm.venue.discovery import Discovery
from polymm.venue.rest import PublicClient
from polymm_standin.server import run_exchange

NOW = 1_800_000_000.0


@pytest.mark.parametrize(("start_in_s", "end_in_s", "halt"), [
    (None, None, ""),
    (3600.0, None, ""),  # an hour to the game: quoting
    (9 * 60.0, None, "the game starts in 9 min (halts 10 min before)"),
    (-1.0, None, "the game has started"),
    (None, 10 * 3600.0, ""),
    (None, 20 * 60.0, "ends in 0.3 h (halts 0.5 h before)"),
    (None, -5.0, "past its end date"),
    (-60.0, 20 * 60.0, "the game has started"),  # the game's reason comes first
])
def test_the_events_that_halt_quoting(start_in_s, end_in_s, halt) -> None:
    config = EventConfig(halt_before_end_h=0.5, halt_before_start_min=10)
    end = None if end_in_s is None else NOW + end_in_s
    start = None if start_in_s is None else NOW + start_in_s
    e = EventSignal(config, end, start)
    e.advance(NOW)
    assert e.snapshot().halt == halt


def test_a_game_start_halts_even_with_no_lead_and_the_snapshot_follows_the_clock() -> None:
    e = EventSignal(EventConfig(), start_time=NOW + 60)  # halt_before_start_min 0: only once started
    e.advance(NOW)
    before = e.snapshot()
    assert before.halt == "" and before.minutes_to_start == pytest.approx(1.0)
    e.advance(NOW + 61)
    assert e.snapshot().halt == "the game has started"


def test_game_start_times_read_as_gamma_writes_them() -> None:
    assert instant("2026-09-24 03:00:00+00") == datetime(2026, 9, 24, 3, tzinfo=UTC).timestamp()
    assert instant("2026-08-06T23:00:00Z") == datetime(2026, 8, 6, 23, tzinfo=UTC).timestamp()
    assert instant("2026-09-24") == datetime(2026, 9, 24, tzinfo=UTC).timestamp()
    assert instant("") is None and instant("soon") is None


async def test_a_market_whose_game_starts_soon_is_not_quoted_and_says_why(wait_until) -> None:
    async with run_exchange(port=0, seed=61, flow_rate=10) as ex:
        plain = [m for m in ex.markets if not m.neg_risk][:3]
        soon = plain[0]
        kickoff = datetime.now(UTC) + timedelta(minutes=5)
        ex.standin.controls.schedule_game(soon.condition_id, kickoff.isoformat())
        # Gamma shows it as Polymarket does, and polymm reads it
        gamma_id = ex.standin.catalog.profile(soon.condition_id).gamma_id
        async with httpx.AsyncClient(timeout=5) as http:
            doc = (await http.get(f"{ex.gamma_url}/markets/{gamma_id}")).json()
        assert doc["gameStartTime"] == kickoff.strftime("%Y-%m-%d %H:%M:%S+00")
        public = PublicClient(ex.clob_url, ex.gamma_url)
        try:
            read = (await Discovery(public).resolve(soon.condition_id)).market
        finally:
            await public.aclose()
        assert abs(instant(read.game_start) - kickoff.timestamp()) < 1
        markets = [read, *plain[1:]]
        async with running_engine(ex, markets=markets, halt_before_start_min=10.0) as engine:
            others = [m.condition_id for m in plain[1:]]
            await wait_until(lambda: all(ours(ex, engine, cid) for cid in others))  # the others quote
            await wait_until(lambda: (st := engine.store.market(soon.condition_id)) is not None
                             and st.status == "event halt")
            st = engine.store.market(soon.condition_id)
            assert st.reason.startswith("halted: the game starts in 5 min") or st.reason.startswith(
                "halted: the game starts in 4 min"), st.reason
            assert ours(ex, engine, soon.condition_id) == []
            assert any("quotes pulled, the game starts in" in e.text for e in engine.store.get("events", ()))


async def test_the_admin_route_sets_and_checks_a_game_start() -> None:
    async with run_exchange(port=0, seed=62, flow=False) as ex:
        m = ex.markets[0]
        url = f"{ex.clob_url}/_admin/game-start"
        async with httpx.AsyncClient(timeout=5) as http:
            r = await http.post(url, json={"market": m.condition_id, "game_start": "2027-01-02T20:30:00Z"})
            assert r.status_code == 200 and r.json()["gameStartTime"] == "2027-01-02 20:30:00+00"
            r = await http.post(url, json={"market": m.condition_id, "game_start": "tomorrow"})
            assert r.status_code == 400 and "ISO time" in r.json()["error"] and "'tomorrow'" in r.json()["error"]
            r = await http.post(url, json={"market": m.condition_id, "game_start": ""})
            assert r.status_code == 200 and r.json()["gameStartTime"] is None
        assert ex.standin.catalog.profile(m.condition_id).market.game_start == ""


async def test_a_market_the_clob_closed_while_gamma_lists_it_open_stops_quoting_and_says_why(wait_until) -> None:
    """Gamma was seen listing finished matches as active and accepting orders: the CLOB's word counts too."""
    async with run_exchange(port=0, seed=63, flow=False) as ex:
        first, other = [m for m in ex.markets if not m.neg_risk][:2]
        cid = first.condition_id
        async with running_engine(ex, markets=[first, other]) as engine:
            await wait_until(lambda: ours(ex, engine, cid) and ours(ex, engine, other.condition_id))
            marked: list[set[str]] = []
            mark = engine._mark_dirty
            engine._mark_dirty = lambda cids: (marked.append(set(cids)), mark(cids))[1]  # type: ignore[method-assign]  # records what each check re-evaluates
            assert await engine.listing_once() == {}
            assert {cid, other.condition_id} not in marked  # listings unchanged: no market stepped for them
            ex.standin.controls.set_gamma_stale(cid)  # Gamma lags...
            gamma_id = ex.standin.catalog.profile(cid).gamma_id
            ex.standin.resolve_market(cid, "Yes")  # ...while the CLOB closes the market
            async with httpx.AsyncClient(timeout=5) as http:
                doc = (await http.get(f"{ex.gamma_url}/markets/{gamma_id}")).json()
            assert doc["closed"] is False and doc["acceptingOrders"] is True
            why = "listings disagree: the CLOB says closed, Gamma says open"
            assert await engine.listing_once() == {cid: why}
            assert {cid} in marked and {cid, other.condition_id} not in marked  # only the market whose listing changed
            await wait_until(lambda: (st := engine.store.market(cid)) is not None and st.status == "closed")
            assert engine.store.market(cid).reason == f"not tradeable: {why}"
            assert any(f"not tradeable: {why}" in e.text for e in engine.store.get("events", ()))
            assert ours(ex, engine, other.condition_id)  # the other market quotes on


async def test_the_clob_listings_are_read_one_at_a_time_at_a_pace() -> None:
    """At hundreds of markets the check was a burst of one request a market on the event loop every minute:
    the CLOB's listings are read one after another, ``per_s`` a second at most, and still judged."""
    from polymm.venue.listing import listing_problems

    async with run_exchange(port=0, seed=64, flow=False) as ex:
        markets = [m for m in ex.markets if not m.neg_risk][:6]
        closed = markets[2].condition_id
        ex.standin.resolve_market(closed, "Yes")
        public = PublicClient(ex.clob_url, ex.gamma_url)
        read = public.clob_market
        loop = asyncio.get_running_loop()
        starts: list[float] = []
        flying = [0, 0]  # now, most at once

        async def spy(cid: str):
            starts.append(loop.time())
            flying[0] += 1
            flying[1] = max(flying)
            try:
                return await read(cid)
            finally:
                flying[0] -= 1

        public.clob_market = spy  # type: ignore[method-assign]  # counts what the venue is asked
        try:
            problems = await listing_problems(public, [m.condition_id for m in markets], per_s=40.0)
        finally:
            await public.aclose()
        assert set(problems) == {closed} and "closed" in problems[closed]
        assert len(starts) == 6 and flying[1] == 1  # one at a time
        assert min(b - a for a, b in itertools.pairwise(starts)) >= 1 / 40 - 1e-3  # never faster


# ---------------------------------------------------------------- jump and sweep cool-off
def _view(bid: int, ask: int, levels: int = 5) -> BookView:
    tick = Tick(100)  # 0.01
    bids = tuple(Level(bid - i * 100, 50.0) for i in range(levels))
    asks = tuple(Level(ask + i * 100, 50.0) for i in range(levels))
    return BookView("c", 0, 1, tick, bid, ask, 50.0, 50.0, bids, asks, None, 0)


def _fed(config: EventConfig, books: list[tuple[float, BookView]]) -> EventSignal:
    e = EventSignal(config)
    for t, v in books:
        e.on_book(t, v)
        e.advance(t)
    return e


COOL = EventConfig(cool_off_s=5.0, jump_k=3.0, jump_min_ticks=3.0, sweep_levels=3)


def test_a_jump_of_the_mid_cools_quoting_off_then_it_resumes() -> None:
    # the mid wanders by a tick an update, then jumps 4 ticks in one (a thin book: no 3 levels swept)
    calm = [(NOW + i, _view(4900 + 100 * (i % 2), 5100 + 100 * (i % 2), levels=1)) for i in range(20)]
    e = _fed(COOL, [*calm, (NOW + 20, _view(5400, 5600, levels=1))])
    assert e.snapshot().halt == "cooling off after a jump of 4 ticks (5 s left)"
    e.advance(NOW + 24)
    assert e.snapshot().halt == "cooling off after a jump of 4 ticks (1 s left)"
    e.advance(NOW + 25.5)
    assert e.snapshot().halt == ""
    # the same move where the mid usually moves that much is no jump
    wild = [(NOW + i, _view(4900 + 400 * (i % 2), 5100 + 400 * (i % 2), levels=1)) for i in range(20)]
    assert _fed(COOL, [*wild, (NOW + 20, _view(4900, 5100, levels=1))]).snapshot().halt == ""


def test_a_sweep_of_levels_cools_quoting_off_and_a_small_take_does_not() -> None:
    before = _view(5000, 5100)
    swept = _view(4700, 5100)  # three bid levels (0.50, 0.49, 0.48) gone at once
    assert _fed(COOL, [(NOW, before), (NOW + 1, swept)]).snapshot().halt == (
        "cooling off after a sweep of 3 levels (5 s left)")
    assert _fed(COOL, [(NOW, before), (NOW + 1, _view(4800, 5100))]).snapshot().halt == ""
    off = EventConfig(cool_off_s=0.0)  # the default: no cool-off
    assert _fed(off, [(NOW, before), (NOW + 1, swept)]).snapshot().halt == ""


# ---------------------------------------------------------------- GTD before events
def test_order_expiry_is_when_the_halt_begins() -> None:
    from polymm.domain.strategy import order_expiry

    m = _market(game_start="", end_date="")
    events = EventConfig(halt_before_end_h=0.5, halt_before_start_min=10)
    assert order_expiry(m, NOW, events) == 0  # no event known: GTC
    iso = datetime.fromtimestamp(NOW + 3600, UTC).isoformat()
    # the venue ends a GTD order 60 s before its stated expiration: the halt's beginning + 60 s
    assert order_expiry(_market(game_start=iso), NOW, events) == int(NOW + 3600 - 600 + 60)
    assert order_expiry(_market(end_date=iso), NOW, events) == int(NOW + 3600 - 1800 + 60)
    assert order_expiry(_market(game_start=iso, end_date=iso), NOW, events) == int(NOW + 1800 + 60)  # earlier
    soon = datetime.fromtimestamp(NOW + 600 + 100, UTC).isoformat()  # halt in 100 s: expiration under 180 s
    assert order_expiry(_market(game_start=soon), NOW, events) == 0


def _market(game_start: str = "", end_date: str = ""):
    from polymm.domain.market import Market

    return Market("0x" + "1" * 64, "1", "2", "q", Tick(100), end_date=end_date, game_start=game_start)


async def test_our_orders_carry_the_event_halt_as_their_gtd_expiration(wait_until) -> None:
    async with run_exchange(port=0, seed=63, flow_rate=10) as ex:
        m = next(m for m in ex.markets if not m.neg_risk)
        kickoff = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
        ex.standin.controls.schedule_game(m.condition_id, kickoff.isoformat())
        public = PublicClient(ex.clob_url, ex.gamma_url)
        try:
            read = (await Discovery(public).resolve(m.condition_id)).market
        finally:
            await public.aclose()
        async with running_engine(ex, markets=[read], halt_before_start_min=10.0) as engine:
            await wait_until(lambda: len(ours(ex, engine, m.condition_id)) >= 2)
            records = [ex.standin.trading.orders[o.id] for o in ours(ex, engine, m.condition_id)]
            want = int(kickoff.timestamp()) - 600 + 60  # ended by the venue when the halt begins
            assert {(r.order_type, r.expiration) for r in records} == {("GTD", want)}
