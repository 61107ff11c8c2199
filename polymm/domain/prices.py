"""Exact prices on Polymarket's tick grids.

Every valid Polymarket price is a multiple of 0.0001, so a price is held as an ``int`` count of
1e-4 units ("pips"): 0.52 is ``5200``. The whole price axis is the 10,001 points ``0..10000``.
Integer pips never drift off the grid the way floats do, and they index arrays directly
(see ``OrderBook``). Conversion to and from the wire's decimal strings is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

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


def human(d: Decimal) -> str:
    """A Decimal as a person writes it: exact, no exponent, no trailing zeros (``10``, ``0.5``,
    ``-3.25``) — ``Decimal.normalize`` alone turns 10 into ``1E+1``."""
    if not d:
        return "0"
    return format(d.normalize(), "f")
