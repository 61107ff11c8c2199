"""The execution interface shared by PaperExecution and LiveExecution.

The engine speaks only in YES terms: a quote is (side, YES price, size). Execution decides how
it goes to the venue (LiveExecution may send a YES ask at p as a NO bid at 1 − p) and reports
our open orders back in YES terms, so the engine's diffing never sees the difference.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from ..domain.ledger import Ledger
from ..domain.market import Market, Side
from ..domain.order_book import OrderBook
from ..domain.portfolio import Fill
from ..domain.prices import MAX_PIPS
from ..state import OrderView

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A quote to place, in YES terms."""

    side: Side
    price: int  # pips
    size: Decimal


@dataclass(frozen=True, slots=True)
class Pacing:
    """How the order path paces itself against the venue's limits (venue/ratelimit.py), and how fast it
    reacts: tick-to-trade is the time from the market-data frame a step acted on to its orders leaving
    for the venue (ms, the last minute's placements; None before the first)."""

    queued: int = 0  # requests waiting for the rate limiter
    throttled_1m: int = 0  # requests it held back in the last minute
    venue_429s: int = 0  # "too many requests" the venue answered anyway
    tick_to_trade_p50_ms: float | None = None
    tick_to_trade_p99_ms: float | None = None
    post_p99_ms: float | None = None  # sending a batch to the venue's answer, the last minute's (latency alerts)


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """One of our orders as the engine sees it (YES terms).

    ``status``: ``submitted`` (sent, outcome not yet known — counts as resting until reconciled),
    ``live`` (acknowledged by the venue). Filled or cancelled orders leave the open set.
    """

    order_id: str
    condition_id: str
    side: Side
    price: int
    size: Decimal
    filled: Decimal = ZERO
    status: str = "live"
    token_id: str = ""
    venue_side: str = ""  # the side at the venue (a YES ask sent on the NO token is a NO BUY)
    queue_ahead: float = 0.0  # paper only: displayed size ahead of us when we joined
    placed_at: float = field(default_factory=time.time)  # epoch seconds: stale-order cleanup

    @property
    def remaining(self) -> Decimal:
        return self.size - self.filled

    def view(self) -> OrderView:
        return OrderView(self.order_id, self.side.value, self.price, self.size, self.filled, self.placed_at)


def route(market: Market, req: OrderRequest, free: Callable[[str], Decimal]) -> tuple[str, str, int]:
    """(token, venue side, venue price) for a YES-terms quote, selling what we hold first: a YES ask
    is a SELL of YES when ``free(yes_token)`` covers it, else a BUY of NO at 1 − p; a YES bid is a
    SELL of NO at 1 − p when we hold the NO shares, else a BUY of YES. The exposure is the same."""
    if req.side is Side.SELL:
        if free(market.yes_token) >= req.size:
            return market.yes_token, "SELL", req.price
        return market.no_token, "BUY", MAX_PIPS - req.price
    if free(market.no_token) >= req.size:
        return market.no_token, "SELL", MAX_PIPS - req.price
    return market.yes_token, "BUY", req.price


class ChannelStatus(Protocol):
    """A venue socket's health as the metrics show it."""

    @property
    def connected(self) -> bool: ...

    @property
    def reconnects(self) -> int: ...


