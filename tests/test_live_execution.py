"""LiveExecution over the real py-clob-client-v2 against the stand-in, over real sockets:
batching, ids, backoff without duplicates, ghost fills, heartbeat, orphans, reconciliation."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from engines import Live, demo_client

from polymm.domain.market import Market, Side
from polymm.domain.portfolio import Portfolio
from polymm.venue.execution import OrderRequest
from polymm.venue.live import LiveExecution
from polymm_standin.server import run_exchange
from polymm_standin.server.faults import HttpErrorBurst
from polymm_standin.server.trading import TradingConfig

pytestmark = pytest.mark.asyncio


def ours(ex, exe: LiveExecution) -> list:
    return [o for o in ex.matching.open_orders() if o.owner == exe.api_key]


def quotes(ex, m: Market, n: int, size: str = "10") -> list[OrderRequest]:
    """``n`` bids and ``n`` asks just outside the market's current best prices (never crossing)."""
    book = ex.matching.book(m.yes_token)
    bid, ask, t = book.bids[-1][0], book.asks[-1][0], m.tick.pips
    return [OrderRequest(Side.BUY, bid - k * t, Decimal(size)) for k in range(1, n + 1)] + [
        OrderRequest(Side.SELL, ask + k * t, Decimal(size)) for k in range(1, n + 1)
    ]


async def test_batches_land_with_locally_computed_ids_and_cancel_all_leaves_nothing() -> None:
    async with run_exchange(port=0, seed=21, flow=False) as ex, Live(ex) as exe:
        a, b = ex.markets[0], ex.markets[1]
        ids = await exe.place_many(a, None, quotes(ex, a, 5)) + await exe.place_many(b, None, quotes(ex, b, 5))
        assert len(ids) == 20  # two markets, two POST /orders each (15 + 5 and 10)
        assert {o.id for o in ours(ex, exe)} == set(ids) == {o.order_id for o in exe.open_orders()}
        # YES asks went out as NO bids (we hold no YES): same exposure, the mirrored price
        no_orders = [o for o in ours(ex, exe) if o.token_id == a.no_token]
        assert no_orders and all(str(o.side.value) == "BUY" for o in no_orders)
        assert await exe.cancel(ids[:3]) == ids[:3]
        assert len(ours(ex, exe)) == 17
        await exe.cancel_all()
        assert ours(ex, exe) == [] and exe.open_orders() == []


async def test_the_order_paths_threads_hand_back_the_gil_quickly_while_it_runs() -> None:
    """The switch interval is ``switch_interval_s`` while the execution runs (a post handed to a worker
    thread, and the event loop after a socket read, wait at most that for the GIL) and Python's own
    again once it is closed."""
    import sys

    before = sys.getswitchinterval()
    async with run_exchange(port=0, seed=23, flow=False) as ex:
        async with Live(ex, switch_interval_s=0.0007):
            assert sys.getswitchinterval() == pytest.approx(0.0007)
        assert sys.getswitchinterval() == pytest.approx(before)
        async with Live(ex, switch_interval_s=0):
            assert sys.getswitchinterval() == pytest.approx(before)  # 0: left alone


@pytest.mark.parametrize("status", [425, 429, 503])
async def test_a_burst_of_busy_answers_is_retried_with_the_same_orders_and_never_duplicates(status: int) -> None:
    async with run_exchange(port=0, seed=22, flow=False) as ex, Live(ex) as exe:
        m = ex.markets[0]
        ex.standin.faults.http_errors.append(HttpErrorBurst(status, 3, 0.05, "/orders"))
        ids = await exe.place_many(m, None, quotes(ex, m, 2))
        assert len(ids) == 4 and exe.retries >= 3
        assert sorted(o.id for o in ours(ex, exe)) == sorted(ids)  # exactly four, no duplicates



