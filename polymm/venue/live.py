"""LiveExecution: real orders through the official ``py-clob-client-v2``.

How it behaves, and why:

* **Off the event loop.** The client is synchronous (httpx); every call runs on a dedicated
  thread pool so the event loop only decides and renders: posts ``workers`` threads, cancels
  ``cancel_workers``, reads their own ``read_workers``, the kill one thread of its own. A placement with room at the
  rate limiter and a free worker goes to that worker before ``place_many`` returns (``_post_now``).
* **One round trip per batch.** Tick size, neg-risk and the order version are resolved once per
  market and handed to the client (its tick cache is seeded), so signing is local and placing N
  quotes of a market is one ``POST /orders`` (≤ 15 per call); while every worker is busy, waiting
  posts (and cancels) of several markets go as one request (``lane.py``). Each order's size is read
  back from its signed amounts (the SDK rounds with floats: 1051.1 can be signed as 1051.09).
* **Never a duplicate.** The order id is the EIP-712 digest, computed before sending. On 425 / 429
  / 503 or a network error the *same signed orders* are resent after a backoff (429 honours
  ``retry_after_seconds``); the venue answers ``Duplicated`` for any that already landed, which
  counts as success. An order whose outcome stays unknown is kept as ``submitted`` (treated as
  resting) until reconciliation finds it or not.
* **Limits hold against what could fill.** ``OrderTracker`` keeps every order from signing until
  nothing of it can fill any more: in flight, resting, cancelled but with fills maybe still to come
  (a cancel the venue refuses as "already canceled or matched" is a fill to come, not a gone order).
  ``reserved`` is what the risk checks count on top of the positions.
* **Kill cannot be raced.** ``cancel_all`` closes the placement gate, waits for placements in
  flight, cancels at the venue, then checks ``/data/orders`` until nothing of ours rests.
* **Fills go to the ledger** (``domain/ledger.py``), from the user WebSocket and from trade replays
  (``/data/trades``): booked at the first status the venue reports, the later statuses kept, a FAILED
  leg reversed exactly once — across restarts too, since the ledger is restored from the journal.
  A fill in a market we do not know (removed, resolved, never traded in this run) is still booked:
  the market is looked up at the venue first, and nothing is quoted until it is.
* **The venue is the truth, and we fail closed.** No market is quoted before the catch-up with the
  venue succeeded: orphan orders of an earlier run cancelled (confirmed), the venue's trades since
  the last journaled fill booked, every token's balance compared with the ledger. Reconciliation
  repeats every ``reconcile_s`` (orders, trades) and ``positions_s`` (balances), and after every
  user-channel reconnect; while it fails, nothing is quoted (``ready`` says why). A balance that
  disagrees with the ledger twice in a row (``Reconciliation``) is taken from the venue (an
  adjustment fill), and that market pauses until a clean comparison.
* **Inventory.** A YES ask is sent as SELL YES when we hold the shares, else as BUY NO at 1 − p; a
  YES bid as SELL NO at 1 − p when we hold NO shares, else BUY YES. Exposure is the same either way.
* **Heartbeat.** ``POST /v1/heartbeats`` every 5 s with the chained id (a reply without an id, as
  Polymarket's docs show, just starts a new chain): if this process dies, the venue cancels our
  orders by itself (~10 s).
* **Another client on the wallet.** Orders at the venue that we never placed are cancelled once;
  if they keep reappearing, that is someone else trading this wallet: ``foreign_alert`` is raised
  (the engine halts) and from then on only our own orders are cancelled — no silent cancel war.

Secrets (private key, API secret and passphrase) never appear in a repr or a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future as WorkerFuture
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import httpx

from ..domain.ledger import Ledger, Reconciliation
from ..domain.market import Market, Side
from ..domain.order_book import OrderBook
from ..domain.portfolio import Fill
from ..domain.prices import (
    MAX_PIPS,
    PriceError,
    Tick,
    fmt_amount,
    pips_to_decimal,
    pips_to_str,
    price_to_pips,
)
from ..domain.quantiles import nearest_rank
from ..domain.signals import EventConfig
from ..domain.strategy import order_expiry
from .execution import Execution, OpenOrder, OrderRequest, Pacing, book_capital, route, sellable
from .http_clients import Captured, PooledClient, Prepared, Sent, capturing, replying, sdk_pool, when_sent
from .lane import Lane, split_cancels, split_in_order
from .order_tracker import OrderTracker
from .ratelimit import STANDARD, Abandoned, Priority, RateLimiter, VenueLimits, WireBucket
from .reconnect import resolve_first, wait_ended, wait_event
from .retry import describe, is_transient, retry_after, with_retries
from .rewards import EarnedRewards, read_earned
from .signing import OrderSigner
from .user_ws import UserSocket
from .wire import OrderEvent, TradeEvent, UserEvent, balance_amount, trade_from_rest, trade_status

log = logging.getLogger(__name__)

ZERO = Decimal(0)
BATCH_MAX = 15
#: seconds a token's shares are not offered after the venue refused a sell of them (``_rejected``): the
#: reconciliation (run at once) and the next balance reads say what the venue holds meanwhile
SELL_BLOCK_S = 30.0
#: A replay reads the venue's trades from this long before the previous successful replay started
#: (trades matched while it ran, and our clock against the venue's), not the whole last hour again:
#: at hundreds of markets an hour of trades is tens of thousands, read every ``reconcile_s``.
REPLAY_OVERLAP_S = 120.0
#: A replay books its trades in slices of this much event-loop time, the loop's other work between them
REPLAY_SLICE_S = 0.002
FORGET_MARGIN_S = 120.0  # ledger legs are forgotten this long before the oldest trade a replay can bring
#: When no post connection is open to write on (``_send_ready``: the first posts, after the venue closed
#: one), ``_post_now`` waits at most this long for the post's worker to send it (``_post_if_open``: the request
#: written to the venue's socket): meanwhile the event loop's thread gives up the interpreter, so the
#: request leaves now — not after the worker has waited out the loop's switch interval for it (at 300
#: markets ~1.2 ms of a post's tick-to-trade at the median, 5 ms at the 99th percentile) — and the worker
#: is waiting on the venue, not running Python beside the loop, once the loop goes on
HANDOFF_WAIT_S = 0.001
PROMISE_S = 2.0  # rate-limit room promised to a strategy step (``try_place``) lapses if not used by then
RETRYABLE = {425, 429, 500, 502, 503, 504, None}  # None: no answer (network error, timeout)
MICRO = Decimal(1_000_000)
CLOSE_WAIT_S = 5.0  # ``close`` waits this long for its tasks to end after their cancel
RETIRED_MAX = 5_000  # orders let go of that we still recognise if the venue shows them after all


@dataclass(frozen=True)
class LiveConfig:
    """Where and as whom to trade. ``creds`` = (api_key, secret, passphrase) or None to derive."""

    clob_url: str
    ws_url: str  # base, without /ws/user
    private_key: str
    chain_id: int = 137
    signature_type: int = 0
    funder: str | None = None
    creds: tuple[str, str, str] | None = None
    heartbeat_s: float = 5.0
    reconcile_s: float = 15.0  # open orders and trades
    positions_s: float = 30.0  # token balances against the ledger
    recheck_s: float = 2.0  # a balance that disagreed is read again this soon (after a trade replay)
    settle_s: float = 5.0  # an order younger than this may not show in /data/orders yet
    unanswered_s: float = 30.0  # a placement never answered may still land this long after it was sent
    balance_grace_s: float = 0.5  # fills reported this soon after a balance read make it inconclusive
    #: posts wait on the venue here (the kill has its own lane). A pass of the strategy at 300 markets hands
    #: out a dozen posts at once: with 8 threads the last waited for one (tick-to-trade hop p99 21 ms);
    #: with 16, 5.8 ms, the event loop's lag unchanged (scale_bench's dashboard phase)
    workers: int = 16
    cancel_workers: int = 8  # cancels wait on the venue here (merged into one request while all are busy)
    read_workers: int = 4  # reads (balances, open orders, trades, markets) wait here: never before a post
    #: While running, the interpreter's thread switch interval (``sys.setswitchinterval``; 0: Python's 5 ms
    #: left alone). The worker threads run the SDK's Python (headers, JSON, httpx) between their waits on
    #: the venue: with 5 ms, a post handed to a worker waited up to 5 ms for the GIL (tick-to-trade hop
    #: p99 13.4 ms at 300 markets), and so did the event loop after each socket read. At 0.5 ms: 4.5 ms,
    #: frames/s and CPU unchanged (scale_bench's dashboard phase)
    switch_interval_s: float = 0.0005
    max_attempts: int = 5
    start_budget_s: float = 120.0  # signing in: transient venue errors are retried this long
    foreign_after: int = 2  # reconciliations in a row finding orders we never placed → another client
    #: The event halts (end date, game start): orders carry them as a GTD expiration (``order_expiry``).
    events: EventConfig | None = None
    #: the venue's rate limits the order path paces itself by (venue/ratelimit.py)
    limits: VenueLimits = STANDARD

    def __repr__(self) -> str:
        return f"LiveConfig(clob_url={self.clob_url!r}, chain_id={self.chain_id}, key=<hidden>)"


class LiveExecution:
    """The execution interface over py-clob-client-v2 (see the module docstring)."""

    name = "live"
    venue_balance = True  # the collateral balance comes from the venue (``collateral_balance``)

    def __init__(
        self,
        config: LiveConfig,
        on_fill: Callable[[Fill], None] = lambda f: None,
        on_log: Callable[[str, str], None] = lambda text, level: None,
        ledger: Ledger | None = None,
    ) -> None:
        self.config = config
        self.on_fill = on_fill
        self.on_log = on_log
        self.ledger = ledger if ledger is not None else Ledger()
        self.orders = OrderTracker(self.ledger.booked_for)
        #: YES mid of a market in pips (the engine's mark): the price of a position adjustment
        self.mark: Callable[[str], int | None] = lambda cid: None
        #: a market learned from a fill (not in the traded set): the engine hears of it
        self.on_market: Callable[[Market], None] = lambda m: None
        self._pool = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="clob")
        self._cancel_pool = ThreadPoolExecutor(max_workers=config.cancel_workers, thread_name_prefix="clob-cancel")
        self._urgent = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clob-kill")  # the kill's own lane
        #: Reads have their own lane: at 300 markets a position check reads 600 token balances, and in the
        #: order path's pool they held posts back for up to 0.9 s (tick-to-trade)
        self._reads = ThreadPoolExecutor(max_workers=config.read_workers, thread_name_prefix="clob-read")
        self._client: Any = None
        self._api_key = ""
        self._markets: dict[str, Market] = {}
        self._by_token: dict[str, Market] = {}
        self._ours: deque[str] = deque(maxlen=20_000)  # every id we placed, for trade attribution
        self._ours_set: set[str] = set()
        self._placed_at: dict[str, float] = {}
        self._side_tasks: set[asyncio.Task] = set()
        self._inflight: set[asyncio.Future] = set()
        self._gate = asyncio.Event()
        self._gate.set()
        self._gate_open = threading.Event()  # the gate as worker threads see it: queued posts check it
        self._gate_open.set()
        self._version = 2
        self._exchange_addr: dict[bool, str] = {}
        self._signer: OrderSigner | None = None
        self._user: UserSocket | None = None
        self._tasks: list[asyncio.Task] = []
        self.heartbeat_id = ""
        self.last_heartbeat = 0.0
        self.errors: deque[float] = deque(maxlen=1000)  # times of venue errors (for the risk engine)
        #: paces posts and cancels by the venue's limits, cancels and reductions first (venue/ratelimit.py)
        self.limiter = RateLimiter(config.limits)
        #: posts, and cancels in a lane of their own: each sent at once while a worker is free, else merged
        #: across markets (``lane.py``). Apart, so a requote's post never waits behind cancels: at 300
        #: markets half the pool's workers were cancels
        self._lane = Lane(config.workers)
        self._lane.add("post", self._send_batch, split_in_order, BATCH_MAX)
        self._cancel_lane = Lane(config.cancel_workers)
        self._cancel_lane.add("cancel", self._cancel_in_pool, split_cancels,
                              int(min(self.limiter.capacity("cancel"), 3000)))
        #: charged by the worker thread as each post or cancel leaves (``WireBucket``)
        self._wire_orders = WireBucket(config.limits.wire(config.limits.orders))
        self._wire_cancels = WireBucket(config.limits.wire(config.limits.cancels))
        self.venue_429s = 0  # rate-limit refusals the venue answered anyway
        #: order room promised to strategy steps (``try_place``) and not yet used: [when, how many]
        self._promised: deque[list[float]] = deque()
        #: (monotonic time, ms) from a market-data frame's receipt to the orders it led to leaving for the venue
        self.tick_to_trade: deque[tuple[float, float]] = deque(maxlen=4096)
        self.post_ms: deque[tuple[float, float]] = deque(maxlen=1024)  # (monotonic, ms): batch post round trips
        self._hb_stop = threading.Event()
        self._hb_thread: threading.Thread | None = None
        self._usage: deque[tuple[float, str, int]] = deque()  # (time, "order" | "cancel", cost)
        self.orders_placed = 0  # orders the venue accepted (metrics)
        self.rejects = 0
        self.post_only_crosses = 0  # rejects that are not errors: a maker quote raced a moving book
        self.retries = 0
        self.settled_fills = 0
        self.failed_fills = 0
        self.mismatches = 0  # balances the venue confirmed different from the ledger (adjusted)
        self.redemptions = 0  # positions of resolved markets the venue paid out (adjusted at 1 or 0)
        #: every status the venue reports for one of our fills: (trade id, order id, status) → the journal
        self.on_fill_status: Callable[[str, str, str], None] | None = None
        #: set by a restart from the journal: replay the venue's trades since then (not just the last hour)
        self.trades_since: float | None = None
        self._replayed_from: float | None = None  # when the last successful trade replay started (epoch)
        #: seconds from sending a batch to the venue's answer (retries included; none if no answer): metrics
        self.on_post_latency: Callable[[float], None] | None = None
        #: seconds from a frame's receipt to the orders it led to leaving (worker thread; metrics)
        self.on_tick_to_trade: Callable[[float], None] | None = None
        # ---- what we know, and what we do not yet (``ready``)
        self._caught_up = False
        self._catchup_reason = "connecting to the venue"
        self._reconcile_error = ""  # the last reconciliation's failure ("" = it succeeded)
        self._reconcile_lock = asyncio.Lock()
        self._wake = asyncio.Event()  # run a reconciliation now (connect, mismatch recheck, new market)
        #: token → until when (monotonic) none of its shares are offered: the venue refused a sell of them
        self._sell_blocked: dict[str, float] = {}
        self._positions_due = 0.0  # monotonic time of the next balance comparison
        self._new: set[str] = set()  # markets added while running whose balances were not read yet
        self._unknown: dict[str, str] = {}  # condition id → why: fills of markets being looked up
        self.reconcile = Reconciliation()
        self._foreign_runs = 0  # reconciliations in a row that found orders we never placed
        self.foreign_alert = ""  # set when another client keeps placing orders on this wallet
        self._settled = asyncio.Event()  # set whenever a closing order may have settled
        #: orders we stopped tracking because the venue did not list them (the last few thousand): one
        #: that lands late after all is counted again (``_revive``) instead of resting uncounted
        self._retired: dict[str, OpenOrder] = {}
        #: capital operations in flight: market → the shares they will burn (not offered, not compared)
        self._capital: dict[str, dict[str, Decimal]] = {}
        self._switch_before: float | None = None  # the switch interval ``start`` replaced (``close`` restores it)
        self._closed = False  # ``close`` began: its worker pools are shut down, nothing more is sent
        self.keep_pairs = False  # POLYMM_AUTO_MERGE: pairs are merged, not sold (``execution.sellable``)

    def __repr__(self) -> str:
        return f"LiveExecution({self.config.clob_url!r}, orders={len(self.orders)})"

    # ================================================================ plumbing
    async def _run(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """The order path's pool: signing, posts, FAK takes, orphan cancels (a requote's cancels: ``_cancel_lane``)."""
        return await self._run_now(fn, *args, **kw)

    def _run_now(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> asyncio.Future:
        """``_run`` handed to the worker pool before this returns (a coroutine starts a turn later)."""
        return asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args, **kw))

    async def _read(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """The reads' lane (``_reads``): what the order path never waits behind."""
        return await asyncio.get_running_loop().run_in_executor(self._reads, functools.partial(fn, *args, **kw))

    async def _read_balance(self, params: Any) -> Decimal:
        """One ``GET /balance-allowance`` (collateral or a token), paced by Cloudflare's limit for it
        (200 per 10 s: the limiter's ``balance`` bucket, at the reads' priority)."""
        await self.limiter.acquire("balance", 1, Priority.READ)
        return balance_amount(await self._read(self._client.get_balance_allowance, params))

    def _error(self, text: str) -> None:
        """A venue error on the order path (posts, cancels): bursts of these start the error cooldown
        and, past ``max_errors_10s``, the kill."""
        self.errors.append(time.monotonic())
        self.on_log(text, "warning")

    def _read_failed(self, text: str) -> None:
        """A read that failed (balances, open orders, trades, a market lookup) or a heartbeat: reported,
        not counted as a venue error — quoting already waits for it (``ready``, the engine's heartbeat
        rule), and a venue's maintenance window must not latch a kill that needs an operator."""
        self.on_log(text, "warning")

    def _spend(self, kind: str, n: int) -> None:
        """Count signer-bucket cost (docs/protocol.md §8: 1 per order, 1 per cancelled id) for the budget display."""
        now = time.monotonic()
        self._usage.append((now, kind, n))
        while self._usage and self._usage[0][0] < now - 10.0:
            self._usage.popleft()

    def rate_usage(self, window_s: float = 1.0) -> tuple[int, int]:
        """(orders, cancels) spent in the last ``window_s`` seconds, against the per-signer buckets."""
        cutoff = time.monotonic() - window_s
        orders = sum(n for t, k, n in self._usage if t >= cutoff and k == "order")
        cancels = sum(n for t, k, n in self._usage if t >= cutoff and k == "cancel")
        return orders, cancels

    def recent_errors(self, window_s: float = 10.0) -> int:
        cutoff = time.monotonic() - window_s
        return sum(1 for t in self.errors if t >= cutoff)

    def pacing(self) -> Pacing:
        cutoff = time.monotonic() - 60.0
        t2t_p50, t2t_p99 = nearest_rank([ms for t, ms in list(self.tick_to_trade) if t >= cutoff], (0.5, 0.99))
        (post_p99,) = nearest_rank([ms for t, ms in list(self.post_ms) if t >= cutoff], (0.99,))
        return Pacing(self.limiter.queued, self.limiter.held_recently(), self.venue_429s, t2t_p50, t2t_p99, post_p99)

    def try_place(self, n: int, ahead: int = 0) -> bool:
        """Promise room for ``n`` orders if the buckets hold it beyond what is promised already and
        the ``ahead`` orders of requotes waiting their turn before this one. Nothing
        is taken yet: the venue charges a request when it arrives, so the limiter does too
        (``_room_for``) — a step that takes room and sends a second later, after its cancels, would
        arrive at the venue together with requests that took the refilled room meanwhile (429s)."""
        n = min(n, int(self.limiter.capacity("order")))
        if not self.limiter.can("order", self._promised_now() + ahead + n, Priority.QUOTE):
            return False
        self._promised.append([time.monotonic(), float(n)])
        return True

    def _promised_now(self) -> float:
        cutoff = time.monotonic() - PROMISE_S
        while self._promised and self._promised[0][0] < cutoff:
            self._promised.popleft()  # a step that never placed (stopped, cut to nothing): lapsed
        return sum(n for _, n in self._promised)

    def _keep_promise(self, n: float) -> None:
        """``n`` promised orders were sent, or will not be: the promises go, oldest first."""
        while n > 0 and self._promised:
            first = self._promised[0]
            used = min(first[1], n)
            first[1] -= used
            n -= used
            if first[1] <= 0:
                self._promised.popleft()

    def touched(self) -> set[str]:
        out, self.orders.touched = self.orders.touched, set()
        return out

    def release_places(self, n: int) -> None:
        self._keep_promise(n)

    def place_eta(self, n: int, ahead: int = 0) -> float:
        n = min(n, int(self.limiter.capacity("order")))
        return self.limiter.eta("order", self._promised_now() + ahead + n, Priority.QUOTE)

    @property
    def user_channel(self) -> UserSocket | None:
        """The user WebSocket (None before ``start``): its ``connected`` and ``reconnects``."""
        return self._user

    @property
    def heartbeat_age(self) -> float | None:
        return None if not self.last_heartbeat else time.monotonic() - self.last_heartbeat

    @property
    def paused_markets(self) -> Mapping[str, str]:
        """Markets paused until a clean comparison with the venue (``Reconciliation``): id → why."""
        return self.reconcile.paused

    @property
    def api_key(self) -> str:
        """Our API key's id ("" before ``start``): the owner the venue shows on our orders. Not a secret
        (the secret and passphrase never leave the client)."""
        return self._api_key

    async def client_tick_size(self, token_id: str) -> str:
        """The tick the SDK's client holds for a token (its cache never expires by itself: docs/protocol.md
        §10.9; polymm refreshes it on ``tick_size_change``)."""
        return str(await self._read(self._client.get_tick_size, token_id))

    # ================================================================ start / stop
    def _make_client(self) -> tuple[Any, str]:
        from py_clob_client_v2.client import ClobClient
        from py_clob_client_v2.clob_types import ApiCreds
        from py_clob_client_v2.config import get_contract_config

        from .http_clients import install_sdk_client

        install_sdk_client()  # responses without reference cycles: the collector's pauses stay rare (http_clients.py)
        c = self.config
        creds = ApiCreds(*c.creds) if c.creds else None
        client = ClobClient(c.clob_url, chain_id=c.chain_id, key=c.private_key, creds=creds,
                            signature_type=c.signature_type, funder=c.funder)
        if creds is None:
            client.set_api_creds(_derive_or_create(client))
        try:
            self._version = int(client.get_version())
        except Exception:
            self._version = 2
        cfg = get_contract_config(c.chain_id)
        self._exchange_addr = {False: cfg.exchange_v2, True: cfg.neg_risk_exchange_v2}
        if c.signature_type != 3 and self._version == 2:
            self._signer = OrderSigner(client, c.chain_id, self._exchange_addr)
        return client, client.creds.api_key

    async def start(self, markets: Sequence[Market]) -> None:
        """Sign in (transient venue errors retried for ``start_budget_s``), start the user channel,
        heartbeat and reconciliation, and try the catch-up once: when it fails, nothing is quoted and
        the reconciliation loop keeps trying (``ready`` says why)."""
        if self.config.switch_interval_s > 0 and self._switch_before is None:
            self._switch_before = sys.getswitchinterval()
            sys.setswitchinterval(self.config.switch_interval_s)
        self._client, self._api_key = await with_retries(
            lambda: self._run(self._make_client), what="signing in at the venue",
            budget_s=self.config.start_budget_s, on_retry=lambda text: self.on_log(text, "warning"))
        for m in markets:
            self._add_market(m)
        creds = self._client.creds
        self._user = UserSocket(
            f"{self.config.ws_url}/ws/user", creds.api_key, creds.api_secret, creds.api_passphrase,
            self._on_user_event, on_connect=self._on_user_connect,
        )
        self._tasks = [asyncio.create_task(self._user.run(), name="user-ws")]
        self._start_heartbeat()
        if not await wait_event(self._user.subscribed, 5.0):  # fills from here on reach us as they happen
            self.on_log("user channel not connected yet; fills will be reconciled over REST meanwhile", "warning")
        await self._reconcile_once()
        self._tasks.append(asyncio.create_task(self._reconcile_loop(), name="reconcile"))

    def _add_market(self, m: Market) -> None:
        self._markets[m.condition_id] = m
        self._by_token[m.yes_token] = m
        self._by_token[m.no_token] = m
        if self._client is not None:  # seed the client's cache: no /tick-size per order
            ticks = self._client._ClobClient__tick_sizes
            ticks[m.yes_token] = ticks[m.no_token] = m.tick.text

    def set_tick(self, market: Market) -> None:
        """After a tick-size change: the client's cache never expires by itself (pitfall 9)."""
        self._add_market(market)

    async def add_market(self, market: Market) -> None:
        """A market added while running: not quoted until its balances were compared with the ledger
        (the next reconciliation, run at once). The user channel carries every market of ours."""
        known = market.condition_id in self._markets
        self._add_market(market)
        if not known:
            self._new.add(market.condition_id)
            self._wake.set()

    async def collateral_balance(self) -> float:
        """The wallet's pUSD balance in dollars; raises when the venue cannot say (the caller shows
        it as unknown, never estimates it)."""
        from py_clob_client_v2.clob_types import AssetType, BalanceAllowanceParams

        try:
            return float(await self._read_balance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL)))
        except Exception as e:
            self._read_failed(f"collateral balance: {describe(e)}")
            raise

    async def run(self) -> None:
        """Wait on the background loops; a failing loop surfaces here (the engine guards it)."""
        if self._tasks:
            done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                t.result()
        else:
            await asyncio.Event().wait()

    async def close(self) -> None:
        self._closed = True
        self._hb_stop.set()
        if self._switch_before is not None:
            sys.setswitchinterval(self._switch_before)
            self._switch_before = None
        for t in [*self._tasks, *self._side_tasks]:
            t.cancel()
        if self._user is not None:
            await self._user.stop()
        await wait_ended(self._tasks, CLOSE_WAIT_S, "closing the venue client")
        self._tasks = []
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._cancel_pool.shutdown(wait=False, cancel_futures=True)
        self._reads.shutdown(wait=False, cancel_futures=True)
        self._urgent.shutdown(wait=False, cancel_futures=True)

    # ================================================================ what may be quoted
    def ready(self, condition_id: str | None = None) -> tuple[bool, str]:
        """Whether quoting may go on (in ``condition_id``, or at all): what we hold is known. Else why."""
        if not self._caught_up:
            return False, f"reconciling with the venue: {self._catchup_reason}"
        if self._reconcile_error:
            return False, f"reconciling with the venue: {self._reconcile_error}"
        if self._unknown:
            cid = next(iter(self._unknown))
            return False, f"reconciling: {self._unknown[cid]} ({cid[:10]}…)"
        if condition_id is None:
            return True, ""
        if condition_id in self._new:
            return False, "reconciling: reading this market's balances at the venue"
        why = self.reconcile.paused.get(condition_id)
        return (False, why) if why else (True, "")

    def reserved(self, condition_id: str | None = None, *, closing_only: bool = False
                 ) -> dict[str, tuple[Decimal, Decimal]]:
        """condition id → (YES bid shares, YES ask shares) that could still fill (``OrderTracker``)."""
        return self.orders.reserved(condition_id, closing_only=closing_only)

    async def settled(self, condition_id: str, timeout: float) -> bool:
        """Wait (at most ``timeout``) until no cancelled order of the market can still fill; True if so."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.orders.closing(condition_id):
            left = deadline - loop.time()
            if left <= 0:
                return False
            self._settled.clear()
            if not await wait_event(self._settled, left):
                return not self.orders.closing(condition_id)
        return True

    # ================================================================ placing
    def _route(self, market: Market, req: OrderRequest) -> tuple[str, str, int]:
        """(token, venue side, venue price) for a YES-terms quote, preferring to sell what we hold."""
        return route(market, req, lambda token: sellable(market, token, self._free_shares, self.keep_pairs))

    def _free_shares(self, token: str) -> Decimal:
        """Shares of ``token`` we may offer: settled ones (the venue refuses to sell shares of a trade
        it has not settled — docs/protocol.md §10.5), less what our resting sells already offer."""
        h = self.ledger.holding(token)
        settled = h.shares - max(h.pending, ZERO) if h is not None else ZERO
        # an order rests in its token's market: only that market's orders are read (a quote's route read
        # every market's, ~1,000 at 300 markets: ~90 µs of each post's tick-to-trade)
        market = self._by_token.get(token)
        resting = self.orders.open(market.condition_id) if market is not None else self.orders.open()
        reserved = sum((o.remaining for o in resting if o.token_id == token and o.venue_side == "SELL"), ZERO)
        held = sum((c.get(token, ZERO) for c in self._capital.values()), ZERO)
        if self._sell_blocked and self._sell_blocked.get(token, 0.0) > time.monotonic():
            return min(ZERO, settled - reserved - held)
        return settled - reserved - held

    # ================================================================ capital operations
    def free_shares(self, token: str) -> Decimal:
        return self._free_shares(token)

    def hold_capital(self, condition_id: str, shares: Mapping[str, Decimal]) -> None:
        self._capital[condition_id] = dict(shares)

    def release_capital(self, condition_id: str) -> None:
        self._capital.pop(condition_id, None)

    def book_capital(self, market: Market, yes: Decimal, no: Decimal, price: int | None) -> list[Fill]:
        return book_capital(self.ledger, market, yes, no, price, time.time(), self.on_fill)

    async def resolution(self, condition_id: str) -> str | None:
        return await self._resolution(condition_id)

    async def earned_rewards(self, date: str) -> EarnedRewards:
        """The liquidity rewards the venue says this wallet earned on ``date`` (UTC, ``YYYY-MM-DD``)."""
        return await self._read(read_earned, self._client, date)

    def _expiry(self, market: Market) -> int:
        """Our orders' GTD expiration in ``market`` (0: GTC): the moment its event halt begins."""
        events = self.config.events
        return 0 if events is None else order_expiry(market, time.time(), events)

    def _sign(
        self, market: Market, token: str, side: str, price: int, size: Decimal, expiration: int = 0
    ) -> tuple[Any, str]:
        """(signed order, order id). The fast signer for EOA-style keys; the SDK for deposit wallets
        (type 3, a wrapped ERC-1271 signature)."""
        if self._signer is not None:
            return self._signer.sign(token, side, pips_to_decimal(price), size, market.tick.text, market.neg_risk,
                                     expiration)
        from py_clob_client_v2.clob_types import OrderArgsV2, PartialCreateOrderOptions
        from py_clob_client_v2.order_utils.exchange_order_builder_v2 import ExchangeOrderBuilderV2

        args = OrderArgsV2(token_id=token, price=float(pips_to_str(price)), size=float(size), side=side)
        opts = PartialCreateOrderOptions(tick_size=market.tick.text, neg_risk=market.neg_risk, version=self._version)
        signed = self._client.create_order(args, opts)
        if expiration:
            signed.expiration = str(expiration)  # not signed in V2: the order id does not change
        builder = ExchangeOrderBuilderV2(self._exchange_addr[market.neg_risk], self.config.chain_id,
                                         self._client.signer)
        return signed, builder.build_order_hash(builder.build_order_typed_data(signed))

    def _sign_many(self, market: Market, routed: list[tuple[OrderRequest, str, str, int]]) -> list[tuple[Any, str]]:
        expiration = self._expiry(market)
        return [self._sign(market, tok, side, px, req.size, expiration) for req, tok, side, px in routed]

    async def place_many(self, market: Market, book: OrderBook | None, reqs: Sequence[OrderRequest],
                         origin_ns: int = 0) -> list[str]:
        if not reqs or not self._gate.is_set() or self._closed:
            return []  # a cancel-all is running (kill, stop), or closed: drop, never queue behind it
        now = self._post_now(market, reqs, origin_ns) if self._signer is not None else None
        if now is not None:
            landed, answer = now
            self._inflight.add(landed)
            landed.add_done_callback(self._inflight.discard)
            return await answer  # the step's own future: a cancelled step leaves the post to land
        fut = asyncio.ensure_future(self._place_many(market, reqs, origin_ns))
        self._inflight.add(fut)
        try:
            return await asyncio.shield(fut)
        finally:
            self._inflight.discard(fut)

    async def take(self, market: Market, book: OrderBook, req: OrderRequest) -> tuple[Decimal, str]:
        """A fill-and-kill order (``POST /order`` with ``FAK``), routed and signed like a quote and tracked
        as ours while it is in flight, so its fills are booked and the limits count it."""
        from py_clob_client_v2.clob_types import OrderType

        if self._closed:
            return ZERO, "the venue client is closed"
        if not self._gate.is_set():
            return ZERO, "a cancel-all is running"
        token, side, price = self._route(market, req)
        try:
            await self.limiter.acquire("order", 1, Priority.REDUCE)
        except Abandoned:
            return ZERO, "a cancel-all is running"
        self._spend("order", 1)
        order, oid = await self._run(self._sign, market, token, side, price, req.size)
        self.orders.add(OpenOrder(oid, market.condition_id, req.side, req.price, signed_size(order, req.size),
                                  status="submitted", token_id=token, venue_side=side))
        self._ours.append(oid)
        self._ours_set.add(oid)
        try:
            r = await self._run(self._client.post_order, order, OrderType.FAK)
        except Exception as e:
            self.orders.forget(oid)
            self._error(f"take order refused: {describe(e)}")
            return ZERO, describe(e)
        self.orders_placed += 1
        msg = str(r.get("errorMsg") or "") if isinstance(r, dict) else "bad reply"
        if msg or not (isinstance(r, dict) and r.get("success", True)):
            self.orders.forget(oid)
            return ZERO, msg or "refused"
        matched = _dec(r.get("takingAmount") if side == "BUY" else r.get("makingAmount"))
        self.orders.close(oid, final=matched)  # a FAK never rests: what matched is all it can fill
        return matched, ""

    async def sign_orders(self, market: Market, reqs: Sequence[OrderRequest]) -> list[tuple[Any, str]]:
        """(signed order, order id) for each quote, routed as ``place_many`` routes it; nothing is booked
        or sent (what ``post_signed`` takes)."""
        return await self._run(self._sign_many, market, [(r, *self._route(market, r)) for r in reqs])

    async def post_signed(self, market: Market, signed: Sequence[tuple[Any, str]], origin_ns: int = 0) -> list[str]:
        """Post orders signed before, in batches of the venue's maximum, exactly as a retry resends them
        (the venue answers an order it already holds with Duplicated: success); the ids it accepted.
        Each batch waits for the rate limiter first (a kill abandons the wait: never sent)."""
        accepted: list[str] = []
        for i in range(0, len(signed), BATCH_MAX):
            batch = list(signed[i : i + BATCH_MAX])
            try:
                await self._room_for(len(batch))
            except Abandoned:
                self._forget(batch)
                continue
            accepted += await self._post_batch(market, batch, origin_ns)
        return accepted

    async def _room_for(self, n: int) -> None:
        """Rate-limit room for ``n`` orders, taken as they leave (a promise made to the step is kept)."""
        self._keep_promise(n)
        await self.limiter.acquire("order", n, Priority.QUOTE)

    def _post_now(self, market: Market, reqs: Sequence[OrderRequest], origin_ns: int
                  ) -> tuple[asyncio.Future[None], asyncio.Future[list[str]]] | None:
        """The common case without a single turn of the event loop: one batch, signed here by the fast
        signer (~0.1 ms an order), with room at the rate limiter and a free worker now — the request
        leaves before this returns: written here when a post connection is open (``_send_ready``; a
        worker then reads the answer), else handed to a worker that sends it (a task would start a turn
        later: at 300 markets up to ~5 ms of tick-to-trade). The reply is booked in the turn it reaches
        the loop (``_post_answered``); returns (landed: done once the post is over, what a kill waits
        for; the ids accepted, the step's to await — its cancel leaves the post alone). None when it
        cannot go at once (the caller takes ``_place_many``'s path: nothing taken)."""
        n = len(reqs)
        if n > BATCH_MAX or not self.limiter.can("order", n, Priority.QUOTE) or not self._lane.hold():
            return None
        self.limiter.try_acquire("order", n, Priority.QUOTE)
        self._keep_promise(n)
        routed = self._routed(market, reqs)
        signed = self._sign_many(market, routed)
        self._book_submitted(market, routed, signed)
        sent = time.perf_counter()
        loop = asyncio.get_running_loop()
        landed: asyncio.Future[None] = loop.create_future()
        answer: asyncio.Future[list[str]] = loop.create_future()
        args = self._post_args(signed)
        written = self._send_ready(args, (origin_ns,))
        if written is not None:  # it left from here: a worker waits for the venue's answer
            work = self._pool.submit(self._answer_post, args, written)
        else:
            taken = threading.Event()
            work = self._pool.submit(self._post_if_open, args, (origin_ns,), taken)
        work.add_done_callback(functools.partial(_on_loop, loop, self._post_answered, market, signed, sent,
                                                 landed, answer))
        if written is None:
            taken.wait(HANDOFF_WAIT_S)  # the worker takes the interpreter and sends it now (``HANDOFF_WAIT_S``)
        return landed, answer

    def _prepared_post(self, pool: PooledClient, args: list[Any]) -> Prepared | None:
        """``POST /orders`` for ``args`` as the SDK makes it (its body and signed headers), not sent. ``pool``:
        the SDK's client (``sdk_pool``) — only through it is a request captured instead of sent. None if the
        SDK's first request is another."""
        with capturing():
            try:
                self._client.post_orders(args, True)
            except Captured as c:
                p = c.prepared
                return p if p.method == "POST" and p.url.split("?", 1)[0].endswith("/orders") else None
        return None

    def _send_ready(self, args: list[Any], origins: Sequence[int]) -> Sent | None:
        """The post written to the venue's socket here and now — on the event loop's thread, in the step that
        made it — over a connection the pool holds open (``PooledClient.send_ready``), when the gate is open
        and the venue's bucket has room now; tick-to-trade ends here. None: it goes the worker's way
        (``_post_if_open``: it may connect, and wait for the bucket)."""
        pool = sdk_pool()
        if pool is None or not self._gate_open.is_set() or not pool.has_open(self.config.clob_url):
            return None  # no connection to write on: the SDK's build would be wasted here
        try:
            prepared = self._prepared_post(pool, args)
        except Exception:  # whatever the SDK refuses, it refuses on the worker's way as before (``_post_answered``)
            return None
        if prepared is None or not self._wire_orders.try_take(len(args)):
            return None
        written = pool.send_ready(prepared)
        if written is None:
            self._wire_orders.give_back(len(args))
            return None
        self._told_left(origins)
        return written

    def _answer_post(self, args: list[Any], written: Sent) -> Any:
        """Runs on a worker thread: the venue's answer to a post ``_send_ready`` wrote, read by the SDK as
        it reads its own (``replying``: its errors, its checks of the reply)."""
        reply: Any
        try:
            reply = written.answer()
        except Exception as e:
            reply = _transport_error(e)
        with replying(reply):
            return self._client.post_orders(args, True)

    def _told_left(self, origins: Sequence[int]) -> None:
        """Orders answering ``origins`` (frames' receipt, ns) just left: their tick-to-trade (a deque's append
        is thread-safe)."""
        now_ns, now = time.perf_counter_ns(), time.monotonic()
        for origin_ns in origins:
            if origin_ns:
                ms = (now_ns - origin_ns) / 1e6
                self.tick_to_trade.append((now, ms))
                if self.on_tick_to_trade is not None:
                    self.on_tick_to_trade(ms / 1000)

    def _post_answered(self, market: Market, batch: list[tuple[Any, str]], sent: float,
                       landed: asyncio.Future[None], answer: asyncio.Future[list[str]], work: WorkerFuture) -> None:
        """``_post_now``'s reply, on the loop in the turn it arrives: the venue's answer booked, and the
        step woken the next turn. Through a task and a shield it took four turns of the loop, each
        behind the callbacks queued before it (at 300 markets: worker done → reply booked p50 5 / p90
        20 ms, the step resumed ~10 ms after that). A failure (no answer, a busy venue, a kill that
        closed the gate) goes the way of any post, retried in a task (``_finish_post``)."""
        if not work.cancelled() and work.exception() is None:
            self._lane.release()
            try:
                res = work.result()
                accepted = self._replied(market, batch, res if isinstance(res, list) else [], sent)
            except Exception as e:  # the step hears it (as it heard a failure of the task before)
                _settle(landed, None)
                _fail(answer, e)
                return
            self.orders_placed += len(accepted)
            _settle(landed, None)
            resolve_first(answer, accepted)  # the step resumes next: its market's frames wait for it
            return
        first: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if work.cancelled():  # the pool shut down (``close``) before the worker took it
            first.cancel()
        else:
            first.set_exception(work.exception() or RuntimeError("no answer"))
        retry = asyncio.ensure_future(self._finish_post(market, batch, first, sent))

        def over(t: asyncio.Task[list[str]]) -> None:
            _settle(landed, None)
            if t.cancelled():
                answer.cancel()
                return
            error = t.exception()
            if error is None:
                _settle(answer, t.result())
            else:
                _fail(answer, error)

        retry.add_done_callback(over)

    async def _finish_post(self, market: Market, batch: list[tuple[Any, str]], first: asyncio.Future,
                           sent: float) -> list[str]:
        """``_post_now``'s post when its first attempt failed (``first``: that failure), retried as any post,
        with the worker it held given back."""
        try:
            replies = await self._send_batch(batch, (), first)
        finally:
            self._lane.release()
        accepted = self._replied(market, batch, replies, sent)
        self.orders_placed += len(accepted)
        return accepted

    def _routed(self, market: Market, reqs: Sequence[OrderRequest]) -> list[tuple[OrderRequest, str, str, int]]:
        """Each quote as it goes to the venue (token, side, price: ``_route``), its cost counted."""
        routed = [(r, *self._route(market, r)) for r in reqs]
        self._spend("order", len(routed))
        return routed

    async def _place_many(self, market: Market, reqs: Sequence[OrderRequest], origin_ns: int = 0) -> list[str]:
        routed = self._routed(market, reqs)
        # the fast signer (~0.1 ms an order) signs right here: a hop to the worker pool would queue behind
        # posts waiting for the venue (tick-to-trade); the SDK's slow path (deposit wallets) goes to the pool
        signed = self._sign_many(market, routed) if self._signer is not None else \
            await self._run(self._sign_many, market, routed)
        self._book_submitted(market, routed, signed)
        accepted = await self.post_signed(market, signed, origin_ns)
        self.orders_placed += len(accepted)
        return accepted

    def _book_submitted(self, market: Market, routed: list[tuple[OrderRequest, str, str, int]],
                        signed: list[tuple[Any, str]]) -> None:
        """Signed orders are ours from now on (``submitted``: counted as resting until the venue answers)."""
        now = time.monotonic()
        for (req, token, side, _px), (order, oid) in zip(routed, signed, strict=True):
            self.orders.add(OpenOrder(oid, market.condition_id, req.side, req.price, signed_size(order, req.size),
                                      status="submitted", token_id=token, venue_side=side))
            self._placed_at[oid] = now
            self._ours.append(oid)
            self._ours_set.add(oid)
            if len(self._ours_set) > self._ours.maxlen:  # type: ignore[operator]  # a bounded deque: maxlen is set
                self._ours_set = set(self._ours)

    async def _post_batch(self, market: Market, batch: list[tuple[Any, str]], origin_ns: int = 0) -> list[str]:
        sent = time.perf_counter()
        return self._replied(market, batch, await self._lane.submit("post", batch, origin_ns), sent)

    def _replied(self, market: Market, batch: list[tuple[Any, str]], replies: list[Any] | None,
                 sent: float) -> list[str]:
        """A post's replies: its round trip measured, the ids the venue took."""
        if replies is None:
            return []
        took = time.perf_counter() - sent
        self.post_ms.append((time.monotonic(), took * 1000))
        if self.on_post_latency is not None:
            self.on_post_latency(took)
        return self._accepted(market, batch, replies)

    async def _send_batch(self, batch: list[tuple[Any, str]], origins: Sequence[int] = (),
                          first: asyncio.Future | None = None) -> list[Any] | None:
        """Post the signed orders (``origins``: the frames they answer, for tick-to-trade), resending the
        *same* ones on a busy venue or no answer; the venue's replies, or None when there are none to
        read: never sent (a kill closed the gate), refused outright (forgotten: none of them rests), or
        retries exhausted (kept as submitted: the reconciliation decides). Several markets' orders may
        go together (``lane.py``): they share the outcome. ``first``: the first attempt, already sent."""
        from py_clob_client_v2.exceptions import PolyApiException

        args = self._post_args(batch)
        delay = 0.25
        for attempt in range(1, self.config.max_attempts + 1):
            last = attempt == self.config.max_attempts
            try:
                if attempt > 1:  # a resend costs at the venue like the first send
                    await self.limiter.acquire("order", len(batch), Priority.QUOTE)
                if attempt == 1 and first is not None:
                    res = await first
                else:
                    res = await self._run(self._post_if_open, args, origins if attempt == 1 else ())
                return res if isinstance(res, list) else []
            except _GateClosed:  # a kill closed the gate while this batch waited for a worker: never sent
                self._forget(batch)
                return None
            except Abandoned:  # a kill while a resend waited for room: an earlier attempt may have landed
                return None  # kept as submitted: the reconciliation decides
            except PolyApiException as e:
                if e.status_code not in RETRYABLE or last:
                    self._error(f"post orders failed: {describe(e)}")
                    if e.status_code not in RETRYABLE:  # a definite refusal: none of them rests
                        self._forget(batch)
                    return None  # retryable but exhausted: kept as submitted, reconciliation decides
                wait = retry_after(e) or delay
                if e.status_code == 429:  # the limiter paces us below the venue's buckets: someone else spends them
                    self.venue_429s += 1
                    self.limiter.refused("order", wait)
                self._error(f"venue busy ({e.status_code}); retrying the same signed orders in {wait:.2f} s")
            except Exception as e:  # network: outcome unknown, resend the same orders
                if last:
                    self._error(f"post orders: no answer ({type(e).__name__}); reconciliation will decide")
                    return None
                wait = delay
            self.retries += 1
            await asyncio.sleep(wait)
            delay = min(delay * 2, 5.0)
        return None

    @staticmethod
    def _post_args(batch: Sequence[tuple[Any, str]]) -> list[Any]:
        """``POST /orders`` bodies: an order with an expiration rests until then (GTD), the others until
        cancelled (GTC)."""
        from py_clob_client_v2.clob_types import OrderType, PostOrdersV2Args

        return [PostOrdersV2Args(order=o, orderType=OrderType.GTD if _expires(o) else OrderType.GTC) for o, _ in batch]

    def _forget(self, batch: list[tuple[Any, str]]) -> None:
        for _, oid in batch:
            self.orders.forget(oid)

    def _accepted(self, market: Market, batch: list[tuple[Any, str]], replies: list[Any]) -> list[str]:
        """The ids the venue took (``Duplicated``: an earlier attempt already got it in); the others
        are forgotten and counted as rejects."""
        accepted = []
        for (_, oid), r in zip(batch, replies, strict=False):
            msg = str(r.get("errorMsg") or "") if isinstance(r, dict) else "bad reply"
            if not msg or "Duplicated" in msg:
                o = self.orders.get(oid)
                if o is not None and o.status == "submitted":
                    self.orders.update(oid, status="live")
                accepted.append(oid)
            else:
                self._rejected(market, oid, msg)
        return accepted

    def _rejected(self, market: Market, order_id: str, msg: str) -> None:
        self.rejects += 1
        o = self.orders.get(order_id)
        if o is not None and o.venue_side == "SELL" and _is_balance_refusal(msg):
            # the venue holds fewer of these shares free than we count (an order of ours it still has and
            # we took as closed, a trade it has not settled): none are offered until the venue says how
            # many there are (the quotes go as BUYs of the other token), and the reconciliation runs now.
            # Sending the same sell again was refused again at every step: 5 refusals in 10 s started the
            # error cooldown, and every market's quotes went for 30 s (measured at 300 markets)
            now = time.monotonic()
            self._sell_blocked = {t: until for t, until in self._sell_blocked.items() if until > now}
            self._sell_blocked[o.token_id] = now + SELL_BLOCK_S
            self._wake.set()
        self.orders.forget(order_id)
        if _is_post_only_cross(msg):  # the book moved under a maker quote: routine, not a fault
            self.post_only_crosses += 1
            self.on_log(f"post-only quote would have crossed ({market.short_question}); requoting", "info")
        else:
            self._error(f"order rejected ({market.short_question}): {msg}")

    # ================================================================ cancelling
    async def cancel(self, order_ids: Sequence[str]) -> list[str]:
        """Cancel our orders; returns the ids the venue cancelled. Those it refuses as "already
        canceled or matched" are closed too, but their fills may still be on their way: they keep
        counting against the limits until booked (``OrderTracker``)."""
        ids = [i for i in order_ids if i in self.orders]
        if not ids:
            return []
        step = max(int(self.limiter.capacity("cancel")), 1)
        answer = self._cancel_now(ids) if len(ids) <= step else None
        if answer is not None:
            return await answer
        canceled: list[str] = []
        for i in range(0, len(ids), step):
            canceled += await self._cancel_chunk(ids[i : i + step])
        return canceled

    def _cancel_now(self, ids: list[str]) -> asyncio.Future[list[str]] | None:
        """The common case as a placement's (``_post_now``): room at the cancel bucket and a free cancel
        worker now — the ``DELETE /orders`` goes to the worker before this returns, and its reply is booked
        in the turn it reaches the loop (``_cancel_answered``), its waiter woken first. Through
        ``run_in_executor`` the reply took two turns of the loop, each behind the callbacks queued before
        it: at 300 markets a requote's cancels were answered 23 ms after its step handed them over
        (median), its placement 15 ms — and the market's next frame waits for both. None when it cannot
        go at once (``_cancel_chunk``'s path: nothing taken)."""
        n = len(ids)
        if not self.limiter.can("cancel", n, Priority.CANCEL) or not self._cancel_lane.hold():
            return None
        self.limiter.try_acquire("cancel", n, Priority.CANCEL)
        self._spend("cancel", n)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[list[str]] = loop.create_future()
        try:
            work = self._cancel_pool.submit(self._send_cancels, ids)
        except RuntimeError as e:  # the pool shut down (``close``)
            self._cancel_lane.release()
            answer.set_result(self._cancel_failed(e))
            return answer
        work.add_done_callback(functools.partial(_on_loop, loop, self._cancel_answered, answer))
        return answer

    def _cancel_answered(self, answer: asyncio.Future[list[str]], work: WorkerFuture) -> None:
        """``_cancel_now``'s reply, on the loop in the turn it arrives: booked, its waiter woken first."""
        self._cancel_lane.release()
        if work.cancelled():  # the pool shut down (``close``) before the worker took it
            answer.cancel()
            return
        error = work.exception()
        if isinstance(error, Exception):
            resolve_first(answer, self._cancel_failed(error))
        elif error is not None:
            _fail(answer, error)
        else:
            resolve_first(answer, self._cancel_booked(work.result()))

    async def _cancel_chunk(self, ids: list[str]) -> list[str]:
        """One ``DELETE /orders`` within the cancel bucket (cancels wait behind nothing but cancels)."""
        await self.limiter.acquire("cancel", len(ids), Priority.CANCEL)
        self._spend("cancel", len(ids))
        try:
            r = await self._cancel_lane.submit("cancel", ids)
        except Exception as e:
            return self._cancel_failed(e)
        return self._cancel_booked(r)

    def _cancel_failed(self, e: Exception) -> list[str]:
        """A ``DELETE /orders`` that failed: none cancelled — still open as far as we know, they keep counting."""
        if getattr(e, "status_code", None) == 429:
            self.venue_429s += 1
            self.limiter.refused("cancel", retry_after(e) or 1.0)
        self._error(f"cancel failed: {describe(e)}")
        return []

    def _cancel_booked(self, r: Any) -> list[str]:
        """A ``DELETE /orders`` reply booked: the ids it cancelled (closed), and those it did not."""
        canceled = [str(i) for i in r.get("canceled") or []]
        for oid in canceled:
            self.orders.close(oid)
        for oid in (str(i) for i in (r.get("not_canceled") or {})):
            o = self.orders.get(oid)
            # "already canceled or matched": closed, its fills maybe still to come. Not so for an order
            # whose placement is unanswered: the venue may not have it *yet* — it stays open
            if o is not None and o.status != "submitted":
                self.orders.close(oid)
        self._settled.set()
        return canceled

    async def cancel_market(self, condition_id: str) -> int:
        return len(await self.cancel([o.order_id for o in self.orders.open(condition_id)]))

    async def cancel_all(self) -> int:
        """The kill path: close the gate, cancel what rests at once, let placements in flight land,
        cancel again and verify with ``/data/orders`` that nothing rests.

        Kill requests run on their own thread (``_urgent``), never queued behind placements waiting
        in the worker pool; posts still waiting in that pool are dropped unsent (``_post_if_open``).
        With another client on the wallet (``foreign_alert``) only our own orders are cancelled."""
        self._gate.clear()
        self._gate_open.clear()
        self.limiter.abandon("order")  # placements waiting for the rate limiter are never sent
        self.limiter.force("cancel", 1 + len(self.orders))  # the venue always admits a cancel-all
        self._wire_cancels.force(1 + len(self.orders))
        try:
            total = 0
            if self._inflight:
                first = asyncio.ensure_future(self._urgent_run(self._cancel_call()))
                await asyncio.wait(list(self._inflight), timeout=5.0)
                try:
                    total += len((await first).get("canceled") or [])
                except Exception as e:  # the verified pass below retries
                    self._error(f"cancel-all (before in-flight placements landed) failed: {describe(e)}")
            n, _ = await self._cancel_all_at_venue()
            return total + n
        finally:
            self._gate_open.set()
            self._gate.set()

    def _cancel_call(self, also: Sequence[str] = ()) -> Callable[[], Any]:
        """``DELETE /cancel-all``, or (another client trades this wallet) ``DELETE /orders`` for ours:
        our open orders and ``also`` (ours the venue still showed resting)."""
        if not self.foreign_alert:
            return self._client.cancel_all
        ids = list(dict.fromkeys([*self.orders.ids(), *also]))
        return (lambda: self._client.cancel_orders(ids)) if ids else (lambda: {"canceled": []})

    async def _cancel_in_pool(self, ids: list[str], _tags: list[int]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._cancel_pool, self._send_cancels, ids)

    def _send_cancels(self, ids: list[str]) -> Any:
        """Runs on a worker thread: ``DELETE /orders`` once the venue's cancel bucket can take it."""
        self._wire_cancels.take(len(ids))
        return self._client.cancel_orders(ids)

    def _post_if_open(self, args: list[Any], origins: Sequence[int] = (), taken: threading.Event | None = None) -> Any:
        """Runs on a worker thread: post the batch unless a kill closed the gate meanwhile. Tick-to-trade
        ends as the request leaves — its bytes written to the venue's socket (``http_clients.when_sent``;
        as the SDK is called, when its client cannot tell) — for each frame it answers (a deque's append
        is thread-safe). ``taken`` is set then too (or once the post is refused or fails before it left):
        ``_post_now`` waits for it, so the worker builds and writes the request while the event loop's
        thread waits, and is waiting on the venue — not running Python beside the loop — once it resumes."""
        def left() -> None:
            self._told_left(origins)
            if taken is not None:
                taken.set()

        try:
            if not self._gate_open.is_set():
                raise _GateClosed
            if not self._wire_orders.take(len(args), lambda: not self._gate_open.is_set()):
                raise _GateClosed  # a kill while it waited for the venue's bucket: never sent
            with when_sent(left) as told:
                if not told:
                    left()
                    return self._client.post_orders(args, True)
                pool = sdk_pool()
                prepared = self._prepared_post(pool, args) if pool is not None else None
                if pool is None or prepared is None:
                    return self._client.post_orders(args, True)
                # on one of the pool's post connections (opened if none is): ``_send_ready`` finds it open later
                try:
                    written = pool.send(prepared)
                except Exception as e:  # the SDK reads the error as its own (``replying``)
                    with replying(_transport_error(e)):
                        return self._client.post_orders(args, True)
            return self._answer_post(args, written)
        finally:
            if taken is not None:
                taken.set()

    async def _urgent_run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._urgent, functools.partial(fn, *args))

    async def _cancel_all_at_venue(self, count_errors: bool = True) -> tuple[int, bool]:
        """(orders cancelled, whether the venue then showed none of ours resting). ``count_errors``:
        failures count as venue errors (not during the catch-up, when nothing of ours is quoted)."""
        total = 0
        left: list = []
        for attempt in range(self.config.max_attempts):
            try:
                r = await self._urgent_run(self._cancel_call([str(o.get("id")) for o in left if isinstance(o, dict)]))
                total += len(r.get("canceled") or [])
                left = await self._urgent_run(self._client.get_open_orders)
            except Exception as e:
                (self._error if count_errors else self._read_failed)(
                    f"cancel-all attempt {attempt + 1} failed: {describe(e)}")
                await asyncio.sleep(0.2 * (attempt + 1))
                continue
            if self.foreign_alert:  # the other client's orders are not ours to judge
                left = [o for o in left if isinstance(o, dict) and str(o.get("id")) in self._ours_set]
            if not left:
                self._retire(self.orders.open())
                self.orders.close_all()
                self._settled.set()
                return total, True
        self.on_log("cancel-all: orders may still rest at the venue; retrying on the next reconciliation", "error")
        return total, False

    # ================================================================ reads
    def open_orders(self, condition_id: str | None = None) -> list[OpenOrder]:
        return self.orders.open(condition_id)

    def locked_collateral(self) -> float:
        return self.orders.locked()  # kept as the open set changes: no walk of every order per placement

    def on_book(self, book: OrderBook) -> None:
        return None

    def on_trade(self, book: OrderBook, asset_id: str, price: int, size: float, taker_is_buy: bool) -> list:
        return []  # real fills come from the user channel

    @property
    def pending_fills(self) -> int:
        return self.ledger.pending_legs()

    # ================================================================ user channel
    def _on_user_connect(self) -> None:
        # anything may have happened while we were away: reconcile now (orders, trades, balances)
        self._positions_due = 0.0
        self._wake.set()

    def _on_user_event(self, ev: UserEvent) -> None:
        if isinstance(ev, OrderEvent):
            self._on_order_event(ev)
        elif isinstance(ev, TradeEvent):
            self._on_trade_event(ev)

    def _on_order_event(self, ev: OrderEvent) -> None:
        matched = _dec(ev.size_matched)
        cancelled = ev.type == "CANCELLATION" or ev.status.startswith("CANCELED")
        if cancelled or ev.status == "MATCHED" or matched >= _dec(ev.original_size) > 0:
            self.orders.close(ev.id, final=matched)  # it can fill no more than ``matched`` in all
        elif ev.id in self.orders:
            self.orders.update(ev.id, status="live", filled=matched)
            return
        self._settled.set()

    def _on_trade_event(self, ev: TradeEvent) -> None:
        """Book each of our legs in the ledger (which keeps each leg's status and reverses a FAILED
        one exactly once). Replays (reconnects, reconciliation) are harmless. A leg in a market we do
        not know is looked up first; the next trade replay books it."""
        status = trade_status(ev.status)
        ts = ev.match_ts or time.time()
        for leg in our_legs(ev, self._api_key, self._ours_set):
            order_id, token = leg[0], leg[1]
            market = self._by_token.get(token)
            if market is None:
                self._look_up(ev.market, token)
                continue
            fill = leg_fill(market, leg, ev.id, ts)
            before = self.ledger.status(ev.id, order_id)
            for booked in self.ledger.record(fill, status):
                if booked.is_reversal:
                    self.failed_fills += 1
                    self._error(f"trade {ev.id[:8]} FAILED after matching: fill of {fmt_amount(fill.size)} reversed")
                self.on_fill(booked)
            after = self.ledger.status(ev.id, order_id)
            if after != before and after is not None:
                if after == "CONFIRMED":
                    self.settled_fills += 1
                if self.on_fill_status is not None:
                    self.on_fill_status(ev.id, order_id, after)
            self.orders.sweep(order_id)
            self._settled.set()

    # ================================================================ markets learned from fills
    def _look_up(self, condition_id: str, token: str) -> None:
        """A fill of ours in a market we do not know: find it at the venue, then book the fill. Until
        then nothing is quoted anywhere (the total position is not known)."""
        if not condition_id or condition_id in self._unknown:
            return
        self._unknown[condition_id] = f"booking a fill of ours in a market not traded now (token {token[:8]}…)"
        task = asyncio.ensure_future(self._learn_market(condition_id))
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _learn_market(self, condition_id: str) -> None:
        delay = 0.5
        while True:
            try:
                doc = await self._read(self._client.get_market, condition_id)
                market = market_from_clob(doc)
                break
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self._read_failed(f"looking up market {condition_id[:10]}… of a fill: {describe(e)}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        self._add_market(market)
        self.on_market(market)
        self.on_log(f"booking fills of {market.short_question} (a market not traded now)", "warning")
        async with self._reconcile_lock:  # a replay that starts now books the fill
            ok = await self._replay_trades()
        if ok:
            self._unknown.pop(condition_id, None)
        else:
            self._wake.set()

    # ================================================================ heartbeat
    def _start_heartbeat(self) -> None:
        """Heartbeats run on a thread of their own: a busy event loop (hundreds of markets) or a worker
        pool full of posts must never make one late — the venue cancels every order of ours ~10 s
        after the last. Results reach the loop by ``call_soon_threadsafe``."""
        self._hb_stop.clear()
        loop = asyncio.get_running_loop()
        self._hb_thread = threading.Thread(target=self._heartbeat_thread, args=(loop,), name="heartbeat", daemon=True)
        self._hb_thread.start()

    def _heartbeat_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        while not self._hb_stop.is_set():
            again = self._beat(loop)
            if not again:
                self._hb_stop.wait(self.config.heartbeat_s)

    def _beat(self, loop: asyncio.AbstractEventLoop) -> bool:
        """One heartbeat (on the heartbeat thread); True when it must be sent again at once (the venue
        told us the id it expects)."""
        from py_clob_client_v2.exceptions import PolyApiException

        def tell(fn: Callable[..., Any], *args: Any) -> None:
            try:
                loop.call_soon_threadsafe(fn, *args)
            except RuntimeError:  # the loop closed under us: the program is ending
                self._hb_stop.set()

        try:
            r = self._client.post_heartbeat(self.heartbeat_id)
            # the SDK's reply chains ids; Polymarket's docs show {"status": "ok"}: then none is sent
            self.heartbeat_id = str(r.get("heartbeat_id") or "") if isinstance(r, dict) else ""
            now = time.monotonic()
            if self.last_heartbeat and now - self.last_heartbeat > 2 * self.config.heartbeat_s:
                tell(self._wake.set)  # after a gap the venue may have cancelled our orders: reconcile now
            self.last_heartbeat = now
        except PolyApiException as e:
            expected = e.error_msg.get("heartbeat_id") if isinstance(e.error_msg, dict) else None
            if expected is not None and str(expected) != self.heartbeat_id:
                # our chain broke: continue from the venue's id — "" when it ended our session (after
                # ~10 s without a heartbeat), which starts a new chain
                self.heartbeat_id = str(expected)
                return True
            tell(self._read_failed, f"heartbeat failed: {describe(e)}")  # its own fail-closed rule: not an error burst
        except Exception as e:
            tell(self._read_failed, f"heartbeat failed: {type(e).__name__}")
        return False

    # ================================================================ reconciliation
    async def _reconcile_loop(self) -> None:
        """Reconcile every ``reconcile_s``, at once when woken (user-channel connect, a market added,
        a balance to read again), and quickly again after a failure (backoff up to ``reconcile_s``)."""
        failures = 0
        while True:
            if self._caught_up and not self._reconcile_error:
                wait = self.config.reconcile_s
                if self.reconcile.suspects:
                    wait = min(wait, self.config.recheck_s)
            else:  # failing: quoting waits for the next success, so try again soon
                wait = min(0.5 * 2 ** min(failures, 3), self.config.reconcile_s)
            self._wake.clear()
            await wait_event(self._wake, wait)
            ok = await self._reconcile_once()
            failures = 0 if ok else failures + 1

    async def _reconcile_once(self) -> bool:
        """One pass, serialised: the catch-up until it has succeeded once (orphans cancelled, trades
        since the journal booked, balances compared and taken from the venue where they differ), then
        venue truth: vanished orders closed, orders we never placed cancelled, missed trades booked,
        balances compared when due. True when every step succeeded."""
        async with self._reconcile_lock:
            try:
                if not self._caught_up:
                    await self._catch_up()
                    self._caught_up = True
                    self._reconcile_error = ""
                    self._positions_due = time.monotonic() + self.config.positions_s
                    self.on_log("caught up with the venue: positions and orders are known", "info")
                    return True
                await self._reconcile_orders()
                if not await self._replay_trades():
                    raise _Failed("trades unavailable")
                if self._new or self.reconcile.suspects or time.monotonic() >= self._positions_due:
                    await self._compare_positions(confirm_now=False)
                    self._positions_due = time.monotonic() + self.config.positions_s
            except _Failed as e:
                self._reconcile_error = self._catchup_reason = str(e)
                return False
            self._reconcile_error = ""
            return True

    async def _catch_up(self) -> None:
        """Before the first quote: no order of ours (from a run that died) rests, the venue's trades
        since the last journaled fill (or open leg) are booked, every token's count is the venue's."""
        self._catchup_reason = "cancelling orders left by an earlier run"
        n, confirmed = await self._cancel_all_at_venue(count_errors=False)
        if not confirmed:
            raise _Failed("cancelling orders left by an earlier run did not confirm; retrying")
        if n:
            self.on_log(f"start-up: cancelled {n} orphaned orders", "warning")
        self._catchup_reason = "booking the venue's trades since the last journaled fill"
        if not await self._replay_trades():
            raise _Failed("the venue's trade history is unavailable; retrying")
        self._catchup_reason = "comparing positions with the venue's balances"
        await self._compare_positions(confirm_now=True)

    async def _reconcile_orders(self) -> None:
        """The venue's open orders are the truth: ours it no longer lists are closed, ours it still
        lists are live (and cancelled again if we took them as closed), the rest cancelled — unless
        another client trades this wallet (``foreign_alert``)."""
        mark = self.orders.mark()
        asked = time.monotonic()
        at_venue = await self._venue_order_ids()
        # an order the venue confirmed closed while its list was read (a cancel answered, a fill): the
        # list, read page by page, may predate that. Not unknown, not to be cancelled again
        at_venue = {oid for oid in at_venue if not self.orders.closed_since(oid, mark)}
        self._close_vanished(at_venue, asked)
        reopened = self._confirm_listed(at_venue)
        if reopened and self._gate.is_set():  # it was meant to be gone: cancel it again, properly this time
            self.on_log(f"reconcile: {len(reopened)} orders we took as closed still rest; cancelling", "warning")
            await self.cancel(reopened)
        unknown = [oid for oid in at_venue if oid not in self.orders]
        self._watch_foreign([oid for oid in unknown if oid not in self._ours_set])
        if self.foreign_alert:
            unknown = [oid for oid in unknown if oid in self._ours_set]
        if unknown and self._gate.is_set():
            await self._cancel_orphans(unknown)

    async def _venue_order_ids(self) -> set[str]:
        try:
            venue = await self._read(self._client.get_open_orders)
        except Exception as e:
            self._read_failed(f"reconcile: open orders unavailable: {describe(e)}")
            raise _Failed(f"open orders unavailable ({describe(e)})") from None
        return {str(o.get("id")) for o in venue if isinstance(o, dict)}

    def _close_vanished(self, at_venue: set[str], asked: float) -> None:
        """Ours the venue does not list, old enough to be listed when the list was asked for (``asked``,
        monotonic): gone (filled or cancelled), though their fills may still be on their way. Measured
        from the asking, not the answer: a list slow to read (pages of it, a busy read lane) must not
        close an order placed while it was read."""
        for o in self.orders.open():
            # too recent to be visible there yet — or, unanswered, possibly still on its way to the venue
            wait = self.config.unanswered_s if o.status == "submitted" else self.config.settle_s
            if o.order_id not in at_venue and self._placed_at.get(o.order_id, 0.0) < asked - wait:
                self.orders.close(o.order_id)
                self._placed_at.pop(o.order_id, None)
                self._retire([o])

    def _confirm_listed(self, at_venue: set[str]) -> list[str]:
        """Ours the venue lists: a submitted one is live; one we took as closed rests after all and
        can fill (returned, to be cancelled again)."""
        reopened: list[str] = []
        for oid in at_venue:
            o = self.orders.get(oid)
            if o is not None and o.status == "submitted":
                self.orders.update(oid, status="live")
            elif o is None and (self.orders.reopen(oid) or self._revive(oid)):
                reopened.append(oid)
        return reopened

    def _watch_foreign(self, foreign: list[str]) -> None:
        """Orders we never placed, found in ``foreign_after`` reconciliations in a row: another client
        trades this wallet (raised once; the engine halts)."""
        self._foreign_runs = self._foreign_runs + 1 if foreign else 0
        if foreign and self._foreign_runs >= self.config.foreign_after and not self.foreign_alert:
            self.foreign_alert = (f"another client is trading this wallet: {len(foreign)} orders we never placed "
                                  f"keep appearing at the venue (no longer cancelled by polymm)")
            self.on_log(self.foreign_alert, "error")

    async def _cancel_orphans(self, order_ids: list[str]) -> None:
        try:
            await self._run(self._client.cancel_orders, order_ids)
            self.on_log(f"reconcile: cancelled {len(order_ids)} orders unknown to this session", "warning")
        except Exception as e:
            self._error(f"reconcile: cancel orphans failed: {describe(e)}")

    def _retire(self, orders: Sequence[OpenOrder]) -> None:
        for o in orders:
            self._retired[o.order_id] = o
        while len(self._retired) > RETIRED_MAX:
            del self._retired[next(iter(self._retired))]

    def _revive(self, order_id: str) -> bool:
        """One of ours the venue lists though we had let it go (a placement that landed late): it is
        counted again, as resting, until it is cancelled."""
        o = self._retired.pop(order_id, None)
        if o is None:
            return False
        self.orders.add(replace(o, status="live"))
        return True

    async def _replay_trades(self) -> bool:
        """Book the venue's trades since the oldest thing we may have missed: the last hour on the
        first replay, then ``REPLAY_OVERLAP_S`` before the previous one started; the last journaled
        fill (a restart) and the oldest leg the venue has not finished with."""
        from py_clob_client_v2.clob_types import TradeParams

        since = time.time() - 3600 if self._replayed_from is None else self._replayed_from - REPLAY_OVERLAP_S
        for t in (self.trades_since, self.ledger.oldest_open_leg()):
            if t is not None:
                since = min(since, t - 60)
        mark = self.orders.replay_started()
        started = time.time()
        try:
            trades = await self._read(self._client.get_trades, TradeParams(after=int(since)))
        except Exception as e:
            self._read_failed(f"reconcile: trades unavailable: {describe(e)}")
            return False
        turn = time.perf_counter()
        for t in trades if isinstance(trades, list) else []:
            try:
                ev = trade_from_rest(t)
            except ValueError as e:
                log.warning("reconcile: skipping an unreadable trade: %s", e)
                continue
            self._on_trade_event(ev)
            if time.perf_counter() - turn >= REPLAY_SLICE_S:  # thousands of trades at 300 markets: 40-50 ms
                await asyncio.sleep(0)  # the frames that came meanwhile go first (tick-to-trade)
                turn = time.perf_counter()
        self.orders.replay_done(mark)  # every fill of orders closed before the replay is booked now
        self._settled.set()
        self._replayed_from = started
        self._forget_history(since, started)
        return True

    def _forget_history(self, since: float, started: float) -> None:
        """Keep memory flat: once a replay from ``since`` is booked, no later replay reaches further
        back than ``REPLAY_OVERLAP_S`` before this one started (or an unfinished leg, which is never
        forgotten), so the legs the venue is done with from before then — and their dedup keys — can
        go; so can the placement times of orders no longer open. The ledger refuses to book a trade
        from before what it forgot (``Ledger.horizon``): a replay can never book one twice."""
        self.trades_since = None  # a restart's gap is booked now: from here on the overlap is enough
        keep = {*self.orders.ids(), *self.orders.closing_ids()}
        self.ledger.forget(min(since, started - REPLAY_OVERLAP_S) - FORGET_MARGIN_S, keep_orders=keep)
        cutoff = time.monotonic() - self.config.unanswered_s
        self._placed_at = {oid: t for oid, t in self._placed_at.items() if oid in keep or t >= cutoff}

    async def _compare_positions(self, *, confirm_now: bool) -> None:
        """Read every known token's balance and compare it with the ledger (``Reconciliation``). A read
        raced by fills of that token (the ledger moved meanwhile, or within ``balance_grace_s`` after)
        proves nothing and is skipped. ``confirm_now`` (the catch-up: nothing of ours rests, every
        trade was just booked) takes the venue's number at the first disagreement."""
        tokens = self._known_tokens()
        checking = set(self._new)
        versions = {t: self.ledger.version(t) for t in tokens}
        balances = await self._read_balances(list(tokens))
        if not confirm_now:
            await asyncio.sleep(self.config.balance_grace_s)
        now = time.time()
        clean: dict[str, bool] = {}
        for (token, (cid, no)), venue in zip(tokens.items(), balances, strict=True):
            if cid in self._capital:  # a merge, split or redeem in flight moves it: compare once it is booked
                clean[cid] = False
                continue
            if self.ledger.version(token) == versions[token] and \
                    await self._agrees(token, cid, no, venue, confirm_now=confirm_now, now=now):
                clean.setdefault(cid, True)
            else:
                clean[cid] = False  # a disagreement, or fills arrived meanwhile: read again next time
        for cid, ok in clean.items():
            if ok:
                self.reconcile.resume(cid)
        self._new -= checking

    def _known_tokens(self) -> dict[str, tuple[str, bool]]:
        """token → (condition id, whether it is the NO token): the markets we know and every holding."""
        tokens: dict[str, tuple[str, bool]] = {}
        for m in self._markets.values():
            tokens[m.yes_token] = (m.condition_id, False)
            tokens[m.no_token] = (m.condition_id, True)
        for h in self.ledger.holdings(nonzero=False):
            tokens.setdefault(h.token_id, (h.condition_id, h.no))
        return tokens

    async def _read_balances(self, tokens: list[str]) -> list[Decimal]:
        """Every token's balance at the venue, read at once; raises ``_Failed`` when any is unavailable."""
        from py_clob_client_v2.clob_types import AssetType, BalanceAllowanceParams

        results = await asyncio.gather(
            *(self._read_balance(BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=t)) for t in tokens),
            return_exceptions=True)
        balances: list[Decimal] = []
        failed: list[BaseException] = []
        for r in results:
            if isinstance(r, BaseException):
                failed.append(r)
            else:
                balances.append(r)
        if failed:
            self._read_failed(f"reconcile: {len(failed)} token balances unavailable: {describe(failed[0])}")
            raise _Failed(f"token balances unavailable ({describe(failed[0])})")
        return balances

    async def _agrees(self, token: str, cid: str, no: bool, venue: Decimal, *, confirm_now: bool,
                      now: float) -> bool:
        """Whether the venue's count of ``token`` agrees with the ledger. A disagreement confirmed
        (``Reconciliation.judge``) is taken from the venue — at 1 or 0 when the market resolved and
        was redeemed, else at the mark, with the market paused until a clean comparison."""
        h = self.ledger.holding(token)
        ours, pending = (h.shares, h.pending) if h is not None else (ZERO, ZERO)
        verdict = self.reconcile.judge(token, venue, ours, pending, confirm_now=confirm_now)
        if verdict == "clean":
            return True
        name = self._markets[cid].short_question if cid in self._markets else cid[:10] + "…"
        outcome = "NO" if no else "YES"
        if verdict == "suspect":
            self.on_log(f"{name}: venue holds {fmt_amount(venue)} {outcome}, the ledger {fmt_amount(ours)}; "
                        f"reading again in {self.config.recheck_s:g} s", "warning")
            return False
        won = await self._resolution(cid) if not venue else None
        if won is not None:  # resolved and redeemed: the shares were paid out (1 if they won, else 0)
            fill = self.ledger.adjust(token, cid, no, venue, MAX_PIPS if won == "YES" else 0, now)
            self.redemptions += 1
            self.on_log(f"{name}: resolved, {won} won: {fmt_amount(ours)} {outcome} redeemed at "
                        f"{'1' if won == outcome else '0'}", "warning")
        else:
            fill = self.ledger.adjust(token, cid, no, venue, self._adjust_price(cid), now)
            self.mismatches += 1
            why = (f"position differs from the venue: {outcome} ours {fmt_amount(ours)}, venue "
                   f"{fmt_amount(venue)}; taken from the venue, paused until a clean reconcile")
            self.reconcile.pause(cid, why)
            self.on_log(f"{name}: {why}", "error")
        if fill is not None:
            self.on_fill(fill)
        return False

    async def _resolution(self, cid: str) -> str | None:
        """"YES" or "NO" when the venue says the market resolved (CLOB ``/markets/{cid}``: closed, a
        winning token), else None (also when it cannot be read: then it is a plain mismatch)."""
        try:
            doc = await self._read(self._client.get_market, cid)
        except Exception as e:
            self._read_failed(f"reconcile: market {cid[:10]}… unavailable: {describe(e)}")
            return None
        if not isinstance(doc, dict) or not doc.get("closed"):
            return None
        tokens = [t for t in doc.get("tokens") or [] if isinstance(t, dict)]
        for i, t in enumerate(tokens[:2]):
            if t.get("winner") is True:
                return "YES" if i == 0 else "NO"
        return None

    def _adjust_price(self, cid: str) -> int:
        """The price of a position adjustment (YES pips): the mark, else our average cost (no P&L)."""
        mark = self.mark(cid)
        if mark is not None:
            return mark
        pos = self.ledger.portfolio.positions.get(cid)
        if pos is not None and pos.avg_price:
            return price_to_pips(pos.avg_price.quantize(Decimal("0.0001")))
        return MAX_PIPS // 2


