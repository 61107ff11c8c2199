"""Strategy-step benchmark: signals update + quote + order diff, for one market, per book change.

Drives a live ``OrderBook`` with the shared benchmark stream (``polymm.exchange.blast``), and after
every frame times one strategy step the way the engine will run it: ``book.view(10)``, the
``SignalSet`` update (book, the trade print) and snapshot, the model state update, the model's
quotes (``avellaneda`` and ``pm4``, 2 layers a side) and ``diff_orders`` against the orders we
rest. The ``fixed`` model's step (no signals, no diff) is timed in the same run as the baseline.

Last line: ``{"bench": "quote", "step_p50_us": …, "step_p99_us": …}`` (the slower of the two models).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from decimal import Decimal

from polymm.domain.book_set import BookSet
from polymm.domain.market import Market
from polymm.domain.messages import parse_frame
from polymm.domain.models import (
    AvellanedaParams,
    LiveOrder,
    ModelState,
    PM4Params,
    avellaneda_quotes,
    diff_orders,
    pm4_quotes,
    update,
)
from polymm.domain.params import MarketParams
from polymm.domain.prices import Tick
from polymm.domain.quoting import fixed_quotes
from polymm.domain.signals import SignalSet
from polymm.exchange.blast import price_change_stream


def percentiles(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return statistics.median(s), s[int(len(s) * 0.99)]


def run(steps: int, model: str) -> tuple[list[float], list[float]]:
    market = Market("0x" + "ab" * 32, "1" * 70, "2" * 70, "bench", Tick.parse("0.01"), Decimal(5))
    books = BookSet([market])
    book = books.get(market.condition_id)
    frames, _ = price_change_stream([market], steps + 200, seed=5)
    params = MarketParams(spread=Decimal("0.04"), size=Decimal(10), layers=2, layer_step=Decimal("0.01"))
    signals = SignalSet(market.condition_id)
    state = ModelState()
    a_params, p_params = AvellanedaParams(), PM4Params()
    resting: list[LiveOrder] = []
    step_ns: list[float] = []
    fixed_ns: list[float] = []
    position = Decimal(0)
    now = 1_000.0
    for i, raw in enumerate(frames):
        books.apply(parse_frame(raw)[0])
        now += 0.05
        if i < 200:  # warm-up: a two-sided book and seeded state
            view = book.view(10)
            state = update(state, view)
            signals.on_book(now, view)
            continue
        t0 = time.perf_counter_ns()
        view = book.view(10)
        signals.on_book(now, view)
        if i % 5 == 0:  # a trade print every few frames
            signals.on_trade(now, view.best_bid or 5000, 25.0, i % 2 == 0)
        snap = signals.snapshot(now)
        state = update(state, view)
        if model == "pm4":
            targets = pm4_quotes(view, position, params, state, p_params)
        else:
            targets = avellaneda_quotes(view, position, params, state, a_params)
        to_cancel, to_place = diff_orders(resting, targets.quotes, 1, 30.0, now, view.tick)
        step_ns.append(time.perf_counter_ns() - t0)
        # what the venue would then hold
        kept = [o for o in resting if o not in to_cancel]
        resting = kept + [LiveOrder(f"o{i}-{k}", q.side, q.price, q.size, now) for k, q in enumerate(to_place)]
        signals.on_quotes(max((o.price for o in resting if o.side.value == "BUY"), default=None),
                          min((o.price for o in resting if o.side.value == "SELL"), default=None))
        assert snap is not None
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