class ExecutionHealth(Protocol):
    """What every execution reports about its order path, for the risk loop, the screen and the metrics.

    Declared, never probed: an execution without a venue (paper) reports zeros, no foreign client and
    no paused market, and None for the parts it does not have (a heartbeat, a user channel)."""

    @property
    def orders_placed(self) -> int:
        """Orders the venue accepted (paper: orders placed)."""
        ...

    @property
    def pending_fills(self) -> int:
        """Fills matched but not yet confirmed on chain."""
        ...

    @property
    def rejects(self) -> int:
        """Orders the venue refused."""
        ...

    @property
    def retries(self) -> int:
        """Batch posts sent again (a busy venue, no answer)."""
        ...

    @property
    def failed_fills(self) -> int:
        """Fills reversed because the venue reported them FAILED after matching."""
        ...

    @property
    def mismatches(self) -> int:
        """Positions taken from the venue because they differed from the ledger."""
        ...

    @property
    def paused_markets(self) -> Mapping[str, str]:
        """Markets paused until a clean comparison with the venue: condition id → why."""
        ...

    @property
    def foreign_alert(self) -> str:
        """Why another client is taken to trade this wallet ("" while none is): the engine halts."""
        ...

    @property
    def heartbeat_age(self) -> float | None:
        """Seconds since the venue last accepted our heartbeat; None without one (yet)."""
        ...

    @property
    def user_channel(self) -> ChannelStatus | None:
        """The user WebSocket; None without one (paper, or before ``start``)."""
        ...

    #: called with the seconds from sending a batch of orders to the venue's answer (metrics); an
    #: execution without a venue round trip never calls it
    on_post_latency: Callable[[float], None] | None
    #: called (from a worker thread) with the seconds from a market-data frame's receipt to the orders it
    #: led to leaving for the venue (metrics); an execution without a venue never calls it
    on_tick_to_trade: Callable[[float], None] | None

    def recent_errors(self, window_s: float = 10.0) -> int:
        """Venue errors on the order path in the last ``window_s`` seconds (the error burst rules)."""
        ...

    def rate_usage(self, window_s: float = 1.0) -> tuple[int, int]:
        """(orders, cancels) spent against the venue's per-signer rate buckets in the last ``window_s``."""
        ...

    def pacing(self) -> Pacing:
        """The rate limiter's queue and refusals, and tick-to-trade (``Pacing``)."""
        ...


