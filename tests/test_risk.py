"""The risk engine's pre-trade checks and halting limits, as examples and properties."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from polymm.domain.market import Side
from polymm.domain.quoting import Quote
from polymm.domain.risk import (
    BalanceMonitor,
    CorrelationTracker,
    DailyLoss,
    Position,
    PositionBook,
    RiskEngine,
    RiskLimits,
    correlated_exposure,
    exposure,
    group_worst_loss,
)

CID = "0xaa"
BIG = D(10**6)


def quotes(bid=(4800, D(10)), ask=(5200, D(10))) -> list[Quote]:
    out = []
    if bid:
        out.append(Quote(Side.BUY, bid[0], bid[1]))
    if ask:
        out.append(Quote(Side.SELL, ask[0], ask[1]))
    return out


def loose(**kw) -> RiskLimits:
    base = dict(max_market_exposure=BIG, max_total_exposure=BIG, max_group_loss=BIG,
                max_correlated_exposure=BIG, daily_loss_limit=BIG)
    base.update(kw)
    return RiskLimits(**base)


def check(risk: RiskEngine, qs, positions, limit=D(100), budget=1e6, now=0.0, **kw):
    return risk.check(CID, qs, positions, position_limit=limit, budget=budget, now=now, **kw)


def sides(verdict) -> dict[str, D]:
    out: dict[str, D] = {}
    for q in verdict.quotes:
        out[q.side.value] = out.get(q.side.value, D(0)) + q.size
    return out


def test_exposure_is_what_the_position_loses_if_the_market_goes_against_it() -> None:
    assert exposure(10, 0.3) == 3.0
    assert abs(exposure(-10, 0.3) - 7.0) < 1e-12
    assert exposure(0, 0.5) == 0.0


def test_an_order_over_the_max_order_size_is_vetoed_with_a_reason() -> None:
    risk = RiskEngine(loose(max_order_size=D(50)))
    v = check(risk, quotes(bid=(4800, D(60))), {CID: Position(0, 0.5)})
    assert sides(v) == {"SELL": D(10)}
    assert any("max order size" in r for r in v.vetoes)


def test_the_position_limit_stops_the_adding_side_only() -> None:
    risk = RiskEngine(loose())
    v = check(risk, quotes(), {CID: Position(100, 0.5)}, limit=D(100))
    assert sides(v) == {"SELL": D(10)}
    v = check(risk, quotes(), {CID: Position(-95, 0.5)}, limit=D(100))
    assert sides(v) == {"BUY": D(10), "SELL": D(5)}


def test_market_exposure_caps_the_adding_side_by_the_market_budget() -> None:
    risk = RiskEngine(loose())
    # long 40 at 0.50 = $20 of exposure, budget $22: room for $2 more at 0.48 -> 4.16 shares
    v = check(risk, quotes(), {CID: Position(40, 0.5)}, budget=22.0)
    assert sides(v)["BUY"] == D("4.16")
    assert sides(v)["SELL"] == D(10)
    assert any("market exposure" in r for r in v.vetoes)


def test_total_exposure_counts_every_market() -> None:
    risk = RiskEngine(loose(max_total_exposure=D(50)))
    pos = {CID: Position(0, 0.5), "0xbb": Position(100, 0.5)}  # $50 already at risk elsewhere
    v = check(risk, quotes(), pos)
    assert v.quotes == ()
    assert any("total exposure" in r for r in v.vetoes)


def test_reduce_only_allows_only_the_side_that_shrinks_the_position() -> None:
    risk = RiskEngine(loose())
    v = check(risk, quotes(), {CID: Position(6, 0.5)}, reduce_only=True)
    assert sides(v) == {"SELL": D(6)}
    v = check(risk, quotes(), {CID: Position(0, 0.5)}, reduce_only=True)
    assert v.quotes == ()


def test_the_neg_risk_group_worst_case_limits_adding_yes_across_the_group() -> None:
    # two mutually exclusive markets; we hold 100 YES of the other at 0.40: if neither of ours wins we
    # lose 40; buying YES here at 0.50 adds 0.50 a share to that scenario
    risk = RiskEngine(loose(max_group_loss=D(45)))
    pos = {CID: Position(0, 0.5, "g"), "0xbb": Position(100, 0.4, "g")}
    assert group_worst_loss([(c, p.qty, p.mark) for c, p in pos.items()]) == 40.0
    v = check(risk, quotes(bid=(5000, D(20))), pos)
    assert sides(v)["BUY"] == D(10)  # (45 - 40) / 0.5
    assert any("neg-risk group" in r for r in v.vetoes)


def test_kelly_cap_follows_the_pm4_formula() -> None:
    risk = RiskEngine(loose(kelly_fraction=0.5, kelly_horizon_hours=10, kelly_eta_time=1.0, slippage_buffer=0.25))
    # q_max = 0.5 * 100 * (5 / 10)^1 / (0.40 * 1.25) = 50 shares for a YES bid: NO wins with p = 1 - 0.60
    v = check(risk, quotes(bid=(4000, D(80)), ask=None), {CID: Position(0, 0.60)}, budget=100.0, hours_to_end=5.0)
    assert sides(v)["BUY"] == D(50)
    assert any("Kelly" in r for r in v.vetoes)


def test_an_error_burst_starts_a_cooldown_with_no_new_orders() -> None:
    risk = RiskEngine(loose(error_cooldown_errors=3, error_cooldown_s=30))
    assert not risk.on_errors(0.0, 2)
    assert risk.on_errors(1.0, 3)
    v = check(risk, quotes(), {CID: Position(0, 0.5)}, now=10.0)
    assert v.quotes == () and "cooldown" in v.vetoes[0]
    assert check(risk, quotes(), {CID: Position(0, 0.5)}, now=31.5).quotes


def test_daily_loss_counts_from_midnight_utc_and_trips_the_limit() -> None:
    risk = RiskEngine(loose(daily_loss_limit=D(50)))
    day1 = datetime(2026, 11, 21, 23, 0, tzinfo=UTC).timestamp()
    assert risk.on_pnl(day1, 10.0) is None
    assert risk.on_pnl(day1 + 600, -30.0) is None  # -40 on the day
    assert risk.on_pnl(day1 + 1200, -45.0) is not None  # -55
    day2 = datetime(2026, 11, 22, 0, 1, tzinfo=UTC).timestamp()
    assert risk.on_pnl(day2, -45.0) is None  # a new day starts from its first sample
    assert risk.daily.today == 0.0


def test_limits_tighten_as_the_day_loses() -> None:
    risk = RiskEngine(loose(daily_loss_limit=D(100), tighten_min=0.25))
    assert risk.tighten == 1.0
    risk.on_pnl(0.0, 0.0)
    risk.on_pnl(1.0, -50.0)
    assert risk.tighten == 0.5
    v = check(risk, quotes(bid=(4800, D(10))), {CID: Position(45, 0.5)}, limit=D(100))
    assert sides(v)["BUY"] == D(5)  # the position limit is now 50
    risk.on_pnl(2.0, -99.0)
    assert risk.tighten == 0.25


def test_log_only_mode_reports_the_vetoes_but_lets_the_quotes_through() -> None:
    risk = RiskEngine(loose(enforce=False))
    v = check(risk, quotes(), {CID: Position(100, 0.5)}, limit=D(100))
    assert sides(v) == {"BUY": D(10), "SELL": D(10)}
    assert v.vetoes and all(r.startswith("(log only)") for r in v.vetoes)


def test_correlated_exposure_vetoes_a_side_that_adds_to_correlated_risk() -> None:
    rho = CorrelationTracker(alpha=0.2, min_samples=5)
    a = b = 0.5
    for i in range(40):  # two markets that always move together
        step = 0.01 if i % 2 else -0.01
        a, b = a + step, b + step
        rho.update({CID: a, "0xbb": b})
    assert rho.rho(CID, "0xbb") > 0.99
    pos = {CID: Position(100, 0.5), "0xbb": Position(100, 0.5)}
    assert abs(correlated_exposure(pos, rho) - 100.0) < 1.0  # 2·100·0.5 at rho = 1
    risk = RiskEngine(loose(max_correlated_exposure=D(100)))
    risk.correlation = rho
    v = check(risk, quotes(), pos, limit=D(1000))
    assert sides(v) == {"SELL": D(10)}  # buying more adds to the correlated long; selling reduces it
    assert any("correlated" in r for r in v.vetoes)


class EagerCorrelation:
    """The tracker's definition spelled out pair by pair (the oracle for the matrix form)."""

    def __init__(self, alpha: float, min_samples: int) -> None:
        self.alpha, self.min_samples = alpha, min_samples
        self.last: dict[str, float] = {}
        self.n: dict[str, int] = {}
        self.cov: dict[tuple[str, str], float] = {}

    def update(self, mids) -> None:
        moved = {}
        for cid, mid in mids.items():
            if mid is None:
                continue
            prev = self.last.get(cid)
            self.last[cid] = mid
            if prev is not None and mid != prev:
                moved[cid] = mid - prev
                self.n[cid] = self.n.get(cid, 0) + 1
        for key in list(self.cov):
            self.cov[key] *= 1 - self.alpha
        for i in moved:
            for j in moved:
                self.cov[(i, j)] = self.cov.get((i, j), 0.0) + self.alpha * moved[i] * moved[j]

    def forget(self, cid: str) -> None:
        self.last.pop(cid, None)
        self.n.pop(cid, None)
        for key in [k for k in self.cov if cid in k]:
            del self.cov[key]

    def rho(self, i: str, j: str) -> float:
        if i == j:
            return 1.0
        if self.n.get(i, 0) < self.min_samples or self.n.get(j, 0) < self.min_samples:
            return 0.0
        vi, vj = self.cov.get((i, i), 0.0), self.cov.get((j, j), 0.0)
        if vi <= 0 or vj <= 0:
            return 0.0
        return max(-1.0, min(1.0, self.cov.get((i, j), 0.0) / (vi * vj) ** 0.5))

    def exposure(self, positions) -> float:
        e = {c: p.qty * (p.mark * (1 - p.mark)) ** 0.5 for c, p in positions.items() if p.qty}
        return max(sum(e[i] * e[j] * self.rho(i, j) for i in e for j in e), 0.0) ** 0.5


