"""The venue's HTTP clients: replies freed by their last reference, and the SDK's calls served by
urllib3's connection pool.

An ``httpx`` response holds its body stream, and that stream holds the response back (``BoundSyncStream``
and ``BoundAsyncStream`` set ``response.elapsed`` when they close): every response is a reference
cycle, and with it its request, URL, headers and the connection pool's per-request objects — ~40
objects a request that only a collection frees. At 300 markets (~70 venue requests a second: posts,
cancels, reads) that was 97% of the bot's cyclic garbage, and what set the collector off: it runs when
the objects made minus those freed pass a threshold, and garbage in cycles is never freed until it
runs. Measured headless at 300 markets: ~3,800 garbage objects a second, a young collection every
~0.15 s holding the event loop 1.3–2 ms (p99 8 ms), a middle one every ~1.6 s (5–15 ms) and a full
one every ~20 s (15–30 ms) — pauses of the one loop that runs the feed and the strategy, on the
tick-to-trade path. Once a response's body is read (every request that is not a stream), ``AcyclicClient``
replaces its stream by the body in memory (``httpx.ByteStream``, no reference back): the cycle is gone
and the response dies with its last reference.

py-clob-client-v2 keeps one client for all its calls (a module global, ``http_helpers.helpers._http_client``:
the SDK offers no other way in); ``install_sdk_client`` puts ``PooledClient`` there — urllib3's pool
behind the one method the SDK calls, its replies plain bytes. The SDK's calls run on worker threads,
and a worker runs Python while it builds a request and reads the reply: the event loop's thread waits
for the interpreter meanwhile (a switch interval at a time). httpx spent most of a post's time there
(its client, httpcore and h11: ~90% of the worker's profile) — at 300 markets ~40 posts and cancels a
second, and the steps that came right after a post ran at half speed. A one-order post took 1.39 ms of
the worker's CPU through httpx and 0.96 ms through the pool; with the dashboard in the process (three
threads sharing the interpreter) ``scale_bench``'s 300-market phase, side by side twice: tick-to-trade
p50 1.91 / 1.94 → 1.59 / 1.49 ms, p99 13.6 / 18.6 → 10.8 / 10.7 ms (ended at the SDK call; ``when_sent``
now ends it as the request is written). Left out: HTTP/2 (each worker keeps a connection of its own;
the venue answers HTTP/1.1 alike), and proxies — with one in the environment (``HTTPS_PROXY`` and the
like) the SDK keeps an ``AcyclicClient``, as httpx honours it.
"""

from __future__ import annotations

import contextlib
import json as json_lib
import logging
import threading
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
import urllib3
import urllib3.connection

log = logging.getLogger(__name__)

#: What the SDK's own client waits (httpx's default): to connect, and for each read of the reply
SDK_TIMEOUT_S = 5.0
#: Connections kept open to the venue: the post, cancel, read and kill workers (``LiveConfig``), all at once
POOL_CONNECTIONS = 32


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


class PooledReply:
    """What the SDK reads of a reply (``status_code``, ``text``, ``json()``), its body read in full."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, content: bytes, headers: Mapping[str, str]) -> None:
        self.status_code = status_code
        self.content = content
        self.headers = headers

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json_lib.loads(self.content)


_sending = threading.local()  # ``when_sent``'s callback for the thread's next request


@contextlib.contextmanager
def when_sent(callback: Callable[[], None]) -> Iterator[bool]:
    """Within the block, ``callback()`` runs on this thread as the thread's next request through the SDK's
    ``PooledClient`` leaves — its bytes written to the socket, before the reply is waited for — once.
    Yields whether it will: False when the SDK's client is another (``install_sdk_client``: a proxy),
    which cannot tell; nothing runs for a request that never left (refused before it was written)."""
    from py_clob_client_v2.http_helpers import helpers

    if not isinstance(helpers._http_client, PooledClient):
        yield False
        return
    _sending.callback = callback
    try:
        yield True
    finally:
        _sending.callback = None


def _left() -> None:
    """A request through the pool was written: the thread's ``when_sent`` callback, if any, runs now."""
    callback = getattr(_sending, "callback", None)
    if callback is not None:
        _sending.callback = None
        try:
            callback()
        except Exception:  # the request is on its way whatever its observer does
            log.exception("a when_sent callback failed")


