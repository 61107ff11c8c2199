"""How the operator commands write ids, counts and ages in their reports."""

from __future__ import annotations

import time


def short(cid: str) -> str:
    """A long id as its first 8 and last 4 characters."""
    return f"{cid[:8]}…{cid[-4:]}" if len(cid) > 14 else cid


def count(n: int, noun: str) -> str:
    """``1 order``, ``2 orders``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def ago(ts: float | None) -> str:
    """How long ago epoch ``ts`` was, in s, min or h (``never`` for None)."""
    if ts is None:
        return "never"
    s = max(0.0, time.time() - ts)
    return f"{s:.0f} s ago" if s < 120 else f"{s / 60:.0f} min ago" if s < 7200 else f"{s / 3600:.1f} h ago"
