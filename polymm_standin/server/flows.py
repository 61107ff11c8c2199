"""The synthetic flows of a running stand-in: one asyncio task per market, one gate to pause them all."""

from __future__ import annotations

import asyncio
import contextlib

from ..sim.flow import SyntheticFlow


class FlowRunner:
    """Runs ``flows`` at ``rate`` steps per second per market (when ``enabled``) on the running loop."""

    def __init__(self, flows: list[SyntheticFlow], rate: float, enabled: bool = True) -> None:
        self.flows = flows
        self.rate = rate
        self.enabled = enabled
        self._gate = asyncio.Event()
        self._gate.set()
        self._tasks: list[asyncio.Task[None]] = []

    def _task(self, index: int, flow: SyntheticFlow) -> asyncio.Task[None]:
        return asyncio.create_task(flow.run(self.rate, self._gate), name=f"synthetic-flow-{index}")

    def start(self) -> None:
        if self.enabled and not self._tasks:
            self._tasks = [self._task(i, f) for i, f in enumerate(self.flows)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

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
        """Add a market's flow (a new listing); it runs at once if the other flows do."""
        self.flows.append(flow)
        if self._tasks:
            self._tasks.append(self._task(len(self.flows) - 1, flow))

    def find(self, condition_id: str) -> SyntheticFlow | None:
        return next((f for f in self.flows if f.market.condition_id == condition_id), None)
