"""The queue-preserving order diff: which resting orders to keep, cancel and place for a step's targets."""

from __future__ import annotations

import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from .market import Side
from .prices import Tick
from .quoting import Quote


@dataclass(frozen=True, slots=True)
class LiveOrder:
    """One of our resting orders as ``diff_orders`` sees it (YES terms, pips, seconds)."""

    order_id: str
    side: Side
    price: int
    size: Decimal  # what is left to fill
    placed_at: float
    partial: bool = False  # partly filled already: ``size`` is its remainder


#: Each order's age limit is ``max_age_s`` less up to this share of it, fixed by its id
#: (``too_old``). One limit for all made every order placed at the start (at 300 markets, over ~40 s)
#: old together 300 s later: a burst of replacements, all waiting for order room, inside scale_bench's
#: headless window (its tick-to-trade p99 82 ms). Spread over the last quarter of the limit, each
#: generation of replacements spreads wider than the one before.
AGE_SPREAD = 0.25


def age_limit(order_id: object, max_age_s: float) -> float:
    """``order_id``'s own age limit: ``max_age_s`` × (1 − ``AGE_SPREAD`` × u), u in [0, 1) from the id
    (stable across runs and processes: replays and backtests replace the same orders at the same time)."""
    u = zlib.crc32(str(order_id).encode()) / 2**32
    return max_age_s * (1.0 - AGE_SPREAD * u)


class Aged(Protocol):
    """An order as ``too_old`` reads it (ours, the engine's, the replay's, the simulation's)."""

    @property
    def order_id(self) -> Any: ...

    @property
    def placed_at(self) -> float: ...


def too_old(o: Aged, max_age_s: float, now: float) -> bool:
    """``o`` is past its own age limit (``age_limit``): replaced anyway."""
    return now - o.placed_at > age_limit(o.order_id, max_age_s)


#: A partly filled order whose remainder is at most its target's size and at least this share of it
#: satisfies the target (keeps its place in the queue); a smaller remainder is replaced.
PARTIAL_KEEP = Decimal("0.5")


def _fits(o: LiveOrder, t: Quote, least: Decimal) -> bool:
    """``o``'s size satisfies ``t``: ``least`` ≤ size ≤ the target's, or a partly filled order's remainder
    within ``PARTIAL_KEEP`` of it — never larger than the target (never more than the limits allowed it)."""
    if o.partial:
        least = min(least, t.size * PARTIAL_KEEP)
    return least <= o.size <= t.size


def diff_orders(
    existing: Sequence[LiveOrder],
    targets: Sequence[Quote],
    tolerance_ticks: int,
    max_age_s: float,
    now: float,
    tick: Tick,
    size_tolerance: float = 0.0,
) -> tuple[tuple[LiveOrder, ...], tuple[Quote, ...]]:
    """``(to_cancel, to_place)`` turning ``existing`` into ``targets`` while keeping queue position.

    A target is satisfied by an unmatched resting order on the same side with the same size,
    ``|price − target| ≤ tolerance_ticks·tick`` and not ``too_old`` (its age within its own limit). Exact-price
    matches are made first (for every target), then the remaining targets take the closest order
    within tolerance (then the oldest), in target order — so an order that sits exactly on one
    layer is never borrowed for a neighbouring layer, leaving its own target to be placed twice.
    Resting orders that satisfy no target are cancelled; targets that no order satisfies are placed.

    ``size_tolerance`` (a fraction): in the within-tolerance pass, a resting order no larger than the
    target and at most this much smaller also satisfies it — never larger, so it never holds more than
    the limits allowed the target (used when the venue's rate limits have no room for a requote).

    A partly filled order (``LiveOrder.partial``) whose remainder still fits its target — at most its
    size, at least ``PARTIAL_KEEP`` of it — satisfies it in both passes: a fill no longer costs the rest
    of the order its place in the queue."""
    tol = tolerance_ticks * tick.pips
    free = list(existing)
    fresh = {id(o) for o in free if not too_old(o, max_age_s, now)}
    unmatched: list[Quote] = []
    for t in targets:  # pass 1: exact price
        best = _oldest_exact(free, t, fresh)
        if best is None:
            unmatched.append(t)
        else:
            free.remove(best)
    to_place: list[Quote] = []
    for t in unmatched:  # pass 2: within tolerance
        best = _closest_within(free, t, tol, fresh, size_tolerance) if tol else None
        if best is None:
            to_place.append(t)
        else:
            free.remove(best)
    return tuple(free), tuple(to_place)


def _oldest_exact(free: Sequence[LiveOrder], t: Quote, fresh: Collection[int]) -> LiveOrder | None:
    """The oldest fresh order of ``free`` at exactly ``t``'s side, price and size (the first of equals)."""
    best: LiveOrder | None = None
    for o in free:
        if (o.side is t.side and o.price == t.price and (o.size == t.size or (o.partial and _fits(o, t, t.size)))
                and id(o) in fresh and (best is None or o.placed_at < best.placed_at)):
            best = o
    return best


def _closest_within(free: Sequence[LiveOrder], t: Quote, tol: int, fresh: Collection[int],
                    size_tolerance: float = 0.0) -> LiveOrder | None:
    """The fresh order of ``free`` on ``t``'s side and size (or, with ``size_tolerance``, up to that
    fraction smaller) closest to its price within ``tol`` pips, then the oldest (the first of equals)."""
    least = t.size * (1 - Decimal(repr(size_tolerance))) if size_tolerance else t.size
    best: LiveOrder | None = None
    for o in free:
        if (o.side is not t.side or not _fits(o, t, least) or abs(o.price - t.price) > tol
                or id(o) not in fresh):
            continue
        if best is None or (abs(o.price - t.price), o.placed_at) < (abs(best.price - t.price), best.placed_at):
            best = o
    return best
