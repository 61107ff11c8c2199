"""``polymm run``: the engine without a screen — structured logs, the market file watcher, the metrics
endpoint, and on SIGINT / SIGTERM / SIGHUP every order of ours cancelled at the venue before exit."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Any

from ..config import ConfigError, Settings
from ..domain.market import Market
from ..state import StateStore
from ..venue.reconnect import wait_event
from .programs import initial_markets, start_metrics, stop_metrics
from .venue import venue_error

log = logging.getLogger("polymm")

#: the signals that stop a program the orderly way (cancel all, confirm, exit). SIGHUP: the terminal it
#: ran in closed (its default would end the process with our orders still resting)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _echo_events(store: StateStore) -> Callable[[int], None]:
    """Engine events (the TUI's event log) as log lines, each once and in order.

    Called after every turn of the loop that wrote to the store: it looks at the event ring (500
    entries) only when the ring's slice changed, and then only at the entries after the last one it
    logged (by identity: two events may share a timestamp)."""
    levels = {"error": logging.ERROR, "warning": logging.WARNING}
    seen_version, last = 0, None  # the ring's slice version when last read, the last entry logged

    def echo(_version: int) -> None:
        nonlocal seen_version, last
        version = store.slice_version("events")
        if version == seen_version:
            return
        seen_version = version
        events = store.get("events", ())
        new = []
        for e in reversed(events):
            if e is last:
                break
            new.append(e)
        if events:
            last = events[-1]
        for e in reversed(new):
            log.log(levels.get(e.level, logging.INFO), e.text, extra={"source": "engine"})

    return echo


async def run_headless(settings: Settings, mode: str, *, rearm: bool = False) -> int:
    """``polymm run``: start the engine, run its loops (and the extras) until SIGINT / SIGTERM /
    SIGHUP or a loop fails, then cancel every order of ours at the venue. 0 when the venue confirms
    none rest. ``rearm`` (``--rearm``): a kill latched in the journal is cleared once started."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            log.warning("%s: already stopping (cancelling orders at the venue)", sig.name, extra={"signal": sig.name})
        else:
            log.info("%s: stopping; cancelling every order of ours at the venue", sig.name,
                     extra={"signal": sig.name})
        stop.set()

    # started under nohup (SIGHUP ignored), the operator asked it to outlive the terminal: keep it so
    handled = [s for s in STOP_SIGNALS if not (s == signal.SIGHUP and signal.getsignal(s) == signal.SIG_IGN)]
    for sig in handled:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        return await _run_engine(settings, mode, stop, rearm)
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


async def _run_engine(settings: Settings, mode: str, stop: asyncio.Event, rearm: bool = False) -> int:
    """List the markets, build the engine and its metrics endpoint, then start, trade until ``stop``
    (or a loop fails) and shut down with cancel-all. The exit status: 0 done, 1 the venue or a loop
    failed or orders may still rest, 2 bad input (the metrics port)."""
    from ..engine.engine import Engine
    from ..venue.retry import until_reachable
    from .programs import LastSelection, UnknownMarkets

    async def wait(why: str, seconds: float) -> None:  # the venue is away: say so, try again (until stopped)
        log.warning("%s; retrying in %.0f s", why, seconds, extra={"retry_in_s": seconds})
        await wait_event(stop, seconds)
        if stop.is_set():
            raise _Stopped

    quick = settings.model_copy(update={"venue_retry_s": 0.0})  # ``wait`` above does the retrying
    selection = LastSelection()
    try:
        markets = await until_reachable(lambda: initial_markets(quick, on_selected=selection), wait)
    except _Stopped:
        return 0  # stopped before anything started
    except UnknownMarkets as e:  # bad input: name the ids, start nothing
        log.error("%s", e, extra={"unknown_markets": sorted(e.missing)})
        return 2
    except Exception as e:  # the venue answered, but not with markets (a bad market file...)
        log.error("could not list markets at %s: %s", settings.gamma_url, venue_error(e),
                  extra={"error": type(e).__name__})
        return 1
    if stop.is_set():
        return 0  # stopped before anything started
    engine = Engine(settings, markets, mode=mode)
    selection.journal(engine)
    engine.store.subscribe(_echo_events(engine.store))
    try:
        metrics = await start_metrics(engine, settings.metrics_port)
    except ConfigError as e:  # e.g. the port is taken: bad input, nothing started
        log.error("%s", e, extra={"metrics_port": settings.metrics_port})
        await engine.stop(cancel_orders=False)
        return 2
    _log_start(settings, mode, markets, metrics)
    return await _start_trade_stop(engine, settings, markets, metrics, stop, rearm)


class _Stopped(Exception):
    """A stop signal came while waiting for the venue."""


async def _start_trade_stop(engine: Any, settings: Settings, markets: list[Market], metrics: Any,
                            stop: asyncio.Event, rearm: bool) -> int:
    """Start the built engine, trade until ``stop`` (or a loop fails), then shut down with cancel-all
    (once it started) and say how that went."""
    tasks: list[asyncio.Task] = []  # filled as they start, so that a shutdown at any point cancels them
    started = False
    code = 0
    try:
        started = await _start(engine)
        code = 0 if started else 1
        if started and rearm and not await _rearm(engine):
            code = 1
        if started and not stop.is_set():
            code = max(code, await _trade_until_stopped(engine, settings, markets, stop, tasks))
    finally:
        resting = len(engine.execution.open_orders()) if started else 0
        await _shut_down(engine, started, tasks, metrics)
    return _stopped(engine, resting, code) if started else code


def _log_start(settings: Settings, mode: str, markets: list[Market], metrics: Any) -> None:
    if metrics is not None:
        log.info("metrics at %s", metrics.url, extra={"metrics_port": metrics.port})
    log.info("polymm %s: %d markets", mode, len(markets),
             extra={"mode": mode, "markets": len(markets), "venue": settings.clob_url,
                    "market_file": settings.market_file or None})


async def _start(engine: Any) -> bool:
    """Start the engine; False after logging why it did not."""
    try:
        await engine.start()
    except Exception as e:
        _log_start_failure(e)
        return False
    return True


async def _rearm(engine: Any) -> bool:
    """``--rearm``: clear a kill latched in the journal (the operator's word, given on the command line);
    False after logging why it could not be."""
    if not engine.halted:
        return True
    was = engine.halt_reason
    try:
        await engine.rearm()
    except Exception as e:
        _log_start_failure(e)
        return False
    log.warning("re-armed at start (--rearm); it was HALTED: %s", was, extra={"rearmed": True})
    return True


def _log_start_failure(e: Exception) -> None:
    log.error("could not start: %s: %s", type(e).__name__, e, extra={"error": type(e).__name__})


async def _trade_until_stopped(engine: Any, settings: Settings, markets: list[Market], stop: asyncio.Event,
                               tasks: list[asyncio.Task]) -> int:
    """Run the market file watcher and the engine's loops (appended to ``tasks``) until ``stop`` is set
    or one of them ends; 1 when one failed, else 0."""
    from ..engine.heap import SETTLE_AFTER_S, settle_heap, settle_when_started
    from ..engine.watchlist import Watchlist

    if settings.market_file:  # the file's parameters before the first step
        watch = Watchlist(engine, settings.market_file, provisional={m.condition_id for m in markets})
        try:
            await watch.sync()
        except Exception as e:  # reported; the watcher tries again on its next pass
            log.exception("market file: first pass failed: %s", e)
        tasks.append(asyncio.create_task(watch.run(), name="market-file"))
    for name, fn in engine.loops():
        tasks.append(asyncio.create_task(engine.guard(name, fn), name=name))
    # start-up done: keep later full collections short
    asyncio.get_running_loop().call_later(SETTLE_AFTER_S, settle_heap)
    settler = asyncio.create_task(settle_when_started(engine.all_quoting), name="settle-heap")  # and once quoting
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    settler.cancel()
    code = 0
    for t in done:
        if t is not stopper and not t.cancelled() and t.exception() is not None:
            log.error("%s loop failed: %s", t.get_name(), t.exception(), extra={"loop": t.get_name()})
            code = 1
    return code


async def _shut_down(engine: Any, started: bool, tasks: list[asyncio.Task], metrics: Any) -> None:
    """Stop the engine (with cancel-all once it started), its tasks and the metrics endpoint."""
    await engine.stop(cancel_orders=started)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await stop_metrics(metrics)


def _stopped(engine: Any, resting: int, code: int) -> int:
    """Say how the stop went: 1 when orders of ours may still rest at the venue, else ``code``."""
    left = len(engine.execution.open_orders())
    if left:
        log.error("stopped: %d orders of ours may still rest at the venue (cancel-all did not confirm); "
                  "run `polymm cancel-all`", left, extra={"orders_left": left})
        return 1
    log.info("stopped: %d resting orders cancelled; the venue confirms none of ours rest", resting,
             extra={"orders_cancelled": resting, "orders_left": 0})
    return code
