"""Our orders from the moment they are signed until nothing of them can fill any more.

A limit must hold against everything that could still fill, not only against what has filled. An
order can fill while it is in flight (sent, answer not back), while it rests, while a cancel is on its
way, and — as far as we know — until every fill it had at the venue is booked. So an order has two
lives here:

* **open** (``submitted`` until the venue acknowledges it, then ``live``): the engine diffs its
  targets against these, and they count with their unbooked size;
* **closing**: the venue said it can no longer fill (cancel confirmed, ``not_canceled`` — "already
  canceled or matched" —, a CANCELLATION or full MATCHED event, gone from ``/data/orders``, a
  cancel-all confirmed). It still counts with ``final − booked`` (``size − booked`` while the venue's
  final matched size is unknown) until that is zero, or until a trade replay that *started after*
  it closed has been booked: every fill it ever had is then in the ledger.

``booked(order_id)`` comes from the ledger (``Ledger.booked_for``): what we booked for the order,
failed legs included (the venue does not give a failed match back to the order).

Pure bookkeeping, no I/O: the execution calls it, tests drive it directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from ..domain.market import Side
from ..domain.prices import MAX_PIPS
from .execution import OpenOrder

ZERO = Decimal(0)
CLOSED_KEPT = 20_000  # closes remembered for ``closed_since`` (minutes of churn at hundreds of markets)


@dataclass(slots=True)
class _Closing:
    order: OpenOrder
    seq: int  # when it closed, on the tracker's own clock (``replay_started`` compares with it)
    final: Decimal | None  # the venue's final matched size, once known


class OrderTracker:
    """See the module docstring."""

    def __init__(self, booked: Callable[[str], Decimal]) -> None:
        self._booked = booked
        self._open: dict[str, OpenOrder] = {}
        self._closing: dict[str, _Closing] = {}
        #: market → ids of its open / closing orders: per-market questions cost that market's orders,
        #: not every order of hundreds of markets
        self._open_in: dict[str, dict[str, None]] = {}  # (dicts: insertion order, as ``_open``'s)
        self._closing_in: dict[str, dict[str, None]] = {}
        self._seq = 0
        self._closed_seq: dict[str, int] = {}  # the last CLOSED_KEPT closes: order id → ``_seq`` then
        #: markets whose orders changed since the engine last looked (``Execution.touched``)
        self.touched: set[str] = set()
        #: Σ over open orders of what each locks at the venue (``locked``), in share·pips: kept as the
        #: open set changes — the balance check before every placement asked for it by a walk of every
        #: open order (~600 at 300 markets)
        self._locked = ZERO

    # ------------------------------------------------------------ the open set
    def add(self, order: OpenOrder) -> None:
        old = self._open.get(order.order_id)
        if old is not None:
            self._locked -= locks(old)
        self._open[order.order_id] = order
        self._locked += locks(order)
        self._open_in.setdefault(order.condition_id, {})[order.order_id] = None
        self.touched.add(order.condition_id)

    def _pop_open(self, order_id: str) -> OpenOrder | None:
        o = self._open.pop(order_id, None)
        if o is not None:
            self._locked -= locks(o)
            _drop(self._open_in, o.condition_id, order_id)
            self.touched.add(o.condition_id)
        return o

    def _pop_closing(self, order_id: str) -> _Closing | None:
        c = self._closing.pop(order_id, None)
        if c is not None:
            _drop(self._closing_in, c.order.condition_id, order_id)
            self.touched.add(c.order.condition_id)
        return c

    def get(self, order_id: str) -> OpenOrder | None:
        return self._open.get(order_id)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._open

    def __len__(self) -> int:
        return len(self._open)

    def open(self, condition_id: str | None = None) -> list[OpenOrder]:
        if condition_id is None:
            return list(self._open.values())
        return [self._open[i] for i in self._open_in.get(condition_id, ())]

    def ids(self) -> list[str]:
        return list(self._open)

    def closing_ids(self) -> list[str]:
        """Orders the venue closed whose fills may still come (their booked size is still read)."""
        return list(self._closing)

    def update(self, order_id: str, **changes: object) -> None:
        o = self._open.get(order_id)
        if o is not None:
            new = self._open[order_id] = replace(o, **changes)  # type: ignore[arg-type]  # OpenOrder fields by name
            self._locked += locks(new) - locks(o)
            self.touched.add(o.condition_id)

    def locked(self) -> float:
        """Dollars the open orders lock at the venue: the remainder of each BUY at the price of the token
        it buys (a YES bid at its price; a YES ask sent as a NO bid at 1 − its price)."""
        return float(self._locked / MAX_PIPS)

    def forget(self, order_id: str) -> None:
        """The order never rested (a definitive refusal, or never sent): it cannot fill."""
        self._pop_open(order_id)

    # ------------------------------------------------------------ closing
    def close(self, order_id: str, final: Decimal | None = None) -> None:
        """The venue says the order can no longer fill; ``final``: its matched size, when known."""
        c = self._closing.get(order_id)
        if c is not None:
            if final is not None:
                c.final = final
                self.touched.add(c.order.condition_id)
                self._sweep_one(order_id, c)
            return
        o = self._pop_open(order_id)
        if o is None:
            return  # unknown or already settled
        self._seq += 1
        c = self._closing[order_id] = _Closing(o, self._seq, final)
        self._closed_seq[order_id] = self._seq
        if len(self._closed_seq) > CLOSED_KEPT:
            del self._closed_seq[next(iter(self._closed_seq))]
        self._closing_in.setdefault(o.condition_id, {})[order_id] = None
        self._sweep_one(order_id, c)

    def reopen(self, order_id: str) -> bool:
        """The venue lists as resting an order we took as closed (a late landing, a stale answer): it
        is open again, whatever we believed. True when it was closing."""
        c = self._pop_closing(order_id)
        if c is None:
            return False
        self.add(replace(c.order, status="live"))
        return True

    def close_all(self) -> None:
        """A cancel-all the venue confirmed: nothing of ours rests."""
        for oid in list(self._open):
            self.close(oid)

    def mark(self) -> int:
        """A point on the tracker's clock: ``closed_since(order_id, mark)`` tells what closed after it."""
        self._seq += 1
        return self._seq

    def closed_since(self, order_id: str, mark: int) -> bool:
        """Whether the venue told us after ``mark`` that the order can no longer fill: a list of open
        orders read meanwhile may predate that and still show it."""
        return self._closed_seq.get(order_id, 0) > mark

    def replay_started(self) -> int:
        """A trade replay is about to read the venue's history: orders closed before now will have
        every fill in it. Pass the returned mark to ``replay_done`` once its trades are booked."""
        self._seq += 1
        return self._seq

    def replay_done(self, mark: int) -> None:
        for oid in [oid for oid, c in self._closing.items() if c.seq < mark]:
            self._pop_closing(oid)

    def sweep(self, order_id: str | None = None) -> None:
        """Release closing orders whose fills are all booked (one, or all)."""
        items = [(order_id, self._closing[order_id])] if order_id in self._closing else (
            list(self._closing.items()) if order_id is None else [])
        for oid, c in items:
            self._sweep_one(oid, c)

    def _sweep_one(self, order_id: str, c: _Closing) -> None:
        if self._booked(order_id) >= (c.final if c.final is not None else c.order.size):
            self._pop_closing(order_id)

    def closing(self, condition_id: str | None = None) -> int:
        return len(self._closing) if condition_id is None else len(self._closing_in.get(condition_id, ()))

    # ------------------------------------------------------------ what could still fill
    def unfilled(self, order: OpenOrder, final: Decimal | None = None) -> Decimal:
        cap = order.size if final is None else min(final, order.size)
        return max(cap - self._booked(order.order_id), ZERO)

    def reserved(self, condition_id: str | None = None, *, closing_only: bool = False
                 ) -> dict[str, tuple[Decimal, Decimal]]:
        """condition id → (YES bid shares, YES ask shares) that could still fill: open orders (unless
        ``closing_only``) and closing ones, each less what is booked for it."""
        out: dict[str, list[Decimal]] = {}

        def add(orders: Iterable[tuple[OpenOrder, Decimal | None]]) -> None:
            for o, final in orders:
                if condition_id is not None and o.condition_id != condition_id:
                    continue
                left = self.unfilled(o, final)
                if left:
                    r = out.setdefault(o.condition_id, [ZERO, ZERO])
                    r[0 if o.side is Side.BUY else 1] += left

        if condition_id is None:
            opened: Iterable[OpenOrder] = self._open.values()
            closing: Iterable[_Closing] = self._closing.values()
        else:
            opened = [self._open[i] for i in self._open_in.get(condition_id, ())]
            closing = [self._closing[i] for i in self._closing_in.get(condition_id, ())]
        if not closing_only:
            add((o, None) for o in opened)
        add((c.order, c.final) for c in closing)
        return {cid: (b, a) for cid, (b, a) in out.items()}


def locks(o: OpenOrder) -> Decimal:
    """Share·pips ``o`` locks at the venue: a BUY's remainder at the price of the token it buys (a YES
    bid at its price; a YES ask sent as a NO bid at 1 − its price); a SELL locks shares, not collateral."""
    if o.venue_side != "BUY":
        return ZERO
    return o.remaining * (o.price if o.side is Side.BUY else MAX_PIPS - o.price)


def _drop(index: dict[str, dict[str, None]], condition_id: str, order_id: str) -> None:
    ids = index.get(condition_id)
    if ids is not None:
        ids.pop(order_id, None)
        if not ids:
            del index[condition_id]
