"""The optional Prometheus exporter (``--metrics-port``): feed health, orders, fills, inventory, P&L and
the kill latch of a running ``Engine``, served over HTTP from a ``CollectorRegistry`` of its own.

How it reads, and why:

* **On the engine's event loop, at scrape time.** The HTTP server is aiohttp on the loop that runs
  the engine, not a thread. A scrape runs the collector synchronously — nothing awaits between its
  first read and its last — so it sees one instant of the engine: no torn reads of dicts the loop is
  mutating, no locks. A scrape costs the loop about 1 ms with 20 markets (the feed figures come from
  the ``feed`` slice the risk loop publishes every 0.5 s, not recomputed here); a thread would need
  the same hop onto the loop to read consistently, and a stalled loop would stall it all the same.
* **Read on the loop, written off it.** Only the reading is the loop's: the text (~170 kB at 300
  markets) is made and gzipped on a worker thread from the families read (``scrape_handler``). Made on the
  loop as ``prometheus_client``'s own aiohttp handler makes it, one scrape at 300 markets held the
  loop ~9 ms (read ~3 ms, text ~4 ms, compression ~2 ms) — a pause the posts of that moment waited
  for, every scrape interval.
* **Read, not hooked.** Gauges and counters are read from what the engine keeps: ``engine.feed``
  (frames, reconnects, resyncs), ``engine.execution`` (orders placed, rejects, retries, reversed
  fills: what every execution declares in ``ExecutionHealth``, paper reporting zeros and no user
  channel or heartbeat), ``engine.fills_by_side`` / ``shares_by_side``, ``engine.portfolio``,
  ``engine.halted``, ``engine.capital`` (merges, redeems, splits), ``engine.journal`` (its writer
  queue and what a full queue dropped) and the store (``rewards``: what the
  venue says we earned today). Only the latency histogram needs events: the execution's
  ``on_post_latency`` feeds it (paper has no venue round trip, so no samples), and ``stop()`` unhooks
  it. Counters count from the start of the process (fills restored from the journal are not counted
  again; a capital operation is counted when a scrape first sees it ended).
* **No secrets.** Labels are condition ids, token ids, sides, statuses and the halt reason; the venue
  address is shown without user info or query; keys and credentials are never read here.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import hdrs, web
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric

from .config import ConfigError
from .domain.ctf import CapitalKind
from .state import FeedState, PortfolioState, RewardsState, RiskState, VenueState

if TYPE_CHECKING:
    from .engine.engine import Engine

FEED_STATUSES = ("STOPPED", "STARTING", "RUNNING", "DEGRADED", "ERROR")
RATE_WINDOW_S = 10.0  # frames/s is averaged over about this long
SAMPLE_EVERY_S = 1.0
# a batch post is one HTTPS round trip when all is well; retries with backoff reach seconds
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Tick-to-trade's buckets: 1 ms apart up to 10 ms (the target is p99 ≤ 10 ms), so a quantile read from
#: them (Prometheus's ``histogram_quantile``: linear within a bucket) is within a millisecond of the
#: samples'. With one bucket from 5 to 10 ms, a p99 of 6.8 ms read as 9.3 (6.6% of the posts in it, the
#: 99th percentile at 86% of its width).
TICK_TO_TRADE_BUCKETS = (0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007,
                         0.008, 0.009, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25, 1.0)
REASON_MAX = 200  # a label value, not a log line
#: the statuses a capital operation ends in (``engine/capital.py``): each operation is counted once, ended
CAPITAL_END_STATUSES = ("confirmed", "failed", "deferred")


def _f(x: Decimal | float | int | None) -> float:
    return float(x) if x is not None else 0.0


def rewards_earned(rewards: RewardsState | None) -> Decimal:
    """Today's rewards as last read from the venue (0 before a first good reading, and in paper)."""
    return rewards.today if rewards is not None and rewards.known else Decimal(0)


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """As Prometheus's ``histogram_quantile``: linear within the bucket the quantile falls in.

    ``buckets``: a histogram's cumulative buckets as scraped, [(upper bound, count)] sorted, +Inf last
    (``TICK_TO_TRADE_BUCKETS`` are spaced for it to read tick-to-trade within a millisecond)."""
    if not buckets or buckets[-1][1] <= 0:
        return float("nan")
    rank, lower, below = q * buckets[-1][1], 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * ((rank - below) / (count - below) if count > below else 1.0)
        lower, below = bound, count
    return lower


