"""Our market maker against the stand-in's synthetic order flow, in simulated time.

One market, one ``MatchingEngine`` holding only that market, and the stand-in's own ``SyntheticFlow``
for it (noise makers and takers, the informed trader that trades ahead of scheduled fair-value
jumps, the competing maker), driven synchronously: no sockets, no event loop, no wall clock.

The market
    ``market_profiles(seed)[market_index]``: the same market, ids and flow generators the stand-in
    builds for ``seed`` (the flow is seeded from ``(seed, market_index)`` exactly as
    ``StandIn`` does). Index 0 (the default) is a 0.01-tick market that pays liquidity rewards;
    index 5 is a 0.01-tick market without rewards; 1 and 4 are on 0.001 and 0.005 ticks.

The clock
    Simulated epoch milliseconds starting at ``SIM_START_MS`` (2026-09-01T00:00:00Z, before every
    synthetic market's end date, so the "resolution approaching" signal stays quiet). The flow steps
    at the stand-in's ``DEFAULT_FLOW_RATE`` (6 steps/s) with Poisson gaps like ``SyntheticFlow.run``,
    but drawn from a generator seeded with the seed (``SyntheticFlow.run`` uses an unseeded one, so
    its path is not used). N steps ≈ N / 6 simulated seconds. The engine, the flow and our brain all
    read this clock.

One simulation step
    1. advance the clock by one gap; what is due before it happens first, in time order: our orders
    and cancels landing (``fills.MatchingVenue``: ``latency_s`` after the step that sent them) and the
    risk loop's pass (every ``risk_interval_s``, as ``Engine.run_risk``: the daily loss and total
    position kills, stale orders); 2. ``flow.step()`` (one synthetic action, which may trade with our
    resting orders); 3. every ``strategy_every`` flow steps (default 1: after every step) one strategy
    step — the engine's own (``domain/pipeline.py``: ``MarketBrain.decide`` → ``RiskEngine.check``
    with the engine's limits (``ReplayConfig``: ``Settings``' defaults) → the venue minimum →
    ``plan_orders``, the ``fixed`` model's requote rule included) — whose cancels and quotes go to the
    venue. They land ``latency_s`` later (default ``fills.LATENCY_S``, the measured loopback round
    trip), the quotes after the placement check the engine runs once its cancels are done
    (``pipeline.recheck``); a market waits for its orders in flight before it steps again (the
    engine's step lock). A rejected order (post-only that would cross by the time it lands, size
    under the market minimum) is skipped and counted.

The view
    Built straight from the engine's YES book (top 10 levels a side, sizes micro-shares / 1e6 as
    the wire's decimal strings parse), the same ``BookView`` our ``OrderBook`` would give after the
    stand-in's ``book`` frame (a test checks this against a real frame). It includes our own orders,
    as the real feed does.

Routing (as ``LiveExecution._route``)
    A YES-terms ask is sent as SELL YES when we hold enough free YES shares, else as BUY NO at
    1 − p; a bid as SELL NO when we hold enough free NO shares, else BUY YES. The matching engine
    keeps no balances, and both forms rest at the same YES price, so this changes nothing in the
    matching; it only keeps us from selling shares we do not hold.

Fills and trades
    Engine ``Trade`` events: one ``brain.on_trade`` per YES price level traded (as the market
    channel's ``last_trade_price`` prints), in YES terms; every maker fill whose owner is ``polymm``
    becomes a YES-terms ``portfolio.Fill`` (trade id + order id, so never booked twice) applied to the
    ``Portfolio`` and passed to ``brain.on_fill``. Fees: none — our orders are post-only makers, and
    Polymarket's (and the stand-in's) fees are taker-only; maker rebates are not credited.

Rewards
    On a market with a liquidity-reward pool (the stand-in's ``reward_daily_rate``; index 0 has one,
    index 5 none), ``rewards.RewardMeter`` scores every maker's resting orders each simulated minute with
    the venue's rule and pays us our share of the minute's pool (``rewards.py``). P&L is trading +
    rewards − fees, so the reward band's value is weighed against the adverse selection it costs.

Marking
    ``trading_pnl`` = realised (average cost) + unrealised marked at the final hidden fair value
    (``flow.fair``): the value the informed trader knows, i.e. what the inventory is really worth;
    ``pnl`` = ``trading_pnl`` + ``rewards``. ``pnl_mid`` marks at the final book mid instead (rewards
    included). ``max_drawdown`` is the largest peak-to-trough fall of the equity curve (cash + rewards
    + position × hidden fair), sampled after every flow step.

Markout
    For a fill at time t, ``sign · (mid(t + h) − price)`` in pips per share at h = 1, 10 and 60 s
    (``metrics.Markouts``: sign +1 for our buys and −1 for our sells, + = good for us, ``mid(t + h)``
    the book mid in effect at t + h). Averaged size-weighted over our fills. ``markout10_pips`` is the
    10 s one, ``markout10_fair_pips`` the same with the hidden fair value in place of the mid; fills
    less than 10 s before the end are not counted (``markouts`` says how many were).
    ``markout_stats`` has every horizon.

Path
    ``metrics.Curve``: equity (cash + position × hidden fair) and inventory sampled once per simulated
    second (thinned as the run grows), for the report's chart.

Scenarios
    ``scenario`` (``scenarios.Scenario``) sets the flow's rate and fair-value knobs; the default is the
    stand-in's flow unchanged.

Determinism: every generator is seeded from the seed; nothing reads the wall clock, so the same
seed, model and parameters give an identical ``Report``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from polymm.domain import pipeline
from polymm.domain.market import Outcome, Side
from polymm.domain.order_book import BookView, Level
from polymm.domain.order_diff import too_old
from polymm.domain.params import MarketParams
from polymm.domain.portfolio import Fill, Portfolio
from polymm.domain.prices import PIPS_PER_UNIT, pips_to_decimal
from polymm.domain.quoting import Quote
from polymm.domain.requote import budget_for, positions_for, reserved_for_step
from polymm.domain.risk import Position, RiskEngine
from polymm.domain.strategy import MarketBrain
from polymm.venue.recorder import FrameWriter
from polymm_standin.sim import MarketChannel, MatchingEngine, SyntheticFlow, Trade, market_profiles

from .capture import subscribe_all
from .fills import OWNER as OWNER  # re-exported: the name our orders rest under
from .fills import MatchingVenue
from .measures import HORIZONS_S, Curve, Markouts, MarkoutStat, Path
from .replay import ReplayConfig
from .reward_meter import RewardMeter
from .scenarios import SCENARIOS, Scenario

#: Simulated start: 2026-09-01T00:00:00Z in epoch ms.
SIM_START_MS = 1_788_220_800_000
MARKOUT_S = 10
VIEW_DEPTH = 10
DEFAULT_STEPS = 6_000
_MICRO = 1_000_000
_ZERO = Decimal(0)


def bench_params(model: str = "fixed") -> MarketParams:
    """The common parameters of the model comparison: only ``model`` differs."""
    return MarketParams(
        model=model,
        spread=Decimal("0.04"),
        size=Decimal(10),
        layers=2,
        layer_step=Decimal("0.01"),
        position_limit=Decimal(100),
    )


@dataclass(frozen=True, slots=True)
class Report:
    """One simulation's outcome (money in USDC, sizes in YES shares, prices in price units)."""

    seed: int
    model: str
    market_index: int
    condition_id: str
    steps: int
    sim_seconds: float
    pnl: float  # trading_pnl + rewards
    pnl_mid: float  # realised + unrealised at the final book mid, + rewards
    realized: float
    unrealized: float  # at the final hidden fair value
    final_inventory: float  # YES shares; negative = long NO
    max_abs_inventory: float
    fills: int
    volume: float  # shares traded by us
    notional: float  # USDC traded by us
    markout10_pips: float | None  # size-weighted, vs the book mid 10 s later (+ = good for us)
    markout10_fair_pips: float | None  # the same vs the hidden fair value
    markouts: int  # fills whose 10 s markout resolved before the end
    max_drawdown: float
    post_only_rejects: int
    size_rejects: int  # under the market's minimum order size
    other_rejects: int
    places: int
    cancels: int
    informed_actions: int  # the informed trader's actions in the run (``flow.actions["informed"]``)
    informed_fills: int  # our fills whose taker was the informed trader
    final_fair: float
    final_mid: float | None
    markout_stats: tuple[MarkoutStat, ...]  # 1, 10 and 60 s, vs the mid and vs the hidden fair value
    path: Path  # equity (at the hidden fair) and inventory over time
    scenario: str = "standin"
    late_cancels: int = 0  # cancels that landed after the order had filled completely (the race lost)
    placement_cuts: int = 0  # placements the check at landing cut (something could still fill)
    halted: str = ""  # why the risk loop halted the run ("" when it did not)
    trading_pnl: float = 0.0  # realised + unrealised at the final hidden fair value
    rewards: float = 0.0  # liquidity rewards earned (USDC)
    reward_share: float = 0.0  # our mean share of the reward samples (0..1)


