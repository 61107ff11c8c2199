"""The risk engine: pre-trade checks on every strategy step, and the limits that halt everything.

Pure and synchronous (no I/O, no clock: ``now`` is passed in), so every rule is a unit test. The
engine asks ``RiskEngine.check`` before it places anything and feeds it P&L, venue errors, mids and
balances from its risk loop; the kill itself (cancel all, confirm, latch HALTED) is the engine's.

Units: positions are YES shares (a NO holding is a negative YES position), prices are price units in
[0, 1] (floats) unless a name says pips, money is dollars (``Decimal`` at the edges, floats inside the
checks: they bound risk, they do not book money).

Exposure of a position ``q`` at mark ``p`` is what it loses if the market goes against it:
``q·p`` for a long (YES → 0), ``|q|·(1 − p)`` for a short (YES → 1).

Pre-trade checks, applied to one market's target quotes (each cuts a side's total size to the room it
leaves, cheapest cut first: layers are dropped from the outside in):

* ``max order size``: a quote larger than the cap is vetoed;
* ``position``: ``|q|`` stays within the market's ``position_limit × tighten``, and ``Σ|q|`` over all
  markets within ``max_total_position × tighten`` — counting every other market's resting orders as
  filled on its worse side, so no set of fills can pass it (the kill at that limit is a backstop);
* ``market exposure``: the side's exposure after every quote on it filled ≤ the market's budget
  (capital allocated to it, ``budget``) × ``tighten``;
* ``total exposure``: the sum over markets ≤ ``max_total_exposure × tighten``;
* ``neg-risk group``: in an event whose markets are mutually exclusive, the worst case over "market k
  wins" (and "none of ours wins") of ``−Σᵢ qᵢ·(1[i = k] − pᵢ)`` ≤ ``max_group_loss``;
* ``correlation``: ``√(Σᵢⱼ eᵢ·eⱼ·ρᵢⱼ) ≤ max_correlated_exposure`` with ``eᵢ = qᵢ·√(pᵢ(1 − pᵢ))`` (the
  position's standard deviation of payoff) and ρ the EWMA correlation of the markets' mid changes
  (``CorrelationTracker``); a side that would raise it past the limit is vetoed;
* ``reduce-only`` (the last ``reduce_only_hours`` before a market's end date): only the side that
  shrinks the position, and only down to zero;
* ``Kelly cap`` (optional, ``kelly_fraction > 0``), the PM4 formula
  ``q_max = B_side · time_factor / (p_opp · (1 + slippage_buffer))`` with ``B_side = kelly_fraction ×
  budget``, ``time_factor = clip((hours_to_end / kelly_horizon_hours)^eta_time, 0.1, 1)`` (1 without an
  end date; ``eta_time`` = ``kelly_eta_time``) and ``p_opp`` the probability of the adverse outcome at
  the mark: ``1 − mark`` for a YES buy (NO wins), ``mark`` for a YES sell (YES wins);
* ``error cooldown``: after a burst of venue errors nothing new is placed for ``error_cooldown_s``.

Limits that halt (``RiskEngine.kill_reason``): daily loss — realised + unrealised − fees since 00:00
UTC, against a baseline taken at the first sample of each UTC day — over ``daily_loss_limit``.
Dynamic limits: ``tighten = max(tighten_min, 1 − loss_today / daily_loss_limit)`` scales the position,
exposure limits as the day's loss grows. ``BalanceMonitor`` raises an alert on a drop of
``balance_drop_alert`` from the session's peak.
"""

from __future__ import annotations

import math
from collections import ChainMap
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import msgspec
import numpy as np

