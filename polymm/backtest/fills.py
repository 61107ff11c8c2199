"""Where simulated orders rest and fill: our orders at a simulated venue, in simulated time, with latency.

Both simulations send what a step decides (``pipeline.step``: cancels and quotes) to a ``SimVenue``:

``MatchingVenue`` (the synthetic backtest)
    Our orders rest in the stand-in's own ``MatchingEngine`` next to the synthetic flow's, owner
    ``polymm``, post-only GTC: price-time priority, partial fills and post-only rejects are the
    engine's. A fill is a maker fill of ours in one of its ``Trade`` events.

``RecordedVenue`` (the replay)
    The other side is the recorded book (``BookSet``):

    * an order lands behind the size the recording shows resting at its price (its queue position);
      an order that would cross the recorded book when it lands (as the venue holds it: see the last
      rule) is refused, as the venue refuses a post-only order that would take (counted);
    * a recorded print at our price consumes the queue ahead of us first and only the rest fills us;
      a print through our price (a taker sell below our bid, a taker buy above our ask) reached us
      first and fills us up to its size; fills are partial;
    * a print that takes everything the recording shows at our price cleared the level: the taker
      saw our order too (it rested there) and cleared the level whole, so our order fills completely.
      Takers that sweep size their orders to the depth they see — the stand-in's informed trader takes
      whole levels, as sweeping takers do — and the recorded print was sized without our order in
      the book. Without this rule an order at the last level of a sweep was never filled: the print
      exactly equals the queue ahead of it (``bench/fill_gap_bench.py`` measured what that hid). Prints
      are taken to come before the book change they cause, as the stand-in sends them; a recording
      with the other order makes this rule fill us more often, never less;
    * the queue ahead shrinks when the recorded level shrinks below it (orders ahead of us cancelled);
      a level that shrinks without a print is taken to lose orders behind us first, as a cautious
      queue model does;
    * a recorded order at or through the price of a resting order of ours (an ask at or below our bid,
      a bid at or above our ask) could not have rested there with ours: no venue shows a crossed book.
      A matching engine either trades the two (the recorded order was marketable) or refuses the
      newcomer (post-only, as every maker of the stand-in's flow sends). The recording cannot say which;
      the replay takes the refusal: our order keeps resting at the touch and filling from prints, and
      what the strategy sees (``view``, ``touch``) and what our landing orders are checked against
      leave those recorded levels out — until no order of ours is there to refuse them (their sender
      would have sent them again). The earlier rule dropped *our* order from the view instead, so the
      step cancelled it at once: a free escape from every quote the market moved through, which no
      venue offers (``refuse_crossing`` off). ``crossed`` counts the times the recording came to
      cross an order of ours.

    ``view`` is the recorded book with our resting orders in it, as the live feed shows the engine
    its own orders: the strategy must see the book it would see trading (its mid, the levels it
    joins), or it decides on a different market than the one it trades in. What the recording cannot
    say — how the other traders would have reacted to our orders — is not simulated:
    ``bench/fill_gap_bench.py`` measures what that leaves.

    Measured (``bench/fill_gap_bench.py``, informed flow, 80 seeds) and kept: the refusal makes the
    fills marked at the hidden fair 10 s later 4.3 ± 1.0 USDC per run worse, as they are in the engine
    (their final-mark P&L moves +0.9 ± 1.3: within noise). Measured on seeds 1–40 and left out, each
    moving the replay's P&L further above the engine's: filling us against the crossing order instead
    of refusing it (the same 10-s effect, +1.1 USDC per run at the end, 17% more volume than the
    engine, whose makers never take); a print through our price that cleared its level filling ours
    whole rather than up to its size (mostly noise-taker fills: +1.1 per run); orders ahead leaving a
    level in proportion to their share of it rather than behind us first (+0.7 per run).

Latency
    What a step decides reaches the venue ``latency_s`` simulated seconds later: its cancels take effect
    and its orders land at that instant, cancels first. Until then the old orders rest and can fill, so
    a cancel racing a fill loses honestly (``late_cancels`` counts cancels that found nothing left). Just
    before the orders land they pass the owner's placement check (``recheck``: the engine's ``_place``
    after its cancels — ``pipeline.recheck`` against everything that could still fill then). A market
    with actions in flight does not step (the engine steps a market under a lock, so its next step waits
    for the round trip): ``busy`` says so, and the owner steps it once they landed. The default
    ``LATENCY_S`` is the loopback round trip measured against the stand-in by ``bench/order_bench.py``
    (one quote placed at a time through ``LiveExecution``: p50 1.53 ms, p99 2.86 ms). ``latency_s = 0``
    lands everything at the instant of the step.

The owner drives time: before it lets anything else happen at time ``t`` it sets its clock to ``due()``
and calls ``land()`` for every action due before ``t``. Orders are kept in YES terms (``OpenOrder``),
routed to a token as ``LiveExecution`` routes them (``venue.execution.route``: sell what we hold first).
Everything is deterministic: ids come from counters, nothing reads the wall clock.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from polymm.domain.book_set import BookSet
from polymm.domain.market import Market, Side
from polymm.domain.order_book import BookView, Level, OrderBook
from polymm.domain.portfolio import Fill
from polymm.domain.prices import MAX_PIPS
from polymm.domain.quoting import Quote
from polymm.venue.execution import OpenOrder, OrderRequest, route
from polymm_standin.sim import POST_ONLY_CROSSES, MatchingEngine, OrderRejected, Trade

#: Our owner name at the simulated venue.
OWNER = "polymm"
#: Order and cancel latency (seconds): the loopback round trip measured with bench/order_bench.py.
LATENCY_S = 0.0015
_ZERO = Decimal(0)
_NO_ROOM = (_ZERO, _ZERO)

#: ``on_fill(fill, taker)``: a fill of ours (YES terms) and the taker's owner ("" when unknown).
OnFill = Callable[[Fill, str], None]
#: The placement check run just before orders land: the quotes asked for → the quotes allowed.
Recheck = Callable[[tuple[Quote, ...]], Sequence[Quote]]


@dataclass(slots=True)
class Action:
    """What one step sent to the venue, landing at ``due``."""

    due: float
    seq: int
    condition_id: str
    cancel: tuple[str, ...]
    place: tuple[Quote, ...]
    recheck: Recheck | None


class SimVenue:
    """The latency, order bookkeeping and routing both simulated venues share (module docstring).

    Subclasses say how an order rests (``_rest``) and is withdrawn (``_withdraw``), and report fills
    through ``_filled``."""

    def __init__(self, on_fill: OnFill, clock: Callable[[], float], position: Callable[[str], Decimal],
                 latency_s: float = LATENCY_S) -> None:
        if latency_s < 0:
            raise ValueError(f"latency_s must be >= 0, got {latency_s}")
        self.on_fill = on_fill
        self.clock = clock
        self.position = position
        self.latency_s = latency_s
        self.markets: dict[str, Market] = {}
        self._orders: dict[str, OpenOrder] = {}  # resting, YES terms
        self._by_market: dict[str, dict[str, OpenOrder]] = {}  # the same, per market
        self._closing: set[str] = set()  # resting orders whose cancel is on its way
        self._pending: list[tuple[float, int, Action]] = []
        self._busy: dict[str, int] = {}  # market → actions in flight
        self._seq = itertools.count()
        self.places = 0  # orders that landed and rest
        self.cancels = 0  # cancels sent
        self.late_cancels = 0  # cancels that landed after the order had filled completely
        self.cuts = 0  # placements the check at landing cut
        self.post_only_rejects = 0
        self.size_rejects = 0
        self.other_rejects = 0
        self.reject_messages: dict[str, int] = {}

    def add_market(self, market: Market) -> None:
        """Know ``market`` (a later definition, e.g. on a new tick, replaces it)."""
        self.markets[market.condition_id] = market

    # ------------------------------------------------------------------ what the owner reads

    def open_orders(self, condition_id: str | None = None) -> list[OpenOrder]:
        """Our resting orders (YES terms), oldest first; those whose cancel is on its way are left out."""
        closing = self._closing
        orders = self._orders if condition_id is None else self._by_market.get(condition_id, {})
        return [o for o in orders.values() if o.order_id not in closing]

    def reserved(self, condition_id: str | None = None, *, closing_only: bool = False
                 ) -> dict[str, tuple[Decimal, Decimal]]:
        """condition id → (YES bid shares, YES ask shares) of our orders that could still fill: resting
        ones, and those whose cancel is on its way (only those with ``closing_only``)."""
        out: dict[str, tuple[Decimal, Decimal]] = {}
        closing = self._closing
        for o in self._orders.values():
            if (condition_id is not None and o.condition_id != condition_id) or (
                    closing_only and o.order_id not in closing):
                continue
            b, a = out.get(o.condition_id, _NO_ROOM)
            out[o.condition_id] = (b + o.remaining, a) if o.side is Side.BUY else (b, a + o.remaining)
        return out

    def inner_quotes(self, condition_id: str) -> tuple[int | None, int | None]:
        """(best bid, best ask) of our resting orders in the market, YES pips (None: no order that side)."""
        bid = ask = None
        for o in self._by_market.get(condition_id, {}).values():
            if o.side is Side.BUY:
                if bid is None or o.price > bid:
                    bid = o.price
            elif ask is None or o.price < ask:
                ask = o.price
        return bid, ask

    def busy(self, condition_id: str) -> bool:
        """Whether the market has actions in flight (its next step waits for them)."""
        return condition_id in self._busy

    def due(self) -> float | None:
        """When the next action lands (None when nothing is in flight)."""
        return self._pending[0][0] if self._pending else None

    # ------------------------------------------------------------------ what the owner sends

    def submit(self, condition_id: str, cancel: Sequence[str], place: Sequence[Quote],
               recheck: Recheck | None = None) -> Action | None:
        """Send a step's cancels and quotes; they land ``latency_s`` from now (at once when 0). Returns the
        action in flight, or None when it landed at once or there was nothing to send."""
        if not cancel and not place:
            return None
        self.cancels += len(cancel)
        act = Action(self.clock() + self.latency_s, next(self._seq), condition_id, tuple(cancel), tuple(place), recheck)
        if self.latency_s == 0:
            self._land(act)
            return None
        self._closing.update(oid for oid in cancel if oid in self._orders)
        heapq.heappush(self._pending, (act.due, act.seq, act))
        self._busy[condition_id] = self._busy.get(condition_id, 0) + 1
        return act

    def cancel_market(self, condition_id: str) -> int:
        """Cancel every resting order of the market (with the same latency); returns how many."""
        ids = [o.order_id for o in self.open_orders(condition_id)]
        self.submit(condition_id, ids, ())
        return len(ids)

    def cancel_all(self) -> int:
        """Cancel every resting order of ours; returns how many."""
        return sum(self.cancel_market(cid) for cid in dict.fromkeys(o.condition_id for o in self.open_orders()))

    def land(self) -> Action:
        """Land the earliest action in flight (the owner's clock reads its ``due`` time)."""
        _, _, act = heapq.heappop(self._pending)
        n = self._busy[act.condition_id] - 1
        if n:
            self._busy[act.condition_id] = n
        else:
            del self._busy[act.condition_id]
        self._land(act)
        return act

    def _land(self, act: Action) -> None:
        if act.cancel:
            for oid in act.cancel:
                self._closing.discard(oid)
            gone = self._withdraw(act.cancel)
            self.late_cancels += len(act.cancel) - gone
        quotes = act.place
        if quotes and act.recheck is not None:
            allowed = tuple(act.recheck(quotes))
            if allowed != quotes:
                self.cuts += 1
            quotes = allowed
        if quotes:
            self._place(self.markets[act.condition_id], quotes)

    def _place(self, market: Market, quotes: Sequence[Quote]) -> None:
        for q in quotes:
            token, venue_side, venue_price = route(market, OrderRequest(q.side, q.price, q.size), self._free)
            order = self._rest(market, q, token, venue_side, venue_price)
            if order is not None:
                self._put(order)
                self.places += 1

    def _free(self, token: str) -> Decimal:
        """Shares of ``token`` we hold and no resting sell of ours reserves (the venue's balance check)."""
        for cid, m in self.markets.items():
            if token in (m.yes_token, m.no_token):
                q = self.position(cid)
                held = max(q, _ZERO) if token == m.yes_token else max(-q, _ZERO)
                break
        else:
            return _ZERO
        selling = sum((o.remaining for o in self._orders.values() if o.token_id == token and o.venue_side == "SELL"),
                      _ZERO)
        return held - selling

    def _reject(self, message: str) -> None:
        if message == POST_ONLY_CROSSES:
            self.post_only_rejects += 1
            key = message
        elif "lower than the minimum" in message:
            self.size_rejects += 1
            key = "size under the minimum"
        else:
            self.other_rejects += 1
            key = message
        self.reject_messages[key] = self.reject_messages.get(key, 0) + 1

    def _filled(self, order: OpenOrder, size: Decimal, price: int, trade_id: str, taker: str) -> None:
        """Book ``size`` of ``order`` filled at ``price`` (YES pips) and report it."""
        if order.filled + size >= order.size:
            self._drop(order.order_id)
            self._closing.discard(order.order_id)
        else:
            self._put(replace(order, filled=order.filled + size))
        fill = Fill(order.condition_id, order.order_id, order.side, price, size, _ZERO, self.clock(), trade_id,
                    order.token_id, order.token_id == self.markets[order.condition_id].no_token)
        self.on_fill(fill, taker)

    def _put(self, order: OpenOrder) -> None:
        self._orders[order.order_id] = order
        self._by_market.setdefault(order.condition_id, {})[order.order_id] = order

    def _drop(self, order_id: str) -> bool:
        order = self._orders.pop(order_id, None)
        if order is None:
            return False
        del self._by_market[order.condition_id][order_id]
        return True

    # ------------------------------------------------------------------ the venue's own part

    def _rest(self, market: Market, quote: Quote, token: str, venue_side: str, venue_price: int) -> OpenOrder | None:
        raise NotImplementedError

    def _withdraw(self, order_ids: Sequence[str]) -> int:
        """Cancel the ones still resting; returns how many were."""
        raise NotImplementedError


class MatchingVenue(SimVenue):
    """Our orders in the stand-in's ``MatchingEngine`` (module docstring)."""

    def __init__(self, matching: MatchingEngine, on_fill: OnFill, clock: Callable[[], float],
                 position: Callable[[str], Decimal], latency_s: float = LATENCY_S, owner: str = OWNER) -> None:
        super().__init__(on_fill, clock, position, latency_s)
        self.matching = matching
        self.owner = owner
        for m in matching.markets:
            self.add_market(m)
        matching.add_listener(self._on_event)

    def _rest(self, market: Market, quote: Quote, token: str, venue_side: str, venue_price: int) -> OpenOrder | None:
        try:
            result = self.matching.place(self.owner, token, venue_side, venue_price, quote.size, post_only=True)
        except OrderRejected as e:
            self._reject(e.message)
            return None
        if result.resting is None:  # post-only never matches on entry; kept for a venue that would
            return None
        return OpenOrder(result.order_id, market.condition_id, quote.side, quote.price, quote.size,
                         token_id=token, venue_side=venue_side, placed_at=self.clock())

    def _withdraw(self, order_ids: Sequence[str]) -> int:
        gone = self.matching.cancel_orders(oid for oid in order_ids if oid in self._orders)
        for o in gone:
            self._drop(o.id)
        return len(gone)

    def _on_event(self, event: object) -> None:
        if type(event) is not Trade:
            return
        trade: Trade = event
        for f in trade.fills:
            if f.maker_owner != self.owner:
                continue
            order = self._orders.get(f.maker_order_id)
            if order is None:
                continue
            self._filled(order, Decimal(f.size).scaleb(-6), f.yes_price, trade.id, trade.taker_owner)


class RecordedVenue(SimVenue):
    """Our orders queued in a recorded book (module docstring). The owner passes every book change
    (``on_book``) and every print (``on_trade``) in recorded order."""

    def __init__(self, books: BookSet, on_fill: OnFill, clock: Callable[[], float],
                 position: Callable[[str], Decimal], latency_s: float = LATENCY_S) -> None:
        super().__init__(on_fill, clock, position, latency_s)
        self.books = books
        #: a print that clears the recorded level fills all of ours there (module docstring); False only
        #: to measure what the rule is worth (``bench/fill_gap_bench.py``)
        self.clear_levels = True
        #: a recorded order at or through the price of one of ours was refused (module docstring): the view
        #: leaves it out and ours stays; False only to measure what the rule is worth (the view then drops
        #: our order instead, and the step cancels it)
        self.refuse_crossing = True
        self.crossed = 0  # times the recorded book came to cross an order of ours (refused, or dropped)
        self._crossed: set[tuple[str, Side]] = set()  # (market, our side) crossed at the last book change
        self._ids = itertools.count(1)
        self._trades = itertools.count(1)

    def _rest(self, market: Market, quote: Quote, token: str, venue_side: str, venue_price: int) -> OpenOrder | None:
        book = self.books.get(market.condition_id)
        if book is None:
            self._reject("the market has no book")
            return None
        if quote.size < market.min_order_size:
            self._reject(f"Size ({quote.size}) lower than the minimum: {market.min_order_size}")
            return None
        bid, ask = self._recorded_touch(book)
        if (quote.side is Side.BUY and ask is not None and quote.price >= ask) or (
                quote.side is Side.SELL and bid is not None and quote.price <= bid):
            self._reject(POST_ONLY_CROSSES)  # it would take the recorded book: a post-only order is refused
            return None
        ahead = book.bids[quote.price] if quote.side is Side.BUY else book.asks[quote.price]
        return OpenOrder(f"sim-{next(self._ids)}", market.condition_id, quote.side, quote.price, quote.size,
                         token_id=token, venue_side=venue_side, queue_ahead=ahead, placed_at=self.clock())

    def _withdraw(self, order_ids: Sequence[str]) -> int:
        gone = 0
        for oid in order_ids:
            if self._drop(oid):
                gone += 1
        return gone

    def on_book(self, book: OrderBook) -> None:
        """The recorded level we queue on shrank below the size ahead of us: orders ahead left. Counts the
        recorded book coming to cross an order of ours (``crossed``)."""
        cid = book.condition_id
        mine = self._by_market.get(cid)
        if not mine:
            self._crossed.discard((cid, Side.BUY))
            self._crossed.discard((cid, Side.SELL))
            return
        top_bid, low_ask = _inner(mine.values())
        rec_bid, rec_ask = book.bid(), book.ask()
        for side, crossing in ((Side.BUY, top_bid is not None and rec_ask is not None and rec_ask <= top_bid),
                               (Side.SELL, low_ask is not None and rec_bid is not None and rec_bid >= low_ask)):
            if not crossing:
                self._crossed.discard((cid, side))
            elif (cid, side) not in self._crossed:
                self._crossed.add((cid, side))
                self.crossed += 1
        for o in list(mine.values()):
            level = book.bids[o.price] if o.side is Side.BUY else book.asks[o.price]
            if level < o.queue_ahead:
                self._put(replace(o, queue_ahead=level))

    def touch(self, book: OrderBook) -> tuple[int | None, int | None]:
        """Best bid and ask of ``view``'s book: the recorded ones or ours, whichever is better; recorded
        ones at or through our orders' prices left out (module docstring)."""
        bid, ask = self._recorded_touch(book)
        mine = self._by_market.get(book.condition_id)
        if not mine:
            return bid, ask
        top_bid, low_ask = _inner(mine.values())
        if not self.refuse_crossing:  # an order of ours the recorded book crosses is left out instead
            if top_bid is not None and ask is not None and top_bid >= ask:
                top_bid = max((o.price for o in mine.values() if o.side is Side.BUY and o.price < ask), default=None)
            if low_ask is not None and bid is not None and low_ask <= bid:
                low_ask = min((o.price for o in mine.values() if o.side is Side.SELL and o.price > bid), default=None)
        if top_bid is not None and (bid is None or top_bid > bid):
            bid = top_bid
        if low_ask is not None and (ask is None or low_ask < ask):
            ask = low_ask
        return bid, ask

    def _recorded_touch(self, book: OrderBook) -> tuple[int | None, int | None]:
        """The recorded best bid and ask as the venue would hold them: with ``refuse_crossing``, without
        the recorded orders at or through the price of a resting order of ours (module docstring)."""
        bid, ask = book.bid(), book.ask()
        mine = self._by_market.get(book.condition_id)
        if not mine or not self.refuse_crossing:
            return bid, ask
        top_bid, low_ask = _inner(mine.values())
        if low_ask is not None and bid is not None and bid >= low_ask:
            bid = next((lv.price for lv in book.bid_levels(MAX_PIPS) if lv.price < low_ask), None)
        if top_bid is not None and ask is not None and ask <= top_bid:
            ask = next((lv.price for lv in book.ask_levels(MAX_PIPS) if lv.price > top_bid), None)
        return bid, ask

    def view(self, book: OrderBook, depth: int) -> BookView:
        """``book.view(depth)`` with our resting orders added to their levels, and the recorded levels at or
        through their prices left out: the venue refused those orders (module docstring). With
        ``refuse_crossing`` off, an order of ours the recorded book crosses is left out instead (the step
        then cancels it: ``plan_orders``)."""
        v = book.view(depth)
        mine = self._by_market.get(book.condition_id)
        if not mine:
            return v
        bids, asks = list(v.bids), list(v.asks)
        if self.refuse_crossing:
            top_bid, low_ask = _inner(mine.values())
            if low_ask is not None and v.best_bid is not None and v.best_bid >= low_ask:
                bids = _beyond(book.bid_levels(MAX_PIPS), low_ask, depth, True)
            if top_bid is not None and v.best_ask is not None and v.best_ask <= top_bid:
                asks = _beyond(book.ask_levels(MAX_PIPS), top_bid, depth, False)
            for o in mine.values():
                _add_level(bids if o.side is Side.BUY else asks, o.price, float(o.remaining), o.side is Side.BUY)
        else:
            for o in mine.values():
                if o.side is Side.BUY:
                    if v.best_ask is None or o.price < v.best_ask:
                        _add_level(bids, o.price, float(o.remaining), True)
                elif v.best_bid is None or o.price > v.best_bid:
                    _add_level(asks, o.price, float(o.remaining), False)
        del bids[depth:], asks[depth:]
        return BookView(v.condition_id, v.epoch, v.version, v.tick, bids[0].price if bids else None,
                        asks[0].price if asks else None, bids[0].size if bids else 0.0,
                        asks[0].size if asks else 0.0, tuple(bids), tuple(asks), v.last_trade, v.timestamp)

    def on_trade(self, book: OrderBook, asset_id: str, price: int, size: float, taker_is_buy: bool) -> None:
        """A recorded print: through our price it fills us first; at our price the queue ahead first,
        and all of ours there when the print cleared the recorded level."""
        if asset_id == book.no_token:  # a NO print at q is a YES print at 1 − q, the taker's side flipped
            price, taker_is_buy = MAX_PIPS - price, not taker_is_buy
        left = Decimal(repr(size))
        if not left.is_finite() or left <= 0:
            return
        cid = book.condition_id
        # the level as it stood before this print (prints come before the book change they cause)
        cleared = self.clear_levels and size >= (book.asks[price] if taker_is_buy else book.bids[price])
        # best price first: a taker sell reaches the highest bids first, a taker buy the lowest asks
        resting = [o for o in self._by_market.get(cid, {}).values() if (o.side is Side.SELL) == taker_is_buy]
        resting.sort(key=lambda o: o.price, reverse=not taker_is_buy)
        for o in resting:
            through = price > o.price if taker_is_buy else price < o.price
            if not through and price != o.price:
                continue
            if left <= 0 and not (cleared and not through):
                break
            avail = left
            if not through and o.queue_ahead > 0:
                eaten = min(Decimal(repr(o.queue_ahead)), avail)
                o = replace(o, queue_ahead=o.queue_ahead - float(eaten))
                self._put(o)
                avail -= eaten
                left -= eaten  # the queue ahead took this part of the print: no order of ours behind gets it
            # a cleared level was taken whole: the taker would have taken ours too (module docstring)
            qty = o.remaining if cleared and not through else min(avail, o.remaining)
            if qty <= 0:
                continue
            left -= qty
            self._filled(o, qty, o.price, f"sim-trade-{next(self._trades)}", "")


def _inner(orders: Iterable[OpenOrder]) -> tuple[int | None, int | None]:
    """Our highest bid and lowest ask among ``orders`` (None for a side without one)."""
    bid = ask = None
    for o in orders:
        if o.side is Side.BUY:
            if bid is None or o.price > bid:
                bid = o.price
        elif ask is None or o.price < ask:
            ask = o.price
    return bid, ask


def _beyond(levels: Sequence[Level], price: int, depth: int, bids: bool) -> list[Level]:
    """Up to ``depth`` of best-first ``levels`` strictly worse than ``price`` (below it for bids)."""
    return [lv for lv in levels if (lv.price < price if bids else lv.price > price)][:depth]


def _add_level(levels: list[Level], price: int, size: float, bids: bool) -> None:
    """Add ``size`` at ``price`` to best-first ``levels`` (descending prices for bids, ascending for asks)."""
    for i, lv in enumerate(levels):
        if lv.price == price:
            levels[i] = Level(price, lv.size + size)
            return
        if (lv.price < price) if bids else (lv.price > price):
            levels.insert(i, Level(price, size))
            return
    levels.append(Level(price, size))


__all__ = ["LATENCY_S", "OWNER", "Action", "MatchingVenue", "RecordedVenue", "SimVenue"]
