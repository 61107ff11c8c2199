"""Balances of the stand-in exchange: pUSD collateral and outcome shares per wallet address, and fees.

Amounts are exact integers in the venue's on-chain unit, 1e-6 ("micro"), for both pUSD and shares
(docs/protocol.md §2). A wallet's account is created on first use with ``starting_balance`` pUSD and no
shares, so a bot that just created its API key can trade at once.

Settlement is done in each participant's own terms — whichever kind of match it was (normal, MINT of
a YES buy against a NO buy, MERGE of a YES sell against a NO sell), a BUY of ``n`` shares at ``p``
pays ``n·p`` and receives ``n`` of its token, a SELL gives ``n`` and receives ``n·p``; cash is conserved
across the two sides because the prices of the two tokens sum to 1.

Fees (docs/protocol.md §8): takers only, ``fee = shares × rate × p × (1 − p)`` in pUSD rounded to 5 dp. A
market's ``rate`` is, in order: one set with ``set_fee_rate``; else what ``rate_source`` says (the
stand-in wires the catalog's per-market fee schedule here, the one Gamma and ``/clob-markets`` show);
else ``default_fee_rate`` (0 by default). Makers pay nothing.

Funds checks use balances NET OF OPEN ORDERS: the trading layer passes the amounts its live orders
reserve (``remaining × price`` pUSD for a BUY, ``remaining`` shares for a SELL).

Owners named ``synthetic…`` (the stand-in's own simulated traders) have no account: they are never
checked and never settled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from polymm.domain.market import Side
from polymm.domain.prices import MAX_PIPS, PIPS_PER_UNIT

from ..sim import units

DEFAULT_STARTING_BALANCE = Decimal(10_000)
_FEE_QUANTUM = Decimal("0.00001")
_MICRO_D = Decimal(units.MICRO)


def is_synthetic(owner: str) -> bool:
    """True for the stand-in's simulated traders (unlimited funds, no settlement)."""
    return owner.startswith("synthetic")


def usdc_to_micro(amount: Decimal | int | str) -> int:
    d = Decimal(amount) if not isinstance(amount, Decimal) else amount
    return int((d * _MICRO_D).to_integral_value())


def micro_to_decimal(micro: int) -> Decimal:
    return Decimal(micro) / _MICRO_D


