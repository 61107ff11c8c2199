"""HTTP clients whose responses are freed by their last reference, not by the garbage collector.

An ``httpx`` response holds its body stream, and that stream holds the response back (``BoundSyncStream``
and ``BoundAsyncStream`` set ``response.elapsed`` when they close): every response is a reference
cycle, and with it its request, URL, headers and the connection pool's per-request objects — ~40
objects a request that only a collection frees. At 300 markets (~70 venue requests a second: posts,
cancels, reads) that was 97% of the bot's cyclic garbage, and what set the collector off: it runs when
the objects made minus those freed pass a threshold, and garbage in cycles is never freed until it
runs. Measured headless at 300 markets: ~3,800 garbage objects a second, a young collection every
~0.15 s holding the event loop 1.3–2 ms (p99 8 ms), a middle one every ~1.6 s (5–15 ms) and a full
one every ~20 s (15–30 ms) — pauses of the one loop that runs the feed and the strategy, on the
tick-to-trade path.

Once a response's body is read (every request that is not a stream), its stream is replaced by the
body in memory (``httpx.ByteStream``, no reference back): the cycle is gone and the response dies with
its last reference. ``install_sdk_client`` puts such a client where py-clob-client-v2 keeps its own
(a module global, ``http_helpers.helpers._http_client``: the SDK offers no other way in), configured as
the SDK configures it.
"""

from __future__ import annotations

from typing import Any

import httpx


def _unbind(response: httpx.Response) -> None:
    """Drop the stream of a response whose body is read (and of the redirects before it)."""
    for r in (*response.history, response):
        try:
            body = r.content
        except httpx.ResponseNotRead:
            continue  # not read (a redirect's body is): its stream is still the only way to it
        r.stream = httpx.ByteStream(body)


class AcyclicClient(httpx.Client):
    """``httpx.Client`` whose read responses hold no cycle (module docstring)."""

    def send(self, request: httpx.Request, *, stream: bool = False, **kwargs: Any) -> httpx.Response:
        response = super().send(request, stream=stream, **kwargs)
        if not stream:
            _unbind(response)
        return response


class AcyclicAsyncClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` whose read responses hold no cycle (module docstring)."""

    async def send(self, request: httpx.Request, *, stream: bool = False, **kwargs: Any) -> httpx.Response:
        response = await super().send(request, stream=stream, **kwargs)
        if not stream:
            _unbind(response)
        return response


def install_sdk_client() -> httpx.Client:
    """py-clob-client-v2's shared client (``http_helpers.helpers._http_client``: every call of the SDK goes
    through it) replaced once by an ``AcyclicClient`` configured as the SDK configures its own (HTTP/2
    when the venue offers it); returns the client in place."""
    from py_clob_client_v2.http_helpers import helpers

    if not isinstance(helpers._http_client, AcyclicClient):
        helpers._http_client = AcyclicClient(http2=True)  # the old one is left as it is: a thread may be using it
    return helpers._http_client


__all__ = ["AcyclicAsyncClient", "AcyclicClient", "install_sdk_client"]
