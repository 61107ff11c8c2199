"""One market's quoting brain: signals + model state + the chosen model, as one pure step.

``MarketBrain.decide(view, position, params, now)`` is what the engine's strategy loop calls for a
market on every step (and what the comparison bench and backtests call in simulated time). It does no
I/O and reads no clock: ``now`` is passed in.

One step:

1. advance the model's EWMA state (``model_state.update`` at ``now``: σ² per second) and the signals
   (``SignalSet.on_book``), then take the signals' snapshot;
2. quote with the model ``params.model`` names (``params.QUOTING_MODELS``; ``quoting_models`` has each
   model and what the signal-following ones share);
3. where the market pays liquidity rewards, a model that chases them (``QuotingModel.chases_rewards``:
   the adaptive ones) has its inner layer pulled into the reward band around the size-cutoff-adjusted
   mid (docs/protocol.md §8), never crossing, and only an order that scores as it is — at least the reward
   minimum size: a smaller one would earn nothing for the adverse selection of a tighter quote, and its
   size is never raised (that would undo the inventory taper). Both sides while flat, only the side that
   reduces the inventory otherwise: the side that adds keeps the model's price and its tapered size.
   ``fixed`` keeps the operator's spread exactly. Our reward score is estimated either way
   (``docs/strategy.md`` has what the band earned and cost);
4. raise a quote the taper shrank below the venue's minimum size to that minimum while the room to the
   position limit allows, else drop it (the venue would refuse it);
5. check YES/NO parity of the result (a YES bid at b and a YES ask at a are, on the NO book, a NO ask
   at 1 − b and a NO bid at 1 − a: quotes with b < a never lock in a loss).

The result is a ``Decision``: the targets, the signals snapshot, the reward estimate and the reasons.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from . import rewards
from .market import Market, Side, parse_time
from .model_state import EwmaParams, ModelState, update
from .order_book import BookView
from .params import QUOTING_MODELS, MarketParams
from .portfolio import Fill
from .prices import MAX_PIPS, Tick
from .quoting import Quote, Targets, parity_ok
from .quoting_models.avellaneda import horizon
from .quoting_models.base import QuoteInputs
from .rewards import RewardScore
from .signals import EventConfig, SignalsConfig, SignalSet, SignalsSnapshot

#: The registered quoting models' names, in registration order.
MODELS: tuple[str, ...] = tuple(QUOTING_MODELS)


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


def instant(text: str) -> float | None:
    """An ISO date or time as epoch seconds (UTC when it names no zone; None when empty or unparsable):
    Gamma writes ``2027-01-01T12:00:00Z``, ``2027-01-01`` and ``2026-09-24 03:00:00+00``."""
    if not text:
        return None
    try:
        return parse_time(text).timestamp()
    except ValueError:
        return None


def end_time_of(market: Market) -> float | None:
    """The market's end date as epoch seconds (None when absent or unparsable)."""
    return instant(market.end_date)


def start_time_of(market: Market) -> float | None:
    """When the market's game starts, as epoch seconds (None when it has none)."""
    return instant(market.game_start)


#: A GTD expiration must lie at least 180 s ahead, and the venue ends the order 60 s before the
#: expiration it states (its security threshold): docs/protocol.md §5.3.
GTD_MIN_LEAD_S = 180.0
GTD_SECURITY_S = 60.0


def order_expiry(market: Market, now: float, events: EventConfig) -> int:
    """The expiration (epoch seconds) our orders in ``market`` carry as GTD, so that the venue ends
    them when quoting halts for its game's start or its end date (``events``' leads) even if we are
    gone: that moment plus the venue's 60 s security threshold. 0 (GTC) when the market has neither,
    or when the expiration would be under the venue's 180 s minimum lead (the halt pulls them then)."""
    times = []
    start = start_time_of(market)
    if start is not None:
        times.append(start - events.halt_before_start_min * 60.0)
    end = end_time_of(market)
    if end is not None:
        times.append(end - events.halt_before_end_h * 3600.0)
    if not times:
        return 0
    expiration = min(times) + GTD_SECURITY_S  # the venue ends it when the halt begins
    return int(expiration) if expiration - now >= GTD_MIN_LEAD_S + 5.0 else 0