def notional_micro(size_micro: int, price_pips: int, *, round_up: bool = False) -> int:
    """pUSD micro-units of ``size`` micro-shares at ``price`` pips (floored, or ceiled)."""
    num = size_micro * price_pips
    return -(-num // PIPS_PER_UNIT) if round_up else num // PIPS_PER_UNIT


def fee_micro(size_micro: int, price_pips: int, rate: Decimal) -> int:
    """Taker fee in pUSD micro-units: ``shares × rate × p × (1 − p)``, rounded to 5 dp."""
    if rate == 0 or size_micro == 0:
        return 0
    fee = (
        Decimal(size_micro) * rate * price_pips * (MAX_PIPS - price_pips)
        / (_MICRO_D * PIPS_PER_UNIT * PIPS_PER_UNIT)
    )
    return usdc_to_micro(fee.quantize(_FEE_QUANTUM, rounding=ROUND_HALF_EVEN))


@dataclass(slots=True)
class Account:
    """One wallet: pUSD cash and outcome-token shares, in micro-units."""

    address: str
    cash: int
    positions: dict[str, int] = field(default_factory=dict)

    def shares(self, token_id: str) -> int:
        return self.positions.get(token_id, 0)

    def add_shares(self, token_id: str, delta: int) -> None:
        n = self.positions.get(token_id, 0) + delta
        if n:
            self.positions[token_id] = n
        else:
            self.positions.pop(token_id, None)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One settlement movement (kept so a FAILED trade can be reversed exactly)."""

    address: str
    token_id: str
    cash: int
    shares: int


class Accounts:
    """All wallets' balances and the per-market fee rates."""

    def __init__(
        self,
        starting_balance: Decimal | int | str = DEFAULT_STARTING_BALANCE,
        default_fee_rate: Decimal = Decimal(0),
        rate_source: Callable[[str], Decimal | None] | None = None,
    ) -> None:
        self.starting_balance = usdc_to_micro(starting_balance)
        self.default_fee_rate = Decimal(default_fee_rate)
        self.rate_source = rate_source
        self._accounts: dict[str, Account] = {}
        self._fee_rates: dict[str, Decimal] = {}

    # ---------------------------------------------------------------- accounts

    def account(self, address: str) -> Account:
        """The account of ``address`` (any case), created with the starting balance if new."""
        low = address.lower()
        acct = self._accounts.get(low)
        if acct is None:
            acct = self._accounts[low] = Account(address, self.starting_balance)
        return acct

    def known(self, address: str) -> bool:
        return address.lower() in self._accounts

    def addresses(self) -> list[str]:
        return [a.address for a in self._accounts.values()]

    def fund(self, address: str, usdc: Decimal | int | str) -> int:
        """Add (or, negative, remove) pUSD; returns the new balance in micro-units."""
        acct = self.account(address)
        acct.cash += usdc_to_micro(usdc)
        return acct.cash

    def set_cash(self, address: str, usdc: Decimal | int | str) -> None:
        self.account(address).cash = usdc_to_micro(usdc)

    def set_shares(self, address: str, token_id: str, shares: Decimal | int | str) -> None:
        acct = self.account(address)
        acct.positions.pop(token_id, None)
        acct.add_shares(token_id, usdc_to_micro(shares))

    def cash_micro(self, address: str) -> int:
        return self.account(address).cash

    def shares_micro(self, address: str, token_id: str) -> int:
        return self.account(address).shares(token_id)

    def balance(self, address: str) -> Decimal:
        """pUSD balance (gross of open orders) as a Decimal."""
        return micro_to_decimal(self.cash_micro(address))

    def position(self, address: str, token_id: str) -> Decimal:
        """Shares of ``token_id`` held, as a Decimal."""
        return micro_to_decimal(self.shares_micro(address, token_id))

    # ---------------------------------------------------------------- fees

    def set_fee_rate(self, condition_id: str, rate: Decimal | float | str) -> None:
        """Taker fee rate of one market (e.g. ``0.04``)."""
        r = Decimal(str(rate))
        if not 0 <= r <= 1:
            raise ValueError(f"fee rate must be in [0, 1], got {rate}")
        self._fee_rates[condition_id] = r

    def fee_rate(self, condition_id: str) -> Decimal:
        rate = self._fee_rates.get(condition_id)
        if rate is None and self.rate_source is not None:
            rate = self.rate_source(condition_id)
        return self.default_fee_rate if rate is None else rate

    def clear_fee_rate(self, condition_id: str) -> None:
        """Drop a ``set_fee_rate`` override (back to the market's schedule / the default)."""
        self._fee_rates.pop(condition_id, None)

    def fee_rate_bps(self, condition_id: str) -> str:
        """The rate as the wire's ``fee_rate_bps`` string (0.04 → ``"400"``)."""
        return units.decimal_str(self.fee_rate(condition_id) * 10_000)

    # ---------------------------------------------------------------- settlement

    def settle(
        self, address: str, token_id: str, side: Side, size_micro: int, price_pips: int, fee: int
    ) -> LedgerEntry:
        """Move cash and shares for one fill of ``address`` (fee paid in pUSD); returns the entry."""
        cost = notional_micro(size_micro, price_pips)
        if side is Side.BUY:
            entry = LedgerEntry(address, token_id, -cost - fee, size_micro)
        else:
            entry = LedgerEntry(address, token_id, cost - fee, -size_micro)
        self.apply(entry)
        return entry

    def apply(self, entry: LedgerEntry, sign: int = 1) -> None:
        acct = self.account(entry.address)
        acct.cash += sign * entry.cash
        acct.add_shares(entry.token_id, sign * entry.shares)

    def reverse(self, entries: list[LedgerEntry]) -> None:
        for entry in reversed(entries):
            self.apply(entry, -1)

    def redeem(self, winning_token: str, losing_token: str) -> dict[str, int]:
        """Pay every holder of ``winning_token`` 1 pUSD per share and burn both tokens (a resolution).

        Returns the payout (micro pUSD) per address that held either token.
        """
        paid: dict[str, int] = {}
        for acct in self._accounts.values():
            won = acct.positions.pop(winning_token, 0)
            lost = acct.positions.pop(losing_token, 0)
            if won or lost:
                acct.cash += won
                paid[acct.address] = won
        return paid
