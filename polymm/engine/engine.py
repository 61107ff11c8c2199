"""The Engine: wires feed, strategy, execution, portfolio and risk, and owns all trading state.

One command API (``kill``, ``rearm``, ``set_params``, ``pause``, ``resume``, ``add_market``,
``remove_market``) serves the TUI and the CLI alike; nothing else mutates engine state. Three
long-running loops — ``run_feed``, ``run_strategy``, ``run_risk`` — are hosted by whoever runs the
engine (Textual workers in ``polymm-tui``, a task group in ``polymm run``). Each loop is guarded:
an exception is reported and engages the kill switch instead of dying silently.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal

from ..config import ConfigError, MarketParams, Settings
from ..domain.market import Market, Side
from ..domain.messages import LastTrade
from ..domain.portfolio import Fill, Portfolio
from ..domain.prices import PriceError, pips_to_decimal, pips_to_str, price_to_pips
from ..domain.quoting import Targets, fixed_quotes, to_pips
from ..state import ExecutionState, MarketState, PortfolioState, RiskState, StateStore, VenueState
from ..venue.execution import Execution, OrderRequest
from ..venue.recorder import FrameWriter
from ..venue.rest import PublicClient
from .execution_factory import build_execution
from .feed import FeedConfig, MarketFeed

log = logging.getLogger(__name__)

ZERO = Decimal(0)


class Engine:
    """See the module docstring. Create, ``await start()``, then run the three loops."""

    def __init__(
        self,
        settings: Settings,
        markets: list[Market],
        store: StateStore | None = None,
        *,
        mode: str = "PAPER",
        venue_host: str = "",
        execution: Execution | None = None,
    ) -> None:
        self.settings = settings
        self.store = store or StateStore()
        self.mode = mode
        self.markets: dict[str, Market] = {m.condition_id: m for m in markets}
        self.params: dict[str, MarketParams] = {}
        self.paused: set[str] = set()
        self.portfolio = Portfolio()
        self.execution: Execution = execution or build_execution(settings, mode, self._on_fill, self.store.log)
        self.halted = False
        self.halt_reason = ""
        self._halted_at = 0.0
        self._dirty: set[str] = set(self.markets)
        self._wake = asyncio.Event()
        self._last_fair: dict[str, float] = {}
        self._last_epoch: dict[str, int] = {}
        self._force: set[str] = set(self.markets)
        self._targets: dict[str, Targets] = {}
        self._untrusted: dict[str, str] = {}
        self._quoting: set[str] = set()  # markets whose last step quoted
        self._stopping = False
        self._locks: dict[str, asyncio.Lock] = {}  # one step at a time per market
        for m in markets:
            self.params[m.condition_id] = self._default_params(m)
        self.public = PublicClient(settings.clob_url, settings.gamma_url)
        self.recorder = FrameWriter(settings.record_dir) if settings.record_dir else None
        self.feed = MarketFeed(
            f"{settings.ws_url}/ws/market", markets, self._on_books_changed, self._on_trade, self.store.log,
            rest=self.public,
            config=FeedConfig(
                max_assets_per_connection=settings.feed_assets_per_connection,
                freeze_after_s=settings.feed_stale_s,
                hash_check_s=settings.feed_hash_check_s,
                rest_poll_s=settings.feed_rest_poll_s,
            ),
            tap=self.recorder.write if self.recorder is not None else None,
        )
        self.store.set("venue", VenueState(mode, venue_host or settings.clob_url, self.execution.name))
        self.store.set("markets", tuple(self.markets))
        self._publish_risk()

    def _default_params(self, market: Market) -> MarketParams:
        p = self.settings.default_params()
        tick = market.tick.decimal
        spread = max(p.spread - p.spread % tick, 2 * tick)
        size = max(p.size, market.min_order_size)
        step = max(p.layer_step - p.layer_step % tick, tick)
        return p.updated(spread=spread, size=size, layer_step=step).check_for(market)

    # ================================================================ command API
    async def kill(self, reason: str = "operator kill switch") -> int:
        """Cancel every resting order and latch HALTED until ``rearm``. Idempotent."""
        first = not self.halted
        self.halted = True
        self.halt_reason = reason
        if first:
            self._halted_at = time.time()
        self._publish_risk()
        n = await self.execution.cancel_all()
        self.store.log(f"KILL: {reason}; cancelled {n} orders", "error")
        for cid in self.markets:
            self._publish_market(cid)
        return n

    async def rearm(self) -> None:
        """Clear the HALTED latch; every market requotes on its next step."""
        if not self.halted:
            return
        self.halted = False
        self.halt_reason = ""
        self._force.update(self.markets)
        self._publish_risk()
        self.store.log("re-armed by operator", "warning")
        self._mark_dirty(set(self.markets))

    def set_params(self, condition_id: str, **changes: object) -> MarketParams:
        """Change a market's parameters; raises ConfigError (value unchanged) when invalid."""
        market = self._market(condition_id)
        new = self.params[condition_id].updated(**changes).check_for(market)
        if new.size > self.settings.max_order_size:
            raise ConfigError(f"size: must be at most the risk cap {self.settings.max_order_size} (got {new.size})")
        self.params[condition_id] = new
        self._force.add(condition_id)
        self.store.log(f"{market.short_question}: " + ", ".join(f"{k}={v}" for k, v in changes.items()))
        self._mark_dirty({condition_id})
        return new

    async def pause(self, condition_id: str) -> None:
        self._market(condition_id)
        self.paused.add(condition_id)
        await self.execution.cancel_market(condition_id)
        self._mark_dirty({condition_id})

    def resume(self, condition_id: str) -> None:
        self._market(condition_id)
        self.paused.discard(condition_id)
        self._force.add(condition_id)
        self._mark_dirty({condition_id})

    async def add_market(self, market: Market) -> None:
        if market.condition_id in self.markets:
            return
        self.markets[market.condition_id] = market
        self.params[market.condition_id] = self._default_params(market)
        self._force.add(market.condition_id)
        await self.feed.add_market(market)
        self.store.set("markets", tuple(self.markets))
        self.store.log(f"added {market.short_question}")

    async def remove_market(self, condition_id: str) -> None:
        market = self._market(condition_id)
        await self.execution.cancel_market(condition_id)
        await self.feed.remove_market(market)
        del self.markets[condition_id]
        self.store.set("markets", tuple(self.markets))
        self.store.delete(f"market/{condition_id}")
        self.store.delete(f"book/{condition_id}")
        self.store.log(f"removed {market.short_question}")

    def _market(self, condition_id: str) -> Market:
        try:
            return self.markets[condition_id]
        except KeyError:
            raise ConfigError(f"market: unknown condition id {condition_id!r}") from None

    # ================================================================ loops
    async def start(self) -> None:
        """Connect the execution venue (credentials, orphan clean-up) before the loops run."""
        await self.execution.start(list(self.markets.values()))
        self.store.log(f"execution {self.execution.name} ready")

    async def run_execution(self) -> None:
        """The execution's own background work (heartbeat, user channel, reconciliation)."""
        await self.execution.run()

    async def run_feed(self) -> None:
        await self.feed.run()

    async def run_strategy(self) -> None:
        """Step the markets whose book changed (coalesced), or all of them on the fallback timer."""
        interval = self.settings.quote_interval_s
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            except TimeoutError:
                self._dirty.update(self.markets)
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            # markets step concurrently: one market's round trip never delays another's quotes
            await asyncio.gather(*(self._step_locked(cid) for cid in dirty if cid in self.markets))
            self._publish_portfolio()

    async def run_risk(self, interval: float = 0.5) -> None:
        """Publish feed and execution health; kill on limits that are not per order: total
        position, a burst of venue errors, a heartbeat that stopped succeeding."""
        while not self._stopping:
            self.store.set("feed", self.feed.state())
            ex = self.execution
            hb = getattr(ex, "heartbeat_age", None)
            errors = ex.recent_errors(10.0) if hasattr(ex, "recent_errors") else 0
            self.store.set("execution", ExecutionState(
                ex.name, len(ex.open_orders()), getattr(ex, "pending_fills", 0), hb, errors,
                getattr(ex, "rejects", 0), getattr(ex, "retries", 0),
            ))
            total = sum((abs(p.qty) for p in self.portfolio.positions.values()), ZERO)
            if not self.halted:
                if total > self.settings.max_total_position:
                    await self.kill(f"total position {total} over limit {self.settings.max_total_position}")
                elif errors > self.settings.max_errors_10s:
                    await self.kill(f"venue error burst: {errors} errors in 10 s")
                elif hb is not None and hb > self.settings.heartbeat_timeout_s:
                    await self.kill(f"heartbeat failing for {hb:.0f} s")
            await asyncio.sleep(interval)

    async def guard(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """Run one loop; an exception is logged and engages the kill switch (never silent)."""
        try:
            await loop()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("%s loop failed", name)
            self.store.log(f"{name} loop crashed: {type(e).__name__}: {e}", "error")
            await self.kill(f"{name} loop crashed: {type(e).__name__}")
            raise

    async def run(self) -> None:
        """All three loops (headless mode); returns when ``stop`` is called."""
        await self.start()
        await asyncio.gather(
            self.guard("feed", self.run_feed), self.guard("strategy", self.run_strategy),
            self.guard("risk", self.run_risk), self.guard("execution", self.run_execution),
        )

    async def stop(self, cancel_orders: bool = True) -> None:
        self._stopping = True
        self._wake.set()
        if cancel_orders:
            await self.execution.cancel_all()
        self.feed.stop()
        await self.execution.close()
        await self.public.aclose()
        if self.recorder is not None:
            self.recorder.close()

    # ================================================================ one market's step
    async def _step_locked(self, cid: str) -> None:
        lock = self._locks.setdefault(cid, asyncio.Lock())
        async with lock:
            await self.step(cid)

    async def step(self, cid: str) -> None:
        market = self.markets[cid]
        book = self.feed.books.get(cid)
        if book is None:
            return
        self.execution.on_book(book)
        view = book.view(10)  # one snapshot per step: the store's and the model's
        self.store.set(f"book/{cid}", view)
        ok, why = self.feed.trusted(cid)
        if self.halted or cid in self.paused or not ok:
            if self.execution.open_orders(cid):
                await self.execution.cancel_market(cid)
            if not ok and cid in self._quoting:  # say so only when there was something to pull
                self.store.log(f"{market.short_question}: quotes pulled, {why}", "warning")
            self._quoting.discard(cid)
            self._untrusted[cid] = why if not ok else ""
            self._force.add(cid)
            self._publish_market(cid)
            return
        self._untrusted.pop(cid, None)
        self._quoting.add(cid)
        if book.tick != market.tick:  # a tick_size_change: requote on the new grid, everywhere
            market = replace(market, tick=book.tick)
            self.markets[cid] = market
            self.execution.set_tick(market)
            self.store.log(f"{market.short_question}: tick is now {market.tick}", "warning")
        params = self.params[cid]
        pos = self.portfolio.position(cid).qty
        targets = fixed_quotes(view, pos, params)
        self._targets[cid] = targets
        if targets.fair is None:
            self._publish_market(cid)
            return
        moved = abs(targets.fair - self._last_fair.get(cid, -1e9)) >= to_pips(params.requote_threshold)
        epoch = self._last_epoch.get(cid) != book.epoch
        open_orders = self.execution.open_orders(cid)
        want = {(q.side, q.price, q.size) for q in targets.quotes}
        have_sides = {o.side for o in open_orders}
        sides_changed = have_sides != {q.side for q in targets.quotes}
        crossing = any(
            (o.side is Side.BUY and view.best_ask is not None and o.price >= view.best_ask)
            or (o.side is Side.SELL and view.best_bid is not None and o.price <= view.best_bid)
            for o in open_orders
        )
        if cid in self._force or moved or epoch or sides_changed or crossing:
            self._force.discard(cid)
            self._last_fair[cid] = targets.fair
            self._last_epoch[cid] = book.epoch
            keep = {(o.side, o.price, o.remaining) for o in open_orders} & want
            stale = [o.order_id for o in open_orders if (o.side, o.price, o.remaining) not in keep]
            if stale:
                await self.execution.cancel(stale)
            if self.halted or cid in self.paused:
                return  # a kill landed while we were cancelling: place nothing
            placed = {(o.side, o.price, o.remaining) for o in self.execution.open_orders(cid)}
            reqs = []
            for side, price, size in sorted(want - placed, key=lambda t: (t[0].value, t[1])):
                if size > self.settings.max_order_size:
                    self.store.log(f"vetoed {side.value} {size} @ {pips_to_str(price)}: over max order size",
                                   "warning")
                    continue
                reqs.append(OrderRequest(side, price, size))
            if reqs:
                await self.execution.place_many(market, book, reqs)
        self._publish_market(cid)

    # ================================================================ feed callbacks
    def _on_books_changed(self, cids: set[str]) -> None:
        self._mark_dirty(cids)

    def _mark_dirty(self, cids: set[str]) -> None:
        self._dirty |= cids
        self._wake.set()

    def _on_trade(self, ev: LastTrade) -> None:
        book = self.feed.books.by_token(ev.asset_id)
        if book is None:
            return
        try:
            price = price_to_pips(ev.price)
        except PriceError:
            return  # already counted by the feed as a bad price; never raise into the frame handler
        self.execution.on_trade(book, ev.asset_id, price, ev.size, ev.side == "BUY")

    def _on_fill(self, fill: Fill) -> None:
        if not self.portfolio.apply(fill):
            return
        m = self.markets.get(fill.condition_id)
        name = m.short_question if m else fill.condition_id[:10]
        self.store.log(f"fill {fill.side.value} {fill.size} @ {pips_to_str(fill.price)} {name}")
        self._mark_dirty({fill.condition_id})

    # ================================================================ publishing
    def _mark(self, cid: str) -> Decimal | None:
        """The mid as an exact price (the sum of best bid and ask is an int number of pips)."""
        book = self.feed.books.get(cid)
        if book is None or book.bid() is None or book.ask() is None:
            return None
        return pips_to_decimal(book.best_bid + book.best_ask) / 2

    def _publish_market(self, cid: str) -> None:
        m = self.markets[cid]
        pos = self.portfolio.position(cid)
        params = self.params[cid]
        if self.halted:
            status, reason = "halted", self.halt_reason
        elif cid in self.paused:
            status, reason = "paused", "paused by operator"
        elif self._untrusted.get(cid):
            status, reason = "untrusted", self._untrusted[cid]
        else:
            t = self._targets.get(cid)
            status, reason = "quoting", t.reason if t else "waiting for book"
        self.store.set(
            f"market/{cid}",
            MarketState(
                condition_id=cid,
                question=m.question,
                status=status,
                reason=reason,
                orders=tuple(o.view() for o in self.execution.open_orders(cid)),
                position=pos.qty,
                avg_price=pos.avg_price if pos.qty else None,
                realized_pnl=pos.realized,
                unrealized_pnl=pos.unrealized(self._mark(cid)),
                fills=pos.fills,
                spread=params.spread,
                size=params.size,
                position_limit=params.position_limit,
            ),
        )

    def _publish_portfolio(self) -> None:
        marks = {cid: self._mark(cid) for cid in self.markets}
        realized, unreal, fees, fills = self.portfolio.totals(marks)
        new = PortfolioState(realized, unreal, fees, fills)
        if self.store.get("portfolio") != new:
            self.store.set("portfolio", new)

    def _publish_risk(self) -> None:
        self.store.set("risk", RiskState(self.halted, self.halt_reason, self._halted_at if self.halted else 0.0))
