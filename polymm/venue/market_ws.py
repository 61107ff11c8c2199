"""Client for Polymarket's market channel (``/ws/market``): connection, keep-alive, reconnects.

It knows nothing about books: it hands every raw data frame to ``on_frame(raw, recv_ns)`` and
reports its connection state through ``on_state(status, reason)``. Protocol facts it follows
(docs/protocol.md §6.1): the first text frame subscribes; later changes use ``operation``; the client
sends text ``PING`` every 10 s and the server answers text ``PONG`` (not JSON).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

import orjson
import websockets
from websockets.exceptions import ConnectionClosed

from ..domain.prices import human
from .reconnect import Backoff, ping_forever

log = logging.getLogger(__name__)

PING_INTERVAL_S = 10.0


class MarketSocket:
    """One market-channel connection that resubscribes and reconnects by itself.

    ``run()`` loops until ``stop()``: connect, subscribe to the current asset set (initial dump on),
    read frames; on any drop wait a jittered exponential backoff (``min_backoff`` doubling to
    ``max_backoff``: 0.25 s to 10 s unless given, POLYMM_FEED_RECONNECT_MIN_S/_MAX_S) and connect again.
    ``subscribe``/``unsubscribe`` take effect live and survive reconnects.
    """

    def __init__(
        self,
        url: str,
        on_frame: Callable[[bytes | str, int], None],
        on_state: Callable[[str, str], None] = lambda s, r: None,
        assets: Iterable[str] = (),
        ping_interval: float = PING_INTERVAL_S,
        max_backoff: float = 10.0,
        custom_features: bool = False,
        min_backoff: float = 0.25,
    ) -> None:
        if not 0 < min_backoff <= max_backoff:
            raise ValueError(f"reconnect backoff: expected 0 < min_backoff ≤ max_backoff, got {human(min_backoff)} "
                             f"and {human(max_backoff)}")
        self.url = url
        self.custom_features = custom_features  # best_bid_ask / new_market / market_resolved
        self.on_frame = on_frame
        self.on_state = on_state
        self.assets: list[str] = list(dict.fromkeys(assets))
        self.ping_interval = ping_interval
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.reconnects = 0
        self.last_pong = 0.0
        self._ws: websockets.ClientConnection | None = None
        self._stopped = asyncio.Event()
        self._closing: asyncio.Future | None = None

    async def run(self) -> None:
        backoff = Backoff(self.min_backoff, self.max_backoff)
        first = True
        while not self._stopped.is_set():
            self.on_state("STARTING" if first else "DEGRADED", "connecting" if first else "reconnecting")
            try:
                async with websockets.connect(self.url, max_size=None, ping_interval=None, compression=None) as ws:
                    self._ws = ws
                    await ws.send(
                        orjson.dumps(
                            {"type": "market", "assets_ids": self.assets, "initial_dump": True, "level": 2,
                             "custom_feature_enabled": self.custom_features}
                        ).decode()
                    )
                    self.on_state("RUNNING", "")
                    backoff.reset()
                    await self._read(ws)
                # A clean close ends the loop without an exception: the socket is down all the same,
                # and saying RUNNING through the backoff would keep stale books trusted.
                if not self._stopped.is_set():
                    self.on_state("DEGRADED", "disconnected: closed")
            except asyncio.CancelledError:
                raise
            except (OSError, ConnectionClosed, websockets.InvalidHandshake, TimeoutError) as e:
                log.warning("market socket %s: %s", self.url, e)
                self.on_state("DEGRADED", f"disconnected: {type(e).__name__}")
            finally:
                self._ws = None
            if self._stopped.is_set():
                break
            first = False
            self.reconnects += 1
            await backoff.wait(self._stopped)
        self.on_state("STOPPED", "")

    async def _read(self, ws: websockets.ClientConnection) -> None:
        pinger = asyncio.create_task(ping_forever(ws, self.ping_interval))
        try:
            async for raw in ws:
                if raw == "PONG":
                    self.last_pong = time.monotonic()
                    continue
                self.on_frame(raw, time.perf_counter_ns())
        finally:
            pinger.cancel()


    async def subscribe(self, assets: Iterable[str]) -> None:
        new = [a for a in assets if a not in self.assets]
        if not new:
            return
        self.assets.extend(new)
        if self._ws is not None:
            await self._ws.send(orjson.dumps({"operation": "subscribe", "assets_ids": new}).decode())

    async def unsubscribe(self, assets: Iterable[str]) -> None:
        gone = [a for a in assets if a in self.assets]
        if not gone:
            return
        self.assets = [a for a in self.assets if a not in gone]
        if self._ws is not None:
            await self._ws.send(orjson.dumps({"operation": "unsubscribe", "assets_ids": gone}).decode())

    async def drop(self) -> None:
        """Close the current connection (it reconnects): used on a suspected frozen feed."""
        if self._ws is not None:
            await self._ws.close()

    def stop(self) -> None:
        self._stopped.set()
        if self._ws is not None:
            self._closing = asyncio.ensure_future(self._ws.close())  # keep a reference until it runs
