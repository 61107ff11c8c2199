"""The position ledger (domain/ledger.py) and the order book keeping of the execution
(venue/order_tracker.py): exact per-token counts, leg statuses, reversal exactly once (restarts too),
adjustments to the venue's balance, and what could still fill."""

from __future__ import annotations

from decimal import Decimal as D

from polymm.domain.ledger import Ledger, Reconciliation, token_delta
from polymm.domain.market import Side
from polymm.domain.portfolio import Fill
from polymm.venue.execution import OpenOrder
from polymm.venue.order_tracker import OrderTracker

CID = "0x" + "ab" * 32
YES, NO = "111", "222"


def leg(trade: str, order: str = "o-1", side: Side = Side.BUY, price: int = 4000, size: str = "10",
        no: bool = False, cid: str = CID) -> Fill:
    return Fill(cid, order, side, price, D(size), D(0), 100.0, trade, NO if no else YES, no)


def test_token_delta_follows_the_token_not_the_yes_terms_side() -> None:
    assert token_delta(leg("t", side=Side.BUY)) == 10  # bought YES
    assert token_delta(leg("t", side=Side.SELL, no=True)) == 10  # a YES-terms sell on the NO token: bought NO
    assert token_delta(leg("t", side=Side.BUY, no=True)) == -10  # sold NO


def test_a_leg_is_booked_once_whatever_the_venue_repeats() -> None:
    led = Ledger()
    assert led.record(leg("t1"), "MATCHED") == [leg("t1")]
    assert led.record(leg("t1"), "MATCHED") == []
    assert led.record(leg("t1"), "MINED") == [] and led.status("t1", "o-1") == "MINED"
    assert led.record(leg("t1"), "CONFIRMED") == []
    assert led.shares(YES) == 10 and led.portfolio.position(CID).qty == 10
    assert led.booked_for("o-1") == 10 and led.pending_legs() == 0


def test_a_failed_leg_is_reversed_exactly_once_and_a_late_matched_books_nothing() -> None:
    led = Ledger()
    led.record(leg("t1", side=Side.SELL, no=True), "MATCHED")  # bought 10 NO
    assert led.shares(NO) == 10 and led.portfolio.position(CID).qty == -10
    (rev,) = led.record(leg("t1", side=Side.SELL, no=True), "FAILED")
    assert rev.is_reversal and rev.side is Side.BUY and rev.token == NO
    assert led.record(leg("t1", side=Side.SELL, no=True), "FAILED") == []
    assert led.record(leg("t1", side=Side.SELL, no=True), "MATCHED") == []
    assert led.shares(NO) == 0 and led.portfolio.position(CID).qty == 0
    # first seen as FAILED: never booked, and its MATCHED (a replay) cannot book it either, nor does a
    # second FAILED (another replay) reverse what was never booked
    assert led.record(leg("t2"), "FAILED") == [] and led.record(leg("t2"), "MATCHED") == []
    assert led.record(leg("t2"), "FAILED") == []
    assert led.shares(YES) == 0 and led.booked_for("o-1") == 20  # the venue keeps a failed match on the order


def test_pending_and_revocable_parts_follow_the_statuses() -> None:
    led = Ledger()
    led.record(leg("t1", side=Side.BUY, size="10"), "MATCHED")
    led.record(leg("t2", side=Side.SELL, size="4"), "MATCHED")
    h = led.holding(YES)
    assert h is not None and h.shares == 6 and h.pending == 6
    assert led.revocable(CID) == (D(10), D(4))  # either may still fail
    led.record(leg("t1"), "MINED")  # on chain: counted by any venue, still revocable until CONFIRMED
    assert led.holding(YES).pending == -4 and led.revocable(CID) == (D(10), D(4))
    led.record(leg("t1"), "CONFIRMED")
    led.record(leg("t2", side=Side.SELL, size="4"), "FAILED")
    assert led.revocable(CID) == (D(0), D(0)) and led.holding(YES).pending == 0 and led.shares(YES) == 10


