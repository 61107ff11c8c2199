"""Heartbeats (cancel-on-disconnect) of the stand-in exchange: POST ``/v1/heartbeats``.

Semantics (docs/protocol.md §5.4, §10.12), per wallet address (all API keys of one wallet share a session):

* No session yet: a heartbeat with ``heartbeat_id: ""`` starts one and is answered with a fresh id.
* Active session: the request must carry the id last issued; it is answered with the next id and the
  deadline moves to now + ``timeout_s``. Any other id (``""`` included) → 400
  ``{"error":"Invalid Heartbeat ID","heartbeat_id":"<expected>"}`` and the deadline does NOT move,
  so a client that lost its chain can resume with the id in the error.
* Silence: ``timeout_s`` (10 s by default; configurable) after the last accepted heartbeat, ALL the
  wallet's live orders are cancelled and the session ends; the next heartbeat must again be ``""``
  (a stale id gets the 400 with ``"heartbeat_id": ""``).
* ``faults.heartbeats_honoured = False`` models a venue that ignores the feature: heartbeats are still
  answered and chained normally, but silence never cancels anything (the session stays open; switched
  back on, a session whose deadline already passed is cancelled at the next check).

The clock is monotonic (``time.monotonic`` by default), never the wall clock.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from . import http

DEFAULT_HEARTBEAT_TIMEOUT_S = 10.0
INVALID_HEARTBEAT = "Invalid Heartbeat ID"


class HeartbeatError(http.ApiError):
    """A stale heartbeat id; carries the id the server expected."""

    def __init__(self, expected: str) -> None:
        super().__init__(400, INVALID_HEARTBEAT)
        self.expected = expected


@dataclass(slots=True)
class _Session:
    expected: str
    deadline: float


class Heartbeats:
    """Heartbeat chains and deadlines per wallet address (lower-cased)."""

    def __init__(
        self, timeout_s: float = DEFAULT_HEARTBEAT_TIMEOUT_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.timeout_s = timeout_s
        self._clock = clock
        self._sessions: dict[str, _Session] = {}

    def beat(self, address: str, heartbeat_id: str) -> str:
        """Accept one heartbeat and return the next id, or raise ``HeartbeatError``."""
        low = address.lower()
        session = self._sessions.get(low)
        expected = session.expected if session is not None else ""
        if heartbeat_id != expected:
            raise HeartbeatError(expected)
        new_id = str(uuid.uuid4())
        self._sessions[low] = _Session(new_id, self._clock() + self.timeout_s)
        return new_id

    def keep_alive(self, address: str) -> None:
        """A heartbeat without an id chain (the docs' shape): the deadline moves, any id is fine."""
        self._sessions[address.lower()] = _Session("", self._clock() + self.timeout_s)

    def active(self, address: str) -> bool:
        return address.lower() in self._sessions

    def expired(self) -> list[str]:
        """End and return the (lower-cased) addresses whose deadline passed."""
        now = self._clock()
        gone = [a for a, s in self._sessions.items() if s.deadline <= now]
        for a in gone:
            del self._sessions[a]
        return gone

    def next_deadline(self) -> float | None:
        return min((s.deadline for s in self._sessions.values()), default=None)

    def clear(self) -> None:
        self._sessions.clear()