_IMPLEMENTS: type[Execution] = LiveExecution  # mypy checks that live implements the whole protocol


class _GateClosed(Exception):
    """A queued post found the gate closed (a kill is running): it was not sent."""


class _Failed(Exception):
    """A reconciliation step failed; the message says which (shown while quoting waits for it)."""


def _derive_or_create(client: Any) -> Any:
    """The wallet's API credentials: derived when the venue has them, created when it has none. Not
    the SDK's ``create_or_derive_api_key``: it answers a busy venue's 429 on create with a derive that
    fails for a new wallet (400), hiding the transient error a retry would have ridden out."""
    try:
        return client.derive_api_key()
    except Exception as e:
        if is_transient(e):
            raise
    return client.create_api_key()


#: One leg of a trade that is ours: (order id, token, venue side, venue price, size, fee bps).
Leg = tuple[str, str, str, Decimal, Decimal, str]


def our_legs(ev: TradeEvent, api_key: str, order_ids: set[str] | frozenset[str] = frozenset()) -> list[Leg]:
    """Every leg of the trade that is ours: our order ids, or our API key as the owner — the taker's
    (``trader_side`` not MAKER) or a maker order's — which also finds orders of an earlier run of ours.
    A maker leg's side and price are the maker's own (the top-level ones are the taker's)."""
    legs: list[Leg] = []
    mine = bool(api_key) and ev.owner == api_key and ev.trader_side.upper() != "MAKER"
    if ev.taker_order_id and (ev.taker_order_id in order_ids or mine):
        legs.append((ev.taker_order_id, ev.asset_id, ev.side, _dec(ev.price), _dec(ev.size), ev.fee_rate_bps))
    for mo in ev.maker_orders:
        if mo.order_id in order_ids or (api_key and mo.owner == api_key):
            token = mo.asset_id or ev.asset_id
            side = mo.side or (_opposite(ev.side) if token == ev.asset_id else ev.side)
            legs.append((mo.order_id, token, side, _dec(mo.price), _dec(mo.matched_amount), "0"))
    return legs