class MarketBrain:
    """Model state and signals of one market; ``decide`` runs one strategy step (module docstring)."""

    __slots__ = ("_ewma", "market", "signals", "state")

    def __init__(self, market: Market, config: SignalsConfig | None = None, ewma: EwmaParams | None = None):
        self.market = market
        self.state = ModelState()
        self.signals = SignalSet(market.condition_id, config, end_time_of(market), start_time_of(market))
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
        if params.size_usd and view.mid:  # sized in dollars: the inner layer's shares at the mid
            params = params.model_copy(update={"size": shares_for_usd(params.size_usd, view.mid)})
        self.state = state = update(self.state, view, self._ewma, now)
        self.signals.on_book(now, view)
        snap = self.signals.snapshot(now)
        model = QUOTING_MODELS[params.model]
        inputs = QuoteInputs(view, position, params, state, snap, now, self.signals.events.end_time)
        targets, widen = model.quote(inputs)
        if snap.events.halt:  # the end date or a game's start is near: nothing rests (the plan cancels)
            targets = Targets((), targets.fair, f"halted: {snap.events.halt}")
        reward = None
        if self.market.reward_max_spread > 0 and targets.quotes:
            if model.chases_rewards:  # else the model's prices stand: the score is only estimated
                targets = rewards.pull_into_band(view, targets, position, params.position_limit, self.market)
            reward = rewards.estimate(view, targets, self.market)
        if (params.jitter_ticks or params.jitter_size) and params.layers > 1:
            targets = jittered(targets, params, self.market.condition_id, view.tick)
        if params.max_size_usd or params.max_notional_side:
            targets = dollar_caps(targets, params.max_size_usd, params.max_notional_side)
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
        return horizon(params.horizon_s, self.signals.events.end_time, now)


_CENT = Decimal("0.01")


def shares_for_usd(usd: Decimal, mid: float) -> Decimal:
    """``usd`` dollars in shares at ``mid`` (pips), rounded down to a cent of a share (at least one cent)."""
    return max((usd * MAX_PIPS / Decimal(repr(mid))).quantize(_CENT, ROUND_DOWN), _CENT)


def quote_cost(q: Quote) -> Decimal:
    """Dollars a share of ``q`` locks: its price as a bid, 1 − its price as an ask (a NO bought at 1 − p)."""
    return Decimal(q.price if q.side is Side.BUY else MAX_PIPS - q.price) / MAX_PIPS


def dollar_caps(targets: Targets, max_size_usd: Decimal, max_notional_side: Decimal) -> Targets:
    """Each quote cut to lock at most ``max_size_usd`` dollars, and each side's quotes together at most
    ``max_notional_side`` (best first: the outer layers are cut first); sizes rounded down to cents of a
    share, a quote cut to nothing dropped. 0 = no such cap. Never larger: the limits still hold."""
    out: list[Quote] = []
    left = {Side.BUY: max_notional_side, Side.SELL: max_notional_side}
    order = sorted(targets.quotes, key=lambda q: (q.side is Side.SELL, q.price if q.side is Side.SELL else -q.price))
    for q in order:
        cost = quote_cost(q)
        size = q.size
        if max_size_usd and cost > 0:
            size = min(size, (max_size_usd / cost).quantize(_CENT, ROUND_DOWN))
        if max_notional_side and cost > 0:
            size = min(size, (left[q.side] / cost).quantize(_CENT, ROUND_DOWN))
            left[q.side] -= size * cost
        if size > 0:
            out.append(q if size == q.size else Quote(q.side, q.price, size))
    cut = len(out) < len(targets.quotes) or any(a.size != b.size for a, b in zip(out, order, strict=False))
    reason = targets.reason + ("; sizes cut to the dollar caps" if cut else "")
    return Targets(tuple(out), targets.fair, reason)


def jittered(targets: Targets, params: MarketParams, condition_id: str, tick: Tick) -> Targets:
    """The outer layers moved away from the book by 0..``jitter_ticks`` ticks and shrunk by up to
    ``jitter_size`` of their size (rounded down to cents), the inner quote of each side as the model
    set it. Never toward the book and never larger: no crossing, no new exposure. The draw is a hash of
    the seed, the market, the side, the layer and the side's inner price: deterministic, and the same
    while the inner quote stays (a quote that keeps its price keeps its jitter: no requote)."""
    out: list[Quote] = []
    for side, sign in ((Side.BUY, -1), (Side.SELL, 1)):
        quotes = sorted((q for q in targets.quotes if q.side is side), key=lambda q: sign * q.price)
        if not quotes:
            continue
        inner = quotes[0].price
        out.append(quotes[0])
        for i, q in enumerate(quotes[1:], start=1):
            h = hashlib.blake2b(f"{params.jitter_seed}:{condition_id}:{side.value}:{i}:{inner}".encode(),
                                digest_size=8).digest()
            u, v = int.from_bytes(h[:4], "big") / 2**32, int.from_bytes(h[4:], "big") / 2**32
            price = q.price + sign * int(u * (params.jitter_ticks + 1)) * tick.pips
            size = (q.size * Decimal(str(1.0 - v * params.jitter_size))).quantize(Decimal("0.01"), ROUND_DOWN)
            if tick.min_price <= price <= tick.max_price and size > 0:
                out.append(q if (price, size) == (q.price, q.size) else Quote(side, price, size))
    return Targets(tuple(out), targets.fair, targets.reason)


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
