"""Market and token metadata for Polymarket binary markets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from .prices import Tick


class Outcome(StrEnum):
    """Which outcome token of a binary market."""

    YES = "YES"
    NO = "NO"

    @property
    def other(self) -> Outcome:
        return Outcome.NO if self is Outcome.YES else Outcome.YES


class Side(StrEnum):
    """Order side as on the wire (BUY = bid, SELL = ask)."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def other(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


@dataclass(frozen=True, slots=True)
class Market:
    """One binary market: a condition with a YES and a NO token on a tick grid.

    ``reward_max_spread`` is in cents, as Gamma's ``rewardsMaxSpread``; ``reward_min_size`` in shares.
    """

    condition_id: str
    yes_token: str
    no_token: str
    question: str
    tick: Tick
    min_order_size: Decimal = Decimal(5)
    neg_risk: bool = False
    neg_risk_market_id: str = ""  # the event group: its markets are mutually exclusive
    slug: str = ""
    reward_min_size: Decimal = Decimal(0)
    reward_max_spread: Decimal = Decimal(0)
    end_date: str = ""
    outcomes: tuple[str, str] = field(default=("Yes", "No"))
    #: When the market's game starts (Gamma's ``gameStartTime``, e.g. ``2026-09-24 03:00:00+00``); "" none.
    game_start: str = ""

    def outcome_of(self, token_id: str) -> Outcome | None:
        if token_id == self.yes_token:
            return Outcome.YES
        if token_id == self.no_token:
            return Outcome.NO
        return None

    def token(self, outcome: Outcome) -> str:
        return self.yes_token if outcome is Outcome.YES else self.no_token

    @property
    def short_question(self) -> str:
        q = self.question
        return q if len(q) <= 48 else q[:47] + "…"


def parse_time(text: str) -> datetime:
    """A time as Gamma writes it, in UTC: ``2027-01-01T12:00:00Z``, ``2027-01-01``, ``2026-09-24 03:00:00+00``
    (a time naming no zone is UTC). ValueError when it is not one."""
    t = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "T"))
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