def leg_fill(market: Market, leg: Leg, trade_id: str, ts: float) -> Fill:
    """A leg as the YES-terms fill the ledger books (a NO fill at q is a YES fill at 1 − q on the other
    side); the taker fee is ``size × rate × p × (1 − p)``."""
    order_id, token, side, price, size, fee_bps = leg
    pips = price_to_pips(price)
    yes_side = Side(side)
    no = token == market.no_token
    if no:
        yes_side, pips = yes_side.other, MAX_PIPS - pips
    fee = size * _dec(fee_bps) / 10_000 * price * (1 - price)
    return Fill(market.condition_id, order_id, yes_side, pips, size, fee, ts, trade_id, token, no)


def signed_size(order: Any, asked: Decimal) -> Decimal:
    """The shares a signed V2 order really carries: ``takerAmount`` of a BUY, ``makerAmount`` of a
    SELL (1e6 units). The SDK rounds with floats, so this can differ from what was asked."""
    try:
        amount = order.takerAmount if int(order.side) == 0 else order.makerAmount
        return Decimal(int(amount)) / MICRO
    except (AttributeError, TypeError, ValueError):
        return asked


def market_from_clob(doc: Any) -> Market:
    """A ``Market`` from CLOB ``GET /markets/{condition_id}`` (tokens in outcome order: YES first)."""
    if not isinstance(doc, dict):
        raise ValueError(f"market: expected an object, got {type(doc).__name__}")
    tokens = [t for t in doc.get("tokens") or [] if isinstance(t, dict) and t.get("token_id")]
    if len(tokens) != 2:
        raise ValueError(f"tokens: expected 2, got {len(tokens)}")
    try:
        tick = Tick.parse(str(doc.get("minimum_tick_size") or "0.01"))
    except PriceError as e:
        raise ValueError(f"minimum_tick_size: {e}") from None
    return Market(
        condition_id=str(doc.get("condition_id") or ""),
        yes_token=str(tokens[0]["token_id"]), no_token=str(tokens[1]["token_id"]),
        question=str(doc.get("question") or doc.get("market_slug") or doc.get("condition_id")),
        tick=tick, min_order_size=_dec(doc.get("minimum_order_size"), Decimal(5)),
        neg_risk=bool(doc.get("neg_risk")), neg_risk_market_id=str(doc.get("neg_risk_market_id") or ""),
        slug=str(doc.get("market_slug") or ""), end_date=str(doc.get("end_date_iso") or ""),
        outcomes=(str(tokens[0].get("outcome") or "Yes"), str(tokens[1].get("outcome") or "No")),
    )


