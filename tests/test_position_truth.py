"""What we hold is what the venue says (issue 11), on the real order path against the stand-in:
markets added while running, fills of markets we do not trade, a FAILED trade after a restart, the
fail-closed catch-up, positions taken from the venue's balances, another client on the wallet, an
unknown balance, retried sign-in, cancels the venue refuses, heartbeats without ids, signed sizes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sqlite3
from decimal import Decimal as D
from pathlib import Path

import pytest
from engines import Live as _Live
from engines import demo_client, demo_settings, hit_our_bid, ours, yes_bids
from eth_account import Account

from polymm.domain.market import Side
from polymm.engine.engine import Engine
from polymm.engine.execution_factory import DEMO_PRIVATE_KEY
from polymm.venue.execution import OrderRequest
from polymm.venue.live import LiveConfig, LiveExecution
from polymm.venue.retry import VenueUnavailable
from polymm_standin.server import run_exchange
from polymm_standin.server.faults import HttpErrorBurst
from polymm_standin.server.trading import TradingConfig
from polymm_standin.sim.matching import OrderType

pytestmark = pytest.mark.asyncio

ADDRESS = Account.from_key(DEMO_PRIVATE_KEY).address
FAST = {"reconcile_s": 0.4, "positions_s": 0.4, "recheck_s": 0.2, "balance_grace_s": 0.05}


def venue_position(ex, market) -> D:
    acc = ex.standin.accounts
    return acc.position(ADDRESS, market.yes_token) - acc.position(ADDRESS, market.no_token)


@contextlib.asynccontextmanager
async def engine_on(ex, markets, *, live: dict | None = None, start: bool = True, **overrides):
    """A demo engine (real orders) whose LiveExecution reconciles as ``live`` says (FAST by default)."""
    engine = Engine(demo_settings(ex, **overrides), markets, mode="DEMO")
    exe = engine.execution
    assert isinstance(exe, LiveExecution)
    exe.config = dataclasses.replace(exe.config, **{**FAST, **(live or {})})
    task = asyncio.create_task(engine.run()) if start else None
    try:
        yield engine
    finally:
        await engine.stop(cancel_orders=True)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def plain(ex, n: int) -> list:
    return [m for m in ex.markets if not m.neg_risk][:n]


async def test_a_market_added_while_running_has_its_fills_booked(wait_until) -> None:
    async with run_exchange(port=0, seed=101, flow=False) as ex:
        first, added = plain(ex, 2)
        async with engine_on(ex, [first]) as engine:
            await wait_until(lambda: engine.execution.ready()[0] and ours(ex, engine, first.condition_id))
            await engine.add_market(added)
            cid = added.condition_id
            await wait_until(lambda: yes_bids(ours(ex, engine, cid)))
            size = hit_our_bid(ex, engine, cid)
            await wait_until(lambda: engine.portfolio.position(cid).qty == venue_position(ex, added) == size)
            await wait_until(lambda: any(h.condition_id == cid and h.traded for h in engine.store.get("holdings", ())))


async def test_a_fill_in_a_market_we_do_not_trade_is_booked_and_counted(wait_until) -> None:
    """An order of ours (our API key) fills in a market this run does not trade — say the market was
    removed, or an earlier run quoted it: the fill is still ours. The market is looked up at the venue,
    the fill booked, and the position counted and shown (nothing is quoted meanwhile)."""
    async with run_exchange(port=0, seed=102, flow=False) as ex:
        traded, other = plain(ex, 2)
        async with engine_on(ex, [traded]) as engine:
            exe = engine.execution
            await wait_until(lambda: exe.ready()[0])
            from py_clob_client_v2.clob_types import OrderArgsV2, PartialCreateOrderOptions

            book = ex.matching.book(other.yes_token)
            bid = book.bids[-1][0] + other.tick.pips
            args = OrderArgsV2(token_id=other.yes_token, price=bid / 10_000, size=10.0, side="BUY")
            opts = PartialCreateOrderOptions(tick_size=other.tick.text, neg_risk=other.neg_risk)
            # behind the engine's back, as an earlier run of ours would have, then hit at once
            earlier = await demo_client(ex)  # the same wallet and API key
            await asyncio.to_thread(earlier.create_and_post_order, args, opts)
            ex.matching.place("test-taker", other.yes_token, Side.SELL, bid, D(10), order_type=OrderType.FAK)
            cid = other.condition_id
            await wait_until(lambda: engine.portfolio.position(cid).qty == venue_position(ex, other) == 10)
            assert cid not in engine.markets and engine._held[cid].yes_token == other.yes_token
            await wait_until(lambda: any(h.condition_id == cid and not h.traded and h.shares == 10
                                         for h in engine.store.get("holdings", ())))
            # it counts against the total: the total-position room of the traded market shrank by it
            assert engine._positions()[cid].qty == 10


async def test_a_trade_that_fails_while_we_are_down_reverses_the_journaled_fill_exactly_once(
        tmp_path: Path, wait_until) -> None:
    path = tmp_path / "j.sqlite"
    slow = TradingConfig(trade_step_s=3600.0)  # statuses move only when the test says so
    async with run_exchange(port=0, seed=103, flow=False, trading=slow) as ex:
        (m,) = plain(ex, 1)
        cid = m.condition_id
        async with engine_on(ex, [m], journal_path=str(path)) as engine:
            await wait_until(lambda: yes_bids(ours(ex, engine, cid)))
            ex.standin.faults.ghost_fills = 100  # whichever level of the sweep is ours
            size = hit_our_bid(ex, engine, cid)
            await wait_until(lambda: engine.portfolio.position(cid).qty == size)
            (trade_id,) = [t for t, _ in engine.portfolio._seen]
            engine.journal.flush()
        # down: the venue fails the trade (MATCHED → RETRYING → FAILED) and gives the shares back
        trading = ex.standin.trading
        assert trading.advance_trade(trade_id) == "RETRYING" and trading.advance_trade(trade_id) == "FAILED"
        assert venue_position(ex, m) == 0
        for _ in range(2):  # the first restart reverses it, the second finds nothing more to do
            async with engine_on(ex, [m], journal_path=str(path)) as again:
                await wait_until(lambda: again.execution.ready()[0])
                assert again.portfolio.position(cid).qty == 0 == venue_position(ex, m)
                again.journal.flush()
        with sqlite3.connect(path) as c:
            rows = c.execute("SELECT trade_id, status FROM fills ORDER BY rowid").fetchall()
        assert rows == [(trade_id, "FAILED"), (trade_id + ":failed", "REVERSAL")]


async def test_nothing_is_quoted_until_the_catch_up_with_the_venue_succeeds(wait_until) -> None:
    async with run_exchange(port=0, seed=104, flow=False) as ex:
        markets = plain(ex, 2)
        ex.standin.faults.http_errors.append(HttpErrorBurst(503, 6, 0.0, "/data/trades"))
        async with engine_on(ex, markets) as engine:
            # the state first says "connecting to the venue", then why the catch-up failed
            await wait_until(lambda: engine.store.get("execution") is not None
                             and not engine.store.get("execution").ready
                             and "connecting" not in engine.store.get("execution").reason,
                             why=lambda: engine.store.get("execution"))
            st = engine.store.get("execution")
            assert "trade" in st.reason, st.reason
            assert ours(ex, engine) == []  # fail closed: not one order while the venue's history is unknown
            assert all(engine.store.get(f"market/{m.condition_id}") is None
                       or engine.store.get(f"market/{m.condition_id}").status in ("reconciling", "untrusted")
                       for m in markets)
            await wait_until(lambda: engine.execution.ready()[0], timeout=20)  # the burst ran out
            await wait_until(lambda: len(ours(ex, engine)) >= 2)


async def test_a_position_the_venue_disagrees_with_is_taken_from_the_venue(tmp_path: Path, wait_until) -> None:
    path = tmp_path / "j.sqlite"
    async with run_exchange(port=0, seed=105, flow=False) as ex:
        a, b = plain(ex, 2)
        async with engine_on(ex, [a, b], journal_path=str(path)) as engine:
            exe = engine.execution
            await wait_until(lambda: exe.ready()[0] and ours(ex, engine, a.condition_id))
            ex.standin.accounts.set_shares(ADDRESS, a.yes_token, D("7.5"))  # the venue says otherwise
            await wait_until(lambda: exe.mismatches == 1)
            assert engine.portfolio.position(a.condition_id).qty == D("7.5") == exe.ledger.shares(a.yes_token)
            said = [e.text for e in engine.store.get("events", ())]
            assert any("YES ours 0.00, venue 7.50; taken from the venue, paused until a clean reconcile" in t
                       for t in said), said
            await wait_until(lambda: not exe.reconcile.paused and ours(ex, engine, a.condition_id), timeout=10)
            assert exe.mismatches == 1 and engine.portfolio.position(b.condition_id).qty == 0
            engine.journal.flush()
        with sqlite3.connect(path) as c:
            (n,) = c.execute("SELECT count(*) FROM fills WHERE trade_id LIKE 'reconcile:%'").fetchone()
        assert n == 1


async def test_the_start_takes_holdings_from_before_polymm_from_the_venue(wait_until) -> None:
    async with run_exchange(port=0, seed=106, flow=False) as ex:
        (m,) = plain(ex, 1)
        ex.standin.accounts.set_shares(ADDRESS, m.no_token, D(12))  # bought by hand, long ago
        async with engine_on(ex, [m]) as engine:
            await wait_until(lambda: engine.execution.ready()[0])
            assert engine.portfolio.position(m.condition_id).qty == -12
            assert engine.execution.ledger.shares(m.no_token) == 12


async def test_another_client_on_the_wallet_halts_instead_of_a_cancel_war(wait_until) -> None:
    async with run_exchange(port=0, seed=107, flow=False) as ex:
        (m,) = plain(ex, 1)
        async with engine_on(ex, [m]) as engine:
            exe = engine.execution
            await wait_until(lambda: exe.ready()[0] and ours(ex, engine))
            from py_clob_client_v2.clob_types import OrderArgsV2, PartialCreateOrderOptions

            price = ex.matching.book(m.yes_token).bids[-1][0] - 10 * m.tick.pips
            opts = PartialCreateOrderOptions(tick_size=m.tick.text, neg_risk=m.neg_risk)
            other_ids: list[str] = []
            other = await demo_client(ex)  # the same wallet and API key

            async def other_client() -> None:  # another program trading this wallet, placing again and again
                while True:
                    args = OrderArgsV2(token_id=m.yes_token, price=price / 10_000, size=5.0, side="BUY")
                    r = await asyncio.to_thread(other.create_and_post_order, args, opts)
                    other_ids.append(r["orderID"])
                    await asyncio.sleep(0.1)  # the other program's pace (the load), not a wait

            task = asyncio.create_task(other_client())
            try:
                await wait_until(lambda: engine.halted, timeout=15)
            finally:
                task.cancel()
            assert "another client" in engine.halt_reason
            placed_by_us = engine.execution._ours_set  # ours cancelled by the kill (it runs on after HALTED)
            await wait_until(lambda: not [o for o in ours(ex, engine) if o.id in placed_by_us])
            resting = {o.id for o in ex.matching.open_orders()}
            assert set(other_ids) & resting, "the other client's orders were cancelled wholesale"


async def test_an_unknown_collateral_balance_stops_quoting_until_it_is_known(wait_until) -> None:
    async with run_exchange(port=0, seed=108, flow=False) as ex:
        markets = plain(ex, 2)
        async with engine_on(ex, markets, balance_check_s=0.3) as engine:
            await wait_until(lambda: len(ours(ex, engine)) >= 2)
            ex.standin.faults.http_errors.append(HttpErrorBurst(503, 12, 0.0, "/balance-allowance"))
            await wait_until(lambda: engine.store.get("risk").balance is None and ours(ex, engine) == [], timeout=10)
            st = engine.store.get("execution")
            assert not st.ready and ("balance" in st.reason), st.reason
            await wait_until(lambda: engine.store.get("risk").balance is not None and len(ours(ex, engine)) >= 2,
                             timeout=20)


async def test_sign_in_rides_out_a_burst_of_busy_answers_and_gives_up_with_a_clear_error() -> None:
    async with run_exchange(port=0, seed=109, flow=False) as ex:
        ex.standin.faults.http_errors.append(HttpErrorBurst(429, 3, 0.05, "/auth"))
        said: list[str] = []
        exe = LiveExecution(LiveConfig(ex.clob_url, ex.ws_base, DEMO_PRIVATE_KEY, **FAST),
                            on_log=lambda text, level: said.append(text))
        await exe.start(ex.markets)
        try:
            assert exe.ready()[0] and sum("signing in" in s and "429" in s for s in said) == 3
        finally:
            await exe.close()
        ex.standin.faults.http_errors.append(HttpErrorBurst(503, 1000, 0.0, "/auth"))
        exe = LiveExecution(LiveConfig(ex.clob_url, ex.ws_base, DEMO_PRIVATE_KEY, start_budget_s=1.0))
        with pytest.raises(VenueUnavailable, match=r"signing in.*503"):
            await exe.start(ex.markets)
        await exe.close()


class Live(_Live):
    DEFAULTS = FAST  # reconcile fast


def venue_orders(ex, exe) -> list:
    return [o for o in ex.matching.open_orders() if o.owner == exe.api_key]


async def test_a_cancel_refused_for_an_unanswered_order_keeps_it_counted(wait_until) -> None:
    async with run_exchange(port=0, seed=110, flow=False) as ex, Live(ex, max_attempts=2, reconcile_s=60) as exe:
        m = ex.markets[0]
        bid = ex.matching.book(m.yes_token).bids[-1][0] - m.tick.pips
        ex.standin.faults.http_errors.append(HttpErrorBurst(503, 2, 0.0, "/orders"))
        assert await exe.place_many(m, None, [OrderRequest(Side.BUY, bid, D(10))]) == []  # outcome unknown
        assert await exe.cancel([o.order_id for o in exe.open_orders()]) == []  # the venue: not canceled
        assert [o.status for o in exe.open_orders()] == ["submitted"]  # it may still land: counted
        assert exe.reserved() == {m.condition_id: (D(10), D(0))}


async def test_a_cancel_refused_for_a_matched_order_is_a_fill_to_come(wait_until) -> None:
    async with run_exchange(port=0, seed=111, flow=False) as ex, Live(ex, reconcile_s=60) as exe:
        m = ex.markets[0]
        bid = ex.matching.book(m.yes_token).bids[-1][0] + m.tick.pips
        (oid,) = await exe.place_many(m, None, [OrderRequest(Side.BUY, bid, D(10))])
        await exe.user_channel.stop()  # we hear nothing of the fill as it happens
        ex.matching.place("test-taker", m.yes_token, Side.SELL, bid, D(10), order_type=OrderType.FAK)
        assert venue_orders(ex, exe) == []  # filled at the venue; we have not heard of it
        assert await exe.cancel([oid]) == []  # "already canceled or matched"
        assert exe.open_orders() == [] and exe.reserved() == {m.condition_id: (D(10), D(0))}
        exe._wake.set()  # the next reconciliation's trade replay books it
        await wait_until(lambda: exe.ledger.portfolio.position(m.condition_id).qty == 10, timeout=10)
        await wait_until(lambda: exe.reserved() == {})  # booked: nothing more can come


async def test_heartbeats_answered_without_an_id_keep_the_orders_alive(wait_until) -> None:
    cfg = TradingConfig(heartbeat_timeout_s=0.8)
    async with run_exchange(port=0, seed=112, flow=False, trading=cfg) as ex:
        ex.standin.faults.heartbeat_reply_without_id = True
        async with Live(ex, heartbeat_s=0.2) as exe:
            m = ex.markets[0]
            bid = ex.matching.book(m.yes_token).bids[-1][0] - m.tick.pips
            await exe.place_many(m, None, [OrderRequest(Side.BUY, bid, D(10))])
            await wait_until(lambda: exe.heartbeat_age is not None)
            last = exe.last_heartbeat
            await wait_until(lambda: exe.last_heartbeat > last + 1.0, timeout=5)  # > the venue's timeout
            assert len(venue_orders(ex, exe)) == 1 and exe.heartbeat_id == "" and exe.recent_errors() == 0


async def test_an_orders_size_is_what_was_signed() -> None:
    """The SDK rounds with floats: 1051.1 shares are signed as 1051.09. The order we count is the
    one the venue holds."""
    async with run_exchange(port=0, seed=113, flow=False) as ex, Live(ex) as exe:
        m = ex.markets[0]
        bid = ex.matching.book(m.yes_token).bids[-1][0] - 3 * m.tick.pips
        (oid,) = await exe.place_many(m, None, [OrderRequest(Side.BUY, bid, D("1051.1"))])
        (o,) = exe.open_orders()
        (v,) = venue_orders(ex, exe)
        assert o.order_id == oid == v.id
        assert o.size == D(v.original) / 1_000_000 == D("1051.09")


async def test_a_heartbeat_chain_the_venue_ended_is_started_again(wait_until) -> None:
    """A stall longer than the venue's heartbeat timeout ends our session: the venue then expects no
    id (``"heartbeat_id": ""``). We start a new chain at once, not fail every 5 s until the kill."""
    cfg = TradingConfig(heartbeat_timeout_s=0.8)
    async with run_exchange(port=0, seed=114, flow=False, trading=cfg) as ex, Live(ex, heartbeat_s=0.2) as exe:
        await wait_until(lambda: exe.heartbeat_id != "")
        exe.config = dataclasses.replace(exe.config, heartbeat_s=1.5)  # a stall past the venue's timeout
        first = exe.heartbeat_id
        await wait_until(lambda: ex.standin.trading.heartbeats.active(ADDRESS) is False, timeout=5)
        exe.config = dataclasses.replace(exe.config, heartbeat_s=0.2)
        await wait_until(lambda: exe.heartbeat_id not in ("", first) and ex.standin.trading.heartbeats.active(ADDRESS),
                         timeout=5)
        assert exe.recent_errors() == 0  # no "heartbeat failed" on the way


async def test_only_settled_shares_are_offered_for_sale(wait_until) -> None:
    """Shares of a trade the venue has not settled cannot be sold there (docs/protocol.md §10.5): an ask
    goes out as a NO bid until they are."""
    slow = TradingConfig(trade_step_s=3600.0)
    async with run_exchange(port=0, seed=115, flow=False, trading=slow) as ex, Live(ex, reconcile_s=60) as exe:
        m = ex.markets[0]
        bid = ex.matching.book(m.yes_token).bids[-1][0] + m.tick.pips
        await exe.place_many(m, None, [OrderRequest(Side.BUY, bid, D(10))])
        ex.matching.place("test-taker", m.yes_token, Side.SELL, bid, D(10), order_type=OrderType.FAK)
        await wait_until(lambda: exe.ledger.shares(m.yes_token) == 10)
        ask = ex.matching.book(m.yes_token).asks[-1][0] + m.tick.pips
        (first,) = await exe.place_many(m, None, [OrderRequest(Side.SELL, ask, D(5))])
        assert exe.orders.get(first).token_id == m.no_token  # not yet ours to sell: a NO bid
        ((trade_id, order_id),) = exe.ledger.portfolio._seen
        assert ex.standin.trading.advance_trade(trade_id) == "MINED"  # on chain now
        await wait_until(lambda: exe.ledger.status(trade_id, order_id) == "MINED")
        (second,) = await exe.place_many(m, None, [OrderRequest(Side.SELL, ask + m.tick.pips, D(5))])
        o = exe.orders.get(second)
        assert o.token_id == m.yes_token and o.venue_side == "SELL"
        # 5 of the 10 are offered now: 5 are left to sell, not 6 (the resting sell is counted)
        (third,) = await exe.place_many(m, None, [OrderRequest(Side.SELL, ask + 2 * m.tick.pips, D(6))])
        assert exe.orders.get(third).token_id == m.no_token
        (fourth,) = await exe.place_many(m, None, [OrderRequest(Side.SELL, ask + 2 * m.tick.pips, D(5))])
        assert exe.orders.get(fourth).token_id == m.yes_token


async def test_a_resolved_markets_payout_is_booked_at_one_and_is_no_mismatch(wait_until) -> None:
    # the stand-in redeems the holders at the resolution (auto_redeem: the real venue leaves it to them)
    async with run_exchange(port=0, seed=116, flow=False, trading=TradingConfig(auto_redeem=True)) as ex:
        (m,) = plain(ex, 1)
        cid = m.condition_id
        async with engine_on(ex, [m]) as engine:
            exe = engine.execution
            await wait_until(lambda: yes_bids(ours(ex, engine, cid)))
            size = hit_our_bid(ex, engine, cid)
            await wait_until(lambda: engine.portfolio.position(cid).qty == size)
            cost = engine.portfolio.position(cid).avg_price
            ex.standin.resolve_market(cid, "Yes")  # the venue redeems: 1 pUSD a YES share, the shares burnt
            await wait_until(lambda: engine.portfolio.position(cid).qty == 0 == venue_position(ex, m), timeout=10)
            assert engine.portfolio.position(cid).realized == (1 - cost) * size
            assert exe.redemptions == 1 and exe.mismatches == 0 and not exe.reconcile.paused


async def test_an_order_let_go_that_rests_after_all_is_counted_again_and_cancelled(wait_until) -> None:
    """A placement that lands late (its answer lost, the venue not listing it at first) can be let go;
    when the venue lists it after all, it counts again — never left resting uncounted."""
    async with run_exchange(port=0, seed=117, flow=False) as ex, Live(ex, reconcile_s=60) as exe:
        m = ex.markets[0]
        bid = ex.matching.book(m.yes_token).bids[-1][0] - 2 * m.tick.pips
        (oid,) = await exe.place_many(m, None, [OrderRequest(Side.BUY, bid, D(10))])
        o = exe.orders.get(oid)
        exe.orders.close(oid)  # as if the venue had not listed it for unanswered_s
        exe._retire([o])
        exe.orders.replay_done(exe.orders.replay_started())
        assert exe.reserved() == {} and len(venue_orders(ex, exe)) == 1
        exe._gate.clear()  # hold the cancel back (as during a kill) to see it counted meanwhile
        exe._wake.set()
        await wait_until(lambda: exe.reserved() == {m.condition_id: (D(10), D(0))})
        exe._gate.set()
        assert [o.order_id for o in exe.open_orders()] == [oid]  # an open order again: the engine's next step
        assert await exe.cancel([oid]) == [oid]                  # keeps or cancels it like any other
        await wait_until(lambda: venue_orders(ex, exe) == [] and exe.reserved() == {})


async def test_markets_placing_at_once_never_share_one_room_twice() -> None:
    """Two markets place at the same moment against a shared total cap that has room for one order:
    the second sees the first's placement on its way (registered in the same synchronous pass as its
    check) and gets only what is left — even where its own slice of the cap would allow more (b was
    paused while a placed with the whole cap as its slice; resumed, b's slice is half)."""
    from types import SimpleNamespace

    from polymm.config import load_settings
    from polymm.domain.market import Market
    from polymm.domain.prices import Tick
    from polymm.domain.quoting import Quote
    from polymm.venue.paper import PaperExecution

    class InFlight(PaperExecution):  # a placement that takes its time on the wire
        def __init__(self) -> None:
            super().__init__()
            self.entered, self.release = asyncio.Event(), asyncio.Event()

        async def place_many(self, market, book, reqs, origin_ns=0):
            self.entered.set()
            await self.release.wait()
            return await super().place_many(market, book, reqs)

    a, b = (Market("0x" + c * 64, f"{i}1", f"{i}2", f"market {c}", Tick.parse("0.01")) for i, c in enumerate("ab"))
    settings = load_settings(_env_file=None, mode="paper", max_total_position=D(15), journal_path="off")
    ex = InFlight()
    engine = Engine(settings, [a, b], mode="PAPER", execution=ex)
    engine._blocked_reason = lambda cid: None  # type: ignore[method-assign]  # no feed here: trusted
    events = SimpleNamespace(reduce_only=False, hours_to_end=None)
    await engine.pause(b.condition_id)
    assert engine._share(a.condition_id) == 1.0
    first = asyncio.create_task(engine._place(a, None, [Quote(Side.BUY, 4000, D(10))], engine.params[a.condition_id],
                                              events))
    await ex.entered.wait()  # a's order is on its way, not yet resting anywhere
    engine.resume(b.condition_id)
    assert engine._share(b.condition_id) == 0.5  # 7.5 of the 15: more than the 5 a's order leaves
    ex.release.set()
    await engine._place(b, None, [Quote(Side.BUY, 4000, D(10))], engine.params[b.condition_id], events)
    await first
    placed = {o.condition_id: o.size for o in ex.open_orders()}
    assert placed == {a.condition_id: D(10), b.condition_id: D(5)}, placed
    assert engine.placement_cuts == 1
    await engine.stop(cancel_orders=False)


async def test_a_user_channel_reconnect_compares_positions_at_once(wait_until) -> None:
    """While the user channel was away anything may have happened: its reconnect compares balances
    at once, not at the next periodic comparison."""
    async with run_exchange(port=0, seed=118, flow=False) as ex:
        (m,) = plain(ex, 1)
        async with engine_on(ex, [m], live={"positions_s": 3600.0, "reconcile_s": 3600.0}) as engine:
            exe = engine.execution
            await wait_until(lambda: exe.ready()[0] and exe.user_channel.connected)
            ex.standin.accounts.set_shares(ADDRESS, m.yes_token, D(4))
            await ex.standin.drop_all_websockets("user")
            await wait_until(lambda: engine.portfolio.position(m.condition_id).qty == 4, timeout=10)
            assert exe.user_channel.reconnects >= 1 and exe.mismatches == 1



async def test_a_failing_heartbeat_stops_quoting_until_the_venue_accepts_one_again(wait_until) -> None:
    """Not a latched kill: while the venue accepts no heartbeat it cancels our orders by itself, so
    quoting waits (and says why); once heartbeats are accepted again it resumes on its own."""
    async with run_exchange(port=0, seed=119, flow=False) as ex:
        markets = plain(ex, 2)
        async with engine_on(ex, markets, live={"heartbeat_s": 0.2}, heartbeat_timeout_s=1.0) as engine:
            await wait_until(lambda: len(ours(ex, engine)) >= 2)
            ex.standin.faults.add_http_errors(500, 20, 0.0, "/v1/heartbeats")  # ~4 s of refused heartbeats
            await wait_until(lambda: not engine.store.get("execution").ready and ours(ex, engine) == [], timeout=10)
            assert "heartbeat failing" in engine.store.get("execution").reason and not engine.halted
            await wait_until(lambda: engine.store.get("execution").ready and len(ours(ex, engine)) >= 2, timeout=20,
                             why=lambda: (engine.halted, engine.halt_reason, engine.store.get("execution"),
                                          engine.store.get("risk")))
            assert not engine.halted
