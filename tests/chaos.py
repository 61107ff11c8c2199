"""The fault-and-crash scenario of issue 11, judged from the venue's side (shared by
``tests/test_chaos.py`` and ``bench/chaos_bench.py``).

Three kinds of process, none sharing a GIL with another:

* **the venue**: this file run as ``python tests/chaos.py venue --seed S`` — the stand-in
  (``run_exchange``) in a child process, with a recorder that keeps what the REST API cannot give
  back afterwards: when each order of ours stopped resting, the venue's answers to our placements
  (``Duplicated`` included), our live-order count every 0.25 s. It takes one-line commands on stdin
  (``live``, ``pending``, ``dump PATH``) and answers one JSON line each;
* **polymm**: ``polymm run --demo --clob-url <venue> --market-file <file>`` with its journal, limits
  from ``POLYMM_*`` (size 5, position limit 15, total 60), ``XDG_STATE_HOME`` in the work directory,
  restarted on the same journal after every ``kill -9`` and SIGTERM;
* **the harness** (the caller): plays a seeded schedule (``make_schedule``: every choice from
  ``random.Random(seed)``) of every ``/_admin/`` fault, the kills, the SIGTERM, a market appended to
  the market file, a new listing (appended too) and a resolution; then ends the run (faults cleared,
  heartbeat cancels off so a leftover order stays visible, flow paused once every trade of ours is
  final, SIGTERM) and judges (``judge``).

The verdict, judged from the venue (REST as the demo wallet, and the venue process's own records):

(a) ``orphans``: orders of ours resting after the final SIGTERM returned (REST ``/data/orders``); also
    after the mid-run SIGTERM (``orphans_after_sigterm``).
(b) ``duplicates``: pairs of our orders for the same quote — market, side, price and size in YES terms
    (a BUY NO at 1 − p is the YES ask at p) — that rested at the same time (the venue's record of when
    each was accepted and when it stopped resting). The venue refuses a re-sent signed order as
    ``Duplicated`` (an order id is the signed order's hash), so a duplicate can only be a second,
    differently signed order for a quote that already rests — e.g. a retry that re-signs, or a restart
    that quotes before the dead process's orders are cancelled. ``Duplicated`` answers (a resend after a
    lost answer: harmless) are counted apart, and so are ``same_side_overlaps`` (any two orders of ours
    on one side of a market resting at once, whatever their prices: information, with one layer) and
    ``refill_overlaps`` (the earlier order had partly filled before the later one was placed: a top-up
    of a quote whose remainder was still being cancelled, not the same order twice).
(c) ``fill_mismatches``: every (trade id, order id) leg of ours in the venue's trade history (REST
    ``/data/trades``) must be one row of the journal's ``fills`` with the same token and signed size; a
    FAILED leg must have its reversal row ``<trade id>:failed`` (or, never booked, neither row:
    ``failed_never_booked``); a journal row that is no venue leg, or a reversal of a leg the venue did
    not fail, is a mismatch too. ``reconcile:`` rows (position adjustments) are counted apart, and so
    are legs whose last status in the journal is not the venue's (``leg_status_differs``).
(d) ``position_breaches``: our position walked through the venue's trades of ours in match order (a
    FAILED trade applied at its match and undone when it failed; a resolution redeems the market to
    zero) against the per-market limit and the total (Σ|position|): each excursion past a limit is one
    breach; ``worst_excess`` is the largest overshoot in shares.
(e) ``position_mismatches``: markets where the journal's position (Σ of its fills, YES terms) differs
    from the venue's token balances YES − NO (REST ``/balance-allowance``).

Plus ``tracebacks`` in polymm's stderr, halts (``KILL:`` lines), start-up failures and exits nobody
asked for.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

D = Decimal
ZERO = D(0)
MICRO = D(1_000_000)
HERE = Path(__file__).resolve()

#: Limits the scenario runs polymm with (and judges the position path against).
SIZE, POSITION_LIMIT, TOTAL_LIMIT = D(5), D(15), D(60)
#: py-clob-client-v2's HTTP timeout is httpx's default, 5 s: the latency fault goes past it.
CLIENT_TIMEOUT_S = 5.0
#: Every fault kind of ``/_admin/`` the schedule injects (each at least once).
FAULT_KINDS = (
    "drop_market_ws", "drop_user_ws", "drop_all_ws", "freeze", "latency",
    "http_425", "http_429", "http_500", "http_503", "ghost_fills", "tick_size",
    "heartbeats_lost", "heartbeat_reply_without_id", "new_listing", "resolve",
)
#: Faults with an end (switched off after ``duration``).
_TIMED = {"freeze", "latency", "heartbeats_lost", "heartbeat_reply_without_id"}
#: Request paths an error burst is aimed at (each a prefix of routes polymm uses).
BURST_PATHS = ("/", "/order", "/data/", "/cancel", "/balance-allowance", "/v1/heartbeats", "/books", "/auth/")


# ====================================================================================== schedule
@dataclass(frozen=True)
class Event:
    t: float  # seconds after the schedule started
    kind: str  # a FAULT_KINDS entry, "<kind>:off", "kill9", "sigterm", "add_market", "file_listing"
    args: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.args.items())
        return f"t={self.t:6.1f} {self.kind} {extra}".rstrip()


@dataclass(frozen=True)
class ScenarioConfig:
    seed: int = 1
    seconds: float = 30.0  # length of the schedule (trading under faults)
    kills: int = 2  # kill -9, each followed by a restart on the same journal
    sigterms: int = 1  # SIGTERM mid-run (the process cancels and exits), then a restart
    rounds: int = 1  # occurrences of each fault kind
    kinds: tuple[str, ...] = FAULT_KINDS
    initial_markets: int = 3  # in the market file at the start (one neg-risk among them)
    added_markets: int = 1  # catalog markets appended to the market file mid-run
    flow_rate: float = 6.0  # the stand-in's synthetic steps per second per market
    line_params: str = ""  # parameters on every market-file line, e.g. "spread=0.02" (more fills)
    burst_paths: tuple[str, ...] = BURST_PATHS  # where error bursts are aimed
    #: time-scaled fault durations: (min, max) seconds for freeze / latency / lost heartbeats
    freeze_s: tuple[float, float] = (4.0, 13.0)
    latency_s: tuple[float, float] = (3.0, 7.0)
    heartbeat_s: tuple[float, float] = (8.0, 20.0)
    down_s: tuple[float, float] = (0.3, 2.5)  # how long polymm stays dead before the restart
    rest_wait_s: float = 10.0  # a kill waits this long (at most) for our orders to rest first
    stop_timeout_s: float = 45.0  # SIGTERM → exit


def make_schedule(cfg: ScenarioConfig) -> list[Event]:
    """The seeded schedule: ``cfg.rounds`` of every fault kind (timed ones switched off again), the
    process events spread over the run, a catalog market and the new listing appended to the market
    file. Same config, same schedule."""
    rng = random.Random(cfg.seed)
    T = cfg.seconds
    ev: list[Event] = []
    lo, hi = 0.04 * T, 0.88 * T
    for kind in cfg.kinds:
        seg = (hi - lo) / cfg.rounds
        for r in range(cfg.rounds):
            a = lo + r * seg
            if kind == "resolve":  # late in its segment: the market has traded first
                t = a + rng.uniform(0.45, 0.9) * seg
            elif kind == "new_listing":
                t = a + rng.uniform(0.1, 0.5) * seg
            else:
                t = a + rng.uniform(0.0, 0.75) * seg
            args: dict[str, Any] = {}
            if kind in _TIMED:
                span = {"freeze": cfg.freeze_s, "latency": cfg.latency_s}.get(kind, cfg.heartbeat_s)
                dur = min(rng.uniform(*span), max(1.0, a + seg - t))
                args["duration"] = round(dur, 2)
                if kind == "latency":
                    args["latency_s"] = round(rng.uniform(CLIENT_TIMEOUT_S + 0.5, CLIENT_TIMEOUT_S + 2.0), 2)
                ev.append(Event(round(t + dur, 2), f"{kind}:off"))
            elif kind.startswith("http_"):
                path = rng.choice(cfg.burst_paths)
                # heartbeats go every 5 s and polymm halts (by design) when they fail for 15 s: a burst
                # aimed at them stays shorter than that, so the run goes on being about positions
                count = rng.randint(2, 6) if path != "/v1/heartbeats" else 1
                args = {"status": int(kind[5:]), "count": count, "path_prefix": path,
                        "retry_after_s": rng.choice((0.2, 0.5, 1.0))}
            elif kind == "ghost_fills":
                args["n"] = rng.randint(1, 3)
            elif kind in ("tick_size", "resolve"):
                args["pick"] = rng.random()  # which eligible market, resolved when it fires
                if kind == "resolve":
                    args["winner"] = rng.choice(("Yes", "No"))
            elif kind == "new_listing":
                args["file_after"] = round(rng.uniform(0.5, 2.5), 2)
            ev.append(Event(round(t, 2), kind, args))
    # the process events: evenly spaced slots with jitter, SIGTERMs in seeded slots
    n = cfg.kills + cfg.sigterms
    slots = [0.12 * T + (i + rng.uniform(0.2, 0.8)) * (0.8 * T / max(n, 1)) for i in range(n)]
    terms = set(rng.sample(range(n), cfg.sigterms)) if n else set()
    for i, t in enumerate(slots):
        down = round(rng.uniform(*cfg.down_s), 2)
        ev.append(Event(round(t, 2), "sigterm" if i in terms else "kill9", {"down": down}))
    for k in range(cfg.added_markets):
        ev.append(Event(round(rng.uniform(0.2, 0.6) * T, 2), "add_market", {"pick": rng.random(), "n": k}))
    return sorted(ev, key=lambda e: (e.t, e.kind))


# ====================================================================================== the venue
def demo_address() -> str:
    from eth_account import Account

    from polymm.engine.execution_factory import DEMO_PRIVATE_KEY

    return Account.from_key(DEMO_PRIVATE_KEY).address


class _Recorder:
    """Inside the venue process: what the REST API cannot give back afterwards (see the module doc)."""

    def __init__(self, standin: Any, address: str) -> None:
        from polymm_standin.server import http

        self.s = standin
        self.addr = address.lower()
        trading = standin.trading
        self.ended: dict[str, int] = {}
        self.answers: Counter[str] = Counter()
        self.samples: list[tuple[int, int]] = []
        forget, place = trading._forget_live, trading.place

        def _forget_live(rec: Any) -> None:
            if rec.address.lower() == self.addr:
                self.ended.setdefault(rec.id, trading._clock())
            forget(rec)

        def _place(api_key: Any, body: object) -> dict[str, Any]:
            mine = api_key.address.lower() == self.addr
            try:
                out = place(api_key, body)
            except http.ApiError as exc:
                if mine:
                    self.answers[_answer_kind(exc.message)] += 1
                raise
            if mine:
                self.answers["accepted"] += 1
            return out

        trading._forget_live = _forget_live
        trading.place = _place

    def live(self) -> int:
        return len(self.s.trading.live_orders(self.addr))

    def pending(self) -> int:
        from polymm_standin.server.trading import TERMINAL_STATUSES

        return sum(1 for t in self.s.trading.trades_of(self.addr) if t.status not in TERMINAL_STATUSES)

    async def sample(self) -> None:
        while True:
            self.samples.append((self.s.trading._clock(), self.live()))
            await asyncio.sleep(0.25)  # the sampling period of a measurement, not a wait

    def dump(self) -> dict[str, Any]:
        s, t = self.s, self.s.trading
        markets = []
        for p in s.catalog.profiles:
            m = p.market
            st = s.catalog.status[m.condition_id]
            book = s.matching.market_book(m.condition_id)
            markets.append({"cid": m.condition_id, "yes": m.yes_token, "no": m.no_token, "neg_risk": m.neg_risk,
                            "tick": (book.market.tick if book else m.tick).text, "closed": st.closed,
                            "closed_ms": st.closed_ms, "question": m.question})
        orders = [{"id": r.id, "cid": r.market.condition_id, "token": r.token_id, "side": r.side.value,
                   "price": r.price, "original": r.original, "matched": r.matched, "status": r.status,
                   "created_ms": r.created_ms, "ended_ms": self.ended.get(r.id)}
                  for r in t.orders.values() if r.address.lower() == self.addr]
        trades = []
        for r in t.trades_of(self.addr):
            legs = [{"order_id": m.order_id, "token": m.asset_id, "side": m.side.value, "size": m.size,
                     "role": "MAKER"} for m in r.maker_orders if m.address and m.address.lower() == self.addr]
            if r.taker_address and r.taker_address.lower() == self.addr:
                legs.insert(0, {"order_id": r.taker_order_id, "token": r.asset_id, "side": r.side.value,
                                "size": r.size, "role": "TAKER"})
            trades.append({"id": r.id, "cid": r.market.condition_id, "status": r.status, "match_ms": r.match_ms,
                           "last_update_ms": r.last_update_ms, "ghost": r.ghost, "legs": legs})
        tokens = [tok for m in markets for tok in (m["yes"], m["no"])]
        return {
            "now_ms": t._clock(), "address": self.addr, "markets": markets, "orders": orders, "trades": trades,
            "balances": {tok: s.accounts.shares_micro(self.addr, tok) for tok in tokens},
            "answers": dict(self.answers), "heartbeat_cancels": t.heartbeat_cancels,
            "resolutions": [{"cid": r.condition_id, "winner": r.winner.value, "ms": r.timestamp_ms}
                            for r in s.controls.resolutions],
            "tick_changes": [{"cid": c.condition_id, "old": c.old.text, "new": c.new.text, "ms": c.timestamp_ms,
                              "reason": c.reason} for c in s.controls.tick_changes],
            "samples": self.samples,
        }


def _answer_kind(message: str) -> str:
    m = message.lower()
    for key, kind in (("duplicated", "Duplicated"), ("crosses book", "post-only crosses"),
                      ("balance", "not enough balance"), ("tick", "tick size"), ("closed", "market closed"),
                      ("resolved", "market closed"), ("minimum", "under minimum size")):
        if key in m:
            return kind
    return "other: " + message[:60]


async def _venue_main(seed: int, flow_rate: float, markets: int) -> None:
    from polymm_standin.server import TradingConfig, run_exchange

    # a resolution redeems every holder at once (the position path below counts on it): the real venue
    # leaves that to the holders (docs/protocol.md §15), the stand-in does it when asked
    redeeming = TradingConfig(auto_redeem=True)
    async with run_exchange(port=0, seed=seed, market_count=markets, flow_rate=flow_rate, trading=redeeming) as ex:
        rec = _Recorder(ex.standin, demo_address())
        sampler = asyncio.create_task(rec.sample())
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def read() -> None:
            for line in sys.stdin:
                loop.call_soon_threadsafe(queue.put_nowait, line.strip())
            loop.call_soon_threadsafe(queue.put_nowait, None)

        threading.Thread(target=read, daemon=True).start()
        print(json.dumps({"clob": ex.clob_url, "ws": ex.ws_base, "gamma": ex.gamma_url, "data": ex.data_url}),
              flush=True)
        while (cmd := await queue.get()) is not None:
            if cmd == "live":
                reply: dict[str, Any] = {"live": rec.live()}
            elif cmd == "pending":
                reply = {"pending": rec.pending()}
            elif cmd.startswith("dump "):
                Path(cmd[5:]).write_text(json.dumps(rec.dump()))
                reply = {"ok": True}
            elif cmd == "quit":
                break
            else:
                reply = {"error": f"unknown command {cmd!r}"}
            print(json.dumps(reply), flush=True)
        sampler.cancel()


class Venue:
    """The venue child process (harness side): URLs, admin routes, the recorder's commands."""

    def __init__(self, seed: int, flow_rate: float, workdir: Path, markets: int = 6) -> None:
        self.log = open(workdir / "venue.err", "w")  # noqa: SIM115 (closed in stop)
        self.p = subprocess.Popen(
            [sys.executable, str(HERE), "venue", "--seed", str(seed), "--flow-rate", str(flow_rate),
             "--markets", str(markets)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1)
        self._replies: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            line = self._replies.get(timeout=60)
        except queue.Empty:
            line = ""
        if not line:
            self.p.kill()
            raise RuntimeError(f"the venue did not start (see {workdir / 'venue.err'})")
        self.urls: dict[str, str] = json.loads(line)
        self.clob = self.urls["clob"]
        self._lock = threading.Lock()

    def _read(self) -> None:
        for line in self.p.stdout:  # type: ignore[union-attr]
            self._replies.put(line)
        self._replies.put("")

    def ask(self, cmd: str, timeout: float = 30.0) -> dict[str, Any]:
        with self._lock:
            self.p.stdin.write(cmd + "\n")  # type: ignore[union-attr]
            self.p.stdin.flush()  # type: ignore[union-attr]
            try:
                line = self._replies.get(timeout=timeout)
            except queue.Empty:
                raise RuntimeError(f"the venue did not answer {cmd!r} within {timeout} s") from None
        if not line:
            raise RuntimeError("the venue process died")
        return json.loads(line)

    def live(self) -> int:
        return int(self.ask("live")["live"])

    def dump(self, path: Path) -> dict[str, Any]:
        self.ask(f"dump {path}")
        return json.loads(path.read_text())

    def admin(self, route: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """``/_admin/<route>``: GET without a body, POST with one (loopback, never delayed by faults)."""
        url = f"{self.clob}/_admin/{route}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return {"error": e.read().decode(errors="replace"), "status": e.code}

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.ask("quit", timeout=5)
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.log.close()


# ====================================================================================== polymm
_READY = "caught up with the venue"
_TRACEBACK = "Traceback (most recent call last)"


class Polymm:
    """``polymm run --demo`` against the venue, restarted on the same journal; its stderr is kept per
    run (``polymm-<n>.err``) and scanned for readiness, tracebacks, halts."""

    def __init__(self, venue: Venue, workdir: Path, market_file: Path, journal: Path) -> None:
        self.venue, self.workdir, self.market_file, self.journal = venue, workdir, market_file, journal
        state = workdir / "state"
        state.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("POLYMM_")}
        env.update({
            "XDG_STATE_HOME": str(state), "POLYMM_JOURNAL_PATH": str(journal),
            "POLYMM_DEFAULT_SIZE": str(SIZE), "POLYMM_DEFAULT_POSITION_LIMIT": str(POSITION_LIMIT),
            "POLYMM_MAX_TOTAL_POSITION": str(TOTAL_LIMIT), "POLYMM_LOG_FORMAT": "text", "PYTHONUNBUFFERED": "1",
        })
        self.env = env
        self.runs = 0
        self.p: subprocess.Popen[str] | None = None
        self.ready = threading.Event()
        self.lines: list[str] = []  # every stderr line of every run, prefixed with the run number
        self.expected_exit = False
        self.unexpected_exits: list[str] = []
        self.start_failures = 0
        self.started_at: list[float] = []
        self.ready_after: list[float] = []

    def start(self) -> None:
        self.runs += 1
        self.ready.clear()
        self.expected_exit = False
        n = self.runs
        self.p = subprocess.Popen(
            [sys.executable, "-m", "polymm.cli", "run", "--demo", "--clob-url", self.venue.clob,
             "--market-file", str(self.market_file)],
            cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, bufsize=1)
        t0 = time.monotonic()
        self.started_at.append(t0)
        threading.Thread(target=self._read, args=(self.p, n, t0), daemon=True).start()

    def _read(self, p: subprocess.Popen[str], n: int, t0: float) -> None:
        with open(self.workdir / f"polymm-{n}.err", "w") as out:
            for line in p.stderr:  # type: ignore[union-attr]
                out.write(line)
                out.flush()
                self.lines.append(f"[{n}] {line.rstrip()}")
                if _READY in line and not self.ready.is_set():
                    self.ready_after.append(time.monotonic() - t0)
                    self.ready.set()

    def alive(self) -> bool:
        return self.p is not None and self.p.poll() is None

    def wait_resting(self, timeout: float) -> bool:
        """Ready, and at least one order of ours rests at the venue (polled, never assumed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready.is_set() and self.venue.live() > 0:
                return True
            if not self.alive():
                return False
            time.sleep(0.1)  # the poll interval of this wait on a condition
        return False

    def kill9(self) -> int:
        assert self.p is not None
        self.expected_exit = True
        self.p.send_signal(signal.SIGKILL)
        return self.p.wait()

    def sigterm(self, timeout: float) -> int | None:
        """SIGTERM and wait for the exit (None: still running after ``timeout``; then killed)."""
        assert self.p is not None
        self.expected_exit = True
        self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return None

    def check_exit(self) -> bool:
        """True when the process ended without being asked to (recorded, with its last lines)."""
        if self.p is None or self.alive() or self.expected_exit:
            return False
        self.expected_exit = True
        tail = [ln for ln in self.lines if ln.startswith(f"[{self.runs}]")][-8:]
        self.unexpected_exits.append(f"run {self.runs} exited {self.p.returncode}: " + " | ".join(tail))
        return True

    def tracebacks(self) -> int:
        return sum(_TRACEBACK in ln for ln in self.lines)


# ====================================================================================== the run
def _say(log: list[str], text: str, echo: bool) -> None:
    line = f"{time.strftime('%H:%M:%S')} {text}"
    log.append(line)
    if echo:
        print(line, file=sys.stderr, flush=True)


@dataclass
class Scenario:
    """One run: the processes, the schedule played, what happened on the way."""

    cfg: ScenarioConfig
    workdir: Path
    echo: bool = False
    log: list[str] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    kills: int = 0
    sigterms: int = 0
    sigterm_codes: list[int | None] = field(default_factory=list)
    orphans_after_sigterm: int = 0
    kills_without_resting: int = 0
    quoted: list[str] = field(default_factory=list)  # condition ids in the market file, in order
    listed: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    ticks: list[str] = field(default_factory=list)
    fault_errors: list[str] = field(default_factory=list)

    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        wd = self.workdir
        wd.mkdir(parents=True, exist_ok=True)
        t_start = time.monotonic()
        venue = Venue(cfg.seed, cfg.flow_rate, wd)
        polymm: Polymm | None = None
        try:
            state = venue.admin("state")
            rng = random.Random(f"{cfg.seed}:markets")
            plain = [m["condition_id"] for m in state["markets"] if not m["neg_risk"]]
            negrisk = [m["condition_id"] for m in state["markets"] if m["neg_risk"]]
            rng.shuffle(plain)
            self.quoted = plain[: cfg.initial_markets - 1] + negrisk[:1]
            self._spare = plain[cfg.initial_markets - 1:] + negrisk[1:]
            self._initial = list(self.quoted)
            self.market_file = wd / "markets.txt"
            self.market_file.write_text("# chaos scenario\n" + "".join(self._line(c) for c in self.quoted))
            polymm = Polymm(venue, wd, self.market_file, wd / "journal.sqlite")
            self.polymm, self.venue = polymm, venue
            polymm.start()
            if not polymm.wait_resting(60):
                raise RuntimeError("polymm never quoted: " + " | ".join(polymm.lines[-10:]))
            _say(self.log, f"polymm quoting after {time.monotonic() - t_start:.1f} s", self.echo)
            schedule = make_schedule(cfg)
            (wd / "schedule.txt").write_text("".join(f"{e}\n" for e in schedule))
            t0 = time.monotonic()
            later: list[tuple[float, Event]] = []  # listings appended to the market file a bit after
            for ev in schedule:
                while True:
                    due = [x for x in later if x[0] <= time.monotonic() - t0]
                    for x in due:
                        later.remove(x)
                        self._apply(x[1])
                    self._watch()
                    if time.monotonic() - t0 >= ev.t:
                        break
                    time.sleep(0.05)  # the schedule's clock: each event is due at its time
                later += self._apply(ev)
            for _, ev in later:
                self._apply(ev)
            trading_s = time.monotonic() - t0
            self._end()
            verdict = judge(venue, polymm, wd)
            verdict.update({
                "seed": cfg.seed, "faults": sum(self.faults.values()), "fault_kinds": dict(sorted(self.faults.items())),
                "kills": self.kills, "sigterms": self.sigterms, "restarts": polymm.runs - 1,
                "orphans_after_sigterm": self.orphans_after_sigterm, "sigterm_exit_codes": self.sigterm_codes,
                "kills_without_resting": self.kills_without_resting, "unexpected_exits": len(polymm.unexpected_exits),
                "unexpected_exit_lines": polymm.unexpected_exits, "fault_errors": self.fault_errors,
                "markets_quoted": len(self.quoted), "markets_listed": len(self.listed),
                "markets_resolved": len(self.resolved), "tick_changes": len(self.ticks),
                "ready_after_s": [round(x, 1) for x in polymm.ready_after],
                "trading_seconds": round(trading_s, 1), "wall_seconds": round(time.monotonic() - t_start, 1),
            })
            return verdict
        finally:
            if polymm is not None and polymm.alive():
                with contextlib.suppress(Exception):
                    polymm.kill9()
            venue.stop()
            (wd / "harness.log").write_text("\n".join(self.log) + "\n")

    # ------------------------------------------------------------------ events
    def _watch(self) -> None:
        if self.polymm.check_exit():
            _say(self.log, f"polymm exited unasked: {self.polymm.unexpected_exits[-1]}", self.echo)
            self.polymm.start()

    def _fault(self, kind: str, route: str, body: dict[str, Any]) -> dict[str, Any]:
        out = self.venue.admin(route, body)
        if "error" in out:
            self.fault_errors.append(f"{kind}: {out}")
        else:
            self.faults[kind] += 1
        _say(self.log, f"fault {kind} {body} -> {out}", self.echo)
        return out

    def _eligible(self, *, tick: bool = False) -> list[dict[str, Any]]:
        state = self.venue.admin("state")
        by = {m["condition_id"]: m for m in state["markets"]}
        out = [by[c] for c in self.quoted if c in by and not by[c]["closed"]]
        if tick:
            return out
        # a resolution: an initial plain market (it has traded), never the last one quoting
        return [m for m in out if m["condition_id"] in self._initial and not m["neg_risk"]][: max(len(out) - 1, 0)]

    def _line(self, cid: str) -> str:
        return f"{cid} {self.cfg.line_params}".rstrip() + "\n"

    def _append(self, cid: str, why: str) -> None:
        with open(self.market_file, "a") as f:
            f.write(self._line(cid))
        self.quoted.append(cid)
        _say(self.log, f"market file += {cid[:12]}… ({why})", self.echo)

    def _apply(self, ev: Event) -> list[tuple[float, Event]]:
        k, a = ev.kind, ev.args
        p = self.polymm
        if k.endswith(":off"):
            _say(self.log, f"fault {k}", self.echo)
        if k == "kill9" or k == "sigterm":
            if not p.wait_resting(self.cfg.rest_wait_s):
                self.kills_without_resting += 1
            if k == "kill9":
                rc = p.kill9()
                self.kills += 1
                _say(self.log, f"kill -9 polymm (run {p.runs}) -> {rc}", self.echo)
            else:
                t = time.monotonic()
                rc = p.sigterm(self.cfg.stop_timeout_s)
                self.sigterms += 1
                self.sigterm_codes.append(rc)
                left = self.venue.live()
                self.orphans_after_sigterm += left
                _say(self.log, f"SIGTERM polymm (run {p.runs}) -> exit {rc} after {time.monotonic() - t:.1f} s, "
                     f"{left} orders of ours rest", self.echo)
            time.sleep(a["down"])  # the fault: how long polymm stays down
            p.start()
            return []
        if k == "add_market":
            if self._spare:
                cid = self._spare.pop(int(a["pick"] * len(self._spare)))
                self._append(cid, "catalog market added mid-run")
            return []
        if k == "file_listing":
            self._append(a["cid"], "new listing")
            return []
        if k == "drop_market_ws":
            self._fault(k, "drop-websockets", {"channel": "market"})
        elif k == "drop_user_ws":
            self._fault(k, "drop-websockets", {"channel": "user"})
        elif k == "drop_all_ws":
            self._fault(k, "drop-websockets", {})
        elif k == "freeze":
            self._fault(k, "freeze", {"frozen": True})
        elif k == "freeze:off":
            self.venue.admin("freeze", {"frozen": False})
        elif k == "latency":
            self._fault(k, "faults", {"latency_s": a["latency_s"]})
        elif k == "latency:off":
            self.venue.admin("faults", {"latency_s": 0})
        elif k.startswith("http_"):
            self._fault(k, "http-errors", {x: a[x] for x in ("status", "count", "path_prefix", "retry_after_s")})
        elif k == "ghost_fills":
            self._fault(k, "faults", {"ghost_fills": a["n"]})
        elif k == "heartbeats_lost":
            self._fault(k, "faults", {"heartbeats_honoured": False})
        elif k == "heartbeats_lost:off":
            self.venue.admin("faults", {"heartbeats_honoured": True})
        elif k == "heartbeat_reply_without_id":
            if "heartbeat_reply_without_id" in self.venue.admin("state")["faults"]:
                self._fault(k, "faults", {"heartbeat_reply_without_id": True})
        elif k == "heartbeat_reply_without_id:off":
            if "heartbeat_reply_without_id" in self.venue.admin("state")["faults"]:
                self.venue.admin("faults", {"heartbeat_reply_without_id": False})
        elif k == "tick_size":
            ms = self._eligible(tick=True)
            if ms:
                m = ms[int(a["pick"] * len(ms))]
                new = "0.001" if m["tick_size"] == "0.01" else "0.01"
                if "error" not in self._fault(k, "tick-size", {"market": m["condition_id"], "tick_size": new}):
                    self.ticks.append(m["condition_id"])
        elif k == "resolve":
            ms = self._eligible()
            if ms:
                m = ms[int(a["pick"] * len(ms))]
                if "error" not in self._fault(k, "resolve", {"market": m["condition_id"], "winner": a["winner"]}):
                    self.resolved.append(m["condition_id"])
        elif k == "new_listing":
            out = self._fault(k, "new-market", {})
            if "market" in out:
                self.listed.append(out["market"])
                return [(ev.t + a["file_after"], Event(ev.t + a["file_after"], "file_listing", {"cid": out["market"]}))]
        else:
            raise ValueError(f"unknown event {k}")
        return []

    def _end(self) -> None:
        """Faults off, heartbeat cancels off (a leftover order must stay visible), every trade of ours
        final, flow paused, then the final SIGTERM."""
        v, p = self.venue, self.polymm
        v.admin("clear", {})
        v.admin("faults", {"heartbeats_honoured": False})
        if not p.alive():
            self._watch()
        p.wait_resting(20)
        v.admin("flow", {"paused": True})
        # every trade of ours final at the venue (a ghost trade matched just before the clear fails ~2 s
        # after its match)...
        deadline = time.monotonic() + 15
        while v.ask("pending")["pending"] and time.monotonic() < deadline:
            time.sleep(0.1)  # the poll interval of this wait on a condition
        # ...and each one's last status in polymm's journal: it reached polymm's user channel (bounded:
        # what never arrives, the judge reports)
        client = _client(v.clob)
        deadline = time.monotonic() + 15
        while not _journal_has_last_statuses(client, p.journal) and time.monotonic() < deadline:
            time.sleep(0.1)  # the poll interval of this wait on a condition
        t = time.monotonic()
        rc = p.sigterm(self.cfg.stop_timeout_s)
        self.final_exit = rc
        _say(self.log, f"final SIGTERM -> exit {rc} after {time.monotonic() - t:.1f} s", self.echo)


# ====================================================================================== judging
def _client(clob: str) -> Any:
    from py_clob_client_v2.client import ClobClient

    from polymm.engine.execution_factory import DEMO_PRIVATE_KEY

    client = ClobClient(clob, chain_id=137, key=DEMO_PRIVATE_KEY)
    client.set_api_creds(client.derive_api_key())
    return client


def _yes_delta(token: str, side: str, size: Decimal, yes: str) -> Decimal:
    signed = size if side == "BUY" else -size
    return signed if token == yes else -signed


def judge(venue: Venue, polymm: Polymm, workdir: Path) -> dict[str, Any]:
    """The verdict (module doc): (a) orphans, (b) duplicates, (c) fill legs, (d) the position path,
    (e) positions; read after polymm exited."""
    from py_clob_client_v2.clob_types import AssetType, BalanceAllowanceParams, TradeParams

    dump = venue.dump(workdir / "venue.json")
    markets = {m["cid"]: m for m in dump["markets"]}
    token_of = {tok: (m["cid"], tok == m["no"]) for m in dump["markets"] for tok in (m["yes"], m["no"])}
    client = _client(venue.clob)
    key = client.creds.api_key
    out: dict[str, Any] = {}
    details: dict[str, Any] = {}

    # (a) orphans: as the wallet sees them, and as the venue's books hold them
    open_orders = client.get_open_orders()
    out["orphans"] = len(open_orders)
    out["orphans_venue_records"] = sum(1 for o in dump["orders"] if o["ended_ms"] is None and o["status"] == "LIVE")
    details["orphans"] = [{k: o.get(k) for k in ("id", "market", "side", "price", "original_size")}
                          for o in open_orders]

    # (b) duplicates
    out.update(order_overlaps(dump, details))
    out["orders_placed"] = len(dump["orders"])
    out["venue_answers"] = dump["answers"]
    out["duplicated_answers"] = dump["answers"].get("Duplicated", 0)

    # (c) fill legs: the venue's (REST) against the journal's
    venue_legs: dict[tuple[str, str], dict[str, Any]] = {}
    trades = client.get_trades(TradeParams(after=int(time.time()) - 24 * 3600))
    for t in trades:
        legs = [(mo["order_id"], mo["asset_id"], mo["side"], D(mo["matched_amount"]))
                for mo in t.get("maker_orders") or [] if mo.get("owner") == key]
        if t.get("owner") == key and t.get("trader_side") == "TAKER":
            legs.append((t["taker_order_id"], t["asset_id"], t["side"], D(t["size"])))
        for oid, tok, side, size in legs:
            cid, _ = token_of[tok]
            venue_legs[(t["id"], oid)] = {"cid": cid, "token": tok, "status": t["status"],
                                          "delta": _yes_delta(tok, side, size, markets[cid]["yes"])}
    dump_legs = {(t["id"], leg["order_id"]) for t in dump["trades"] for leg in t["legs"]}
    out["venue_views_disagree"] = len(dump_legs ^ set(venue_legs))
    rows = _journal_rows(polymm.journal)
    out.update(leg_mismatches(venue_legs, rows, details))

    # (d) the strict position path through the venue's trades of ours
    out.update(position_path(dump, details))

    # (e) the journal's position per market against the venue's balances (REST)
    journal_pos: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for r in rows:
        journal_pos[r["cid"]] += r["delta"]
    venue_pos: dict[str, Decimal] = {}
    for cid, m in markets.items():
        bal = {}
        for tok in (m["yes"], m["no"]):
            r = client.get_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=tok))
            bal[tok] = D(r["balance"]) / MICRO
        venue_pos[cid] = bal[m["yes"]] - bal[m["no"]]
        if D(dump["balances"][m["yes"]] - dump["balances"][m["no"]]) / MICRO != venue_pos[cid]:
            out["venue_views_disagree"] += 1
    pos_mismatch = {cid: {"journal": str(journal_pos.get(cid, ZERO)), "venue": str(venue_pos.get(cid, ZERO)),
                          "resolved": markets[cid]["closed"]}
                    for cid in set(journal_pos) | set(venue_pos)
                    if journal_pos.get(cid, ZERO) != venue_pos.get(cid, ZERO)}
    out["position_mismatches"] = len(pos_mismatch)
    details["position_mismatches"] = pos_mismatch
    table = _journal_positions(polymm.journal)
    out["journal_positions_table_disagree"] = sum(1 for cid, q in table.items() if q != journal_pos.get(cid, ZERO))
    details["positions"] = {cid[:12]: str(q) for cid, q in sorted(venue_pos.items()) if q}

    # polymm's own account of the run
    out["tracebacks"] = polymm.tracebacks()
    halts = [ln for ln in polymm.lines if "KILL:" in ln]
    out["halts"] = len(halts)
    out["error_lines"] = sum(1 for ln in polymm.lines if " ERROR " in ln)
    out["start_failures"] = sum(1 for ln in polymm.lines if "could not start" in ln or "could not list" in ln)
    details["halts"] = halts
    out["final_exit"] = polymm.p.returncode if polymm.p is not None else None
    out["heartbeat_cancels"] = dump["heartbeat_cancels"]
    samples = dump["samples"]
    out["seconds_quoting"] = round(sum(0.25 for _, n in samples if n > 0), 1)
    out["seconds_observed"] = round(len(samples) * 0.25, 1)
    (workdir / "details.json").write_text(json.dumps(details, indent=1, default=str))
    out["details"] = details
    return out


def leg_mismatches(venue_legs: dict[tuple[str, str], dict[str, Any]], rows: list[dict[str, Any]],
                   details: dict[str, Any]) -> dict[str, int]:
    """(c): the venue's legs of ours ((trade id, order id) → cid, token, status, signed YES delta) against
    the journal's fill rows (module doc)."""
    res: dict[str, int] = {}
    jl = {(r["trade_id"], r["order_id"]): r for r in rows}
    adjustments = [r for r in rows if r["trade_id"].startswith("reconcile:")]
    reversals = {k: r for k, r in jl.items() if k[0].endswith(":failed")}
    mismatches: list[str] = []
    failed_never_booked = 0
    status_differs: list[str] = []
    for (tid, oid), leg in venue_legs.items():
        row, rev = jl.get((tid, oid)), reversals.get((tid + ":failed", oid))
        if leg["status"] == "FAILED":
            if row is None and rev is None:
                failed_never_booked += 1
            elif row is None or rev is None:
                mismatches.append(f"FAILED leg {tid}/{oid[:10]}: " + ("reversal without the leg" if row is None
                                                                    else "booked, never reversed"))
            elif row["delta"] != leg["delta"] or rev["delta"] != -leg["delta"]:
                mismatches.append(f"FAILED leg {tid}/{oid[:10]}: sizes {row['delta']} / {rev['delta']} vs "
                                  f"{leg['delta']}")
        elif row is None:
            mismatches.append(f"leg {tid}/{oid[:10]} ({leg['status']}, {leg['delta']} in {leg['cid'][:10]}) "
                              "missing from the journal")
        elif row["delta"] != leg["delta"] or row["token"] != leg["token"]:
            mismatches.append(f"leg {tid}/{oid[:10]}: journal {row['delta']} of {row['token'][:8]} vs venue "
                              f"{leg['delta']} of {leg['token'][:8]}")
        elif rev is not None:
            mismatches.append(f"leg {tid}/{oid[:10]} reversed in the journal, {leg['status']} at the venue")
        if row is not None and row["status"] != leg["status"]:
            status_differs.append(f"leg {tid}/{oid[:10]}: journal {row['status']}, venue {leg['status']}")
    for (tid, oid), row in jl.items():
        if tid.startswith("reconcile:"):
            continue
        if tid.endswith(":failed"):
            if (tid.removesuffix(":failed"), oid) not in venue_legs:
                mismatches.append(f"journal reversal {tid}/{oid[:10]} of no venue leg")
            continue
        if (tid, oid) not in venue_legs:
            mismatches.append(f"journal row {tid}/{oid[:10]} ({row['delta']} in {row['cid'][:10]}) is no venue leg")
    res["fills"] = len(venue_legs)
    res["failed_legs"] = sum(1 for leg in venue_legs.values() if leg["status"] == "FAILED")
    res["failed_never_booked"] = failed_never_booked
    res["journal_rows"] = len(rows)
    res["reversals"] = len(reversals)
    res["adjustments"] = len(adjustments)
    res["fill_mismatches"] = len(mismatches)
    details["fill_mismatches"] = mismatches
    res["leg_status_differs"] = len(status_differs)  # the venue's last status not (yet) in the journal
    details["leg_status_differs"] = status_differs
    details["adjustments"] = [f"{r['trade_id']} {r['delta']} in {r['cid'][:10]}" for r in adjustments]
    return res


def order_overlaps(dump: dict[str, Any], details: dict[str, Any]) -> dict[str, int]:
    """(b): the same quote (YES terms: market, side, price, size) resting twice at the same time, from
    the venue's records of our orders (module doc)."""
    yes_of = {m["cid"]: m["yes"] for m in dump["markets"]}
    groups: dict[tuple, list[dict]] = defaultdict(list)
    sides: dict[tuple, list[dict]] = defaultdict(list)
    for o in dump["orders"]:
        is_yes = o["token"] == yes_of[o["cid"]]
        side = o["side"] if is_yes else ("SELL" if o["side"] == "BUY" else "BUY")
        price = o["price"] if is_yes else 10_000 - o["price"]
        o["end"] = o["ended_ms"] if o["ended_ms"] is not None else dump["now_ms"]
        groups[(o["cid"], side, price, o["original"])].append(o)
        sides[(o["cid"], side)].append(o)
    first_fill: dict[str, int] = {}
    for t in dump["trades"]:
        for leg in t["legs"]:
            first_fill.setdefault(leg["order_id"], t["match_ms"])
    dups, refills = [], []
    for key, orders in groups.items():
        for a, b in _overlapping(orders):
            pair = {"a": a["id"], "b": b["id"], "cid": key[0], "yes_side": key[1], "yes_price": key[2],
                    "size": key[3] / 1e6, "a_created_ms": a["created_ms"], "a_ended_ms": a["ended_ms"],
                    "b_created_ms": b["created_ms"], "tokens": "same" if a["token"] == b["token"] else "YES and NO"}
            # the earlier one partly filled before the later was placed: a top-up, not the same order twice
            (refills if first_fill.get(a["id"], b["created_ms"]) < b["created_ms"] else dups).append(pair)
    same_side = sum(1 for orders in sides.values() for _ in _overlapping(orders))
    details["duplicates"] = dups
    details["refill_overlaps"] = refills
    # refill_overlaps: a partly filled order still resting when its top-up was placed;
    # same_side_overlaps: any two of ours on one side of a market resting at once
    return {"duplicates": len(dups), "refill_overlaps": len(refills), "same_side_overlaps": same_side}


def _overlapping(orders: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Pairs (earlier, later) whose resting intervals [created, end) overlap."""
    orders = sorted(orders, key=lambda o: o["created_ms"])
    pairs = []
    for i, a in enumerate(orders):
        for b in orders[i + 1:]:
            if b["created_ms"] >= a["end"]:
                break
            pairs.append((a, b))
    return pairs


def position_path(dump: dict[str, Any], details: dict[str, Any], limit: Decimal = POSITION_LIMIT,
                  total_limit: Decimal = TOTAL_LIMIT) -> dict[str, Any]:
    """Walk our position through the venue's trades of ours in match order: each leg at its match, a
    FAILED trade's legs undone at its failure, a resolved market redeemed to zero. One breach per
    excursion past a limit (per market, and of Σ|position| against the total)."""
    markets = {m["cid"]: m for m in dump["markets"]}
    events: list[tuple[int, int, int, str, Decimal, str]] = []  # (ms, kind order, seq, cid, delta, what)
    for seq, t in enumerate(dump["trades"]):
        yes = markets[t["cid"]]["yes"]
        delta = sum((_yes_delta(leg["token"], leg["side"], D(leg["size"]) / MICRO, yes) for leg in t["legs"]), ZERO)
        events.append((t["match_ms"], 1, seq, t["cid"], delta, f"trade {t['id'][:8]}"))
        if t["status"] == "FAILED":
            events.append((t["last_update_ms"], 1, seq, t["cid"], -delta, f"trade {t['id'][:8]} FAILED"))
    for r in dump["resolutions"]:
        events.append((r["ms"], 0, -1, r["cid"], ZERO, "resolved"))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    pos: dict[str, Decimal] = defaultdict(lambda: ZERO)
    over: dict[str, bool] = defaultdict(bool)
    total_over = False
    breaches: list[str] = []
    worst = ZERO
    peak_market = ZERO
    peak_total = ZERO
    for ms, _, _, cid, delta, what in events:
        if what == "resolved":
            pos[cid] = ZERO
        else:
            pos[cid] += delta
        excess = abs(pos[cid]) - limit
        peak_market = max(peak_market, abs(pos[cid]))
        if excess > 0:
            worst = max(worst, excess)
            if not over[cid]:
                breaches.append(f"{ms} {cid[:10]} {what}: position {pos[cid]} past the limit {limit}")
        over[cid] = excess > 0
        total = sum((abs(q) for q in pos.values()), ZERO)
        peak_total = max(peak_total, total)
        t_excess = total - total_limit
        if t_excess > 0:
            worst = max(worst, t_excess)
            if not total_over:
                breaches.append(f"{ms} total {total} past {total_limit} ({what} in {cid[:10]})")
        total_over = t_excess > 0
    details["position_breaches"] = breaches
    return {"position_breaches": len(breaches), "worst_excess": float(worst), "peak_position": float(peak_market),
            "peak_total": float(peak_total)}


def _journal_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as c:
        rows = c.execute("SELECT trade_id, order_id, condition_id, side, size, token_id, status FROM fills "
                         "ORDER BY rowid").fetchall()
    return [{"trade_id": t, "order_id": o, "cid": cid, "token": tok, "status": st,
             "delta": D(size) if side == "BUY" else -D(size)} for t, o, cid, side, size, tok, st in rows]


def _journal_has_last_statuses(client: Any, journal: Path) -> bool:
    """Every leg of ours the venue reports (REST ``/data/trades``) is in the journal with the venue's last
    status, a FAILED one with its reversal (or, never booked, with neither): polymm has heard them all."""
    from py_clob_client_v2.clob_types import TradeParams

    key = client.creds.api_key
    rows = {(r["trade_id"], r["order_id"]): r for r in _journal_rows(journal)}
    for t in client.get_trades(TradeParams(after=int(time.time()) - 24 * 3600)):
        legs = [mo["order_id"] for mo in t.get("maker_orders") or [] if mo.get("owner") == key]
        if t.get("owner") == key and t.get("trader_side") == "TAKER":
            legs.append(t["taker_order_id"])
        for oid in legs:
            row, rev = rows.get((t["id"], oid)), rows.get((t["id"] + ":failed", oid))
            booked = (row is None) == (rev is None) if t["status"] == "FAILED" else row is not None
            if not booked or (row is not None and row["status"] != t["status"]):
                return False
    return True


def _journal_positions(path: Path) -> dict[str, Decimal]:
    if not path.exists():
        return {}
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as c:
        return {cid: D(q) for cid, q in c.execute("SELECT condition_id, qty FROM positions")}


#: The figures that must be zero (the acceptance of issue 11, and a clean run).
MUST_BE_ZERO = ("orphans", "orphans_after_sigterm", "duplicates", "fill_mismatches", "position_breaches",
                "position_mismatches", "tracebacks")


def run_scenario(cfg: ScenarioConfig, workdir: Path, echo: bool = False) -> dict[str, Any]:
    return Scenario(cfg, Path(workdir), echo).run()


def summary(v: dict[str, Any]) -> str:
    """The figures, one a line (details in ``details.json`` of the work directory)."""
    keys = [k for k in v if k not in ("details", "unexpected_exit_lines", "fault_errors")]
    lines = [f"  {k:28} {v[k]}" for k in keys]
    d = v.get("details", {})
    for name in ("fill_mismatches", "position_breaches", "position_mismatches", "duplicates", "orphans", "halts",
                 "leg_status_differs"):
        items = d.get(name)
        if items:
            lines.append(f"  {name}:")
            seq = items.items() if isinstance(items, dict) else enumerate(items)
            lines += [f"    {k}: {x}" if isinstance(items, dict) else f"    {x}" for k, x in list(seq)[:12]]
    for name in ("unexpected_exit_lines", "fault_errors"):
        for x in v.get(name, [])[:6]:
            lines.append(f"  {name}: {x}")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    vp = sub.add_parser("venue", help="the stand-in with the recorder (a child of the harness)")
    vp.add_argument("--seed", type=int, default=1)
    vp.add_argument("--flow-rate", type=float, default=6.0)
    vp.add_argument("--markets", type=int, default=6)
    args = ap.parse_args()
    if args.cmd == "venue":
        with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
            asyncio.run(_venue_main(args.seed, args.flow_rate, args.markets))
