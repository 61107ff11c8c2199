"""What every simulated run measures, shared by the synthetic backtest and the replay.

``Markouts``
    For a fill at time t and a horizon h: ``sign · (ref(t + h) − price)`` in pips per share, sign +1
    for our buys and −1 for our sells (+ = good for us), where ``ref(t + h)`` is the reference in
    effect at t + h — the value after the last event at or before that instant (the definition of
    ``signals.Markouts``). The caller resolves lazily: just before time moves past a due instant it
    calls ``resolve`` with the references as they stand. Averaged size-weighted per horizon; a fill
    whose horizon ends after the run is not counted (``count`` says how many were). Two references:
    the book mid, and optionally a second one (the synthetic flow's hidden fair value).

``Curve``
    The equity curve: the largest peak-to-trough fall over every ``observe``, and a sampled path of
    equity and inventories for charts and ``--json``, one point per ``every`` seconds of simulated
    time (recorded at the boundary instant, so runs of the same length line up point for point).
    When the path reaches ``2 × max_points`` points every other one is dropped and ``every`` doubles:
    memory stays bounded however long the run, and the result is still a pure function of the input.

Times are integers in any unit (ms in the synthetic backtest, ns in the replay); ``unit`` says how
many make a second.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

HORIZONS_S: tuple[int, ...] = (1, 10, 60)


@dataclass(frozen=True, slots=True)
class MarkoutStat:
    """One horizon's markout over a run: size-weighted pips per share (+ = good for us)."""

    horizon_s: float
    count: int  # fills resolved at this horizon
    pips: float | None  # vs the book mid; None without resolved fills
    fair_pips: float | None = None  # vs the second reference (synthetic: the hidden fair value)


class Markouts:
    """Pending and resolved markouts of fills at several horizons (module docstring)."""

    __slots__ = ("_count", "_fair", "_mid", "_pending", "_size", "horizons", "horizons_s", "next_due")

    def __init__(self, horizons_s: Sequence[float] = HORIZONS_S, unit: int = 1000) -> None:
        self.horizons_s = tuple(horizons_s)
        self.horizons = tuple(round(h * unit) for h in self.horizons_s)
        n = len(self.horizons)
        # per horizon: (due, key, sign, price pips, size) in fill order
        self._pending: list[deque[tuple[int, Hashable, int, float, float]]] = [deque() for _ in range(n)]
        self._mid = [0.0] * n
        self._fair = [0.0] * n
        self._size = [0.0] * n
        self._count = [0] * n
        #: The earliest due instant of any pending markout (None when none is pending).
        self.next_due: int | None = None

    def add(self, t: int, key: Hashable, sign: int, price: float, size: float) -> None:
        """A fill at time ``t`` (``key`` names whose references resolve it, e.g. the market)."""
        for h, q in zip(self.horizons, self._pending, strict=True):
            q.append((t + h, key, sign, price, size))
        if self.horizons:
            due = t + min(self.horizons)
            if self.next_due is None or due < self.next_due:
                self.next_due = due

    def resolve(
        self,
        until: int,
        inclusive: bool,
        mid: Callable[[Hashable], float | None],
        fair: Callable[[Hashable], float | None] | None = None,
    ) -> None:
        """Resolve every markout due before ``until`` (or at it, if ``inclusive``) at the references
        as they stand now. A fill whose mid is None (a one-sided book) is dropped uncounted."""
        for i, q in enumerate(self._pending):
            while q and (q[0][0] <= until if inclusive else q[0][0] < until):
                _, key, sign, price, size = q.popleft()
                m = mid(key)
                if m is None:
                    continue
                self._mid[i] += size * sign * (m - price)
                if fair is not None:
                    f = fair(key)
                    if f is not None:
                        self._fair[i] += size * sign * (f - price)
                self._size[i] += size
                self._count[i] += 1
        heads = [q[0][0] for q in self._pending if q]
        self.next_due = min(heads) if heads else None

    def stats(self, with_fair: bool = False) -> tuple[MarkoutStat, ...]:
        out = []
        for i, h in enumerate(self.horizons_s):
            w = self._size[i]
            out.append(MarkoutStat(
                h, self._count[i], self._mid[i] / w if w > 0 else None,
                (self._fair[i] / w if w > 0 else None) if with_fair else None,
            ))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Path:
    """A sampled run: ``t`` seconds since the start, equity (P&L) and one inventory row per market."""

    every_s: float
    t: tuple[float, ...]
    pnl: tuple[float, ...]
    inventory: tuple[tuple[float, ...], ...]


class Curve:
    """Equity drawdown over every observation and a bounded sampled path (module docstring)."""

    __slots__ = ("_inv", "_next", "_pnl", "_t", "every", "markets", "max_drawdown", "max_points", "peak")

    def __init__(self, every_s: float = 1.0, markets: int = 1, max_points: int = 512) -> None:
        if every_s <= 0 or max_points < 2:
            raise ValueError("every_s must be > 0 and max_points >= 2")
        self.every = every_s
        self.markets = markets
        self.max_points = max_points
        self.peak = 0.0
        self.max_drawdown = 0.0
        self._next = 0.0
        self._t: list[float] = []
        self._pnl: list[float] = []
        self._inv: list[list[float]] = [[] for _ in range(markets)]

    def observe(self, equity: float) -> None:
        if equity > self.peak:
            self.peak = equity
        elif self.peak - equity > self.max_drawdown:
            self.max_drawdown = self.peak - equity

    def due(self, t: float) -> bool:
        """Whether ``sample`` at ``t`` (seconds since the start) would record a point."""
        return t >= self._next

    def sample(self, t: float, equity: float, inventory: Sequence[float]) -> None:
        """Record a point at every sampling boundary up to ``t`` (values as they stand now)."""
        while t >= self._next:
            self._t.append(self._next)
            self._pnl.append(equity)
            for row, q in zip(self._inv, inventory, strict=False):
                row.append(q)
            self._next += self.every
            if len(self._t) >= 2 * self.max_points:
                self._t = self._t[::2]
                self._pnl = self._pnl[::2]
                self._inv = [row[::2] for row in self._inv]
                self.every *= 2
                self._next = self._t[-1] + self.every

    def add_market(self) -> None:
        """A market joined mid-run: its inventory row is 0 until now."""
        self._inv.append([0.0] * len(self._t))
        self.markets += 1

    def path(self, end: tuple[float, float, Sequence[float]] | None = None) -> Path:
        """The sampled path; with ``end`` = (t, equity, inventory) it ends at that point — the figures the
        report gives — so the chart ends where the report does (a sample already at ``t`` is replaced).
        The curve itself is not changed: a run can go on after a report."""
        t, pnl, inv = list(self._t), list(self._pnl), [list(r) for r in self._inv]
        if end is not None:
            at, equity, last = end
            if t and t[-1] >= at:
                t.pop(), pnl.pop()
                for row in inv:
                    if row:
                        row.pop()
            t.append(at)
            pnl.append(equity)
            for row, q in zip(inv, last, strict=False):
                row.append(q)
        return Path(self.every, tuple(t), tuple(pnl), tuple(tuple(r) for r in inv))
