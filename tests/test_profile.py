"""``--profile``'s timing wrappers: installed where the code looks the functions up, counted, reported,
and taken out again."""

from __future__ import annotations

from test_scale_engine import paper_engine, show_book

from polymm.domain import pipeline
from polymm.domain.strategy import MarketBrain
from polymm.ops.profile import HOT, Profile


async def test_the_hot_functions_are_timed_while_installed_and_restored_after() -> None:
    originals = (pipeline.step, MarketBrain.__dict__["decide"])
    profile = Profile(HOT).install()
    try:
        assert pipeline.step is not originals[0]
        engine = paper_engine(1, default_model="fixed", min_step_gap_s=0.0)
        engine.feed.trusted = lambda c: (True, "")  # type: ignore[method-assign]  # no sockets here
        (m,) = engine.markets.values()
        show_book(engine, m, "0.48", "0.52")
        for _ in range(3):
            await engine.step(m.condition_id)
        await engine.stop(cancel_orders=False)
    finally:
        profile.uninstall()
    assert (pipeline.step, MarketBrain.__dict__["decide"]) == originals
    assert profile.stats["step"].calls == profile.stats["MarketBrain.decide"].calls == 3
    assert profile.stats["LiveExecution._sign_many"].calls == 0  # paper: nothing signed
    table = profile.table().splitlines()
    rows = {line.split()[0]: line.split() for line in table[3:]}
    assert set(rows) >= {"step", "MarketBrain.decide", "RiskEngine.check"} and "LiveExecution._sign_many" not in rows
    assert rows["step"][1] == "3" and float(rows["step"][2].replace(",", "")) > 0
    assert float(rows["step"][2].replace(",", "")) >= float(rows["MarketBrain.decide"][2].replace(",", ""))
