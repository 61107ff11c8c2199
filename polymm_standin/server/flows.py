"""The synthetic flows of a running stand-in: ONE asyncio task steps every market, one gate pauses them.

With 300–500 markets the stand-in shares a small machine with the bot, so the flow must cost little:
one task and one heap of next-due times (``sim.activity.FlowSchedule``) instead of a task per market,
and nothing per step that walks every market. Two ways to set how busy the venue is:

* per market (``rate``, ``--flow-rate``): every market steps ``rate`` times a second, as the stand-in
  always did (the tests and the demo count on each market being lively);
* in total (``frames_per_s``, ``--frames-per-s``): market-channel frames per second over all markets,
  shared out by seeded Zipf-like weights (``sim.activity.activity_weights``: a few hot markets, a long
  quiet tail). A step makes a varying number of frames (an add is one ``price_change``, a trade a
  ``last_trade_price`` per level plus two ``book``s), so the runner counts the frames its steps cause —
  as a subscriber to every asset would get them — and steers the step rate toward the target.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any

from ..sim.activity import FlowSchedule, activity_weights
from ..sim.flow import SyntheticFlow
from ..sim.matching import Event, MatchingEngine, Trade

log = logging.getLogger(__name__)

#: The shortest sleep between two wakes of the runner: steps due within it run together (fewer wakes).
TICK_S = 0.005
#: Sleep while no market steps at all (every weight 0).
IDLE_S = 0.5
#: Most steps in one wake before the runner yields to the sockets (a backlog never starves I/O).
MAX_BURST = 2_000
#: Frames per step assumed before any were counted (measured: about 1.5 with the default traders).
INITIAL_FRAMES_PER_STEP = 1.5
#: Steps over which the frames-per-step estimate averages (an exponential moving average).
ESTIMATE_STEPS = 2_000
#: How often the measured frame rate (``stats``) is refreshed, seconds.
RATE_WINDOW_S = 2.0


def frames_of(event: Event) -> int:
    """Market-channel frames an event sends a subscriber of both tokens: a ``price_change``, or a
    ``last_trade_price`` per price level traded plus a ``book`` for each token."""
    if isinstance(event, Trade):
        return len({f.yes_price for f in event.fills}) + 2
    return 1


class FlowRunner:
    """Runs ``flows`` on the running loop (when ``enabled``): ``rate`` steps/s per market, or, when
    ``frames_per_s`` is given, that many frames/s in total shared out by seeded activity weights."""

    def __init__(
        self,
        flows: list[SyntheticFlow],
        rate: float,
        enabled: bool = True,
        *,
        frames_per_s: float | None = None,
        seed: int = 0,
        matching: MatchingEngine | None = None,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0 steps/s per market, got {rate}")
        if frames_per_s is not None and frames_per_s <= 0:
            raise ValueError(f"frames_per_s must be > 0, got {frames_per_s}")
        self.flows = flows
        self.rate = rate
        self.enabled = enabled
        self.frames_per_s = frames_per_s
        #: Each market's share of the activity (sums to 1) in total mode; all 1 (per market) otherwise.
        self.weights = activity_weights(seed, len(flows)) if frames_per_s is not None and flows else [1.0] * len(flows)
        self.frames_per_step = INITIAL_FRAMES_PER_STEP
        #: Steps taken and frames they caused (as a subscriber to every asset would get them).
        self.steps = 0
        self.frames = 0
        self.measured_frames_per_s = 0.0
        self._event_frames = 0  # every engine event's frames, synthetic or not (the steps take deltas)
        self._timing = random.Random(f"polymm-flow-timing:{seed}")
        self._by_market = {f.market.condition_id: f for f in flows}
        self._gate = asyncio.Event()
        self._gate.set()
        self._task: asyncio.Task[None] | None = None
        self._schedule: FlowSchedule | None = None
        self._window: tuple[float, int] | None = None
        if matching is not None:
            matching.add_listener(self._count)

    # ---------------------------------------------------------------- control

    def start(self) -> None:
        if self.enabled and self._task is None and self.flows:
            self._task = asyncio.create_task(self._run(), name="synthetic-flow")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def pause(self) -> None:
        self._gate.clear()

    def resume(self) -> None:
        self._gate.set()

    @property
    def paused(self) -> bool:
        return not self._gate.is_set()

    def step(self, steps: int = 1) -> None:
        """Advance every market's flow ``steps`` times, synchronously, in market order."""
        for _ in range(steps):
            for f in self.flows:
                f.step()

    def add(self, flow: SyntheticFlow) -> None:
        """Add a market's flow (a new listing) with an average market's weight; it steps at once if the
        other flows do."""
        weight = sum(self.weights) / len(self.weights) if self.weights else 1.0
        self.flows.append(flow)
        self.weights.append(weight)
        self._by_market[flow.market.condition_id] = flow
        if self._schedule is not None:
            self._schedule.add(weight, asyncio.get_running_loop().time())

    def find(self, condition_id: str) -> SyntheticFlow | None:
        return self._by_market.get(condition_id)

    @property
    def steps_per_s(self) -> float:
        """The total step rate the runner aims at now (all markets)."""
        if self.frames_per_s is None:
            return self.rate * len(self.flows)
        return self.frames_per_s / self.frames_per_step

    def stats(self) -> dict[str, Any]:
        """What the flow does, for ``/_admin/stats`` (rates rounded for people)."""
        return {
            "markets": len(self.flows),
            "running": self._task is not None,
            "paused": self.paused,
            "mode": "per-market" if self.frames_per_s is None else "total",
            "steps_per_s_per_market": None if self.frames_per_s is not None else self.rate,
            "target_frames_per_s": self.frames_per_s,
            "target_steps_per_s": round(self.steps_per_s, 1),
            "frames_per_step": round(self.frames_per_step, 3),
            "measured_frames_per_s": round(self.measured_frames_per_s, 1),
            "steps": self.steps,
            "frames": self.frames,
        }

    # ---------------------------------------------------------------- the one task

    def _count(self, event: Event) -> None:
        self._event_frames += frames_of(event)

    def _scale(self) -> float:
        """Steps/s of a market of weight 1: the per-market rate, or the total step rate (weights sum to 1)."""
        return self.rate if self.frames_per_s is None else self.steps_per_s

    def _run_due(self, due: list[int]) -> None:
        """Step the due markets; fold the frames they caused into the frames-per-step estimate."""
        before = self._event_frames
        flows = self.flows
        for index in due:
            try:
                flows[index].step()
            except Exception:
                log.exception("synthetic flow step failed in %s", flows[index].market.condition_id)
        frames = self._event_frames - before
        self.steps += len(due)
        self.frames += frames
        weight = min(1.0, len(due) / ESTIMATE_STEPS)
        estimate = self.frames_per_step + weight * (frames / len(due) - self.frames_per_step)
        self.frames_per_step = min(max(estimate, 0.25), 20.0)

    def _measure(self, now: float) -> None:
        if self._window is None:
            self._window = (now, self.frames)
            return
        t0, f0 = self._window
        if now - t0 >= RATE_WINDOW_S:
            self.measured_frames_per_s = (self.frames - f0) / (now - t0)
            self._window = (now, self.frames)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        schedule = self._schedule = FlowSchedule(self.weights, self._scale(), self._timing, loop.time())
        try:
            while True:
                if not self._gate.is_set():
                    await self._gate.wait()
                    schedule.rebase(loop.time())
                    self._window = None
                now = loop.time()
                due = schedule.pop_due(now, MAX_BURST)
                if due:
                    self._run_due(due)
                    schedule.scale = self._scale()
                self._measure(now)
                if len(due) >= MAX_BURST:
                    await asyncio.sleep(0)  # more is due: let the sockets write first
                    continue
                nxt = schedule.next_due()
                await asyncio.sleep(IDLE_S if nxt is None else max(TICK_S, nxt - loop.time()))
        finally:
            self._schedule = None
