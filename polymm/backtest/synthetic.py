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
    1. advance the clock by one gap; 2. ``flow.step()`` (one synthetic action, which may trade with
    our resting orders: engine events are routed as below); 3. every ``strategy_every`` flow steps
    (default 1: after every step) one strategy step: ``BookView`` → ``MarketBrain.decide`` →
    ``diff_orders`` against our resting orders → cancel the stale ones, place the missing ones as
    owner ``polymm``, post-only GTC. The strategy reacts with zero latency (it sees the book right
    after each flow action and its orders land at once) — an optimistic but common backtest
    simplification; a rejected order (post-only that would cross, size under the market minimum) is
    skipped and counted.

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
    Polymarket's (and the stand-in's) fees are taker-only; maker rebates and liquidity rewards are
    not credited either.

Marking
    ``pnl`` = realised (average cost) + unrealised marked at the final hidden fair value
    (``flow.fair``): the value the informed trader knows, i.e. what the inventory is really worth.
    ``pnl_mid`` marks at the final book mid instead. ``max_drawdown`` is the largest peak-to-trough
    fall of the equity curve (cash + position × hidden fair), sampled after every flow step.

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

from polymm.domain.market import Outcome, Side
from polymm.domain.models import LiveOrder, diff_orders
from polymm.domain.order_book import BookView, Level
from polymm.domain.params import MarketParams
from polymm.domain.portfolio import Fill, Portfolio
from polymm.domain.prices import MAX_PIPS, PIPS_PER_UNIT, pips_to_decimal
from polymm.domain.quoting import Quote
from polymm.domain.strategy import MarketBrain
from polymm.exchange.matching import POST_ONLY_CROSSES, MatchingEngine, OrderRejected, Trade
from polymm.exchange.synthetic import SyntheticFlow, market_profiles

from .metrics import HORIZONS_S, Curve, Markouts, MarkoutStat, Path
from .scenarios import SCENARIOS, Scenario

#: Our owner name on the matching engine.
OWNER = "polymm"
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
    pnl: float  # realised + unrealised at the final hidden fair value
    pnl_mid: float  # realised + unrealised at the final book mid
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


@dataclass(slots=True)
class _Ours:
    order: LiveOrder  # YES terms, as placed
    venue_yes: bool  # sent on the YES token
    venue_sell: bool  # sent as a SELL (reserves shares we hold)


