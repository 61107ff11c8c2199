"""MarketFeed: books you can trust, or a clear reason why not.

Frames are parsed and applied on arrival (cheap: see bench/book_bench.py); the strategy is not
called per frame. Changed markets go into a dirty set and one wake-up is signalled, so a burst of
frames costs each market one strategy step.

Trust, per market, needs all of: its shard's socket RUNNING, a book snapshot since the last
(re)connect or tick change, a book that is not crossed, a market that has not resolved. Otherwise
the engine cancels that market's quotes and shows the reason.

Health machine (per shard, and aggregated): STOPPED → STARTING → RUNNING ⇄ DEGRADED → ERROR (down
longer than ``error_after_s``), each with a reason. The monitor loop (every ``check_interval_s``):
* **Silent freeze.** A shard that is connected but has had no data for ``freeze_after_s`` is
  probed: REST ``/books`` levels of its markets against ours. Any difference means the socket is
  frozen: the books are resynced from REST and the socket is dropped (it reconnects by itself).
  Equal levels mean the markets are just quiet: no alarm.
* **Book check.** Markets quiet for a second are compared with REST every ``hash_check_s``, by
  their levels; a difference is counted (``hash_mismatches``) and the book resynced from REST. The
  hash is not evidence on its own: Polymarket's docs call ``price_change.hash`` the hash of the
  order, not of the book (docs/protocol.md §12), so a hash that differs from REST's while the levels agree is
  only counted (``hash_only_differences``).
* **Missing snapshot.** Markets of a connected shard still without a snapshot ``snapshot_wait_s``
  after it connected (the venue withheld or lost the initial dump, as after reconnecting into a
  frozen channel) take one from REST, again every ``snapshot_wait_s`` until they have one.
* **Socket down.** While a shard is not RUNNING its books are polled over REST every
  ``rest_poll_s``, so the screen stays current (quotes stay pulled until the socket is back).
* **Tick change.** A ``tick_size_change`` drops the market's trust until a REST snapshot on the new
  grid lands (fetched at once).

Sharding: at most ``max_assets_per_connection`` tokens per socket (both tokens of a market stay on
the same socket); new markets go to the last shard with room, or a new one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..domain.book_set import BookSet
from ..domain.market import Market
from ..domain.messages import BookSnapshot, LastTrade, TickSizeChange, parse_frame
from ..domain.order_book import Level
from ..domain.prices import price_to_pips
from ..domain.quantiles import nearest_rank
from ..state import FeedState, ShardState
from ..venue.market_ws import MarketSocket
from ..venue.rest import PublicClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedConfig:
    max_assets_per_connection: int = 200
    check_interval_s: float = 1.0
    freeze_after_s: float = 10.0
    hash_check_s: float = 30.0
    rest_poll_s: float = 2.0
    error_after_s: float = 30.0
    snapshot_wait_s: float = 3.0  # a connected shard's markets still without a snapshot → REST snapshots
    # a dropped socket's first reconnect wait and the longest, doubling between (POLYMM_FEED_RECONNECT_MIN_S/_MAX_S)
    reconnect_min_s: float = 0.25
    reconnect_max_s: float = 10.0


class _Shard:
    """One socket and the markets on it."""

    def __init__(self, index: int, feed: MarketFeed, url: str) -> None:
        self.index = index
        self.markets: list[str] = []  # condition ids
        self.status = "STOPPED"
        self.reason = ""
        self.since = time.monotonic()
        self.last_data = 0.0
        self.last_probe = 0.0
        self.last_poll = 0.0
        self.last_snapshot_ask = 0.0
        self.frames = 0
        self.applied_us: deque[float] = deque(maxlen=4000)  # receive → applied
        self.wire_ms: deque[float] = deque(maxlen=4000)  # exchange timestamp → receive
        self.socket = MarketSocket(url, lambda raw, ns: feed._on_frame(self, raw, ns),
                                   lambda st, why: feed._on_state(self, st, why), custom_features=True,
                                   min_backoff=feed.config.reconnect_min_s, max_backoff=feed.config.reconnect_max_s)

    def tokens(self, feed: MarketFeed) -> list[str]:
        return [t for cid in self.markets if (b := feed.books.get(cid)) for t in (b.yes_token, b.no_token)]

    def state(self) -> ShardState:
        p50, p99 = nearest_rank(self.applied_us, (0.5, 0.99))
        wire_p50, wire_p99 = nearest_rank(self.wire_ms, (0.5, 0.99))
        return ShardState(
            self.index, self.status, self.reason, len(self.markets), self.frames, self.socket.reconnects,
            None if p50 is None else p50 / 1000, None if p99 is None else p99 / 1000, wire_p50, wire_p99,
        )


class MarketFeed:
    """Owns the sockets and the books. ``on_change(condition_ids)`` and ``on_trade(event)`` are called
    synchronously from the frame handler; they must be quick (set flags, no I/O)."""

    def __init__(
        self,
        ws_url: str,
        markets: Iterable[Market],
        on_change: Callable[[set[str]], None],
        on_trade: Callable[[LastTrade], None] = lambda ev: None,
        on_log: Callable[[str, str], None] = lambda text, level: None,
        rest: PublicClient | None = None,
        config: FeedConfig | None = None,
        tap: Callable[[bytes | str, int], None] | None = None,
    ) -> None:
        self.url = ws_url
        self.config = config or FeedConfig()
        self.books = BookSet()
        #: market → ``perf_counter_ns`` receipt of the last frame that changed its book; the strategy step
        #: that acts on it takes it (tick-to-trade ends when the resulting orders leave)
        self.received_ns: dict[str, int] = {}
        self.errors = self.books.errors  # one counter for parse and apply problems
        self.on_change = on_change
        self.on_trade = on_trade
        self.on_log = on_log
        self.rest = rest
        self.tap = tap  # sees every raw frame first (the recorder), with its receive time (epoch ns)
        self.shards: list[_Shard] = []
        self._shard_of: dict[str, _Shard] = {}
        self.snapshotted: set[str] = set()  # markets with a snapshot since the last (re)connect/tick change
        self.frames = 0
        self.last_frame = 0.0
        self.freezes = 0
        self.resyncs = 0
        # Books whose levels differed from REST's in a check (each one resynced). The name is older
        # than the rule: the levels decide, never the hash alone (docs/protocol.md §12).
        self.hash_mismatches = 0
        self.hash_only_differences = 0  # checked books whose hash differed from REST's while the levels agreed
        self._last_change: dict[str, float] = {}
        self._tasks: set[asyncio.Task] = set()
        self._running = False
        self._stopped = False
        for m in markets:
            self._place(m)

    # ------------------------------------------------------------ shards
    def _place(self, market: Market) -> _Shard:
        self.books.add(market)
        per = max(2, self.config.max_assets_per_connection)
        shard = next((s for s in reversed(self.shards) if 2 * (len(s.markets) + 1) <= per), None)
        if shard is None:
            shard = _Shard(len(self.shards), self, self.url)
            self.shards.append(shard)
            if self._running:
                self._spawn(shard.socket.run())
        shard.markets.append(market.condition_id)
        self._shard_of[market.condition_id] = shard
        return shard

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ socket callbacks
    def _on_state(self, shard: _Shard, status: str, reason: str) -> None:
        if shard.status == "ERROR" and status == "DEGRADED":
            return  # still down: only a working connection clears ERROR
        if status != "RUNNING":
            self.snapshotted.difference_update(shard.markets)  # until the new initial dump
        if (status, reason) != (shard.status, shard.reason):
            if status != shard.status:
                shard.since = time.monotonic()
            shard.status, shard.reason = status, reason
            label = f"feed{'' if len(self.shards) == 1 else f' shard {shard.index}'}"
            self.on_log(f"{label} {status.lower()}{': ' + reason if reason else ''}",
                        "warning" if status in ("DEGRADED", "ERROR") else "info")
            self.on_change(set(shard.markets))  # health changed: those markets re-evaluate

    def _on_frame(self, shard: _Shard, raw: bytes | str, recv_ns: int) -> None:
        now = time.monotonic()
        self.frames += 1
        shard.frames += 1
        self.last_frame = shard.last_data = now
        if self.tap is not None:
            self.tap(raw, time.time_ns())
        events, errors = parse_frame(raw)
        for err in errors:
            if self.errors.add(err):
                self.on_log(f"skipped malformed market data ({err.kind}): {err.detail}", "warning")
        if not events:
            return
        changed = self.books.apply(events)
        shard.applied_us.append((time.perf_counter_ns() - recv_ns) / 1000)
        ts = events[-1].ts
        if ts:
            shard.wire_ms.append(time.time() * 1000 - ts)
        for ev in events:
            if isinstance(ev, BookSnapshot):
                book = self.books.by_token(ev.asset_id)
                if book is not None:
                    self.snapshotted.add(book.condition_id)
            elif isinstance(ev, LastTrade):
                self.on_trade(ev)
            elif isinstance(ev, TickSizeChange):
                book = self.books.by_token(ev.asset_id)
                if book is not None:  # new grid: untrusted until a fresh snapshot lands
                    self.snapshotted.discard(book.condition_id)
                    self.on_log(f"tick size {ev.old_tick_size} → {ev.new_tick_size}: resyncing", "warning")
                    self._spawn(self.resync([book.condition_id], "tick size change"))
        for cid in changed:
            self._last_change[cid] = now
            self.received_ns[cid] = recv_ns
        if changed:
            self.on_change(changed)

    # ------------------------------------------------------------ REST
    async def resync(self, condition_ids: list[str], why: str) -> int:
        """Replace these markets' books with REST snapshots; returns how many were applied."""
        if self.rest is None or not condition_ids:
            return 0
        books = {b.yes_token: b for cid in condition_ids if (b := self.books.get(cid)) is not None}
        asked = {token: b.version for token, b in books.items()}
        try:
            snaps = await self.rest.get_books(list(books))
        except Exception as e:
            self.on_log(f"REST resync ({why}) failed: {type(e).__name__}: {e}", "warning")
            return 0
        # A book the socket updated while we waited is newer than this snapshot: keep it.
        snaps = [s for s in snaps if s.asset_id in books and books[s.asset_id].version == asked[s.asset_id]]
        changed = self.books.apply(snaps)
        shard_ok = {cid for cid in changed if (s := self._shard_of.get(cid)) and s.status == "RUNNING"}
        self.snapshotted |= shard_ok
        self.resyncs += len(snaps)
        if changed:
            self.on_change(changed)
        return len(snaps)

    async def _probe(self, condition_ids: list[str]) -> list[str]:
        """Markets whose levels differ from REST ``/book``'s: the venue moved without telling us, or
        we lost an update. Only the levels count: a lost delta can leave our levels wrong under the
        venue's current hash (later deltas carry it), and a hash can differ while the levels agree
        (docs/protocol.md §12: the docs call ``price_change.hash`` the hash of the order). A hash-only
        difference is counted in ``hash_only_differences``. Levels are compared exactly: both sides
        parse the same decimal strings. A book the socket changed during the fetch is left out: it
        is newer than the snapshot."""
        if self.rest is None:
            return []
        books = {b.yes_token: b for cid in condition_ids if (b := self.books.get(cid)) is not None}
        asked = {token: b.version for token, b in books.items()}
        differ: list[str] = []
        for snap in await self.rest.get_books(list(books)):
            book = books.get(snap.asset_id)
            if book is None or book.version != asked[snap.asset_id]:
                continue
            bids, asks = book.levels_for(book.yes_token)
            try:
                venue_bids = [Level(price_to_pips(lv.price), lv.size) for lv in snap.bids]
                venue_asks = [Level(price_to_pips(lv.price), lv.size) for lv in snap.asks]
            except ValueError:
                continue
            if bids != venue_bids or asks != venue_asks:  # levels compare by value
                differ.append(book.condition_id)
            elif snap.hash and book.hashes.get(snap.asset_id) != snap.hash:
                self.hash_only_differences += 1
        return differ

    async def _monitor(self) -> None:
        cfg = self.config
        while not self._stopped:
            await asyncio.sleep(cfg.check_interval_s)
            now = time.monotonic()
            for shard in list(self.shards):
                try:
                    await self._check_shard(shard, now)
                except Exception as e:  # REST trouble must not stop monitoring
                    log.warning("feed monitor: %s: %s", type(e).__name__, e)

    async def _check_shard(self, shard: _Shard, now: float) -> None:
        if shard.status != "RUNNING":
            await self._check_down(shard, now)
            return
        await self._ask_missing_snapshots(shard, now)
        await self._check_books(shard, now)

    async def _check_down(self, shard: _Shard, now: float) -> None:
        """A shard not RUNNING: ERROR once down for ``error_after_s``; its books polled over REST meanwhile."""
        cfg = self.config
        if now - shard.since > cfg.error_after_s and shard.status != "ERROR" and shard.status != "STOPPED":
            self._on_state(shard, "ERROR", f"down for {now - shard.since:.0f} s")
        if now - shard.last_poll >= cfg.rest_poll_s:
            shard.last_poll = now
            await self.resync(list(shard.markets), "socket down")

    async def _ask_missing_snapshots(self, shard: _Shard, now: float) -> None:
        """Markets still without a snapshot ``snapshot_wait_s`` after connecting take one from REST."""
        waiting = [cid for cid in shard.markets if cid not in self.snapshotted]
        wait = self.config.snapshot_wait_s
        if waiting and now - shard.since >= wait and now - shard.last_snapshot_ask >= wait:
            shard.last_snapshot_ask = now  # e.g. reconnected while the venue withheld the initial dump
            self.on_log(f"no snapshot for {len(waiting)} market(s) {now - shard.since:.0f} s after connecting: "
                        "taking them from REST", "warning")
            await self.resync(waiting, "no snapshot")

    async def _check_books(self, shard: _Shard, now: float) -> None:
        """Compare books with REST when due: all of them after ``freeze_after_s`` of silence (a frozen
        socket), else the quiet ones every ``hash_check_s`` (a lost update)."""
        cfg = self.config
        silent = now - max(shard.last_data, shard.since)
        frozen_suspect = silent >= cfg.freeze_after_s
        quiet = [cid for cid in shard.markets if now - self._last_change.get(cid, 0.0) >= 1.0]
        due = cfg.freeze_after_s if frozen_suspect else cfg.hash_check_s
        if not quiet or now - shard.last_probe < due:
            return
        shard.last_probe = now
        differ = await self._probe(list(shard.markets) if frozen_suspect else quiet)
        if differ and frozen_suspect:
            await self._unfreeze(shard, differ, silent)
            return
        bad = [cid for cid in differ if cid in quiet]
        if bad:
            self.hash_mismatches += len(bad)
            self.on_log(f"book mismatch with the venue on {len(bad)} market(s): resyncing from REST", "warning")
            await self.resync(bad, "book mismatch")

    async def _unfreeze(self, shard: _Shard, differ: list[str], silent: float) -> None:
        """A silent socket whose books differ from the venue's is frozen: resync them, reconnect."""
        self.freezes += 1
        self.on_log(f"feed frozen ({silent:.0f} s without data while {len(differ)} books differ from the venue's): "
                    "resyncing and reconnecting", "error")
        await self.resync(differ, "frozen socket")
        await shard.socket.drop()

    # ------------------------------------------------------------ control
    async def run(self) -> None:
        if self.rest is not None:  # initial REST snapshot first: books on screen before the sockets' dump
            await self.resync(list(self.books.books), "start-up")
        self._running = True
        for shard in self.shards:
            shard.socket.assets = shard.tokens(self)
            self._spawn(shard.socket.run())
        await self._monitor()

    def stop(self) -> None:
        self._stopped = True
        for shard in self.shards:
            shard.socket.stop()

    @property
    def status(self) -> str:
        states = [s.status for s in self.shards]
        if not states or all(s == "STOPPED" for s in states):
            return "STOPPED"
        if all(s == "RUNNING" for s in states):
            return "RUNNING"
        if any(s == "ERROR" for s in states):
            return "ERROR"
        return "STARTING" if all(s in ("STARTING", "STOPPED") for s in states) else "DEGRADED"

    @property
    def reason(self) -> str:
        return "; ".join(f"shard {s.index}: {s.reason}" if len(self.shards) > 1 else s.reason
                         for s in self.shards if s.status != "RUNNING" and s.reason)

    def trusted(self, condition_id: str, crossed_ok: bool = False) -> tuple[bool, str]:
        """Whether this market's book may be quoted on, and if not, why (``crossed_ok``: whether it may be
        traded against while crossed — a parity gap's take)."""
        book = self.books.get(condition_id)
        if book is None:
            return False, "not subscribed"
        if book.resolved:
            return False, "market resolved"
        shard = self._shard_of.get(condition_id)
        if shard is None or shard.status != "RUNNING":
            state = shard.status.lower() if shard else "stopped"
            return False, f"feed {state}" + (" (REST polling)" if shard and self.rest else "")
        if condition_id not in self.snapshotted:
            return False, "waiting for book snapshot"
        if book.crossed and not crossed_ok:
            return False, "book crossed"
        return True, ""

    def state(self) -> FeedState:
        age = time.monotonic() - self.last_frame if self.last_frame else None
        shards = tuple(s.state() for s in self.shards)
        p99s = [s.applied_p99_ms for s in shards if s.applied_p99_ms is not None]
        p50s = [s.applied_p50_ms for s in shards if s.applied_p50_ms is not None]
        return FeedState(
            self.status, self.reason, self.frames, self.errors.total,
            sum(s.socket.reconnects for s in self.shards), age,
            shards=shards, freezes=self.freezes, resyncs=self.resyncs, hash_mismatches=self.hash_mismatches,
            applied_p50_ms=max(p50s) if p50s else None, applied_p99_ms=max(p99s) if p99s else None,
        )

    async def add_market(self, market: Market) -> None:
        if self.books.get(market.condition_id) is not None:
            return
        fresh = not self._running
        shard = self._place(market)
        if not fresh:
            await shard.socket.subscribe([market.yes_token, market.no_token])
            await self.resync([market.condition_id], "new market")

    async def remove_market(self, market: Market) -> None:
        shard = self._shard_of.pop(market.condition_id, None)
        if shard is not None:
            await shard.socket.unsubscribe([market.yes_token, market.no_token])
            shard.markets.remove(market.condition_id)
        self.books.remove(market.condition_id)
        self.snapshotted.discard(market.condition_id)
        self._last_change.pop(market.condition_id, None)
        self.received_ns.pop(market.condition_id, None)
