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
now ends it as the request is written). Posts go further: split in two, the SDK builds the request
without sending it (``capturing``), the event loop's thread writes it on a connection kept open for
posts (``send_ready``: never connecting, never waiting on the socket), a worker reads the answer
(``answer``) and the SDK reads that as its own reply (``replying``) — the order leaves in the step that
made it, not when a worker next gets the interpreter. Left out: HTTP/2 (each worker keeps a connection of its own;
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
#: ``send_ready`` writes at most this much body on the calling thread (an order is ~0.75 KB, a step's post
#: of a few orders ~2 KB): into an idle connection's empty socket buffer (Linux starts one at 16 KB, its
#: bookkeeping included) at once
READY_BODY_MAX = 8_192


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


def sdk_pool() -> PooledClient | None:
    """The SDK's client when it is a ``PooledClient`` (``install_sdk_client``), else None."""
    from py_clob_client_v2.http_helpers import helpers

    client = helpers._http_client
    return client if isinstance(client, PooledClient) else None


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


class Prepared:
    """A request the SDK made and ``PooledClient`` did not send (``capturing``): what would go on the wire."""

    __slots__ = ("body", "headers", "method", "url")

    def __init__(self, method: str, url: str, headers: Mapping[str, str] | None, body: bytes | None) -> None:
        self.method, self.url, self.headers, self.body = method, url, dict(headers or {}), body

    def __repr__(self) -> str:  # the headers carry the API key and its signature: never shown
        return f"Prepared({self.method} {self.url}, {len(self.body or b'')} bytes)"


class Captured(Exception):
    """Raised by ``PooledClient.request`` within ``capturing``: the SDK's request, not sent. Not an error of
    httpx's, so the SDK's ``helpers.request`` lets it through untouched."""

    def __init__(self, prepared: Prepared) -> None:
        super().__init__(repr(prepared))
        self.prepared = prepared


class Sent:
    """A request written on one of ``PooledClient``'s post connections, its reply not read yet (``answer``)."""

    __slots__ = ("client", "conn", "origin")

    def __init__(self, client: PooledClient, conn: urllib3.connection.HTTPConnection,
                 origin: tuple[str, str, int]) -> None:
        self.client, self.conn, self.origin = client, conn, origin

    def answer(self) -> PooledReply:
        """The reply, read by the client that wrote the request (``PooledClient.answer``)."""
        return self.client.answer(self)


_split = threading.local()  # ``capturing`` / ``replying``: what the thread's next request through the pool does


@contextlib.contextmanager
def capturing() -> Iterator[None]:
    """Within the block, a request through ``PooledClient`` on this thread is not sent: it raises ``Captured``
    with what would have gone (the SDK builds a request — body, signed headers — without sending it)."""
    _split.capture = True
    try:
        yield
    finally:
        _split.capture = False


@contextlib.contextmanager
def replying(reply: PooledReply | httpx.TransportError) -> Iterator[None]:
    """Within the block, the next request through ``PooledClient`` on this thread is answered by ``reply``
    (an error: raised) without being sent — the SDK reads the reply of a request sent before, split from
    it (``send_ready``/``send``, then ``answer``), as it reads its own. Later requests go as usual."""
    _split.reply = reply
    try:
        yield
    finally:
        _split.reply = None


class PooledClient:
    """py-clob-client-v2's HTTP client, served by urllib3's connection pool (module docstring: less of the
    interpreter's time a request than httpx). It takes the one call the SDK makes (``helpers.request``:
    ``request(method=, url=, headers=, content= | json=, params=)``) as httpx takes it — the query
    merged by ``httpx.URL``, a JSON body encoded as httpx encodes it, no redirects followed, no retries,
    5 s to connect and 5 s to read, TLS verified as httpx verifies it — and raises httpx's errors, which
    the SDK turns into a ``PolyApiException`` without a status (a failure polymm retries). Its replies
    hold no reference cycle. Thread-safe: every worker thread shares its pool."""

    def __init__(self, timeout_s: float = SDK_TIMEOUT_S, connections: int = POOL_CONNECTIONS) -> None:
        self._timeout_s, self._connections = timeout_s, connections
        self._ssl = httpx.create_ssl_context()
        self._pool = urllib3.PoolManager(
            maxsize=connections, retries=False, timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s),
            ssl_context=self._ssl)
        # posts split in two (``send_ready``/``send``, then ``answer``): their connections, kept open, by origin
        self._idle: dict[tuple[str, str, int], list[urllib3.connection.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._pool.pool_classes_by_scheme = {"http": _Pool, "https": _TlsPool}  # they tell ``when_sent``

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                content: bytes | None = None, json: Any = None,
                params: Mapping[str, Any] | None = None) -> PooledReply:
        reply = getattr(_split, "reply", None)
        if reply is not None:  # ``replying``: the answer of a request sent before
            _split.reply = None
            if isinstance(reply, Exception):
                raise reply
            return reply
        if params:
            url = str(httpx.URL(url, params=params))
        body = content
        if body is None and json is not None:
            body = json_lib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        if getattr(_split, "capture", False):
            raise Captured(Prepared(method, url, headers, body))
        try:
            r = self._pool.request(method, url, body=body, headers=headers, redirect=False)
        except urllib3.exceptions.HTTPError as e:
            raise _as_httpx(e) from e
        except OSError as e:  # a socket error urllib3 let through
            raise httpx.NetworkError(str(e)) from e
        return PooledReply(r.status, r.data, r.headers)

    def _post_conn(self, origin: tuple[str, str, int]) -> urllib3.connection.HTTPConnection:
        """A new connection for posts (connected as its first request is written)."""
        scheme, host, port = origin  # its timeout: to connect, and for each read of the reply
        if scheme == "https":
            return _TlsConnection(host, port, timeout=self._timeout_s, ssl_context=self._ssl)
        return _Connection(host, port, timeout=self._timeout_s)

    def _idle_conn(self, origin: tuple[str, str, int]) -> urllib3.connection.HTTPConnection | None:
        """An open post connection to ``origin`` the venue has not closed meanwhile (None: there is none)."""
        with self._lock:
            idle = self._idle.get(origin)
            while idle:
                conn = idle.pop()
                if conn.is_connected:  # no EOF waiting on it (the venue closes idle connections)
                    return conn
                conn.close()
        return None

    def has_open(self, url: str) -> bool:
        """Whether a post connection to ``url``'s origin is kept open now (a hint: ``send_ready`` decides)."""
        with self._lock:
            return bool(self._idle.get(_origin(url)))

    def send_ready(self, prepared: Prepared) -> Sent | None:
        """Write ``prepared`` on an open post connection now, on the calling thread — never connecting, never
        waiting on the venue (None: no open connection, a body too large to go at once, or the write
        failed: nothing of it can be read as a request, send it again another way). The reply is read by
        ``answer``, on another thread. For the event loop's thread: the order leaves in the step that
        made it, not when a worker thread next gets the interpreter."""
        if prepared.body is not None and len(prepared.body) > READY_BODY_MAX:
            return None
        origin = _origin(prepared.url)
        conn = self._idle_conn(origin)
        if conn is None:
            return None
        try:
            conn.sock.settimeout(0.0)  # never waits: what the buffer cannot take at once fails the write
            conn.request(prepared.method, _target(prepared.url), body=prepared.body, headers=prepared.headers)
        except (OSError, urllib3.exceptions.HTTPError):
            conn.close()  # written in part at most: the venue reads no request of it
            return None
        return Sent(self, conn, origin)

    def send(self, prepared: Prepared) -> Sent:
        """Write ``prepared`` on a post connection, opening one if none is open (``send_ready``'s way for a
        worker thread); httpx's errors as ``request`` raises them."""
        origin = _origin(prepared.url)
        conn = self._idle_conn(origin) or self._post_conn(origin)
        try:
            conn.request(prepared.method, _target(prepared.url), body=prepared.body, headers=prepared.headers)
        except urllib3.exceptions.HTTPError as e:
            conn.close()
            raise _as_httpx(e) from e
        except OSError as e:  # a socket error urllib3 let through
            conn.close()
            raise httpx.NetworkError(str(e)) from e
        return Sent(self, conn, origin)

    def answer(self, sent: Sent) -> PooledReply:
        """The reply to a request ``send_ready``/``send`` wrote, read in full (waits on the venue: a worker
        thread's call); its connection kept for the next post unless the venue closes it. httpx's errors."""
        conn = sent.conn
        try:
            r = conn.getresponse()
            reply = PooledReply(r.status, r.data, r.headers)
        except urllib3.exceptions.HTTPError as e:
            conn.close()
            raise _as_httpx(e) from e
        except TimeoutError as e:
            conn.close()
            raise httpx.ReadTimeout(str(e)) from e
        except OSError as e:  # reset, closed before the reply (http.client's RemoteDisconnected is one)
            conn.close()
            raise httpx.ReadError(str(e)) from e
        if not conn.is_closed:  # the venue keeps it open (``Connection: close`` closed it)
            with self._lock:
                idle = self._idle.setdefault(sent.origin, [])
                if len(idle) < self._connections and not self._closed:
                    idle.append(conn)
                    return reply
            conn.close()
        return reply

    def close(self) -> None:
        self._pool.clear()
        with self._lock:
            self._closed = True  # a post still waiting for its answer closes its connection after
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()


def _origin(url: str) -> tuple[str, str, int]:
    u = urllib3.util.parse_url(url)
    scheme = u.scheme or "http"
    return scheme, u.host or "", u.port or (443 if scheme == "https" else 80)


def _target(url: str) -> str:
    """What goes on the request line: the path and query."""
    return urllib3.util.parse_url(url).request_uri


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


__all__ = ["AcyclicAsyncClient", "AcyclicClient", "Captured", "PooledClient", "PooledReply", "Prepared", "Sent",
           "capturing", "install_sdk_client", "replying", "sdk_pool", "when_sent"]
