"""Scale benchmark: hundreds of markets in one process, against the stand-in in its own process.

For each market count — the baseline (20) first, then the target (300), in the same run — the stand-in
runs as ``polymm exchange --markets N-3 --frames-per-s F`` (N−3 stand-alone markets and its 3-market
neg-risk event; a few hot markets and a long quiet tail; F market frames/s in total — 3,000 at 300
markets and the same per market at the baseline, 200; the demo wallet's pUSD scaled with N; the venue's
per-signer rate limits on). Two phases:

1. **Dashboard** (headless, as ``tui_bench``): ``PolymmApp`` in demo mode with the real order path
   (LiveExecution over py-clob-client-v2), every market traded. Once every market is quoting (its
   state ``quoting`` with orders resting), a streaming window measures the frames/s the app's feed
   applied, tick-to-trade (a frame's receipt to the orders it led to leaving for the venue:
   ``LiveExecution.tick_to_trade``), the dashboard's refresh intervals (``app.refresh_times``), the
   event loop's lag, and the venue's 429s (the stand-in's rate-limit refusals: ``GET /_admin/stats``,
   ``rate_limit.http_429``). Then kill cycles: ``ctrl+k``, and a thread polling the venue (``GET
   /data/orders`` with the demo wallet's own client) back to back until it holds zero orders of ours:
   kill latency = keypress → that answer.
2. **Memory** (headless ``polymm run`` in its own process, metrics on): after a warm-up, the RSS of the
   bot and of the stand-in while the bot applies ``--rss-frames`` frames (1,000,000 by default); and
   tick-to-trade without the dashboard in the process, from its ``polymm_tick_to_trade_seconds``
   histogram over the phase. The warm-up at the target count is ``--rss-warmup-s`` and then
   ``--rss-warmup-frames`` frames (1,000,000: ~4.5 min at 300 markets), its own growth reported too:
   the windows bounded by time or count (tapes, trade and fill windows, ledger legs, closed orders) fill
   over those minutes — measured at 300 markets, +30 to +40 MB over the first million frames, +10 to
   +15 MB over the second, the RSS then flattening. The baseline's (its frames come 15× slower) is
   ``--rss-warmup-s`` only.

Settings scaled with N (what a 300-market operator sets): ``max_markets`` N; per market $50 of
capital and exposure and 100 shares of position, so the totals are N × those; the daily loss limit
relaxed (the synthetic informed trader would trip it; that is not what this measures); the
selection's price filter open (0–1: the stand-in's prices walk between 0.03 and 0.97, and the default
0.10–0.90 dropped a market that had drifted out by the start — 299 of 300 traded, the dashboard phase
timing out waiting for the 300th, about one run in 25). Everything else is the default, the rate limits
included.

Targets at 300 markets: tick-to-trade p99 ≤ 10 ms, zero 429s, RSS growth ≤ 20 MB over 1M frames,
refresh p99 ≤ 100 ms, kill ≤ 250 ms. Last line: ``{"bench": "scale", "markets": 300, ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import httpx
from standin_process import start_exchange
from tui_bench import SIZE, LoopLag, Venue, bench_settings, cpu_seconds, pct, refresh_intervals, until

from polymm.metrics import histogram_quantile

EVENT_MARKETS = 3
# the memory phase reads ``polymm run``'s frame count every this many seconds: a scrape of 300 markets'
# metrics holds the bot's event loop ~2 ms reading the engine (~9 ms while the text was made on the loop
# too; it is the measured process's work, not the bench's), and one every 2 s showed in the tick-to-trade
# tail then; Prometheus' default scrape interval is 15 s
SCRAPE_EVERY_S = 5.0


def scaled(settings, n: int):
    """The settings a ``n``-market operator runs with (module docstring)."""
    from decimal import Decimal

    return settings.model_copy(update={
        "max_markets": n, "total_capital": Decimal(50 * n), "max_total_exposure": Decimal(50 * n),
        "max_correlated_exposure": Decimal(50 * n), "max_total_position": Decimal(100 * n),
        "max_market_exposure": Decimal(50), "daily_loss_limit": Decimal(1_000_000), "journal_path": "off",
        "select_price_min": 0.0, "select_price_max": 1.0,
    })


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def stand_in_stats(admin: httpx.AsyncClient) -> dict:
    r = await admin.get("/_admin/stats")
    r.raise_for_status()
    return r.json()


def venue_429s(stats: dict) -> int:
    """The stand-in's count of the rate-limit refusals (429) it answered."""
    return int(stats["rate_limit"]["http_429"])


