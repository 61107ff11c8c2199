"""The liquidity rewards our wallet earned on a UTC day, read from the venue (docs/protocol.md §5.5).

``read_earned(client, date)`` asks the official client for the day's total
(``get_total_earnings_for_user_for_day``, GET ``/rewards/user/total``) and the per-market rows
(``get_earnings_for_user_for_day``, GET ``/rewards/user``, every page) and returns them as exact
Decimals. The venue sends ``earnings`` as JSON numbers (strings are accepted too); each goes through
``str()`` so 0.237519 stays 0.237519. Synchronous, as the client is: call it in a worker thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date as _date
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class RewardsShapeError(ValueError):
    """A rewards answer that is not the documented shape (what was wrong, and where)."""


class EarningsClient(Protocol):
    """What ``read_earned`` needs of ``py_clob_client_v2.ClobClient`` (with L2 credentials set)."""

    def get_total_earnings_for_user_for_day(self, date: str) -> Any: ...

    def get_earnings_for_user_for_day(self, date: str) -> Any: ...


@dataclass(frozen=True)
class EarnedRewards:
    """What the wallet earned on ``date`` (YYYY-MM-DD, UTC): the venue's total (pUSD) and its rows per
    market (condition id → pUSD, rows of one market summed)."""

    date: str
    total: Decimal
    by_market: dict[str, Decimal]


def _amount(value: object, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RewardsShapeError(f"{where}: earnings must be a number or a numeric string, got {value!r}")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise RewardsShapeError(f"{where}: earnings must be a number or a numeric string, got {value!r}") from None
    if not d.is_finite():
        raise RewardsShapeError(f"{where}: earnings must be finite, got {value!r}")
    return d


def _rows(answer: object, route: str) -> list[dict[str, Any]]:
    if not isinstance(answer, list):
        raise RewardsShapeError(f"{route}: want a list of rows, got {type(answer).__name__}: {answer!r:.200}")
    for i, row in enumerate(answer):
        if not isinstance(row, dict) or "earnings" not in row:
            raise RewardsShapeError(f"{route} row {i}: want an object with 'earnings', got {row!r:.200}")
    return answer


def read_earned(client: EarningsClient, date: str) -> EarnedRewards:
    """The rewards the client's wallet earned on ``date`` (``YYYY-MM-DD``, a UTC day).

    ValueError for a malformed ``date``; ``RewardsShapeError`` when an answer is not the documented
    shape; the client's own exceptions (HTTP errors) pass through."""
    if not isinstance(date, str) or not _DAY.fullmatch(date):
        raise ValueError(f"date must be YYYY-MM-DD (a UTC day), got {date!r}")
    try:
        _date.fromisoformat(date)
    except ValueError:
        raise ValueError(f"date must be YYYY-MM-DD (a UTC day), got {date!r}") from None
    totals = _rows(client.get_total_earnings_for_user_for_day(date), "/rewards/user/total")
    total = sum((_amount(r["earnings"], f"/rewards/user/total row {i}") for i, r in enumerate(totals)), Decimal(0))
    by_market: dict[str, Decimal] = {}
    for i, row in enumerate(_rows(client.get_earnings_for_user_for_day(date), "/rewards/user")):
        cond = row.get("condition_id")
        if not isinstance(cond, str) or not cond:
            raise RewardsShapeError(f"/rewards/user row {i}: want a 'condition_id' string, got {cond!r}")
        by_market[cond] = by_market.get(cond, Decimal(0)) + _amount(row["earnings"], f"/rewards/user row {i}")
    return EarnedRewards(date, total, by_market)
