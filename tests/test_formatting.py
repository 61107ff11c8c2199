"""The one number formatter (``domain.prices``: ``fmt_number`` and its presets) that logs, command
output, CSV and JSON share: never an exponent, never a ``Decimal(...)`` repr, never float noise, prices
with their tick's decimals, amounts to the cent (to the chain's 1e-6 where a value needs it)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polymm.domain.prices import (
    ALL_TICKS,
    AMOUNT_MAX_PLACES,
    PRICE_MAX_PLACES,
    Tick,
    as_typed,
    fmt_amount,
    fmt_number,
    fmt_pips,
    fmt_price,
    human,
    tick_places,
)

D = Decimal

# Any value a ledger can hold: Decimals of up to 28 digits at any scale from 1e-30 to 1e+27 (tiny,
# huge, negative, with trailing zeros or an exponent as stored), and floats with their binary noise.
LEDGER_DECIMALS = st.builds(
    lambda digits, exp, neg: Decimal((int(neg), tuple(int(c) for c in str(digits)), exp)),
    st.integers(0, 10**28 - 1), st.integers(-30, 27), st.booleans(),
).filter(lambda d: d.adjusted() <= 27)
LEDGER_FLOATS = st.floats(min_value=-1e15, max_value=1e15, allow_nan=False, allow_infinity=False)
LEDGER_VALUES = LEDGER_DECIMALS | LEDGER_FLOATS | st.integers(-10**15, 10**15)


def _decimals(text: str) -> int:
    return len(text.partition(".")[2])


def _plain(text: str) -> None:
    assert "E" not in text and "e" not in text, text
    assert "Decimal(" not in text, text
    assert re.fullmatch(r"[+-]?[0-9][0-9,]*(\.[0-9]+)?", text), text
    assert not re.fullmatch(r"-0(\.0*)?", text), text  # never -0, -0.00


@settings(max_examples=400, deadline=None)
@given(v=LEDGER_VALUES)
def test_any_ledger_value_formats_plain_with_at_most_the_allowed_decimals(v: object) -> None:
    a = fmt_amount(v)
    _plain(a)
    assert 2 <= _decimals(a) <= AMOUNT_MAX_PLACES
    assert abs(Decimal(a) - Decimal(str(v))) <= Decimal("0.0000005") or isinstance(v, float)
    p = fmt_price(v)
    _plain(p)
    assert 2 <= _decimals(p) <= PRICE_MAX_PLACES
    h = human(v)
    _plain(h)
    assert not h.endswith("0") or "." not in h  # no trailing zeros
    h6 = human(v, 6)
    _plain(h6)
    assert _decimals(h6) <= 6
    _plain(fmt_amount(v, sign=True, grouping=True))


@settings(max_examples=200, deadline=None)
@given(v=LEDGER_FLOATS)
def test_a_float_is_its_15_significant_digits_so_no_noise_shows(v: float) -> None:
    assert Decimal(human(v)) == Decimal(format(v, ".15g"))


@settings(max_examples=300, deadline=None)
@given(tick=st.sampled_from(ALL_TICKS), k=st.integers(1, 9999))
def test_a_price_on_the_grid_shows_exactly_its_ticks_decimals(tick: Tick, k: int) -> None:
    pips = tick.clamp(tick.floor(k))
    text = fmt_pips(pips, tick)
    assert _decimals(text) == tick_places(tick), text
    assert Decimal(text) * 10_000 == pips


def test_the_rules_by_example() -> None:
    # float noise, exponents and reprs are gone
    assert fmt_amount(9.9999999999999986) == "10.00" and human(9.9999999999999986) == "10"
    assert human(0.1 + 0.2) == "0.3" and fmt_amount(0.1 + 0.2) == "0.30"
    assert fmt_amount(D("1E+1")) == "10.00" and human(D("1E+1")) == "10"
    assert fmt_amount(D("4E-16")) == "0.00" and fmt_amount(D("0E-7")) == "0.00"
    assert fmt_amount(D("-24.9799999999999996")) == "-24.98"
    # more decimals only where the value has them, up to the chain's 1e-6
    assert fmt_amount(D("0.000001")) == "0.000001" and fmt_amount(D("2.09")) == "2.09"
    assert fmt_amount(D("1.23456789")) == "1.234568" and fmt_amount(D("0.0000004")) == "0.00"
    assert fmt_amount(D("-0.0000001")) == "0.00"  # never -0.00
    assert fmt_amount(D("1234567.5"), sign=True, grouping=True) == "+1,234,567.50"
    # prices: the tick's decimals, 2 when it is not known, up to a pip off the grid
    t01, t005, t0001 = Tick.parse("0.01"), Tick.parse("0.005"), Tick.parse("0.0001")
    assert [fmt_pips(3000, t01), fmt_pips(2900, t01)] == ["0.30", "0.29"]  # never 0.3 beside 0.29
    assert fmt_pips(3050, t005) == "0.305" and fmt_pips(3000, t005) == "0.300"
    assert fmt_pips(3000, t0001) == "0.3000" and fmt_price(D("0.7"), Tick.parse("0.1")) == "0.7"
    assert fmt_price(0.72) == "0.72" and fmt_price(D("0.7233333333333333333333333333"), t01) == "0.7233"
    assert [tick_places(t) for t in ALL_TICKS] == [1, 2, 3, 4, 3, 4]
    # the others
    assert fmt_number(D("12.5"), 3) == "12.500" and fmt_number(7, 0, 2) == "7"
    assert fmt_amount(float("nan")) == "nan" and human(D("-Infinity")) == "-inf"


@pytest.mark.parametrize(("value", "shown"), [
    (D("-1"), "-1"), (D("0"), "0"), (D("0.50"), "0.50"), (D("1E+1"), "10"), ("2", "2"), ("-0.5", "-0.5"),
    (3, "3"), (0.1, "0.1"), ("foo", "'foo'"), ("", "''"), (" 2", "' 2'"), ("nan", "'nan'"), (None, "None"),
    (True, "True"),
])
def test_as_typed_shows_a_value_as_the_user_typed_it(value: object, shown: str) -> None:
    assert as_typed(value) == shown
