"""Issue 12's calibration, where it crosses modules: PM4's Kelly cap as the original describes it, the
new model parameters in ``MarketParams`` and the settings, and the Avellaneda–Stoikov paper's
experiment through polymm's own quoting function (``bench/as_paper.py``)."""

from __future__ import annotations

import importlib.util
import math
import os
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polymm.config import ConfigError, MarketParams, load_settings
from polymm.domain.market import Side
from polymm.domain.quoting import Quote
from polymm.domain.risk import Position, RiskEngine, RiskLimits

CID = "0xaa"
BIG = D(10**6)


def _kelly(**kw) -> RiskEngine:
    base = dict(max_market_exposure=BIG, max_total_exposure=BIG, max_group_loss=BIG, max_correlated_exposure=BIG,
                daily_loss_limit=BIG, max_total_position=BIG, max_order_size=BIG, kelly_fraction=0.5,
                kelly_horizon_hours=16,
                slippage_buffer=0.0)
    base.update(kw)
    return RiskEngine(RiskLimits(**base))


def _room(risk: RiskEngine, side: Side, mark: float, hours: float | None) -> float:
    q = Quote(side, 1000 if side is Side.BUY else 9000, D(10_000))  # 0.10 a share either way: exposure room 1000
    v = risk.check(CID, [q], {CID: Position(0.0, mark)}, position_limit=BIG, budget=100.0, now=0.0,
                   hours_to_end=hours)
    return float(sum(x.size for x in v.quotes))


def test_kelly_divides_by_the_probability_of_the_adverse_outcome() -> None:
    risk = _kelly()
    # a YES buy loses when NO wins (1 − p); a YES sell (a NO buy) when YES wins (p): 0.5·100/0.2, /0.8
    assert _room(risk, Side.BUY, 0.8, None) == pytest.approx(250.0, abs=0.01)
    assert _room(risk, Side.SELL, 0.8, None) == pytest.approx(62.5, abs=0.01)
    # not the price paid: at a 0.50 quote both would be 100
    assert _room(risk, Side.BUY, 0.5, None) == pytest.approx(100.0, abs=0.01)


def test_kelly_time_factor_has_the_eta_time_exponent() -> None:
    # 4 h of a 16 h horizon: (1/4)^0.5 = 0.5 with the original's eta_time, 0.25 when linear
    assert _room(_kelly(), Side.BUY, 0.5, 4.0) == pytest.approx(50.0, abs=0.01)
    assert _room(_kelly(kelly_eta_time=1.0), Side.BUY, 0.5, 4.0) == pytest.approx(25.0, abs=0.01)
    assert _room(_kelly(kelly_eta_time=0.0), Side.BUY, 0.5, 4.0) == pytest.approx(100.0, abs=0.01)  # no decay
    assert _room(_kelly(), Side.BUY, 0.5, 0.0) == pytest.approx(10.0, abs=0.01)  # the 0.1 floor
    assert _room(_kelly(), Side.BUY, 0.5, 100.0) == pytest.approx(100.0, abs=0.01)  # at most 1


@settings(max_examples=100, deadline=None)
@given(st.floats(0.01, 0.99), st.floats(0.0, 100.0), st.floats(0.0, 3.0))
def test_property_kelly_room_shrinks_as_the_end_nears_and_as_the_adverse_outcome_grows(mark, hours, eta) -> None:
    risk = _kelly(kelly_eta_time=eta)
    later = _room(risk, Side.BUY, mark, hours + 1.0)
    assert _room(risk, Side.BUY, mark, hours) <= later + 0.01
    assert _room(risk, Side.BUY, min(mark + 0.005, 0.995), hours) >= _room(risk, Side.BUY, mark, hours) - 0.01
    assert _room(risk, Side.SELL, min(mark + 0.005, 0.995), hours) <= _room(risk, Side.SELL, mark, hours) + 0.01


@pytest.mark.parametrize(("field", "value", "rule"), [
    ("horizon_s", 0, "greater than 0"),
    ("kappa", -1, "greater than 0"),
    ("gamma_a", 11, "less than or equal to 10"),
    ("j_min", 1.2, "less than or equal to 1"),
    ("j_max", 0.9, "greater than or equal to 1"),
    ("c_risk", 2, "less than or equal to 1"),
    ("kappa0", 0, "greater than 0"),
])
def test_new_model_parameters_are_validated_with_named_errors(field: str, value: float, rule: str) -> None:
    with pytest.raises(ConfigError, match=rf"{field}: .*{rule}"):
        MarketParams().updated(**{field: value})


def test_model_defaults_come_from_the_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("POLYMM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    base = load_settings(_env_file=None)
    p = base.default_params()
    assert (p.horizon_s, p.kappa, p.gamma_a, p.j_min, p.j_max) == (60.0, 100.0, 1.0, 0.8, 2.0)
    assert base.risk_limits().kelly_eta_time == 0.5
    monkeypatch.setenv("POLYMM_DEFAULT_HORIZON_S", "900")
    monkeypatch.setenv("POLYMM_DEFAULT_KAPPA", "250")
    monkeypatch.setenv("POLYMM_DEFAULT_GAMMA_A", "2")
    monkeypatch.setenv("POLYMM_KELLY_ETA_TIME", "1")
    monkeypatch.setenv("POLYMM_DEFAULT_C_RISK", "0.06")
    monkeypatch.setenv("POLYMM_DEFAULT_KAPPA0", "2.5")
    s = load_settings(_env_file=None)
    p = s.default_params()
    assert (p.horizon_s, p.kappa, p.gamma_a) == (900.0, 250.0, 2.0)
    assert (base.default_params().c_risk, base.default_params().kappa0) == (0.0, 1.0)  # off by default
    assert (p.c_risk, p.kappa0) == (0.06, 2.5)
    assert s.risk_limits().kelly_eta_time == 1.0
    monkeypatch.setenv("POLYMM_DEFAULT_KAPPA", "0")
    with pytest.raises(ConfigError, match="POLYMM_DEFAULT_KAPPA"):
        load_settings(_env_file=None)


def _as_paper():
    path = Path(__file__).resolve().parent.parent / "bench" / "as_paper.py"
    spec = importlib.util.spec_from_file_location("as_paper", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_papers_finding_holds_through_polymms_quoting_function() -> None:
    """A short run of bench/as_paper.py at γ = 0.1: the inventory strategy's profit and final inventory
    vary far less than the symmetric one's, for a small cost in mean profit (the paper: 0.44, 0.32, 0.94)."""
    res = _as_paper().run(0.1, paths=150, seed=11)
    inv, sym = res["inventory"], res["symmetric"]
    assert inv[0] == pytest.approx(sym[0], abs=0.01)  # the same spread (up to the grid's rounding)
    assert inv[2] / sym[2] < 0.65 and inv[4] / sym[4] < 0.5 and inv[1] / sym[1] > 0.8
    assert math.isclose(inv[0], 1.5, abs_tol=0.1)  # 0.2 + 20·ln(1 + 0.1/1.5) ≈ 1.49 on average, on the grid