class Execution(ExecutionHealth, Protocol):
    """What the engine needs from an execution venue.

    Fills are booked by the execution into ``ledger`` (the engine's) and then reported through the
    ``on_fill`` callback it was built with (journal, log, signals); ``venue_balance`` declares whether
    ``collateral_balance`` reads a venue (live) or there is none (paper). The health it reports is
    declared in ``ExecutionHealth``."""

    name: str
    venue_balance: bool
    ledger: Ledger

    async def start(self, markets: Sequence[Market]) -> None: ...

    async def close(self) -> None: ...

    async def run(self) -> None:
        """Background work (heartbeat, user channel, reconciliation); runs until cancelled."""
        ...

    async def place_many(self, market: Market, book: OrderBook | None, reqs: Sequence[OrderRequest],
                         origin_ns: int = 0) -> list[str]:
        """Place quotes; returns the ids of the orders accepted (or still in flight). ``origin_ns``: the
        ``perf_counter_ns`` receipt of the market-data frame that led to them (tick-to-trade; 0 none)."""
        ...

    def try_place(self, n: int, ahead: int = 0) -> bool:
        """Take the rate-limit room for ``n`` new quotes if it is there now (the placement that follows
        uses it) beyond ``ahead`` orders of requotes waiting their turn before this one; False when
        they would have to wait — a strategy step then puts the requote off: its old quotes stay, and
        a plan that waited would be stale by the time it went out."""
        ...

    def touched(self) -> set[str]:
        """The markets whose orders changed (placed, cancelled, filled, closed) since the last call: the
        engine re-reads only their positions."""
        ...

    def release_places(self, n: int) -> None:
        """Give back the room ``try_place`` took for ``n`` quotes that were not sent after all."""
        ...

    def place_eta(self, n: int, ahead: int = 0) -> float:
        """Seconds until ``n`` new quotes could go out without waiting, after ``ahead`` orders of
        requotes waiting before them (0 when ``try_place`` would take them now)."""
        ...

    async def cancel(self, order_ids: Sequence[str]) -> list[str]: ...

    async def cancel_all(self) -> int:
        """Cancel every order of ours at the venue (waits for in-flight placements first)."""
        ...

    async def cancel_market(self, condition_id: str) -> int: ...

    def open_orders(self, condition_id: str | None = None) -> list[OpenOrder]: ...

    def locked_collateral(self) -> float:
        """Dollars our open orders lock at the venue: the remainder of each BUY at the price of the
        token it buys (the balance check before a placement: ``Engine._affordable``)."""
        ...

    def set_tick(self, market: Market) -> None:
        """The market's tick changed: orders from now on use the new grid."""
        ...

    def on_book(self, book: OrderBook) -> None: ...

    def on_trade(self, book: OrderBook, asset_id: str, price: int, size: float, taker_is_buy: bool) -> list: ...

    async def add_market(self, market: Market) -> None:
        """A market joins while running: known to the execution (tokens, tick) before its first order."""
        ...

    def ready(self, condition_id: str | None = None) -> tuple[bool, str]:
        """Whether quoting may go on in ``condition_id`` (or at all, for None): what we hold there is
        known. Else (False, why) — shown on screen while nothing is quoted."""
        ...

    def reserved(self, condition_id: str | None = None, *, closing_only: bool = False
                 ) -> dict[str, tuple[Decimal, Decimal]]:
        """condition id → (YES bid shares, YES ask shares) of our orders that could still fill: open
        ones (unless ``closing_only``) and cancelled ones whose fills may still be on their way."""
        ...

    async def settled(self, condition_id: str, timeout: float) -> bool:
        """Wait at most ``timeout`` until no cancelled order of the market can still fill."""
        ...

    async def collateral_balance(self) -> float:
        """The venue's collateral balance (raises when it cannot be read); only if ``venue_balance``."""
        ...

    async def take(self, market: Market, book: OrderBook, req: OrderRequest) -> tuple[Decimal, str]:
        """A marketable order (fill and kill: what does not match at ``req.price`` or better is cancelled),
        routed like a quote; returns (shares matched as far as known, "" or why it was refused)."""
        ...

    # ---- capital operations (polymm/engine/capital.py)
    #: pairs are merged, not sold (``POLYMM_AUTO_MERGE``): quotes sell only the shares beyond the pairs
    keep_pairs: bool

    def free_shares(self, token: str) -> Decimal:
        """Shares of ``token`` we may offer or merge: settled, not offered by a resting sell, not held for
        a capital operation in flight."""
        ...

    def hold_capital(self, condition_id: str, shares: Mapping[str, Decimal]) -> None:
        """A capital operation in flight will burn ``shares`` (token → count): they are not offered, and
        the market's balances are not compared with the venue's until ``release_capital``."""
        ...

    def release_capital(self, condition_id: str) -> None: ...

    def book_capital(self, market: Market, yes: Decimal, no: Decimal, price: int | None) -> list[Fill]:
        """A confirmed capital operation moved our YES and NO counts by ``yes`` and ``no``. ``price`` None
        (a merge or split: pairs, worth 1 whatever the price): the counts move, the position and P&L do not.
        Else (a redeem) it is booked as adjustments at ``price`` (YES-terms pips), reported like fills."""
        ...

    async def resolution(self, condition_id: str) -> str | None:
        """"YES" or "NO" once the venue says the market resolved, else None (also when unreadable)."""
        ...


def sellable(market: Market | None, token: str, free: Callable[[str], Decimal], keep_pairs: bool) -> Decimal:
    """Shares of ``token`` a quote may sell: ``free`` ones, less — when pairs are kept for merging
    (``POLYMM_AUTO_MERGE``) — the YES+NO pairs among them, which go back to pUSD instead of backing sells."""
    n = free(token)
    if not keep_pairs or market is None:
        return n
    other = market.no_token if token == market.yes_token else market.yes_token
    return n - max(ZERO, min(n, free(other)))


def book_capital(ledger: Ledger, market: Market, yes: Decimal, no: Decimal, price: int | None, ts: float,
                 on_fill: Callable[[Fill], None]) -> list[Fill]:
    """``Execution.book_capital`` for every execution: counts moved, or one adjustment per token."""
    fills: list[Fill] = []
    for token, is_no, delta in ((market.yes_token, False, yes), (market.no_token, True, no)):
        if delta and price is None:
            ledger.move(token, market.condition_id, is_no, delta)
        elif delta and price is not None:
            fill = ledger.adjust(token, market.condition_id, is_no, ledger.shares(token) + delta, price, ts)
            if fill is not None:
                fills.append(fill)
                on_fill(fill)
    return fills
