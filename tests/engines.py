"""Running the engine against a stand-in in tests: settings, the engine's loops, our venue orders."""

from __future__ import annotations

import asyncio
import contextlib

from polymm.config import load_settings
from polymm.engine.engine import Engine


@contextlib.asynccontextmanager
async def running_engine(ex, count: int = 3, **overrides):
    """The engine (demo mode: real orders over py-clob-client-v2) on ``count`` plain markets of ``ex``."""
    overrides.setdefault("quote_interval_s", 0.2)
    settings = load_settings(_env_file=None, mode="demo", clob_url=ex.clob_url, ws_url=ex.ws_base,
                             gamma_url=ex.gamma_url, data_url=ex.data_url, **overrides)
    markets = [m for m in ex.markets if not m.neg_risk][:count]
    engine = Engine(settings, markets, mode="DEMO")
    task = asyncio.create_task(engine.run())
    try:
        yield engine
    finally:
        await engine.stop(cancel_orders=True)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def ours(ex, engine, condition_id: str | None = None) -> list:
    """Our orders resting at the venue (the stand-in's own book, not the engine's view of it)."""
    key = engine.execution._api_key
    return [o for o in ex.engine.open_orders()
            if o.owner == key and (condition_id is None or o.market.condition_id == condition_id)]
