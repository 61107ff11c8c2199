"""What the operator does to one market while the engine runs — flatten, reduce-only — and the fills
tab's slice, against the stand-in with real orders (demo mode) and on paper."""

from __future__ import annotations

from decimal import Decimal as D

from engines import hit_our_bid, ours, running_engine, yes_bids
from eth_account import Account

from polymm.domain.market import Side
from polymm.domain.prices import fmt_amount
from polymm.engine.execution_factory import DEMO_PRIVATE_KEY
from polymm_standin.server import run_exchange
from polymm_standin.server.trading import TradingConfig

DEMO = Account.from_key(DEMO_PRIVATE_KEY).address


def _venue_position(ex, m) -> D:
    acc = ex.standin.accounts
    return acc.position(DEMO, m.yes_token) - acc.position(DEMO, m.no_token)


async def test_flatten_takes_the_position_to_zero_at_the_venue_and_the_fills_tab_shows_it(wait_until) -> None:
    trading = TradingConfig(trade_step_s=0.05, monitor_interval_s=0.02)
    async with run_exchange(port=0, flow=False, seed=31, trading=trading) as ex:
        m = next(m for m in ex.markets if not m.neg_risk)
        cid = m.condition_id
        async with running_engine(ex, markets=[m]) as engine:
            await wait_until(lambda: engine.execution.ready()[0] and yes_bids(ours(ex, engine, cid)))
            size = hit_our_bid(ex, engine, cid)
            await wait_until(lambda: engine.portfolio.position(cid).qty == size == _venue_position(ex, m))
            fills = await wait_until(lambda: engine.store.get("fills"))
            assert (fills[0].condition_id, fills[0].size) == (cid, size)
            assert fills[0].side in ("BUY", "SELL") and fills[0].outcome in ("YES", "NO")
            # someone bids for what we hold, just under our ask (crossing nothing of ours)
            ask = min(o.yes_price for o in ours(ex, engine, cid) if o.yes_side is Side.SELL)
            ex.matching.place("bidder", m.yes_token, Side.BUY, ask - m.tick.pips, D(500))
            text = await engine.flatten(cid)
            n = fmt_amount(size)
            assert f"flatten SELL {n}" in text and f"{n} matched" in text and "refused" not in text, text
            await wait_until(lambda: _venue_position(ex, m) == 0 and engine.portfolio.position(cid).qty == 0)
            assert any("flatten SELL" in e.text for e in engine.store.get("events", ()))
            await engine.risk_tick()
            assert len(engine.store.get("fills")) >= 2  # the flatten's fill joined the tab


async def test_flatten_with_no_position_or_halted_says_why_and_sends_nothing(wait_until) -> None:
    async with run_exchange(port=0, flow=False, seed=32) as ex:
        m = next(m for m in ex.markets if not m.neg_risk)
        async with running_engine(ex, markets=[m]) as engine:
            # the strategy's first quotes answered and counted (the user channel may say "live" before the
            # post's reply is counted): the book is still, so nothing more is placed until the flatten
            await wait_until(lambda: engine.execution.ready()[0] and (resting := engine.execution.open_orders())
                             and all(o.status == "live" for o in resting)
                             and engine.execution.orders_placed == len(resting))
            placed = engine.execution.orders_placed
            assert (await engine.flatten(m.condition_id)).endswith("not flattened: no position")
            await engine.kill("test")
            engine.portfolio.positions.setdefault(m.condition_id, engine.portfolio.position(m.condition_id))
            assert "HALTED: re-arm first" in await engine.flatten(m.condition_id)
            assert engine.execution.orders_placed == placed


async def test_reduce_only_quotes_only_the_side_that_reduces_the_position(wait_until) -> None:
    trading = TradingConfig(trade_step_s=0.05, monitor_interval_s=0.02)
    async with run_exchange(port=0, flow=False, seed=33, trading=trading) as ex:
        m = next(m for m in ex.markets if not m.neg_risk)
        cid = m.condition_id
        async with running_engine(ex, markets=[m]) as engine:
            await wait_until(lambda: engine.execution.ready()[0] and yes_bids(ours(ex, engine, cid)))
            size = hit_our_bid(ex, engine, cid)
            await wait_until(lambda: engine.portfolio.position(cid).qty == size)
            engine.set_reduce_only(cid)
            # long YES: only asks (sells of YES, or bids for NO) may rest now
            await wait_until(lambda: ours(ex, engine, cid) and not yes_bids(ours(ex, engine, cid)))
            engine.set_reduce_only(cid, False)
            await wait_until(lambda: yes_bids(ours(ex, engine, cid)))
