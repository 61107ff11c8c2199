"""What every venue WebSocket client needs: jittered exponential backoff and the PING loop."""

from __future__ import annotations

import asyncio
import random

import websockets


class Backoff:
    """Waits ``delay × U(0.5, 1.5)``, doubling from ``initial`` up to ``maximum``; ``reset`` after a
    good connection. ``wait`` returns early when ``stop`` is set."""

    def __init__(self, initial: float = 0.25, maximum: float = 10.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self._delay = initial

    def reset(self) -> None:
        self._delay = self.initial

    async def wait(self, stop: asyncio.Event) -> None:
        delay = self._delay * (0.5 + random.random())
        self._delay = min(self._delay * 2, self.maximum)
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
        except TimeoutError:
            pass


async def ping_forever(ws: websockets.ClientConnection, interval: float) -> None:
    """Polymarket's keep-alive: a text ``PING`` every ``interval`` s (the server answers ``PONG``)."""
    while True:
        await asyncio.sleep(interval)
        await ws.send("PING")