def public_address(url: str) -> str:
    """``scheme://host[:port]/path`` of ``url``: user info, query and fragment dropped (they can carry secrets)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return ""
    if not parts.scheme or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}"


class FrameRate:
    """Frames per second over the last ~``RATE_WINDOW_S``, from samples of the feed's frame counter
    taken every ``SAMPLE_EVERY_S`` by a task on the loop (so the rate does not depend on how often
    Prometheus scrapes)."""

    def __init__(self, frames: Callable[[], int]) -> None:
        self._frames = frames
        self._samples: deque[tuple[float, int]] = deque(maxlen=int(RATE_WINDOW_S / SAMPLE_EVERY_S) + 1)
        self.sample()

    def sample(self) -> None:
        self._samples.append((time.monotonic(), self._frames()))

    def rate(self) -> float:
        t0, f0 = self._samples[0]
        dt = time.monotonic() - t0
        return (self._frames() - f0) / dt if dt > 0 else 0.0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_EVERY_S)
            self.sample()


class _Latency:
    """A latency histogram fed by an execution hook (``hook``: ``on_post_latency``, the seconds for a
    batch post to be answered; ``on_tick_to_trade``, a frame's receipt to the orders it led to leaving).
    It chains onto the hook (whatever was there is still called, so two exporters both observe) and
    ``remove`` restores it. Paper has no venue round trip: no samples."""

    def __init__(self, engine: Engine, registry: CollectorRegistry, hook: str = "on_post_latency",
                 name: str = "polymm_order_post_seconds",
                 doc: str = "Time for a batch of orders to be answered by the venue (retries included)",
                 buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.histogram = Histogram(name, doc, buckets=buckets, registry=registry)
        self._active = True
        self._ex = engine.execution
        self._hook = hook
        self._prev = getattr(self._ex, hook, None)
        setattr(self._ex, hook, self._observe)

    def _observe(self, seconds: float) -> None:
        if self._active:
            self.histogram.observe(seconds)
        if self._prev is not None:
            self._prev(seconds)

    def remove(self) -> None:
        self._active = False  # a tap that is no longer outermost stays behind as a pass-through
        if getattr(self._ex, self._hook, None) == self._observe:
            setattr(self._ex, self._hook, self._prev)


class EngineCollector:
    """Reads the engine at scrape time (see the module docstring for what comes from where)."""

    def __init__(self, engine: Engine, rate: FrameRate) -> None:
        self.engine = engine
        self.rate = rate
        #: capital operations counted so far, by (op, status); ``_counted_ids``: those in the manager's
        #: ``recent`` list already counted (an operation is counted once, when a scrape sees it ended)
        self._capital_counts: dict[tuple[str, str], int] = {}
        self._counted_ids: set[str] = set()

    def collect(self) -> Iterator[Metric]:
        yield from self._venue()
        yield from self._feed()
        yield from self._execution()
        yield from self._inventory()
        yield from self._pnl()
        yield from self._rewards()
        yield from self._capital()
        yield from self._risk()
        yield from self._journal()

    def _venue(self) -> Iterator[Metric]:
        venue: VenueState | None = self.engine.store.get("venue")
        if venue is not None:
            info = InfoMetricFamily("polymm", "Mode, execution and venue of this engine")
            info.add_metric([], {"mode": venue.mode, "execution": venue.execution, "venue": public_address(venue.host)})
            yield info

    def _feed(self) -> Iterator[Metric]:
        e = self.engine
        feed: FeedState = e.store.get("feed") or e.feed.state()  # the slice: published every 0.5 s
        connected = GaugeMetricFamily("polymm_ws_connected", "1 while the WebSocket is connected (market: "
                                      "shard RUNNING)", labels=["channel", "shard"])
        reconnects = CounterMetricFamily("polymm_ws_reconnects", "WebSocket reconnections", labels=["channel", "shard"])
        status = GaugeMetricFamily("polymm_feed_shard_status", "1 for the market-data shard's current status",
                                   labels=["shard", "status"])
        frames = CounterMetricFamily("polymm_feed_frames", "Market-channel frames received", labels=["shard"])
        for s in feed.shards:
            shard = str(s.index)
            connected.add_metric(["market", shard], 1.0 if s.status == "RUNNING" else 0.0)
            reconnects.add_metric(["market", shard], s.reconnects)
            frames.add_metric([shard], s.frames)
            for st in FEED_STATUSES:
                status.add_metric([shard, st], 1.0 if s.status == st else 0.0)
        user = e.execution.user_channel  # paper has none
        if user is not None:
            connected.add_metric(["user", "0"], 1.0 if user.connected else 0.0)
            reconnects.add_metric(["user", "0"], user.reconnects)
        yield from (connected, reconnects, status, frames)
        yield GaugeMetricFamily("polymm_feed_frames_per_second", f"Market-channel frames per second (last "
                                f"{RATE_WINDOW_S:.0f} s, all shards)", value=self.rate.rate())
        yield CounterMetricFamily("polymm_feed_resyncs", "Books resynced from REST", value=feed.resyncs)
        yield CounterMetricFamily("polymm_feed_freezes", "Frozen sockets detected", value=feed.freezes)
        yield CounterMetricFamily("polymm_feed_hash_mismatches", "Books found to differ from the venue's",
                                  value=feed.hash_mismatches)
        yield CounterMetricFamily("polymm_feed_frame_errors", "Malformed or unusable frames skipped",
                                  value=feed.errors)
        if feed.last_frame_age_s is not None:
            yield GaugeMetricFamily("polymm_feed_last_frame_age_seconds", "Seconds since the last market frame",
                                    value=feed.last_frame_age_s)

    def _execution(self) -> Iterator[Metric]:
        ex = self.engine.execution
        yield GaugeMetricFamily("polymm_open_orders", "Our resting orders (submitted or live)",
                                value=len(ex.open_orders()))
        yield GaugeMetricFamily("polymm_pending_fills", "Fills matched but not yet confirmed on chain",
                                value=ex.pending_fills)
        yield CounterMetricFamily("polymm_order_rejects", "Orders the venue refused", value=ex.rejects)
        yield CounterMetricFamily("polymm_order_retries", "Batch posts retried (busy venue, no answer)",
                                  value=ex.retries)
        yield CounterMetricFamily("polymm_fills_reversed", "Fills reversed after the venue reported them FAILED",
                                  value=ex.failed_fills)
        yield CounterMetricFamily("polymm_orders_placed", "Orders the venue accepted (paper: orders placed)",
                                  value=ex.orders_placed)
        fills = CounterMetricFamily("polymm_fills", "Fills of our orders, by YES-terms side", labels=["side"])
        shares = CounterMetricFamily("polymm_filled_shares", "Shares filled, by YES-terms side", labels=["side"])
        for side, n in self.engine.fills_by_side.items():
            fills.add_metric([side.value.lower()], n)
            shares.add_metric([side.value.lower()], float(self.engine.shares_by_side[side]))
        yield from (fills, shares)
        sent = CounterMetricFamily("polymm_quotes_sent", "Quotes sent to the venue, by YES-terms side", labels=["side"])
        for side, n in self.engine.orders_by_side.items():
            sent.add_metric([side.value.lower()], n)
        yield sent
        yield GaugeMetricFamily("polymm_fills_per_minute", "Fills of ours in the last minute",
                                value=self.engine.fills_per_minute())
        yield CounterMetricFamily("polymm_latency_alerts", "Latency alerts raised (order round trip or market data "
                                  "delay over its threshold)", value=self.engine.latency_alerts)
        yield CounterMetricFamily("polymm_balance_cuts", "Placements cut because the collateral free of open "
                                  "orders did not cover them", value=self.engine.balance_cuts)
        yield CounterMetricFamily("polymm_soft_cap_warnings", "Warnings that a cap's use passed the soft cap "
                                  "(POLYMM_SOFT_CAP_PCT)", value=self.engine.soft_cap_warnings)
        usage = GaugeMetricFamily("polymm_cap_usage_ratio", "Each hard cap's use as a fraction of it", labels=["cap"])
        for cap, used in self.engine.usage.items():
            usage.add_metric([cap.replace(" ", "_")], used)
        yield usage
        st = self.engine.store.get("execution")
        if st is not None:
            yield GaugeMetricFamily("polymm_reconciling", "1 while what we hold is not known (catch-up, a failing "
                                    "reconciliation, an unknown balance): nothing is quoted", value=0.0 if st.ready
                                    else 1.0)
            yield CounterMetricFamily("polymm_position_mismatches", "Positions taken from the venue because they "
                                      "differed from ours", value=st.mismatches)
            yield GaugeMetricFamily("polymm_markets_paused_by_reconciliation", "Markets paused until a clean "
                                    "comparison with the venue", value=len(st.paused))
            if st.loop_lag_ms is not None:
                yield GaugeMetricFamily("polymm_event_loop_lag_seconds", "How late the event loop runs a timer "
                                        "(worst of the last 5 s)", value=st.loop_lag_ms / 1000)
            yield GaugeMetricFamily("polymm_rate_limit_queued", "Requests waiting for the client-side rate "
                                    "limiter", value=st.queued)
            yield GaugeMetricFamily("polymm_rate_limit_throttled", "Requests the rate limiter held back in the "
                                    "last minute", value=st.throttled_1m)
            yield CounterMetricFamily("polymm_venue_rate_limited", "Requests the venue refused with 429",
                                      value=st.venue_429s)
        yield CounterMetricFamily("polymm_strategy_steps", "Strategy steps run (a market's signals, model, risk "
                                  "check and order plan)", value=self.engine.steps)
        yield CounterMetricFamily("polymm_requotes_deferred", "Requotes put off because the venue's rate limits "
                                  "had no room (the old quotes stayed)", value=self.engine.deferrals)
        yield GaugeMetricFamily("polymm_requote_pressure", "The requote tolerance's factor under the venue's rate "
                                "limits (1: room to spare; above: only orders that many tolerances off target "
                                "are requoted)", value=self.engine.pressure)
        arbs = CounterMetricFamily("polymm_parity_gaps", "YES/NO parity gaps worth the minimum profit after fees, "
                                   "by what was done (alerted, taken, refused by the limits)", labels=["action"])
        for action, n in self.engine.arbs.items():
            arbs.add_metric([action], n)
        yield arbs
        age = ex.heartbeat_age
        if age is not None:
            yield GaugeMetricFamily("polymm_heartbeat_age_seconds", "Seconds since the venue accepted our heartbeat",
                                    value=age)

    def _inventory(self) -> Iterator[Metric]:
        e = self.engine
        held = GaugeMetricFamily("polymm_inventory_shares", "Shares held per outcome token (the ledger's, markets "
                                 "not traded now included)", labels=["market", "outcome", "token"])
        net = GaugeMetricFamily("polymm_position_shares", "Net position in YES shares (negative: long NO)",
                                labels=["market"])
        counts = {h.token_id: h.shares for h in e.ledger.holdings(nonzero=False)}
        tokens = {h.token_id: (h.condition_id, h.no) for h in e.ledger.holdings(nonzero=False)}
        for cid, m in e.markets.items():
            tokens[m.yes_token], tokens[m.no_token] = (cid, False), (cid, True)
        for token, (cid, no) in tokens.items():
            held.add_metric([cid, "NO" if no else "YES", token], float(counts.get(token, 0)))
        for cid in {*e.markets, *e.portfolio.positions}:
            pos = e.portfolio.positions.get(cid)
            net.add_metric([cid], float(pos.qty if pos is not None else Decimal(0)))
        yield from (held, net)

    def _pnl(self) -> Iterator[Metric]:
        p: PortfolioState | None = self.engine.store.get("portfolio")
        r: RiskState | None = self.engine.store.get("risk")
        yield GaugeMetricFamily("polymm_pnl_realized_dollars", "Realised P&L of this session (average cost)",
                                value=_f(p.realized_pnl if p else 0))
        yield GaugeMetricFamily("polymm_pnl_unrealized_dollars", "Unrealised P&L at the mid",
                                value=_f(p.unrealized_pnl if p else 0))
        yield GaugeMetricFamily("polymm_fees_dollars", "Fees paid", value=_f(p.fees if p else 0))
        yield GaugeMetricFamily("polymm_pnl_total_dollars", "Realised + unrealised − fees",
                                value=_f(p.total_pnl if p else 0))
        yield GaugeMetricFamily("polymm_pnl_today_dollars", "Today's P&L (since 00:00 UTC), as the daily loss "
                                "limit sees it", value=_f(r.daily_pnl if r else 0))
        earned = rewards_earned(self.engine.store.get("rewards"))
        yield GaugeMetricFamily("polymm_net_pnl", "Net P&L in pUSD: trading (realised + unrealised) + the "
                                "liquidity rewards earned today as last read from the venue (0 in paper and before "
                                "a first reading) - fees", value=_f((p.total_pnl if p else Decimal(0)) + earned))

    def _rewards(self) -> Iterator[Metric]:
        """Today's liquidity rewards as the venue reports them (live and demo; paper earns none: nothing)."""
        rw: RewardsState | None = self.engine.store.get("rewards")
        if rw is None:
            return
        yield GaugeMetricFamily("polymm_rewards_up", "1 when the last reading of the rewards earned from the venue "
                                "succeeded, 0 when it failed (the figures are then the last good reading's)",
                                value=1.0 if rw.known and not rw.error else 0.0)
        if not rw.known:
            return
        earned = GaugeMetricFamily("polymm_rewards_earned_today", "Liquidity rewards earned today (UTC) in pUSD, as "
                                   "last read from the venue: per market, and market=\"total\" the venue's day "
                                   "total (do not add it to the markets)", labels=["market"])
        earned.add_metric(["total"], _f(rw.today))
        for cid, amount in sorted(rw.by_market.items()):
            earned.add_metric([cid], _f(amount))
        yield earned
        if rw.read_at is not None:
            yield GaugeMetricFamily("polymm_rewards_read_timestamp_seconds", "When the rewards were last read "
                                    "from the venue successfully (epoch seconds)", value=rw.read_at)

    def _capital(self) -> Iterator[Metric]:
        """Merges, redeems and splits of the engine's capital manager (POLYMM_AUTO_MERGE / _AUTO_REDEEM):
        ended operations counted by op and status when a scrape first sees them in its ``recent`` list,
        and those in flight. Nothing without a capital manager."""
        cap = self.engine.capital
        if cap is None:
            return
        recent = list(cap.recent)
        for op in recent:
            if op.op_id not in self._counted_ids:
                key = (op.kind.value, op.status)
                self._capital_counts[key] = self._capital_counts.get(key, 0) + 1
        self._counted_ids = {op.op_id for op in recent}  # bounded: an operation that left the list never returns
        counts = CounterMetricFamily("polymm_capital_ops", "Capital operations ended, by op (merge, redeem, split) "
                                     "and status (confirmed, failed, deferred)", labels=["op", "status"])
        shown = {(k.value, st): 0 for k in CapitalKind for st in CAPITAL_END_STATUSES} | self._capital_counts
        for (op_name, status), n in sorted(shown.items()):
            counts.add_metric([op_name, status], n)
        yield counts
        flying = GaugeMetricFamily("polymm_capital_ops_in_flight", "Capital operations under way (sent, not ended "
                                   "yet), by op", labels=["op"])
        for kind in CapitalKind:
            flying.add_metric([kind.value], sum(op.kind is kind for op in cap.in_flight.values()))
        yield flying

    def _risk(self) -> Iterator[Metric]:
        e = self.engine
        yield GaugeMetricFamily("polymm_halted", "1 while the kill switch is latched (HALTED), 0 while ARMED",
                                value=1.0 if e.halted else 0.0)
        halt = InfoMetricFamily("polymm_halt", "Why the kill switch latched (empty while armed)")
        halt.add_metric([], {"reason": e.halt_reason[:REASON_MAX] if e.halted else ""})
        yield halt
        r: RiskState | None = e.store.get("risk")
        if r is None:
            return
        yield GaugeMetricFamily("polymm_daily_loss_limit_dollars", "The daily loss limit", value=_f(r.daily_loss_limit))
        yield GaugeMetricFamily("polymm_risk_exposure_dollars", "Dollar exposure of every position", value=r.exposure)
        yield GaugeMetricFamily("polymm_risk_tighten_ratio", "Factor today's loss tightens the limits by (1: none)",
                                value=r.tighten)
        yield GaugeMetricFamily("polymm_risk_cooldown_seconds", "Error cooldown left (no new orders)",
                                value=r.cooldown_s)
        if r.balance is not None:
            yield GaugeMetricFamily("polymm_balance_dollars", "Collateral balance (paper: capital + session P&L)",
                                    value=r.balance)

    def _journal(self) -> Iterator[Metric]:
        """The journal's writer queue (bounded: ``journal.MAX_QUEUED``) and what it had to drop."""
        j = self.engine.journal
        if j is None:
            return
        yield GaugeMetricFamily("polymm_journal_queued", "Journal statements waiting for the writer thread",
                                value=j.queued)
        yield CounterMetricFamily("polymm_journal_dropped", "Journal statements dropped because the writer was "
                                  "too far behind (never written)", value=j.dropped)


class _Read:
    """Families read already, as the encoders take a registry (``collect``)."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def _render(families: list[Metric], accept: str, gzipped: bool) -> tuple[bytes, dict[str, str]]:
    """The exposition text of ``families`` in the format ``accept`` asks for, gzipped if ``gzipped``
    (a worker thread's work: no engine state is read here)."""
    encoder, content_type = choose_encoder(accept)
    body = encoder(_Read(families))
    headers = {"Content-Type": content_type}
    if gzipped:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    return body, headers


def _only(family: Metric, names: set[str]) -> Metric:
    """``family`` with only the samples named in ``names``."""
    kept = Metric(family.name, family.documentation, family.type, family.unit)
    kept.samples = [s for s in family.samples if s.name in names]
    return kept


def scrape_handler(registry: CollectorRegistry) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``GET /metrics``: ``registry`` read on the event loop (one instant of the engine: module
    docstring), the text made and compressed on a worker thread. Takes what ``prometheus_client``'s own
    handler takes: ``Accept`` (text or OpenMetrics), ``Accept-Encoding: gzip`` and ``name[]`` to
    restrict the answer to the samples of those names."""

    async def handle(request: web.Request) -> web.Response:
        families = list(registry.collect())
        names = set(request.query.getall("name[]", []))
        if names:
            families = [m for m in (_only(f, names) for f in families) if m.samples]
        accept = ",".join(request.headers.getall(hdrs.ACCEPT, []))
        gzipped = gzip_accepted(",".join(request.headers.getall(hdrs.ACCEPT_ENCODING, [])))
        body, headers = await asyncio.get_running_loop().run_in_executor(None, _render, families, accept, gzipped)
        return web.Response(body=body, headers=headers)

    return handle


class MetricsServer:
    """A running exporter: ``url`` to scrape, ``registry`` it serves, ``await stop()`` to close and unhook."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int, runner: web.AppRunner,
                 taps: tuple[_Latency, ...], sampler: asyncio.Task) -> None:
        self.registry = registry
        self.host = host
        self.port = port  # the bound port (the one the OS chose when asked for port 0)
        self._runner = runner
        self._taps = taps
        self._sampler = sampler

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    async def stop(self) -> None:
        self._sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._sampler
        for tap in self._taps:
            tap.remove()
        await self._runner.cleanup()


async def start_metrics_server(engine: Engine, port: int, host: str = "127.0.0.1") -> MetricsServer:
    """Serve ``engine``'s metrics at ``http://host:port/metrics`` on the running event loop.

    ``port`` 0 picks a free port (``MetricsServer.port`` says which). Raises ``ConfigError`` when the
    address cannot be bound. Call from the loop that runs the engine."""
    registry = CollectorRegistry()
    taps = _Latency(engine, registry)
    tick = _Latency(engine, registry, "on_tick_to_trade", "polymm_tick_to_trade_seconds",
                    "Time from a market-data frame's receipt to the orders it led to leaving for the venue",
                    TICK_TO_TRADE_BUCKETS)
    rate = FrameRate(lambda: engine.feed.frames)
    registry.register(EngineCollector(engine, rate))
    app = web.Application()
    app.router.add_get("/metrics", scrape_handler(registry))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except OSError as e:
        await runner.cleanup()
        taps.remove()
        tick.remove()
        raise ConfigError(f"metrics_port: cannot listen on {host}:{port} ({e.strerror or e})") from None
    bound = runner.addresses[0][1]
    sampler = asyncio.create_task(rate.run(), name="metrics-frame-rate")
    return MetricsServer(registry, host, bound, runner, (taps, tick), sampler)
