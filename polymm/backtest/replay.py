"""Replay: the strategy and simulated fills over a recorded market channel, in simulated time.

The clock is the recorded receive time ``t`` of each frame (``venue.recorder``); nothing reads the wall
clock, so the same recording and parameters give the same ``RunReport``, as fast as the CPU allows.

What runs is the engine's own code, called as the engine calls it: frames are parsed by
``parse_frame`` and applied to a ``BookSet``; every ``last_trade_price`` goes to ``RecordedVenue.on_trade``
(``fills.py``: our orders queued in the recorded book) and to the market's ``MarketBrain``; a fill goes to
the ``Portfolio`` and the brain. A market's strategy step is the engine's ``Engine.step``
(``MarketBrain.decide`` → ``RiskEngine.check`` → drop sizes under the venue minimum → the ``fixed`` model's
requote rule → ``diff_orders`` → cancel / place at the ``RecordedVenue``, with the order latency), and the
risk loop's pass (``Engine.risk_tick``: the daily loss and total position kills, correlation samples,
stale orders) runs every ``risk_interval_s`` of recorded time.

Scheduling (the engine's ``run_strategy``, in simulated time): a market whose book changed (or that got
a fill) steps at once, or ``min_step_gap_s`` after its previous step if that was sooner (book changes
in between coalesce into that one step); otherwise its fallback timer steps it
``quote_interval_fast_s`` after its previous step while it was active (a change or a fill) in the last
5 s, else ``quote_interval_s``. A step or risk pass due before a frame's time runs before that frame,
at its own due time. The strategy takes no time; what a step sends lands ``latency_s`` later (``fills.py``).

The frames received at one instant are all applied before anything due at that instant runs: a print
and the book it changed arrive together (the venue sends them together), and the live feed consumes
what one read brought in without yielding to the strategy (``websockets`` hands over every buffered
message without waiting), so the engine steps on the book after the trade. Stepping between them
decided on the book from before the trade, after its print: orders priced into a market that had
already moved (``batch_instants`` off, measured by ``bench/fill_gap_bench.py``). A recording stamps a
burst with one instant when it is made in simulated time (``Simulation.record``, ``record_synthetic``);
the live recorder stamps each frame as it is handed over, microseconds apart, so there a step can still
fall between the frames of one burst.

A market is quoted once its book has had a ``book`` snapshot, and not while the book is crossed or
after ``market_resolved``; a ``tick_size_change`` waits for the next snapshot (the live feed fetches
one over REST; a recording has only what the socket sent).

Market definitions come from the recording's market lines (``FrameWriter.add_markets``) or from
``markets`` given up front (``--markets-file`` for recordings made before market lines existed).
Frames for tokens of no known market are counted and skipped.

Measured: P&L (realised, unrealised at the engine's mark — the mid, or the last trade on a one-sided
book), fills, orders, markouts at 1/10/60 s against the market's mark (``metrics.Markouts``), and the
equity curve sampled on every risk pass (``metrics.Curve``: maximum drawdown, the path of P&L and
each market's inventory).
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from polymm.config import ConfigError, Settings
from polymm.domain import pipeline
from polymm.domain.book_set import BookSet
from polymm.domain.market import Market, Side
from polymm.domain.messages import BookSnapshot, LastTrade, TickSizeChange, parse_frame
from polymm.domain.model_state import EwmaParams
from polymm.domain.order_book import OrderBook
from polymm.domain.order_diff import too_old
from polymm.domain.params import MarketParams
from polymm.domain.portfolio import Fill, Portfolio
from polymm.domain.prices import MAX_PIPS, PriceError, pips_to_decimal, price_to_pips
from polymm.domain.quoting import Quote
from polymm.domain.requote import budget_for, positions_for, reserved_for_step, shares_for
from polymm.domain.risk import Position, RiskEngine, RiskLimits
from polymm.domain.signals import SignalsConfig
from polymm.domain.strategy import MarketBrain
from polymm.venue.recorder import FrameReader, MarketsLine

from .fills import LATENCY_S, RecordedVenue
from .measures import HORIZONS_S, Curve, Markouts
from .report import MarketLine, RunReport

NS = 1_000_000_000
ACTIVE_S = 5.0  # the engine's "active" window for the fast fallback interval
VIEW_DEPTH = 10
_ZERO = Decimal(0)


#: ``Settings``' defaults: one source for the engine's, the replay's and the backtest's.
_DEFAULTS: dict[str, Any] = {name: f.default for name, f in Settings.model_fields.items()}
_SETTINGS = Settings.model_construct()  # every field at its default; reads no environment


@dataclass(frozen=True, slots=True)
class ReplayConfig:
    """The engine settings a replay or a synthetic backtest honours (``from_settings``); the defaults
    are ``Settings``'. ``latency_s`` is the simulated order and cancel latency (``fills.LATENCY_S``, the
    measured loopback round trip, by default): a simulation knob, not an engine setting. The backtest
    steps after every flow action, so it ignores the step cadence (``min_step_gap_s`` and the quote
    intervals)."""

    limits: RiskLimits = field(default_factory=_SETTINGS.risk_limits)
    base: MarketParams = field(default_factory=_SETTINGS.default_params)  # every market's default parameters
    total_capital: Decimal = _DEFAULTS["total_capital"]
    max_market_exposure: Decimal = _DEFAULTS["max_market_exposure"]
    max_total_position: Decimal = _DEFAULTS["max_total_position"]
    max_order_size: Decimal = _DEFAULTS["max_order_size"]
    #: the signals' settings: reduce-only, halts, cool-off, the signal knobs, parity gaps (a crossed book's gap
    #: is counted: ``parity_gaps``)
    signals: SignalsConfig = field(default_factory=_SETTINGS.signals_config)
    ewma: EwmaParams = field(default_factory=_SETTINGS.ewma_params)  # the model state's smoothing
    arb_cooldown_s: float = _DEFAULTS["arb_cooldown_s"]
    min_step_gap_s: float = _DEFAULTS["min_step_gap_s"]
    quote_interval_s: float = _DEFAULTS["quote_interval_s"]
    quote_interval_fast_s: float = _DEFAULTS["quote_interval_fast_s"]
    risk_interval_s: float = 0.5  # Engine.run_risk's interval
    latency_s: float = LATENCY_S

    @classmethod
    def from_settings(cls, s: Settings) -> ReplayConfig:
        return cls(
            limits=s.risk_limits(), base=s.default_params(), total_capital=s.total_capital,
            max_market_exposure=s.max_market_exposure, max_total_position=s.max_total_position,
            max_order_size=s.max_order_size, signals=s.signals_config(), ewma=s.ewma_params(),
            arb_cooldown_s=s.arb_cooldown_s,
            min_step_gap_s=s.min_step_gap_s, quote_interval_s=s.quote_interval_s,
            quote_interval_fast_s=s.quote_interval_fast_s,
        )


@dataclass(slots=True)
class _MarketStats:
    fills: int = 0
    volume: Decimal = _ZERO
    notional: Decimal = _ZERO
    max_abs: Decimal = _ZERO


class Replay:
    """Feed recorded frames in order (``feed`` / ``run``), then ``report()`` (module docstring).

    ``overrides`` are ``MarketParams`` fields set on every market on top of the defaults (the engine's
    per-market defaults: the configured spread, size and layer step fitted to the market's tick).
    Invalid values raise ``ConfigError`` naming the field and the allowed values.
    """

    def __init__(
        self,
        config: ReplayConfig | None = None,
        overrides: Mapping[str, object] | None = None,
        markets: Iterable[Market] = (),
        source: str = "",
    ) -> None:
        self.config = config = config or ReplayConfig()
        self.overrides = dict(overrides or {})
        self.source = source
        self.books = BookSet()
        self.markets: dict[str, Market] = {}
        self.params: dict[str, MarketParams] = {}
        self.brains: dict[str, MarketBrain] = {}
        self.portfolio = Portfolio()
        #: our orders, queued in the recorded book with the configured latency (``fills.RecordedVenue``)
        self.venue = RecordedVenue(self.books, self._on_fill, lambda: self.now,
                                   lambda cid: self.portfolio.position(cid).qty, config.latency_s)
        self.risk = RiskEngine(config.limits)
        #: the strategy sees the book with our resting orders in it (``RecordedVenue.view``), as the live
        #: feed shows them; False only to measure what that is worth (``bench/fill_gap_bench.py``)
        self.show_own_orders = True
        #: the frames received at one instant are applied together before anything due then runs (module
        #: docstring); False only to measure what that is worth (``bench/fill_gap_bench.py``)
        self.batch_instants = True
        self._signals = config.signals
        #: parity gaps seen in crossed books (``pipeline.parity_gap``, once per ``arb_cooldown_s`` a market),
        #: and the dollars taking each in full would have locked in: counted, not traded (the engine's
        #: ``arb_mode=take`` is not simulated)
        self.parity_gaps = 0
        self.parity_gap_profit = _ZERO
        self._gap_at: dict[str, float] = {}
        self.markouts = Markouts(HORIZONS_S, unit=NS)
        self.curve = Curve(1.0, markets=0)
        self.now = 0.0  # simulated epoch seconds
        self.start: float | None = None
        self._t_ns = 0
        self._snapshotted: set[str] = set()
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._wake_at: dict[str, float] = {}
        self._last_step: dict[str, float] = {}
        self._active_at: dict[str, float] = {}
        self._next_risk = math.inf
        self._force: set[str] = set()
        self._last_fair: dict[str, float] = {}
        self._last_epoch: dict[str, int] = {}
        self._deferred: set[str] = set()  # markets that came due while their orders were in flight
        self._stats: dict[str, _MarketStats] = {}
        self.halted = ""
        self.frames = 0
        self.frame_errors = 0
        self.time_regressions = 0
        self.steps = 0
        for m in markets:
            self.add_market(m)

    # ------------------------------------------------------------------ markets

    def params_for(self, market: Market) -> MarketParams:
        """The engine's default parameters for ``market`` with the overrides on top, validated."""
        try:
            p = self.config.base.fitted_to(market).updated(**self.overrides).check_for(market)
        except ConfigError as e:
            raise ConfigError(f"{e} [market {market.condition_id[:12]}…, tick {market.tick}]") from None
        return p.check_caps(self.config.max_order_size, self.config.max_total_position)

    def add_market(self, market: Market) -> None:
        """Start a market: its book, brain and parameters; it steps at once. A later definition of a
        known market (every rotated file repeats them) updates its metadata, never its tick: the book's
        tick is what the frames say."""
        cid = market.condition_id
        if cid in self.markets:
            if self.markets[cid] != market and market.tick == self.markets[cid].tick:
                self.markets[cid] = market  # a changed definition (metadata); the book and brain stay
                self.venue.add_market(market)
            return
        self.params[cid] = self.params_for(market)
        self.markets[cid] = market
        self.books.add(market)
        self.venue.add_market(market)
        self.brains[cid] = MarketBrain(market, self._signals, self.config.ewma)
        self._stats[cid] = _MarketStats()
        self._force.add(cid)
        self.curve.add_market()
        if self.start is not None:
            self._wake(cid, self.now)

    # ------------------------------------------------------------------ input

    def run(self, reader: FrameReader) -> RunReport:
        """Replay every record of ``reader`` and report."""
        held: tuple[int, str | bytes] | None = None  # a frame whose instant may have more frames to come
        for t_ns, item in reader.records():
            if held is not None:  # the frames of one instant are applied together, then the steps run
                self.feed(*held, settle=t_ns > held[0] or not self.batch_instants)
                held = None
            if type(item) is MarketsLine:
                self._begin(t_ns)
                for m in item.markets:
                    self.add_market(m)
            else:
                held = (t_ns, item)  # type: ignore[assignment]  # not a MarketsLine: a frame (``type() is`` does not narrow)
        if held is not None:
            self.feed(*held)
        counters = (("frames", reader.frames), ("bad_lines", reader.bad_lines), ("bad_files", reader.bad_files))
        return self.report(counters)

    def _begin(self, t_ns: int) -> None:
        if t_ns < self._t_ns:
            self.time_regressions += 1
            t_ns = self._t_ns  # a clock step back while recording: hold time still
        self._t_ns = t_ns
        t = t_ns / NS
        if self.start is None:
            self.start = self.now = t
            self._next_risk = t
            for cid in self.markets:
                self._wake(cid, t)
        self._run_until(t, inclusive=False)
        self.now = t

    def feed(self, t_ns: int, raw: str | bytes, settle: bool = True) -> None:
        """One recorded frame received at ``t_ns`` (epoch ns); then, with ``settle``, what is due at
        ``t_ns`` (steps, landings) runs. ``settle=False`` when more frames of the same instant follow:
        they are applied first (module docstring)."""
        self._begin(t_ns)
        t_ns = self._t_ns
        t = self.now
        self.frames += 1
        mo = self.markouts
        if mo.next_due is not None and mo.next_due < t_ns:
            mo.resolve(t_ns, False, self._mark_pips)
        events, errors = parse_frame(raw)
        self.frame_errors += len(errors)
        if events:
            changed = self.books.apply(events)
            for ev in events:
                tp = type(ev)
                if tp is LastTrade:
                    self._on_trade(ev)  # type: ignore[arg-type]  # narrowed by ``type() is`` above (the hot path's test), which mypy does not follow
                elif tp is BookSnapshot:
                    book = self.books.by_token(ev.asset_id)  # type: ignore[union-attr]  # narrowed by ``type() is``
                    if book is not None:
                        self._snapshotted.add(book.condition_id)
                elif tp is TickSizeChange:
                    book = self.books.by_token(ev.asset_id)  # type: ignore[union-attr]  # narrowed by ``type() is``
                    if book is not None:
                        self._snapshotted.discard(book.condition_id)
            books = self.books
            for cid in changed:
                self._active_at[cid] = t
                self._dirty(cid, t)
                book = books.get(cid)
                if book is not None:
                    self.venue.on_book(book)  # the queue ahead of our orders follows the recorded level
        if settle:
            self._run_until(t, inclusive=True)

    # ------------------------------------------------------------------ scheduling

    def _wake(self, cid: str, at: float) -> None:
        if at < self._wake_at.get(cid, math.inf):
            self._wake_at[cid] = at
            heapq.heappush(self._heap, (at, next(self._seq), cid))

    def _dirty(self, cid: str, t: float) -> None:
        self._wake(cid, max(t, self._last_step.get(cid, -math.inf) + self.config.min_step_gap_s))

    def _run_until(self, t: float, inclusive: bool) -> None:
        heap, wake_at, venue = self._heap, self._wake_at, self.venue
        while True:
            while heap and wake_at.get(heap[0][2]) != heap[0][0]:
                heapq.heappop(heap)  # superseded by an earlier wake
            at_step = heap[0][0] if heap else math.inf
            landing = venue.due()
            at_land = math.inf if landing is None else landing
            at = min(at_step, self._next_risk, at_land)
            if at > t or (at == t and not inclusive):
                return
            self.now = at
            if at_land <= at:  # sent earlier, so it lands before anything else due at the same instant
                self._landed(venue.land().condition_id)
            elif self._next_risk <= at_step:
                self._next_risk += self.config.risk_interval_s
                self._risk_tick(at)
            else:
                _, _, cid = heapq.heappop(heap)
                del wake_at[cid]
                self._last_step[cid] = at
                active = at - self._active_at.get(cid, -math.inf) < ACTIVE_S
                cfg = self.config
                self._wake(cid, at + (cfg.quote_interval_fast_s if active else cfg.quote_interval_s))
                self._step(cid, at)

    # ------------------------------------------------------------------ the engine's callbacks

    def _on_trade(self, ev: LastTrade) -> None:
        book = self.books.by_token(ev.asset_id)
        if book is None:
            return
        try:
            price = price_to_pips(ev.price)
        except PriceError:
            return  # BookSet counted it
        self.venue.on_trade(book, ev.asset_id, price, ev.size, ev.side == "BUY")
        is_no = ev.asset_id == book.no_token
        yes_price = MAX_PIPS - price if is_no else price
        self.brains[book.condition_id].on_trade(self.now, yes_price, float(ev.size), (ev.side == "BUY") != is_no)

    def _on_fill(self, fill: Fill, _taker: str = "") -> None:
        if not self.portfolio.apply(fill):
            return
        cid = fill.condition_id
        self.brains[cid].on_fill(self.now, fill)
        st = self._stats[cid]
        st.fills += 1
        st.volume += fill.size
        st.notional += fill.size * pips_to_decimal(fill.price)
        held = abs(self.portfolio.position(cid).qty)
        if held > st.max_abs:
            st.max_abs = held
        self.markouts.add(self._t_ns, cid, 1 if fill.side is Side.BUY else -1, fill.price, float(fill.size))
        self._active_at[cid] = self.now
        self._dirty(cid, self.now)

    # ------------------------------------------------------------------ one market's step (Engine.step)

    def _trusted(self, cid: str, book: OrderBook) -> bool:
        return cid in self._snapshotted and not book.resolved and not book.crossed

    def _step(self, cid: str, now: float) -> None:
        book = self.books.get(cid)
        if book is None:
            return
        venue = self.venue
        if venue.busy(cid):  # the engine's step lock: the market's last step is still on the wire
            self._deferred.add(cid)
            return
        if self.halted or not self._trusted(cid, book):
            if book.crossed and not self.halted:
                self._parity_gap(cid, book, now)
            if venue.open_orders(cid):
                venue.cancel_market(cid)
            self._force.add(cid)
            return
        market = self.markets[cid]
        if book.tick != market.tick:  # a tick_size_change: requote on the new grid
            market = self.markets[cid] = replace(market, tick=book.tick)
            venue.add_market(market)
        # with our resting orders in it, as the live feed shows them
        view = venue.view(book, VIEW_DEPTH) if self.show_own_orders else book.view(VIEW_DEPTH)
        params = self.params[cid]
        result = pipeline.step(
            self.brains[cid], self.risk, view, self.portfolio.position(cid).qty, params, share=self._share(cid),
            positions=self._positions(cid), budget=self._budget(cid), resting=venue.open_orders(cid), now=now,
            epoch_changed=self._last_epoch.get(cid) != book.epoch, forced=cid in self._force,
            last_fair=self._last_fair.get(cid),
        )
        self.steps += 1
        plan = result.plan
        if plan is None:
            return  # the fixed model requotes only when the fair value moved past the threshold
        self._force.discard(cid)
        self._last_fair[cid] = plan.fair
        self._last_epoch[cid] = book.epoch
        events = result.decision.signals.events

        def check(quotes: tuple[Quote, ...]) -> tuple[Quote, ...]:
            """``Engine._place`` once the cancels are done: nothing while halted or untrusted, else what
            every limit allows against everything of ours that could still fill now."""
            if self.halted or not self._trusted(cid, book):
                return ()
            return pipeline.recheck(self.risk, cid, quotes, self._positions(), params=params, events=events,
                                    budget=self._budget(cid), min_size=market.min_order_size, now=self.now,
                                    share=self._share(cid)).quotes

        venue.submit(cid, plan.cancel, plan.place, check)
        if not venue.busy(cid):
            self._quoted(cid)

    def _parity_gap(self, cid: str, book: OrderBook, now: float) -> None:
        """A crossed book: the engine's parity-gap check (``Engine._on_arb``), counted."""
        arb = pipeline.parity_gap(self.brains[cid], self.venue.view(book, VIEW_DEPTH), self.venue.open_orders(cid))
        if arb is None or now - self._gap_at.get(cid, -math.inf) < self.config.arb_cooldown_s:
            return
        self._gap_at[cid] = now
        self.parity_gaps += 1
        self.parity_gap_profit += arb.profit

    def _quoted(self, cid: str) -> None:
        """Our resting inner quotes to the brain (competitor detection), as the engine does after a step."""
        self.brains[cid].on_quotes(*self.venue.inner_quotes(cid))

    def _landed(self, cid: str) -> None:
        """An action of ``cid`` reached the venue; once none is in flight its step is done, and a step
        that came due meanwhile runs (``min_step_gap_s`` after the last one at the earliest)."""
        if self.venue.busy(cid) or cid not in self.markets:
            return
        self._quoted(cid)
        if cid in self._deferred:
            self._deferred.discard(cid)
            self._dirty(cid, self.now)

    def _positions(self, replacing: str | None = None) -> dict[str, Position]:
        """As ``Engine._positions``: our orders that could still fill, ``replacing``'s open orders left out
        (the step's targets replace them) but those whose cancel is on its way kept."""
        return positions_for(self.markets, reserved_for_step(self.venue.reserved, replacing),
                             lambda c: self.portfolio.position(c).qty, self._mark)

    def _budget(self, cid: str) -> float:
        weights = {c: p.capital_weight for c, p in self.params.items()}
        return budget_for(cid, weights, self.config.total_capital, self.config.max_market_exposure)

    def _share(self, cid: str) -> float:
        """As ``Engine._share``: the market's slice of the shared caps, by ``capital_weight``."""
        return shares_for({c: p.capital_weight for c, p in self.params.items()}).get(cid, 0.0)

    # ------------------------------------------------------------------ the risk loop's pass

    def _mark(self, cid: str) -> Decimal | None:
        """The engine's mark: the mid of the book it sees (our resting orders in it, as in ``view``), or
        the last trade on a one-sided book."""
        book = self.books.get(cid)
        if book is None:
            return None
        bid, ask = self.venue.touch(book)
        if bid is None or ask is None:
            return pips_to_decimal(book.last_trade) if book.last_trade is not None else None
        return pips_to_decimal(bid + ask) / 2

    def _mark_pips(self, cid: object) -> float | None:
        book = self.books.get(cid)  # type: ignore[arg-type]  # the markouts key references by condition id
        if book is None:
            return None
        bid, ask = self.venue.touch(book)
        if bid is None or ask is None:
            return None if book.last_trade is None else float(book.last_trade)
        return (bid + ask) / 2

    def _equity(self) -> tuple[Decimal, dict[str, Decimal | None]]:
        marks = {cid: self._mark(cid) for cid in self.markets}
        realized, unreal, fees, _ = self.portfolio.totals(marks)
        return realized + unreal - fees, marks

    def _risk_tick(self, now: float) -> None:
        equity, marks = self._equity()
        self.risk.correlation.update({c: float(m) if m is not None else None for c, m in marks.items()})
        reason = self.risk.on_pnl(now, float(equity))
        total = sum((abs(p.qty) for p in self.portfolio.positions.values()), _ZERO)
        if reason is None and total > self.config.max_total_position:
            reason = f"total position {total} over limit {self.config.max_total_position}"
        if reason is not None and not self.halted and self.risk.limits.enforce:
            assert self.start is not None
            self.halted = f"halted at +{now - self.start:,.1f} s: {reason}"
            self.venue.cancel_all()
        for o in self.venue.open_orders():  # stale-order cleanup: the market's next step replaces them
            p = self.params.get(o.condition_id)
            if p is not None and too_old(o, p.max_order_age_s, now):
                self._force.add(o.condition_id)
                self._dirty(o.condition_id, now)
        self._sample(now, float(equity))

    def _sample(self, now: float, equity: float) -> None:
        self.curve.observe(equity)
        assert self.start is not None
        if self.curve.due(now - self.start):
            inv = [float(self.portfolio.position(cid).qty) for cid in self.markets]
            self.curve.sample(now - self.start, equity, inv)

    # ------------------------------------------------------------------ the outcome

    def _venue_counters(self) -> tuple[tuple[str, int | float], ...]:
        v = self.venue
        return (("latency_ms", round(v.latency_s * 1000, 3)), ("post_only_rejects", v.post_only_rejects),
                ("late_cancels", v.late_cancels), ("placement_cuts", v.cuts), ("crossed_by_recording", v.crossed),
                ("parity_gaps", self.parity_gaps), ("parity_gap_profit", float(self.parity_gap_profit)))

    def report(self, counters: Iterable[tuple[str, int | float | str | None]] = ()) -> RunReport:
        """The report as of now (markouts whose horizon ended by the last frame are resolved)."""
        if self.start is not None:
            self._run_until(self.now, inclusive=True)
            self.markouts.resolve(self._t_ns, True, self._mark_pips)
        equity, marks = self._equity()
        if self.start is not None:
            self.curve.observe(float(equity))
        lines = []
        for cid, m in self.markets.items():
            pos = self.portfolio.position(cid)
            st = self._stats[cid]
            mark = marks.get(cid)
            lines.append(MarketLine(cid, m.question, st.fills, float(st.volume), float(pos.qty), float(pos.realized),
                                    float(pos.unrealized(mark)), float(st.max_abs),
                                    None if mark is None else float(mark)))
        realized, unreal, fees, fills = self.portfolio.totals(marks)
        notes = []
        if self.halted:
            notes.append(self.halted)
        if self.frame_errors:
            notes.append(f"{self.frame_errors} malformed frame item(s) skipped")
        if self.books.unknown:
            notes.append(f"{self.books.unknown} event(s) for tokens of no known market skipped")
        if self.books.errors.total:
            notes.append(f"{self.books.errors.total} value(s) that could not be applied skipped")
        if self.time_regressions:
            notes.append(f"{self.time_regressions} record(s) stamped earlier than the one before (time held)")
        params = tuple((k, _show(v)) for k, v in self.overrides.items() if k != "model")
        model = str(self.overrides.get("model", self.config.base.model))
        return RunReport(
            command="replay",
            source=self.source,
            model=model,
            params=params,
            sim_seconds=self.now - self.start if self.start is not None else 0.0,
            steps=self.steps,
            places=self.venue.places,
            cancels=self.venue.cancels,
            fills=fills,
            volume=float(sum((s.volume for s in self._stats.values()), _ZERO)),
            notional=float(sum((s.notional for s in self._stats.values()), _ZERO)),
            realized=float(realized),
            unrealized=float(unreal),
            fees=float(fees),
            pnl=float(equity),
            max_drawdown=self.curve.max_drawdown,
            max_abs_inventory=max((float(s.max_abs) for s in self._stats.values()), default=0.0),
            markouts=self.markouts.stats(),
            markets=tuple(lines),
            path=self.curve.path(end=None if self.start is None else (
                self.now - self.start, float(equity), [float(self.portfolio.position(c).qty) for c in self.markets])),
            notes=tuple(notes),
            counters=(*tuple(counters), ("markets", len(self.markets)), *self._venue_counters()),
        )


def _show(v: object) -> str:
    return str(v.normalize()) if isinstance(v, Decimal) else str(v)


def replay(
    source: str | os.PathLike[str],
    config: ReplayConfig | None = None,
    overrides: Mapping[str, object] | None = None,
    markets: Iterable[Market] = (),
) -> RunReport:
    """Replay a recording (one ``.jsonl.gz`` file or a directory of them) and report."""
    reader = FrameReader(source)
    return Replay(config, overrides, markets, source=str(source)).run(reader)


__all__ = ["Replay", "ReplayConfig", "replay"]
