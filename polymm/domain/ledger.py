"""The position ledger: what we hold, per outcome token, with the venue as the truth.

Every fill leg of ours is booked here once, whatever its market's state (traded now, removed,
paused, resolved, never traded in this run): the ledger is keyed by token and by (trade id, order id),
not by the set of markets being quoted.

* **Legs.** A leg is one of our orders' share of one venue trade. It is booked (shares and P&L) at
  the first status the venue reports for it, keeps the venue's later statuses (MATCHED → MINED →
  CONFIRMED, or RETRYING → FAILED), and a FAILED leg that was booked is reversed **exactly once**:
  an opposite fill with the trade id ``<trade id>:failed`` (``portfolio.REVERSAL``). A leg first seen
  as FAILED is remembered and never booked, so a late replay of its MATCHED cannot book it either.
* **Tokens.** Each leg moves its token's share count: a BUY of the token adds, a SELL removes. The
  market's YES-terms position (``portfolio``, average-cost P&L) is moved by the same fills, so
  ``position(cid).qty == shares(YES) − shares(NO)`` holds at all times.
* **The venue wins.** ``Reconciliation`` compares a token's share count with the venue's balance;
  a confirmed disagreement is settled by ``adjust``: an adjustment fill (trade id ``reconcile:…``)
  that moves the ledger to the venue's number (see ``Reconciliation`` for when a difference counts).
* **Orders.** ``booked_for(order_id)`` is the size booked for one of our orders (failed legs
  included: the venue does not give a failed match back to the order), which is what the order book
  keeping of the execution needs to know how much of an order can still fill.
* **History.** Legs are kept to deduplicate replays of the venue's trades; ``forget(before)`` drops
  the ones the venue is done with that no replay can bring any more (the caller knows how far back
  its replays read), so the history stays bounded in a long run. A trade older than what was
  forgotten (``horizon``) and not known is not booked (``beyond_horizon`` counts them): a replay that
  reached back too far can never book one twice; the balance comparison still sees it.

Restart: the journal's fills (originals, reversals, adjustments) and each leg's last status are
given back to ``restore``; a leg whose last status is FAILED but whose reversal never reached the
journal is reversed then (``restore`` returns those reversals so the caller journals them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from .market import Side
from .portfolio import REVERSAL, Fill, Portfolio

ZERO = Decimal(0)
#: A leg's status once the venue settled it on chain (shares in the wallet for good).
SETTLED = frozenset({"MINED", "CONFIRMED", "ADJUSTED"})
#: Statuses after which nothing changes any more.
TERMINAL = frozenset({"CONFIRMED", "FAILED", "ADJUSTED"})
#: Trade-id prefix of the fills ``adjust`` books (the venue said we hold something else).
ADJUSTMENT = "reconcile:"


def token_delta(fill: Fill) -> Decimal:
    """How a fill moves its token's share count: a YES-terms BUY adds YES (or removes NO)."""
    signed = fill.size if fill.side is Side.BUY else -fill.size
    return -signed if fill.no else signed


@dataclass(slots=True)
class Leg:
    """One booked (or refused) leg: the fill as booked and the venue's last status for it."""

    fill: Fill
    status: str
    booked: bool = True  # False: first seen as FAILED, never booked
    reversed: bool = False
    pending: bool = False  # its shares are counted in the token's pending (not settled) part
    revocable: bool = False  # the venue may still fail it (not CONFIRMED): counted in ``revocable``


@dataclass(frozen=True, slots=True)
class Holding:
    """Shares of one token as the ledger holds them."""

    token_id: str
    condition_id: str
    no: bool  # the market's second (NO) token
    shares: Decimal
    pending: Decimal  # part of ``shares`` in legs the venue has not settled yet


