"""A WebSocket with its own ordered outbound queue and writer task (both stand-in channels).

The engine's listeners are synchronous and must never await a slow peer, so frames are queued
per socket and written by ``drain`` in order. A socket whose backlog reaches ``MAX_BACKLOG`` is
closed instead of buffering without bound (a slow consumer has to resync anyway). ``None`` in the
queue tells the writer to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import WSCloseCode, WSMsgType, web

log = logging.getLogger(__name__)


class OutboundSocket:
    """Subclasses set ``CHANNEL`` (for the log), ``MAX_BACKLOG`` and ``CLOSE_CODE``."""

    __slots__ = ("closing", "queue", "ws")

    CHANNEL = "websocket"
    MAX_BACKLOG = 50_000
    CLOSE_CODE = WSCloseCode.OK

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closing = False

    def send(self, frame: bytes | None) -> None:
        if self.closing:
            return
        if frame is not None and self.queue.qsize() >= self.MAX_BACKLOG:
            log.warning("closing slow %s socket (%d frames queued)", self.CHANNEL, self.MAX_BACKLOG)
            self.closing = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(frame)

    async def drain(self) -> None:
        """Write queued frames in order until told to stop or the socket fails."""
        try:
            while True:
                frame = await self.queue.get()
                if frame is None:
                    break
                await self.ws.send_frame(frame, WSMsgType.TEXT)
        except (ConnectionError, RuntimeError):
            pass  # the peer went away; the reader side notices and cleans up
        finally:
            if self.closing:
                with contextlib.suppress(Exception):
                    await self.ws.close(code=self.CLOSE_CODE)
