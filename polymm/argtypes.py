"""Argument types shared by the command-line parsers (``polymm.commands``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def number(cast: type[int] | type[float], ok: Callable[[Any], bool], allowed: str) -> Callable[[str], Any]:
    """An argparse ``type``: a ``cast`` number for which ``ok(x)`` holds; the error names what is allowed."""

    def parse(text: str) -> Any:
        try:
            x = cast(text)
        except ValueError:
            x = None
        if x is None or not ok(x):
            raise argparse.ArgumentTypeError(f"must be {allowed} (got {text!r})")
        return x

    return parse


def number_range(lo: float, hi: float, allowed: str, *, open_high: bool = False) -> Callable[[str], Any]:
    """An argparse ``type``: ``A:B`` (or ``A`` alone when ``open_high``: no upper bound) with
    ``lo <= A < B <= hi``; returns ``(A, B or None)``. The error names what is allowed."""

    def parse(text: str) -> tuple[float, float | None]:
        first, sep, second = text.partition(":")
        try:
            a = float(first)
            b = float(second) if sep else None
        except ValueError:
            a, b = float("nan"), None
        ok = lo <= a <= hi and ((b is None and open_high and not sep) or (b is not None and a < b <= hi))
        if not ok:
            raise argparse.ArgumentTypeError(f"must be {allowed} (got {text!r})")
        return a, b

    return parse


def positive_decimal(text: str) -> Any:
    """An argparse ``type``: an amount above 0 with at most 6 decimals (pUSD and shares), as a Decimal."""
    from decimal import Decimal, InvalidOperation

    try:
        x = Decimal(text)
    except InvalidOperation:
        x = None
    if x is None or not x.is_finite() or x <= 0 or x.as_tuple().exponent < -6:  # type: ignore[operator]  # finite: int
        raise argparse.ArgumentTypeError(f"must be a number above 0 with at most 6 decimals, e.g. 25 or 12.5 "
                                         f"(got {text!r})")
    return x