def _dec(value: object, default: Decimal = ZERO) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else default
    except ArithmeticError:
        return default


def _opposite(side: str) -> str:
    return "SELL" if side == "BUY" else "BUY"


def _is_balance_refusal(msg: str) -> bool:
    """docs/protocol.md §5.3: ``not enough balance / allowance`` (a sell of shares the venue does not see
    free, or a buy its pUSD does not cover)."""
    return "not enough balance" in msg


def _is_post_only_cross(msg: str) -> bool:
    """docs/protocol.md §5.3: ``invalid post-only order: order crosses book``. Not the GTC-cross
    ``order {id} crosses the book`` (cause undocumented), which stays an error."""
    return msg.startswith("invalid post-only order") and "crosses" in msg


def _expires(order: Any) -> bool:
    """Whether a signed order carries a GTD expiration."""
    return str(getattr(order, "expiration", "0") or "0") != "0"


def _transport_error(e: Exception) -> httpx.TransportError:
    """``e`` as an httpx error (what the SDK turns into a ``PolyApiException`` without a status: a post whose
    outcome is unknown, resent)."""
    return e if isinstance(e, httpx.TransportError) else httpx.TransportError(f"{type(e).__name__}: {e}")


def _on_loop(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any) -> None:
    """A worker's done callback: ``fn(*args)`` on ``loop`` (never after it closed)."""
    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
        loop.call_soon_threadsafe(fn, *args)


def _settle(fut: asyncio.Future[Any], result: Any) -> None:
    if not fut.done():  # the step awaiting it may have been cancelled
        fut.set_result(result)


def _fail(fut: asyncio.Future[Any], error: BaseException) -> None:
    if not fut.done():  # likewise
        fut.set_exception(error)
