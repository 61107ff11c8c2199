"""Fault controls of the stand-in exchange: one mutable object every part of the server reads.

Tests set these through the Python API (``standin.faults``) or the loopback admin routes under
``/_admin/``. Each part of the server consults only the fields that concern it:

* the HTTP middleware: ``latency_s`` and the queued ``http_errors`` (status, count, retry-after);
* the market channel: ``market_ws_frozen`` (socket open, ``PONG`` still answered, no data);
* heartbeats: ``heartbeats_honoured`` (False = silence never cancels) and
  ``heartbeat_reply_without_id``;
* trades: ``ghost_fills`` (the next N trades go MATCHED then FAILED instead of CONFIRMED);
* the relayer: ``relayer_failures`` (the next N relayed transactions go STATE_FAILED, nothing applied);
* every WebSocket handler registers its sockets in ``sockets`` (a ``SocketRegistry``), so one call
  (``standin.drop_all_websockets()`` / ``POST /_admin/drop-websockets``) can drop them all.
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from aiohttp import web

#: Default status messages of the error bursts (docs/protocol.md §5.3 / §8 wording where it exists).
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


Check = Callable[[str, object], object]


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false")
    return value


def _seconds(lo: float, hi: float) -> Check:
    def check(name: str, value: object) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise ValueError(f"{name} must be a number")
        if not lo <= value <= hi:
            raise ValueError(f"{name} must be within [{lo:g}, {hi:g}]")
        return float(value)

    return check


def _count(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    return value


def _fault(default: Any, check: Check, doc: str) -> Any:
    """A settable fault: its default (what ``clear`` restores), how a new value is checked, and what it does."""
    return field(default=default, metadata={"check": check, "doc": doc})


@dataclass(slots=True)
class Faults:
    """Every fault the stand-in can inject. A field declared with ``_fault`` is settable by
    ``/_admin/faults`` (validated by its check), shown by ``as_dict`` and reset by ``clear``: adding a
    fault is its field here plus the code that reads it."""

    latency_s: float = _fault(0.0, _seconds(0, 60), "every HTTP request except /_admin/ waits this long")
    market_ws_frozen: bool = _fault(False, _flag, "market sockets stay open and answer PONG, but send no data")
    heartbeats_honoured: bool = _fault(True, _flag, "False: heartbeats are answered but silence cancels nothing")
    ghost_fills: int = _fault(0, _count, "the next N trades with a real participant fail (MATCHED → FAILED)")
    #: Answer heartbeats as Polymarket's docs page shows (``{"status": "ok"}``, no id, nothing chained)
    #: instead of the SDK's chained ``heartbeat_id`` (docs/protocol.md §12): a client must handle both.
    heartbeat_reply_without_id: bool = _fault(False, _flag, "heartbeats answered {status: ok}, nothing chained")
    #: The relayer (docs/protocol.md §15): accepted transactions that then revert on chain.
    relayer_failures: int = _fault(0, _count, "the next N relayed transactions end STATE_FAILED, balances untouched")
    #: Queued error bursts (``add_http_errors``; ``/_admin/faults`` appends to them).
    http_errors: list[HttpErrorBurst] = field(default_factory=list)
    #: Open WebSockets of every channel (not cleared by ``clear()``: it is bookkeeping, not a fault).
    sockets: SocketRegistry = field(default_factory=SocketRegistry)
    #: Requests answered by a burst so far, by status (bookkeeping for ``/_admin/stats``, not cleared).
    injected: Counter[int] = field(default_factory=Counter)

    @classmethod
    def settable(cls) -> dict[str, Check]:
        """The settable faults by name, with their checks."""
        return {f.name: f.metadata["check"] for f in fields(cls) if "check" in f.metadata}

    def validated(self, values: dict[str, object]) -> dict[str, object]:
        """``values`` checked (ValueError naming the field and what it allows), nothing changed."""
        checks = self.settable()
        unknown = set(values) - set(checks)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        return {name: checks[name](name, value) for name, value in values.items()}

    def apply(self, values: dict[str, object]) -> None:
        """Set faults from ``validated`` values."""
        for name, value in values.items():
            setattr(self, name, value)

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
        out: dict[str, Any] = {name: getattr(self, name) for name in self.settable()}
        out["http_errors"] = [b.as_dict() for b in self.http_errors]
        return out

    def take_http_error(self, path: str) -> HttpErrorBurst | None:
        """Consume one error from the first burst that applies to ``path``, if any."""
        for burst in self.http_errors:
            if burst.count > 0 and path.startswith(burst.path_prefix):
                burst.count -= 1
                self.injected[burst.status] += 1
                if burst.count == 0:
                    self.http_errors.remove(burst)
                return burst
        return None

    def take_ghost_fill(self) -> bool:
        if self.ghost_fills > 0:
            self.ghost_fills -= 1
            return True
        return False

    def take_relayer_failure(self) -> bool:
        if self.relayer_failures > 0:
            self.relayer_failures -= 1
            return True
        return False

    def clear(self) -> None:
        for f in fields(self):
            if "check" in f.metadata:
                setattr(self, f.name, f.default)
        self.http_errors.clear()
