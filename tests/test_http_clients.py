"""The venue's HTTP clients (``venue/http_clients.py``): responses freed by their last reference (httpx's
own responses are reference cycles that only the garbage collector frees — at 300 markets 97% of the
bot's cyclic garbage, and what set off the collections that paused its event loop), and the SDK's
calls served by urllib3's pool exactly as httpx serves them, with httpx's errors."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import gzip
import json
import shutil
import ssl
import subprocess
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import urllib3
from aiohttp import web
from engines import ours, running_engine
from py_clob_client_v2.exceptions import PolyApiException
from py_clob_client_v2.http_helpers import helpers

from polymm.venue.http_clients import (
    READY_BODY_MAX,
    AcyclicAsyncClient,
    AcyclicClient,
    Captured,
    PooledClient,
    Prepared,
    capturing,
    install_sdk_client,
    replying,
    when_sent,
)
from polymm_standin.server import run_exchange

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


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


def alive(kind: type) -> int:
    """How many objects of ``kind`` the collector tracks now (garbage in cycles included)."""
    return sum(1 for o in gc.get_objects() if type(o) is kind)


async def test_the_venue_client_sends_every_sdk_call_through_the_pool(
        monkeypatch: pytest.MonkeyPatch, wait_until: Callable, no_proxy: None) -> None:
    monkeypatch.setattr(helpers, "_http_client", httpx.Client(http2=True))  # as the SDK starts
    async with run_exchange(port=0, seed=83, flow=False) as ex:
        async with running_engine(ex, count=2) as engine:
            await wait_until(lambda: ours(ex, engine), timeout=30)  # signed in and quoting through the SDK
        # the engine stopped: the SDK's calls from here on are the test's own
        client = helpers._http_client
        assert isinstance(client, PooledClient) and install_sdk_client() is client  # once, then kept
        with no_collections():
            before = alive(urllib3.HTTPResponse)
            for _ in range(20):
                assert await asyncio.to_thread(helpers.get, f"{ex.clob_url}/time")
            assert alive(urllib3.HTTPResponse) == before  # no reply left for the collector


async def test_with_a_proxy_in_the_environment_the_sdk_keeps_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx honours ``HTTPS_PROXY``; the pool would go around it."""
    monkeypatch.setattr(helpers, "_http_client", httpx.Client(http2=True))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    client = install_sdk_client()
    assert isinstance(client, AcyclicClient) and helpers._http_client is client


@contextlib.asynccontextmanager
async def echo_server(tls: ssl.SSLContext | None = None, held: asyncio.Event | None = None) -> AsyncIterator[str]:
    """A server that answers what it was sent (``/echo``, gzipped when asked), refuses (``/busy``: a 429),
    never answers (``/never``) and answers once ``held`` is set (``/held``); its base URL."""
    never = asyncio.Event()
    held = held or asyncio.Event()  # ``/held`` answers once it is set

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        out = json.dumps({"method": request.method, "query": request.query_string, "body": body.decode(),
                          "type": request.headers.get("Content-Type", "")}).encode()
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            return web.Response(body=gzip.compress(out), headers={"Content-Encoding": "gzip"})
        return web.Response(body=out)

    async def busy(_: web.Request) -> web.Response:
        return web.json_response({"error": "Too Many Requests", "retry_after_seconds": 0.5}, status=429)

    async def hang(_: web.Request) -> web.Response:
        await never.wait()
        return web.Response()

    async def hold(_: web.Request) -> web.Response:
        await held.wait()
        return web.json_response({"held": True})

    app = web.Application()
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/busy", busy)
    app.router.add_get("/never", hang)
    app.router.add_post("/held", hold)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        never.set()
        await runner.cleanup()


async def test_the_pool_sends_what_httpx_sends() -> None:
    """The SDK's calls as the SDK makes them (``helpers.request``): the same query, body and reply through
    the pool as through httpx — a JSON body encoded alike (no spaces, non-ASCII kept), a gzipped reply
    read."""
    body = {"owner": "ключ", "orders": [{"price": "0.51", "size": 10}], "postOnly": True}
    calls = [("GET", {"token_id": "123", "next_cursor": "MA=="}, None), ("POST", None, body),
             ("DELETE", None, ["0xab", "0xcd"]), ("POST", None, '{"raw": "string body"}')]
    async with echo_server() as base:
        pooled, plain = PooledClient(), httpx.Client()
        try:
            for method, params, data in calls:
                got = []
                for client in (pooled, plain):
                    with pytest.MonkeyPatch.context() as mp:
                        mp.setattr(helpers, "_http_client", client)
                        got.append(await asyncio.to_thread(helpers.request, f"{base}/echo", method, None, data,
                                                           params))
                assert got[0] == got[1], (method, got)
                assert got[0]["method"] == method and got[0]["type"] == "application/json"
            assert got[0]["body"] == '{"raw": "string body"}'
        finally:
            pooled.close()
            plain.close()