from .market import Side
from .prices import PIPS_PER_UNIT
from .quoting import Quote
from .sizes import cap_total


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Every limit the risk engine enforces (from ``Settings``; see ``.env.example``)."""

    max_order_size: Decimal = Decimal(500)
    max_total_position: Decimal = Decimal(1000)
    max_market_exposure: Decimal = Decimal(250)
    max_total_exposure: Decimal = Decimal(1000)
    max_group_loss: Decimal = Decimal(300)
    max_correlated_exposure: Decimal = Decimal(500)
    daily_loss_limit: Decimal = Decimal(100)
    tighten_min: float = 0.25
    error_cooldown_errors: int = 5
    error_cooldown_s: float = 30.0
    kelly_fraction: float = 0.0
    kelly_horizon_hours: float = 72.0
    kelly_eta_time: float = 0.5  # the PM4 original's time-decay exponent
    slippage_buffer: float = 0.05
    balance_drop_alert: float = 0.2
    enforce: bool = True


class Position(msgspec.Struct, frozen=True, gc=False):
    """One market's position and mark as the pre-trade checks see it."""

    qty: float  # YES shares, negative = NO held
    mark: float  # price units, the mid (or last price)
    group: str = ""  # neg-risk event id ("" = not in a group)
    bids: float = 0.0  # shares of our YES bids resting in this market (they may all fill)
    asks: float = 0.0  # shares of our YES asks resting

    @property
    def worst_abs(self) -> float:
        """``|q|`` after every resting order on the worse side filled."""
        return max(abs(self.qty + self.bids), abs(self.qty - self.asks))

    @property
    def worst_exposure(self) -> float:
        """``exposure`` after every resting order on the worse side filled."""
        return max(exposure(self.qty + self.bids, self.mark), exposure(self.qty - self.asks, self.mark))


