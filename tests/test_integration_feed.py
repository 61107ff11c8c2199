"""The real feed over a real WebSocket against the stand-in: local books must equal the venue's."""

from __future__ import annotations

import asyncio

import pytest

from polymm.domain.prices import price_to_pips
from polymm.engine.feed import MarketFeed
from polymm.venue.rest import PublicClient
from polymm_standin.server import run_exchange

pytestmark = pytest.mark.asyncio



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

            async def books_equal() -> int:
                """Every local book equals the venue's (asserts the first difference); levels compared."""
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
                return compared

            # in-flight frames land; this feed has no REST client, so only the socket can make them equal
            compared = await wait_until(books_equal, timeout=20, step=0.1)
            assert feed.errors.total == 0, feed.errors.counts
            assert len(feed.snapshotted) == len(ex.markets)
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
