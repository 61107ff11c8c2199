"""The ``/ws/user`` channel: a wallet's own order and trade events (docs/protocol.md §6.2).

Protocol: the client's first text frame is ``{"type":"user","auth":{"apiKey","secret","passphrase"},
"markets":["0x<condition id>",..]}``; ``markets`` missing or empty means every market. Raw credentials
are checked against the key store; anything else as the first frame (bad credentials, malformed JSON,
wrong type) closes the socket with 1008 (policy violation). Later frames
``{"operation":"subscribe"|"unsubscribe","markets":[..]}`` change the market set; text ``PING`` is
answered ``PONG`` (also before authentication). There is no ack frame.

Events reach every socket authenticated to the wallet (any of its API keys) whose market set covers
the event's ``market``. They are rendered once by the trading layer and pushed here as bytes; each
socket has its own queue and writer task so the engine's synchronous listeners never await, and a
socket whose backlog exceeds ``MAX_BACKLOG`` frames is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from .auth import ApiKey, KeyStore, verify_ws_creds
from .outbound import OutboundSocket

log = logging.getLogger(__name__)

MAX_BACKLOG = 20_000


class _UserSocket(OutboundSocket):
    __slots__ = ("all_markets", "api_key", "excluded", "markets")

    CHANNEL = "user-channel"
    MAX_BACKLOG = MAX_BACKLOG
    CLOSE_CODE = WSCloseCode.POLICY_VIOLATION

    def __init__(self, ws: web.WebSocketResponse) -> None:
        super().__init__(ws)
        self.api_key: ApiKey | None = None
        self.all_markets = True
        self.markets: set[str] = set()
        self.excluded: set[str] = set()

    def wants(self, market: str) -> bool:
        if self.all_markets:
            return market not in self.excluded
        return market in self.markets

    def set_markets(self, markets: list[str]) -> None:
        self.excluded.clear()
        self.all_markets = not markets
        self.markets = set(markets)


def _strings(values: object) -> list[str] | None:
    if values is None:
        return []
    if not isinstance(values, list):
        return None
    return list(dict.fromkeys(v.lower() for v in values if isinstance(v, str)))


class UserChannel:
    """User-channel hub: authenticated sockets by wallet, and event fan-out."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self._by_address: dict[str, set[_UserSocket]] = {}
        self._sockets: set[_UserSocket] = set()
        self.ignored: Counter[str] = Counter()
        #: Sockets closed for bad credentials / a bad first frame (for tests and diagnostics).
        self.rejected = 0

    @property
    def connections(self) -> int:
        return len(self._sockets)

    def has_listeners(self, address: str) -> bool:
        return bool(self._by_address.get(address.lower()))

    def publish(self, address: str, market: str, frame: bytes) -> None:
        """Queue ``frame`` to the wallet's sockets that subscribe to ``market``."""
        subs = self._by_address.get(address.lower())
        if not subs:
            return
        market = market.lower()
        for sub in subs:
            if sub.wants(market):
                sub.send(frame)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """aiohttp handler for ``GET /ws/user``."""
        ws = web.WebSocketResponse(autoping=True, max_msg_size=1024 * 1024)
        await ws.prepare(request)
        sub = _UserSocket(ws)
        self._sockets.add(sub)
        writer = asyncio.create_task(sub.drain())
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    if not self._on_text(sub, msg.data):
                        self.rejected += 1
                        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"invalid authentication")
                        break
                elif msg.type is WSMsgType.BINARY:
                    self.ignored["binary frame"] += 1
        finally:
            if sub.api_key is not None:
                subs = self._by_address.get(sub.api_key.address.lower())
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._by_address[sub.api_key.address.lower()]
            self._sockets.discard(sub)
            sub.queue.put_nowait(None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def close_all(self) -> None:
        for sub in list(self._sockets):
            with contextlib.suppress(Exception):
                await sub.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")

    def _on_text(self, sub: _UserSocket, text: str) -> bool:
        """Handle one client frame; False means: close the socket (failed authentication)."""
        stripped = text.strip()
        if stripped in ("PING", "ping"):
            sub.send(b"PONG")
            return True
        try:
            obj = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            self.ignored["malformed JSON"] += 1
            return sub.api_key is not None
        if not isinstance(obj, dict):
            self.ignored["not an object"] += 1
            return sub.api_key is not None
        fields = {k.lower(): v for k, v in obj.items() if isinstance(k, str)}
        markets = _strings(fields.get("markets"))
        operation = fields.get("operation")
        if sub.api_key is None or not isinstance(operation, str):
            kind = fields.get("type")
            if not (isinstance(kind, str) and kind.lower() == "user"):
                self.ignored["unknown message"] += 1
                return sub.api_key is not None
            api_key = verify_ws_creds(self.keys, fields.get("auth"))
            if api_key is None or markets is None:
                return sub.api_key is not None
            if sub.api_key is not None and sub.api_key.address.lower() != api_key.address.lower():
                self._by_address.get(sub.api_key.address.lower(), set()).discard(sub)
            sub.api_key = api_key
            sub.set_markets(markets)
            self._by_address.setdefault(api_key.address.lower(), set()).add(sub)
            return True
        if markets is None:
            self.ignored["bad markets list"] += 1
            return True
        op = operation.lower()
        if op == "subscribe":
            if sub.all_markets:
                sub.excluded.difference_update(markets)
            else:
                sub.markets.update(markets)
        elif op == "unsubscribe":
            if sub.all_markets:
                sub.excluded.update(markets)
            else:
                sub.markets.difference_update(markets)
        else:
            self.ignored["unknown operation"] += 1
        return True
