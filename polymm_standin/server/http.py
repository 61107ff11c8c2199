"""The stand-in's HTTP answers: JSON bodies and the venue's ``{"error": message}`` errors."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web


class ApiError(Exception):
    """An HTTP error the venue answers as ``{"error": message}`` (docs/protocol.md §2), never a traceback."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer (orjson), as every stand-in route gives it."""
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json", headers=headers)