class PositionBook(Mapping[str, Position]):
    """Every market's ``Position`` with the sums the pre-trade checks need kept as they change, so a
    check costs the same at 300 markets as at 3: Σ ``worst_abs`` and Σ ``worst_exposure`` over the
    markets, the markets of each neg-risk group, the markets holding something. ``set`` / ``discard``
    one market at a time (the engine re-reads only the markets that changed: ``Engine._positions``);
    ``overlay`` answers as if one market's position were another, without copying.

    A plain ``dict`` of positions works everywhere a book does (the checks fall back to sums)."""

    def __init__(self, positions: Mapping[str, Position] | None = None) -> None:
        self._pos: MutableMapping[str, Position] = {}
        self._abs = 0.0
        self._exp = 0.0
        self._groups: dict[str, set[str]] = {}
        self._held: set[str] = set()
        self._e: np.ndarray | None = None  # risk units by a tracker's slots, once asked for (``units``)
        self._e_for: CorrelationTracker | None = None
        self._e_epoch = -1
        self._quad: tuple[int, float, np.ndarray] | None = None  # (ρ's version, eᵀρe, ρ·e), kept with e
        self._base: PositionBook | None = None  # an overlay's book
        self._over: tuple[str, Position] | None = None
        for cid, p in (positions or {}).items():
            self.set(cid, p)

    def __getitem__(self, cid: str) -> Position:
        return self._pos[cid]

    def __iter__(self) -> Iterator[str]:
        return iter(self._pos)

    def __len__(self) -> int:
        return len(self._pos)

    def set(self, cid: str, p: Position) -> None:
        self.discard(cid)
        self._pos[cid] = p
        self._abs += p.worst_abs
        self._exp += p.worst_exposure
        if p.group:
            self._groups.setdefault(p.group, set()).add(cid)
        if p.qty:
            self._held.add(cid)
            if self._e_for is not None:
                self._put_unit(cid, p)

    def _put_unit(self, cid: str, p: Position | None) -> None:
        rho = self._e_for
        assert rho is not None and self._e is not None
        k = rho.slot(cid) if p is not None else rho.index(cid)
        if k is None:
            return
        if k >= len(self._e):
            self._e = _fit(self._e, rho.capacity)
        new = risk_unit(p) if p is not None else 0.0
        delta = new - self._e[k]
        self._e[k] = new
        if delta and self._quad is not None:
            version, v2, u = self._quad
            if version == rho.version and k < len(u):
                # e + δ·1ₖ: eᵀρe gains 2δ(ρe)ₖ + δ² (ρₖₖ = 1), ρe gains δ·ρ[:, k]
                self._quad = (version, v2 + 2 * delta * u[k] + delta * delta, u + delta * rho.matrix()[:, k])
            else:
                self._quad = None

    def discard(self, cid: str) -> None:
        old = self._pos.pop(cid, None)
        if old is None:
            return
        self._abs -= old.worst_abs
        self._exp -= old.worst_exposure
        if old.group:
            members = self._groups.get(old.group)
            if members is not None:
                members.discard(cid)
                if not members:
                    del self._groups[old.group]
        if cid in self._held:
            self._held.discard(cid)
            if self._e_for is not None:
                self._put_unit(cid, None)

    def others(self, cid: str, attr: str) -> float:
        """Σ ``attr`` (``worst_abs`` | ``worst_exposure``) over every market but ``cid``."""
        total = self._abs if attr == "worst_abs" else self._exp
        me = self._pos.get(cid)
        return total - (getattr(me, attr) if me is not None else 0.0)

    def group(self, gid: str) -> dict[str, Position]:
        return {c: self._pos[c] for c in self._groups.get(gid, ())}

    def held(self) -> dict[str, Position]:
        """The markets whose position is not zero."""
        return {c: self._pos[c] for c in self._held}

    def overlay(self, cid: str, p: Position) -> PositionBook:
        """This book as if ``cid``'s position were ``p`` (the step's own market, its orders being replaced)."""
        view = PositionBook.__new__(PositionBook)
        view._pos = ChainMap({cid: p}, self._pos)  # read-only: no copy of hundreds of positions
        old = self._pos.get(cid)
        view._abs = self._abs - (old.worst_abs if old else 0.0) + p.worst_abs
        view._exp = self._exp - (old.worst_exposure if old else 0.0) + p.worst_exposure
        view._groups = self._groups if (old is not None and old.group == p.group) or not p.group else \
            {**self._groups, p.group: {*self._groups.get(p.group, ()), cid}}
        view._held = (self._held | {cid}) if p.qty else (self._held - {cid})
        view._e, view._e_for, view._e_epoch, view._base, view._over = None, None, -1, self, (cid, p)
        view._quad = None
        return view

    def quadratic(self, rho: CorrelationTracker) -> tuple[float, np.ndarray]:
        """``rho.quadratic(self.units(rho))``, kept: a change of one market updates it in O(markets)
        numpy work and ρ's next sample recomputes it; an overlay adjusts its book's for its one market."""
        if self._base is not None and self._over is not None:
            cid, p = self._over
            v2, u = self._base.quadratic(rho)
            k = rho.slot(cid) if p.qty else rho.index(cid)
            if k is None:
                return v2, u
            base_e = self._base.units(rho)
            delta = risk_unit(p) - (base_e[k] if k < len(base_e) else 0.0)
            if not delta:
                return v2, u
            if k >= len(u):
                return rho.quadratic(self.units(rho))
            return v2 + 2 * delta * u[k] + delta * delta, u + delta * rho.matrix()[:, k]
        e = self.units(rho)
        if self._quad is None or self._quad[0] != rho.version or len(self._quad[2]) != len(e):
            v2, u = rho.quadratic(e)
            self._quad = (rho.version, v2, u)
        return self._quad[1], self._quad[2]

    def units(self, rho: CorrelationTracker) -> np.ndarray:
        """Every held market's risk unit (``risk_unit``) by ``rho``'s slots — read-only. Built from the
        held markets when first asked (or after ``rho`` forgot a market: its slot may be another's now),
        then kept by ``set``/``discard``; an overlay copies its book's and changes its one market."""
        if self._base is not None and self._over is not None:
            cid, p = self._over
            e = self._base.units(rho).copy()
            k = rho.slot(cid) if p.qty else rho.index(cid)
            if k is not None:
                if k >= len(e):
                    e = _fit(e, rho.capacity)
                e[k] = risk_unit(p)
            return e
        if self._e is None or self._e_for is not rho or self._e_epoch != rho.epoch:
            self._e, self._e_for, self._e_epoch, self._quad = np.zeros(rho.capacity), rho, rho.epoch, None
            for c in self._held:
                self._put_unit(c, self._pos[c])
        if len(self._e) < rho.capacity:
            self._e = _fit(self._e, rho.capacity)
            self._quad = None
        return self._e