@dataclass
class Figures:
    markets: int
    frames_per_s: float = 0.0
    tick_p50_ms: float = float("nan")
    tick_p99_ms: float = float("nan")
    tick_n: int = 0
    turn_p50_ms: float = float("nan")  # a requote put off for the rate limits: its wait for its turn
    turn_p99_ms: float = float("nan")
    turn_n: int = 0
    venue_429s: int = 0
    refresh_p50_ms: float = float("nan")
    refresh_p99_ms: float = float("nan")
    lag_p99_ms: float = float("nan")
    kill_ms: list[float] = field(default_factory=list)
    quoting_s: float = float("nan")
    app_cpu: float = float("nan")
    venue_cpu: float = float("nan")
    deferred: int = 0
    throttled: int = 0
    orders_per_s: float = 0.0
    rss_start_mb: float = float("nan")
    rss_end_mb: float = float("nan")
    rss_frames: int = 0
    rss_seconds: float = 0.0
    venue_rss_start_mb: float = float("nan")
    venue_rss_end_mb: float = float("nan")
    #: RSS growth over the warm-up's frames (``--rss-warmup-frames`` after ``--rss-warmup-s``): the bounded
    #: windows filling (NaN without a frame warm-up)
    rss_warmup_growth_mb: float = float("nan")
    rss_warmup_frames: int = 0
    #: tick-to-trade in the memory phase (``polymm run``, no dashboard in the process), from the
    #: ``polymm_tick_to_trade_seconds`` histogram over the phase (interpolated within its buckets)
    headless_tick_p50_ms: float = float("nan")
    headless_tick_p99_ms: float = float("nan")
    headless_tick_n: int = 0
    headless_within_10ms: float = float("nan")  # the share of posts within 10 ms (exact: a bucket bound)
    notes: list[str] = field(default_factory=list)

    @property
    def rss_growth_mb(self) -> float:
        return self.rss_end_mb - self.rss_start_mb

    @property
    def kill_max_ms(self) -> float:
        return max(self.kill_ms, default=float("nan"))


def all_quoting(app) -> tuple[int, int]:
    """(markets quoting with orders resting, markets traded)."""
    e = app.engine
    n = 0
    for cid in e.markets:
        st = app.store.get(f"market/{cid}")
        if st is not None and st.status == "quoting" and st.orders:
            n += 1
    return n, len(e.markets)


def app_says(app) -> str:
    """What the app showed when a wait failed: the engine's market count, the execution's reason, the last
    log lines (a start-up that did not finish says why there: a retry, a filter that left markets out)."""
    e = app.engine
    st = app.store.get("execution")
    events = app.store.get("events") or ()
    last = "; ".join(f"{x.level}: {x.text}" for x in events[-5:])
    return (f"engine {'not built' if e is None else f'with {len(e.markets)} markets'}; execution: "
            f"{getattr(st, 'reason', None) or 'no reason given'}; last log: {last or 'empty'}")


