"""What the models that follow the signals share (``avellaneda``, ``pm4``).

The minimum width is ``params.spread × widen`` plus the competitor back-off, where ``widen`` is the
signals' combined multiplier the model takes (``SignalAwareModel.widen``: flow imbalance, markout
toxicity, resolution approaching, and for a model that does not apply the volatility regime itself,
that too); the fair value is shifted by the flow skew (aggressive buyers → quote higher); a CRISIS
liquidity regime quotes nothing; a competitor ``match`` joins the best prices.
"""

from __future__ import annotations

from abc import abstractmethod
from decimal import ROUND_DOWN, Decimal

from ..market import Side
from ..model_state import ModelState
from ..order_book import BookView
from ..prices import PIPS_PER_UNIT
from ..quoting import Quote, Targets
from ..signals import Liquidity, SignalsSnapshot
from .base import QuoteInputs, QuotingModel

CENT = Decimal("0.01")


class SignalAwareModel(QuotingModel):
    """A model that follows the signals (module docstring); it supplies ``widen`` and ``quote_around``."""

    @abstractmethod
    def widen(self, signals: SignalsSnapshot) -> float:
        """The signals' spread multiplier this model takes."""

    @abstractmethod
    def quote_around(self, inputs: QuoteInputs, state: ModelState, min_spread: float) -> Targets:
        """The model's targets around ``state.fair`` (already shifted by the flow skew), at least
        ``min_spread`` (price units) wide."""

    def quote(self, inputs: QuoteInputs) -> tuple[Targets, float]:
        view, snap = inputs.view, inputs.signals
        if snap.liquidity.regime is Liquidity.CRISIS and view.best_bid is not None and view.best_ask is not None:
            return Targets((), view.mid, f"liquidity CRISIS: {snap.liquidity.reason}"), 1.0
        widen = self.widen(snap)
        tick = view.tick.pips
        back_off = snap.competitor.widen_ticks if snap.competitor.suggestion == "back_off" else 0
        min_spread = float(inputs.params.spread) * widen + 2 * back_off * tick / PIPS_PER_UNIT
        state = inputs.state
        if snap.flow.skew_ticks and state.fair is not None:
            state = state.with_fair(state.fair + snap.flow.skew_ticks * tick)
        targets = self.quote_around(inputs, state, min_spread)
        if snap.competitor.suggestion == "match":
            targets = _join_best(view, targets)
        if snap.competitor.size_factor < 1.0:
            targets = _smaller(targets, snap.competitor.size_factor)
        notes = [targets.reason]
        if widen != 1.0:
            why = snap.widen_reasons(volatility=widen != snap.widen_ex_volatility)
            notes.append(f"widen x{widen:.2f}" + (f" ({why})" if why else ""))
        if back_off:
            notes.append(f"competitor: back off {back_off} tick")
        return Targets(targets.quotes, targets.fair, "; ".join(notes)), widen


def _smaller(targets: Targets, factor: float) -> Targets:
    """A competitor flagged: every quote's size × ``factor``, in whole cents of a share (rounded down;
    a quote cut under the venue's minimum is dropped later, as any other)."""
    k = Decimal(repr(factor))
    quotes = tuple(Quote(q.side, q.price, (q.size * k).quantize(CENT, rounding=ROUND_DOWN)) for q in targets.quotes)
    return Targets(quotes, targets.fair, targets.reason + f"; competitor: size x{factor:.2f}")


def _join_best(view: BookView, targets: Targets) -> Targets:
    """Competitor ``match``: raise the inner bid to the best bid / lower the inner ask to the best
    ask (join their price) when that does not cross the book or our own other side."""
    quotes = list(targets.quotes)
    bb, ba = view.best_bid, view.best_ask
    if bb is not None and ba is not None and bb < ba:
        bid_i = next((i for i, q in enumerate(quotes) if q.side is Side.BUY), None)
        ask_i = next((i for i, q in enumerate(quotes) if q.side is Side.SELL), None)
        if bid_i is not None and quotes[bid_i].price < bb and (ask_i is None or bb < quotes[ask_i].price):
            quotes[bid_i] = Quote(Side.BUY, bb, quotes[bid_i].size)
        if ask_i is not None and quotes[ask_i].price > ba and (bid_i is None or ba > quotes[bid_i].price):
            quotes[ask_i] = Quote(Side.SELL, ba, quotes[ask_i].size)
    return Targets(tuple(quotes), targets.fair, targets.reason + "; competitor: match")