class Simulation:
    """One market, its synthetic flow and our brain in simulated time (module docstring).

    ``engine``, ``flow``, ``brain`` and ``portfolio`` are public so tests can watch them; ``run(steps)``
    can be called more than once (it continues) and returns the ``Report`` so far.
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
        **overrides: object,
    ) -> None:
        if strategy_every < 1:
            raise ValueError(f"strategy_every must be >= 1, got {strategy_every}")
        if not 0 <= market_index < 6:
            raise ValueError(f"market_index must be 0..5, got {market_index}")
        profile = market_profiles(seed)[market_index]
        self.scenario = scenario if scenario is not None else SCENARIOS["standin"]
        self.seed = seed
        self.market_index = market_index
        self.market = market = profile.market
        base = params if params is not None else MarketParams()
        self.params = base.updated(model=model, **overrides).check_for(market)
        self.rate = rate if rate is not None else self.scenario.rate
        if self.rate <= 0:
            raise ValueError(f"rate must be > 0 steps/s, got {self.rate}")
        self.strategy_every = strategy_every
        self._ms = SIM_START_MS
        self._t = 0.0  # simulated seconds since the start
        self._timing = random.Random(f"polymm-backtest-timing:{seed}:{market_index}")
        self.engine = MatchingEngine([market], clock=self._clock, id_salt=f"standin:{seed}")
        self.flow = SyntheticFlow(self.engine, profile, seed, market_index, clock=self._clock)
        self._hook = self.scenario.install(self.flow)
        book = self.engine.market_book(market.condition_id)
        assert book is not None
        self._book = book
        self._version = 0
        self.engine.add_listener(self._on_event)
        self.flow.seed_book()
        self.brain = MarketBrain(market)
        self.portfolio = Portfolio()
        self._position = self.portfolio.position(market.condition_id)
        self._live: dict[str, _Ours] = {}
        self._steps = 0
        self._started = False
        # fills, money (floats for the equity curve; the Portfolio keeps the exact Decimals)
        self._cash = 0.0
        self._qty = 0.0
        self.curve = Curve(1.0)
        self.max_abs_inventory = _ZERO
        self.fills = 0
        self.informed_fills = 0
        self.volume = _ZERO
        self.notional = _ZERO
        self.markouts = Markouts(HORIZONS_S, unit=1000)
        self._last_mid: float | None = None
        # orders
        self.places = 0
        self.cancels = 0
        self.post_only_rejects = 0
        self.size_rejects = 0
        self.other_rejects = 0
        self.reject_messages: dict[str, int] = {}

    # ------------------------------------------------------------------ clock and view

    def _clock(self) -> int:
        return self._ms

    @property
    def now(self) -> float:
        """Simulated epoch seconds."""
        return self._ms / 1000.0

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
        now = self._ms / 1000.0
        brain = self.brain
        taker_buys_yes = (trade.side is Side.BUY) == (trade.outcome is Outcome.YES)
        levels: dict[int, int] = {}
        for f in trade.fills:
            levels[f.yes_price] = levels.get(f.yes_price, 0) + f.size
        for price, size in levels.items():
            brain.on_trade(now, price, size / _MICRO, taker_buys_yes)
        for f in trade.fills:
            if f.maker_owner != OWNER:
                continue
            side = f.maker_side if f.maker_outcome is Outcome.YES else f.maker_side.other
            size = Decimal(f.size).scaleb(-6)
            fill = Fill(self.market.condition_id, f.maker_order_id, side, f.yes_price, size, _ZERO, now, trade.id)
            if not self.portfolio.apply(fill):
                continue
            brain.on_fill(now, fill)
            self.fills += 1
            if trade.taker_owner == self.flow.informed_owner:
                self.informed_fills += 1
            self.volume += size
            self.notional += size * pips_to_decimal(f.yes_price)
            shares = f.size / _MICRO
            money = shares * f.yes_price / PIPS_PER_UNIT
            sign = 1 if side is Side.BUY else -1
            self._qty += sign * shares
            self._cash -= sign * money
            held = abs(self._position.qty)
            if held > self.max_abs_inventory:
                self.max_abs_inventory = held
            self.markouts.add(self._ms, None, sign, f.yes_price, shares)

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

    # ------------------------------------------------------------------ strategy

    def _resting(self) -> list[LiveOrder]:
        """Our live orders as ``diff_orders`` sees them (a partly filled one at its remaining size)."""
        out: list[LiveOrder] = []
        engine = self.engine
        gone = []
        for oid, ours in self._live.items():
            o = engine.order(oid)
            if o is None:
                gone.append(oid)
                continue
            lo = ours.order
            if o.remaining != o.original:
                lo = LiveOrder(oid, lo.side, lo.price, Decimal(o.remaining).scaleb(-6), lo.placed_at)
            out.append(lo)
        for oid in gone:
            del self._live[oid]
        return out

    def _reserved(self) -> tuple[Decimal, Decimal]:
        """Shares reserved by our resting SELL orders: (YES, NO)."""
        yes = no = _ZERO
        for oid, ours in self._live.items():
            if ours.venue_sell:
                o = self.engine.order(oid)
                if o is not None:
                    if ours.venue_yes:
                        yes += Decimal(o.remaining).scaleb(-6)
                    else:
                        no += Decimal(o.remaining).scaleb(-6)
        return yes, no

    def strategy_step(self) -> None:
        now = self._ms / 1000.0
        existing = self._resting()
        view = self.view()
        params = self.params
        decision = self.brain.decide(view, self._position.qty, params, now)
        to_cancel, to_place = diff_orders(
            existing, decision.targets.quotes, params.tolerance_ticks, params.max_order_age_s, now, view.tick
        )
        if to_cancel:
            ids = [o.order_id for o in to_cancel]
            self.engine.cancel_orders(ids)
            for oid in ids:
                self._live.pop(oid, None)
            self.cancels += len(ids)
        if to_place:
            reserved_yes, reserved_no = self._reserved()
            for q in to_place:
                sell = self._place(q, now, reserved_yes, reserved_no)
                if sell is True:
                    reserved_yes += q.size
                elif sell is False:
                    reserved_no += q.size
        bid = ask = None
        for ours in self._live.values():
            o = ours.order
            if o.side is Side.BUY:
                if bid is None or o.price > bid:
                    bid = o.price
            elif ask is None or o.price < ask:
                ask = o.price
        self.brain.on_quotes(bid, ask)

    def _place(self, q: Quote, now: float, reserved_yes: Decimal, reserved_no: Decimal) -> bool | None:
        """Place one YES-terms quote, routed as ``LiveExecution`` does. Returns True when it reserved
        YES shares (SELL YES), False when it reserved NO shares (SELL NO), None otherwise."""
        m = self.market
        qty = self._position.qty
        if q.side is Side.SELL:
            if max(qty, _ZERO) - reserved_yes >= q.size:
                token, vside, vprice, venue_yes, venue_sell = m.yes_token, Side.SELL, q.price, True, True
            else:
                token, vside, vprice, venue_yes, venue_sell = m.no_token, Side.BUY, MAX_PIPS - q.price, False, False
        elif max(-qty, _ZERO) - reserved_no >= q.size:
            token, vside, vprice, venue_yes, venue_sell = m.no_token, Side.SELL, MAX_PIPS - q.price, False, True
        else:
            token, vside, vprice, venue_yes, venue_sell = m.yes_token, Side.BUY, q.price, True, False
        try:
            result = self.engine.place(OWNER, token, vside, vprice, q.size, post_only=True)
        except OrderRejected as e:
            if e.message == POST_ONLY_CROSSES:
                self.post_only_rejects += 1
            elif "lower than the minimum" in e.message:
                self.size_rejects += 1
            else:
                self.other_rejects += 1
            key = e.message if "lower than the minimum" not in e.message else "size under the minimum"
            self.reject_messages[key] = self.reject_messages.get(key, 0) + 1
            return None
        self.places += 1
        if result.resting is not None:
            self._live[result.order_id] = _Ours(LiveOrder(result.order_id, q.side, q.price, q.size, now),
                                                venue_yes, venue_sell)
        if not venue_sell:
            return None
        return venue_yes

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
        n = 0
        while (n < steps) if steps is not None else (self._t < until_s):  # type: ignore[operator]
            n += 1
            self._t += timing.expovariate(rate)
            new_ms = SIM_START_MS + int(self._t * 1000.0)
            due = markouts.next_due
            if due is not None and due < new_ms:
                self._resolve_markouts(new_ms, inclusive=False)
            self._ms = new_ms
            flow.step()
            if hook is not None:
                hook()
            self._steps += 1
            if self._steps % every == 0:
                self.strategy_step()
            due = markouts.next_due
            if due is not None and due <= new_ms:
                self._resolve_markouts(new_ms, inclusive=True)
            equity = self._cash + self._qty * fair.value / PIPS_PER_UNIT
            curve.observe(equity)
            if curve.due(self._t):
                curve.sample(self._t, equity, (self._qty,))

    def report(self) -> Report:
        pos = self._position
        fair_pips = self.flow.fair.value
        fair_mark = Decimal(repr(fair_pips)) / PIPS_PER_UNIT
        mid = self._mid()
        mid_mark = None if mid is None else Decimal(repr(mid)) / PIPS_PER_UNIT
        pnl = pos.realized + pos.unrealized(fair_mark)
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
            pnl=float(pnl),
            pnl_mid=float(pnl_mid),
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
            post_only_rejects=self.post_only_rejects,
            size_rejects=self.size_rejects,
            other_rejects=self.other_rejects,
            places=self.places,
            cancels=self.cancels,
            informed_actions=self.flow.actions["informed"],
            informed_fills=self.informed_fills,
            final_fair=fair_pips / PIPS_PER_UNIT,
            final_mid=None if mid is None else mid / PIPS_PER_UNIT,
            markout_stats=stats,
            path=self.curve.path(),
            scenario=self.scenario.name,
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
    **overrides: object,
) -> Report:
    """Run one simulation (module docstring) of ``steps`` flow steps, or of ``seconds`` of simulated
    time when given. ``params`` is the base (``MarketParams()`` by default); ``model`` and
    ``overrides`` are applied on top and validated for the market."""
    sim = Simulation(seed, model, params, market_index=market_index, strategy_every=strategy_every,
                     scenario=scenario, **overrides)
    return sim.run_until(seconds) if seconds is not None else sim.run(steps)