class Simulation:
    """One market, its synthetic flow and our brain in simulated time (module docstring).

    ``engine``, ``flow``, ``brain``, ``venue`` and ``portfolio`` are public so tests can watch them;
    ``run(steps)`` can be called more than once (it continues) and returns the ``Report`` so far.
    ``config`` holds the engine settings the run honours (risk limits, capital, the order latency);
    ``latency_s`` overrides its latency. ``quote=False`` runs the flow alone (see ``record``).
    """

    def __init__(
        self,
        seed: int,
        model: str = "fixed",
        params: MarketParams | None = None,
        *,
        market_index: int = 0,
        rate: float | None = None,
        strategy_every: int = 1,
        scenario: Scenario | None = None,
        config: ReplayConfig | None = None,
        latency_s: float | None = None,
        quote: bool = True,
        **overrides: object,
    ) -> None:
        if strategy_every < 1:
            raise ValueError(f"strategy_every must be >= 1, got {strategy_every}")
        if not 0 <= market_index < 6:
            raise ValueError(f"market_index must be 0..5, got {market_index}")
        profile = market_profiles(seed)[market_index]
        self.scenario = scenario if scenario is not None else SCENARIOS["standin"]
        self.config = cfg = config if config is not None else ReplayConfig()
        self.seed = seed
        self.market_index = market_index
        self.market = market = profile.market
        base = params if params is not None else MarketParams()
        self.params = base.updated(model=model, **overrides).check_for(market).check_caps(
            cfg.max_order_size, cfg.max_total_position)
        self.rate = rate if rate is not None else self.scenario.rate
        if self.rate <= 0:
            raise ValueError(f"rate must be > 0 steps/s, got {self.rate}")
        self.strategy_every = strategy_every
        self.quote = quote  # False: the flow alone, nothing of ours in the book (``record`` a flow to replay)
        self._ms = SIM_START_MS
        self._now = SIM_START_MS / 1000.0  # simulated epoch seconds (``_ms`` is its engine-clock form)
        self._t = 0.0  # simulated seconds since the start (of the last flow step)
        self._timing = random.Random(f"polymm-backtest-timing:{seed}:{market_index}")
        self.matching = MatchingEngine([market], clock=self._clock, id_salt=f"standin:{seed}")
        self.flow = SyntheticFlow(self.matching, profile, seed, market_index, clock=self._clock)
        self._hook = self.scenario.install(self.flow)
        book = self.matching.market_book(market.condition_id)
        assert book is not None
        self._book = book
        self._version = 0
        self.matching.add_listener(self._on_event)  # first: a trade's prints reach the brain before our fills
        self.portfolio = Portfolio()
        self._position = self.portfolio.position(market.condition_id)
        self.venue = MatchingVenue(self.matching, self._on_fill, lambda: self._now, lambda _cid: self._position.qty,
                                   cfg.latency_s if latency_s is None else latency_s)
        self.flow.seed_book()
        # the engine's pieces with the engine's settings: brain, risk engine, the market's capital budget
        self.brain = MarketBrain(market, cfg.signals, cfg.ewma)
        self.risk = RiskEngine(cfg.limits)
        self._budget = budget_for(market.condition_id, {market.condition_id: self.params.capital_weight},
                                  cfg.total_capital, cfg.max_market_exposure)
        self._forced = True  # the engine's first step of a market is forced (exactly the targets)
        self._epoch: int | None = None
        self._last_fair: float | None = None
        self._deferred = False  # a step came due while our orders were in flight: step once they land
        self._next_risk = 0.0  # seconds since the start
        self.halted = ""
        self._steps = 0
        self._started = False
        # fills, money (floats for the equity curve; the Portfolio keeps the exact Decimals)
        self._cash = 0.0
        self._qty = 0.0
        self.rewards = RewardMeter(market, profile.reward_daily_rate, OWNER)
        self.curve = Curve(1.0)
        self.max_abs_inventory = _ZERO
        self.fills = 0
        self.informed_fills = 0
        self.volume = _ZERO
        self.notional = _ZERO
        self.markouts = Markouts(HORIZONS_S, unit=1000)
        self._last_mid: float | None = None

    # ------------------------------------------------------------------ clock and view

    def _clock(self) -> int:
        return self._ms

    def _set_time(self, now: float) -> None:
        """Move the clock to ``now`` (epoch seconds) for something due between two flow steps."""
        due = self.markouts.next_due
        ms = max(self._ms, int(now * 1000.0))
        if due is not None and due < ms:  # markouts due before this instant see the book as it was
            self._resolve_markouts(ms, inclusive=False)
        self._now = now
        self._ms = ms

    @property
    def now(self) -> float:
        """Simulated epoch seconds."""
        return self._now

    def view(self) -> BookView:
        """Our ``BookView`` of the engine's YES book (top ``VIEW_DEPTH`` levels a side)."""
        book = self._book
        bk, blv = book.bids.keys, book.bids.levels
        ak, alv = book.asks.keys, book.asks.levels
        bids = tuple([Level(p, blv[p].total / _MICRO) for p in reversed(bk[-VIEW_DEPTH:])])
        asks = tuple([Level(-k, alv[-k].total / _MICRO) for k in reversed(ak[-VIEW_DEPTH:])])
        return BookView(
            condition_id=self.market.condition_id,
            epoch=0,
            version=self._version,
            tick=book.market.tick,
            best_bid=bids[0].price if bids else None,
            best_ask=asks[0].price if asks else None,
            bid_size=bids[0].size if bids else 0.0,
            ask_size=asks[0].size if asks else 0.0,
            bids=bids,
            asks=asks,
            last_trade=book.last_trade,
            timestamp=book.updated_ms,
        )

    def _mid(self) -> float | None:
        b, a = self._book.bids.best(), self._book.asks.best()
        if b is None or a is None:
            return None
        return (b + a) / 2

    # ------------------------------------------------------------------ engine events

    def _on_event(self, event: object) -> None:
        self._version += 1
        if type(event) is Trade:
            self._on_trade(event)

    def _on_trade(self, trade: Trade) -> None:
        """The market channel's prints (one per YES price level traded) reach the brain; our own maker
        fills come from the venue (``_on_fill``), after this."""
        now = self._now
        brain = self.brain
        taker_buys_yes = (trade.side is Side.BUY) == (trade.outcome is Outcome.YES)
        levels: dict[int, int] = {}
        for f in trade.fills:
            levels[f.yes_price] = levels.get(f.yes_price, 0) + f.size
        for price, size in levels.items():
            brain.on_trade(now, price, size / _MICRO, taker_buys_yes)

    def _on_fill(self, fill: Fill, taker: str) -> None:
        if not self.portfolio.apply(fill):
            return
        self.brain.on_fill(self._now, fill)
        self.fills += 1
        if taker == self.flow.informed_owner:
            self.informed_fills += 1
        size = fill.size
        self.volume += size
        self.notional += size * pips_to_decimal(fill.price)
        shares = float(size)
        sign = 1 if fill.side is Side.BUY else -1
        self._qty += sign * shares
        self._cash -= sign * shares * fill.price / PIPS_PER_UNIT
        held = abs(self._position.qty)
        if held > self.max_abs_inventory:
            self.max_abs_inventory = held
        self.markouts.add(self._ms, None, sign, fill.price, shares)

    @property
    def max_drawdown(self) -> float:
        return self.curve.max_drawdown

    def _resolve_markouts(self, until_ms: int, inclusive: bool) -> None:
        """Resolve pending markouts due before (or at) ``until_ms`` at the current mid and fair."""
        mid = self._mid()
        if mid is None:
            mid = self._last_mid if self._last_mid is not None else self.flow.fair.value
        self._last_mid = mid
        fair = self.flow.fair.value
        self.markouts.resolve(until_ms, inclusive, lambda _k: mid, lambda _k: fair)

    # ------------------------------------------------------------------ strategy (Engine.step)

    def _mark(self, _cid: str = "") -> Decimal | None:
        """The engine's mark: the mid, or the last trade on a one-sided book."""
        book = self._book
        b, a = book.bids.best(), book.asks.best()
        if b is None or a is None:
            return pips_to_decimal(book.last_trade) if book.last_trade is not None else None
        return pips_to_decimal(b + a) / 2

    def _positions(self, replacing: str | None = None) -> dict[str, Position]:
        """As ``Engine._positions``: our orders that could still fill, ``replacing``'s open orders left out
        (the step's targets replace them) but those whose cancel is on its way kept."""
        return positions_for({self.market.condition_id: self.market}, reserved_for_step(self.venue.reserved, replacing),
                             lambda _c: self._position.qty, self._mark)

    def strategy_step(self) -> None:
        """One strategy step, the engine's (``pipeline.step``); its orders go to the venue."""
        cid = self.market.condition_id
        if self.halted or not self.quote:
            return
        if self.venue.busy(cid):  # the engine's step lock: this market's last step is still on the wire
            self._deferred = True
            return
        self._deferred = False
        view = self.view()
        params = self.params
        result = pipeline.step(
            self.brain, self.risk, view, self._position.qty, params, positions=self._positions(cid),
            budget=self._budget, resting=self.venue.open_orders(cid), now=self._now,
            epoch_changed=self._epoch != view.epoch, forced=self._forced, last_fair=self._last_fair,
        )
        plan = result.plan
        if plan is None:
            return  # the fixed model requotes only when the mid moved past the threshold
        self._forced = False
        self._last_fair = plan.fair
        self._epoch = view.epoch
        events = result.decision.signals.events

        def check(quotes: tuple[Quote, ...]) -> tuple[Quote, ...]:
            """The engine's ``_place`` once the cancels are done: nothing while halted, else what every
            limit allows against everything that could still fill now."""
            if self.halted:
                return ()
            return pipeline.recheck(self.risk, cid, quotes, self._positions(), params=params, events=events,
                                    budget=self._budget, min_size=self.market.min_order_size, now=self._now).quotes

        self.venue.submit(cid, plan.cancel, plan.place, check)
        if not self.venue.busy(cid):
            self._quoted()

    def _quoted(self) -> None:
        """Our resting inner quotes to the brain (competitor detection), as the engine does after a step."""
        self.brain.on_quotes(*self.venue.inner_quotes(self.market.condition_id))

    def _landed(self) -> None:
        """An action of ours reached the venue: once nothing is in flight the step is done."""
        if self.venue.busy(self.market.condition_id):
            return
        self._quoted()
        if self._deferred:
            self.strategy_step()

    def _risk_tick(self) -> None:
        """The risk loop's pass (``Engine.risk_tick``): the daily loss and total position kills, and
        stale orders (older than ``max_order_age_s``: the next step replaces them)."""
        marks = {self.market.condition_id: self._mark()}
        realized, unreal, fees, _ = self.portfolio.totals(marks)
        self.risk.correlation.update({c: float(m) if m is not None else None for c, m in marks.items()})
        reason = self.risk.on_pnl(self._now, float(realized + unreal - fees))
        total = abs(self._position.qty)
        if reason is None and total > self.config.max_total_position:
            reason = f"total position {total} over limit {self.config.max_total_position}"
        if reason is not None and not self.halted and self.risk.limits.enforce:
            self.halted = f"halted at +{self._now - SIM_START_MS / 1000.0:,.1f} s: {reason}"
            self.venue.cancel_all()
        if any(too_old(o, self.params.max_order_age_s, self._now) for o in self.venue.open_orders()):
            self._forced = True

    def _catch_up(self, t: float) -> None:
        """Land our actions and run the risk passes due before ``t`` (seconds since the start), in time
        order, each at its own instant."""
        start = SIM_START_MS / 1000.0
        venue = self.venue
        while True:
            due = venue.due()
            land_t = due - start if due is not None else float("inf")
            if min(land_t, self._next_risk) >= t:
                return
            if due is not None and land_t < self._next_risk:
                self._set_time(due)
                venue.land()
                self._landed()
            else:
                self._set_time(start + self._next_risk)
                self._next_risk += self.config.risk_interval_s
                self._risk_tick()

    def record(self, writer: FrameWriter) -> None:
        """Write this run's market channel to ``writer`` from now on: the frames the stand-in's
        ``/ws/market`` sends a client subscribed to both tokens (the ``book`` dump first, then
        ``price_change``, ``last_trade_price`` and the books after each trade), each stamped with the
        simulated time it was sent, and the market's definition — a recording ``polymm replay`` reads.
        With ``quote=False`` it is the flow as it runs without us (``bench/fill_gap_bench.py``)."""

        writer.add_markets([self.market], self._ms * 1_000_000)
        subscribe_all(MarketChannel(self.matching), writer, [self.market], lambda: self._ms * 1_000_000)

    # ------------------------------------------------------------------ run

    def run(self, steps: int) -> Report:
        """Advance ``steps`` flow steps (with strategy steps in between) and report."""
        self._advance(steps, None)
        return self.report()

    def run_until(self, seconds: float) -> Report:
        """Advance until ``seconds`` of simulated time have passed (the last step lands at or just
        after it) and report."""
        self._advance(None, seconds)
        return self.report()

    def _advance(self, steps: int | None, until_s: float | None) -> None:
        if not self._started:
            self._started = True
            self.curve.sample(0.0, 0.0, (0.0,))
            self.strategy_step()  # quote the seeded book before the first flow action
        flow = self.flow
        timing = self._timing
        rate = self.rate
        every = self.strategy_every
        markouts = self.markouts
        fair = flow.fair
        curve = self.curve
        hook = self._hook
        rewards = self.rewards
        n = 0
        start = SIM_START_MS / 1000.0
        while (n < steps) if steps is not None else (self._t < until_s):  # type: ignore[operator]  # one of the two is set
            n += 1
            self._t += timing.expovariate(rate)
            self._catch_up(self._t)
            new_ms = SIM_START_MS + int(self._t * 1000.0)
            due = markouts.next_due
            if due is not None and due < new_ms:
                self._resolve_markouts(new_ms, inclusive=False)
            self._ms = new_ms
            self._now = start + self._t
            flow.step()
            if hook is not None:
                hook()
            self._steps += 1
            if self._steps % every == 0:
                self.strategy_step()
            due = markouts.next_due
            if due is not None and due <= new_ms:
                self._resolve_markouts(new_ms, inclusive=True)
            if rewards.due(self._t):
                rewards.observe(self._t, self._book)
            equity = self._cash + rewards.earned + self._qty * fair.value / PIPS_PER_UNIT
            curve.observe(equity)
            if curve.due(self._t):
                curve.sample(self._t, equity, (self._qty,))

    def report(self) -> Report:
        pos = self._position
        fair_pips = self.flow.fair.value
        fair_mark = Decimal(repr(fair_pips)) / PIPS_PER_UNIT
        mid = self._mid()
        mid_mark = None if mid is None else Decimal(repr(mid)) / PIPS_PER_UNIT
        trading = pos.realized + pos.unrealized(fair_mark)
        earned = self.rewards.earned
        pnl_mid = pos.realized + pos.unrealized(mid_mark if mid_mark is not None else fair_mark)
        stats = self.markouts.stats(with_fair=True)
        ten = next(s for s in stats if s.horizon_s == MARKOUT_S)
        return Report(
            seed=self.seed,
            model=self.params.model,
            market_index=self.market_index,
            condition_id=self.market.condition_id,
            steps=self._steps,
            sim_seconds=self._t,
            pnl=float(trading) + earned,
            pnl_mid=float(pnl_mid) + earned,
            realized=float(pos.realized),
            unrealized=float(pos.unrealized(fair_mark)),
            final_inventory=float(pos.qty),
            max_abs_inventory=float(self.max_abs_inventory),
            fills=self.fills,
            volume=float(self.volume),
            notional=float(self.notional),
            markout10_pips=ten.pips,
            markout10_fair_pips=ten.fair_pips,
            markouts=ten.count,
            max_drawdown=self.curve.max_drawdown,
            post_only_rejects=self.venue.post_only_rejects,
            size_rejects=self.venue.size_rejects,
            other_rejects=self.venue.other_rejects,
            places=self.venue.places,
            cancels=self.venue.cancels,
            informed_actions=self.flow.actions["informed"],
            informed_fills=self.informed_fills,
            final_fair=fair_pips / PIPS_PER_UNIT,
            final_mid=None if mid is None else mid / PIPS_PER_UNIT,
            markout_stats=stats,
            path=self.curve.path(end=(self._t, float(trading) + earned, (float(pos.qty),))),  # ends at the report
            scenario=self.scenario.name,
            late_cancels=self.venue.late_cancels,
            placement_cuts=self.venue.cuts,
            halted=self.halted,
            trading_pnl=float(trading),
            rewards=earned,
            reward_share=self.rewards.share(),
        )


def simulate(
    seed: int,
    model: str = "fixed",
    steps: int = DEFAULT_STEPS,
    params: MarketParams | None = None,
    *,
    market_index: int = 0,
    strategy_every: int = 1,
    scenario: Scenario | None = None,
    seconds: float | None = None,
    config: ReplayConfig | None = None,
    latency_s: float | None = None,
    **overrides: Any,
) -> Report:
    """Run one simulation (module docstring) of ``steps`` flow steps, or of ``seconds`` of simulated
    time when given. ``params`` is the base (``MarketParams()`` by default); ``model`` and
    ``overrides`` are applied on top and validated for the market. ``config``: the engine settings
    (``Settings``' defaults); ``latency_s``: the order and cancel latency (default ``config``'s)."""
    sim = Simulation(seed, model, params, market_index=market_index, strategy_every=strategy_every,
                     scenario=scenario, config=config, latency_s=latency_s, **overrides)
    return sim.run_until(seconds) if seconds is not None else sim.run(steps)
