"""One step pipeline: the engine, the replay and the synthetic backtest run the same step (``domain/pipeline.py``)
and, fed the same inputs — book views, position, parameters, limits, clock — send the same orders."""

from __future__ import annotations

import types
from dataclasses import replace
from decimal import Decimal

import orjson
import pytest

import polymm.engine.engine as engine_module
from polymm.backtest.fills import OWNER
from polymm.backtest.replay import Replay, ReplayConfig
from polymm.backtest.simulation import SIM_START_MS, Simulation
from polymm.config import load_settings
from polymm.domain import pipeline
from polymm.domain.market import Market, Side
from polymm.domain.messages import parse_frame
from polymm.domain.portfolio import Fill
from polymm.domain.prices import pips_to_str
from polymm.domain.quoting import Quote
from polymm.domain.risk import Position, RiskEngine, RiskLimits
from polymm.domain.signals import SignalsConfig
from polymm.domain.strategy import MarketBrain
from polymm.engine.engine import Engine
from polymm.venue.paper import PaperExecution
from polymm_standin.sim.catalog import market_profiles

D = Decimal
SEED = 3
T0 = SIM_START_MS / 1000.0
#: The other traders' levels at each step (YES terms, price → shares); our own orders come on top, as
#: the live feed shows them. The book moves up, stays, moves down, never through a resting order of ours.
STEPS: list[tuple[float, dict[int, float], dict[int, float]]] = [
    (0.0, {4800: 100.0, 4700: 50.0}, {5200: 100.0, 5300: 80.0}),
    (1.0, {4800: 100.0, 4700: 50.0}, {5200: 100.0, 5300: 80.0}),
    (2.0, {5000: 60.0, 4900: 40.0}, {5400: 70.0, 5500: 30.0}),
    (3.0, {4600: 100.0, 4500: 50.0}, {5100: 50.0, 5200: 20.0}),
    (4.0, {4700: 90.0}, {5100: 50.0, 5300: 20.0}),
]
#: What we hold before the first step: 30 YES bought at 0.40 (a gain at every mark here, so the
#: replay's risk pass never tightens the limits).
HELD = (D(30), 4000)

Orders = tuple[tuple[tuple[str, int, Decimal], ...], tuple[tuple[str, int, Decimal], ...]]


def _settings():
    # a small market budget: the risk engine cuts the bids (the exposure of 30 YES plus what they add)
    return load_settings(_env_file=None, mode="paper", journal_path="off", max_market_exposure=D(20),
                         quote_interval_s=60, quote_interval_fast_s=60, min_step_gap_s=0)


def _market() -> Market:
    return market_profiles(SEED)[0].market


def _params(model: str):
    # tolerance 0: every one-tick move of a target requotes, so the adaptive models requote too
    return _settings().default_params().fitted_to(_market()).updated(model=model, layers=2, tolerance_ticks=0)


def _book_frame(market: Market, t: float, bids: dict[int, float], asks: dict[int, float]) -> str:
    def side(levels: dict[int, float], reverse: bool) -> list[dict[str, str]]:
        return [{"price": pips_to_str(p), "size": repr(s)} for p, s in sorted(levels.items(), reverse=reverse)]

    return orjson.dumps({
        "event_type": "book", "market": market.condition_id, "asset_id": market.yes_token,
        "timestamp": str(int(t * 1000)), "hash": "h", "bids": side(bids, False), "asks": side(asks, True),
        "tick_size": market.tick.text,
    }).decode()


def _with(levels: dict[int, float], orders, side: Side) -> dict[int, float]:
    """``levels`` plus our resting orders on ``side`` (the book the live feed shows)."""
    out = dict(levels)
    for o in orders:
        if o.side is side:
            out[o.price] = out.get(o.price, 0.0) + float(o.remaining)
    return out


def _ticks(until: float, done: list[float], inclusive: bool) -> list[float]:
    """The risk loop's passes (every 0.5 s from the first step, as ``Engine.run_risk``) due before
    ``until`` (or at it), not yet run; ``done`` holds the next one's time."""
    out = []
    while done[0] < until or (inclusive and done[0] == until):
        out.append(done[0])
        done[0] += 0.5
    return out


def _view_key(view) -> tuple:
    return view.best_bid, view.best_ask, view.bids, view.asks, view.tick