MARKETS = [f"0x{i:02x}" for i in range(40)]


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.tuples(
    st.dictionaries(st.sampled_from(MARKETS), st.one_of(st.none(), st.floats(0.05, 0.95)), max_size=40),
    st.lists(st.tuples(st.sampled_from(MARKETS), st.floats(-200, 200), st.floats(0.05, 0.95)), max_size=6),
    st.lists(st.sampled_from(MARKETS), max_size=2)), min_size=1, max_size=40))
def test_correlation_matrix_and_kept_units_match_the_pairwise_definition(steps) -> None:
    """Samples, position changes and forgotten markets in any order: ρ, the correlated exposure and the
    risk units a ``PositionBook`` keeps by slot (its overlay too) agree with the pairwise definition."""
    fast, slow = CorrelationTracker(alpha=0.2, min_samples=3), EagerCorrelation(alpha=0.2, min_samples=3)
    book = PositionBook()
    plain: dict[str, Position] = {}
    for mids, changes, forgets in steps:
        fast.update(mids)
        slow.update(mids)
        for cid, qty, mark in changes:  # one at a time: the kept ρ·e is updated, not recomputed
            book.set(cid, Position(qty, mark))
            plain[cid] = Position(qty, mark)
            want = slow.exposure(plain)
            assert abs(correlated_exposure(book, fast) - want) < 1e-6 * max(1.0, want)
        if changes:
            gone = changes[0][0]
            book.discard(gone)
            plain.pop(gone)
        for cid in forgets:
            fast.forget(cid)
            slow.forget(cid)
        for i in MARKETS[:8]:
            for j in MARKETS[:8]:
                assert abs(fast.rho(i, j) - slow.rho(i, j)) < 1e-9
        want = slow.exposure(plain)
        assert abs(correlated_exposure(book, fast) - want) < 1e-6 * max(1.0, want)
        assert abs(correlated_exposure(plain, fast) - want) < 1e-6 * max(1.0, want)
        mover = MARKETS[0]
        view = book.overlay(mover, Position(50.0, 0.3))
        assert abs(correlated_exposure(view, fast) - slow.exposure({**plain, mover: Position(50.0, 0.3)})) < 1e-6 * 1e3