def _others(positions: Mapping[str, Position], cid: str, attr: str) -> float:
    if isinstance(positions, PositionBook):
        return positions.others(cid, attr)
    return sum(getattr(p, attr) for c, p in positions.items() if c != cid)


def _group(positions: Mapping[str, Position], gid: str) -> Mapping[str, Position]:
    if isinstance(positions, PositionBook):
        return positions.group(gid)
    return {c: p for c, p in positions.items() if p.group == gid}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The quotes that passed and why the others did not (for the store and the UI)."""

    quotes: tuple[Quote, ...]
    vetoes: tuple[str, ...]
    tighten: float


def exposure(qty: float, mark: float) -> float:
    """Dollars lost if the market goes fully against the position."""
    return qty * mark if qty >= 0 else -qty * (1.0 - mark)


def group_worst_loss(positions: Sequence[tuple[str, float, float]]) -> float:
    """Worst-case loss of a neg-risk group, marked at ``p``: ``max over k of −Σ qᵢ(1[i = k] − pᵢ)``,
    where k ranges over the group's markets and "none of ours" (positions: ``(cid, q, p)``)."""
    base = sum(q * p for _, q, p in positions)  # loss when none of ours wins
    worst = base
    for _, q, _p in positions:
        worst = max(worst, base - q)  # market k wins: its q pays 1
    return worst


