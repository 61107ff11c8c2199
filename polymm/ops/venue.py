"""The venue as the operator commands see it: its public health (``ping``: reachable, latency, CLOB
version, server time and our clock's skew) and its errors as one line (``venue_error``)."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import httpx

from ..config import Settings
from .errors import os_cause, os_problem, timed_out

CLOCK_OK_S = 2.0  # /time has whole seconds: within this the clocks agree as far as we can tell
CLOCK_FAIL_S = 10.0  # beyond this L2 signatures (seconds timestamps) risk 401s


def venue_error(e: BaseException) -> str:
    """A venue exception as one line: status and the venue's error text; for a connection that failed,
    its cause (``connection refused (…)``, ``host unreachable (…)``: ``errors.os_problem``, also when
    the SDK wraps it as ``Request exception!``); else the exception's kind and text."""
    msg = getattr(e, "error_msg", None)
    if isinstance(msg, dict):
        msg = msg.get("error") or msg
    status = getattr(e, "status_code", None)
    if status is not None:
        return f"{status} {msg}"
    cause = os_problem(e) if os_cause(e) is not None else "no answer in time" if timed_out(e) else None
    if cause is not None:
        return cause
    text = str(msg or e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


@dataclass(frozen=True)
class Ping:
    """The venue's public health: ``/ok`` latency, ``/version``, ``/time`` and our clock's skew."""

    url: str
    reachable: bool
    latency_ms: float | None = None
    version: int | None = None
    server_time: int | None = None
    skew_s: float | None = None  # venue clock − ours (positive: ours is behind)
    error: str = ""


async def ping(settings: Settings, timeout: float = 5.0) -> Ping:
    """``GET /ok``, ``/version`` and ``/time`` of the venue; never raises for venue trouble."""
    url = settings.clob_url
    async with httpx.AsyncClient(timeout=timeout) as http:
        try:
            t0 = time.perf_counter()
            r = await http.get(f"{url}/ok")
            latency = (time.perf_counter() - t0) * 1000
            if r.status_code != 200:
                return Ping(url, False, latency, error=f"/ok answered {r.status_code}")
            version = None
            with contextlib.suppress(Exception):
                v = (await http.get(f"{url}/version")).json()
                raw = v.get("version") if isinstance(v, dict) else None
                version = int(raw) if raw is not None else None
            before = time.time()
            r = await http.get(f"{url}/time")
            after = time.time()
            server = int(r.json())
        except (httpx.HTTPError, ValueError, TypeError) as e:
            return Ping(url, False, error=venue_error(e))
    # /time is whole seconds, truncated: the venue's clock read somewhere in [server, server + 1)
    skew = (server + 0.5) - (before + after) / 2
    return Ping(url, True, round(latency, 1), version, server, round(skew, 1))
