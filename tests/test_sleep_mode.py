"""Sleep mode: a market whose book has not moved for ``sleep_after_s`` is stepped on a slow timer only;
a book change wakes it at once."""

from __future__ import annotations

from test_scale_engine import paper_engine


async def test_a_dead_market_sleeps_and_a_book_change_wakes_it() -> None:
    engine = paper_engine(2, quote_interval_fast_s=0.25, quote_interval_s=1.0, sleep_after_s=60,
                          quote_interval_sleep_s=15)
    a, b = engine.markets
    t0 = engine._born
    assert engine._interval(a, t0 + 1) == 1.0  # never changed, but only just started: quiet, not asleep
    assert engine._interval(a, t0 + 61) == 15.0  # a minute without a change: asleep
    engine._active_at[b] = t0 + 58
    assert engine._interval(b, t0 + 61) == 0.25  # b's book moved 3 s ago: fast
    engine._on_books_changed({a})  # a frame for a: awake and due now
    assert a in engine._dirty and engine._interval(a, engine._active_at[a] + 1) == 0.25
    off = paper_engine(1, sleep_after_s=0)
    (c,) = off.markets
    assert off._interval(c, off._born + 10_000) == off.settings.quote_interval_s  # 0: never asleep
    await engine.stop(cancel_orders=False)
    await off.stop(cancel_orders=False)