class _Connection(urllib3.connection.HTTPConnection):
    """A connection that tells ``when_sent`` once it has written a request (headers and body)."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)
        _left()


class _TlsConnection(_Connection, urllib3.connection.HTTPSConnection):
    """``_Connection`` over TLS (its ``request`` first, then HTTPS's)."""


class _Pool(urllib3.HTTPConnectionPool):
    ConnectionCls = _Connection


class _TlsPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _TlsConnection


class PooledClient:
    """py-clob-client-v2's HTTP client, served by urllib3's connection pool (module docstring: less of the
    interpreter's time a request than httpx). It takes the one call the SDK makes (``helpers.request``:
    ``request(method=, url=, headers=, content= | json=, params=)``) as httpx takes it — the query
    merged by ``httpx.URL``, a JSON body encoded as httpx encodes it, no redirects followed, no retries,
    5 s to connect and 5 s to read, TLS verified as httpx verifies it — and raises httpx's errors, which
    the SDK turns into a ``PolyApiException`` without a status (a failure polymm retries). Its replies
    hold no reference cycle. Thread-safe: every worker thread shares its pool."""

    def __init__(self, timeout_s: float = SDK_TIMEOUT_S, connections: int = POOL_CONNECTIONS) -> None:
        self._pool = urllib3.PoolManager(
            maxsize=connections, retries=False, timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s),
            ssl_context=httpx.create_ssl_context())
        self._pool.pool_classes_by_scheme = {"http": _Pool, "https": _TlsPool}  # they tell ``when_sent``

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                content: bytes | None = None, json: Any = None,
                params: Mapping[str, Any] | None = None) -> PooledReply:
        if params:
            url = str(httpx.URL(url, params=params))
        body = content
        if body is None and json is not None:
            body = json_lib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        try:
            r = self._pool.request(method, url, body=body, headers=headers, redirect=False)
        except urllib3.exceptions.HTTPError as e:
            raise _as_httpx(e) from e
        except OSError as e:  # a socket error urllib3 let through
            raise httpx.NetworkError(str(e)) from e
        return PooledReply(r.status, r.data, r.headers)

    def close(self) -> None:
        self._pool.clear()


def _as_httpx(e: urllib3.exceptions.HTTPError) -> httpx.TransportError:
    """The httpx error for urllib3's (what the SDK's ``helpers.request`` catches)."""
    x = urllib3.exceptions
    kind: type[httpx.TransportError]
    if isinstance(e, x.NewConnectionError | x.SSLError):  # refused, unresolved (NewConnectionError first:
        kind = httpx.ConnectError                          # urllib3 makes it a ConnectTimeoutError too)
    elif isinstance(e, x.ConnectTimeoutError):
        kind = httpx.ConnectTimeout
    elif isinstance(e, x.ReadTimeoutError):
        kind = httpx.ReadTimeout
    elif isinstance(e, x.ProtocolError):  # reset, or closed before the reply
        kind = httpx.ReadError
    else:
        kind = httpx.TransportError
    return kind(str(e))


def _proxied() -> bool:
    """Whether the environment names a proxy (``HTTPS_PROXY`` and the like), which httpx honours."""
    return any(scheme != "no" for scheme in urllib.request.getproxies())


SdkClient = PooledClient | AcyclicClient


def install_sdk_client() -> SdkClient:
    """py-clob-client-v2's shared client (``http_helpers.helpers._http_client``: every call of the SDK goes
    through it) replaced once: a ``PooledClient``, or — with a proxy in the environment, which httpx
    honours and the pool would not — an ``AcyclicClient`` configured as the SDK configures its own
    (HTTP/2 when the venue offers it); returns the client in place."""
    from py_clob_client_v2.http_helpers import helpers

    if not isinstance(helpers._http_client, PooledClient | AcyclicClient):
        # the old one is left as it is: a thread may be using it
        helpers._http_client = AcyclicClient(http2=True) if _proxied() else PooledClient()
    client: SdkClient = helpers._http_client
    return client


__all__ = ["AcyclicAsyncClient", "AcyclicClient", "PooledClient", "PooledReply", "install_sdk_client", "when_sent"]
