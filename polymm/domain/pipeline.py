"""One strategy step for one market, the same code wherever polymm trades or simulates trading.

The engine (``Engine.step``), the replay (``backtest/replay.py``) and the synthetic backtest
(``backtest/simulation.py``) all call ``step`` and, for what they place after the step's cancels,
``recheck``. Pure: no I/O and no clock — the caller passes the book view, what it holds, the worst
case of every market and the time.

``step`` runs, in order:

1. ``MarketBrain.decide``: signals and model state, the model chosen by ``params.model``, the reward
   band, the venue minimum, the parity guard (``domain/strategy.py``);
2. ``RiskEngine.check`` of the decision's targets against ``positions`` — every market's worst case
   (``requote.positions_for``), with this market's open orders left out: the targets replace them;
3. the minimum-size drop (``requote.placeable``): the risk cut may leave a quote under the venue's
   minimum, which the venue would refuse;
4. the order plan (``requote.plan_orders``): what to cancel and what to place against the orders we
   rest (``None`` when the ``fixed`` model keeps its quotes).

``parity_gap`` is what runs instead on a crossed book (not quoted on): a YES/NO parity gap as a take.

``recheck`` is the placement check the engine runs once the step's cancels are done: ``RiskEngine.check``
of what it is about to place against everything of ours that could still fill then (this market's
open orders included, placements of other markets on their way included), then the minimum-size drop.
The caller registers what passes before anything else can run (the engine's ``_placing``), so two
markets never share one room.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .order_book import BookView
from .params import MarketParams
from .quoting import Quote, Targets
from .requote import PRESSURE_TOLERANCE, Plan, placeable, plan_orders
from .risk import Position, RiskEngine
from .strategy import Decision, MarketBrain

if TYPE_CHECKING:
    from .signals import EventSnapshot


@dataclass(frozen=True, slots=True)
class ArbTake:
    """A YES/NO parity gap to take: YES bought at the ask (``buy``) and sold at the bid (``sell``; without
    YES held that leg is a NO bought at 1 − bid: together a complete set for less than $1), ``size``
    shares each, ``edge_bps`` per pair after fees and costs (``signals.ParityArb``)."""

    buy: int  # pips, YES terms
    sell: int
    size: Decimal
    edge_bps: float

    @property
    def profit(self) -> Decimal:
        """Dollars the take locks in when both legs fill in full."""
        return (self.size * Decimal(round(self.edge_bps, 2)) / 10_000).quantize(Decimal("0.0001"))


def parity_take(view: BookView, parity: Any, resting: Sequence[Any], max_size: float,
                min_size: Decimal) -> ArbTake | None:
    """The gap ``parity`` (a ``ParitySnapshot``) flags in the merged YES book, as a take: at most
    ``max_size`` shares and the size at the top of both sides, at least ``min_size`` (the venue's
    minimum); None when there is nothing to take — no flag, not crossed, or our own order rests at
    either price (the gap would be ourselves)."""
    bid, ask = view.best_bid, view.best_ask
    if not parity.flagged or bid is None or ask is None or bid <= ask:
        return None
    if any(o.price in (bid, ask) for o in resting):
        return None
    size = Decimal(str(min(view.bid_size, view.ask_size, max_size))).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    if size < min_size:
        return None
    return ArbTake(ask, bid, size, parity.edge_bps)


def parity_gap(brain: MarketBrain, view: BookView, resting: Sequence[Any]) -> ArbTake | None:
    """A YES/NO parity gap in a crossed book, as a take (``parity_take``), or None. A crossed book is not
    quoted on (``step`` never runs on it: the engine's feed and the replay call it untrusted), but in the
    book merged from both tokens it is exactly where YES ask + NO ask < $1 shows. The market's parity
    signal is updated with it (the signals panel shows it); what to do with the take is the caller's
    ``arb_mode``."""
    parity = brain.signals.parity.update(view.best_bid, view.best_ask)
    return parity_take(view, parity, resting, brain.signals.config.parity.max_size, brain.market.min_order_size)


@dataclass(frozen=True, slots=True)
class StepResult:
    """One step's outcome: the brain's decision, what the risk engine and the venue minimum left of its
    targets (``targets``, with the reasons in ``vetoes``), and the order plan (None: keep the quotes)."""

    decision: Decision
    targets: Targets
    vetoes: tuple[str, ...]
    plan: Plan | None


@dataclass(frozen=True, slots=True)
class Recheck:
    """What may be placed now (``quotes``) and whether the check cut anything of what was asked."""

    quotes: tuple[Quote, ...]
    cut: bool


def step(
    brain: MarketBrain,
    risk: RiskEngine,
    view: BookView,
    position: Decimal,
    params: MarketParams,
    *,
    positions: Mapping[str, Position],
    budget: float,
    resting: Sequence[Any],
    now: float,
    epoch_changed: bool,
    forced: bool,
    last_fair: float | None,
    risk_now: float | None = None,
    reduce_only: bool = False,
    share: float = 1.0,
) -> StepResult:
    """One market's strategy step (module docstring).

    ``position``: the market's YES position; ``positions``: every market's worst case for the risk
    check, this market's open orders left out (``requote.positions_for``); ``budget``: the dollars of
    exposure allocated to it (``requote.budget_for``); ``resting``: our open orders in the market
    (``OpenOrder``-like: order_id, side, price, size, remaining, placed_at). ``now`` is the strategy's clock
    (signals, order ages); ``risk_now`` the risk engine's (its error cooldown), ``now`` when omitted.
    ``reduce_only``: the operator switched the market to reduce-only (the end-date window is the
    signals'). ``share``: the market's slice of the shared caps (``RiskEngine.check``). The tick is the
    view's and the minimum order size the brain's market's."""
    decision = brain.decide(view, position, params, now)
    events = decision.signals.events
    verdict = risk.check(
        brain.market.condition_id, decision.targets.quotes, positions, position_limit=params.position_limit,
        budget=budget, now=now if risk_now is None else risk_now, reduce_only=events.reduce_only or reduce_only,
        hours_to_end=events.hours_to_end, share=share,
    )
    min_size = brain.market.min_order_size
    quotes, dropped = placeable(verdict.quotes, min_size)
    vetoes = verdict.vetoes
    if dropped:  # the venue rejects orders under its minimum size
        vetoes = (*vetoes, f"dropped {dropped} quote(s) under the market minimum of {min_size} shares")
    targets = Targets(quotes, decision.targets.fair, decision.targets.reason)
    plan = plan_orders(resting, targets, view, params, view.tick, epoch_changed=epoch_changed, forced=forced,
                       last_fair=last_fair, now=now)
    return StepResult(decision, targets, vetoes, plan)


def replan(
    result: StepResult,
    resting: Sequence[Any],
    view: BookView,
    params: MarketParams,
    *,
    epoch_changed: bool,
    forced: bool,
    last_fair: float | None,
    now: float,
    pressure: float = PRESSURE_TOLERANCE,
) -> Plan | None:
    """The step's plan again under pressure (the venue's rate limits are short of room for it): the same
    targets, only orders ``pressure`` × the tolerance off them, or crossing, replaced
    (``requote.plan_orders``)."""
    return plan_orders(resting, result.targets, view, params, view.tick, epoch_changed=epoch_changed, forced=forced,
                       last_fair=last_fair, now=now, pressure=pressure)


def recheck(
    risk: RiskEngine,
    condition_id: str,
    quotes: Sequence[Quote],
    positions: Mapping[str, Position],
    *,
    params: MarketParams,
    events: EventSnapshot | Any,
    budget: float,
    min_size: Decimal,
    now: float,
    reduce_only: bool = False,
    share: float = 1.0,
) -> Recheck:
    """The placement check after the step's cancels (module docstring): ``quotes`` cut to what every
    limit allows against ``positions`` — every market's worst case, this market's open orders
    included — and to the venue minimum. ``events``: the step's ``SignalsSnapshot.events`` (anything
    with ``reduce_only`` and ``hours_to_end``)."""
    verdict = risk.check(
        condition_id, quotes, positions, position_limit=params.position_limit, budget=budget, now=now,
        reduce_only=events.reduce_only or reduce_only, hours_to_end=events.hours_to_end, share=share,
    )
    allowed, _ = placeable(verdict.quotes, min_size)
    cut = len(allowed) < len(quotes) or any(a.size != q.size for a, q in zip(allowed, quotes, strict=False))
    return Recheck(allowed, cut)


__all__ = ["ArbTake", "Recheck", "StepResult", "parity_gap", "parity_take", "recheck", "replan", "step"]
