"""Limits hold against the worst case, over random interleavings (hypothesis state machine).

The venue here is a model — the one thing this test cannot run for real is an adversary choosing the
order in which the venue's answers and events reach us. Everything on our side is the real code:
``Ledger`` (fills, statuses, reversals, restore), ``OrderTracker`` (what could still fill),
``positions_for`` and ``RiskEngine.check`` (the room each placement gets).

The venue keeps our orders (in flight, resting, done) and the truth: our position per market. It
acks or rejects orders, fills resting ones (possibly as ghost fills that FAIL later), cancels on
request, and queues every answer and event for us. Those are delivered in any order, any time
later — or lost to a restart, after which the engine comes back from its journal (which may miss
its last few fills), the venue cancels every order of ours and the engine replays the venue's trades.

Whatever happens, the venue's position in each market stays within the position limit and their
sum within the total — the acceptance of issue 11 ("the worst-case position never exceeds any limit").
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal as D

from hypothesis import HealthCheck, settings, target
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from polymm.domain.ledger import Ledger
from polymm.domain.market import Side
from polymm.domain.portfolio import Fill
from polymm.domain.quoting import Quote
from polymm.domain.requote import positions_for
from polymm.domain.risk import RiskEngine, RiskLimits
from polymm.venue.execution import OpenOrder
from polymm.venue.order_tracker import OrderTracker

MARKETS = ("0x" + "a1" * 32, "0x" + "b2" * 32)
TOKENS = {m: (f"{i}1", f"{i}2") for i, m in enumerate(MARKETS)}
LIMIT = D(15)
TOTAL = D(25)
PRICE = 5000


@dataclass
class VOrder:
    cid: str
    side: Side
    size: D
    matched: D = D(0)
    state: str = "flight"  # flight | resting | done


@dataclass
class VTrade:
    trade_id: str
    order_id: str
    cid: str
    side: Side
    size: D
    status: str = "MATCHED"


@dataclass
class Engine:
    """Our side, as LiveExecution and Engine.step use the real pieces."""

    ledger: Ledger = field(default_factory=Ledger)
    tracker: OrderTracker = field(init=False)
    risk: RiskEngine = field(default_factory=lambda: RiskEngine(RiskLimits(
        max_order_size=D(1000), max_total_position=TOTAL, max_market_exposure=D(10**6),
        max_total_exposure=D(10**6), max_group_loss=D(10**6), max_correlated_exposure=D(10**6))))
    journal: list[tuple[Fill, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tracker = OrderTracker(self.ledger.booked_for)

    def room(self, cid: str, side: Side, want: D) -> D:
        positions = positions_for({m: None for m in MARKETS}, self.tracker.reserved(),
                                  lambda c: self.ledger.portfolio.position(c).qty, lambda c: D("0.5"),
                                  self.ledger.revocable)
        verdict = self.risk.check(cid, [Quote(side, PRICE, want)], positions, position_limit=LIMIT,
                                  budget=1e9, now=0.0)
        return sum((q.size for q in verdict.quotes), D(0))

    def book(self, t: VTrade, status: str) -> None:
        yes, _ = TOKENS[t.cid]
        fill = Fill(t.cid, t.order_id, t.side, PRICE, t.size, D(0), 0.0, t.trade_id, yes, False)
        for booked in self.ledger.record(fill, status):
            self.journal.append((booked, status))
        self.tracker.sweep(t.order_id)


class WorstCase(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ids = itertools.count()
        self.venue_orders: dict[str, VOrder] = {}
        self.trades: dict[str, VTrade] = {}
        self.position = {m: D(0) for m in MARKETS}
        self.outbox: list[tuple] = []  # what the venue has said and we have not heard yet
        self.cancel_requests: list[str] = []
        self.engine = Engine()
        self.restarts = self.replays = 0
        self.peak = self.peak_total = D(0)

    def _flying(self) -> list[str]:
        return [k for k, v in self.venue_orders.items() if v.state == "flight"]

    def _resting(self) -> list[str]:
        return [k for k, v in self.venue_orders.items() if v.state == "resting"]

    # ------------------------------------------------------------ our side
    @rule(market=st.sampled_from(MARKETS), side=st.sampled_from(Side), size=st.integers(1, 12))
    def place(self, market: str, side: Side, size: int) -> None:
        allowed = self.engine.room(market, side, D(size))
        if allowed <= 0:
            return
        oid = f"o{next(self.ids)}"
        self.engine.tracker.add(OpenOrder(oid, market, side, PRICE, allowed, status="submitted"))
        self.venue_orders[oid] = VOrder(market, side, allowed)

    @precondition(lambda self: len(self.engine.tracker) > 0)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        open_ids = [o.order_id for o in self.engine.tracker.open()]
        self.cancel_requests.append(data.draw(st.sampled_from(open_ids)))

    @precondition(lambda self: bool(self.outbox))
    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        kind, *args = self.outbox.pop(data.draw(st.integers(0, len(self.outbox) - 1)))
        tr = self.engine.tracker
        if kind == "ack":
            o = tr.get(args[0])
            if o is not None and o.status == "submitted":
                tr.update(args[0], status="live")
        elif kind == "reject":
            tr.forget(args[0])
        elif kind == "trade":
            self.engine.book(self.trades[args[0]], args[1])
        elif kind == "canceled":
            tr.close(args[0])
        elif kind == "not_canceled":
            o = tr.get(args[0])
            if o is not None and o.status != "submitted":
                tr.close(args[0])
        elif kind == "final":
            tr.close(args[0], final=args[1])

    @precondition(lambda self: self.replays < 3)  # rare, as in life (every 15 s): it heals every gap
    @rule()
    def replay(self) -> None:
        """Reconciliation: orders the venue no longer lists are closed, then its trade history booked."""
        self.replays += 1
        tr = self.engine.tracker
        for o in tr.open():
            v = self.venue_orders[o.order_id]
            if v.state == "done":
                tr.close(o.order_id)
        mark = tr.replay_started()
        for t in self.trades.values():
            self.engine.book(t, t.status)
        tr.replay_done(mark)
        self.agree()

    def agree(self) -> None:
        """After a replay of the venue's whole history our ledger holds exactly what the venue says."""
        for m in MARKETS:
            assert self.engine.ledger.portfolio.position(m).qty == self.position[m], (m[:6], self.position[m])

    @precondition(lambda self: self.restarts < 2 and bool(self.trades))
    @rule(lost=st.integers(0, 3))
    def restart(self, lost: int) -> None:
        """kill -9: every answer on its way is lost, the journal misses its last ``lost`` fills; the
        new run restores, cancels everything at the venue, replays the venue's trades."""
        self.restarts += 1
        self.outbox.clear()
        self.cancel_requests.clear()
        for v in self.venue_orders.values():
            v.state = "done"
        journal = self.engine.journal[: max(len(self.engine.journal) - lost, 0)]
        self.engine = Engine()
        self.engine.journal = list(journal)
        self.engine.journal += [(f, "REVERSAL") for f in self.engine.ledger.restore(journal)]
        for t in self.trades.values():
            self.engine.book(t, t.status)
        self.agree()

    # ------------------------------------------------------------ the venue
    @precondition(lambda self: bool(self._flying()))
    @rule(data=st.data(), accept=st.booleans())
    def land(self, data: st.DataObject, accept: bool) -> None:
        oid = data.draw(st.sampled_from(self._flying()))
        self.venue_orders[oid].state = "resting" if accept else "done"
        self.outbox.append(("ack" if accept else "reject", oid))

    @precondition(lambda self: bool(self._resting()))
    @rule(data=st.data(), part=st.integers(1, 12), ghost=st.booleans())
    def fill(self, data: st.DataObject, part: int, ghost: bool) -> None:
        oid = data.draw(st.sampled_from(self._resting()))
        v = self.venue_orders[oid]
        size = min(D(part), v.size - v.matched)
        v.matched += size
        if v.matched == v.size:
            v.state = "done"
            self.outbox.append(("final", oid, v.matched))
        t = VTrade(f"t{next(self.ids)}", oid, v.cid, v.side, size, "RETRYING" if ghost else "MATCHED")
        self.trades[t.trade_id] = t
        self.position[v.cid] += size if v.side is Side.BUY else -size
        self.outbox.append(("trade", t.trade_id, "MATCHED"))

    @precondition(lambda self: any(t.status in ("MATCHED", "RETRYING") for t in self.trades.values()))
    @rule(data=st.data(), fail=st.booleans())
    def settle(self, data: st.DataObject, fail: bool) -> None:
        """A trade ends: CONFIRMED, or (a ghost fill) FAILED — which gives the shares back at once."""
        open_trades = [k for k, t in self.trades.items() if t.status in ("MATCHED", "RETRYING")]
        t = self.trades[data.draw(st.sampled_from(open_trades))]
        if fail and t.status == "RETRYING":
            t.status = "FAILED"
            self.position[t.cid] -= t.size if t.side is Side.BUY else -t.size
        else:
            t.status = "CONFIRMED" if t.status == "MATCHED" else t.status
            if t.status != "CONFIRMED":
                return
        self.outbox.append(("trade", t.trade_id, t.status))

    @precondition(lambda self: bool(self.cancel_requests))
    @rule(data=st.data())
    def venue_cancels(self, data: st.DataObject) -> None:
        oid = self.cancel_requests.pop(data.draw(st.integers(0, len(self.cancel_requests) - 1)))
        v = self.venue_orders[oid]
        if v.state == "resting":
            v.state = "done"
            self.outbox += [("canceled", oid), ("final", oid, v.matched)]
        else:  # not there (yet) or already done: "already canceled or matched"
            self.outbox.append(("not_canceled", oid))

    # ------------------------------------------------------------ the promise
    @invariant()
    def within_limits(self) -> None:
        self.peak = max(self.peak, max(abs(q) for q in self.position.values()))
        self.peak_total = max(self.peak_total, sum(abs(q) for q in self.position.values()))
        for m, q in self.position.items():
            assert abs(q) <= LIMIT, f"position {q} in {m[:6]} over the limit {LIMIT}"
        assert sum(abs(q) for q in self.position.values()) <= TOTAL

    def teardown(self) -> None:
        # steer the search towards runs that press against the limits, where a leak would show
        target(float(self.peak), label="largest position")
        target(float(self.peak_total), label="total position")


WorstCase.TestCase.settings = settings(max_examples=300, stateful_step_count=80, deadline=None, derandomize=True,
                                       suppress_health_check=[HealthCheck.too_slow])
TestWorstCase = WorstCase.TestCase
