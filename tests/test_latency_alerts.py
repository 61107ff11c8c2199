"""Latency alerts: the order round trip's and the market data delay's p99 over a threshold raise one
warning (and a metric), and a note once back under — against the stand-in with its latency fault."""

from __future__ import annotations

from engines import ours, running_engine

from polymm_standin.server import run_exchange


def _log(engine) -> list[str]:
    return [e.text for e in engine.store.get("events", ())]


async def test_a_slow_venue_raises_one_latency_alert_and_a_note_when_it_is_fast_again(wait_until) -> None:
    async with run_exchange(port=0, seed=73, flow=False) as ex:
        ex.standin.faults.latency_s = 0.25  # every HTTP request waits this long
        async with running_engine(ex, count=1, alert_order_latency_ms=150, alert_feed_delay_ms=0) as engine:
            await wait_until(lambda: ours(ex, engine), timeout=30)
            await wait_until(lambda: engine.latency_alerts == 1, timeout=10)
            alerts = [t for t in _log(engine) if t.startswith("latency alert")]
            assert len(alerts) == 1 and "order round trip p99" in alerts[0] and "over 150 ms" in alerts[0]
            await engine.risk_tick()
            await engine.risk_tick()
            assert engine.latency_alerts == 1  # one alert while it lasts, not one a tick
            ex.standin.faults.latency_s = 0.0
            engine.execution.post_ms.clear()  # a minute on: the slow posts have left the window
            assert engine.execution.pacing().post_p99_ms is None
            await engine.risk_tick()
            assert not any(t.startswith("latency: order round trip p99 back") for t in _log(engine))  # no data
            cid = next(iter(engine.markets))
            await engine.execution.cancel_market(cid)  # the engine requotes: fast posts now
            await wait_until(lambda: engine.execution.pacing().post_p99_ms is not None, timeout=20)
            await engine.risk_tick()
            assert any(t.startswith("latency: order round trip p99 back to") for t in _log(engine))
            assert engine.latency_alerts == 1
