"""Running the engine (and the app) against a stand-in in tests: settings, the engine's loops, our
venue orders, and waiting in Pilot tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from polymm.config import load_settings
from polymm.domain.market import Side
from polymm.engine.engine import Engine
from polymm_standin.sim.matching import OrderType


def demo_settings(ex, **overrides):
    """Demo-mode settings pointing at the stand-in ``ex`` (quotes every 0.2 s unless overridden).

    The ``fixed`` model unless a test names another: these tests drive the engine's plumbing (orders,
    fills, kills, metrics, the dashboard), and fixed quotes move only when the mid moves past its
    threshold, so what rests at the venue at a given moment is known. The default model (pm4) requotes
    as its fair value and volatility move; the tests that name it check it (``test_engine_live``, the
    strategy, pipeline and snapshot tests)."""
    return load_settings(**{
        "_env_file": None, "mode": "demo", "clob_url": ex.clob_url, "ws_url": ex.ws_base, "gamma_url": ex.gamma_url,
        "data_url": ex.data_url, "rpc_url": f"{ex.clob_url}/rpc", "relayer_url": f"{ex.clob_url}/relayer",
        "quote_interval_s": 0.2, "default_model": "fixed", **overrides,
    })


async def until(pilot, cond: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for ``cond`` while the Pilot's app keeps running (polling every 50 ms)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


class Writes:
    """Counts writes of one store slice, for waiting on a number of engine passes instead of on time:
    every strategy step of a market writes ``book/{cid}`` (halted or not), every risk tick ``risk``.
    Call it to poll: ``steps = Writes(engine.store, f"book/{cid}")`` then
    ``await wait_until(lambda: steps() >= 3)``. Polling may miss a write between two polls (it counts
    too few, never too many), so "at least n" is safe."""

    def __init__(self, store, key: str) -> None:
        self.store, self.key = store, key
        self.seen = store.slice_version(key)
        self.count = 0

    def __call__(self) -> int:
        version = self.store.slice_version(self.key)
        if version != self.seen:
            self.seen, self.count = version, self.count + 1
        return self.count


@contextlib.asynccontextmanager
async def running_engine(ex, count: int = 3, markets: list | None = None, **overrides):
    """The engine (demo mode: real orders over py-clob-client-v2) on ``markets``, by default the first
    ``count`` plain markets of ``ex``."""
    settings = demo_settings(ex, **overrides)
    markets = markets if markets is not None else [m for m in ex.markets if not m.neg_risk][:count]
    engine = Engine(settings, markets, mode="DEMO")
    task = asyncio.create_task(engine.run())
    try:
        yield engine
    finally:
        await engine.stop(cancel_orders=True)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def demo_client(ex):
    """The demo wallet as another program would trade it: py-clob-client-v2 with the wallet's own L2
    credentials (the engine's API key too), through the SDK's public API only."""
    from py_clob_client_v2.client import ClobClient

    from polymm.engine.execution_factory import DEMO_PRIVATE_KEY

    client = ClobClient(ex.clob_url, chain_id=137, key=DEMO_PRIVATE_KEY)
    client.set_api_creds(await asyncio.to_thread(client.create_or_derive_api_key))
    return client


def ours(ex, engine, condition_id: str | None = None) -> list:
    """Our orders resting at the venue (the stand-in's own book, not the engine's view of it)."""
    key = engine.execution.api_key
    return [o for o in ex.matching.open_orders()
            if o.owner == key and (condition_id is None or o.market.condition_id == condition_id)]


def yes_bids(orders) -> list:
    return [o for o in orders if o.yes_side is Side.BUY]


def hit_our_bid(ex, engine, cid: str) -> Decimal:
    """A taker sells down to our best YES bid, through every bid at or above it (ours included, as the
    venue would see any other trader do); returns the size of our bid."""
    bid = max(yes_bids(ours(ex, engine, cid)), key=lambda o: o.yes_price)
    m = engine.markets[cid]
    ex.matching.place("test-taker", m.yes_token, Side.SELL, bid.yes_price, Decimal(50_000), order_type=OrderType.FAK)
    return Decimal(bid.original) / 1_000_000


class Live:
    """A started ``LiveExecution`` as the demo wallet against the stand-in ``ex``, with its background
    loops running, and the fills it reported (``fills``). ``cfg`` overrides ``LiveConfig`` fields (the
    defaults heartbeat and reconcile quickly)."""

    DEFAULTS: dict = {"heartbeat_s": 0.3, "reconcile_s": 0.5, "settle_s": 0.3}

    def __init__(self, ex, **cfg) -> None:
        from polymm.engine.execution_factory import DEMO_PRIVATE_KEY
        from polymm.venue.live import LiveConfig, LiveExecution

        self.fills: list = []
        self.exe = LiveExecution(LiveConfig(ex.clob_url, ex.ws_base, cfg.pop("key", DEMO_PRIVATE_KEY),
                                            **{**self.DEFAULTS, **cfg}), self.fills.append)
        self.ex = ex
        self.task: asyncio.Task | None = None

    async def __aenter__(self):
        await self.exe.start(self.ex.markets)
        self.task = asyncio.create_task(self.exe.run())
        return self.exe

    async def __aexit__(self, *exc) -> None:
        if self.task is not None:
            self.task.cancel()
        await self.exe.close()


def screen_lines(app, widget=None) -> list[str]:
    """The lines on the terminal as drawn (all of them, or the part ``widget`` covers)."""
    lines = [strip.text for strip in app.screen._compositor.render_strips()]
    if widget is None:
        return lines
    r = widget.region
    return [line[r.x:r.right] for line in lines[r.y:r.bottom]]


async def sdk_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A synchronous SDK call off the event loop (the stand-in may run on this loop)."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def sdk_client(ex, key: str):
    """py-clob-client-v2 for wallet ``key`` at the stand-in ``ex``, with its L2 credentials."""
    from py_clob_client_v2 import ClobClient

    c = ClobClient(ex.clob_url, 137, key=key)
    c.set_api_creds(await sdk_call(c.create_or_derive_api_key))
    return c
