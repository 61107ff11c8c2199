"""Book apply benchmark: parse + apply Polymarket ``price_change`` frames.

Generates a deterministic stream of frames (1–3 level changes each, listed for both tokens of
the market, as Polymarket sends them), then measures in the same run:

* polymm: ``parse_frame`` (orjson, typed events, pips) + ``BookSet.apply`` (array-indexed book);
* baseline: stdlib ``json`` + a naive book that keeps sorted ``[price, size]`` lists and re-sorts
  a side on every update.

Prints a table and, as its last line, one JSON object with the figures.
Usage: ``python bench/book_bench.py [--frames N] [--markets M] [--seed S]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from decimal import Decimal

from polymm.domain.book_set import BookSet
from polymm.domain.market import Market
from polymm.domain.messages import parse_frame
from polymm.domain.prices import Tick
from polymm_standin.sim.blast import price_change_stream


def make_markets(n: int) -> list[Market]:
    out = []
    for i in range(n):
        out.append(
            Market(
                condition_id="0x" + f"{i:064x}",
                yes_token=str(10**70 + 2 * i),
                no_token=str(10**70 + 2 * i + 1),
                question=f"bench market {i}",
                tick=Tick.parse("0.01" if i % 2 else "0.001"),
                min_order_size=Decimal(5),
            )
        )
    return out


def make_frames(markets: list[Market], count: int, seed: int) -> tuple[list[bytes], int]:
    """The shared benchmark stream (also what the stand-in's /_admin/blast pushes)."""
    return price_change_stream(markets, count, seed)


class NaiveBook:
    """The baseline: sorted lists of [price, size], re-sorted on every update."""

    def __init__(self) -> None:
        self.bids: list[list[float]] = []
        self.asks: list[list[float]] = []

    def set(self, side: list[list[float]], price: float, size: float, reverse: bool) -> None:
        for i, lv in enumerate(side):
            if lv[0] == price:
                if size == 0:
                    del side[i]
                else:
                    lv[1] = size
                break
        else:
            if size:
                side.append([price, size])
        side.sort(key=lambda lv: lv[0], reverse=reverse)


def run_baseline(frames: list[bytes], markets: list[Market]) -> float:
    books = {m.condition_id: NaiveBook() for m in markets}
    no_tokens = {m.no_token for m in markets}
    t0 = time.perf_counter()
    for raw in frames:
        msg = json.loads(raw)
        book = books[msg["market"]]
        for ch in msg["price_changes"]:
            price = float(ch["price"])
            is_bid = ch["side"] == "BUY"
            if ch["asset_id"] in no_tokens:
                price, is_bid = round(1 - price, 4), not is_bid
            if is_bid:
                book.set(book.bids, price, float(ch["size"]), True)
            else:
                book.set(book.asks, price, float(ch["size"]), False)
    return time.perf_counter() - t0


def run_polymm(frames: list[bytes], markets: list[Market]) -> tuple[float, BookSet]:
    books = BookSet(markets)
    t0 = time.perf_counter()
    for raw in frames:
        events, _errors = parse_frame(raw)
        books.apply(events)
    return time.perf_counter() - t0, books


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200_000)
    ap.add_argument("--markets", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs for each side")
    args = ap.parse_args(argv)

    markets = make_markets(args.markets)
    frames, levels = make_frames(markets, args.frames, args.seed)
    gc.collect()
    ours = min(run_polymm(frames, markets)[0] for _ in range(args.repeat))
    base = min(run_baseline(frames, markets) for _ in range(args.repeat))

    n = len(frames)
    result = {
        "bench": "book",
        "frames": n,
        "level_updates": levels,
        "frames_per_s": round(n / ours),
        "level_updates_per_s": round(levels / ours),
        "us_per_frame": round(ours / n * 1e6, 3),
        "baseline_frames_per_s": round(n / base),
        "baseline_level_updates_per_s": round(levels / base),
        "baseline_ratio": round(base / ours, 2),
    }
    print(f"python {sys.version.split()[0]}  frames={n}  level updates={levels}  markets={args.markets}")
    print(f"{'':10} {'frames/s':>12} {'levels/s':>12} {'us/frame':>10}")
    print(f"{'polymm':10} {result['frames_per_s']:>12,} {result['level_updates_per_s']:>12,} "
          f"{result['us_per_frame']:>10}")
    print(f"{'baseline':10} {result['baseline_frames_per_s']:>12,} "
          f"{result['baseline_level_updates_per_s']:>12,} {round(base / n * 1e6, 3):>10}")
    print(f"speed-up over baseline: {result['baseline_ratio']}x")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
