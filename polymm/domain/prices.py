"""Exact prices on Polymarket's tick grids.

Every valid Polymarket price is a multiple of 0.0001, so a price is held as an ``int`` count of
1e-4 units ("pips"): 0.52 is ``5200``. The whole price axis is the 10,001 points ``0..10000``.
Integer pips never drift off the grid the way floats do, and they index arrays directly
(see ``OrderBook``). Conversion to and from the wire's decimal strings is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

PIPS_PER_UNIT = 10_000
MAX_PIPS = PIPS_PER_UNIT  # a price of 1.0
_PIP = Decimal("0.0001")

#: The six tick sizes Polymarket uses, as wire strings.
TICK_STRINGS: tuple[str, ...] = ("0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001")


class PriceError(ValueError):
    """A price or tick that is not representable on Polymarket's grid."""


def price_to_pips(text: str | Decimal | float | int) -> int:
    """Convert a decimal price (``"0.52"``, ``Decimal``) to integer pips, exactly.

    Raises ``PriceError`` naming the allowed values when the price is not a multiple of 0.0001
    or lies outside [0, 1].
    """
    cached = _PIP_CACHE.get(text) if isinstance(text, str) else None
    if cached is not None:
        return cached
    try:
        d = Decimal(str(text)) if isinstance(text, float) else Decimal(text)
    except (InvalidOperation, TypeError, ValueError):
        raise PriceError(f"price {text!r} is not a number; allowed: decimals in [0, 1]") from None
    if not d.is_finite():  # NaN, sNaN and Infinity would raise outside ValueError below
        raise PriceError(f"price {text!r} is not a number; allowed: decimals in [0, 1]")
    if not 0 <= d <= 1:  # before scaling: a huge exponent would overflow the Decimal context
        raise PriceError(f"price {text!r} is outside the allowed range [0, 1]")
    scaled = d * PIPS_PER_UNIT
    if scaled != scaled.to_integral_value():
        raise PriceError(f"price {text!r} is not a multiple of 0.0001; allowed: decimals in [0, 1]")
    pips = int(scaled)
    if not 0 <= pips <= MAX_PIPS:
        raise PriceError(f"price {text!r} is outside the allowed range [0, 1]")
    return pips


def pips_to_str(pips: int) -> str:
    """Format pips the way Polymarket does: minimal decimals (``5200`` -> ``"0.52"``)."""
    return _STR_TABLE[pips]


def pips_to_decimal(pips: int) -> Decimal:
    return Decimal(pips) * _PIP


def _fmt(pips: int) -> str:
    if pips == MAX_PIPS:
        return "1"
    if pips == 0:
        return "0"
    return f"0.{pips:04d}".rstrip("0")


_STR_TABLE: tuple[str, ...] = tuple(_fmt(p) for p in range(MAX_PIPS + 1))
# Wire strings seen in practice map straight to pips without Decimal arithmetic: the minimal
# form ("0.5"), the two- and four-decimal forms ("0.50", "0.5000") and the leading-dot form.
_PIP_CACHE: dict[str, int] = {}
for _p in range(MAX_PIPS + 1):
    _PIP_CACHE[_STR_TABLE[_p]] = _p
    _PIP_CACHE[f"{_p / PIPS_PER_UNIT:.4f}"] = _p
    if _p % 100 == 0:
        _PIP_CACHE[f"{_p / PIPS_PER_UNIT:.2f}"] = _p
    if _p % 10 == 0:
        _PIP_CACHE[f"{_p / PIPS_PER_UNIT:.3f}"] = _p
del _p


