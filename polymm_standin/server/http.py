"""The stand-in's HTTP answers: JSON bodies and the venue's ``{"error": message}`` errors."""

from __future__ import annotations

import math
from typing import Any

import orjson
from aiohttp import web


class ApiError(Exception):
    """An HTTP error the venue answers as ``{"error": message}`` (docs/protocol.md §2), never a traceback.
    ``extra`` adds fields to the body (a 429's ``retry_after_seconds``), ``headers`` to the response."""

    def __init__(
        self, status: int, message: str, *, headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}

    def response(self) -> web.Response:
        """The error as the venue answers it."""
        return json_response({"error": self.message, **self.extra}, self.status, self.headers or None)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer (orjson), as every stand-in route gives it."""
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json", headers=headers)


def retry_after(seconds: float) -> tuple[dict[str, Any], dict[str, str]]:
    """How every 429 of the stand-in says when to come back: the body's ``retry_after_seconds`` (as given)
    and the ``Retry-After`` header (whole seconds, rounded up)."""
    return {"retry_after_seconds": seconds}, {"Retry-After": str(max(0, math.ceil(seconds)))}
