"""One market's quoting brain: signals + model state + the chosen model, as one pure step.

``MarketBrain.decide(view, position, params, now)`` is what the engine's strategy loop calls for a
market on every step (and what the comparison bench and backtests call in simulated time). It does no
I/O and reads no clock: ``now`` is passed in.

One step:

1. advance the model's EWMA state (``models.update`` at ``now``: σ² per second) and the signals
   (``SignalSet.on_book``), then take the signals' snapshot;
2. choose the model from ``params.model``:

   * ``fixed``: ``quoting.fixed_quotes`` — the skeleton's baseline, deliberately signal-blind;
   * ``avellaneda`` / ``pm4``: the minimum width is ``params.spread × widen`` plus the competitor
     back-off, where ``widen`` is the signals' combined multiplier (flow imbalance, markout toxicity,
     resolution approaching, and for ``avellaneda`` the volatility regime — PM4 applies J itself, once);
     the fair value is shifted by the flow skew (aggressive buyers → quote higher); a CRISIS liquidity
     regime quotes nothing;
   * ``avellaneda`` takes ``T − t = min(params.horizon_s, end date − now)`` seconds and κ from the
     signals' trading-intensity fit of the market's prints and our fills (``params.kappa`` until the fit
     has enough data); ``pm4`` takes J from the signals' time-aware fast/slow EWMAs, clipped to
     ``[params.j_min, params.j_max]``;

3. where the market pays liquidity rewards, the adaptive models pull the inner layer into the reward
   band around the size-cutoff-adjusted mid (PROTOCOL §8), never crossing, and only an order that
   scores as it is — at least the reward minimum size: a smaller one would earn nothing for the
   adverse selection of a tighter quote, and its size is never raised (that would undo the inventory
   taper). Both sides while flat, only the side that reduces the inventory otherwise: the side that
   adds keeps the model's price and its tapered size. ``fixed`` keeps the operator's spread exactly.
   Our reward score is estimated either way (``docs/strategy.md`` has what the band earned and cost);
4. raise a quote the taper shrank below the venue's minimum size to that minimum while the room to the
   position limit allows, else drop it (the venue would refuse it);
5. check YES/NO parity of the result (a YES bid at b and a YES ask at a are, on the NO book, a NO ask
   at 1 − b and a NO bid at 1 − a: quotes with b < a never lock in a loss).

The result is a ``Decision``: the targets, the signals snapshot, the reward estimate and the reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from .market import Market, Side
from .models import (
    AvellanedaParams,
    EwmaParams,
    ModelState,
    PM4Params,
    RewardScore,
    adjusted_mid,
    avellaneda_quotes,
    cap_total,
    clamp_to_rewards,
    parity_ok,
    pm4_quotes,
    regime_ratio,
    reward_score,
    update,
)
from .order_book import BookView
from .params import MarketParams
from .portfolio import Fill
from .prices import MAX_PIPS, PIPS_PER_UNIT
from .quoting import Quote, Targets, fixed_quotes
from .signals import Liquidity, SignalsConfig, SignalSet, SignalsSnapshot

MODELS = ("fixed", "avellaneda", "pm4")


@dataclass(frozen=True, slots=True)
class Decision:
    """One step's outcome for one market (published to the store as ``decision/<condition id>``)."""

    condition_id: str
    model: str
    targets: Targets
    signals: SignalsSnapshot
    widen: float  # the spread multiplier the signals applied (1 for ``fixed``)
    reward: RewardScore | None  # our estimated reward score, None when the market pays none
    ts: float