class Ledger:
    """See the module docstring. Owned by the engine; executions book into it."""

    def __init__(self) -> None:
        self.portfolio = Portfolio()
        self._shares: dict[str, Decimal] = {}
        self._pending: dict[str, Decimal] = {}  # token → shares in unsettled legs
        self._tokens: dict[str, tuple[str, bool]] = {}  # token → (condition id, is the NO token)
        self._legs: dict[tuple[str, str], Leg] = {}
        self._by_order: dict[str, Decimal] = {}
        self._version: dict[str, int] = {}  # token → number of changes (a reconcile read races with these)
        self._revocable: dict[str, list[Decimal]] = {}  # market → [YES bought, YES sold] the venue may still fail
        #: markets whose position, booked sizes or revocable legs changed since the engine last looked
        #: (it re-reads only those: ``Engine._positions``)
        self.touched: set[str] = set()
        self.reversals = 0
        self.adjustments = 0
        #: legs with a fill older than this (epoch seconds) may have been forgotten: not booked again
        self.horizon = 0.0
        self.beyond_horizon = 0  # trades refused for that

    # ------------------------------------------------------------------ reads
    def shares(self, token_id: str) -> Decimal:
        return self._shares.get(token_id, ZERO)

    def holding(self, token_id: str) -> Holding | None:
        where = self._tokens.get(token_id)
        if where is None:
            return None
        return Holding(token_id, where[0], where[1], self.shares(token_id), self._pending.get(token_id, ZERO))

    def holdings(self, nonzero: bool = True) -> list[Holding]:
        """Every token the ledger knows (with a non-zero count unless ``nonzero`` is False)."""
        out = [h for t in self._tokens if (h := self.holding(t)) is not None]
        return [h for h in out if h.shares] if nonzero else out

    def version(self, token_id: str) -> int:
        """Changes to the token's count so far: a venue read that saw a different version is stale."""
        return self._version.get(token_id, 0)

    def versions(self) -> Mapping[str, int]:
        """Every token's ``version`` (read only): a reader that keeps what it built per token rebuilds
        only the tokens whose version moved."""
        return MappingProxyType(self._version)

    def booked_for(self, order_id: str) -> Decimal:
        """Size booked for one of our orders (failed legs included)."""
        return self._by_order.get(order_id, ZERO)

    def status(self, trade_id: str, order_id: str) -> str | None:
        leg = self._legs.get((trade_id, order_id))
        return leg.status if leg is not None else None

    def revocable(self, condition_id: str) -> tuple[Decimal, Decimal]:
        """(YES bought, YES sold) in the market's legs the venue may still fail. A failed buy is undone
        by a sell and vice versa, so for the limits they count like orders that could still fill: the
        sold part like a bid, the bought part like an ask."""
        r = self._revocable.get(condition_id)
        return (r[0], r[1]) if r else (ZERO, ZERO)

    def pending_legs(self) -> int:
        return sum(1 for leg in self._legs.values() if leg.booked and leg.status not in TERMINAL)

    def oldest_open_leg(self) -> float | None:
        """Epoch time of the oldest booked leg the venue has not finished with (None when none)."""
        return min((leg.fill.ts for leg in self._legs.values() if leg.booked and leg.status not in TERMINAL),
                   default=None)

    def markets(self) -> set[str]:
        """Every market the ledger holds anything of (or ever booked)."""
        return {cid for cid, _ in self._tokens.values()} | set(self.portfolio.positions)

    # ------------------------------------------------------------------ booking
    def record(self, fill: Fill, status: str) -> list[Fill]:
        """A status the venue reported for one of our legs (``fill`` as it would be booked). Returns
        the fills booked by it: the fill itself the first time the leg is seen, its reversal when a
        booked leg turns FAILED, else nothing."""
        key = (fill.trade_id, fill.order_id)
        leg = self._legs.get(key)
        if leg is None and fill.ts < self.horizon:
            self.beyond_horizon += 1  # booked once already, or older than anything a replay may bring
            return []
        if status == "FAILED":
            if leg is None:  # never booked: remember, so a late MATCHED does not book it
                self._legs[key] = Leg(fill, status, booked=False)
                self._by_order[fill.order_id] = self.booked_for(fill.order_id) + fill.size
                self.touched.add(fill.condition_id)
                return []
            leg.status = status
            self._settle(leg)
            self._final(leg)
            if leg.booked and not leg.reversed:  # never booked (first seen FAILED): nothing to undo
                return [self._reverse(leg)]
            return []
        if leg is not None:
            if leg.status != status and leg.status not in TERMINAL:
                leg.status = status
                if status in SETTLED:
                    self._settle(leg)
                if status in TERMINAL:
                    self._final(leg)
            return []
        leg = Leg(fill, status, pending=status not in SETTLED)
        self._legs[key] = leg
        self._by_order[fill.order_id] = self.booked_for(fill.order_id) + fill.size
        self._apply(fill, pending=leg.pending)
        if status not in TERMINAL:
            self._revoke(leg, +1)
        return [fill]

    def book(self, fill: Fill) -> bool:
        """Book a fill that needs no venue lifecycle (paper, replays): settled at once. False for a
        duplicate (same trade id and order id)."""
        if not fill.trade_id:
            return self._apply(fill, pending=False)
        return bool(self.record(fill, "CONFIRMED"))

    def adjust(self, token_id: str, condition_id: str, no: bool, venue: Decimal, price: int, ts: float) -> Fill | None:
        """Move the token's count to the venue's ``venue`` shares with an adjustment fill at ``price``
        (YES-terms pips; the caller uses the mark, so the difference is valued, not hidden). None
        when there is nothing to move."""
        delta = venue - self.shares(token_id)
        if not delta:
            return None
        self.adjustments += 1
        yes_buy = (delta > 0) != no  # more YES shares, or fewer NO shares, is a YES-terms buy
        fill = Fill(condition_id, "", Side.BUY if yes_buy else Side.SELL, price, abs(delta), ZERO, ts,
                    f"{ADJUSTMENT}{token_id}:{self.adjustments}:{ts:.3f}", token_id, no)
        self._legs[(fill.trade_id, "")] = Leg(fill, "ADJUSTED")
        self._apply(fill, pending=False)
        return fill

    def move(self, token_id: str, condition_id: str, no: bool, delta: Decimal) -> None:
        """Shares that came or went without a trade — a merge burns YES+NO pairs, a split mints them:
        the token's count moves, the market's position (YES terms: YES − NO) and its P&L do not."""
        if not delta:
            return
        self._tokens.setdefault(token_id, (condition_id, no))
        self._shares[token_id] = self.shares(token_id) + delta
        self._version[token_id] = self.version(token_id) + 1
        self.touched.add(condition_id)

    def restore_moves(self, moves: Iterable[Any]) -> None:
        """Confirmed merges and splits from the journal (``yes_token``/``no_token``/``yes_delta``/
        ``no_delta``/``condition_id``): their counts moved without a trade, so the fills do not say it."""
        for m in moves:
            self.move(m.yes_token, m.condition_id, False, m.yes_delta)
            self.move(m.no_token, m.condition_id, True, m.no_delta)

    # ------------------------------------------------------------------ restart
    def restore(self, fills: Iterable[tuple[Fill, str]]) -> list[Fill]:
        """The journal's fills (oldest first) with each leg's last status. Returns the reversals a
        FAILED leg still owed (book them in the journal too)."""
        items = list(fills)
        reversed_keys = {(f.trade_id.removesuffix(REVERSAL), f.order_id) for f, _ in items if f.is_reversal}
        owed: list[Fill] = []
        for fill, status in items:  # in journal order: average-cost P&L depends on it
            key = (fill.trade_id, fill.order_id)
            if key in self._legs:
                continue
            if fill.is_reversal:
                self.reversals += 1
                self._apply(fill, pending=False)
                continue
            if fill.trade_id.startswith(ADJUSTMENT):
                self._legs[key] = Leg(fill, "ADJUSTED")
                self.adjustments += 1
                self._apply(fill, pending=False)
                continue
            was_reversed = key in reversed_keys
            leg = Leg(fill, status, reversed=was_reversed,
                      pending=status not in SETTLED and status != "FAILED" and not was_reversed)
            self._legs[key] = leg
            self._by_order[fill.order_id] = self.booked_for(fill.order_id) + fill.size
            self._apply(fill, pending=leg.pending)
            if status not in TERMINAL and not was_reversed:
                self._revoke(leg, +1)
            if status == "FAILED" and not was_reversed:
                owed.append(self._reverse(leg))
        return owed

    # ------------------------------------------------------------------ bounding the history
    def legs(self) -> int:
        """Legs held (booked or refused), for the bound on the history."""
        return len(self._legs)

    def forget(self, before: float, keep_orders: Iterable[str] = ()) -> int:
        """Forget the legs the venue is done with (CONFIRMED, FAILED and reversed or never booked,
        ADJUSTED: nothing pending, nothing revocable) whose fill is older than ``before`` (epoch
        seconds), and their trade ids in the portfolio's deduplication. Their shares, positions and
        P&L stay as booked; only the memory of each leg goes, so a later replay of such a trade would
        be booked again: pass the oldest trade time a replay can still bring, less a margin. An
        order's booked size (``booked_for``) goes with its last leg, unless the order is one of
        ``keep_orders`` (orders that can still fill or are closing: the execution still reads it).
        Returns how many legs were forgotten."""
        keep = set(keep_orders)
        self.horizon = max(self.horizon, before)
        gone: list[tuple[str, str]] = []
        left: set[str] = set()
        for key, leg in self._legs.items():
            if (leg.fill.ts < before and leg.status in TERMINAL and not leg.pending and not leg.revocable
                    and (leg.status != "FAILED" or leg.reversed or not leg.booked)):
                gone.append(key)
            else:
                left.add(leg.fill.order_id)
        if not gone:
            return 0
        seen: list[tuple[str, str]] = []
        for key in gone:
            leg = self._legs.pop(key)
            seen.append(key)
            if leg.reversed:
                seen.append((key[0] + REVERSAL, key[1]))
            oid = leg.fill.order_id
            if oid not in left and oid not in keep:
                self._by_order.pop(oid, None)
        self.portfolio.forget(seen)
        return len(gone)

    # ------------------------------------------------------------------ internals
    def _apply(self, fill: Fill, *, pending: bool) -> bool:
        if not self.portfolio.apply(fill):
            return False
        self.touched.add(fill.condition_id)
        if fill.token:
            self._tokens.setdefault(fill.token, (fill.condition_id, fill.no))
            d = token_delta(fill)
            self._shares[fill.token] = self.shares(fill.token) + d
            if pending:
                self._pending[fill.token] = self._pending.get(fill.token, ZERO) + d
            self._version[fill.token] = self.version(fill.token) + 1
        return True

    def _settle(self, leg: Leg) -> None:
        """The leg's shares are no longer pending (settled, or failed and about to be reversed)."""
        if not leg.pending:
            return
        leg.pending = False
        f = leg.fill
        if f.token:
            self._pending[f.token] = self._pending.get(f.token, ZERO) - token_delta(f)
            self._version[f.token] = self.version(f.token) + 1

    def _revoke(self, leg: Leg, sign: int) -> None:
        leg.revocable = sign > 0
        self.touched.add(leg.fill.condition_id)
        r = self._revocable.setdefault(leg.fill.condition_id, [ZERO, ZERO])
        r[0 if leg.fill.side is Side.BUY else 1] += sign * leg.fill.size

    def _final(self, leg: Leg) -> None:
        """The venue is done with the leg (CONFIRMED or FAILED): it can no longer be undone."""
        if leg.revocable:
            self._revoke(leg, -1)

    def _reverse(self, leg: Leg) -> Fill:
        leg.reversed = True
        self.reversals += 1
        f = leg.fill
        rev = replace(f, side=f.side.other, trade_id=f.trade_id + REVERSAL, fee=-f.fee)
        self._apply(rev, pending=False)
        return rev