class CorrelationTracker:
    """EWMA correlation of mid changes between markets, sampled on the risk loop's cadence.

    Each ``update(mids)`` takes the change of every market's mid since the previous sample and folds
    ``dᵢ·dⱼ`` into an EWMA (weight ``alpha``) per pair: ``C ← (1 − alpha)·C + alpha·d·dᵀ``.
    ``rho(i, j) = Cᵢⱼ/√(Cᵢᵢ·Cⱼⱼ)``, 0 until both markets moved ``min_samples`` times. A market without
    a mid in a sample counts as not having moved.

    Built for hundreds of markets: ``C`` is a dense matrix (numpy) over the markets' slots, so a sample
    is one outer product and the pre-trade check's ``Σⱼ ρ_cj eⱼ`` and ``Σᵢⱼ eᵢeⱼρᵢⱼ`` are one
    matrix-vector product (``quadratic``). In Python those sums cost ~45,000 ρ lookups a check at 300
    markets and held the event loop for seconds. ``slot`` numbers the markets (a forgotten market's slot
    is reused; ``epoch`` counts forgets, so a vector kept by slot knows when to rebuild)."""

    _GROW = 32

    def __init__(self, alpha: float = 0.05, min_samples: int = 20) -> None:
        self.alpha = alpha
        self.min_samples = min_samples
        self.epoch = 0  # markets forgotten (their slots may be reused)
        self.version = 0  # changes of ρ (samples, forgets, growth): what a kept ρ·e depends on
        self._slot: dict[str, int] = {}
        self._cids: list[str | None] = []
        self._free: list[int] = []
        self._cov = np.zeros((0, 0))
        self._last = np.zeros(0)
        self._has_last = np.zeros(0, dtype=bool)
        self._n = np.zeros(0, dtype=np.int64)
        self._rho: np.ndarray | None = None  # ρ over every slot, computed when first asked after a change

    @property
    def capacity(self) -> int:
        return len(self._cids)

    def index(self, cid: str) -> int | None:
        return self._slot.get(cid)

    def slot(self, cid: str) -> int:
        """``cid``'s slot, given one if it has none."""
        k = self._slot.get(cid)
        if k is not None:
            return k
        if not self._free:
            old = self.capacity
            cap = old + self._GROW
            cov = np.zeros((cap, cap))
            cov[:old, :old] = self._cov
            self._cov = cov
            self._last = np.concatenate([self._last, np.zeros(cap - old)])
            self._has_last = np.concatenate([self._has_last, np.zeros(cap - old, dtype=bool)])
            self._n = np.concatenate([self._n, np.zeros(cap - old, dtype=np.int64)])
            self._cids.extend([None] * (cap - old))
            self._free = list(range(cap - 1, old - 1, -1))
            self._rho = None
            self.version += 1
        k = self._free.pop()
        self._slot[cid] = k
        self._cids[k] = cid
        return k

    def update(self, mids: Mapping[str, float | None]) -> None:
        for cid, mid in mids.items():
            if mid is not None:
                self.slot(cid)
        d = np.zeros(self.capacity)
        last, has = self._last, self._has_last
        for cid, mid in mids.items():
            if mid is None:
                continue
            k = self._slot[cid]
            if has[k] and mid != last[k]:
                d[k] = mid - last[k]
            last[k] = mid
            has[k] = True
        self._n += d != 0
        self._cov *= 1 - self.alpha
        self._cov += self.alpha * np.outer(d, d)
        self._rho = None
        self.version += 1

    def matrix(self) -> np.ndarray:
        """ρ over every slot (1 on the diagonal; 0 for a market short of ``min_samples``)."""
        if self._rho is None:
            var = np.diagonal(self._cov)
            ok = (self._n >= self.min_samples) & (var > 0)
            inv = np.zeros(self.capacity)
            np.divide(1.0, np.sqrt(var, where=ok, out=np.zeros(self.capacity)), out=inv, where=ok)
            r = self._cov * inv[:, None] * inv[None, :]
            np.clip(r, -1.0, 1.0, out=r)
            np.fill_diagonal(r, 1.0)
            self._rho = r
        return self._rho

    def rho(self, i: str, j: str) -> float:
        if i == j:
            return 1.0
        x, y = self._slot.get(i), self._slot.get(j)
        if x is None or y is None:
            return 0.0
        return float(self.matrix()[x, y])

    def quadratic(self, e: np.ndarray) -> tuple[float, np.ndarray]:
        """``(Σᵢⱼ eᵢeⱼρᵢⱼ, ρ·e)`` for risk units ``e`` by slot (``units``)."""
        u = self.matrix() @ e
        return float(e @ u), u

    def units(self, positions: Mapping[str, Position]) -> np.ndarray:
        """Every held market's risk unit ``eᵢ = qᵢ·√(pᵢ(1 − pᵢ))`` by slot (a ``PositionBook`` keeps its own)."""
        if isinstance(positions, PositionBook):
            return positions.units(self)
        e = np.zeros(self.capacity)
        for cid, p in positions.items():
            if p.qty:
                k = self.slot(cid)
                if k >= len(e):
                    e = _fit(e, self.capacity)
                e[k] = risk_unit(p)
        return e

    def pairs(self) -> dict[tuple[str, str], float]:
        """Every correlated pair (both orders) with its ρ; pairs without enough data are absent. For
        tests and diagnostics, not the pre-trade check."""
        r = self.matrix()
        out: dict[tuple[str, str], float] = {}
        for x, y in zip(*np.nonzero(r), strict=True):
            cx, cy = self._cids[x], self._cids[y]
            if x != y and cx is not None and cy is not None:
                out[(cx, cy)] = float(r[x, y])
        return out

    def forget(self, cid: str) -> None:
        k = self._slot.pop(cid, None)
        if k is None:
            return
        self._cov[k, :] = 0.0
        self._cov[:, k] = 0.0
        self._last[k], self._has_last[k], self._n[k] = 0.0, False, 0
        self._cids[k] = None
        self._free.append(k)
        self._rho = None
        self.version += 1
        self.epoch += 1


def _fit(e: np.ndarray, n: int) -> np.ndarray:
    """``e`` padded with zeros to ``n`` slots (the tracker gave out new ones)."""
    return e if len(e) >= n else np.concatenate([e, np.zeros(n - len(e))])


def risk_unit(p: Position) -> float:
    """``q·√(p(1 − p))``: the position's standard deviation of payoff."""
    return p.qty * math.sqrt(max(p.mark * (1 - p.mark), 0.0))


def _quadratic(positions: Mapping[str, Position], rho: CorrelationTracker) -> tuple[float, np.ndarray]:
    """``(Σᵢⱼ eᵢeⱼρᵢⱼ, ρ·e)`` over ``positions`` (a ``PositionBook`` keeps it as it changes)."""
    return positions.quadratic(rho) if isinstance(positions, PositionBook) else rho.quadratic(rho.units(positions))


