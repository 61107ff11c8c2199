"""HTTP responses freed by their last reference (``venue/http_clients.py``): httpx's own responses are
reference cycles that only the garbage collector frees — at 300 markets 97% of the bot's cyclic
garbage, and what set off the collections that paused its event loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import Callable, Iterator

import httpx
import pytest
from engines import ours, running_engine

from polymm.venue.http_clients import AcyclicAsyncClient, AcyclicClient, install_sdk_client
from polymm_standin.server import run_exchange


@contextlib.contextmanager
def no_collections() -> Iterator[None]:
    """Only reference counts free objects meanwhile: what a cycle holds stays."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def read_and_drop(client: httpx.Client, url: str) -> weakref.ref:
    """GET ``url`` (its body read), drop the response; a weak reference to it."""
    r = client.get(url)
    assert r.status_code == 200 and r.json()
    return weakref.ref(r)


async def test_a_read_response_is_freed_with_its_last_reference() -> None:
    async with run_exchange(port=0, seed=81, flow=False) as ex:
        url = f"{ex.clob_url}/time"
        with no_collections(), httpx.Client() as plain, AcyclicClient() as acyclic:
            # the premise: httpx's own response outlives its last reference (the cycle through its stream)
            assert (await asyncio.to_thread(read_and_drop, plain, url))() is not None
            assert (await asyncio.to_thread(read_and_drop, acyclic, url))() is None
            async with AcyclicAsyncClient() as client:
                r = await client.get(url)
                assert r.json() and r.elapsed.total_seconds() >= 0  # what the stream's close set is kept
                ref = weakref.ref(r)
                del r
                assert ref() is None


async def test_a_streamed_response_is_left_as_httpx_makes_it() -> None:
    """A stream's body is not read by ``send``: its stream stays httpx's own, read as it comes."""
    async with run_exchange(port=0, seed=82, flow=False) as ex, AcyclicAsyncClient() as client, \
            client.stream("GET", f"{ex.clob_url}/time") as r:
        assert not isinstance(r.stream, httpx.ByteStream)
        assert b"".join([chunk async for chunk in r.aiter_bytes()]).strip()


async def test_the_venue_client_sends_every_sdk_call_through_an_acyclic_client(
        monkeypatch: pytest.MonkeyPatch, wait_until: Callable) -> None:
    from py_clob_client_v2.http_helpers import helpers

    monkeypatch.setattr(helpers, "_http_client", httpx.Client(http2=True))  # as the SDK starts
    seen: list[weakref.ref] = []
    async with run_exchange(port=0, seed=83, flow=False) as ex:
        async with running_engine(ex, count=2) as engine:
            await wait_until(lambda: ours(ex, engine), timeout=30)  # signed in and quoting through the SDK
        # the engine stopped: the SDK's calls from here on are the test's own
        client = helpers._http_client
        assert isinstance(client, AcyclicClient) and install_sdk_client() is client  # once, then kept
        client.event_hooks = {"request": [], "response": [lambda r: seen.append(weakref.ref(r))]}
        with no_collections():
            assert await asyncio.to_thread(helpers.get, f"{ex.clob_url}/time")
            assert seen and all(ref() is None for ref in seen)