@dataclass(frozen=True, slots=True)
class Tick:
    """One of Polymarket's tick sizes, with exact grid arithmetic in pips.

    Bids round down and asks round up, so rounding never makes a quote more aggressive.
    Valid order prices lie in ``[tick, 1 - tick]``.
    """

    pips: int

    def __post_init__(self) -> None:
        if self.pips not in _TICK_PIPS:
            raise PriceError(
                f"tick size {pips_to_str(self.pips) if 0 <= self.pips <= MAX_PIPS else self.pips!r} "
                f"is not a Polymarket tick; allowed: {', '.join(TICK_STRINGS)}"
            )

    @classmethod
    def parse(cls, text: str | float | Decimal) -> Tick:
        """Build from a wire value (``"0.01"``, ``0.001``); errors name the allowed ticks."""
        try:
            pips = price_to_pips(text)
        except PriceError:
            raise PriceError(f"tick size {text!r} is not allowed; allowed: {', '.join(TICK_STRINGS)}") from None
        return cls(pips)

    @property
    def text(self) -> str:
        return pips_to_str(self.pips)

    @property
    def decimal(self) -> Decimal:
        return pips_to_decimal(self.pips)

    @property
    def min_price(self) -> int:
        return self.pips

    @property
    def max_price(self) -> int:
        return MAX_PIPS - self.pips

    def on_grid(self, pips: int) -> bool:
        return pips % self.pips == 0

    def valid(self, pips: int) -> bool:
        """True when ``pips`` is an acceptable order price on this tick."""
        return pips % self.pips == 0 and self.min_price <= pips <= self.max_price

    def floor(self, pips: int) -> int:
        """Round down to the grid (for bids)."""
        return pips - pips % self.pips

    def ceil(self, pips: int) -> int:
        """Round up to the grid (for asks)."""
        r = pips % self.pips
        return pips if r == 0 else pips + self.pips - r

    def clamp(self, pips: int) -> int:
        """Clamp into the tradable range ``[tick, 1 - tick]``."""
        return min(max(pips, self.min_price), self.max_price)

    def __str__(self) -> str:
        return self.text


_TICK_PIPS = frozenset(price_to_pips(t) for t in TICK_STRINGS)
ALL_TICKS: tuple[Tick, ...] = tuple(Tick(price_to_pips(t)) for t in TICK_STRINGS)


def complement(pips: int) -> int:
    """The mirrored price on the other outcome: a YES bid at p is a NO ask at 1 - p."""
    return MAX_PIPS - pips


# ---------------------------------------------------------------- numbers as people read them
#
# One formatter for every number polymm writes outside the dashboard: logs, command output, CSV and
# JSON. ``fmt_number`` is the core; the others are its presets. The rules:
#
# * never an exponent (``1E+1`` is ``10``, ``4E-16`` is ``0.00``), never a ``Decimal(...)`` repr;
# * a float goes in through its 15 significant digits, so binary noise never shows
#   (``9.9999999999999986`` is ``10``, ``0.1 + 0.2`` is ``0.3``);
# * ``places`` decimals at least, ``max_places`` at most: digits past ``places`` are shown only where
#   the value has them (trailing zeros beyond ``places`` are dropped), and past ``max_places`` the
#   value is rounded half to even; a value that rounds to zero is ``0``, never ``-0``;
# * prices (``fmt_price``, ``fmt_pips``): exactly the market's tick's decimals (``0.30`` on a 0.01
#   tick, ``0.305`` on 0.005; 2 when the tick is not known), up to a pip (4 decimals) for a price off
#   the grid such as an average entry price;
# * shares, USDC and pUSD (``fmt_amount``): 2 decimals, up to 6 where the value needs them — the
#   chain's unit is 1e-6, so a 0.000001 share residue shows as ``0.000001``, never as ``0.00``;
# * ``human``: as few decimals as the value needs (``10``, ``0.5``, ``-3.25``), exact unless
#   ``max_places`` is given: JSON values and parameters;
# * ``as_typed``: a value echoed back in an error message as the user typed it (``-1``, not
#   ``Decimal('-1')``; words quoted: ``'foo'``).

#: decimals of a share, USDC or pUSD amount: at least (cents) ...
AMOUNT_PLACES = 2
#: ... and at most (the chain's unit: pUSD and outcome tokens have 6 decimals)
AMOUNT_MAX_PLACES = 6
#: decimals of a price at most (a pip, 0.0001: Polymarket's finest grid)
PRICE_MAX_PLACES = 4
#: decimals of a price when its market's tick is not known (the 0.01 tick most markets have)
PRICE_PLACES = 2

