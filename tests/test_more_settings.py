"""The rest of the earlier bots' knobs as settings: the order upkeep defaults, the fair value's smoothing
(ALPHA_FAIR) and σ's EWMA window for the models too, a warm-up before quoting, and a minimum liquidity
for the automatic selection — each reaching what the engine, the replay and the backtest run."""

from __future__ import annotations

import pytest
from test_scale_engine import paper_engine, show_book

from polymm.backtest.replay import ReplayConfig
from polymm.config import ConfigError, load_settings
from polymm.venue.discovery import describe_filters, selection_filters


def test_upkeep_smoothing_and_selection_settings_reach_their_users() -> None:
    s = load_settings(_env_file=None, default_tolerance_ticks=3, default_max_order_age_s=90, default_fee_ticks=1.5,
                      alpha_fair=0.5, vol_half_life_s=30, select_min_liquidity=2500)
    p = s.default_params()
    assert (p.tolerance_ticks, p.max_order_age_s, p.fee_ticks) == (3, 90.0, 1.5)
    assert (s.ewma_params().alpha_fair, s.ewma_params().vol_half_life) == (0.5, 30.0)
    assert s.signals_config().volatility.var_half_life == 30.0  # one window for the models' σ and the signals'
    assert ReplayConfig.from_settings(s).ewma == s.ewma_params()
    f = selection_filters(s)
    assert f.min_liquidity == 2500 and "liquidity ≥ 2,500" in describe_filters(f)
    assert selection_filters(load_settings(_env_file=None)).min_liquidity is None  # 0: any


def test_the_min_liquidity_flag_sets_the_setting() -> None:
    import argparse

    from polymm.commands.options import program_args
    from polymm.commands.startup import selection_overrides

    p = argparse.ArgumentParser()
    program_args(p)
    assert selection_overrides(p.parse_args(["--min-liquidity", "750"])) == {"select_min_liquidity": 750.0}
    with pytest.raises(SystemExit):
        p.parse_args(["--min-liquidity", "-1"])
    with pytest.raises(ConfigError, match=r"POLYMM_ALPHA_FAIR: Input should be less than or equal to 1 \(got 2\)"):
        load_settings(_env_file=None, alpha_fair=2)


async def test_the_engines_brains_smooth_with_the_settings() -> None:
    engine = paper_engine(1, alpha_fair=0.5)
    (brain,) = engine.brains.values()
    assert brain._ewma.alpha_fair == 0.5
    await engine.stop(cancel_orders=False)


async def test_a_market_is_not_quoted_until_its_book_has_warmed_up() -> None:
    engine = paper_engine(1, default_model="fixed", min_step_gap_s=0.0, warmup_s=30)
    engine.feed.trusted = lambda c, crossed_ok=False: (True, "")  # type: ignore[method-assign]  # no sockets
    (m,) = engine.markets.values()
    show_book(engine, m, "0.48", "0.52")
    await engine.step(m.condition_id)
    assert engine.execution.open_orders() == []
    status, why = engine._blocked[m.condition_id]
    assert status == "warming up" and why.startswith("warming up: 0 of 30 s of book data before quoting")
    engine._first_book[m.condition_id] -= 31  # half a minute of book data later
    await engine.step(m.condition_id)
    assert len(engine.execution.open_orders()) == 2 and m.condition_id not in engine._blocked
    await engine.stop(cancel_orders=False)