def test_correlation_of_seeded_walks_matches_the_pairwise_definition() -> None:
    """Ten markets on a common factor for 200 samples (some skip a sample, one is forgotten midway)."""
    rng = random.Random(11)
    fast, slow = CorrelationTracker(alpha=0.1, min_samples=10), EagerCorrelation(alpha=0.1, min_samples=10)
    mids = {c: 0.5 for c in MARKETS[:10]}
    for t in range(200):
        f = rng.gauss(0, 0.01)
        for i, c in enumerate(mids):
            mids[c] = min(0.95, max(0.05, mids[c] + f * (i % 3) + rng.gauss(0, 0.004)))
        sample = {c: (None if rng.random() < 0.1 else m) for c, m in mids.items()}
        fast.update(sample)
        slow.update(sample)
        if t == 120:
            fast.forget(MARKETS[4])
            slow.forget(MARKETS[4])
    strong = 0
    for i in MARKETS[:10]:
        for j in MARKETS[:10]:
            assert abs(fast.rho(i, j) - slow.rho(i, j)) < 1e-9
            strong += i != j and fast.rho(i, j) > 0.5
    assert strong >= 10  # the factor shows
    pos = {c: Position(float(10 * (k - 4)), mids[c]) for k, c in enumerate(MARKETS[:10])}
    assert abs(correlated_exposure(PositionBook(pos), fast) - slow.exposure(pos)) < 1e-9 * slow.exposure(pos)


