"""Market data you can trust: the feed against the stand-in's fault controls, over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

import pytest

from polymm.domain.market import Side
from polymm.domain.prices import price_to_pips
from polymm.engine.feed import FeedConfig, MarketFeed
from polymm.venue.rest import PublicClient
from polymm_standin.server import run_exchange
from polymm_standin.sim.units import now_ms

pytestmark = pytest.mark.asyncio

FAST = FeedConfig(check_interval_s=0.1, freeze_after_s=0.8, hash_check_s=0.5, rest_poll_s=0.3, error_after_s=60,
                 snapshot_wait_s=0.5)


@contextlib.asynccontextmanager
async def feed_on(ex, config: FeedConfig = FAST, markets=None, url: str | None = None):
    rest = PublicClient(ex.clob_url, ex.gamma_url)
    log: list[tuple[str, str]] = []
    feed = MarketFeed(url or ex.ws_url, markets or ex.markets, lambda c: None,
                      on_log=lambda text, level: log.append((level, text)), rest=rest, config=config)
    feed.log = log  # type: ignore[attr-defined]
    task = asyncio.create_task(feed.run())
    try:
        yield feed
    finally:
        feed.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await rest.aclose()


async def books_equal_venue(ex, feed: MarketFeed) -> int:
    """Assert every local book equals the stand-in's /book for both tokens; returns levels compared."""
    rest = PublicClient(ex.clob_url, ex.gamma_url)
    n = 0
    try:
        for cid in feed.books.books:
            book = feed.books.get(cid)
            for token in (book.yes_token, book.no_token):
                venue = await rest.get_book(token)
                bids, asks = book.levels_for(token)
                assert [(lv.price, lv.size) for lv in bids] == [(price_to_pips(v.price), v.size) for v in venue.bids]
                assert [(lv.price, lv.size) for lv in asks] == [(price_to_pips(v.price), v.size) for v in venue.asks]
                n += len(bids) + len(asks)
    finally:
        await rest.aclose()
    return n


async def converges(ex, feed: MarketFeed, wait_until, timeout: float = 15.0) -> int:
    """The feed heals itself (quiet-book checks resync from REST): wait until every book equals the
    venue's, failing with the last difference if it takes longer than ``timeout``."""
    return await wait_until(lambda: books_equal_venue(ex, feed), timeout=timeout, step=0.2)


async def quiesce(ex, feed: MarketFeed, wait_until) -> None:
    """Every frame the venue sent so far has landed (call it with the flow paused). Proved, not
    waited out: a marker order is placed deep in the book of one market per shard, and a shard is one
    ordered socket, so once the marker's frame has landed (its book's timestamp is newer than any frame
    sent before) so has everything before it. The marker stays: it is part of the venue's book now."""
    t0 = now_ms()
    await wait_until(lambda: now_ms() > t0)  # every frame from here on carries a later timestamp
    by_cid = {m.condition_id: m for m in ex.markets}
    marked = []
    for shard in feed.shards:
        m = by_cid[shard.markets[0]]
        ex.matching.place("test-marker", m.yes_token, Side.BUY, m.tick.pips, m.min_order_size)
        marked.append(feed.books.get(m.condition_id))
    await wait_until(lambda: all(book.timestamp > t0 for book in marked), timeout=15)


async def test_a_dropped_socket_reconnects_and_the_books_match_again(wait_until) -> None:
    async with run_exchange(port=0, seed=51, flow_rate=100) as ex, feed_on(ex) as feed:
        await wait_until(lambda: len(feed.snapshotted) == len(ex.markets))
        for s in feed.shards:
            s.socket.max_backoff = 0.3
        assert await ex.standin.drop_all_websockets("market") >= 1
        await wait_until(lambda: feed.state().reconnects >= 1)
        await wait_until(lambda: feed.status == "RUNNING" and len(feed.snapshotted) == len(ex.markets))
        ex.pause_flow()
        await quiesce(ex, feed, wait_until)
        assert await books_equal_venue(ex, feed) > 50