async def test_a_reply_that_cannot_be_read_fails_its_placement_and_never_leaves_it_waiting(monkeypatch) -> None:
    """A post's reply is booked in a callback of the loop (``_post_answered``): should booking it fail,
    the step hears the failure (a crash, the kill switch) — it must not wait for an answer forever."""
    async with run_exchange(port=0, seed=22, flow=False) as ex, Live(ex) as exe:
        m = ex.markets[0]

        def unreadable(*a, **k):
            raise RuntimeError("unreadable reply")

        monkeypatch.setattr(exe, "_accepted", unreadable)
        with pytest.raises(RuntimeError, match="unreadable reply"):
            async with asyncio.timeout(10):
                await exe.place_many(m, None, quotes(ex, m, 1))
        assert not exe._inflight  # nothing left for a kill to wait on

async def test_resending_a_batch_that_already_landed_creates_no_second_order(wait_until) -> None:
    """What a retry after a lost answer does: the same signed orders again. The venue says
    Duplicated, which counts as success; it still holds exactly one of each."""
    async with run_exchange(port=0, seed=23, flow=False) as ex, Live(ex, reconcile_s=60) as exe:
        # these orders bypass the session's own book, so let the reconcile that follows the user
        # channel's connection run first (it would rightly cancel them as unknown): the catch-up that
        # ``start`` runs once the channel is subscribed; ``ready`` says it has succeeded
        await wait_until(lambda: exe.user_channel is not None and exe.user_channel.connected and exe.ready()[0])
        m = ex.markets[0]
        signed = await exe.sign_orders(m, quotes(ex, m, 1))
        first = await exe.post_signed(m, signed)
        second = await exe.post_signed(m, signed)
        assert first == second == [oid for _, oid in signed]
        assert sorted(o.id for o in ours(ex, exe)) == sorted(first)


async def test_unknown_outcome_stays_submitted_then_reconciliation_drops_it(wait_until) -> None:
    # unanswered_s: how long an unanswered placement may still land (30 s by default)
    async with run_exchange(port=0, seed=24, flow=False) as ex, Live(ex, max_attempts=2, unanswered_s=1.0) as exe:
        m = ex.markets[0]
        ex.standin.faults.http_errors.append(HttpErrorBurst(503, 2, 0.0, "/orders"))
        ids = await exe.place_many(m, None, quotes(ex, m, 1))
        assert ids == []
        assert [o.status for o in exe.open_orders()] == ["submitted", "submitted"]  # counted as resting
        await wait_until(lambda: exe.open_orders() == [], timeout=5)  # the venue never had them
        assert ours(ex, exe) == []


async def test_a_ghost_fill_is_booked_then_reversed(wait_until) -> None:
    cfg = TradingConfig(trade_step_s=0.05)
    async with run_exchange(port=0, seed=25, flow=False, trading=cfg) as ex:
        live = Live(ex)
        exe = await live.__aenter__()
        fills = live.fills
        try:

            m = ex.markets[0]
            book = ex.matching.book(m.yes_token)
            ask = book.asks[-1][0] - m.tick.pips  # inside the spread: ours is the only order at the best ask
            assert ask > book.bids[-1][0]
            (oid,) = await exe.place_many(m, None, [OrderRequest(Side.SELL, ask, Decimal(10))])
            ex.standin.faults.ghost_fills = 1
            ex.matching.place("synthetic-lifter", m.yes_token, Side.BUY, ask, "10", order_type="FAK")  # takes just ours
            portfolio = Portfolio()
            await wait_until(lambda: len(fills) >= 2, timeout=5)
            for f in fills:
                portfolio.apply(f)
            first, reversal = fills[:2]
            assert first.order_id == oid and first.side is Side.SELL and first.price == ask
            assert reversal.side is Side.BUY and reversal.size == first.size and reversal.trade_id.endswith(":failed")
            assert portfolio.position(m.condition_id).qty == 0
            assert exe.failed_fills == 1 and exe.pending_fills == 0
        finally:
            await live.__aexit__()


