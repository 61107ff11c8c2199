"""The earlier bots' strategy knobs as validated settings: each reaches the signals every market, the replay
and the backtest run with, and each acts — flow imbalance threshold, toxic-flow threshold, volume spikes and
the time of day widen through the one widening path, capped by ``POLYMM_MAX_WIDEN``, with the reasons shown."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_signals import fill

from polymm.backtest.replay import ReplayConfig
from polymm.config import ConfigError, load_settings
from polymm.domain.market import Side
from polymm.domain.signals import (
    EventConfig,
    EventSignal,
    FlowConfig,
    FlowImbalance,
    HourConfig,
    HourProfile,
    MarkoutConfig,
    Markouts,
    SignalsConfig,
    SignalSet,
)

KNOBS = {
    "flow_window_s": 30.0, "flow_imbalance_threshold": 0.3, "flow_max_skew_ticks": 4.0, "flow_widen_k": 0.25,
    "vol_half_life_s": 120.0, "regime_fast_half_life_s": 5.0, "regime_slow_half_life_s": 600.0,
    "toxic_threshold": 0.6, "toxic_widen_k": 2.0, "spike_k": 4.0, "spike_widen": 1.5, "hour_widen_max": 2.0,
    "max_widen": 3.0, "arb_min_profit_bps": 25.0, "arb_fee_rate": 0.03, "arb_max_size": 20.0,
    "default_j_min": 0.5, "default_j_max": 3.0,
}


def test_every_knob_reaches_the_signals_of_the_engine_the_replay_and_the_backtest() -> None:
    s = load_settings(_env_file=None, **KNOBS)
    c = s.signals_config()
    assert (c.flow.window, c.flow.threshold, c.flow.max_skew_ticks, c.flow.widen_k) == (30.0, 0.3, 4.0, 0.25)
    assert (c.volatility.var_half_life, c.volatility.fast_half_life, c.volatility.slow_half_life) == (120.0, 5.0, 600.0)
    assert (c.markouts.threshold, c.markouts.widen_k) == (0.6, 2.0)
    assert (c.events.spike_k, c.events.spike_widen, c.hours.widen_max, c.max_widen) == (4.0, 1.5, 2.0, 3.0)
    assert (c.parity.threshold_bps, c.parity.fee_rate, c.parity.max_size) == (25.0, 0.03, 20.0)
    assert (s.default_params().j_min, s.default_params().j_max) == (0.5, 3.0)
    assert ReplayConfig.from_settings(s).signals == c  # the replay and the synthetic backtest
    d = load_settings(_env_file=None).signals_config()  # unset: the measured defaults, unchanged
    assert replace(d, parity=SignalsConfig().parity, events=SignalsConfig().events) == SignalsConfig()


def test_knobs_are_set_from_the_environment(monkeypatch: pytest.MonkeyPatch, clean) -> None:
    monkeypatch.setenv("POLYMM_FLOW_WINDOW_S", "45")
    monkeypatch.setenv("POLYMM_SPIKE_WIDEN", "2")
    c = load_settings(_env_file=None).signals_config()
    assert c.flow.window == 45.0 and c.events.spike_widen == 2.0


@pytest.mark.parametrize(("field", "value", "message"), [
    ("toxic_threshold", 1.0, "POLYMM_TOXIC_THRESHOLD: Input should be less than 1 (got 1)"),
    ("flow_window_s", 0, "POLYMM_FLOW_WINDOW_S: Input should be greater than 0 (got 0)"),
    ("spike_widen", 0.5, "POLYMM_SPIKE_WIDEN: Input should be greater than or equal to 1 (got 0.5)"),
    ("regime_slow_half_life_s", 5.0, "POLYMM_REGIME_SLOW_HALF_LIFE_S: must be above "
                                     "POLYMM_REGIME_FAST_HALF_LIFE_S (10) (got 5)"),
])
def test_a_bad_knob_names_the_variable_and_the_allowed_values(field: str, value: float, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_settings(_env_file=None, **{field: value})
    assert message in str(e.value)


def test_flow_under_its_imbalance_threshold_neither_skews_nor_widens() -> None:
    f = FlowImbalance(FlowConfig(threshold=0.5))
    f.update(1.0, 70.0, True)
    f.update(1.0, 30.0, False)  # imbalance 0.4
    s = f.snapshot()
    assert s.imbalance == pytest.approx(0.4) and s.skew_ticks == 0.0 and s.widen == 1.0
    f.update(2.0, 50.0, True)  # 120 vs 30: 0.6
    s = f.snapshot()
    assert s.imbalance == pytest.approx(0.6) and s.skew_ticks == pytest.approx(1.2) and s.widen == pytest.approx(1.3)


def _toxic(threshold: float) -> Markouts:
    m = Markouts(MarkoutConfig(widen_k=1.0, threshold=threshold))
    m.on_mid(0.0, 5000.0)
    t = 0.0
    for side in (Side.BUY, Side.BUY, Side.BUY, Side.SELL):  # three adverse fills of four: toxicity 0.75
        t += 20
        m.on_fill(t, fill(side, 5000))
        m.on_mid(t + 10, 4950.0)
        m.on_mid(t + 15, 5000.0)
    return m


def test_toxic_flow_widens_from_its_threshold() -> None:
    assert _toxic(0.5).snapshot().toxicity == pytest.approx(0.75)
    assert _toxic(0.5).snapshot().widen == pytest.approx(1.5)  # the old rule: 1 + (2·0.75 − 1)
    assert _toxic(0.7).snapshot().widen == pytest.approx(1 + 0.05 / 0.3)
    assert _toxic(0.8).snapshot().widen == 1.0


def _spiking(widen: float) -> EventSignal:
    e = EventSignal(EventConfig(bucket=60.0, volume_half_life=10.0, spike_k=3.0, min_buckets=5, spike_widen=widen))
    for k in range(20):  # 100 shares a minute, then 310 in one
        e.update(k * 60.0, 100.0)
    e.update(20 * 60.0 + 1, 310.0)
    return e


def test_a_volume_spike_widens_only_when_set_to() -> None:
    assert _spiking(1.0).snapshot().volume_spike and _spiking(1.0).snapshot().widen == 1.0  # shown, not acted on
    assert _spiking(2.0).snapshot().widen == 2.0


def test_the_hours_that_move_most_are_quoted_wider() -> None:
    h = HourProfile(HourConfig(widen_max=1.8, min_samples=10))
    mid = 5000.0
    for hour, move in ((10, 4.0), (11, 1.0), (12, 1.0)):  # 10:00 UTC moves twice the day's mean
        for k in range(20):
            mid += move if k % 2 else -move
            h.on_mid(hour * 3600.0 + k, mid)
    overall = (19 * 4.0 + 20 * 1.0 + 20 * 1.0) / 59  # the very first mid is no change
    assert h.ratio(10 * 3600.0) == pytest.approx(4.0 / overall) and h.widen(10 * 3600.0) == 1.8  # capped
    assert h.widen(11 * 3600.0) == 1.0  # quieter than the mean: as set
    assert h.widen(13 * 3600.0) == 1.0 and h.ratio(13 * 3600.0) is None  # not seen yet


def test_the_widening_is_capped_and_says_why() -> None:
    cfg = SignalsConfig(events=EventConfig(bucket=60.0, volume_half_life=10.0, spike_k=3.0, min_buckets=5,
                                           spike_widen=2.0),
                        flow=FlowConfig(widen_k=1.0), max_widen=2.5)
    sig = SignalSet("c", cfg)
    for k in range(20):
        sig.on_trade(k * 60.0, 5000, 100.0, True)  # all taker buys: flow x2
    sig.on_trade(20 * 60.0 + 1, 5000, 400.0, True)  # and a spike: x2
    snap = sig.snapshot(20 * 60.0 + 2)
    assert snap.flow.widen == 2.0 and snap.events.widen == 2.0
    assert snap.widen == 2.5 and snap.widen_ex_volatility == 2.5  # 4 capped
    assert snap.widen_reasons() == "flow x2.00, volume spike x2.00 (capped at x2.50)"
    uncapped = SignalSet("c", replace(cfg, max_widen=0.0))
    for k in range(20):
        uncapped.on_trade(k * 60.0, 5000, 100.0, True)
    uncapped.on_trade(20 * 60.0 + 1, 5000, 400.0, True)
    assert uncapped.snapshot(20 * 60.0 + 2).widen == 4.0