class Recorder:
    """Every ``pipeline.step`` call's inputs (what the step saw) and its plan, per harness."""

    def __init__(self) -> None:
        self.current = ""
        self.inputs: dict[str, list[tuple]] = {}
        self._step = pipeline.step

    def step(self, brain, risk, view, position, params, **kw):
        result = self._step(brain, risk, view, position, params, **kw)
        resting = tuple(sorted((o.side.value, o.price, o.remaining) for o in kw["resting"]))
        me = kw["positions"][brain.market.condition_id]
        self.inputs.setdefault(self.current, []).append(
            (_view_key(view), position, params, (me.qty, me.bids, me.asks, round(me.mark, 9)), kw["budget"],
             kw["now"], resting, result.targets.quotes, result.vetoes))
        return result


def _cancelled(orders, ids) -> list[tuple[str, int, Decimal]]:
    by_id = {o.order_id: o for o in orders}
    return [(by_id[i].side.value, by_id[i].price, by_id[i].remaining) for i in ids if i in by_id]


async def _engine_orders(model: str, rec: Recorder, monkeypatch: pytest.MonkeyPatch) -> list[Orders]:
    market = _market()
    cid = market.condition_id
    clock = [T0]
    monkeypatch.setattr(engine_module, "time", types.SimpleNamespace(time=lambda: clock[0],
                                                                     monotonic=lambda: clock[0]))
    ex = PaperExecution(clock=lambda: clock[0])
    engine = Engine(_settings(), [market], mode="PAPER", execution=ex)
    engine._blocked_reason = lambda _cid: None  # type: ignore[method-assign]  # no feed here: trusted
    engine.params[cid] = _params(model)
    engine.ledger.book(Fill(cid, "held", Side.BUY, HELD[1], HELD[0], D(0), T0, "held", market.yes_token))
    sent: list[tuple[list, list]] = []
    place, cancel = ex.place_many, ex.cancel

    async def place_many(m, book, reqs, origin_ns=0):
        sent[-1][0].extend((r.side.value, r.price, r.size) for r in reqs)
        return await place(m, book, reqs)

    def show(levels: tuple[dict[int, float], dict[int, float]]) -> None:
        """The feed shows what the venue holds: the other traders' levels and our orders."""
        mine = ex.open_orders(cid)
        frame = _book_frame(market, clock[0], _with(levels[0], mine, Side.BUY), _with(levels[1], mine, Side.SELL))
        engine.feed.books.apply(parse_frame(frame)[0])

    async def cancel_ids(ids):
        sent[-1][1].extend(_cancelled(ex.open_orders(cid), ids))
        done = await cancel(ids)
        show(current[0])  # the venue's market channel reports the cancels before the engine places anew
        return done

    ex.place_many, ex.cancel = place_many, cancel_ids  # type: ignore[method-assign]
    rec.current = "engine"
    current: list[tuple[dict[int, float], dict[int, float]]] = [({}, {})]
    due = [T0]
    for dt, bids, asks in STEPS:
        for tick in _ticks(T0 + dt, due, inclusive=False):  # the risk loop on the book as it stood
            clock[0] = tick
            await engine.risk_tick()
        clock[0] = T0 + dt
        current[0] = (bids, asks)
        show(current[0])
        for _ in _ticks(T0 + dt, due, inclusive=True):
            await engine.risk_tick()
        sent.append(([], []))
        await engine.step(cid)
    await engine.stop(cancel_orders=False)
    return [(tuple(sorted(p)), tuple(sorted(c))) for p, c in sent]


def _replay_orders(model: str, rec: Recorder) -> list[Orders]:
    market = _market()
    cid = market.condition_id
    config = replace(ReplayConfig.from_settings(_settings()), base=_params(model), latency_s=0.0)
    rp = Replay(config, markets=[market])
    assert rp.params[cid] == _params(model)
    rp.portfolio.apply(Fill(cid, "held", Side.BUY, HELD[1], HELD[0], D(0), T0, "held", market.yes_token))
    sent = _watch_venue(rp.venue, cid)
    rec.current = "replay"
    for dt, bids, asks in STEPS:  # recorded without us: the replay's view adds our resting orders
        sent.append(([], []))
        rp.feed(int((T0 + dt) * 1e9), _book_frame(market, T0 + dt, bids, asks))
    return [(tuple(sorted(p)), tuple(sorted(c))) for p, c in sent]


