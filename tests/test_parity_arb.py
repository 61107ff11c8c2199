"""YES/NO parity gaps: the signal nets the taker fees, a crossed book's gap becomes a take
(``pipeline.parity_gap``, shared by the engine and the replay), and the engine alerts (``arb_mode=alert``)
or takes both legs within the risk limits (``arb_mode=take``)."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest
from test_scale_engine import markets, show_book

from polymm.config import ConfigError, load_settings
from polymm.domain.market import Side
from polymm.domain.messages import parse_frame
from polymm.domain.pipeline import parity_take
from polymm.domain.signals import ParityArb, ParityConfig, taker_fee_bps
from polymm.engine.engine import Engine
from polymm.venue.execution import OpenOrder


def test_the_gap_is_net_of_the_taker_fee_of_both_legs() -> None:
    assert taker_fee_bps(0.07, 5000, 5000) == pytest.approx(350.0)  # 0.07 · 0.25 a leg, two legs: 3.5 cents
    assert taker_fee_bps(0.0, 5000, 5000) == 0.0
    p = ParityArb(ParityConfig(threshold_bps=10, fee_rate=0.07))
    s = p.update(6000, 5200)  # a merged book crossed by 8 cents (NO asks at 0.40 under the YES ask of 0.52)
    fee = 0.07 * (6000 * 4000 + 5200 * 4800) / 10_000
    assert s.buy_edge_bps == pytest.approx(800 - fee) and s.flagged
    s = p.update(5300, 5200)  # 1 cent: less than the fees
    assert s.buy_edge_bps == pytest.approx(100 - 0.07 * (5300 * 4700 + 5200 * 4800) / 10_000) and not s.flagged


def test_a_take_is_the_top_of_both_sides_within_the_size_cap_and_never_against_ourselves() -> None:
    (m,) = markets(1)
    from polymm.domain.order_book import OrderBook

    book = OrderBook(m)
    frame = (b'[{"event_type":"book","asset_id":"' + m.yes_token.encode() + b'","market":"' + m.condition_id.encode()
             + b'","bids":[{"price":"0.60","size":"30"}],"asks":[{"price":"0.52","size":"100"}],"timestamp":"1",'
             b'"hash":"x"}]')
    for ev in parse_frame(frame)[0]:
        book.apply(ev)
    view = book.view(5)
    snap = ParityArb(ParityConfig(threshold_bps=10, fee_rate=0.07)).update(view.best_bid, view.best_ask)
    arb = parity_take(view, snap, [], 50.0, D(5))
    assert arb is not None and (arb.buy, arb.sell, arb.size) == (5200, 6000, D("30.00"))
    assert arb.profit == (D(30) * D(str(round(snap.edge_bps, 2))) / 10_000).quantize(D("0.0001"))
    assert parity_take(view, snap, [], 12.345, D(5)).size == D("12.34")  # the cap, floored to cents
    assert parity_take(view, snap, [], 4.0, D(5)) is None  # under the venue minimum
    ours = OpenOrder("o1", m.condition_id, Side.SELL, 5200, D(10))
    assert parity_take(view, snap, [ours], 50.0, D(5)) is None  # the ask is ours: no gap to take
    flat = ParityArb(ParityConfig(threshold_bps=10)).update(5000, 5100)
    assert parity_take(view, flat, [], 50.0, D(5)) is None


def _crossed(engine: Engine, m) -> None:
    """A YES book of 0.48 / 0.52, then NO asks at 0.40 (YES bids at 0.60 in the merged book): YES and NO
    can be bought together for 0.92."""
    show_book(engine, m, "0.48", "0.52")
    frame = (b'[{"event_type":"price_change","market":"' + m.condition_id.encode() + b'","price_changes":[{'
             b'"asset_id":"' + m.no_token.encode() + b'","price":"0.40","size":"30","side":"SELL","hash":"y"}],'
             b'"timestamp":"2"}]')
    engine.feed.books.apply(parse_frame(frame)[0])


def _engine(**overrides) -> Engine:
    settings = load_settings(**{"_env_file": None, "mode": "paper", "journal_path": "off", "default_model": "fixed",
                                "min_step_gap_s": 0.0, **overrides})
    engine = Engine(settings, markets(1), mode="PAPER")

    def trusted(cid: str, crossed_ok: bool = False) -> tuple[bool, str]:  # the feed's rule, without sockets
        book = engine.feed.books.get(cid)
        return (False, "book crossed") if book is not None and book.crossed and not crossed_ok else (True, "")

    engine.feed.trusted = trusted  # type: ignore[method-assign]
    return engine


def _log(engine: Engine) -> list[str]:
    return [e.text for e in engine.store.get("events", ())]


async def test_alert_mode_logs_the_gap_with_its_profit_and_size_once_per_cooldown() -> None:
    engine = _engine(arb_mode="alert", arb_cooldown_s=3600)
    (m,) = engine.markets.values()
    _crossed(engine, m)
    await engine.step(m.condition_id)
    await engine.step(m.condition_id)
    gaps = [t for t in _log(engine) if "parity gap" in t]
    assert len(gaps) == 1 and engine.arbs == {"alerted": 1, "taken": 0, "refused": 0}
    assert "YES ask 0.52 + NO ask 0.40 = 0.92, 457 bps a pair after fees on 30.00 shares ($1.37)" in gaps[0]
    assert engine.portfolio.position(m.condition_id).fills == 0  # nothing taken
    await engine.stop(cancel_orders=False)


async def test_take_mode_buys_both_sides_within_the_limits() -> None:
    engine = _engine(arb_mode="take")
    (m,) = engine.markets.values()
    _crossed(engine, m)
    await engine.step(m.condition_id)
    await asyncio.gather(*engine._step_tasks)
    pos = engine.portfolio.position(m.condition_id)
    assert engine.arbs["taken"] == 1 and pos.fills == 2
    assert pos.qty == 0 and pos.realized == D("2.4")  # 30 pairs for 0.92: 8 cents each (before fees)
    assert any("parity gap taken: 30.00 bought @ 0.52, 30.00 sold @ 0.60" in t for t in _log(engine))
    await engine.stop(cancel_orders=False)


async def test_take_mode_refuses_a_gap_the_risk_limits_would_cut() -> None:
    engine = _engine(arb_mode="take", max_order_size=10)  # a 30-share leg is over the order-size cap
    (m,) = engine.markets.values()
    _crossed(engine, m)
    await engine.step(m.condition_id)
    await asyncio.gather(*engine._step_tasks)
    assert engine.arbs == {"alerted": 1, "taken": 0, "refused": 1}
    assert engine.portfolio.position(m.condition_id).fills == 0
    assert any("parity gap not taken: the risk limits do not allow both legs in full" in t for t in _log(engine))
    await engine.stop(cancel_orders=False)


def test_bad_arb_settings_name_the_field_and_the_allowed_values() -> None:
    with pytest.raises(ConfigError, match=r"POLYMM_ARB_MODE: Input should be 'off', 'alert' or 'take' \(got 'buy'\)"):
        load_settings(_env_file=None, arb_mode="buy")
    with pytest.raises(ConfigError, match=r"POLYMM_ARB_FEE_RATE: Input should be less than or equal to 0.25"):
        load_settings(_env_file=None, arb_fee_rate=0.5)


def test_a_replay_counts_the_parity_gaps_of_its_recording(tmp_path) -> None:
    """The backtest side: a recording whose NO asks dip to 0.40 under a YES ask of 0.52 for three seconds
    (then leave) is one gap of 30 shares; the replay runs the engine's check (``pipeline.parity_gap``)."""
    import orjson

    from polymm.backtest.replay import Replay, ReplayConfig
    from polymm.domain.params import MarketParams
    from polymm.venue.recorder import FrameReader, FrameWriter

    (m,) = markets(1)
    t0, s = 1_788_220_800 * 10**9, 10**9

    def frame(t_ms: int, doc: dict) -> str:
        return orjson.dumps({"market": m.condition_id, "timestamp": str(t_ms), **doc}).decode()

    def no_ask(t_ms: int, size: str) -> str:
        return frame(t_ms, {"event_type": "price_change", "price_changes": [
            {"asset_id": m.no_token, "price": "0.40", "size": size, "side": "SELL"}]})

    book = frame(0, {"event_type": "book", "asset_id": m.yes_token, "hash": "h", "tick_size": "0.01",
                     "bids": [{"price": "0.48", "size": "100"}], "asks": [{"price": "0.52", "size": "100"}]})
    w = FrameWriter(tmp_path)
    w.add_markets([m], t0)
    for t, raw in [(t0, book), (t0 + 2 * s, no_ask(2000, "30")), (t0 + 3 * s, no_ask(3000, "30")),
                   (t0 + 5 * s, no_ask(5000, "0")), (t0 + 9 * s, no_ask(9000, "30"))]:
        w.write(raw, t)
    w.close()
    # quotes 15 cents off the mid, away from the gap's prices (a gap at our own price is no gap: ourselves)
    rp = Replay(ReplayConfig(base=MarketParams(spread=D("0.30")), arb_cooldown_s=5.0), source="t")
    report = rp.run(FrameReader(tmp_path))
    counters = dict(report.counters)
    edge = 800 - 0.07 * (6000 * 4000 + 5200 * 4800) / 10_000
    assert counters["parity_gaps"] == 2  # 2 s (its repeat at 3 s within the cooldown), and 9 s
    assert counters["parity_gap_profit"] == pytest.approx(2 * 30 * edge / 10_000, abs=1e-3)
    assert rp.portfolio.position(m.condition_id).fills == 0  # counted, not traded
