"""Retrying venue calls that fail for a moment: 425 (engine restart), 429 (rate limit, honouring the
venue's retry-after), 5xx and no answer at all (network errors, time-outs). Anything else — a 400, a
401, a refusal — is a real answer and is raised at once.

Used where a single transient error must not end the program: signing in, the start-up listing of
markets, and the catch-up with the venue. Bounded: after ``budget_s`` the last error is raised inside
``VenueUnavailable``, whose message says what was tried, for how long, and what the venue said.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({425, 429, 500, 502, 503, 504})
DEFAULT_BUDGET_S = 120.0


class VenueUnavailable(Exception):
    """The venue kept failing transiently for the whole retry budget."""


def status_of(e: BaseException) -> int | None:
    """The HTTP status of a venue error (py-clob-client-v2's ``PolyApiException``, our ``RestError``,
    httpx's ``HTTPStatusError``); None when there was no answer."""
    status = getattr(e, "status_code", None) or getattr(e, "status", None)
    if status is None and isinstance(e, httpx.HTTPStatusError):
        status = e.response.status_code
    try:
        return int(status) if status is not None else None
    except (TypeError, ValueError):
        return None


def is_transient(e: BaseException) -> bool:
    """A 425 / 429 / 5xx answer, or none at all (connection refused or reset, time-out)."""
    status = status_of(e)
    if status is not None:
        return status in RETRYABLE_STATUS
    return isinstance(e, OSError | TimeoutError | httpx.TransportError) or type(e).__name__ in (
        "PolyApiException", "RequestException")  # the SDK wraps network errors without a status


async def until_reachable(
    attempt: Callable[[], Awaitable[T]],
    wait: Callable[[str, float], Awaitable[None]],
    *,
    first_delay: float = 2.0,
    max_delay: float = 60.0,
) -> T:
    """``await attempt()`` until the venue lets it succeed, however long that takes: while the venue is
    unreachable or failing (transient errors, ``VenueUnavailable``), ``wait(why, seconds)`` shows
    ``venue unreachable: <why>`` and waits that long (doubling up to ``max_delay``). Other errors raise."""
    delay = first_delay
    while True:
        try:
            return await attempt()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            if not (is_transient(e) or isinstance(e, VenueUnavailable)):
                raise
            cause = e.__cause__ if isinstance(e, VenueUnavailable) and e.__cause__ is not None else e
            await wait(f"venue unreachable: {describe(cause)}", delay)
            delay = min(delay * 2, max_delay)


def retry_after(e: BaseException) -> float | None:
    """The venue's requested wait (``retry_after_seconds`` in the error body), if it gave one."""
    msg = getattr(e, "error_msg", None)
    if isinstance(msg, dict):
        try:
            v = msg.get("retry_after_seconds")
            return float(v) if v is not None else None
        except (TypeError, ValueError):
            return None
    return None


def describe(e: BaseException) -> str:
    """A venue error as one line: the status and the venue's text, else the exception's kind."""
    msg = getattr(e, "error_msg", None)
    if isinstance(msg, dict):
        msg = msg.get("error") or msg
    status = status_of(e)
    if status is not None:
        return f"{status} {msg if msg else e}".strip()
    text = str(msg or e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    budget_s: float = DEFAULT_BUDGET_S,
    on_retry: Callable[[str], None] | None = None,
    first_delay: float = 0.5,
    max_delay: float = 10.0,
) -> T:
    """``await call()`` until it succeeds; transient failures are retried with jittered exponential
    backoff for up to ``budget_s`` seconds (``on_retry`` hears each one), others raise at once."""
    deadline = time.monotonic() + budget_s
    delay = first_delay
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            if not is_transient(e):
                raise
            wait = retry_after(e) or delay * (0.5 + random.random())
            left = deadline - time.monotonic()
            if left <= 0 or wait > left:
                raise VenueUnavailable(f"{what}: the venue kept failing for {budget_s:.0f} s "
                                       f"({attempt} attempts); last: {describe(e)}") from e
            if on_retry is not None:
                on_retry(f"{what}: {describe(e)}; retrying in {wait:.1f} s (attempt {attempt})")
            await asyncio.sleep(wait)
            delay = min(delay * 2, max_delay)
