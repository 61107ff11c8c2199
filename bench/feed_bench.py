"""Feed benchmark: the stand-in pushes a market-channel stream over loopback to MarketFeed.

The stand-in runs in its own process (``polymm exchange``). The feed subscribes to every market
and takes its initial dump; then ``POST /_admin/blast`` makes the stand-in push N generated
``price_change`` frames through its real market channel as fast as the socket takes them. Reported:
sustained frames/s (first blasted frame to last, as applied by the feed), and the feed's own
receive → applied latency (p50 / p99) over every blasted frame. A baseline from the same run: the
same frames through ``json.loads`` + the naive re-sorting book of ``book_bench`` (CPU only, no
socket), so the ratio says how much of the budget the real feed leaves for the rest of the engine.

Last line: ``{"bench": "feed", "frames_per_s": …, "apply_p50_ms": …, "apply_p99_ms": …}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections import deque

import httpx
from standin_process import start_exchange


async def run(urls: dict[str, str], frames: int, seed: int) -> dict[str, float]:
    from polymm.engine.feed import FeedConfig, MarketFeed
    from polymm.venue.rest import PublicClient

    public = PublicClient(urls["clob"], urls["gamma"])
    markets = await public.list_markets(limit=500)
    await public.aclose()
    cfg = FeedConfig(freeze_after_s=3600, hash_check_s=3600)  # no REST checks during the blast
    feed = MarketFeed(urls["ws"], markets, lambda c: None, config=cfg)
    for s in feed.shards:
        s.applied_us = deque(maxlen=frames + 10_000)
    task = asyncio.create_task(feed.run())
    deadline = time.monotonic() + 20
    while len(feed.snapshotted) < len(markets):
        if time.monotonic() > deadline:
            raise RuntimeError("no initial dump")
        await asyncio.sleep(0.05)
    httpx.post(f"{urls['clob']}/_admin/flow", json={"paused": True}, timeout=5)
    await asyncio.sleep(0.3)
    for s in feed.shards:
        s.applied_us.clear()
    start_frames = feed.frames
    r = httpx.post(f"{urls['clob']}/_admin/blast", json={"frames": frames, "seed": seed}, timeout=60)
    r.raise_for_status()
    while feed.frames == start_frames:
        await asyncio.sleep(0.0005)
    t0 = time.perf_counter()
    first = feed.frames
    deadline = time.monotonic() + 120
    while feed.frames < start_frames + frames:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.002)
    elapsed = time.perf_counter() - t0
    got = feed.frames - first
    applied = sorted(x for s in feed.shards for x in s.applied_us)
    feed.stop()
    task.cancel()
    return {
        "frames": feed.frames - start_frames,
        "frames_per_s": got / elapsed,
        "apply_p50_ms": statistics.median(applied) / 1000,
        "apply_p99_ms": applied[int(len(applied) * 0.99)] / 1000,
        "apply_max_ms": applied[-1] / 1000,
        "errors": feed.errors.total,
    }


def baseline(markets_n: int, frames_n: int, seed: int) -> float:
    """Frames/s of stdlib json + the naive re-sorting book on the same kind of stream (CPU only)."""
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from book_bench import make_markets, run_baseline

    from polymm_standin.sim.blast import price_change_stream

    markets = make_markets(markets_n)
    frames, _ = price_change_stream(markets, frames_n, seed)
    return frames_n / run_baseline(frames, markets)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200_000)
    ap.add_argument("--markets", type=int, default=20, help="stand-alone markets (plus a 3-market neg-risk group)")
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args(argv)
    proc, urls = start_exchange("--seed", str(args.seed), "--markets", str(args.markets), "--flow-rate", "0.1")
    try:
        res = asyncio.run(run(urls, args.frames, args.seed))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    base = baseline(args.markets + 3, min(args.frames, 100_000), args.seed)
    print(f"python {sys.version.split()[0]}; stand-in in its own process; {args.markets + 3} markets; "
          f"{res['frames']:,} frames received, {res['errors']} errors")
    print(f"sustained   {res['frames_per_s']:>10,.0f} frames/s over a real WebSocket (parse + apply included)")
    print(f"applied     p50 {res['apply_p50_ms']:.3f} ms   p99 {res['apply_p99_ms']:.3f} ms   "
          f"max {res['apply_max_ms']:.3f} ms   (receive → applied)")
    print(f"baseline    {base:>10,.0f} frames/s (stdlib json + re-sorting book, CPU only, no socket); "
          f"ratio {res['frames_per_s'] / base:.2f}x")
    print(json.dumps({
        "bench": "feed",
        "frames_per_s": round(res["frames_per_s"]),
        "apply_p50_ms": round(res["apply_p50_ms"], 4),
        "apply_p99_ms": round(res["apply_p99_ms"], 4),
        "baseline_frames_per_s": round(base),
        "baseline_ratio": round(res["frames_per_s"] / base, 2),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
