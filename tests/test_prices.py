"""Exact prices on Polymarket's tick grids (DESIGN §5): integer pips of 1e-4, bids down, asks up."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polymm.domain.prices import (
    ALL_TICKS,
    MAX_PIPS,
    PIPS_PER_UNIT,
    TICK_STRINGS,
    PriceError,
    Tick,
    complement,
    pips_to_decimal,
    pips_to_str,
    price_to_pips,
)

TICKS = st.sampled_from(ALL_TICKS)


# ---------------------------------------------------------------- conversions


def test_every_pip_round_trips_exactly() -> None:
    for p in range(MAX_PIPS + 1):
        text = pips_to_str(p)
        assert price_to_pips(text) == p, text
        d = pips_to_decimal(p)
        assert d == Decimal(p) / PIPS_PER_UNIT
        assert price_to_pips(d) == p
        assert Decimal(text) == d  # the string is the exact value
        # the spellings the wire uses (and the float formatting the cache is built from)
        assert price_to_pips(f"{p / PIPS_PER_UNIT:.4f}") == p
        assert price_to_pips(str(d)) == p
        assert price_to_pips(p / PIPS_PER_UNIT) == p  # float input goes through its shortest repr


def test_pips_to_str_is_minimal() -> None:
    assert pips_to_str(0) == "0"
    assert pips_to_str(MAX_PIPS) == "1"
    assert pips_to_str(5200) == "0.52"
    assert pips_to_str(5000) == "0.5"
    assert pips_to_str(1) == "0.0001"
    assert pips_to_str(9990) == "0.999"
    for p in range(1, MAX_PIPS):
        s = pips_to_str(p)
        assert s.startswith("0.") and not s.endswith("0"), s
        assert len(s) <= 6


@pytest.mark.parametrize(
    ("text", "pips"),
    [
        ("0.52", 5200),
        ("0.520", 5200),
        ("0.5200", 5200),
        ("0.52000000", 5200),  # not a cached spelling: the Decimal path
        ("0.5e0", 5000),
        ("1E-4", 1),
        (".5", 5000),
        ("1", MAX_PIPS),
        ("1.0", MAX_PIPS),
        ("0", 0),
        ("-0", 0),
        (Decimal("0.0025"), 25),
        (0.001, 10),
        (1, MAX_PIPS),
        (0, 0),
    ],
)
def test_price_to_pips_accepts_exact_spellings(text: object, pips: int) -> None:
    assert price_to_pips(text) == pips  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "",
        "0.00001",
        "0.12345",
        "1.0001",
        "-0.01",
        "2",
        "NaN",
        "sNaN",
        "Infinity",
        "-inf",
        "1e999999",
        Decimal("Infinity"),
        float("inf"),
        float("nan"),
        0.00005,
        None,
        [],
    ],
)
def test_price_to_pips_rejects_with_price_error(text: object) -> None:
    # Always PriceError (a ValueError), never OverflowError/InvalidOperation: callers catch ValueError.
    with pytest.raises(PriceError) as info:
        price_to_pips(text)  # type: ignore[arg-type]
    assert "allowed" in str(info.value)
    assert "[0, 1]" in str(info.value)


def test_price_error_is_a_value_error() -> None:
    assert issubclass(PriceError, ValueError)


def test_complement() -> None:
    assert complement(5200) == 4800
    assert complement(0) == MAX_PIPS
    for p in (1, 25, 9999, 5000):
        assert complement(complement(p)) == p


# ---------------------------------------------------------------- ticks


def test_six_ticks() -> None:
    assert TICK_STRINGS == ("0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001")
    assert [t.pips for t in ALL_TICKS] == [1000, 100, 50, 25, 10, 1]
    for text, tick in zip(TICK_STRINGS, ALL_TICKS, strict=True):
        assert Tick.parse(text) == tick
        assert tick.text == text
        assert str(tick) == text
        assert tick.decimal == Decimal(text)
        assert tick.min_price == tick.pips
        assert tick.max_price == MAX_PIPS - tick.pips
        assert Tick.parse(float(text)) == tick
        assert Tick.parse(Decimal(text)) == tick


@pytest.mark.parametrize("bad", ["0.02", "0.5", "0", "1", "abc", "", "0.00001", "-0.01", 0.2])
def test_tick_parse_rejects_and_names_the_allowed_ticks(bad: object) -> None:
    with pytest.raises(PriceError) as info:
        Tick.parse(bad)  # type: ignore[arg-type]
    msg = str(info.value)
    for allowed in TICK_STRINGS:
        assert allowed in msg


@pytest.mark.parametrize("pips", [0, 2, 7, 100_000, -5, 10_000])
def test_tick_constructor_rejects_and_names_the_allowed_ticks(pips: int) -> None:
    with pytest.raises(PriceError) as info:
        Tick(pips)
    assert ", ".join(TICK_STRINGS) in str(info.value)


def test_floor_ceil_examples() -> None:
    cent = Tick.parse("0.01")
    assert cent.floor(5234) == 5200
    assert cent.ceil(5234) == 5300
    assert cent.floor(5200) == cent.ceil(5200) == 5200
    half = Tick.parse("0.005")
    assert half.floor(5249) == 5200
    assert half.ceil(5201) == 5250
    quarter = Tick.parse("0.0025")
    assert quarter.floor(5024) == 5000
    assert quarter.ceil(5001) == 5025


def test_valid_and_clamp_at_the_edges() -> None:
    for tick in ALL_TICKS:
        t = tick.pips
        assert not tick.valid(0)
        assert not tick.valid(MAX_PIPS)
        assert tick.valid(t)
        assert tick.valid(MAX_PIPS - t)
        if t > 1:
            assert not tick.valid(t + 1)  # off grid
            assert tick.on_grid(2 * t) and not tick.on_grid(t + 1)
        assert tick.clamp(0) == t
        assert tick.clamp(-50) == t
        assert tick.clamp(MAX_PIPS) == MAX_PIPS - t
        assert tick.clamp(5000) == 5000


@settings(max_examples=300, deadline=None)
@given(tick=TICKS, p=st.integers(0, MAX_PIPS))
def test_floor_and_ceil_bracket_within_one_tick(tick: Tick, p: int) -> None:
    lo, hi = tick.floor(p), tick.ceil(p)
    assert lo <= p <= hi
    assert tick.on_grid(lo) and tick.on_grid(hi)
    assert hi - lo in (0, tick.pips)
    assert (hi == lo) == tick.on_grid(p)
    # rounding is idempotent
    assert tick.floor(lo) == lo and tick.ceil(hi) == hi
    # valid == on grid and in [tick, 1 - tick]
    assert tick.valid(p) == (p % tick.pips == 0 and tick.pips <= p <= MAX_PIPS - tick.pips)
    c = tick.clamp(p)
    assert tick.min_price <= c <= tick.max_price
    if tick.min_price <= p <= tick.max_price:
        assert c == p


@settings(max_examples=300, deadline=None)
@given(d=st.decimals(min_value=0, max_value=1, places=4), extra_zeros=st.integers(0, 4))
def test_any_four_decimal_price_round_trips(d: Decimal, extra_zeros: int) -> None:
    p = price_to_pips(d)
    assert pips_to_decimal(p) == d
    assert price_to_pips(str(d)) == p
    assert price_to_pips(pips_to_str(p)) == p
    assert Decimal(pips_to_str(p)) == d
    padded = d.quantize(Decimal(1).scaleb(-(4 + extra_zeros)))
    assert price_to_pips(str(padded)) == p
    assert price_to_pips(float(d)) == p


@settings(max_examples=200, deadline=None)
@given(d=st.decimals(min_value=0, max_value=1, places=8))
def test_finer_than_a_pip_is_rejected_unless_exact(d: Decimal) -> None:
    on_grid = d == d.quantize(Decimal("0.0001"))
    if on_grid:
        assert price_to_pips(str(d)) == int(d * PIPS_PER_UNIT)
    else:
        with pytest.raises(PriceError):
            price_to_pips(str(d))


def test_human_writes_a_decimal_as_a_person_would() -> None:
    from polymm.domain.prices import human

    assert [human(Decimal(t)) for t in ("10", "1E+1", "0.500", "-3.250", "0E-7", "1051.09")] == \
        ["10", "10", "0.5", "-3.25", "0", "1051.09"]