async def test_the_pool_fails_as_httpx_fails() -> None:
    """A refusal keeps its status and message; no answer in time, or no server, is an SDK error without a
    status (what polymm retries); the errors below it are httpx's own."""
    async with echo_server() as base:
        client = PooledClient(timeout_s=0.2)
        try:
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(helpers, "_http_client", client)
                with pytest.raises(PolyApiException) as busy:
                    await asyncio.to_thread(helpers.get, f"{base}/busy")
                assert busy.value.status_code == 429 and busy.value.error_msg["retry_after_seconds"] == 0.5
                with pytest.raises(PolyApiException) as late:
                    await asyncio.to_thread(helpers.get, f"{base}/never")
                assert late.value.status_code is None
            with pytest.raises(httpx.ReadTimeout):
                await asyncio.to_thread(client.request, "GET", f"{base}/never")
        finally:
            client.close()
    with pytest.raises(httpx.ConnectError):  # the server is gone: its port refuses
        await asyncio.to_thread(PooledClient().request, "GET", f"{base}/echo")


async def test_the_pool_verifies_the_venue_as_httpx_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TLS through the pool is httpx's own context: a certificate no authority vouches for is refused,
    the same one trusted through ``SSL_CERT_FILE`` (as httpx trusts it) is taken."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    async with echo_server(tls) as base:
        stranger = PooledClient()
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await asyncio.to_thread(stranger.request, "GET", f"{base}/echo")
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        trusting = PooledClient()
        reply = await asyncio.to_thread(trusting.request, "POST", f"{base}/echo", json={"a": 1})
        assert reply.status_code == 200 and reply.json()["body"] == '{"a":1}'
        for client in (stranger, trusting):
            client.close()


async def test_a_request_is_told_as_it_leaves_not_when_answered(wait_until: Callable,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Tick-to-trade ends as the order leaves (``LiveExecution._post_if_open``): ``when_sent``'s callback
    runs once the request is written, while the venue still holds the reply; once only, on the thread
    that sent; never for a request that did not leave; and not at all through a client that cannot tell."""
    held = asyncio.Event()
    async with echo_server(held=held) as base:
        client = PooledClient()
        monkeypatch.setattr(helpers, "_http_client", client)
        told: list[str] = []

        def post() -> object:
            with when_sent(lambda: told.append("left")) as will:
                assert will
                reply = helpers.post(f"{base}/held", data={"order": 1})
                helpers.get(f"{base}/echo")  # a second request in the block: told once only
                return reply

        answer = asyncio.ensure_future(asyncio.to_thread(post))
        await wait_until(lambda: told, timeout=10)
        assert told == ["left"] and not answer.done()  # told while the venue still holds the reply
        held.set()
        assert await answer == {"held": True} and told == ["left"]

        def refused() -> None:
            with when_sent(lambda: told.append("refused")), pytest.raises(PolyApiException):
                helpers.get("http://127.0.0.1:1/echo")  # nothing listens on port 1
            helpers.get(f"{base}/echo")  # after the block: nothing to tell

        await asyncio.to_thread(refused)
        assert told == ["left"]
        client.close()
    monkeypatch.setattr(helpers, "_http_client", httpx.Client())
    with when_sent(lambda: told.append("httpx")) as will:
        assert not will
    assert told == ["left"]


async def test_a_post_split_in_two_sends_and_reads_what_the_sdk_would() -> None:
    """``LiveExecution`` sends a post from the event loop's thread and reads its answer on a worker: the SDK
    builds the request without sending it (``capturing``: ``Captured``), ``send`` (a worker: it may connect)
    or ``send_ready`` (the loop: an open connection only) writes it, ``answer`` reads the reply, and the SDK
    reads that reply as its own (``replying``: nothing sent). What reaches the venue and what the SDK returns
    are what its own call gives; an error read is the SDK's error without a status."""
    body = {"owner": "ключ", "orders": [{"price": "0.51", "size": 10}]}
    async with echo_server() as base:
        client = PooledClient()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(helpers, "_http_client", client)
            whole = await asyncio.to_thread(helpers.post, f"{base}/echo", None, body)
            with capturing(), pytest.raises(Captured) as caught:
                helpers.post(f"{base}/echo", None, body)
            prepared = caught.value.prepared
            assert prepared.method == "POST" and "ключ" not in repr(prepared)  # a repr shows no headers or body
            assert client.send_ready(prepared) is None  # no post connection open yet: never connects here
            sent = await asyncio.to_thread(client.send, prepared)
            reply = await asyncio.to_thread(client.answer, sent)
            again = client.send_ready(prepared)  # the connection the answer kept open: written at once
            assert again is not None
            assert (await asyncio.to_thread(client.answer, again)).json() == reply.json() == whole

            def read_as_own() -> tuple[object, object]:
                with replying(reply):  # read as the SDK's own reply: nothing sent (nothing listens on port 1)
                    return helpers.post("http://127.0.0.1:1/echo", None, body), helpers.get(f"{base}/echo")

            own, after = await asyncio.to_thread(read_as_own)
            assert own == whole and after["method"] == "GET"  # the next request goes as usual
            with replying(httpx.ReadError("reset")), pytest.raises(PolyApiException) as lost:
                helpers.post(f"{base}/echo", None, body)
            assert lost.value.status_code is None
            big = Prepared("POST", f"{base}/echo", prepared.headers, b"x" * (READY_BODY_MAX + 1))
            assert client.send_ready(big) is None  # too large to go at once
    # the server is gone and closed its connections: an idle one is seen closed, not written to
    assert client.send_ready(prepared) is None
    client.close()
