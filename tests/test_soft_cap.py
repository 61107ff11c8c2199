"""The soft cap: before a hard cap, a warning (event log, metric) and an amber ``near cap`` in the status
bar, once per crossing (5 points of hysteresis)."""

from __future__ import annotations

import time
from decimal import Decimal as D

from test_scale_engine import paper_engine

from polymm.domain.market import Side
from polymm.domain.portfolio import Fill
from polymm.tui.status import status_parts

ROOMY = {"max_market_exposure": 10_000, "max_total_exposure": 10_000, "max_correlated_exposure": 10_000}


def _trade(engine, m, side: Side, size: int, n: int) -> None:
    engine.ledger.book(Fill(m.condition_id, f"o{n}", side, 5000, D(size), ts=time.time(), trade_id=f"t{n}",
                            token=m.yes_token))


def _warnings(engine) -> list[str]:
    return [e.text for e in engine.store.get("events", ()) if e.text.startswith("soft cap")]


async def test_a_cap_used_past_the_soft_cap_warns_once_and_shows_amber_until_well_under() -> None:
    engine = paper_engine(1, soft_cap_pct=80, max_total_position=1000, **ROOMY)
    (m,) = engine.markets.values()
    _trade(engine, m, Side.BUY, 790, 1)
    await engine.risk_tick()
    assert engine.soft_cap_warnings == 0 and engine.store.get("risk").near_caps == ()
    _trade(engine, m, Side.BUY, 60, 2)  # 850 of 1,000
    await engine.risk_tick()
    await engine.risk_tick()
    assert engine.soft_cap_warnings == 1 and engine.usage["total position"] == 0.85
    assert _warnings(engine) == ["soft cap: total position at 85% of its limit (warning from 80%)"]
    risk = engine.store.get("risk")
    assert risk.near_caps == ("total position 85%",)
    bar = " ".join(p.text.plain for p in status_parts(None, None, risk, None))
    assert "near cap: total position 85%" in bar
    _trade(engine, m, Side.SELL, 100, 3)  # 75%: within the hysteresis, still near
    await engine.risk_tick()
    assert engine.store.get("risk").near_caps == ("total position 75%",) and engine.soft_cap_warnings == 1
    _trade(engine, m, Side.SELL, 60, 4)  # 69%
    await engine.risk_tick()
    assert engine.store.get("risk").near_caps == () and _warnings(engine)[-1] == \
        "soft cap: total position back to 69% of its limit"
    await engine.stop(cancel_orders=False)


async def test_every_cap_counts_and_100_turns_it_off() -> None:
    engine = paper_engine(1, soft_cap_pct=50, max_total_position=10_000, max_market_exposure=100,
                          max_total_exposure=10_000, max_correlated_exposure=10_000)
    (m,) = engine.markets.values()
    _trade(engine, m, Side.BUY, 120, 1)  # exposure 120 · 0.50 = 60 of the market's 100
    await engine.risk_tick()
    assert engine.store.get("risk").near_caps == ("market exposure 60%",)
    off = paper_engine(1, soft_cap_pct=100, max_total_position=1000, **ROOMY)
    (m,) = off.markets.values()
    _trade(off, m, Side.BUY, 990, 1)
    await off.risk_tick()
    assert off.soft_cap_warnings == 0 and off.store.get("risk").near_caps == ()
    await engine.stop(cancel_orders=False)
    await off.stop(cancel_orders=False)