def end_time_of(market: Market) -> float | None:
    """The market's end date as epoch seconds (None when absent or unparsable)."""
    if not market.end_date:
        return None
    try:
        return datetime.fromisoformat(market.end_date.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class MarketBrain:
    """Model state and signals of one market; ``decide`` runs one strategy step (module docstring)."""

    __slots__ = ("_ewma", "market", "signals", "state")

    def __init__(self, market: Market, config: SignalsConfig | None = None, ewma: EwmaParams | None = None):
        self.market = market
        self.state = ModelState()
        self.signals = SignalSet(market.condition_id, config, end_time_of(market))
        self._ewma = ewma or EwmaParams()

    # ------------------------------------------------------------ events between steps
    def on_trade(self, now: float, price: int, size: float, taker_is_buy: bool) -> None:
        self.signals.on_trade(now, price, size, taker_is_buy)

    def on_fill(self, now: float, fill: Fill) -> None:
        self.signals.on_fill(now, fill)

    def on_quotes(self, our_bid: int | None, our_ask: int | None) -> None:
        """Our resting inner quotes (for competitor detection)."""
        self.signals.on_quotes(our_bid, our_ask)

    # ------------------------------------------------------------ the step
    def decide(self, view: BookView, position: Decimal, params: MarketParams, now: float) -> Decision:
        self.state = state = update(self.state, view, self._ewma, now)
        self.signals.on_book(now, view)
        snap = self.signals.snapshot(now)
        if params.model == "fixed":
            targets, widen = fixed_quotes(view, position, params), 1.0
        else:
            targets, widen = self._model_quotes(view, position, params, state, snap, now)
        reward = None
        if self.market.reward_max_spread > 0 and targets.quotes:
            if params.model != "fixed":  # fixed: the operator's spread stands, the score is only estimated
                targets = self._rewards(view, targets, position, params)
            reward = self._score(view, targets)
        targets = _venue_minimum(targets, self.market.min_order_size, position, params.position_limit)
        bid = max((q.price for q in targets.quotes if q.side is Side.BUY), default=None)
        ask = min((q.price for q in targets.quotes if q.side is Side.SELL), default=None)
        # the NO book sees our YES bid b as a NO ask at 1 − b and our YES ask a as a NO bid at 1 − a
        no_bid = None if ask is None else MAX_PIPS - ask
        no_ask = None if bid is None else MAX_PIPS - bid
        if not parity_ok(bid, ask, no_bid, no_ask):  # unreachable while bid < ask; kept as a guard
            targets = Targets((), targets.fair, "parity: quotes would lock in a loss")
        return Decision(self.market.condition_id, params.model, targets, snap, widen, reward, now)

    def horizon(self, params: MarketParams, now: float) -> float:
        """A–S ``T − t`` in seconds: ``params.horizon_s``, or the time to the market's end when closer (≥ 0)."""
        end = self.signals.events.end_time
        h = params.horizon_s
        if end is not None and end - now < h:
            h = max(end - now, 0.0)
        return h

    def _model_quotes(
        self,
        view: BookView,
        position: Decimal,
        params: MarketParams,
        state: ModelState,
        snap: SignalsSnapshot,
        now: float,
    ) -> tuple[Targets, float]:
        if snap.liquidity.regime is Liquidity.CRISIS and view.best_bid is not None and view.best_ask is not None:
            return Targets((), view.mid, f"liquidity CRISIS: {snap.liquidity.reason}"), 1.0
        # PM4's spread is scaled by J in the model: widening by the signals' J too would apply it twice
        widen = snap.widen if params.model == "avellaneda" else snap.widen_ex_volatility
        tick = view.tick.pips
        back_off = snap.competitor.widen_ticks if snap.competitor.suggestion == "back_off" else 0
        min_spread = float(params.spread) * widen + 2 * back_off * tick / PIPS_PER_UNIT
        if snap.flow.skew_ticks and state.fair is not None:
            state = replace(state, fair=state.fair + snap.flow.skew_ticks * tick)
        if params.model == "avellaneda":
            kappa = snap.intensity.kappa
            a = AvellanedaParams(params.gamma, self.horizon(params, now), params.kappa if kappa is None else kappa,
                                 params.fee_ticks, min_spread, params.size_mult)
            targets = avellaneda_quotes(view, position, params, state, a)
        else:
            p = PM4Params(params.gamma_a, params.skew_ticks, params.k_vol, params.fee_ticks, min_spread,
                          params.size_mult, params.j_min, params.j_max)
            v = snap.volatility
            j = regime_ratio(v.fast_abs, v.slow_abs, params.j_min, params.j_max)
            targets = pm4_quotes(view, position, params, state, p, j)
        if snap.competitor.suggestion == "match":
            targets = _join_best(view, targets)
        notes = [targets.reason]
        if widen > 1.0:
            notes.append(f"widen x{widen:.2f}")
        if back_off:
            notes.append(f"competitor: back off {back_off} tick")
        return Targets(targets.quotes, targets.fair, "; ".join(notes)), widen

    def _score(self, view: BookView, targets: Targets) -> RewardScore | None:
        """Our reward score for ``targets`` (PROTOCOL §8), around the size-cutoff-adjusted mid."""
        m = self.market
        mid = adjusted_mid(view.bids, view.asks, float(m.reward_min_size))
        if mid is None:
            return None
        return reward_score([(q.price, float(q.size)) for q in targets.bids],
                            [(q.price, float(q.size)) for q in targets.asks],
                            mid, float(m.reward_max_spread), float(m.reward_min_size))

    def _rewards(self, view: BookView, targets: Targets, position: Decimal, params: MarketParams) -> Targets:
        """The inner layer pulled into the reward band when its size scores (``targets`` unchanged when
        there is no adjusted mid or the result would cross itself). Only the sides
        ``clamp_to_rewards`` lets move for this inventory: flat, both; long, the ask; short, the bid. The
        side that adds to the inventory keeps the model's price and its tapered size."""
        m = self.market
        mid = adjusted_mid(view.bids, view.asks, float(m.reward_min_size))
        if mid is None:
            return targets
        bids = [q for q in targets.quotes if q.side is Side.BUY]
        asks = [q for q in targets.quotes if q.side is Side.SELL]
        new_bid, new_ask = clamp_to_rewards(bids[0].price if bids else None, asks[0].price if asks else None,
                                            mid, float(m.reward_max_spread), view.tick, float(position))
        # a side moves only when its order scores as it is (at least the reward minimum size): one under
        # it earns nothing, so pulling it in would only pay the adverse selection of a tighter quote; and
        # the size stays the model's (raising it to the minimum would undo the inventory taper)
        if position <= 0 and bids and new_bid is not None and view.best_ask is not None and new_bid < view.best_ask \
                and bids[0].size >= m.reward_min_size:
            bids[0] = Quote(Side.BUY, max(new_bid, bids[0].price), bids[0].size)
        if position >= 0 and asks and new_ask is not None and view.best_bid is not None and new_ask > view.best_bid \
                and asks[0].size >= m.reward_min_size:
            asks[0] = Quote(Side.SELL, min(new_ask, asks[0].price), asks[0].size)
        if bids and asks and bids[0].price >= asks[0].price:  # never self-cross
            return targets
        # a larger inner layer must not take the side past its room to the limit: outer layers give way
        bids = list(cap_total(bids, params.position_limit - position))
        asks = list(cap_total(asks, params.position_limit + position))
        return Targets(tuple(bids) + tuple(asks), targets.fair, targets.reason)


def _venue_minimum(targets: Targets, min_size: Decimal, position: Decimal, limit: Decimal) -> Targets:
    """The venue refuses orders under the market's minimum size. A quote the inventory taper (or a
    cap) shrank below it is raised to the minimum while the side's room to the limit allows, else
    dropped: the taper still slows the adding side, and the limit still holds exactly."""
    if all(q.size >= min_size for q in targets.quotes):
        return targets
    room = {Side.BUY: limit - position, Side.SELL: limit + position}
    out: list[Quote] = []
    dropped = 0
    for q in targets.quotes:
        size = q.size if q.size >= min_size else min_size
        if size > room[q.side]:
            dropped += 1
            continue
        room[q.side] -= size
        out.append(q if size == q.size else Quote(q.side, q.price, size))
    reason = targets.reason + (f"; {dropped} quote(s) under the venue minimum {min_size} dropped" if dropped else "")
    return Targets(tuple(out), targets.fair, reason)


def _join_best(view: BookView, targets: Targets) -> Targets:
    """Competitor ``match``: raise the inner bid to the best bid / lower the inner ask to the best
    ask (join their price) when that does not cross the book or our own other side."""
    quotes = list(targets.quotes)
    bid_i = next((i for i, q in enumerate(quotes) if q.side is Side.BUY), None)
    ask_i = next((i for i, q in enumerate(quotes) if q.side is Side.SELL), None)
    ask_p = quotes[ask_i].price if ask_i is not None else None
    if bid_i is not None and view.best_bid is not None and view.best_ask is not None:
        q = quotes[bid_i]
        if q.price < view.best_bid < view.best_ask and (ask_p is None or view.best_bid < ask_p):
            quotes[bid_i] = Quote(Side.BUY, view.best_bid, q.size)
    bid_p = quotes[bid_i].price if bid_i is not None else None
    if ask_i is not None and view.best_ask is not None and view.best_bid is not None:
        q = quotes[ask_i]
        if q.price > view.best_ask > view.best_bid and (bid_p is None or view.best_ask > bid_p):
            quotes[ask_i] = Quote(Side.SELL, view.best_ask, q.size)
    return Targets(tuple(quotes), targets.fair, targets.reason + "; competitor: match")
