"""The real feed over a real WebSocket against the stand-in: local books must equal the venue's."""

from __future__ import annotations

import asyncio

import pytest

from polymm.domain.prices import price_to_pips
from polymm.engine.feed import MarketFeed
from polymm.exchange import run_exchange
from polymm.venue.rest import PublicClient

pytestmark = pytest.mark.asyncio



async def _quiesce(feed: MarketFeed, quiet_s: float = 0.3) -> None:
    """Wait until no frame has arrived for ``quiet_s`` (the flow is paused, in-flight frames land)."""
    last = -1
    while last != feed.frames:
        last = feed.frames
        await asyncio.sleep(quiet_s)


async def test_local_books_equal_standin_books_after_many_updates(wait_until) -> None:
    async with run_exchange(port=0, seed=11, flow_rate=400) as ex:
        changes: list[set[str]] = []
        feed = MarketFeed(ex.ws_url, ex.markets, changes.append)
        task = asyncio.create_task(feed.run())
        public = PublicClient(ex.clob_url, ex.gamma_url)
        try:
            await wait_until(lambda: feed.status == "RUNNING")
            await wait_until(lambda: feed.frames >= 1500, timeout=30)
            ex.pause_flow()
            await _quiesce(feed)
            assert feed.errors.total == 0, feed.errors.counts
            assert len(feed.snapshotted) == len(ex.markets)
            compared = 0
            for m in ex.markets:
                book = feed.books.get(m.condition_id)
                assert book is not None and not book.crossed
                for token in (m.yes_token, m.no_token):
                    venue = await public.get_book(token)
                    bids, asks = book.levels_for(token)
                    assert [(lv.price, lv.size) for lv in bids] == [
                        (price_to_pips(lv.price), lv.size) for lv in venue.bids
                    ], f"bids differ for {m.question} {token[:8]}"
                    assert [(lv.price, lv.size) for lv in asks] == [
                        (price_to_pips(lv.price), lv.size) for lv in venue.asks
                    ], f"asks differ for {m.question} {token[:8]}"
                    compared += len(bids) + len(asks)
            assert compared > 50  # the books were not trivially empty
            assert sum(len(c) for c in changes) > 100  # strategy wake-ups were signalled
        finally:
            feed.stop()
            await public.aclose()
            await asyncio.wait_for(task, 5)


async def test_feed_reconnects_and_rebuilds_after_the_server_drops_it(wait_until) -> None:
    async with run_exchange(port=0, seed=12, flow_rate=50) as ex:
        feed = MarketFeed(ex.ws_url, ex.markets, lambda c: None)
        feed.shards[0].socket.max_backoff = 0.5
        task = asyncio.create_task(feed.run())
        try:
            await wait_until(lambda: len(feed.snapshotted) == len(ex.markets))
            await feed.shards[0].socket.drop()  # the connection goes away under the feed
            await wait_until(lambda: feed.shards[0].socket.reconnects >= 1)
            await wait_until(lambda: feed.status == "RUNNING" and len(feed.snapshotted) == len(ex.markets))
            ok, why = feed.trusted(ex.markets[0].condition_id)
            assert ok, why
        finally:
            feed.stop()
            await asyncio.wait_for(task, 5)
