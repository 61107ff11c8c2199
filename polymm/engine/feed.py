"""MarketFeed: WebSocket frames in, books updated, interested parties woken (coalesced).

Frames are parsed and applied on arrival (cheap: see bench/book_bench.py); the strategy is not
called per frame. Instead the ids of markets whose book changed are added to a dirty set and one
``asyncio.Event`` is set, so however many frames arrive in a burst, each market's strategy step
runs once for the burst. A malformed frame is counted and logged once per kind, never raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from ..domain.book_set import BookSet
from ..domain.market import Market
from ..domain.messages import BookSnapshot, LastTrade, parse_frame
from ..state import FeedState
from ..venue.market_ws import MarketSocket

log = logging.getLogger(__name__)


class MarketFeed:
    """Owns the market socket and the books. ``on_change(condition_ids)`` and ``on_trade(event)``
    are called synchronously from the frame handler; they must be quick (set flags, no I/O)."""

    def __init__(
        self,
        ws_url: str,
        markets: Iterable[Market],
        on_change: Callable[[set[str]], None],
        on_trade: Callable[[LastTrade], None] = lambda ev: None,
        on_log: Callable[[str, str], None] = lambda text, level: None,
    ) -> None:
        markets = list(markets)
        self.books = BookSet(markets)
        self.errors = self.books.errors  # one counter for parse and apply problems
        self.on_change = on_change
        self.on_trade = on_trade
        self.on_log = on_log
        self.status = "STOPPED"
        self.reason = ""
        self.frames = 0
        self.last_frame = 0.0
        self.snapshotted: set[str] = set()  # markets with a book snapshot since the last (re)connect
        tokens = [t for m in markets for t in (m.yes_token, m.no_token)]
        self.socket = MarketSocket(ws_url, self._on_frame, self._on_state, tokens)

    # ------------------------------------------------------------ socket callbacks
    def _on_state(self, status: str, reason: str) -> None:
        if status != "RUNNING":
            self.snapshotted.clear()  # until the new initial dump, no book is trusted
        if (status, reason) != (self.status, self.reason):
            self.status, self.reason = status, reason
            self.on_log(f"feed {status.lower()}{': ' + reason if reason else ''}",
                        "warning" if status in ("DEGRADED", "ERROR") else "info")
            self.on_change(set(self.books.books))  # health changed: every market re-evaluates

    def _on_frame(self, raw: bytes | str, recv_ns: int) -> None:
        self.frames += 1
        self.last_frame = time.monotonic()
        events, errors = parse_frame(raw)
        for err in errors:
            if self.errors.add(err):
                self.on_log(f"skipped malformed market data ({err.kind}): {err.detail}", "warning")
        if not events:
            return
        changed = self.books.apply(events)
        for ev in events:
            if isinstance(ev, BookSnapshot):
                book = self.books.by_token(ev.asset_id)
                if book is not None:
                    self.snapshotted.add(book.condition_id)
            elif isinstance(ev, LastTrade):
                self.on_trade(ev)
        if changed:
            self.on_change(changed)

    # ------------------------------------------------------------ control
    async def run(self) -> None:
        await self.socket.run()

    def stop(self) -> None:
        self.socket.stop()

    def trusted(self, condition_id: str) -> tuple[bool, str]:
        """Whether this market's book may be quoted on, and if not, why."""
        if self.status != "RUNNING":
            return False, f"feed {self.status.lower()}"
        if condition_id not in self.snapshotted:
            return False, "waiting for book snapshot"
        book = self.books.get(condition_id)
        if book is None:
            return False, "not subscribed"
        if book.crossed:
            return False, "book crossed"
        return True, ""

    def state(self) -> FeedState:
        age = time.monotonic() - self.last_frame if self.last_frame else None
        return FeedState(self.status, self.reason, self.frames, self.errors.total, self.socket.reconnects, age)

    async def add_market(self, market: Market) -> None:
        self.books.add(market)
        await self.socket.subscribe([market.yes_token, market.no_token])

    async def remove_market(self, market: Market) -> None:
        await self.socket.unsubscribe([market.yes_token, market.no_token])
        self.books.remove(market.condition_id)
        self.snapshotted.discard(market.condition_id)
