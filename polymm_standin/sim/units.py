"""Units and number forms on the wire, shared by the book, the matching engine and the server.

Sizes are exact integer micro-shares (1e-6, the venue's own on-chain unit) and go out as minimal
decimal strings (``30000000`` -> ``"30"``, ``219217767`` -> ``"219.217767"``); a book level is rendered
once as the bytes ``{"price":"0.52","size":"30"}`` (``level_fragment``) and kept beside the level.
"""

from __future__ import annotations

import time
from decimal import Decimal

from polymm.domain.prices import MAX_PIPS, pips_to_str

MICRO = 1_000_000
_MICRO_D = Decimal(MICRO)

#: Price strings as bytes, indexed by pips, for building level fragments without formatting.
_PRICE_BYTES: tuple[bytes, ...] = tuple(pips_to_str(p).encode() for p in range(MAX_PIPS + 1))


class SizeError(ValueError):
    """A size that is not a positive multiple of 1e-6 shares."""


def now_ms() -> int:
    """Wall-clock epoch milliseconds (the venue's WS and book timestamp unit)."""
    return time.time_ns() // 1_000_000


def micro_to_str(micro: int) -> str:
    """Minimal decimal string for a micro-share (or micro-USDC) amount: ``1500000`` -> ``"1.5"``."""
    whole, frac = divmod(micro, MICRO)
    if frac == 0:
        return str(whole)
    return f"{whole}.{frac:06d}".rstrip("0")


def to_micro(size: Decimal | str | int) -> int:
    """Exact micro-shares from a decimal share amount; ints are whole shares.

    Raises ``SizeError`` for non-numbers, more than six decimals, or non-positive sizes.
    """
    try:
        d = Decimal(size) if not isinstance(size, Decimal) else size
        if not d.is_finite():
            raise ValueError
        scaled = d * _MICRO_D
        exact = scaled == scaled.to_integral_value()
    except (ArithmeticError, TypeError, ValueError):
        raise SizeError(f"size {size!r} is not a number") from None
    if not exact:
        raise SizeError(f"size {size!r} has more than 6 decimals")
    micro = int(scaled)
    if micro <= 0:
        raise SizeError(f"size {size!r} must be positive")
    return micro


def decimal_str(d: Decimal) -> str:
    """Plain (non-scientific), minimal decimal string: ``Decimal("5.00")`` -> ``"5"``."""
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def price_str(pips: int | None) -> str:
    """Wire price string, ``""`` when absent (the WS convention for missing decimals)."""
    return "" if pips is None else pips_to_str(pips)


def level_fragment(price_pips: int, size_micro: int) -> bytes:
    """One rendered book level, exactly as the compact JSON the hash recipe serializes."""
    return b'{"price":"%s","size":"%s"}' % (_PRICE_BYTES[price_pips], micro_to_str(size_micro).encode())
