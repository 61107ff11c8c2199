"""The balance check before sending: a quote's cost (what it locks at the venue as routed) against the
venue's collateral balance less what our open orders lock — against the stand-in with a small wallet."""

from __future__ import annotations

from decimal import Decimal as D

from engines import ours, running_engine

from polymm_standin.server import run_exchange
from polymm_standin.server.trading import TradingConfig


async def test_quotes_the_free_collateral_cannot_cover_are_not_sent(wait_until) -> None:
    wallet = D(12)  # three markets' two quotes of 10 shares each lock ~$30; $12 covers two of them
    async with run_exchange(port=0, seed=75, flow=False, trading=TradingConfig(starting_balance=wallet)) as ex, \
            running_engine(ex, count=3, default_size=D(10)) as engine:
        await wait_until(lambda: engine.balance_cuts >= 1 and ours(ex, engine), timeout=30)
        assert 0 < engine.execution.locked_collateral() <= float(wallet)  # what rests fits the wallet
        assert engine.execution.rejects == 0  # nothing was sent for the venue to refuse
        cut = [e.text for e in engine.store.get("events", ()) if "not sent: the collateral free" in e.text]
        assert cut and "does not cover them" in cut[0]