class Reconciliation:
    """Which tokens disagree with the venue, and which markets are paused for it.

    A balance read can race a fill (the venue counted it, its trade event is still on the way), so
    one disagreement proves nothing: it makes the token a *suspect*, read again soon after a trade
    replay. The venue's number is taken (``confirmed``) when the next read disagrees the same way —
    same venue number, same ledger number — and no leg of the token is waiting for the venue to
    settle it. A venue that counts unsettled legs and one that does not are both "clean": the
    ledger's count with or without its pending part may equal the venue's. ``confirm_now`` (the
    catch-up, when nothing of ours rests and every trade was just booked) confirms at once.

    A market whose position was taken from the venue stays paused until a read of all its tokens
    is clean (``pause`` / ``resume``; ``paused`` maps condition id → why)."""

    def __init__(self) -> None:
        self.suspects: dict[str, tuple[Decimal, Decimal]] = {}  # token → (venue, ours) at the last read
        self.paused: dict[str, str] = {}

    def judge(self, token: str, venue: Decimal, ours: Decimal, pending: Decimal, *, confirm_now: bool = False) -> str:
        """``clean``, ``suspect`` (read again) or ``confirmed`` (take the venue's number)."""
        if venue in (ours, ours - pending):
            self.suspects.pop(token, None)
            return "clean"
        if (confirm_now or self.suspects.get(token) == (venue, ours)) and not pending:
            self.suspects.pop(token, None)
            return "confirmed"
        self.suspects[token] = (venue, ours)
        return "suspect"

    def pause(self, condition_id: str, why: str) -> None:
        self.paused[condition_id] = why

    def resume(self, condition_id: str) -> None:
        self.paused.pop(condition_id, None)
