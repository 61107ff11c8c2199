"""Cursor paging of the venue's list routes (docs/protocol.md §5.5): base64 offsets, ``LTE=`` at the end."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from . import http

START_CURSOR = "MA=="
END_CURSOR = "LTE="


def encode_cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    """Offset of a ``next_cursor`` (``MA==`` = 0, ``LTE=`` = end → -1); ApiError on junk."""
    if not cursor:
        return 0
    try:
        offset = int(base64.b64decode(cursor, validate=True).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise http.ApiError(400, f"invalid next_cursor: {cursor!r}") from None
    if offset < -1:
        raise http.ApiError(400, f"invalid next_cursor: {cursor!r}")
    return offset


def page(items: list[Any], cursor: str | None, limit: int) -> dict[str, Any]:
    """One page of the CLOB envelope ``{limit,count,next_cursor,data}``."""
    offset = decode_cursor(cursor)
    if offset < 0:
        return {"limit": limit, "count": 0, "next_cursor": END_CURSOR, "data": []}
    data = items[offset : offset + limit]
    nxt = offset + limit
    return {
        "limit": limit,
        "count": len(data),
        "next_cursor": encode_cursor(nxt) if nxt < len(items) else END_CURSOR,
        "data": data,
    }