async def test_a_normal_fill_settles_at_confirmed(wait_until) -> None:
    cfg = TradingConfig(trade_step_s=0.05)
    async with run_exchange(port=0, seed=26, flow=False, trading=cfg) as ex:
        live = Live(ex)
        exe = await live.__aenter__()
        fills = live.fills
        try:
            m = ex.markets[0]
            bid = ex.matching.book(m.yes_token).bids[-1][0] + m.tick.pips
            await exe.place_many(m, None, [OrderRequest(Side.BUY, bid, Decimal(10))])
            ex.matching.place("synthetic-hitter", m.yes_token, Side.SELL, bid, "10", order_type="FAK")
            await wait_until(lambda: exe.settled_fills == 1, timeout=5)
            assert [(f.side, f.price, f.size) for f in fills] == [(Side.BUY, bid, Decimal(10))]
            assert exe.pending_fills == 0
            await wait_until(lambda: exe.open_orders() == [], timeout=2)  # the filled order left the book
        finally:
            await live.__aexit__()


async def test_heartbeats_keep_orders_alive_and_silence_cancels_them(wait_until) -> None:
    cfg = TradingConfig(heartbeat_timeout_s=0.8)
    async with run_exchange(port=0, seed=27, flow=False, trading=cfg) as ex:
        live = Live(ex, heartbeat_s=0.2)
        async with live as exe:
            m = ex.markets[0]
            await exe.place_many(m, None, quotes(ex, m, 2))
            # time is what is tested: well past the venue's 0.8 s heartbeat timeout, the heartbeat kept them
            await asyncio.sleep(1.5)
            assert len(ours(ex, exe)) == 4 and exe.heartbeat_age is not None and exe.heartbeat_age < 0.8
            # the process "dies": the loops stop without cancelling anything
            live.task.cancel()
            for t in exe._tasks:
                t.cancel()
            exe._hb_stop.set()  # the heartbeat's own thread dies with the process too
            await wait_until(lambda: ours(ex, exe) == [], timeout=3)


async def test_heartbeats_keep_their_schedule_while_the_event_loop_is_held() -> None:
    """With hundreds of markets the event loop saturates; heartbeats run on a thread of their own, so a
    held loop never lets the venue's heartbeat timeout cancel our orders. The stand-in runs on its own
    thread here (its loop is not the one held)."""
    import time
    from types import SimpleNamespace

    from polymm_standin.server import EmbeddedExchange

    with EmbeddedExchange(seed=29, flow=False, trading=TradingConfig(heartbeat_timeout_s=0.8)) as ex:
        venue = SimpleNamespace(clob_url=ex.urls.clob_url, ws_base=ex.urls.ws_base, markets=ex.markets)
        async with Live(venue, heartbeat_s=0.2) as exe:
            m = ex.markets[0]
            await exe.place_many(m, None, ex.call(quotes, ex, m, 2))

            def resting() -> int:
                return len([o for o in ex.call(ex.matching.open_orders) if o.owner == exe.api_key])

            assert resting() == 4
            time.sleep(2.0)  # the loop held for 2.5× the venue's timeout (load, not a wait for a condition)
            assert resting() == 4 and exe.heartbeat_age is not None and exe.heartbeat_age < 0.8


async def test_start_up_cancels_orders_left_by_an_earlier_session() -> None:
    async with run_exchange(port=0, seed=28, flow=False) as ex:
        first = Live(ex)
        exe = await first.__aenter__()
        m = ex.markets[0]
        await exe.place_many(m, None, quotes(ex, m, 2))
        key = exe.api_key
        first.task.cancel()
        for t in exe._tasks:
            t.cancel()
        exe._hb_stop.set()  # the heartbeat's own thread dies with the process too
        exe._pool.shutdown(wait=False)  # crashed: nothing cancelled
        assert len([o for o in ex.matching.open_orders() if o.owner == key]) == 4
        async with Live(ex) as again:
            assert again.api_key == key  # the same credentials, derived again
            assert ours(ex, again) == []