def _sim_orders(model: str, rec: Recorder) -> list[Orders]:
    config = replace(ReplayConfig.from_settings(_settings()), latency_s=0.0)
    sim = Simulation(SEED, model, _params(model), config=config)
    market = sim.market
    cid = market.condition_id
    engine = sim.matching
    engine.cancel_orders([o.id for o in engine.open_orders() if o.owner != OWNER])  # no synthetic flow here
    sim.portfolio.apply(Fill(cid, "held", Side.BUY, HELD[1], HELD[0], D(0), T0, "held", market.yes_token))
    sent = _watch_venue(sim.venue, cid)
    rec.current = "sim"
    due = [T0]

    def at(t: float) -> None:
        sim._now, sim._ms = t, int(t * 1000)

    for dt, bids, asks in STEPS:  # the other traders' orders in the matching engine, next to ours
        for tick in _ticks(T0 + dt, due, inclusive=False):
            at(tick)
            sim._risk_tick()
        at(T0 + dt)
        engine.cancel_all("book")
        for side, levels in ((Side.BUY, bids), (Side.SELL, asks)):
            for price, size in levels.items():
                engine.place("book", market.yes_token, side, price, D(repr(size)), post_only=True)
        for _ in _ticks(T0 + dt, due, inclusive=True):
            sim._risk_tick()
        sent.append(([], []))
        sim.strategy_step()
    return [(tuple(sorted(p)), tuple(sorted(c))) for p, c in sent]


def _watch_venue(venue, cid: str) -> list[tuple[list, list]]:
    """What a simulated venue is sent: cancels (as the orders they cancel) and the quotes that reach it."""
    sent: list[tuple[list, list]] = []
    submit, place = venue.submit, venue._place

    def watched_submit(c, cancel, quotes, recheck=None):
        sent[-1][1].extend(_cancelled(venue.open_orders(cid), cancel))
        return submit(c, cancel, quotes, recheck)

    def watched_place(market, quotes):
        sent[-1][0].extend((q.side.value, q.price, q.size) for q in quotes)
        return place(market, quotes)

    venue.submit, venue._place = watched_submit, watched_place
    return sent


@pytest.mark.parametrize("model", ["fixed", "avellaneda", "pm4"])
async def test_engine_replay_and_backtest_send_the_same_orders(model: str, monkeypatch: pytest.MonkeyPatch,
                                                               clean) -> None:
    rec = Recorder()
    monkeypatch.setattr(pipeline, "step", rec.step)
    engine = await _engine_orders(model, rec, monkeypatch)
    replay = _replay_orders(model, rec)
    sim = _sim_orders(model, rec)
    # the same inputs reached the one step in all three: view (ours included), position, parameters,
    # worst case, budget, clock and resting orders ...
    assert len(rec.inputs["engine"]) == len(STEPS)
    assert rec.inputs["replay"] == rec.inputs["engine"]
    assert rec.inputs["sim"] == rec.inputs["engine"]
    # ... and the same orders left it, step by step
    assert replay == engine
    assert sim == engine
    placed = [q for p, _ in engine for q in p]
    assert placed and any(c for _, c in engine)  # it quoted and requoted: the comparison has teeth
    assert any("market exposure" in v for *_, vetoes in rec.inputs["engine"] for v in vetoes)  # the risk cut bit


def test_step_sizes_against_the_worst_case_and_plans_the_orders() -> None:
    """The step's risk check counts what could still fill elsewhere; the plan replaces our resting orders."""
    market = _market()
    cid = market.condition_id
    brain = MarketBrain(market, SignalsConfig())
    risk = RiskEngine(RiskLimits())
    params = _params("fixed").updated(position_limit=D(25))
    events = parse_frame(_book_frame(market, T0, {4800: 100.0}, {5200: 100.0}))[0]
    from polymm.domain.order_book import OrderBook

    book = OrderBook(market)
    book.apply(events[0])
    view = book.view(10)
    # flat, but 20 YES of bids resting elsewhere in this market could still fill (a cancel on its way)
    worst = {cid: Position(0.0, 0.5, "", 20.0, 0.0)}
    out = pipeline.step(brain, risk, view, D(0), params, positions=worst, budget=250.0, resting=(), now=T0,
                        epoch_changed=True, forced=True, last_fair=None)
    bids = [q for q in out.targets.quotes if q.side is Side.BUY]
    asks = [q for q in out.targets.quotes if q.side is Side.SELL]
    assert sum(q.size for q in bids) == D(5)  # 25 − 20: the position limit against the worst case
    assert sum(q.size for q in asks) == D(20)  # 2 layers of 10: nothing cut
    assert any("position limit" in v for v in out.vetoes)
    assert out.plan is not None and set(out.plan.place) == set(out.targets.quotes) and out.plan.cancel == ()
    # the same targets again with them resting: nothing to do (the fixed model keeps its quotes)
    resting = [types.SimpleNamespace(order_id=f"o{i}", side=q.side, price=q.price, remaining=q.size, placed_at=T0)
               for i, q in enumerate(out.targets.quotes)]
    again = pipeline.step(brain, risk, view, D(0), params, positions=worst, budget=250.0, resting=resting,
                          now=T0 + 1, epoch_changed=False, forced=False, last_fair=out.plan.fair)
    assert again.plan is None


