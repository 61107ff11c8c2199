"""``--profile`` (``polymm run``, ``polymm-tui``): times the hot functions of the trading path while the
program runs and prints a table when it exits — calls, total, mean, p99 and worst — to find what a slow
market, a slow machine or a new setting costs, without a profiler's overhead on everything else.

The functions are wrapped where the code looks them up (module attributes, class attributes), so
nothing else changes; ``uninstall`` puts them back. Each wrapper costs two ``perf_counter_ns`` reads
and an append: about 0.3 µs a call. Only synchronous functions are timed (an ``await`` would count
other tasks' time)."""

from __future__ import annotations

import functools
import importlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from time import perf_counter_ns
from typing import Any

from ..domain.quantiles import nearest_rank

#: (module, attribute path) of the functions timed: a frame's way to a requote and the order path
HOT: tuple[tuple[str, str], ...] = (
    ("polymm.engine.feed", "parse_frame"),
    ("polymm.domain.book_set", "BookSet.apply"),
    ("polymm.domain.strategy", "MarketBrain.decide"),
    ("polymm.domain.risk", "RiskEngine.check"),
    ("polymm.domain.pipeline", "step"),
    ("polymm.domain.pipeline", "recheck"),
    ("polymm.domain.pipeline", "replan"),
    ("polymm.engine.engine", "Engine._positions"),
    ("polymm.engine.engine", "Engine._publish_decision"),
    ("polymm.engine.engine", "Engine._publish_market"),
    ("polymm.venue.live", "LiveExecution._sign_many"),
    ("polymm.venue.paper", "PaperExecution.on_book"),
)

SAMPLES = 10_000  # the newest calls kept per function for its p99


@dataclass(slots=True)
class Stat:
    calls: int = 0
    total_ns: int = 0
    worst_ns: int = 0
    recent: deque[int] = field(default_factory=lambda: deque(maxlen=SAMPLES))

    def add(self, ns: int) -> None:
        self.calls += 1
        self.total_ns += ns
        if ns > self.worst_ns:
            self.worst_ns = ns
        self.recent.append(ns)

    def p99_ns(self) -> int:
        (p99,) = nearest_rank(self.recent, (0.99,))
        return 0 if p99 is None else int(p99)


class Profile:
    """``install()`` wraps ``targets``; ``table()`` is the report; ``uninstall()`` unwraps."""

    def __init__(self, targets: Iterable[tuple[str, str]] = HOT) -> None:
        self.targets = tuple(targets)
        self.stats: dict[str, Stat] = {}
        self._undo: list[tuple[Any, str, Any]] = []

    def install(self) -> Profile:
        for module, path in self.targets:
            owner: Any = importlib.import_module(module)
            *parents, name = path.split(".")
            for part in parents:
                owner = getattr(owner, part)
            original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
            setattr(owner, name, self._timed(path, original))
            self._undo.append((owner, name, original))
        return self

    def uninstall(self) -> None:
        while self._undo:
            owner, name, original = self._undo.pop()
            setattr(owner, name, original)

    def _timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        stat = self.stats.setdefault(name, Stat())
        add = stat.add

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t = perf_counter_ns()
            try:
                return fn(*args, **kwargs)
            finally:
                add(perf_counter_ns() - t)

        return timed

    def table(self) -> str:
        """The report: one line a function that was called, the most total time first."""
        rows = sorted(((n, s) for n, s in self.stats.items() if s.calls), key=lambda r: -r[1].total_ns)
        head = f"{'function':<34} {'calls':>10} {'total ms':>10} {'mean µs':>9} {'p99 µs':>9} {'worst µs':>9}"
        lines = ["profile (--profile): the hot functions' time while running", head, "-" * len(head)]
        for name, s in rows:
            lines.append(f"{name:<34} {s.calls:>10,} {s.total_ns / 1e6:>10,.1f} {s.total_ns / s.calls / 1e3:>9,.1f} "
                         f"{s.p99_ns() / 1e3:>9,.1f} {s.worst_ns / 1e3:>9,.1f}")
        if not rows:
            lines.append("(nothing was called)")
        return "\n".join(lines)
