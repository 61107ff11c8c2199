"""A fixed dashboard for snapshot tests: an engine that is built but never started, and a store
filled with a canned, deterministic session (books, our orders, signals, decisions, prints, P&L,
events) at a fixed clock. Nothing here touches the network or the wall clock."""

from __future__ import annotations

from decimal import Decimal as D

import orjson

from polymm.config import load_settings
from polymm.domain.market import Side
from polymm.domain.messages import parse_frame
from polymm.domain.order_book import OrderBook
from polymm.domain.portfolio import Fill
from polymm.domain.prices import pips_to_str
from polymm.domain.strategy import MarketBrain
from polymm.engine.engine import Engine
from polymm.state import (
    DecisionState,
    ExecutionState,
    FeedState,
    FillView,
    HoldingView,
    LogEntry,
    MarketState,
    OrderView,
    PortfolioState,
    RiskState,
    TradePrint,
    VenueState,
)
from polymm.tui.app import PolymmApp
from polymm.tui.widgets import StatusBar
from polymm_standin.sim.catalog import make_markets

NOW = 1_795_000_000.0  # 2026-11-18 11:06:40 UTC
DEAD = "127.0.0.1:9"  # nothing listens: the app must not need the network


def _book(market, mid: int, tick: int):
    bids = {mid - tick * (i + 1): 40.0 + 17 * i for i in range(12)}
    asks = {mid + tick * (i + 1): 35.0 + 23 * i for i in range(12)}
    msg = {
        "event_type": "book", "market": market.condition_id, "asset_id": market.yes_token,
        "bids": [{"price": pips_to_str(p), "size": f"{s:.2f}"} for p, s in sorted(bids.items())],
        "asks": [{"price": pips_to_str(p), "size": f"{s:.2f}"} for p, s in sorted(asks.items(), reverse=True)],
    }
    book = OrderBook(market)
    book.apply(parse_frame(orjson.dumps(msg))[0][0])
    return book.view(10)


#: why nothing is quoted in the reconciling session (the catch-up's words when /data/trades fails)
RECONCILE_REASON = "reconciling with the venue: the venue's trade history is unavailable; retrying"