def test_recheck_cuts_to_what_could_still_fill_and_to_the_venue_minimum() -> None:
    market = _market()
    cid = market.condition_id
    risk = RiskEngine(RiskLimits())
    params = _params("fixed").updated(position_limit=D(25))
    events = types.SimpleNamespace(reduce_only=False, hours_to_end=None)
    quotes = (Quote(Side.BUY, 4800, D(10)), Quote(Side.BUY, 4700, D(10)))
    free = pipeline.recheck(risk, cid, quotes, {cid: Position(0.0, 0.5)}, params=params, events=events,
                            budget=250.0, min_size=market.min_order_size, now=T0)
    assert free.quotes == quotes and not free.cut
    # 12 YES of bids could still fill: room 13 → the second bid is cut to 3, under the minimum 5: dropped
    busy = pipeline.recheck(risk, cid, quotes, {cid: Position(0.0, 0.5, "", 12.0, 0.0)}, params=params,
                            events=events, budget=250.0, min_size=market.min_order_size, now=T0)
    assert busy.quotes == (Quote(Side.BUY, 4800, D(10)),) and busy.cut
    # reduce-only (the end date is near): bids only down to flat, so nothing for a flat position
    near = pipeline.recheck(risk, cid, quotes, {cid: Position(0.0, 0.5)}, params=params,
                            events=types.SimpleNamespace(reduce_only=True, hours_to_end=1.0), budget=250.0,
                            min_size=market.min_order_size, now=T0)
    assert near.quotes == () and near.cut


def test_what_a_step_keeps_is_never_walked_by_the_garbage_collector() -> None:
    """A step replaces its market's book view (and its levels), model state, signals and targets; at 300
    markets that is thousands of objects a second that a young collection walked, one pause of the
    event loop each (docs/architecture.md, "What the garbage collector walks"). They hold numbers,
    strings and one another, never a cycle: none is tracked, and the tuples of levels are untracked at
    their first collection."""
    import gc

    from polymm.domain.order_book import OrderBook
    from polymm.domain.signals import _Unmatched
    from polymm.state import DecisionState, MarketState, OrderView, TradePrint

    market = _market()
    brain = MarketBrain(market, SignalsConfig())
    book = OrderBook(market)
    book.apply(parse_frame(_book_frame(market, T0, {4800: 100.0, 4700: 50.0}, {5200: 100.0, 5300: 40.0}))[0][0])
    view = book.view(10)
    out = pipeline.step(brain, RiskEngine(RiskLimits()), view, D(0), _params("pm4"), positions={},
                        budget=250.0, resting=(), now=T0, epoch_changed=True, forced=True, last_fair=None)
    assert out.targets.quotes and out.decision.signals.volatility is not None
    snap = out.decision.signals
    kept = [view, *view.bids, *view.asks, brain.state, out.targets, *out.targets.quotes, snap, snap.volatility,
            snap.flow, snap.liquidity, snap.competitor, snap.parity, snap.markouts, snap.events, snap.intensity,
            Position(0.0, 0.5),
            DecisionState(market.condition_id, "pm4", "", None, (), (), 1.0, None, 1.0, T0),
            MarketState(market.condition_id, "q", "quoting", "", (OrderView("o1", "BUY", 4800, D(5)),), D(0), None,
                        D(0), D(0), 0, D("0.02"), D(5), D(25)),
            OrderView("o1", "BUY", 4800, D(5)), TradePrint(T0, "BUY", 5200, 3.0), _Unmatched(T0, 5200, 3.0)]
    assert [type(o).__name__ for o in kept if gc.is_tracked(o)] == []
    gc.collect(0)
    assert not any(gc.is_tracked(t) for t in (view.bids, view.asks, out.targets.quotes))