def test_balance_monitor_alerts_once_on_a_large_drop_and_rearms() -> None:
    m = BalanceMonitor(0.2)
    assert m.update(1000) is None
    assert m.update(850) is None
    assert m.update(800) is None  # exactly on the line
    alert = m.update(790)
    assert alert is not None and "21%" in alert and "1,000.00" in alert
    assert m.update(700) is None  # once
    assert m.update(900) is None
    assert m.update(700) is not None  # re-armed after recovering


def test_daily_loss_baseline_is_per_utc_day() -> None:
    d = DailyLoss()
    t = datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp()
    assert d.update(t, 5.0) == 0.0
    assert d.update(t + 1, 3.0) == -2.0


@settings(max_examples=200, deadline=None)
@given(
    qty=st.floats(-300, 300),
    mark=st.floats(0.02, 0.98),
    bid=st.integers(100, 9800),
    spread=st.integers(100, 2000),
    bsize=st.integers(1, 500),
    asize=st.integers(1, 500),
    limit=st.integers(1, 300),
    budget=st.floats(1, 500),
)
def test_property_passed_quotes_never_breach_the_position_limit_or_the_budget(
    qty, mark, bid, spread, bsize, asize, limit, budget
) -> None:
    ask = min(bid + spread, 9900)
    risk = RiskEngine(loose())
    qs = quotes(bid=(bid, D(bsize)), ask=(ask, D(asize)))
    v = check(risk, qs, {CID: Position(qty, mark)}, limit=D(limit), budget=budget)
    got = sides(v)
    b, a = float(got.get("BUY", 0)), float(got.get("SELL", 0))
    assert b <= bsize and a <= asize  # only ever cut
    assert qty + b <= limit + 1e-9 or b == 0
    assert qty - a >= -limit - 1e-9 or a == 0
    # after every bid filled the long side's exposure stays within the budget (or it only reduced)
    if b > max(-qty, 0):
        assert max(qty, 0) * mark + (b - max(-qty, 0)) * bid / 10_000 <= budget + 0.01


def test_the_total_position_is_capped_before_trading_not_only_by_the_kill() -> None:
    risk = RiskEngine(loose(max_total_position=D(100)))
    pos = {CID: Position(20, 0.5), "0xbb": Position(-75, 0.5)}  # 95 of 100 used
    v = check(risk, quotes(), pos, limit=D(1000))
    assert sides(v) == {"BUY": D(5), "SELL": D(10)}  # selling reduces |q| here first: 20 + room 5
    assert any("total position" in r for r in v.vetoes)


def test_other_markets_resting_orders_count_against_the_total_position() -> None:
    risk = RiskEngine(loose(max_total_position=D(100)))
    # 60 held elsewhere plus 30 more bid there: if those fill, 90 of 100 are used
    pos = {CID: Position(0, 0.5), "0xbb": Position(60, 0.5, bids=30, asks=10)}
    v = check(risk, quotes(), pos, limit=D(1000))
    assert sides(v) == {"BUY": D(10), "SELL": D(10)}
    v = check(risk, quotes(bid=(4800, D(20)), ask=(5200, D(20))), pos, limit=D(1000))
    assert sides(v) == {"BUY": D(10), "SELL": D(10)}
