"""What both programs (the dashboard, ``polymm-tui``, and the headless ``polymm run``) need around
the engine: the markets to start with, and the extras that run beside it (the market file watcher,
the metrics endpoint)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from ..config import ConfigError, Settings
from ..domain.market import Market
from ..venue.discovery import Discovery, describe_filters, selection_filters
from ..venue.rest import PublicClient

log = logging.getLogger("polymm")


async def initial_markets(settings: Settings, *, on_retry: Callable[[str], None] | None = None,
                          on_selected: Selected | None = None) -> list[Market]:
    """The markets to start with: the market file's (resolved at the venue), else ``POLYMM_MARKETS``
    among the top markets by 24 h volume, else the automatic selection (``select_markets``; ``on_selected``
    hears what it picked, for the journal). A venue that answers 425 / 429 / 5xx or not at all is asked
    again for up to ``venue_retry_s`` seconds (``on_retry`` hears each retry; ``VenueUnavailable`` says
    what it last answered)."""
    budget_s = settings.venue_retry_s
    from ..engine.watchlist import read_market_file, resolve_markets
    from ..venue.retry import with_retries

    say = on_retry or (lambda text: log.warning("%s", text))
    public = PublicClient(settings.clob_url, settings.gamma_url)
    try:
        if settings.market_file:
            lines = read_market_file(settings.market_file)
            return await with_retries(lambda: resolve_markets(lines, public), what="resolving the market file",
                                      budget_s=budget_s, on_retry=say)
        wanted = list(dict.fromkeys(settings.market_ids))
        if not wanted:
            return await with_retries(lambda: select_markets(public, settings, on_selected), what="listing markets",
                                      budget_s=budget_s, on_retry=say)
        if len(wanted) > settings.max_markets:
            say(f"{len(wanted)} markets asked for, POLYMM_MAX_MARKETS is {settings.max_markets}: trading the first "
                f"{settings.max_markets} (raise it, up to 500, to trade them all)")
        return await with_retries(lambda: resolve_ids(public, wanted[: settings.max_markets]),
                                  what="looking up the markets", budget_s=budget_s, on_retry=say)
    finally:
        await public.aclose()


class UnknownMarkets(ConfigError):
    """Market ids the venue does not list as open (``--markets`` / ``POLYMM_MARKETS``): named, with why."""

    def __init__(self, missing: dict[str, str], found: list[Market]) -> None:
        self.missing = missing
        self.found = found
        shown = "; ".join(f"{ident}: {why}" for ident, why in missing.items())
        super().__init__(f"--markets / POLYMM_MARKETS: {len(missing)} market id(s) not found open at the venue: "
                         f"{shown}")


async def resolve_ids(public: PublicClient, ids: list[str]) -> list[Market]:
    """Each id (condition id, slug or token id) looked up at the venue; ``UnknownMarkets`` names the ones
    it does not list as open (carrying the ones it found). Venue trouble (busy, unreachable) raises as is."""
    from ..venue.discovery import UnsupportedMarket

    discovery = Discovery(public)
    found: list[Market] = []
    missing: dict[str, str] = {}
    for ident in ids:
        try:
            found.append((await discovery.resolve(ident)).market)
        except UnsupportedMarket as e:
            missing[ident] = str(e)
        except LookupError:
            missing[ident] = "not listed as an open market by Gamma"
    if missing:
        raise UnknownMarkets(missing, found)
    return found


#: Gamma markets read for the automatic selection (by 24 h volume, the venue's order), then ranked by score.
SELECTION_SCAN = 500


#: Hears an automatic selection: [(condition id, question, score)] in rank order, and its filters in words.
Selected = Callable[[list[tuple[str, str, float]], str], None]


class LastSelection:
    """An ``on_selected`` for ``initial_markets`` that keeps the last selection heard (retries may select
    again) until the engine exists: ``journal(engine)`` then records it (``Engine.record_selection``)."""

    def __init__(self) -> None:
        self.last: tuple[list[tuple[str, str, float]], str] | None = None

    def __call__(self, picked: list[tuple[str, str, float]], filters: str) -> None:
        self.last = (picked, filters)

    def journal(self, engine: Any) -> None:
        if self.last is not None:
            engine.record_selection(*self.last)


async def select_markets(public: PublicClient, settings: Settings, on_selected: Selected | None = None) -> list[Market]:
    """The automatic selection: the open markets passing ``selection_filters(settings)`` among the
    ``SELECTION_SCAN`` (or five times ``max_markets``) most traded, ranked by score, the first ``max_markets``."""
    discovery = Discovery(public, max_scan=max(SELECTION_SCAN, 5 * settings.max_markets))
    ranked = await discovery.ranked(selection_filters(settings), by="score", top=settings.max_markets)
    filters = describe_filters(selection_filters(settings))
    log.info("selected %d market(s) by score (%s)", len(ranked), filters)
    if on_selected is not None:
        on_selected([(c.condition_id, c.market.question, c.score) for c in ranked], filters)
    return [c.market for c in ranked]


async def start_metrics(engine: Any, port: int) -> Any:
    """``polymm.metrics.start_metrics_server`` on 127.0.0.1:``port`` (None when ``port`` is 0); raises
    ConfigError when the port cannot be bound."""
    if not port:
        return None
    from ..metrics import start_metrics_server

    return await start_metrics_server(engine, port)


async def stop_metrics(handle: Any) -> None:
    if handle is not None:
        await handle.stop()


async def run_extras(engine: Any, settings: Settings, provisional: Iterable[str] = ()) -> None:
    """What the programs add around an engine that runs: the market file watcher (when
    ``market_file`` is set) and the metrics endpoint (``metrics_port``). Runs until cancelled."""
    from ..engine.watchlist import Watchlist

    try:
        metrics = await start_metrics(engine, settings.metrics_port)
    except ConfigError as e:  # the port is taken: say so; the market file still matters
        engine.store.log(f"metrics: {e}", "error")
        metrics = None
    try:
        if settings.market_file:
            watch = Watchlist(engine, settings.market_file, provisional=set(provisional))
            await watch.sync()
            await watch.run()
        else:
            await asyncio.Event().wait()
    finally:
        await stop_metrics(metrics)