async def dashboard_phase(n: int, urls: dict[str, str], args, venue_pid: int, fig: Figures) -> None:
    from polymm.tui.app import PolymmApp
    from polymm.tui.widgets import ConfirmScreen

    clob = urls["clob"]
    settings = scaled(bench_settings(clob, urls, n), n)
    app = PolymmApp(settings, mode="DEMO", settle_heap=True)
    lag = LoopLag()
    async with httpx.AsyncClient(base_url=clob, timeout=10) as admin, app.run_test(size=SIZE) as pilot:
        lag.start()
        t0 = time.monotonic()
        try:
            # the engine is the app's once it started: at 300 markets that includes the first position check,
            # 600 token balances read at Cloudflare's 200 per 10 s (~35 s)
            try:
                await until(lambda: app.engine is not None and len(app.engine.markets) >= n, 60 + n / 3, "the engine")
            except RuntimeError as e:
                raise RuntimeError(f"{e} ({app_says(app)})") from None
            engine = app.engine
            await until(lambda: all_quoting(app)[0] >= n, 120 + n,
                        f"every market quoting ({n})", step=0.25)
            fig.quoting_s = time.monotonic() - t0
            await asyncio.sleep(args.warmup_s)
            ex = engine.execution
            stats0 = await stand_in_stats(admin)
            f0, c0, v0 = engine.feed.frames, time.process_time(), cpu_seconds(venue_pid)
            d0, placed0 = engine.deferrals, ex.orders_placed
            a = time.monotonic()
            await asyncio.sleep(args.stream_s)
            b = time.monotonic()
            fig.frames_per_s = (engine.feed.frames - f0) / (b - a)
            fig.app_cpu = (time.process_time() - c0) / (b - a)
            fig.venue_cpu = (cpu_seconds(venue_pid) - v0) / (b - a)
            fig.deferred = engine.deferrals - d0
            fig.orders_per_s = (ex.orders_placed - placed0) / (b - a)
            fig.throttled = ex.limiter.held_recently(b - a + 1)
            ticks = sorted(ms for t, ms in list(ex.tick_to_trade) if a <= t <= b)
            fig.tick_n = len(ticks)
            fig.tick_p50_ms, fig.tick_p99_ms = pct(ticks, .5), pct(ticks, .99)
            turns = sorted(w * 1000 for t, w in list(engine.turn_waits) if a <= t <= b)
            fig.turn_n = len(turns)
            fig.turn_p50_ms, fig.turn_p99_ms = pct(turns, .5), pct(turns, .99)
            r = refresh_intervals(list(app.refresh_times), a, b)
            fig.refresh_p50_ms, fig.refresh_p99_ms = pct(r, .5), pct(r, .99)
            fig.lag_p99_ms = pct(lag.between(a, b), .99)
            quoting, total = all_quoting(app)
            if quoting < total:
                fig.notes.append(f"{quoting} of {total} markets quoting at the end of the window")
            if engine.halted:
                fig.notes.append(f"halted while streaming: {engine.halt_reason}")
                await app.host.call(engine.rearm)

            # kill cycles
            venue = await asyncio.to_thread(Venue, clob)
            for _ in range(args.kills):
                await until(lambda: all_quoting(app)[0] >= n, 60 + n / 4, "every market quoting again", step=0.25)
                started = threading.Event()
                t_key = [0.0]

                def watch(started=started, t_key=t_key, venue=venue) -> float | None:
                    started.set()
                    return venue.until_zero(lambda: t_key[0], 5.0)

                watcher = asyncio.ensure_future(asyncio.to_thread(watch))
                await until(started.is_set, 2, "the venue poller", step=0.001)
                t_key[0] = t_press = time.monotonic()
                await pilot.press("ctrl+k")
                t_zero = await watcher
                if t_zero is None:
                    raise RuntimeError("the venue still holds orders of ours 5 s after ctrl+k")
                fig.kill_ms.append((t_zero - t_press) * 1000)
                await pilot.press("ctrl+r")
                await until(lambda: isinstance(app.screen, ConfirmScreen), 5, "the re-arm question")
                await pilot.press("y")
                await until(lambda: not engine.halted, 5, "re-arm")
            stats1 = await stand_in_stats(admin)
            fig.venue_429s = venue_429s(stats1) - max(venue_429s(stats0), 0)
            if ex.venue_429s:
                fig.notes.append(f"the order path saw {ex.venue_429s} 429s")
        finally:
            lag.stop()
            if app.engine is not None:
                try:
                    await asyncio.wait_for(app.host.call(app.engine.stop, cancel_orders=True), 20)
                except Exception as e:
                    fig.notes.append(f"engine stop: {type(e).__name__}: {e}")


def metric(text: str, name: str) -> float:
    total, seen = 0.0, False
    for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, re.M):
        total += float(m.group(1))
        seen = True
    return total if seen else float("nan")