Number = Decimal | float | int | str
_SPECIAL = {"NaN": "nan", "sNaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}


def to_decimal(value: Number) -> Decimal:
    """``value`` as a Decimal, exactly for Decimals, ints and numeric strings; a float through its 15
    significant digits (all a float holds reliably), so its binary noise is gone."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(format(value, ".15g")) if value == value and abs(value) != float("inf") else Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value.strip().replace("_", ""))
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    raise TypeError(f"not a number: {type(value).__name__}")


def fmt_number(
    value: Number, places: int = 0, max_places: int | None = None, *, sign: bool = False, grouping: bool = False
) -> str:
    """``value`` in plain digits with at least ``places`` and at most ``max_places`` decimals (None:
    as many as it has), see the rules above. ``sign``: ``+`` in front of positive values (zero is
    ``+0``); ``grouping``: thousands separated by commas. NaN and infinities are ``nan``, ``inf``."""
    d = to_decimal(value)
    if not d.is_finite():
        return _SPECIAL.get(str(d).lstrip("+"), "nan")
    exponent = d.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    top = max(places, -exponent) if max_places is None else max(places, max_places)
    if -exponent != top:  # round (or pad) to ``top`` decimals, in a context wide enough for every digit
        with localcontext() as ctx:
            ctx.prec = max(28, d.adjusted() + top + 3)
            ctx.rounding = ROUND_HALF_EVEN
            d = d.quantize(Decimal(1).scaleb(-top))
    if d.is_zero():
        d = abs(d)  # -0.00 -> 0.00
    text = format(d, f"{'+' if sign else ''}{',' if grouping else ''}f")
    if top > places:  # drop trailing zeros past ``places``
        whole, _, frac = text.partition(".")
        frac = frac.rstrip("0").ljust(places, "0")
        text = f"{whole}.{frac}" if frac else whole
    return text


def fmt_amount(value: Number, *, sign: bool = False, grouping: bool = False) -> str:
    """Shares, USDC or pUSD: 2 decimals, up to 6 where the value has them (``10.00``, ``2.09``,
    ``0.000001``, ``-24.98``; ``4E-16`` is ``0.00``)."""
    return fmt_number(value, AMOUNT_PLACES, AMOUNT_MAX_PLACES, sign=sign, grouping=grouping)


def tick_places(tick: Tick | None) -> int:
    """Decimals of a tick's prices: 0.1 → 1, 0.01 → 2, 0.005 and 0.001 → 3, 0.0025 and 0.0001 → 4
    (None, an unknown tick: 2)."""
    if tick is None:
        return PRICE_PLACES
    exponent = tick.decimal.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def fmt_price(value: Number, tick: Tick | None = None) -> str:
    """A price (or a spread) with its market's tick's decimals (``0.30`` on 0.01, ``0.305`` on 0.005;
    2 when ``tick`` is None), up to a pip's 4 for a price off the grid (an average entry price)."""
    places = tick_places(tick)
    return fmt_number(value, places, max(places, PRICE_MAX_PLACES))


def fmt_pips(pips: int, tick: Tick | None = None) -> str:
    """A price in pips as ``fmt_price`` writes it (``7000`` on a 0.01 tick: ``0.70``)."""
    return fmt_price(pips_to_decimal(pips), tick)


def human(d: Number, max_places: int | None = None) -> str:
    """A number as a person writes it: no exponent, no trailing zeros (``10``, ``0.5``, ``-3.25``) —
    ``Decimal.normalize`` alone turns 10 into ``1E+1``. Exact, unless ``max_places`` rounds it; a
    float loses its binary noise (see ``to_decimal``)."""
    return fmt_number(d, 0, max_places)


def as_typed(value: object) -> str:
    """A value echoed back in an error message, as the user typed it: a number in plain digits
    (``Decimal('-1')`` → ``-1``, ``Decimal('0.50')`` → ``0.50``, the string ``"2"`` → ``2``), anything
    else (a word, an empty string, None) quoted as Python writes it (``'foo'``, ``''``, ``None``)."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return human(value)
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else str(value)
    if isinstance(value, str) and value.strip() == value and value:
        try:
            d = Decimal(value)
        except InvalidOperation:
            return repr(value)
        return value if d.is_finite() else repr(value)
    return repr(value)