def test_restore_takes_statuses_back_and_reverses_a_failed_leg_the_journal_did_not_reverse() -> None:
    first = Ledger()
    booked = first.record(leg("t1", side=Side.BUY, size="10"), "MATCHED")
    booked += first.record(leg("t2", side=Side.SELL, size="3"), "MATCHED")
    # the journal: both legs; t1's FAILED status reached it, its reversal did not (kill -9)
    rows = [(booked[0], "FAILED"), (booked[1], "CONFIRMED")]
    again = Ledger()
    (owed,) = again.restore(rows)
    assert owed.trade_id == "t1:failed" and again.portfolio.position(CID).qty == -3
    assert again.record(leg("t1", side=Side.BUY, size="10"), "FAILED") == []  # exactly once
    # a journal that holds the reversal owes nothing, and a later FAILED reverses nothing more
    third = Ledger()
    assert third.restore([(booked[0], "FAILED"), (booked[1], "CONFIRMED"), (owed, "REVERSAL")]) == []
    assert third.record(leg("t1", side=Side.BUY, size="10"), "FAILED") == []
    assert third.portfolio.position(CID).qty == -3 and third.shares(YES) == -3
    # a leg journaled as MATCHED that failed while we were down is reversed by the replay's FAILED
    fourth = Ledger()
    fourth.restore([(booked[0], "MATCHED")])
    assert fourth.revocable(CID) == (D(10), D(0))
    (rev,) = fourth.record(leg("t1", side=Side.BUY, size="10"), "FAILED")
    assert rev.is_reversal and fourth.portfolio.position(CID).qty == 0 and fourth.revocable(CID) == (0, 0)


def test_adjust_moves_the_count_to_the_venues_and_survives_a_restart() -> None:
    led = Ledger()
    led.record(leg("t1", side=Side.BUY, size="10"), "CONFIRMED")
    fill = led.adjust(YES, CID, False, D("4.5"), 5000, 200.0)
    assert fill is not None and fill.side is Side.SELL and fill.size == D("5.5") and fill.price == 5000
    assert led.shares(YES) == D("4.5") and led.portfolio.position(CID).qty == D("4.5")
    assert led.adjust(YES, CID, False, D("4.5"), 5000, 201.0) is None  # nothing to move
    nofill = led.adjust(NO, CID, True, D(2), 5000, 202.0)  # 2 NO more: a YES-terms sell
    assert nofill is not None and nofill.side is Side.SELL and led.portfolio.position(CID).qty == D("2.5")
    again = Ledger()
    again.restore([(leg("t1", side=Side.BUY, size="10"), "CONFIRMED"), (fill, "ADJUSTED"), (nofill, "ADJUSTED")])
    assert again.shares(YES) == D("4.5") and again.shares(NO) == 2 and again.adjustments == 2


def test_reconciliation_needs_two_equal_disagreements_and_tolerates_unsettled_legs() -> None:
    r = Reconciliation()
    assert r.judge(YES, D(10), D(10), D(0)) == "clean"
    assert r.judge(YES, D(6), D(10), D(4)) == "clean"  # a venue that does not count the unsettled 4 yet
    assert r.judge(YES, D(7), D(10), D(0)) == "suspect"
    assert r.judge(YES, D(8), D(10), D(0)) == "suspect"  # a different number: still only a suspect
    assert r.judge(YES, D(8), D(10), D(0)) == "confirmed"
    assert r.judge(NO, D(1), D(0), D(0), confirm_now=True) == "confirmed"  # the catch-up
    assert r.judge(NO, D(1), D(0), D(3), confirm_now=True) == "suspect"  # unless legs are unsettled
    r.pause(CID, "why")
    assert r.paused == {CID: "why"}
    r.resume(CID)
    assert r.paused == {}