def histogram(text: str, name: str) -> list[tuple[float, float]]:
    """A Prometheus histogram's cumulative buckets: [(upper bound, count)], +Inf last."""
    out = []
    for m in re.finditer(rf'^{name}_bucket{{le="([^"]+)"}} ([0-9.e+-]+)$', text, re.M):
        out.append((float(m.group(1)), float(m.group(2))))
    return sorted(out)


def count_frames(p: subprocess.Popen, scrape, target: int, limit_s: float) -> float:
    """Wait until ``polymm run`` (``p``, its metrics read by ``scrape``) applied ``target`` more frames, or
    ``limit_s`` passed; the frames it applied meanwhile."""
    name = "polymm_feed_frames_total"
    f0 = metric(scrape(), name)
    a = time.monotonic()
    frames = 0.0
    while frames < target and time.monotonic() - a <= limit_s:
        time.sleep(SCRAPE_EVERY_S)
        if p.poll() is not None:
            raise RuntimeError(f"polymm run exited with {p.returncode}")
        now_frames = metric(scrape(), name) - f0
        frames = now_frames if now_frames == now_frames else frames  # a scrape the busy bot did not answer
    return frames


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_phase(n: int, urls: dict[str, str], args, venue_pid: int, fig: Figures) -> None:
    """``polymm run`` (headless, its own process) until it applied ``--rss-frames`` after the warm-up."""
    port = free_port()
    env = {**os.environ, "POLYMM_MAX_MARKETS": str(n), "POLYMM_TOTAL_CAPITAL": str(50 * n),
           "POLYMM_MAX_TOTAL_EXPOSURE": str(50 * n), "POLYMM_MAX_CORRELATED_EXPOSURE": str(50 * n),
           "POLYMM_MAX_TOTAL_POSITION": str(100 * n), "POLYMM_MAX_MARKET_EXPOSURE": "50",
           "POLYMM_DAILY_LOSS_LIMIT": "1000000", "POLYMM_JOURNAL_PATH": "off", "POLYMM_LOG_LEVEL": "WARNING",
           "POLYMM_SELECT_PRICE_MIN": "0", "POLYMM_SELECT_PRICE_MAX": "1"}
    cmd = [sys.executable, "-m", "polymm.cli", "run", "--demo", "--clob-url", urls["clob"], "--ws-url",
           urls["ws_base"], "--gamma-url", urls["gamma"], "--metrics-port", str(port)]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        def scrape() -> str:
            try:
                return httpx.get(url, timeout=5).text
            except httpx.HTTPError:
                return ""

        deadline = time.monotonic() + 120 + n
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise RuntimeError(f"polymm run exited with {p.returncode}")
            text = scrape()
            if metric(text, "polymm_open_orders") >= n:  # about one order per market at least
                break
            time.sleep(1.0)
        else:
            fig.notes.append(f"polymm run had {metric(scrape(), 'polymm_open_orders'):.0f} orders resting "
                             f"{120 + n} s after start (fewer than one a market)")
        t_warm = time.monotonic()
        while time.monotonic() - t_warm < args.rss_warmup_s:
            time.sleep(1.0)
        if n == args.markets and args.rss_warmup_frames > 0:
            # the windows bounded by time or count (tapes, trade and fill windows, ledger legs, the order
            # tracker's closed orders) fill over the first minutes: the growth is measured once they have
            r0 = rss_mb(p.pid)
            w = count_frames(p, scrape, args.rss_warmup_frames, args.rss_max_s - (time.monotonic() - t_warm))
            fig.rss_warmup_growth_mb, fig.rss_warmup_frames = rss_mb(p.pid) - r0, int(w)
        h0 = dict(histogram(scrape(), "polymm_tick_to_trade_seconds"))
        fig.rss_start_mb, fig.venue_rss_start_mb = rss_mb(p.pid), rss_mb(venue_pid)
        a = time.monotonic()
        limit = args.rss_max_s if n == args.markets else args.baseline_rss_s
        frames = count_frames(p, scrape, args.rss_frames, limit)
        if frames < args.rss_frames:
            fig.notes.append(f"memory phase stopped at {limit:.0f} s with {frames:,.0f} frames")
        fig.rss_end_mb, fig.venue_rss_end_mb = rss_mb(p.pid), rss_mb(venue_pid)
        fig.rss_frames, fig.rss_seconds = int(frames) if frames == frames else 0, time.monotonic() - a
        last = scrape()
        h = [(bound, count - h0.get(bound, 0.0)) for bound, count in histogram(last, "polymm_tick_to_trade_seconds")]
        if h and h[-1][1] > 0:
            fig.headless_tick_n = int(h[-1][1])
            fig.headless_tick_p50_ms = histogram_quantile(0.5, h) * 1000
            fig.headless_tick_p99_ms = histogram_quantile(0.99, h) * 1000
            fig.headless_within_10ms = dict(h).get(0.01, float("nan")) / h[-1][1]
        rl = metric(last, "polymm_venue_rate_limited_total")
        if rl == rl and rl > 0:
            fig.notes.append(f"polymm run saw {rl:.0f} 429s")
    finally:
        p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def one_count(n: int, frames_per_s: float, args) -> Figures:
    """Both phases at ``n`` markets; a phase that fails is reported as a note, the other still runs."""
    fig = Figures(n)
    proc, urls = start_exchange("--seed", str(args.seed), "--markets", str(n - EVENT_MARKETS),
                                "--frames-per-s", f"{frames_per_s:g}")
    try:
        try:
            asyncio.run(dashboard_phase(n, urls, args, proc.pid, fig))
        except Exception as e:
            fig.notes.append(f"dashboard phase failed: {type(e).__name__}: {e}")
        if args.rss_frames > 0:
            try:
                memory_phase(n, urls, args, proc.pid, fig)
            except Exception as e:
                fig.notes.append(f"memory phase failed: {type(e).__name__}: {e}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return fig


def line(f: Figures) -> str:
    return (f"{f.markets:>4} markets | {f.frames_per_s:>6,.0f} frames/s | tick-to-trade p50 {f.tick_p50_ms:5.2f} "
            f"p99 {f.tick_p99_ms:6.2f} ms (n={f.tick_n}) | 429s {f.venue_429s} | refresh p50 {f.refresh_p50_ms:5.1f} "
            f"p99 {f.refresh_p99_ms:6.1f} ms | loop lag p99 {f.lag_p99_ms:6.1f} ms | kill max {f.kill_max_ms:5.0f} ms "
            f"({', '.join(f'{k:.0f}' for k in f.kill_ms)}) | RSS {f.rss_start_mb:.0f} → {f.rss_end_mb:.0f} MB "
            f"({f.rss_growth_mb:+.1f}) over {f.rss_frames:,} frames in {f.rss_seconds:.0f} s, stand-in "
            f"{f.venue_rss_start_mb:.0f} → {f.venue_rss_end_mb:.0f} MB"
            + (f" (after a warm-up of {f.rss_warmup_frames:,} frames that grew it {f.rss_warmup_growth_mb:+.1f} MB)"
               if f.rss_warmup_frames else ""))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markets", type=int, default=300)
    ap.add_argument("--baseline", type=int, default=20, help="the baseline's market count (0: none)")
    ap.add_argument("--frames-per-s", type=float, default=3_000.0, help="the stand-in's total market frames/s")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--warmup-s", type=float, default=5.0)
    ap.add_argument("--stream-s", type=float, default=30.0)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--rss-frames", type=int, default=1_000_000, help="frames of the memory phase (0: skip it)")
    ap.add_argument("--rss-warmup-s", type=float, default=30.0)
    ap.add_argument("--rss-warmup-frames", type=int, default=1_000_000,
                    help="then (at --markets only) this many frames before RSS is measured: the bounded windows fill")
    ap.add_argument("--rss-max-s", type=float, default=900.0)
    ap.add_argument("--baseline-rss-s", type=float, default=180.0,
                    help="the baseline's memory phase runs this long (its frames come 15× slower)")
    args = ap.parse_args(argv)
    if args.markets <= EVENT_MARKETS:
        ap.error(f"--markets: must be more than {EVENT_MARKETS} (the stand-in's neg-risk event is always there)")
    # the baseline: the same activity per market (so what changes is the number of markets)
    base_fps = args.frames_per_s * args.baseline / args.markets
    runs = ([(args.baseline, base_fps)] if args.baseline > EVENT_MARKETS else []) + [(args.markets, args.frames_per_s)]
    figs = [one_count(n, fps, args) for n, fps in runs]
    print(f"python {sys.version.split()[0]}; {os.cpu_count()} CPUs; stand-in in its own process at "
          f"{args.frames_per_s:,.0f} frames/s in total at {args.markets} markets, {base_fps:,.0f} at {args.baseline} "
          f"(the same per market; seed {args.seed}); dashboard PolymmApp run_test {SIZE[0]}x{SIZE[1]} (demo mode: "
          "the real order path, the stand-in's rate limits on); memory: polymm run")
    for f in figs:
        print(line(f))
        print(f"       quoting everywhere {f.quoting_s:.1f} s after start; app CPU {f.app_cpu:.0%}, stand-in CPU "
              f"{f.venue_cpu:.0%}; orders {f.orders_per_s:.1f}/s; requotes put off for the rate limits "
              f"{f.deferred}, requests held by the limiter {f.throttled}; tick-to-trade over {f.tick_n} posts; "
              f"{f.turn_n} requotes waited their turn for order room, p50 {f.turn_p50_ms:.0f} / p99 "
              f"{f.turn_p99_ms:.0f} ms; without the dashboard (polymm run, the memory phase) tick-to-trade p50 "
              f"{f.headless_tick_p50_ms:.2f} / p99 {f.headless_tick_p99_ms:.2f} ms over {f.headless_tick_n:,} posts, "
              f"{f.headless_within_10ms:.1%} within 10 ms" + "".join(f"; {x}" for x in f.notes))
    main_fig, base = figs[-1], figs[0]
    if len(figs) > 1:
        def ratio(a: float, b: float) -> str:
            return f"{a / b:.2f}×" if b else "n/a"

        print(f"ratio {main_fig.markets}/{base.markets} markets: tick-to-trade p99 "
              f"{ratio(main_fig.tick_p99_ms, base.tick_p99_ms)}, refresh p99 "
              f"{ratio(main_fig.refresh_p99_ms, base.refresh_p99_ms)}, "
              f"kill {ratio(main_fig.kill_max_ms, base.kill_max_ms)}, "
              f"frames/s {ratio(main_fig.frames_per_s, base.frames_per_s)}")
    def num(x: float, nd: int = 1) -> float | None:
        return round(x, nd) if x == x else None  # NaN (a phase that failed) → null

    print(json.dumps({
        "bench": "scale", "markets": main_fig.markets, "frames_per_s": num(main_fig.frames_per_s, 0),
        "tick_to_trade_p50_ms": num(main_fig.tick_p50_ms, 2), "tick_to_trade_p99_ms": num(main_fig.tick_p99_ms, 2),
        "venue_429s": main_fig.venue_429s, "rss_growth_mb": num(main_fig.rss_growth_mb),
        "rss_warmup_growth_mb": num(main_fig.rss_warmup_growth_mb),
        "tui_refresh_p99_ms": num(main_fig.refresh_p99_ms), "kill_ms": num(main_fig.kill_max_ms, 0),
        "tick_to_trade_posts": main_fig.tick_n, "turn_wait_p50_ms": num(main_fig.turn_p50_ms, 0),
        "turn_wait_p99_ms": num(main_fig.turn_p99_ms, 0),
        "headless_tick_to_trade_p50_ms": num(main_fig.headless_tick_p50_ms, 2),
        "headless_tick_to_trade_p99_ms": num(main_fig.headless_tick_p99_ms, 2),
        "headless_tick_to_trade_within_10ms": num(main_fig.headless_within_10ms, 4),
        "baseline": {"markets": base.markets, "tick_to_trade_p99_ms": num(base.tick_p99_ms, 2),
                     "headless_tick_to_trade_p99_ms": num(base.headless_tick_p99_ms, 2),
                     "tui_refresh_p99_ms": num(base.refresh_p99_ms), "kill_ms": num(base.kill_max_ms, 0),
                     "rss_growth_mb": num(base.rss_growth_mb), "venue_429s": base.venue_429s},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