async def test_a_frozen_socket_is_detected_in_time_and_resynced_from_rest(wait_until) -> None:
    async with run_exchange(port=0, seed=52, flow_rate=100) as ex, feed_on(ex) as feed:
        await wait_until(lambda: feed.status == "RUNNING" and len(feed.snapshotted) == len(ex.markets))
        ex.standin.controls.freeze_market_ws(True)  # socket open, PONG answered, no data; books move
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await wait_until(lambda: feed.freezes >= 1, timeout=5)
        detected = loop.time() - t0
        assert detected < FAST.freeze_after_s + 2.0  # the configured time, plus a check, a probe and CI load
        ex.standin.controls.freeze_market_ws(False)
        ex.pause_flow()
        await wait_until(lambda: feed.status == "RUNNING" and len(feed.snapshotted) == len(ex.markets))
        await quiesce(ex, feed, wait_until)
        assert feed.resyncs > len(ex.markets)  # start-up snapshot plus the freeze resync
        # deltas sent while frozen are lost for good; the quiet-book check resyncs what they left wrong
        await converges(ex, feed, wait_until)


async def test_a_socket_that_reconnects_without_its_snapshot_is_snapshotted_over_rest(wait_until) -> None:
    """Found in CI: a frozen socket is dropped and reconnects while still frozen, so the initial dump
    never comes. Unless a trade's ``book`` message or a hash mismatch happened to follow, the markets
    stayed 'waiting for book snapshot' for good. A RUNNING shard with unsnapshotted markets now takes
    REST snapshots after ``snapshot_wait_s``."""
    async with run_exchange(port=0, seed=57, flow_rate=100) as ex, feed_on(ex) as feed:
        await wait_until(lambda: feed.status == "RUNNING" and len(feed.snapshotted) == len(ex.markets))
        ex.standin.controls.freeze_market_ws(True)
        reconnects = feed.state().reconnects
        await wait_until(lambda: feed.freezes >= 1, timeout=5)
        ex.pause_flow()  # from the freeze resync on, the books equal the venue's: no hash mismatch
        await wait_until(lambda: feed.state().reconnects > reconnects and feed.status == "RUNNING", timeout=5)
        ex.standin.controls.freeze_market_ws(False)  # connected, but no dump was sent
        # the socket sent no dump: only REST can snapshot them now — the missing-snapshot check ("no
        # snapshot" in the log), or, on a busy machine, the poll made while the socket was down answering
        # after it reconnected (found in a full run: the log then has no "no snapshot")
        await wait_until(lambda: len(feed.snapshotted) == len(ex.markets), timeout=5)
        assert all(feed.trusted(cid) == (True, "") for cid in feed.books.books)


async def test_a_quiet_market_raises_no_false_freeze(wait_until) -> None:
    async with run_exchange(port=0, seed=53, flow=False) as ex, feed_on(ex) as feed:
        await wait_until(lambda: feed.status == "RUNNING" and len(feed.snapshotted) == len(ex.markets))
        # several freeze windows without any data: the frozen-socket probe has run three times on the
        # silent shard (each time a shard silent for a whole window), and none found a difference
        probes: set[float] = set()

        def silent_probes() -> int:
            for s in feed.shards:
                if s.last_probe - max(s.last_data, s.since) >= FAST.freeze_after_s:
                    probes.add(s.last_probe)
            return len(probes)

        await wait_until(lambda: silent_probes() >= 3, timeout=20)
        assert feed.freezes == 0 and feed.state().reconnects == 0 and feed.hash_mismatches == 0
        assert all(feed.trusted(cid)[0] for cid in feed.books.books)