def order(oid: str, side: Side = Side.BUY, size: str = "10", status: str = "live") -> OpenOrder:
    return OpenOrder(oid, CID, side, 4000, D(size), status=status, token_id=YES, venue_side=side.value)


def test_an_order_counts_until_every_fill_it_can_have_is_booked() -> None:
    led = Ledger()
    t = OrderTracker(led.booked_for)
    t.add(order("a", size="10"))
    t.add(order("b", Side.SELL, size="5"))
    assert t.reserved() == {CID: (D(10), D(5))}
    led.record(leg("t1", order="a", size="4"), "MATCHED")  # 4 of a filled
    assert t.reserved() == {CID: (D(6), D(5))}
    t.close("a")  # cancel confirmed: the final matched size is not known yet
    assert [o.order_id for o in t.open()] == ["b"] and t.reserved() == {CID: (D(6), D(5))}
    t.close("a", final=D(7))  # the CANCELLATION event: 7 matched in all, 3 still to be booked
    assert t.reserved() == {CID: (D(3), D(5))} and t.closing() == 1
    led.record(leg("t2", order="a", size="3"), "MATCHED")
    t.sweep("a")
    assert t.closing() == 0 and t.reserved() == {CID: (D(0), D(5))}
    # not_canceled with no event to follow: a replay that started after it closed settles it
    t.close("b")
    mark = t.replay_started()
    assert t.reserved() == {CID: (D(0), D(5))}
    t.replay_done(mark)
    assert t.reserved() == {} and t.closing() == 0


def test_a_replay_that_started_before_the_close_settles_nothing() -> None:
    t = OrderTracker(Ledger().booked_for)
    t.add(order("a"))
    mark = t.replay_started()
    t.close("a")
    t.replay_done(mark)
    assert t.closing() == 1 and t.reserved() == {CID: (D(10), D(0))}


def test_reserved_closing_only_leaves_out_the_open_orders_a_step_replaces() -> None:
    t = OrderTracker(Ledger().booked_for)
    t.add(order("a"))
    t.add(order("b"))
    t.close("b")
    assert t.reserved(closing_only=True) == {CID: (D(10), D(0))}
    assert t.reserved(CID) == {CID: (D(20), D(0))}
    assert t.reopen("b") and t.reserved(closing_only=True) == {} and len(t) == 2


def test_what_the_open_orders_lock_is_kept_as_a_walk_of_them_would_count_it() -> None:
    """The balance check before each placement reads ``locked``: kept as orders come, fill, close,
    reopen and go (a walk of every open order per placement was ~600 orders at 300 markets)."""
    import random

    from polymm.domain.prices import MAX_PIPS

    def walk(t: OrderTracker) -> D:
        return sum((o.remaining * (o.price if o.side is Side.BUY else MAX_PIPS - o.price)
                    for o in t.open() if o.venue_side == "BUY"), D(0)) / MAX_PIPS

    rng = random.Random(9)
    t = OrderTracker(Ledger().booked_for)
    most = 0.0
    for i in range(600):
        roll, ids = rng.random(), t.ids()
        if roll < 0.4 or not ids:
            side = rng.choice([Side.BUY, Side.SELL])
            t.add(OpenOrder(f"o{i}", CID, side, rng.randrange(100, 9900), D(rng.randrange(1, 500)) / 10,
                            venue_side=rng.choice(["BUY", "SELL"])))
        elif roll < 0.6:
            oid = rng.choice(ids)
            o = t.get(oid)
            t.update(oid, filled=min(o.size, o.filled + D(rng.randrange(1, 50)) / 10), status="live")
        elif roll < 0.8:
            t.close(rng.choice(ids))
        elif roll < 0.9:
            t.forget(rng.choice(ids))
        elif roll < 0.97:
            t.reopen(rng.choice(t.closing_ids() or ["none"]))
        else:
            t.close_all()
        assert t.locked() == float(walk(t))
        most = max(most, t.locked())
    assert most > 50  # the sum was exercised well away from zero
