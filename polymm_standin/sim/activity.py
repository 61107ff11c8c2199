"""How busy each synthetic market is, and when each one steps next: one schedule for every market.

A venue with hundreds of markets is not uniformly busy: a few markets carry most of the trading and a
long tail barely moves. ``activity_weights(seed, n)`` gives each market a Zipf-like share (market of
rank r ∝ 1 / r^s, the ranks a seeded permutation, so which markets are hot is a function of the seed),
normalised to sum to 1.

``FlowSchedule`` decides when each market's ``SyntheticFlow`` steps. Every market is a Poisson process
of its own rate (``scale × weight``); the next-due times of all of them sit in ONE heap, so a step
costs O(log n) whatever the number of markets and nothing walks every market per step. ``scale`` can
change at any time (the server steers it toward a total frame rate): new gaps use it, due times already
drawn stay, so steering never touches the heap. The schedule knows no clock and no event loop: the
server's runner (``server.flows.FlowRunner``) asks it what is due at ``now`` and sleeps until
``next_due``; tests drive it with made-up times.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Sequence

#: Zipf exponent of ``activity_weights``: with 1.0 the busiest of 300 markets gets about 16 % of all
#: activity and the quietest about 0.05 %.
DEFAULT_SKEW = 1.0
#: A market whose next step is overdue by more than this (a stalled loop, a pause) skips the steps it
#: missed instead of catching up in one burst.
MAX_LAG_S = 1.0


def activity_weights(seed: int, count: int, skew: float = DEFAULT_SKEW) -> list[float]:
    """Each of ``count`` markets' share of the total activity (sums to 1): Zipf-like, ranks seeded."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if not skew >= 0:
        raise ValueError(f"skew must be >= 0, got {skew}")
    ranks = list(range(1, count + 1))
    random.Random(f"polymm-activity:{seed}").shuffle(ranks)
    raw = [1.0 / r**skew for r in ranks]
    total = sum(raw)
    return [w / total for w in raw]


class FlowSchedule:
    """Next-due times of every market in one heap; market ``i`` steps at ``scale × weights[i]`` per second.

    ``pop_due(now)`` returns the markets due by ``now`` (a market due twice appears twice, in time order)
    and draws each one's next due time (an exponential gap: Poisson steps). Markets are indices into the
    caller's list of flows; ``add`` appends one.
    """

    def __init__(self, weights: Sequence[float], scale: float, rng: random.Random, now: float) -> None:
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        self.weights: list[float] = [float(w) for w in weights]
        self.scale = scale
        self._rng = rng
        self._heap: list[tuple[float, int]] = []
        for i in range(len(self.weights)):
            self._push(i, now)
        heapq.heapify(self._heap)

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def total_rate(self) -> float:
        """Steps per second over all markets at the current scale."""
        return self.scale * sum(self.weights)

    def rate(self, index: int) -> float:
        """Market ``index``'s steps per second at the current scale."""
        return self.scale * self.weights[index]

    def _gap(self, index: int) -> float:
        rate = self.scale * self.weights[index]
        return self._rng.expovariate(rate) if rate > 0 else float("inf")

    def _push(self, index: int, after: float) -> None:
        due = after + self._gap(index)
        if due != float("inf"):
            self._heap.append((due, index))

    def add(self, weight: float, now: float) -> int:
        """A new market (a listing): its index; its first step comes one gap after ``now``."""
        self.weights.append(float(weight))
        index = len(self.weights) - 1
        due = now + self._gap(index)
        if due != float("inf"):
            heapq.heappush(self._heap, (due, index))
        return index

    def next_due(self) -> float | None:
        """When the next market is due (None: no market steps at all)."""
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float, limit: int) -> list[int]:
        """At most ``limit`` markets due by ``now``, earliest first, each rescheduled one gap later.

        A market overdue by more than ``MAX_LAG_S`` is rescheduled from ``now`` (its missed steps are
        dropped, not replayed in a burst)."""
        heap = self._heap
        out: list[int] = []
        while heap and len(out) < limit and heap[0][0] <= now:
            due, index = heap[0]
            out.append(index)
            base = now if due < now - MAX_LAG_S else due
            heapq.heapreplace(heap, (base + self._gap(index), index))
        return out

    def rebase(self, now: float) -> None:
        """Draw every market's next step afresh from ``now`` (after a pause; O(n), once)."""
        self._heap = []
        for i in range(len(self.weights)):
            self._push(i, now)
        heapq.heapify(self._heap)