def correlated_exposure(positions: Mapping[str, Position], rho: CorrelationTracker) -> float:
    """``√(Σᵢⱼ eᵢ eⱼ ρᵢⱼ)`` with ``eᵢ = qᵢ·√(pᵢ(1 − pᵢ))``."""
    return math.sqrt(max(_quadratic(positions, rho)[0], 0.0))


class DailyLoss:
    """P&L since 00:00 UTC against the first sample of the day (module docstring)."""

    def __init__(self) -> None:
        self.day = ""
        self.baseline = 0.0
        self.today = 0.0

    def update(self, now: float, total_pnl: float) -> float:
        """Record the running total P&L; returns today's P&L."""
        day = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
        if day != self.day:
            self.day, self.baseline = day, total_pnl
        self.today = total_pnl - self.baseline
        return self.today


class BalanceMonitor:
    """Alert once when the balance falls ``drop`` (a fraction) below the session's peak; re-arms when it
    recovers above the alert line."""

    def __init__(self, drop: float) -> None:
        self.drop = drop
        self.peak: float | None = None
        self.alerted = False

    def update(self, balance: float) -> str | None:
        self.peak = balance if self.peak is None else max(self.peak, balance)
        line = self.peak * (1 - self.drop)
        if balance < line and not self.alerted:
            self.alerted = True
            return f"balance {balance:,.2f} fell {1 - balance / self.peak:.0%} below the session peak {self.peak:,.2f}"
        if balance >= line:
            self.alerted = False
        return None