async def test_a_book_that_disagrees_with_the_venue_is_caught_and_resynced(wait_until) -> None:
    """A lost update leaves our levels wrong while later deltas bring our stored hash back in line
    with the venue's, so the check compares content. Simulated exactly: one level altered. (The
    freeze window is long here: a silent shard whose books differ is the frozen-socket case.)"""
    async with run_exchange(port=0, seed=54, flow_rate=100) as ex, \
            feed_on(ex, dataclasses.replace(FAST, freeze_after_s=60)) as feed:
        await wait_until(lambda: len(feed.snapshotted) == len(ex.markets))
        ex.pause_flow()
        await quiesce(ex, feed, wait_until)
        book = feed.books.get(ex.markets[0].condition_id)
        p = book.best_bid
        book._set(True, p, book.bids[p] + 1.0)  # the update we "lost"
        await wait_until(lambda: feed.hash_mismatches >= 1, timeout=5)
        await books_equal_venue(ex, feed)
        assert any("mismatch" in text for _, text in feed.log)


async def test_a_hash_that_differs_while_the_levels_agree_is_no_proof_and_no_resync(wait_until) -> None:
    """docs/protocol.md §12: the docs call ``price_change.hash`` the hash of the order, not of the book, so a
    hash unlike REST ``/book``'s proves nothing on its own: neither a lost update (resync) nor, on a
    silent shard, a frozen socket (resync and reconnect). The levels decide; when they differ, the
    book is still resynced."""
    async with run_exchange(port=0, seed=59, flow=False) as ex, feed_on(ex) as feed:
        await wait_until(lambda: feed.status == "RUNNING" and len(feed.snapshotted) == len(ex.markets))
        await books_equal_venue(ex, feed)
        book = feed.books.get(ex.markets[0].condition_id)
        fake = "0" * 40
        for token in list(book.hashes):
            book.hashes[token] = fake  # as if the last price_change carried an order's hash
        resyncs, reconnects = feed.resyncs, feed.state().reconnects
        # several checks, quiet-book and frozen-socket probes both (the shard is silent: no flow)
        await wait_until(lambda: feed.hash_only_differences >= 3, timeout=5)
        assert (feed.resyncs, feed.hash_mismatches, feed.freezes) == (resyncs, 0, 0)
        assert feed.state().reconnects == reconnects
        assert book.hashes[book.yes_token] == fake  # no REST snapshot replaced it
        assert all(feed.trusted(cid) == (True, "") for cid in feed.books.books)

        p = book.best_bid
        book._set(True, p, book.bids[p] + 1.0)  # now the levels differ too
        await wait_until(lambda: feed.resyncs > resyncs, timeout=5)
        await wait_until(lambda: feed.status == "RUNNING")
        await converges(ex, feed, wait_until)


async def test_a_tick_change_starts_a_new_epoch_on_the_new_grid(wait_until) -> None:
    async with run_exchange(port=0, seed=55, flow=False) as ex, feed_on(ex) as feed:
        await wait_until(lambda: len(feed.snapshotted) == len(ex.markets))
        m = next(m for m in ex.markets if m.tick.text == "0.01")
        book = feed.books.get(m.condition_id)
        epoch = book.epoch
        ex.standin.change_tick_size(m.condition_id, "0.001")
        await wait_until(lambda: book.epoch == epoch + 1 and book.tick.text == "0.001")
        await wait_until(lambda: feed.trusted(m.condition_id)[0])  # a fresh snapshot landed
        assert any("tick size" in text for _, text in feed.log)


async def test_twenty_markets_over_two_shards(wait_until) -> None:
    async with run_exchange(port=0, seed=56, market_count=20, flow_rate=20) as ex:
        markets = [m for m in ex.markets][:20]
        async with feed_on(ex, FeedConfig(max_assets_per_connection=20), markets) as feed:
            assert len(feed.shards) == 2 and [len(s.markets) for s in feed.shards] == [10, 10]
            await wait_until(lambda: feed.status == "RUNNING" and len(feed.snapshotted) == 20)
            await wait_until(lambda: all(s.frames > 1 for s in feed.shards))  # deltas after each initial dump
            ex.pause_flow()
            await quiesce(ex, feed, wait_until)
            assert await books_equal_venue(ex, feed) > 100
            st = feed.state()
            assert len(st.shards) == 2 and st.applied_p99_ms is not None


