"""``GET /ws/market``: the market channel's WebSocket end (docs/protocol.md §6.1).

Each socket is a sink of the simulation's ``MarketChannel`` with its own ordered outbound queue and
writer task (``OutboundSocket``); a socket whose backlog exceeds ``MAX_BACKLOG`` frames is closed (a
slow consumer must resync anyway).
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSMsgType, web

from ..sim.market_channel import MarketChannel
from .faults import Faults
from .outbound import OutboundSocket

MAX_BACKLOG = 50_000


class MarketSocket(OutboundSocket):
    """One market-channel socket's ordered outbound queue."""

    __slots__ = ()

    CHANNEL = "market-channel"
    MAX_BACKLOG = MAX_BACKLOG


class MarketSockets:
    """The market channel's sockets: accepts them, attaches each to the channel, closes them all."""

    def __init__(self, channel: MarketChannel, faults: Faults) -> None:
        self.channel = channel
        self.faults = faults
        self._sockets: set[MarketSocket] = set()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """aiohttp handler for ``GET /ws/market``."""
        ws = web.WebSocketResponse(autoping=True, max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        sock = MarketSocket(ws)
        sub = self.channel.attach(sock)
        self._sockets.add(sock)
        self.faults.sockets.add(ws, "market")
        writer = asyncio.create_task(sock.drain())
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self.channel.receive(sub, msg.data)
                elif msg.type is WSMsgType.BINARY:
                    self.channel.ignored["binary frame"] += 1
        finally:
            self.faults.sockets.discard(ws)
            self.channel.detach(sub)
            self._sockets.discard(sock)
            sock.queue.put_nowait(None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def close_all(self) -> None:
        """Close every socket (server shutdown)."""
        for sock in list(self._sockets):
            with contextlib.suppress(Exception):
                await sock.ws.close(code=1001, message=b"server shutdown")

    async def blast(self, frames: list[bytes], tokens: set[str], chunk: int = 2000) -> int:
        """Push pre-built frames, in order, to every socket subscribed to any of ``tokens``, as fast
        as the sockets take them (benchmarks). Waits for each backlog to drain below
        ``MAX_BACKLOG / 5`` between chunks, so the slow-socket guard is never tripped."""
        socks = [
            s.sink for s in self.channel.subscriptions
            if s.assets & tokens and isinstance(s.sink, MarketSocket) and not s.sink.closing
        ]
        for i in range(0, len(frames), chunk):
            for s in socks:
                while s.queue.qsize() > MAX_BACKLOG // 5:
                    await asyncio.sleep(0.001)
            for frame in frames[i : i + chunk]:
                for s in socks:
                    s.queue.put_nowait(frame)
        return len(frames) * len(socks)