class RiskEngine:
    """Pre-trade checks and halting limits (module docstring). One per engine."""

    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        self.daily = DailyLoss()
        self.correlation = CorrelationTracker()
        self.balance = BalanceMonitor(limits.balance_drop_alert)
        self.cooldown_until = 0.0

    # ------------------------------------------------------------ state fed by the risk loop
    def on_pnl(self, now: float, total_pnl: float) -> str | None:
        """Record P&L; returns a kill reason when today's loss is over the limit."""
        today = self.daily.update(now, total_pnl)
        limit = float(self.limits.daily_loss_limit)
        if -today >= limit:
            return f"daily loss {-today:,.2f} over limit {limit:,.2f}"
        return None

    def on_errors(self, now: float, errors_10s: int) -> bool:
        """Start a cooldown on a burst of venue errors; True when one starts now."""
        if errors_10s >= self.limits.error_cooldown_errors and now >= self.cooldown_until:
            self.cooldown_until = now + self.limits.error_cooldown_s
            return True
        return False

    @property
    def tighten(self) -> float:
        """Dynamic limits: 1 on a flat or winning day, down to ``tighten_min`` as the loss nears the limit."""
        loss = -self.daily.today
        if loss <= 0:
            return 1.0
        return max(self.limits.tighten_min, 1.0 - loss / float(self.limits.daily_loss_limit))

    # ------------------------------------------------------------ the pre-trade check
    def check(
        self,
        cid: str,
        quotes: Sequence[Quote],
        positions: Mapping[str, Position],
        *,
        position_limit: Decimal,
        budget: float,
        now: float,
        reduce_only: bool = False,
        hours_to_end: float | None = None,
        share: float = 1.0,
    ) -> Verdict:
        """The subset of ``quotes`` (bids then asks, best first) every check allows, with the vetoes.

        ``positions`` holds every market's position (this one included, possibly zero); ``budget`` is the
        dollars of exposure allocated to this market. ``share``: the fraction of the shared caps (total
        position, total exposure) allocated to it — a stable slice, so one market's room does not move
        each time another's orders do (that turned worst-case limits into requote churn across hundreds
        of markets). The room is the slice or what the others' worst case leaves, whichever is less."""
        lim = self.limits
        t = self.tighten
        if now < self.cooldown_until:
            return Verdict((), (f"error cooldown: {self.cooldown_until - now:.0f} s left",), t)
        vetoes: list[str] = []
        ok: list[Quote] = []
        for q in quotes:
            if q.size > lim.max_order_size:
                vetoes.append(f"{q.side.value} {q.size}: over max order size {lim.max_order_size}")
            else:
                ok.append(q)
        me = positions.get(cid, Position(0.0, 0.5))
        # each side's worst case: the position after every order of ours on that side that could
        # still fill (resting, in flight, cancelled with fills maybe on their way) has filled
        worst = {Side.BUY: me.qty + me.bids, Side.SELL: me.qty - me.asks}
        rooms = self._position_rooms(cid, positions, worst, float(position_limit), reduce_only, share)
        others = _others(positions, cid, "worst_exposure")
        out: list[Quote] = []
        for side in (Side.BUY, Side.SELL):
            side_quotes = [x for x in ok if x.side is side]
            if not side_quotes:
                continue
            rooms[side] += self._exposure_rooms(side, side_quotes, worst[side], me.mark, budget, others, hours_to_end,
                                                share)
            if me.group:
                rooms[side].append((self._group_room(cid, side, positions, worst[side]), "neg-risk group worst case"))
            out.extend(self._cut(cid, side, side_quotes, rooms[side], positions, vetoes))
        if not lim.enforce:  # log-only: report what would have been cut, quote as the model said
            return Verdict(tuple(quotes), tuple(f"(log only) {v}" for v in vetoes), t)
        return Verdict(tuple(out), tuple(vetoes), t)

    def _position_rooms(
        self, cid: str, positions: Mapping[str, Position], worst: dict[Side, float], position_limit: float,
        reduce_only: bool, share: float = 1.0,
    ) -> dict[Side, list[tuple[float, str]]]:
        """Each side's room (shares, and what limits it) under the position limits."""
        t = self.tighten
        rooms: dict[Side, list[tuple[float, str]]] = {Side.BUY: [], Side.SELL: []}
        pos_lim = position_limit * t
        rooms[Side.BUY].append((pos_lim - worst[Side.BUY], "position limit"))
        rooms[Side.SELL].append((pos_lim + worst[Side.SELL], "position limit"))
        # the total position (Σ|q| over markets) is a pre-trade cap too: the kill at the limit stays a
        # last resort for fills that overshoot, not the way the limit is normally kept
        cap = float(self.limits.max_total_position) * t
        total_room = min(cap * share, cap - _others(positions, cid, "worst_abs"))
        rooms[Side.BUY].append((total_room - worst[Side.BUY], "total position"))
        rooms[Side.SELL].append((total_room + worst[Side.SELL], "total position"))
        if reduce_only:
            rooms[Side.BUY].append((max(-worst[Side.BUY], 0.0), "reduce-only before the end date"))
            rooms[Side.SELL].append((max(worst[Side.SELL], 0.0), "reduce-only before the end date"))
        return rooms

    def _exposure_rooms(
        self, side: Side, side_quotes: Sequence[Quote], q_side: float, mark: float, budget: float, others: float,
        hours_to_end: float | None, share: float = 1.0,
    ) -> list[tuple[float, str]]:
        """One side's room under the exposure limits and the Kelly cap (``q_side``: its worst case)."""
        lim = self.limits
        t = self.tighten
        # the price paid per share on this side: the bid for YES, 1 − ask for NO
        price = max(min(_avg_price(side_quotes, side), 1.0), 1e-4)
        reducing = max(-q_side, 0.0) if side is Side.BUY else max(q_side, 0.0)
        held = max(q_side, 0.0) * mark if side is Side.BUY else max(-q_side, 0.0) * (1 - mark)
        rooms = [
            (reducing + max(budget * t - held, 0.0) / price, "market exposure"),
            (reducing + max(min(float(lim.max_total_exposure) * t * share, float(lim.max_total_exposure) * t - others)
                            - held, 0.0) / price, "total exposure"),
        ]
        if lim.kelly_fraction > 0:
            tf = 1.0
            if hours_to_end is not None:
                decay = (max(hours_to_end, 0.0) / lim.kelly_horizon_hours) ** lim.kelly_eta_time
                tf = min(max(decay, 0.1), 1.0)
            # PM4 divides by the probability of the outcome that makes this side lose, not the price
            p_opp = max(min(1.0 - mark if side is Side.BUY else mark, 1.0), 1e-4)
            q_max = lim.kelly_fraction * budget * tf / (p_opp * (1 + lim.slippage_buffer))
            have = max(q_side, 0.0) if side is Side.BUY else max(-q_side, 0.0)
            rooms.append((reducing + max(q_max - have, 0.0), "Kelly cap"))
        return rooms

    def _cut(
        self, cid: str, side: Side, side_quotes: list[Quote], rooms: list[tuple[float, str]],
        positions: Mapping[str, Position], vetoes: list[str],
    ) -> list[Quote]:
        """One side's quotes cut to its smallest room, then vetoed on a correlated-exposure breach."""
        want = float(sum(q.size for q in side_quotes))
        room, why = min(rooms, key=lambda r: r[0])
        if room < want:
            vetoes.append(f"{side.value} cut to {max(room, 0):.2f} of {want:.2f}: {why}")
            side_quotes = list(cap_total(side_quotes, Decimal(repr(max(room, 0.0)))))
        if side_quotes and self._correlation_breach(cid, side, side_quotes, positions):
            vetoes.append(f"{side.value} vetoed: correlated exposure over {self.limits.max_correlated_exposure}")
            side_quotes = []
        return side_quotes

    def _group_room(self, cid: str, side: Side, positions: Mapping[str, Position], q_side: float) -> float:
        """Shares this side may add before the group's worst case passes ``max_group_loss`` (this
        market at ``q_side``, its position after this side's orders that could still fill)."""
        me = positions[cid]
        group = [(c, q_side if c == cid else p.qty, p.mark) for c, p in _group(positions, me.group).items()]
        limit = float(self.limits.max_group_loss)
        base = sum(q * p for _, q, p in group)
        # scenario losses are affine in the added shares x: L(x) = L0 + slope·x
        scenarios = [(base, me.mark if side is Side.BUY else -me.mark)]  # none of ours wins
        for c, q, _p in group:
            l0 = base - q
            # x more YES (a bid) costs mark and pays 1 when cid wins; an ask is the mirror image
            slope = me.mark - (1.0 if c == cid else 0.0)
            scenarios.append((l0, slope if side is Side.BUY else -slope))
        room = math.inf
        for l0, slope in scenarios:
            if slope > 0:
                room = min(room, max(limit - l0, 0.0) / slope)
        return room

    def _correlation_breach(
        self, cid: str, side: Side, quotes: Sequence[Quote], positions: Mapping[str, Position]
    ) -> bool:
        """Whether filling this side would take the correlated exposure past its limit (and raise it).

        Changing ``e_c`` by ``Δ`` changes ``V² = Σᵢⱼ eᵢeⱼρᵢⱼ`` by ``2Δ·Σⱼ ρ_cj eⱼ + Δ²``: one pass over
        the markets, not a second quadratic sum."""
        limit = float(self.limits.max_correlated_exposure)
        rho = self.correlation
        before, u = _quadratic(positions, rho)
        me = positions.get(cid, Position(0.0, 0.5))
        resting = me.bids if side is Side.BUY else me.asks  # ours on this side that could fill too
        add = (float(sum(q.size for q in quotes)) + resting) * (1 if side is Side.BUY else -1)
        delta = add * math.sqrt(max(me.mark * (1 - me.mark), 0.0))
        k = rho.index(cid)
        s_c = float(u[k]) if k is not None else risk_unit(me)  # Σⱼ ρ_cj eⱼ (a market never sampled: eᵢ)
        after = before + 2 * delta * s_c + delta * delta
        return after > limit * limit and after > before


def _avg_price(quotes: Sequence[Quote], side: Side) -> float:
    """Size-weighted price paid per share on a side (price units): YES for bids, NO for asks."""
    total = sum(q.size for q in quotes)
    if not total:
        return 0.5
    p = float(sum(q.price * q.size for q in quotes) / total) / PIPS_PER_UNIT
    return p if side is Side.BUY else 1.0 - p