async def test_reconciliation_cancels_venue_orders_this_session_does_not_know(wait_until) -> None:
    async with run_exchange(port=0, seed=29, flow=False) as ex, Live(ex) as exe:
        from py_clob_client_v2.clob_types import OrderArgsV2, PartialCreateOrderOptions

        m = ex.markets[0]
        price = ex.matching.book(m.yes_token).bids[-1][0] - 5 * m.tick.pips
        args = OrderArgsV2(token_id=m.yes_token, price=price / 10_000, size=10.0, side="BUY")
        opts = PartialCreateOrderOptions(tick_size=m.tick.text, neg_risk=m.neg_risk)
        other = await demo_client(ex)  # the same wallet and API key, another program
        await asyncio.to_thread(other.create_and_post_order, args, opts)  # placed behind our back
        assert len(ours(ex, exe)) == 1
        await wait_until(lambda: ours(ex, exe) == [], timeout=5)


async def test_a_list_of_open_orders_older_than_a_confirmed_cancel_is_no_reason_to_cancel_again(wait_until) -> None:
    """The venue's list of our open orders is read (page by page, at 300 markets for seconds) while a
    cancel is answered: the list still shows the cancelled order. It was neither unknown to this
    session nor closed by mistake — nothing is cancelled again, nothing reopened."""
    import threading

    async with run_exchange(port=0, seed=32, flow=False) as ex, Live(ex, reconcile_s=600) as exe:
        await wait_until(lambda: exe.ready()[0])
        m = ex.markets[0]
        ids = await exe.place_many(m, None, quotes(ex, m, 1))
        assert len(ids) == 2
        logs: list[str] = []
        exe.on_log = lambda msg, level="info": logs.append(msg)
        listed, answer = threading.Event(), threading.Event()
        real = exe._client.get_open_orders

        def list_then_wait(*a, **kw):  # the real venue's list, answered after the cancel below
            orders = real(*a, **kw)
            listed.set()
            answer.wait(10)
            return orders

        exe._client.get_open_orders = list_then_wait
        reconcile = asyncio.create_task(exe._reconcile_orders())
        assert await asyncio.to_thread(listed.wait, 10)
        assert await exe.cancel(ids[:1]) == ids[:1]
        answer.set()
        await reconcile
        assert [o.id for o in ours(ex, exe)] == ids[1:] and [o.order_id for o in exe.open_orders()] == ids[1:]
        assert not [msg for msg in logs if "reconcile" in msg], logs


async def test_orders_on_a_resolved_market_are_refused_and_nothing_rests() -> None:
    async with run_exchange(port=0, seed=30, flow=False) as ex, Live(ex) as exe:
        m = ex.markets[0]
        reqs = quotes(ex, m, 1)
        ex.standin.resolve_market(m.condition_id, "Yes")
        assert await exe.place_many(m, None, reqs) == []
        assert exe.rejects == 2 and exe.open_orders() == [] and ours(ex, exe) == []
        assert exe.recent_errors(10.0) == 2 and exe.post_only_crosses == 0


async def test_a_post_only_quote_that_would_cross_is_refused_but_is_not_a_venue_error() -> None:
    """The book moving under a maker quote is routine: it must not feed the error cooldown or the
    error-burst kill. A genuine refusal (resolved market) above still counts as an error."""
    async with run_exchange(port=0, seed=31, flow=False) as ex, Live(ex) as exe:
        m = ex.markets[0]
        ask = ex.matching.book(m.yes_token).asks[-1][0]
        assert await exe.place_many(m, None, [OrderRequest(Side.BUY, ask, Decimal(10))]) == []
        assert exe.rejects == 1 and exe.post_only_crosses == 1
        assert exe.recent_errors(10.0) == 0
        assert exe.open_orders() == [] and ours(ex, exe) == []


async def test_posts_never_wait_behind_reads_and_balance_reads_are_paced() -> None:
    """At 300 markets a position check reads 600 token balances at once; in the order path's thread pool
    they held posts back for up to 0.9 s (tick-to-trade p99 ~1 s). Reads have their own lane: with
    every thread of both lanes' worth of reads stuck, an order still goes out. And each balance read
    waits for Cloudflare's balance bucket (200 per 10 s) at the reads' priority."""
    import threading

    from polymm.venue.ratelimit import Priority

    async with run_exchange(port=0, seed=31, flow=False) as ex, Live(ex) as exe:
        stuck = threading.Event()
        blocked = [asyncio.ensure_future(exe._read(stuck.wait, 30)) for _ in
                   range(exe.config.workers + exe.config.read_workers)]
        try:
            m = ex.markets[0]
            price = ex.matching.book(m.yes_token).bids[-1][0] - 5 * m.tick.pips
            ids = await asyncio.wait_for(exe.place_many(m, None, [OrderRequest(Side.BUY, price, Decimal(10))]), 10)
            assert len(ids) == 1 and not any(b.done() for b in blocked)
        finally:
            stuck.set()
            await asyncio.gather(*blocked)
        reads = exe.limiter.granted[Priority.READ]
        tokens = [m.yes_token, m.no_token, ex.markets[1].yes_token]
        assert len(await exe._read_balances(tokens)) == 3
        assert exe.limiter.granted[Priority.READ] == reads + 3


