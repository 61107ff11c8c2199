"""Exact average-cost positions and P&L (Decimal), fills deduplicated by trade id."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from polymm.domain.market import Side
from polymm.domain.portfolio import Fill, Portfolio, Position
from polymm.domain.prices import price_to_pips

D = Decimal
C1 = "0x" + "01" * 32
C2 = "0x" + "02" * 32


def _fill(
    side: Side, price: str, size: str, trade_id: str = "", order_id: str = "o", fee: str = "0", cond: str = C1
) -> Fill:
    return Fill(cond, order_id, side, price_to_pips(price), D(size), D(fee), 0.0, trade_id)


def test_average_cost_on_the_same_side() -> None:
    pos = Position()
    pos.apply(_fill(Side.BUY, "0.40", "10"))
    pos.apply(_fill(Side.BUY, "0.50", "30"))
    assert pos.qty == D(40)
    assert pos.avg_price == D("0.475")  # (4 + 15) / 40
    assert pos.realized == 0
    assert pos.fills == 2


def test_partial_close_realises_against_the_average() -> None:
    pos = Position()
    pos.apply(_fill(Side.BUY, "0.40", "10"))
    pos.apply(_fill(Side.BUY, "0.50", "30"))
    pos.apply(_fill(Side.SELL, "0.60", "20"))
    assert pos.qty == D(20)
    assert pos.avg_price == D("0.475")  # closing does not move the average
    assert pos.realized == D("2.5")  # (0.60 - 0.475) * 20, exact
    pos.apply(_fill(Side.SELL, "0.45", "20"))
    assert pos.qty == 0 and pos.avg_price == 0
    assert pos.realized == D("2")  # 2.5 - 0.025 * 20


def test_flip_through_zero_long_to_short() -> None:
    pos = Position()
    pos.apply(_fill(Side.BUY, "0.40", "5"))
    pos.apply(_fill(Side.SELL, "0.55", "8"))
    assert pos.realized == D("0.75")  # only the 5 that closed: 0.15 * 5
    assert pos.qty == D(-3)
    assert pos.avg_price == D("0.55")  # the remainder opened at the fill price
    pos.apply(_fill(Side.BUY, "0.50", "3"))  # short covered lower: a gain
    assert pos.realized == D("0.90")
    assert pos.qty == 0 and pos.avg_price == 0


def test_flip_through_zero_short_to_long() -> None:
    pos = Position()
    pos.apply(_fill(Side.SELL, "0.70", "4"))
    pos.apply(_fill(Side.SELL, "0.60", "6"))
    assert pos.qty == D(-10) and pos.avg_price == D("0.64")
    pos.apply(_fill(Side.BUY, "0.65", "12"))
    assert pos.realized == D("-0.10")  # short 10 at 0.64 covered at 0.65
    assert pos.qty == D(2) and pos.avg_price == D("0.65")


def test_fees_and_unrealised() -> None:
    pos = Position()
    pos.apply(_fill(Side.BUY, "0.40", "10", fee="0.01"))
    pos.apply(_fill(Side.SELL, "0.45", "4", fee="0.02"))
    assert pos.fees == D("0.03")
    assert pos.realized == D("0.20")  # fees are kept apart
    assert pos.unrealized(D("0.50")) == D("0.60")  # (0.50 - 0.40) * 6
    assert pos.unrealized(None) == 0
    short = Position()
    short.apply(_fill(Side.SELL, "0.40", "10"))
    assert short.unrealized(D("0.30")) == D("1.00")  # short gains when the mark falls
    assert Position().unrealized(D("0.5")) == 0


def test_portfolio_dedups_by_trade_and_order() -> None:
    pf = Portfolio()
    f = _fill(Side.BUY, "0.40", "10", trade_id="t1", order_id="o1")
    assert pf.apply(f) is True
    assert pf.apply(f) is False  # re-sent (MATCHED, MINED, CONFIRMED …): booked once
    assert pf.position(C1).qty == D(10) and pf.position(C1).fills == 1
    # the same trade filling a second order of ours is a separate fill
    assert pf.apply(_fill(Side.BUY, "0.40", "5", trade_id="t1", order_id="o2")) is True
    # fills without a trade id cannot be deduplicated: each counts
    assert pf.apply(_fill(Side.BUY, "0.40", "1")) is True
    assert pf.apply(_fill(Side.BUY, "0.40", "1")) is True
    assert pf.position(C1).qty == D(17)


def test_portfolio_totals_across_markets() -> None:
    pf = Portfolio()
    pf.apply(_fill(Side.BUY, "0.40", "10", fee="0.1"))
    pf.apply(_fill(Side.SELL, "0.50", "5", cond=C1))
    pf.apply(_fill(Side.SELL, "0.30", "2", fee="0.05", cond=C2))
    realized, unreal, fees, fills = pf.totals({C1: D("0.44"), C2: D("0.35")})
    assert realized == D("0.5")
    assert unreal == D("0.20") + D("-0.10")  # C1: 0.04*5; C2: short 2, mark up 0.05
    assert fees == D("0.15")
    assert fills == 3
    assert pf.totals({})[1] == 0  # no marks: nothing unrealised


# ---------------------------------------------------------------- properties

PRICES = st.integers(1, 9999)
SIZES = st.integers(1, 100_000).map(lambda c: D(c) / 100)


@settings(max_examples=200, deadline=None)
@given(price=PRICES, size=SIZES, first=st.sampled_from([Side.BUY, Side.SELL]))
def test_round_trip_at_one_price_is_flat_with_zero_pnl(price: int, size: Decimal, first: Side) -> None:
    pos = Position()
    pos.apply(Fill(C1, "o", first, price, size))
    pos.apply(Fill(C1, "o", first.other, price, size))
    assert pos.qty == 0
    assert pos.realized == 0
    assert pos.avg_price == 0
    assert pos.fills == 2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([Side.BUY, Side.SELL]), PRICES, SIZES), min_size=1, max_size=12))
def test_realised_pnl_of_a_flat_round_trip_equals_the_cash_flow(
    fills: list[tuple[Side, int, Decimal]],
) -> None:
    pos = Position()
    cash = D(0)
    qty = D(0)
    for side, price, size in fills:
        pos.apply(Fill(C1, "o", side, price, size))
        signed = size if side is Side.BUY else -size
        qty += signed
        cash -= signed * D(price) / 10_000
        assert pos.qty == qty  # shares are exact always
        assert pos.avg_price >= 0
    # close out at the last price; then realised P&L is the net cash flow
    last = fills[-1][1]
    if qty:
        pos.apply(Fill(C1, "o", Side.SELL if qty > 0 else Side.BUY, last, abs(qty)))
        cash += qty * D(last) / 10_000
    assert pos.qty == 0 and pos.avg_price == 0
    # exact when every average is exact; otherwise only Decimal's 28-digit rounding of the average
    assert abs(pos.realized - cash) < D("1e-18")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([Side.BUY, Side.SELL]), SIZES), min_size=1, max_size=12), PRICES)
def test_one_price_never_realises_anything(fills: list[tuple[Side, Decimal]], price: int) -> None:
    pos = Position()
    for side, size in fills:
        pos.apply(Fill(C1, "o", side, price, size))
        assert pos.realized == 0
        assert pos.qty == 0 or pos.avg_price == D(price) / 10_000
