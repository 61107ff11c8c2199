"""Capital operations: merge YES+NO pairs back to pUSD, redeem resolved markets, split pUSD into pairs.

A market maker that quotes both sides buys both: an ask goes out as a NO bid when it holds too few YES
shares (``venue/execution.route``), so pairs pile up and lock collateral the budget needs. Merging
frees it; redeeming collects a resolved market's winnings.

``CapitalManager`` plans and carries out operations over a ``CapitalPath`` (``venue/capital.py``:
web3 for an EOA, the relayer for proxy, Safe and deposit wallets, nothing for paper):

* **Plans** come from ``Holding`` views: the engine's (its ledger's free shares: settled, not offered
  by a resting sell) or an operator command's (the venue's positions less our resting sells).
* **Journaled**: every operation is a row of the journal's ``capital_ops`` (id, kind, market, amount,
  path, transaction, status, attempts, error), written at each change of status.
* **Booked only when confirmed**: the shares an operation burns are held (not offered, and the
  market's balances not compared with the venue's) while it is in flight; the ledger moves when the
  venue confirms it (``Execution.book_capital``): a merge or split moves the token counts only (a pair
  is worth 1: the YES-terms position and its P&L do not change; the journal's row brings the move back
  at a restart), a redeem is booked as a sale at 1 or 0.
* **Retried**: a submission the venue refuses or does not answer is retried with exponential backoff
  (shown in the event log); a transaction that reverts is not resent as is — the market waits a
  backoff and the next plan starts from fresh holdings.
* **Within the relayer's quota**: metered paths (the relayer) count transactions per UTC day against
  ``POLYMM_RELAYER_DAILY_LIMIT`` (journaled ones included, so a restart remembers) and batch up to
  ``batch_limit`` calls in one transaction.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any, TypeVar

from ..domain.ctf import CapitalKind, CtfCall, adapter_for, to_units
from ..domain.market import Market
from ..domain.prices import MAX_PIPS, as_typed, fmt_amount
from ..journal import CapitalRecord, Journal
from ..venue.capital import CapitalPath, Polled, Submitted
from ..venue.execution import Execution
from ..venue.retry import describe

ZERO = Decimal(0)
QUANTUM = Decimal("0.000001")  # on-chain units: 6 dp
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Holding:
    """What may be merged or redeemed in one market: free YES and NO shares, and its outcome if resolved."""

    market: Market
    yes: Decimal
    no: Decimal
    winner: str | None = None  # "YES" / "NO" once resolved

    @property
    def pairs(self) -> Decimal:
        return max(ZERO, min(self.yes, self.no)).quantize(QUANTUM, rounding=ROUND_DOWN)


@dataclass
class CapitalOp:
    """One operation and where it stands (``status``: planned, dry-run, submitted, retrying, confirmed,
    failed, deferred)."""

    kind: CapitalKind
    market: Market
    amount: Decimal  # pairs merged or split; for a redeem the winning shares paid
    path: str
    yes: Decimal = ZERO  # change of our YES and NO counts once confirmed
    no: Decimal = ZERO
    price: int = MAX_PIPS // 2  # YES-terms price the ledger books the change at
    op_id: str = field(default_factory=lambda: "cap-" + uuid.uuid4().hex[:16])
    status: str = "planned"
    tx_id: str = ""
    tx_hash: str = ""
    attempts: int = 0
    error: str = ""
    created_at: float = field(default_factory=time.time)
    updated_at: float = 0.0

    @property
    def condition_id(self) -> str:
        return self.market.condition_id

    def call(self) -> tuple[str, CtfCall]:
        units = 0 if self.kind is CapitalKind.REDEEM else to_units(self.amount)
        return adapter_for(self.market.neg_risk), CtfCall(self.kind, self.condition_id, units)

    def record(self) -> CapitalRecord:
        return CapitalRecord(self.op_id, self.kind.value, self.condition_id, self.market.question, self.amount,
                             self.path, self.tx_id, self.tx_hash, self.status, self.attempts, self.error,
                             self.created_at, self.updated_at or self.created_at, self.market.yes_token,
                             self.market.no_token, self.yes, self.no)

    def describe(self) -> str:
        name = self.market.short_question
        n = fmt_amount(self.amount)
        what = {CapitalKind.MERGE: f"merge {n} YES+NO pairs → {n} pUSD",
                CapitalKind.SPLIT: f"split {n} pUSD → {n} YES+NO pairs",
                CapitalKind.REDEEM: f"redeem → {n} pUSD"}[self.kind]
        return f"{name}: {what}"


def plan_merges(holdings: Sequence[Holding], min_pairs: Decimal, path: str) -> list[CapitalOp]:
    """A merge of every pair in each unresolved market holding at least ``min_pairs`` pairs."""
    ops = []
    for h in holdings:
        if h.winner is None and h.pairs > 0 and h.pairs >= min_pairs:
            ops.append(CapitalOp(CapitalKind.MERGE, h.market, h.pairs, path, yes=-h.pairs, no=-h.pairs))
    return ops


def plan_redeems(holdings: Sequence[Holding], path: str) -> list[CapitalOp]:
    """A redeem of every resolved market we hold shares of: the winners pay 1 pUSD each, the rest 0."""
    ops = []
    for h in holdings:
        if h.winner is None or (h.yes <= 0 and h.no <= 0):
            continue
        paid = h.yes if h.winner == "YES" else h.no
        ops.append(CapitalOp(CapitalKind.REDEEM, h.market, max(paid, ZERO), path, yes=-h.yes, no=-h.no,
                             price=MAX_PIPS if h.winner == "YES" else 0))
    return ops


def plan_split(market: Market, amount: Decimal, path: str) -> CapitalOp:
    if amount <= 0:
        raise ValueError(f"--amount: must be greater than 0 pUSD (got {as_typed(amount)})")
    amount = amount.quantize(QUANTUM, rounding=ROUND_DOWN)
    return CapitalOp(CapitalKind.SPLIT, market, amount, path, yes=amount, no=amount)


class Quota:
    """Transactions a UTC day, against the relayer's daily limit (``metered`` paths only)."""

    def __init__(self, limit: int, used_today: int = 0, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.clock = clock
        self._day = self._today()
        self.used = used_today

    def _today(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%d")

    def left(self) -> int:
        if self._today() != self._day:
            self._day, self.used = self._today(), 0
        return max(0, self.limit - self.used)

    def take(self) -> bool:
        if self.left() <= 0:
            return False
        self.used += 1
        return True


class CapitalManager:
    """Plans, sends, follows and books capital operations (see the module docstring)."""

    def __init__(
        self,
        path: CapitalPath,
        *,
        execution: Execution | None = None,
        journal: Journal | None = None,
        on_log: Callable[[str, str], None] = lambda text, level: None,
        quota: Quota | None = None,
        poll_s: float = 0.5,
        confirm_timeout_s: float = 300.0,
        max_attempts: int = 4,
        backoff_s: float = 2.0,
        max_backoff_s: float = 300.0,
        run: Callable[..., Awaitable[Any]] | None = None,
    ) -> None:
        self.path = path
        self.execution = execution
        self.journal = journal
        self.on_log = on_log
        self.quota = quota if quota is not None else Quota(10**9)
        self.poll_s = poll_s
        self.confirm_timeout_s = confirm_timeout_s
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._run = run or (lambda fn, *a: asyncio.to_thread(fn, *a))
        self.in_flight: dict[str, CapitalOp] = {}  # condition id → its operation
        self.recent: list[CapitalOp] = []  # the latest operations, newest last (the screen's list)
        self._wait_until: dict[str, float] = {}  # condition id → no new operation before (after a failure)
        self._failures: dict[str, int] = {}
        self._quota_said = False
        self.confirmed = 0
        self.failed = 0

    # ------------------------------------------------------------------ planning
    def eligible(self, ops: list[CapitalOp], now: float | None = None) -> list[CapitalOp]:
        """The planned operations not blocked by one in flight or a failure's backoff."""
        now = time.monotonic() if now is None else now
        return [op for op in ops if op.condition_id not in self.in_flight
                and self._wait_until.get(op.condition_id, 0.0) <= now]

    # ------------------------------------------------------------------ doing
    async def execute(self, ops: Sequence[CapitalOp], *, dry_run: bool = False) -> list[CapitalOp]:
        """Carry out ``ops`` (batched up to the path's limit); returns them with their final status."""
        ops = list(ops)
        if dry_run:
            for op in ops:
                op.status = "dry-run"
            return ops
        limit = max(1, self.path.batch_limit)
        batches = [ops[i:i + limit] for i in range(0, len(ops), limit)]
        await asyncio.gather(*(self._batch(b) for b in batches))
        return ops

    async def _batch(self, batch: list[CapitalOp]) -> None:
        for op in batch:
            self.in_flight[op.condition_id] = op
            self._hold(op)
            self._set(op, "planned")
        try:
            sub = await self._submit(batch)
            if sub is None:
                return
            polled = await self._follow(batch, sub)
            for op in batch:
                op.tx_hash = polled.tx_hash or op.tx_hash
                if polled.state == "confirmed":
                    self._confirm(op, polled)
                else:
                    self._fail(op, polled.detail or "not confirmed")
        finally:
            for op in batch:
                self.in_flight.pop(op.condition_id, None)
                if self.execution is not None:
                    self.execution.release_capital(op.condition_id)
            self.recent = (self.recent + batch)[-50:]

    def _hold(self, op: CapitalOp) -> None:
        if self.execution is None:
            return
        m = op.market
        burn = {m.yes_token: -op.yes if op.yes < 0 else ZERO, m.no_token: -op.no if op.no < 0 else ZERO}
        self.execution.hold_capital(m.condition_id, {t: n for t, n in burn.items() if n > 0})

    async def _submit(self, batch: list[CapitalOp]) -> Submitted | None:
        """Send the batch (one transaction); retried with backoff; None when it never went out."""
        if self.path.metered and not self.quota.take():
            why = (f"relayer daily limit reached ({self.quota.limit} transactions a UTC day): "
                   "waiting for the next UTC day")
            for op in batch:
                op.status, op.error = "deferred", why
                self._journal(op)
            if not self._quota_said:
                self._quota_said = True
                self.on_log(why, "warning")
            return None
        self._quota_said = False
        calls = [op.call() for op in batch]
        for attempt in range(1, self.max_attempts + 1):
            for op in batch:
                op.attempts = attempt
            try:
                sub = await self._run(self.path.submit, calls)
            except Exception as e:
                why = describe(e)
                if attempt >= self.max_attempts:
                    for op in batch:
                        self._fail(op, f"not sent after {attempt} attempts: {why}")
                    return None
                wait = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
                for op in batch:
                    op.error = why
                    self._set(op, "retrying")
                self.on_log(f"{batch[0].describe()}: {why}; retrying in {wait:g} s (attempt {attempt} of "
                            f"{self.max_attempts})", "warning")
                await asyncio.sleep(wait)
                continue
            for op in batch:
                op.tx_id, op.tx_hash, op.error = sub.tx_id, sub.tx_hash, ""
                self._set(op, "submitted")
            return sub
        return None

    async def _follow(self, batch: list[CapitalOp], sub: Submitted) -> Polled:
        """Poll the transaction until it is confirmed, failed, or ``confirm_timeout_s`` passed."""
        deadline = time.monotonic() + self.confirm_timeout_s
        last = Polled("pending", "")
        errors = 0
        while time.monotonic() < deadline:
            try:
                last = await self._run(self.path.poll, sub)
                errors = 0
            except Exception as e:  # a poll that fails is not an answer: ask again, a few times
                errors += 1
                last = Polled("pending", f"status unavailable: {describe(e)}")
                if errors >= 10:
                    break
            if last.state != "pending":
                return last
            await asyncio.sleep(self.poll_s)
        return Polled("failed", f"no confirmation within {self.confirm_timeout_s:g} s (last: {last.detail}); "
                                "the next look at the holdings decides", last.tx_hash)

    def _confirm(self, op: CapitalOp, polled: Polled) -> None:
        if self.execution is not None:  # pairs move counts only; a redeem is a sale at 1 or 0
            self.execution.book_capital(op.market, op.yes, op.no, op.price if op.kind is CapitalKind.REDEEM else None)
        op.error = ""
        self._failures.pop(op.condition_id, None)
        self._wait_until.pop(op.condition_id, None)
        self.confirmed += 1
        self._set(op, "confirmed")
        self.on_log(f"{op.describe()}: confirmed ({polled.detail or 'done'})", "info")

    def _fail(self, op: CapitalOp, why: str) -> None:
        op.error = why
        n = self._failures[op.condition_id] = self._failures.get(op.condition_id, 0) + 1
        wait = min(self.max_backoff_s, self.backoff_s * 2 ** n)
        self._wait_until[op.condition_id] = time.monotonic() + wait
        self.failed += 1
        self._set(op, "failed")
        self.on_log(f"{op.describe()}: failed: {why}; next try in {wait:g} s at the earliest", "error")

    def _set(self, op: CapitalOp, status: str) -> None:
        op.status = status
        op.updated_at = time.time()
        self._journal(op)

    def _journal(self, op: CapitalOp) -> None:
        if self.journal is not None:
            self.journal.record_capital_op(op.record())


def path_from_settings(settings: Any, mode: str) -> CapitalPath:
    """The capital path for the settings' wallet (demo and live: the chain; paper: nothing sent)."""
    from ..venue.capital import path_for
    from .execution_factory import live_config

    if settings.mode not in ("live", "demo"):
        return path_for("paper", signature_type=0, private_key=None, chain_id=settings.chain_id,
                        rpc_url=settings.rpc_url, relayer_url=settings.relayer_url, builder=None, funder=None)
    cfg = live_config(settings)
    return path_for(settings.mode, signature_type=cfg.signature_type, private_key=cfg.private_key,
                    chain_id=cfg.chain_id, rpc_url=settings.rpc_url, relayer_url=settings.relayer_url,
                    builder=settings.builder_creds, funder=cfg.funder)


def used_today(journal: Journal | None, path: CapitalPath) -> int:
    """Relayer transactions the journal shows sent today through this path (the quota remembers restarts)."""
    from ..journal import count_metered_today

    if journal is None or not path.metered:
        return 0
    journal.flush()
    return count_metered_today(journal.path, (path.name,), time.time())
