"""One market's order plan for a step, and the risk engine's inputs: shared by the engine
(``Engine.step``) and the replay (``backtest/replay.py``), so both decide exactly alike.

``plan_orders`` turns the step's targets and our resting orders into what to cancel and what to place:
- resting orders the book now crosses go, whatever else happens;
- a model that holds its quotes (``QuotingModel.holds_quotes``: ``fixed``) keeps them unless something
  moved: a forced step (parameter change, re-arm, regained trust), the fair value by
  ``requote_threshold``, a new tick epoch, the set of sides, a crossing or an order older than
  ``max_order_age_s`` — else ``None`` (nothing to do);
- otherwise ``diff_orders`` keeps queue position: exact prices first, then within
  ``tolerance_ticks`` (0 on a forced step or a new epoch: exactly the new targets).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .market import Market, Side
from .order_book import BookView
from .order_diff import LiveOrder, diff_orders, too_old
from .params import QUOTING_MODELS, MarketParams
from .prices import Tick
from .quoting import Quote, Targets, to_pips
from .risk import Position

NO_FAIR = -1e9


@dataclass(frozen=True, slots=True)
class Plan:
    cancel: tuple[str, ...]  # order ids
    place: tuple[Quote, ...]
    fair: float  # remember as the market's last fair value (pips; NO_FAIR when none)
    crossing: tuple[str, ...] = ()  # of ``cancel``: orders the book now trades through (they go whatever else waits)


#: Under pressure (the venue's rate limits have no room for a requote now) a resting order this many
#: times further from its target still keeps its place, as does one up to this fraction smaller
PRESSURE_TOLERANCE = 3.0
PRESSURE_SIZE_TOLERANCE = 0.5


def placeable(quotes: Sequence[Quote], min_size: Decimal) -> tuple[tuple[Quote, ...], int]:
    """Quotes the venue accepts (at least its minimum order size), and how many were dropped."""
    kept = tuple(q for q in quotes if q.size >= min_size)
    return kept, len(quotes) - len(kept)


def plan_orders(
    resting: Sequence[Any],  # OpenOrder-like: order_id, side, price, size, remaining, placed_at
    targets: Targets,
    view: BookView,
    params: MarketParams,
    tick: Tick,
    *,
    epoch_changed: bool,
    forced: bool,
    last_fair: float | None,
    now: float,
    pressure: float = 1.0,
) -> Plan | None:
    """See the module docstring; ``None`` when a model that holds its quotes keeps them. ``pressure``
    (> 1: the venue's rate limits are short of room for requotes): only orders well off their targets
    (``pressure`` × the tolerance, rounded up, or ``PRESSURE_SIZE_TOLERANCE`` smaller) or crossing are
    replaced."""
    crossing = crossed(resting, view.best_bid, view.best_ask)
    fair = targets.fair if targets.fair is not None else NO_FAIR
    if QUOTING_MODELS[params.model].holds_quotes and not (
        forced or epoch_changed or crossing or _moved(resting, targets, params, fair, last_fair, now)
    ):
        return None
    live = [LiveOrder(o.order_id, o.side, o.price, o.remaining, o.placed_at, o.remaining < o.size)
            for o in resting if o not in crossing]
    tolerance = 0 if epoch_changed or forced else params.tolerance_ticks
    size_tolerance = 0.0
    if pressure > 1.0 and tolerance:
        tolerance, size_tolerance = widened(tolerance, pressure), PRESSURE_SIZE_TOLERANCE
    to_cancel, to_place = diff_orders(live, targets.quotes, tolerance, params.max_order_age_s, now, tick,
                                      size_tolerance)
    crossed_ids = tuple(o.order_id for o in crossing)
    return Plan(crossed_ids + tuple(o.order_id for o in to_cancel), tuple(to_place), fair, crossed_ids)


def widened(tolerance_ticks: int, pressure: float) -> int:
    """The requote tolerance under ``pressure`` (> 1: the rate limits short of room), rounded up."""
    return math.ceil(tolerance_ticks * pressure - 1e-9)


def slack_ticks(resting: Sequence[Any], targets: Sequence[Quote], tolerance_ticks: int, pressure: float,
                tick: Tick) -> int:
    """How many ticks the targets can still move before a resting order falls out of tolerance (at the
    ``pressure`` in force, as ``plan_orders`` widens it): the tolerance less the largest distance from a
    target to the nearest of our orders on its side; 0 when a target has no order on its side or the
    tolerance is 0 (the next move requotes). The strategy steps such markets first (``Engine._need``)."""
    tol = widened(tolerance_ticks, pressure) if pressure > 1.0 else tolerance_ticks
    slack = tol
    step = tick.pips
    for t in targets:
        nearest = min((abs(o.price - t.price) for o in resting if o.side is t.side), default=None)
        if nearest is None:
            return 0
        slack = min(slack, tol - nearest // step)
    return max(slack, 0)


def crossed(resting: Sequence[Any], best_bid: int | None, best_ask: int | None) -> list[Any]:
    """The resting orders the book now trades through (a bid at or above the best ask, or the reverse)."""
    return [o for o in resting if (o.side is Side.BUY and best_ask is not None and o.price >= best_ask)
            or (o.side is Side.SELL and best_bid is not None and o.price <= best_bid)]


def _moved(
    resting: Sequence[Any], targets: Targets, params: MarketParams, fair: float, last_fair: float | None, now: float
) -> bool:
    """The fair value moved by ``requote_threshold``, the set of sides changed, or an order is too old."""
    if abs(fair - (NO_FAIR if last_fair is None else last_fair)) >= to_pips(params.requote_threshold):
        return True
    if {o.side for o in resting} != {q.side for q in targets.quotes}:
        return True
    return any(too_old(o, params.max_order_age_s, now) for o in resting)


def reserved_for_step(
    reserved: Callable[..., Mapping[str, tuple[Decimal, Decimal]]], replacing: str | None = None
) -> dict[str, tuple[Decimal, Decimal]]:
    """condition id → (YES bid, YES ask) shares of our orders that could still fill, from an execution's
    (or a simulated venue's) ``reserved(condition_id=None, *, closing_only=False)``. ``replacing``: that
    market's open orders are left out — a step's targets replace them — but those whose cancel is on
    its way are kept (they can still fill until it lands)."""
    out = dict(reserved())
    if replacing is not None:
        out[replacing] = reserved(replacing, closing_only=True).get(replacing, (Decimal(0), Decimal(0)))
    return out


def positions_for(
    markets: Mapping[str, Market | None],
    reserved: Mapping[str, tuple[Decimal, Decimal]],
    qty: Callable[[str], Decimal],
    mark: Callable[[str], Decimal | None],
    revocable: Callable[[str], tuple[Decimal, Decimal]] | None = None,
) -> dict[str, Position]:
    """Every market's position, mark (0.5 when unknown), group and worst case for ``RiskEngine.check``:
    the YES bid / ask shares of our orders that could still fill (``reserved``) and, with
    ``revocable`` (the ledger's), fills the venue may still fail — a failed buy comes back as a sell,
    so (bought, sold) count like (asks, bids). ``markets`` may map a condition id to None: a market we
    hold but whose definition is not known (no group)."""
    return {cid: position_for(cid, m, reserved.get(cid, (Decimal(0), Decimal(0))), qty, mark, revocable)
            for cid, m in markets.items()}


def position_for(
    cid: str,
    market: Market | None,
    reserved: tuple[Decimal, Decimal],
    qty: Callable[[str], Decimal],
    mark: Callable[[str], Decimal | None],
    revocable: Callable[[str], tuple[Decimal, Decimal]] | None = None,
) -> Position:
    """One market's ``Position`` (see ``positions_for``); ``reserved``: its (YES bid, YES ask) shares that
    could still fill."""
    mk = mark(cid)
    bids, asks = reserved
    if revocable is not None:
        bought, sold = revocable(cid)
        bids, asks = bids + sold, asks + bought
    return Position(float(qty(cid)), float(mk) if mk is not None else 0.5,
                    market.neg_risk_market_id if market is not None else "", float(bids), float(asks))


def shares_for(weights: Mapping[str, float]) -> dict[str, float]:
    """Each market's slice of the shared caps (total position, total exposure): its ``capital_weight``
    over the traded markets' total. It changes only when the traded set or a weight does — never with
    another market's orders — so worst-case limits do not turn into requotes across markets."""
    total_w = sum(w for w in weights.values() if w > 0)
    return {c: (w / total_w if total_w > 0 and w > 0 else 0.0) for c, w in weights.items()}


def budget_for(cid: str, weights: Mapping[str, float], total_capital: Decimal, max_market_exposure: Decimal) -> float:
    """Capital allocation: the total split by ``capital_weight``, each share capped by
    ``max_market_exposure`` (dollars of exposure the market may carry)."""
    total_w = sum(weights.values())
    share = weights.get(cid, 0.0) / total_w if total_w > 0 else 0.0
    return min(float(total_capital) * share, float(max_market_exposure))