async def test_a_sell_the_venue_refuses_for_balance_is_not_sent_again() -> None:
    """We count 10 YES shares the venue does not hold for us (here: moved into the ledger by hand; at 300
    markets, an order the venue still had while we took it as closed). The YES ask goes as a SELL of YES
    and the venue refuses it for balance. The next ask goes as a BUY of NO (pUSD) instead of the same
    refused sell — sent again at every step it started the error cooldown and every market's quotes
    went for 30 s — and the reconciliation runs at once."""
    async with run_exchange(port=0, seed=47, flow=False) as ex, Live(ex) as exe:
        m = ex.markets[0]
        exe.ledger.move(m.yes_token, m.condition_id, False, Decimal(10))
        ask = ex.matching.book(m.yes_token).asks[-1][0] + 3 * m.tick.pips
        assert await exe.place_many(m, None, [OrderRequest(Side.SELL, ask, Decimal(10))]) == []
        assert exe.rejects == 1 and exe._wake.is_set()
        ids = await exe.place_many(m, None, [OrderRequest(Side.SELL, ask, Decimal(10))])
        assert len(ids) == 1 and exe.rejects == 1
        (resting,) = ex.matching.open_orders(exe.api_key)
        assert resting.id == ids[0] and resting.token_id == m.no_token and resting.side.name == "BUY"


async def test_once_closed_a_placement_or_take_is_dropped_and_nothing_reaches_the_venue() -> None:
    """``close`` shuts the worker pools down: a step still running then (a stop racing a pass) gets its
    placements dropped — not written to the venue with nobody left to read the answer, nor an error
    from a pool that takes no more work."""
    async with run_exchange(port=0, seed=48, flow=False) as ex:
        m = ex.markets[0]
        async with Live(ex) as exe:
            assert len(await exe.place_many(m, None, quotes(ex, m, 1))) == 2  # open: the same call lands
            await exe.cancel_all()
        assert await exe.place_many(m, None, quotes(ex, m, 1)) == []
        ask = ex.matching.book(m.yes_token).asks[-1][0]
        assert await exe.take(m, None, OrderRequest(Side.BUY, ask, Decimal(5))) == (Decimal(0),
                                                                                  "the venue client is closed")
        assert ours(ex, exe) == [] and exe.open_orders() == []  # nothing rests, nothing tracked as sent


async def test_closing_names_a_task_that_does_not_end_on_its_cancel_and_does_not_wait_for_it_forever(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """``close`` cancels the client's tasks and waits ``CLOSE_WAIT_S`` for them: one stuck in its cancel (a
    suite once sat five minutes in a close) is named in the log, and the close goes on."""
    import polymm.venue.live as live

    monkeypatch.setattr(live, "CLOSE_WAIT_S", 0.2)
    release = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await release.wait()  # what a task blocked in its clean-up does

    async with run_exchange(port=0, seed=121, flow=False) as ex:
        exe = Live(ex).exe
        await exe.start(ex.markets)
        stuck = asyncio.create_task(stubborn(), name="stubborn")
        exe._tasks.append(stuck)
        await asyncio.sleep(0)  # it is running: the cancel lands in its sleep
        await asyncio.wait_for(exe.close(), timeout=30)
        assert not stuck.done()
        assert any("task stubborn did not end" in r.getMessage() for r in caplog.records)
        release.set()
        await stuck
