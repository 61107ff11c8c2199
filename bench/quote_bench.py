"""Strategy-step benchmark: signals update + quote + risk checks + order plan, per book change.

Drives a live ``OrderBook`` with the shared benchmark stream (``polymm_standin.sim.blast``) and after
every frame times one strategy step exactly as ``Engine.step`` runs it, minus the I/O:
``book.view(10)`` and ``pipeline.step`` — ``MarketBrain.decide`` (model state and signal updates, the
signals snapshot, the model's quotes — ``avellaneda`` or ``pm4``, 2 layers a side — the reward band,
the venue minimum, parity), ``RiskEngine.check`` (positions held in 5 other markets, two of them in a
neg-risk group with this one), the minimum-size drop and ``plan_orders`` against the orders we rest.
A trade print is fed every 5 frames and a fill of ours every 50. The ``fixed`` model's bare quote (no
signals, no risk, no plan) is timed in the same run as the baseline.

Last line: ``{"bench": "quote", "step_p50_us": …, "step_p99_us": …}`` (the slower of the two models).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from decimal import Decimal

from polymm.domain import pipeline
from polymm.domain.book_set import BookSet
from polymm.domain.market import Market, Side
from polymm.domain.messages import parse_frame
from polymm.domain.params import MarketParams
from polymm.domain.portfolio import Fill
from polymm.domain.prices import Tick
from polymm.domain.quoting_models.fixed import fixed_quotes
from polymm.domain.risk import Position, RiskEngine, RiskLimits
from polymm.domain.strategy import MarketBrain
from polymm.venue.execution import OpenOrder
from polymm_standin.sim.blast import price_change_stream


def percentiles(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return statistics.median(s), s[int(len(s) * 0.99)]


def run(steps: int, model: str) -> tuple[list[float], list[float]]:
    market = Market("0x" + "ab" * 32, "1" * 70, "2" * 70, "bench", Tick.parse("0.01"), Decimal(5),
                    neg_risk=True, neg_risk_market_id="0xgroup")
    books = BookSet([market])
    book = books.get(market.condition_id)
    frames, _ = price_change_stream([market], steps + 200, seed=5)
    params = MarketParams(model=model, spread=Decimal("0.04"), size=Decimal(10), layers=2,
                          layer_step=Decimal("0.01"))
    brain = MarketBrain(market)
    risk = RiskEngine(RiskLimits())
    cid = market.condition_id
    others = {f"0x{k:02x}": Position(float(20 * k - 50), 0.3 + 0.1 * k, "0xgroup" if k < 2 else "")
              for k in range(5)}
    resting: list[OpenOrder] = []
    last_fair: float | None = None
    step_ns: list[float] = []
    fixed_ns: list[float] = []
    position = Decimal(0)
    now = 1_000.0
    for i, raw in enumerate(frames):
        books.apply(parse_frame(raw)[0])
        now += 0.05
        if i < 200:  # warm-up: a two-sided book and seeded state
            brain.decide(book.view(10), position, params, now)
            continue
        if i % 5 == 0:  # a trade print every few frames (between steps, as the feed delivers them)
            brain.on_trade(now, book.best_bid or 5000, 25.0, i % 2 == 0)
        if i % 50 == 0 and resting:  # and now and then a fill of ours
            o = resting[0]
            brain.on_fill(now, Fill(cid, o.order_id, o.side, o.price, Decimal(5), trade_id=f"t{i}"))
            position += 5 if o.side is Side.BUY else -5
            position = max(min(position, Decimal(60)), Decimal(-60))
        t0 = time.perf_counter_ns()
        view = book.view(10)
        positions = {**others, cid: Position(float(position), (view.mid or 5000) / 10_000, "0xgroup")}
        plan = pipeline.step(brain, risk, view, position, params, positions=positions, budget=250.0,
                             resting=resting, now=now, epoch_changed=False, forced=False, last_fair=last_fair).plan
        step_ns.append(time.perf_counter_ns() - t0)
        if plan is not None:  # what the venue would then hold
            last_fair = plan.fair
            gone = set(plan.cancel)
            resting = [o for o in resting if o.order_id not in gone] + [
                OpenOrder(f"o{i}-{k}", cid, q.side, q.price, q.size, placed_at=now) for k, q in enumerate(plan.place)]
        brain.on_quotes(max((o.price for o in resting if o.side is Side.BUY), default=None),
                        min((o.price for o in resting if o.side is Side.SELL), default=None))
        t1 = time.perf_counter_ns()
        fixed_quotes(book.view(1), position, params)
        fixed_ns.append(time.perf_counter_ns() - t1)
    return step_ns, fixed_ns


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20_000)
    args = ap.parse_args(argv)
    results = {}
    for model in ("avellaneda", "pm4"):
        step, fixed = run(args.steps, model)
        results[model] = (*percentiles([x / 1000 for x in step]), *percentiles([x / 1000 for x in fixed]))
    print(f"python {sys.version.split()[0]}; {args.steps:,} strategy steps per model, one market, 2 layers a side")
    print(f"{'model':12} {'p50 µs':>9} {'p99 µs':>9}   fixed-model step (baseline) p50 / p99 µs")
    for model, (p50, p99, f50, f99) in results.items():
        print(f"{model:12} {p50:9.1f} {p99:9.1f}   {f50:.1f} / {f99:.1f}   ratio p50 {p50 / f50:.1f}x")
    worst = max(results.values(), key=lambda r: r[1])
    print(json.dumps({
        "bench": "quote",
        "step_p50_us": round(worst[0], 1),
        "step_p99_us": round(worst[1], 1),
        "avellaneda_p99_us": round(results["avellaneda"][1], 1),
        "pm4_p99_us": round(results["pm4"][1], 1),
        "fixed_p99_us": round(worst[3], 1),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
