"""The risk engine's pre-trade checks and halting limits, as examples and properties."""

from __future__ import annotations

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
