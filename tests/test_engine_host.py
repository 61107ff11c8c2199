"""The engine on a thread of its own (``engine/host.py``): the dashboard's redraws never hold up a step.
Commands cross to the engine's loop and their answers and errors come back; the store is read whole by
one thread while the other writes it."""

from __future__ import annotations

import asyncio
import sys
import threading
import time

import pytest
from engines import demo_settings

from polymm.config import ConfigError
from polymm.engine.host import SWITCH_INTERVAL_S, EngineHost, LocalHost
from polymm.state import StateStore
from polymm.tui.app import PolymmApp
from polymm_standin.server import EmbeddedExchange


async def test_a_call_runs_on_the_engines_thread_and_its_answer_and_error_come_back() -> None:
    before = sys.getswitchinterval()
    host = EngineHost()
    try:
        assert sys.getswitchinterval() == min(before, SWITCH_INTERVAL_S)
        here = threading.get_ident()
        assert await host.call(threading.get_ident) != here

        async def answer(x: int) -> tuple[int, int]:
            await asyncio.sleep(0)
            return x * 2, threading.get_ident()

        doubled, where = await host.call(answer, 21)
        assert doubled == 42 and where == host.thread.ident

        def refuse() -> None:
            raise ConfigError("spread: must be a multiple of the tick 0.01")

        with pytest.raises(ConfigError, match="multiple of the tick"):
            await host.call(refuse)
        with pytest.raises(ConfigError, match="multiple of the tick"):
            await asyncio.to_thread(host.call_sync, refuse)  # the UI thread's blocking form
        assert host.call_sync(lambda: threading.get_ident()) == host.thread.ident
    finally:
        await host.close()
    assert not host.thread.is_alive() and host.loop.is_closed()
    assert sys.getswitchinterval() == before


async def test_a_spawned_task_that_fails_is_reported_and_close_cancels_the_rest(wait_until) -> None:
    failures: list[tuple[str, str]] = []
    host = EngineHost(on_error=lambda name, e: failures.append((name, str(e))))
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    async def crash() -> None:
        raise RuntimeError("feed loop crashed")

    host.spawn(forever(), "feed")
    host.spawn(crash(), "strategy")
    await wait_until(lambda: failures)
    assert failures == [("strategy", "feed loop crashed")]
    await host.close()
    assert cancelled.is_set() and not host.thread.is_alive()


async def test_the_local_host_runs_everything_on_the_callers_loop() -> None:
    host = LocalHost()
    assert await host.call(threading.get_ident) == threading.get_ident()
    assert host.call_sync(lambda: asyncio.get_running_loop()) is asyncio.get_running_loop()
    await host.close()


def test_the_store_read_whole_by_one_thread_while_another_writes_it_never_breaks() -> None:
    """The UI thread reads every slice that changed (``changed_since``, ``keys``) while the engine's
    thread adds slices: without the store's lock the reader's walk of the slices fails ("dictionary
    changed size during iteration") or sees a version without its value."""
    store = StateStore()
    done = threading.Event()
    errors: list[BaseException] = []
    n = 30_000

    def write() -> None:
        try:
            for i in range(n):
                store.set(f"market/{i}", i)
                store.set("portfolio", i)
        finally:
            done.set()

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # the threads take turns often, as they do on a busy machine
    writer = threading.Thread(target=write)
    writer.start()
    seen = 0
    try:
        while not done.is_set():
            try:
                version, changed = store.changed_since(seen)
                store.keys("market/")
            except RuntimeError as e:
                errors.append(e)
                break
            for key, value in changed.items():  # a slice's value is the one written with its version
                if key.startswith("market/"):
                    assert value == int(key.removeprefix("market/"))
            seen = version
            time.sleep(0)  # a turn for the writer (the dashboard reads every 50 ms, not back to back)
    finally:
        writer.join()
        sys.setswitchinterval(switch)
    assert errors == []
    version, changed = store.changed_since(0)
    assert version == 2 * n and len(changed) == n + 1 and changed["portfolio"] == n - 1


async def test_the_engine_steps_and_quotes_while_the_dashboards_loop_is_held(wait_until) -> None:
    """The dashboard's loop blocked (a long redraw; here a blocking wait) holds up nothing of the
    engine's: it re-arms and places its quotes meanwhile. On the dashboard's loop it could not. (The
    stand-in runs on a thread of its own too: on the test's loop it would be held as well.)"""
    ex = EmbeddedExchange(seed=71, flow=False)
    urls = ex.start()
    try:
        app = PolymmApp(demo_settings(urls, markets=ex.markets[0].condition_id), mode="DEMO")
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_until(lambda: app.engine is not None and bool(app.engine.execution.open_orders()), timeout=30)
            engine = app.engine
            assert isinstance(app.host, EngineHost)
            await app.host.call(engine.kill, "test: pulled")
            await wait_until(lambda: not engine.execution.open_orders())
            deadline = time.monotonic() + 30
            rearmed = app.host.submit(engine.rearm)
            while not (rearmed.done() and engine.execution.open_orders()) and time.monotonic() < deadline:
                time.sleep(0.01)  # the dashboard's loop is held here: no turn of it until the engine quoted
            assert rearmed.done() and engine.execution.open_orders(), "the engine did not quote while the UI was held"
            await pilot.press("q")
    finally:
        ex.stop()


async def test_the_engines_thread_ends_when_the_app_ends_while_the_engine_is_still_starting(wait_until) -> None:
    """Quit while the engine still signs in at a venue that does not answer: no engine to stop yet, and
    the engine's thread still ends with the app (it would otherwise outlive it, its loop running)."""
    from test_scale_engine import markets

    from polymm.config import load_settings

    app = PolymmApp(load_settings(_env_file=None, mode="demo", clob_url="http://127.0.0.1:9",
                                  gamma_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9"),
                    mode="DEMO", markets=markets(2))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(lambda: isinstance(app.host, EngineHost))
        host = app.host
        assert isinstance(host, EngineHost) and host.thread.is_alive() and app.engine is None
        await pilot.press("q")
    await wait_until(lambda: not host.thread.is_alive())
    assert app.engine is None and host.loop.is_closed()