async def test_books_are_polled_over_rest_while_the_socket_is_down(wait_until) -> None:
    async with run_exchange(port=0, seed=57, flow_rate=50) as ex:
        bad = "ws://127.0.0.1:9/ws/market"  # nothing listens there: the socket never comes up
        async with feed_on(ex, url=bad) as feed:
            await wait_until(lambda: feed.resyncs >= 3 * len(ex.markets), timeout=5)
            cid = ex.markets[0].condition_id
            ok, why = feed.trusted(cid)
            assert not ok and "REST polling" in why  # books current on screen, quotes still pulled
            ex.pause_flow()
            polled = feed.resyncs
            # two more polls: the second was asked after the first came back, so after the pause
            await wait_until(lambda: feed.resyncs >= polled + 2 * len(ex.markets))
            await books_equal_venue(ex, feed)


async def test_a_resolved_market_is_never_quoted_again(wait_until) -> None:
    async with run_exchange(port=0, seed=58, flow=False) as ex, feed_on(ex) as feed:
        await wait_until(lambda: len(feed.snapshotted) == len(ex.markets))
        m = ex.markets[1]
        ex.standin.resolve_market(m.condition_id, "Yes")
        await wait_until(lambda: feed.trusted(m.condition_id) == (False, "market resolved"))
        assert feed.trusted(ex.markets[0].condition_id)[0]


async def test_the_blast_control_streams_parseable_frames_and_rejects_bad_input(wait_until) -> None:
    import httpx

    async with run_exchange(port=0, seed=59, flow=False) as ex, feed_on(ex) as feed:
        await wait_until(lambda: len(feed.snapshotted) == len(ex.markets))
        before = feed.frames
        async with httpx.AsyncClient() as http:
            r = await http.post(f"{ex.clob_url}/_admin/blast", json={"frames": 3000, "seed": 2})
            assert r.status_code == 200 and r.json()["frames"] == 3000
            await wait_until(lambda: feed.frames >= before + 3000)
            assert feed.errors.total == 0
            bad = await http.post(f"{ex.clob_url}/_admin/blast", json={"frames": "lots"})
            assert bad.status_code == 400 and "frames" in bad.json()["error"]


async def test_markets_are_subscribed_and_unsubscribed_while_running(wait_until) -> None:
    async with run_exchange(port=0, seed=60, flow_rate=100) as ex:
        first, later = ex.markets[:3], ex.markets[3]
        async with feed_on(ex, markets=first) as feed:
            await wait_until(lambda: len(feed.snapshotted) == 3)
            await feed.add_market(later)
            await wait_until(lambda: feed.trusted(later.condition_id)[0])
            book = feed.books.get(later.condition_id)
            await wait_until(lambda: book.version > 2)  # live updates flow for the new market
            await feed.remove_market(first[0])
            assert feed.books.get(first[0].condition_id) is None
            assert feed.trusted(first[0].condition_id) == (False, "not subscribed")
            # frames the venue queued before it took the unsubscribe may still land; one it sent after
            # (a later timestamp, on a market still subscribed: the socket is ordered) proves they have
            gone = {first[0].yes_token, first[0].no_token}
            await wait_until(lambda: not any(sub.assets & gone for sub in ex.standin.channel.subscriptions))
            t0 = now_ms()
            kept = [feed.books.get(m.condition_id) for m in (*first[1:], later)]
            await wait_until(lambda: any(b.timestamp > t0 for b in kept), timeout=15)
            unknown, frames = feed.books.unknown, feed.frames
            await wait_until(lambda: feed.frames >= frames + 200, timeout=20)  # the other markets' frames go on...
            assert feed.books.unknown == unknown  # ...and nothing arrives for the removed tokens
