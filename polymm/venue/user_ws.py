"""Client for Polymarket's user channel (``/ws/user``): our orders and trades, as they happen.

Credentials go in the subscribe frame (docs/protocol.md §6.2); ``markets`` filters by condition id
(none = all). Text ``PING`` every 10 s keeps it alive. Reconnects with jittered backoff; after a
reconnect the owner reconciles over REST because events may have been missed meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import orjson
import websockets
from websockets.exceptions import ConnectionClosed

from ..domain.messages import ErrorCounter
from .reconnect import Backoff, ping_forever
from .wire import UserEvent, parse_user_frame

log = logging.getLogger(__name__)


class UserSocket:
    """Delivers parsed ``OrderEvent`` / ``TradeEvent`` values to ``on_event``. A malformed frame, or
    a bad item inside a frame (whose other events are still delivered), is skipped and counted in
    ``skipped`` by kind (``errors`` is the total), logged once per kind. ``on_connect`` runs after
    every (re)connection."""

    def __init__(
        self,
        url: str,
        api_key: str,
        secret: str,
        passphrase: str,
        on_event: Callable[[UserEvent], None],
        on_connect: Callable[[], None] = lambda: None,
        markets: Sequence[str] = (),
        ping_interval: float = 10.0,
        max_backoff: float = 10.0,
    ) -> None:
        self.url = url
        self._auth = {"apiKey": api_key, "secret": secret, "passphrase": passphrase}
        self.on_event = on_event
        self.on_connect = on_connect
        self.markets = list(markets)
        self.ping_interval = ping_interval
        self.max_backoff = max_backoff
        self.connected = False
        self.reconnects = 0
        self.skipped = ErrorCounter()  # bad frames and items, by kind
        self._stopped = asyncio.Event()
        self.subscribed = asyncio.Event()  # set once the first subscribe frame went out
        self._ws: websockets.ClientConnection | None = None

    @property
    def errors(self) -> int:
        """Frames and items skipped as unusable, all kinds together."""
        return self.skipped.total

    def __repr__(self) -> str:  # never show the credentials
        return f"UserSocket({self.url!r}, connected={self.connected})"

    async def run(self) -> None:
        backoff = Backoff(0.25, self.max_backoff)
        while not self._stopped.is_set():
            try:
                async with websockets.connect(self.url, max_size=None, ping_interval=None, compression=None) as ws:
                    self._ws = ws
                    sub: dict = {"type": "user", "auth": self._auth}
                    if self.markets:
                        sub["markets"] = self.markets
                    await ws.send(orjson.dumps(sub).decode())
                    self.connected = True
                    self.subscribed.set()
                    backoff.reset()
                    self.on_connect()
                    pinger = asyncio.create_task(ping_forever(ws, self.ping_interval))
                    try:
                        async for raw in ws:
                            if raw == "PONG":
                                continue
                            events, bad = parse_user_frame(raw)  # never raises
                            for err in bad:
                                if self.skipped.add(err):  # first of its kind: say what it looks like
                                    log.warning("skipping user-channel input (%s): %s", err.kind, err.detail)
                            for ev in events:
                                self.on_event(ev)
                    finally:
                        pinger.cancel()
            except asyncio.CancelledError:
                raise
            except (OSError, ConnectionClosed, websockets.InvalidHandshake, TimeoutError) as e:
                log.warning("user socket: %s", type(e).__name__)
            finally:
                self._ws = None
                self.connected = False
            if self._stopped.is_set():
                break
            self.reconnects += 1
            await backoff.wait(self._stopped)


    async def subscribe(self, markets: Sequence[str]) -> None:
        new = [m for m in markets if m not in self.markets]
        self.markets.extend(new)
        if new and self._ws is not None:
            await self._ws.send(orjson.dumps({"operation": "subscribe", "markets": new}).decode())

    async def stop(self) -> None:
        self._stopped.set()
        if self._ws is not None:
            await self._ws.close()