def build_app(halted: bool = False, reconciling: bool = False) -> PolymmApp:
    """The canned session; ``halted``: after a kill; ``reconciling``: what we hold is not known yet
    (the catch-up with the venue failing), so no market quotes."""
    settings = load_settings(_env_file=None, mode="paper", clob_url=f"http://{DEAD}", ws_url=f"ws://{DEAD}",
                             gamma_url=f"http://{DEAD}/gamma-api", data_url=f"http://{DEAD}/data-api")
    catalog = make_markets(7, 6)
    markets = [m for m in catalog if m.tick.pips == 100][:4]
    removed = next(m for m in catalog if m not in markets)  # held, not traded (removed earlier)
    engine = Engine(settings, markets, mode="PAPER", venue_host=f"http://{DEAD}")
    store = engine.store
    positions = [D(20), D(-35), D(0), D("12.5")]
    pnl = [(D("1.20"), D("-0.40")), (D("-0.75"), D("0.90")), (D(0), D(0)), (D("0.30"), D("0.05"))]
    for k, m in enumerate(markets):
        cid = m.condition_id
        view = _book(m, 3000 + 1500 * k, m.tick.pips)
        store.set(f"book/{cid}", view)
        brain = MarketBrain(m)
        for i in range(8):
            brain.on_trade(NOW - 30 + i, view.best_ask if i % 3 else view.best_bid, 15.0 + i, i % 3 != 0)
        if k == 0:
            brain.on_fill(NOW - 20, Fill(cid, "o-0", Side.BUY, view.best_bid, D(10), ts=NOW - 20))
        params = engine.params[cid]
        decision = brain.decide(view, positions[k], params, NOW)
        t = decision.targets
        store.set(f"signals/{cid}", decision.signals)
        store.set(f"decision/{cid}", DecisionState(
            cid, decision.model, t.reason, t.fair, tuple((q.side.value, q.price, q.size) for q in t.quotes),
            ("SELL cut to 12.50 of 20.00: position limit",) if k == 3 else (), decision.widen,
            decision.reward.q_min if decision.reward else None, 0.25, NOW))
        orders = tuple(OrderView(f"0x{k}{i:02d}", q.side.value, q.price, q.size, D(2) if i == 0 else D(0))
                       for i, q in enumerate(t.quotes)) if not (halted or reconciling) else ()
        realized, unreal = pnl[k]
        status = "halted" if halted else "reconciling" if reconciling else ("paused" if k == 2 else "quoting")
        reason = "operator kill switch" if halted else RECONCILE_REASON if reconciling else t.reason
        store.set(f"market/{cid}", MarketState(
            cid, m.question, status, reason, orders, positions[k],
            D("0.31") if positions[k] else None, realized, unreal, 3 + k, params.spread, params.size,
            params.position_limit))
        if k == 0:
            store.set(f"trades/{cid}", tuple(
                TradePrint(NOW - 2 * i, "BUY" if i % 2 else "SELL", view.best_ask if i % 2 else view.best_bid,
                           12.5 + 3 * i) for i in range(10)))
    store.set("portfolio", PortfolioState(D("0.75"), D("0.55"), D("0.10"), 14))
    # our fills, newest first, as the venue traded each token: settled and not, one markout still pending
    store.set("fills", (
        FillView(NOW - 4, markets[3].condition_id, markets[3].question, "BUY", "YES", D("0.71"), D("12.5"),
                 D("0.0042"), "MATCHED", None, "t-4"),
        FillView(NOW - 15, markets[1].condition_id, markets[1].question, "BUY", "NO", D("0.55"), D("35"),
                 D("0.02"), "MINED", D("-0.01"), "t-3"),
        FillView(NOW - 20, markets[0].condition_id, markets[0].question, "BUY", "YES", D("0.29"), D(10),
                 D("0.01"), "CONFIRMED", D("0.015"), "t-2"),
        FillView(NOW - 40, markets[0].condition_id, markets[0].question, "SELL", "YES", D("0.32"), D(5),
                 D(0), "FAILED", D(0), "t-1"),
    ))
    store.set("venue", VenueState("PAPER", f"http://{DEAD}", "paper"))
    store.set("feed", FeedState("RUNNING", "", 48_213, 0, 1, 0.4, (), 0, 6, 0, 0.006, 0.021))
    store.set("holdings", (
        HoldingView(markets[0].condition_id, markets[0].question, "Yes", markets[0].yes_token, D(20), True),
        HoldingView(markets[1].condition_id, markets[1].question, "No", markets[1].no_token, D("37.5"), True),
        HoldingView(markets[1].condition_id, markets[1].question, "Yes", markets[1].yes_token, D("2.5"), True),
        HoldingView(markets[3].condition_id, markets[3].question, "Yes", markets[3].yes_token, D("12.5"), True),
        HoldingView(removed.condition_id, removed.question, "No", removed.no_token, D("8.25"), False),
    ))
    store.set("execution", ExecutionState("paper", 0 if halted or reconciling else 9, 0, None, 0, 0, 0,
                                          ready=not reconciling, reason=RECONCILE_REASON if reconciling else ""))
    store.set("risk", RiskState(halted, "operator kill switch" if halted else "", NOW - 5 if halted else 0.0,
                                daily_pnl=D("1.20"), daily_loss_limit=D(100), exposure=21.4))
    store._events.clear()
    for i, (level, text) in enumerate([
        ("info", "execution paper ready"), ("info", "feed running"),
        ("info", f"fill BUY 10 @ 0.29 {markets[0].short_question}"),
        ("warning", f"{markets[2].short_question}: paused by operator"),
        ("error", "KILL: operator kill switch; cancelled 9 orders, the venue confirms none rest"),
    ][: 5 if halted else 4]):
        store._events.append(LogEntry(NOW - 60 + 10 * i, level, text))
    store.set("events", tuple(store._events))
    engine.halted = halted
    engine.halt_reason = "operator kill switch" if halted else ""
    if not halted:
        engine.paused.add(markets[2].condition_id)
    StatusBar.clock = staticmethod(lambda: NOW)
    app = PolymmApp(settings, mode="PAPER", engine=engine)
    app.theme = "textual-dark"
    return app


def canned_picker(app: PolymmApp):
    """The market picker over the stand-in's Gamma markets for seed 7, built in-process (no server, no
    wall clock): the same candidates discovery would read."""
    from datetime import UTC, datetime

    from polymm.tui.screens import MarketPicker
    from polymm.venue.discovery import candidate_from_gamma
    from polymm_standin.server.gamma import gamma_market
    from polymm_standin.server.standin import StandIn

    standin = StandIn(7, 6, flow=False)
    now = datetime.fromtimestamp(NOW, UTC)
    found = [candidate_from_gamma(gamma_market(p, standin.matching), now) for p in standin.profiles]

    class CannedPicker(MarketPicker):
        def load(self) -> None:  # type: ignore[override]
            self.candidates = {c.condition_id: c for c in found}
            self.loaded = True
            self._rerank()

    assert app.engine is not None
    return CannedPicker(app.engine, app.settings)
