"""Fault controls of the stand-in exchange: one mutable object every part of the server reads.

Tests set these through the Python API (``standin.faults``) or the loopback admin routes under
``/_admin/``. Each part of the server consults only the fields that concern it:

* the HTTP middleware: ``latency_s`` and the queued ``http_errors`` (status, count, retry-after);
* the market channel: ``market_ws_frozen`` (socket open, ``PONG`` still answered, no data);
* heartbeats: ``heartbeats_honoured`` (False = silence never cancels, or every heartbeat is
  treated as missing — see the trading module);
* trades: ``ghost_fills`` (the next N trades go MATCHED then FAILED instead of CONFIRMED);
* every WebSocket handler registers its sockets in ``sockets`` (a ``SocketRegistry``), so one call
  (``standin.drop_all_websockets()`` / ``POST /_admin/drop-websockets``) can drop them all.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

#: Default status messages of the error bursts (PROTOCOL §5.3 / §8 wording where it exists).
HTTP_ERROR_MESSAGES: dict[int, str] = {
    425: "Too Early: the matching engine is restarting, retry shortly",
    429: "Too Many Requests",
    500: "internal server error",
    503: "Trading is currently disabled. Check polymarket.com for updates",
}


@dataclass(slots=True)
class HttpErrorBurst:
    """Answer the next ``count`` matching requests with ``status`` (425 / 429 / 503)."""

    status: int
    count: int
    retry_after_s: float = 1.0
    path_prefix: str = "/"  # only requests whose path starts with this
    message: str = ""  # the ``error`` text; empty = ``HTTP_ERROR_MESSAGES[status]``

    @property
    def text(self) -> str:
        return self.message or HTTP_ERROR_MESSAGES.get(self.status, "error")

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "count": self.count,
            "retry_after_s": self.retry_after_s,
            "path_prefix": self.path_prefix,
            "message": self.text,
        }


class SocketRegistry:
    """Every open WebSocket of the stand-in, by channel (``"market"``, ``"user"``), for fault drops."""

    def __init__(self) -> None:
        self._sockets: dict[web.WebSocketResponse, str] = {}

    def add(self, ws: web.WebSocketResponse, channel: str) -> None:
        self._sockets[ws] = channel

    def discard(self, ws: web.WebSocketResponse) -> None:
        self._sockets.pop(ws, None)

    def count(self, channel: str | None = None) -> int:
        return sum(1 for c in self._sockets.values() if channel is None or c == channel)

    async def close_all(self, channel: str | None = None, code: int = 1012, message: bytes = b"dropped") -> int:
        """Close every registered socket (of ``channel``, or all); returns how many were closed."""
        victims = [ws for ws, c in self._sockets.items() if channel is None or c == channel]
        for ws in victims:
            self._sockets.pop(ws, None)
            with contextlib.suppress(Exception):
                await ws.close(code=code, message=message)
        return len(victims)


@dataclass(slots=True)
class Faults:
    latency_s: float = 0.0
    http_errors: list[HttpErrorBurst] = field(default_factory=list)
    market_ws_frozen: bool = False
    heartbeats_honoured: bool = True
    ghost_fills: int = 0
    #: Answer heartbeats as Polymarket's docs page shows (``{"status": "ok"}``, no id, nothing chained)
    #: instead of the SDK's chained ``heartbeat_id`` (PROTOCOL §12): a client must handle both.
    heartbeat_reply_without_id: bool = False
    #: Open WebSockets of every channel (not cleared by ``clear()``: it is bookkeeping, not a fault).
    sockets: SocketRegistry = field(default_factory=SocketRegistry)

    def add_http_errors(
        self, status: int, count: int, retry_after_s: float = 1.0, path_prefix: str = "/", message: str = ""
    ) -> HttpErrorBurst:
        """Answer the next ``count`` requests under ``path_prefix`` with ``status`` (validated)."""
        if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error code 400..599, got {status!r}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"count must be a positive integer, got {count!r}")
        if not isinstance(retry_after_s, int | float) or isinstance(retry_after_s, bool) or retry_after_s < 0:
            raise ValueError(f"retry_after_s must be a number >= 0, got {retry_after_s!r}")
        if not isinstance(path_prefix, str) or not path_prefix.startswith("/"):
            raise ValueError(f"path_prefix must start with '/', got {path_prefix!r}")
        if not isinstance(message, str):
            raise ValueError("message must be a string")
        burst = HttpErrorBurst(status, count, float(retry_after_s), path_prefix, message)
        self.http_errors.append(burst)
        return burst

    def as_dict(self) -> dict[str, Any]:
        return {
            "latency_s": self.latency_s,
            "http_errors": [b.as_dict() for b in self.http_errors],
            "market_ws_frozen": self.market_ws_frozen,
            "heartbeats_honoured": self.heartbeats_honoured,
            "ghost_fills": self.ghost_fills,
            "heartbeat_reply_without_id": self.heartbeat_reply_without_id,
        }

    def take_http_error(self, path: str) -> HttpErrorBurst | None:
        """Consume one error from the first burst that applies to ``path``, if any."""
        for burst in self.http_errors:
            if burst.count > 0 and path.startswith(burst.path_prefix):
                burst.count -= 1
                if burst.count == 0:
                    self.http_errors.remove(burst)
                return burst
        return None

    def take_ghost_fill(self) -> bool:
        if self.ghost_fills > 0:
            self.ghost_fills -= 1
            return True
        return False

    def clear(self) -> None:
        self.latency_s = 0.0
        self.http_errors.clear()
        self.market_ws_frozen = False
        self.heartbeats_honoured = True
        self.ghost_fills = 0
        self.heartbeat_reply_without_id = False
