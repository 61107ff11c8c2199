"""The curated market file: which markets to trade and how, edited while the engine runs.

Format (strict, one market a line; ``#`` starts a comment, blank lines are ignored)::

    # condition id                                                       per-market parameters
    0x5f2c…e1  spread=0.03 size=20 layers=2 model=pm4
    0x9a41…07                                # defaults for everything

* The first word is the market's condition id, ``0x`` followed by 64 hex digits.
* Then ``key=value`` words, no spaces around ``=``; each key at most once. Keys are the fields of
  ``MarketParams`` (``PARAM_KEYS``): model, spread, size, layers, layer_step, requote_threshold,
  position_limit, size_mult, gamma, k_vol, skew_ticks, fee_ticks, tolerance_ticks, max_order_age_s,
  capital_weight. Values are validated as ``Engine.set_params`` validates an edit in the TUI.
* A market is listed once.

A bad line is reported (its line number, the field and the allowed values) and ignored; the other
lines apply. Ignored means: a market not trading yet is not added, and a market already trading keeps
running with the parameters it has (a typo never pulls a market's quotes).

``Watchlist(engine, path).run()`` polls the file's mtime (every ``poll_s``; a change must be stable
for ``settle_s`` so a half-written file is not read) and reconciles: a new line adds the market (the
venue's Gamma resolves it, ``Engine.add_market``), a removed line removes it (``Engine.remove_market``:
its orders are cancelled, the feed unsubscribes), a changed line applies the changed parameters
(``Engine.set_params``); a parameter deleted from a line goes back to the value the market had before
the file set it. Only markets listed in the file are managed: a market added by hand (the TUI's
market picker) is never removed by the watcher. A market the venue does not know (yet) is retried
every ``retry_s``. A missing or unreadable file changes nothing. Problems go to the engine's event
log (the TUI's log, ``polymm run``'s log lines), each once per version of the file.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..domain.market import Market
from ..domain.params import ConfigError, MarketParams
from ..domain.prices import human
from ..venue.discovery import Discovery
from ..venue.rest import PublicClient, UnsupportedMarket

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger(__name__)

#: The parameters a line may set (``enabled`` is not one: the engine does not read it).
PARAM_KEYS: tuple[str, ...] = tuple(k for k in MarketParams.model_fields if k != "enabled")
_CONDITION_ID = re.compile(r"0x[0-9a-fA-F]{64}")
_ALLOWED = ", ".join(sorted(PARAM_KEYS))


@dataclass(frozen=True, slots=True)
class Entry:
    """One good line: the market and the parameters it sets (validated, typed: only the keys written)."""

    line: int
    condition_id: str  # lower case
    params: dict[str, object]


@dataclass(frozen=True, slots=True)
class LineError:
    """A bad line. ``message`` starts with the field; ``condition_id`` is the line's market when it
    could be read (that market then stays as it is)."""

    line: int
    field: str
    message: str
    condition_id: str = ""

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class MarketFile:
    """A parsed market file: the good lines by condition id (file order) and the bad ones."""

    entries: dict[str, Entry]
    errors: tuple[LineError, ...]

    @property
    def held(self) -> set[str]:
        """Markets named on bad lines: left exactly as they are."""
        return {e.condition_id for e in self.errors if e.condition_id}


def _parse_line(n: int, words: list[str]) -> Entry | LineError:
    cid = words[0]
    if not _CONDITION_ID.fullmatch(cid):
        return LineError(n, "condition_id", f"condition_id: must be 0x followed by 64 hex digits (got {cid!r})")
    cid = cid.lower()
    raw: dict[str, str] = {}
    for word in words[1:]:
        key, eq, value = word.partition("=")
        if not eq or not key or not value:
            return LineError(n, "parameter", f"parameter: {word!r} is not key=value (keys: {_ALLOWED})", cid)
        if key not in PARAM_KEYS:
            return LineError(n, key, f"{key}: unknown parameter; allowed: {_ALLOWED}", cid)
        if key in raw:
            return LineError(n, key, f"{key}: given twice on the line", cid)
        raw[key] = value
    try:
        checked = MarketParams().updated(**raw)  # types and ranges; the market's tick comes later
    except ConfigError as e:
        text = str(e)
        return LineError(n, text.partition(":")[0], text, cid)
    return Entry(n, cid, {k: getattr(checked, k) for k in raw})


def parse_market_file(text: str) -> MarketFile:
    """Parse a market file (see the module docstring); never raises for bad lines."""
    entries: dict[str, Entry] = {}
    errors: list[LineError] = []
    for n, line in enumerate(text.splitlines(), start=1):
        words = line.partition("#")[0].split()
        if not words:
            continue
        got = _parse_line(n, words)
        if isinstance(got, LineError):
            errors.append(got)
        elif got.condition_id in entries:
            first = entries[got.condition_id].line
            errors.append(LineError(n, "condition_id", f"condition_id: {got.condition_id} is already listed on "
                                                       f"line {first} (list a market once)", got.condition_id))
        else:
            entries[got.condition_id] = got
    return MarketFile(entries, tuple(errors))


def read_market_file(path: str | Path) -> MarketFile:
    """Read and parse; raises OSError (missing, unreadable) or ValueError (not UTF-8 text)."""
    try:
        return parse_market_file(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 text ({e.reason} at byte {e.start})") from None


async def resolve_markets(parsed: MarketFile, client: PublicClient) -> list[Market]:
    """The markets of the file's good lines, resolved at the venue (those it cannot find are left out:
    the watcher's first pass reports them). Used to start the engine on the file's markets. A
    position-id market is left out with a warning saying so: no retry will make it tradable."""
    discovery = Discovery(client)
    out = []
    for entry in parsed.entries.values():
        try:
            out.append((await discovery.resolve(entry.condition_id)).market)
        except UnsupportedMarket as e:
            log.warning("market file: %s; not quoted", e)
        except Exception as e:  # reported by the first sync, which tries again
            log.debug("market file: %s not resolved at start: %s", entry.condition_id, e)
    return out


class Watchlist:
    """Keeps the engine's markets in line with a market file (see the module docstring).

    ``provisional``: markets the engine was started with because the file lists them; the first
    ``sync`` adopts them, or removes one whose line turns out bad for that market (say a spread off
    its tick), since it was only there because of the file."""

    def __init__(
        self,
        engine: Engine,
        path: str | Path,
        *,
        poll_s: float = 1.0,
        settle_s: float = 0.2,
        retry_s: float = 10.0,
        provisional: set[str] | None = None,
    ) -> None:
        self.engine = engine
        self.path = Path(path)
        self.poll_s = poll_s
        self.settle_s = settle_s
        self.retry_s = retry_s
        self.managed: dict[str, dict[str, object]] = {}  # engine condition id → what the file set
        self._base: dict[str, MarketParams] = {}  # a managed market's parameters before the file set any
        self._provisional = set(provisional or ())
        self._signature: object = object()  # never equal to a stat result: the first poll syncs
        self._reported: set[str] = set()
        self._retry_at: float | None = None
        self._discovery = Discovery(engine.public)
        self.syncs = 0
        self.errors: tuple[str, ...] = ()  # the problems of the last pass

    # ------------------------------------------------------------ the loop
    async def run(self) -> None:
        """Poll the file until cancelled; a failing pass is reported, never raised."""
        while True:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.exception("market file pass failed")
                self._report(f"market file {self.path}: {type(e).__name__}: {e}", "error")
            await asyncio.sleep(self.poll_s)

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    async def poll(self) -> bool:
        """One look at the file: sync when it changed (and stayed put for ``settle_s``), or when a
        market is due for another lookup. Returns whether it synced."""
        sig = self._stat()
        if sig != self._signature:
            if sig is None:
                self._signature = None
                self._report(f"market file {self.path}: not found or unreadable; the "
                             f"{len(self.managed)} markets it listed keep running as they are", "error")
                return False
            await asyncio.sleep(self.settle_s)
            if self._stat() != sig:
                return False  # still being written: next poll
            await self.sync()
            return True
        if self._retry_at is not None and time.monotonic() >= self._retry_at:
            await self.sync()
            return True
        return False

    # ------------------------------------------------------------ one pass
    async def sync(self) -> None:
        """Read the file and bring the engine in line with it."""
        sig = self._stat()
        if sig != self._signature:
            self._reported.clear()  # a new version of the file: its problems are news again
        self._signature = sig
        self.syncs += 1
        self._retry_at = None
        problems: list[str] = []
        try:
            parsed = read_market_file(self.path)
        except (OSError, ValueError) as e:
            msg = f"market file {self.path}: cannot read: {e}; the markets it listed keep running as they are"
            self._report(msg, "error")
            self.errors = (msg,)
            return
        for err in parsed.errors:
            problems.append(f"market file {self.path}:{err.line}: {err.message}; line ignored")
        engine = self.engine
        held = parsed.held
        for cid in list(self.managed):
            if cid.lower() not in parsed.entries and cid.lower() not in held:
                self.managed.pop(cid)
                self._base.pop(cid, None)
                if cid in engine.markets:
                    await engine.remove_market(cid)
        by_lower = {cid.lower(): cid for cid in engine.markets}
        for low, entry in parsed.entries.items():
            running = by_lower.get(low)
            problem = await self._add(entry) if running is None else self._apply(running, entry)
            if problem:
                problems.append(f"market file {self.path}:{entry.line}: {problem}")
        for cid in self._provisional:  # started for a line that is now bad or gone: not ours to trade
            if cid in engine.markets and cid not in self.managed and cid.lower() not in held:
                await engine.remove_market(cid)
        self._provisional.clear()
        for p in problems:
            self._report(p, "error")
        self.errors = tuple(problems)

    async def _add(self, entry: Entry) -> str:
        """Resolve, check and add a market; the problem as text, or ""."""
        try:
            market = (await self._discovery.resolve(entry.condition_id)).market
        except UnsupportedMarket as e:  # the venue knows it, polymm cannot sign for it: retrying won't help
            return f"condition_id: {e}; line ignored"
        except LookupError:
            self._retry_at = time.monotonic() + self.retry_s
            return (f"condition_id: no open market {entry.condition_id} at the venue; retrying every "
                    f"{human(self.retry_s)} s")
        except Exception as e:  # the venue did not answer: try again later
            self._retry_at = time.monotonic() + self.retry_s
            return (f"condition_id: could not look up {entry.condition_id} ({type(e).__name__}: {e}); "
                    f"retrying every {human(self.retry_s)} s")
        try:
            self._check(market, entry.params)
        except ConfigError as e:
            return f"{e}; line ignored, {market.short_question} not added"
        await self.engine.add_market(market)
        cid = market.condition_id
        self._base[cid] = self.engine.params[cid]
        if entry.params:
            self.engine.set_params(cid, **entry.params)
        self.managed[cid] = dict(entry.params)
        return ""

    def _check(self, market: Market, params: dict[str, object]) -> None:
        """What ``Engine.set_params`` would say about these parameters on a market not added yet."""
        self.engine.check_params(market, None, **params)

    def _apply(self, cid: str, entry: Entry) -> str:
        """Apply what changed on a running market's line; the problem as text, or ""."""
        engine = self.engine
        if cid not in self.managed:  # adopt: listed now, running already
            self._base[cid] = engine.params[cid]
        before = self.managed.get(cid, {})
        current = engine.params[cid]
        base = self._base[cid]
        changes = {k: v for k, v in entry.params.items() if before.get(k) != v and getattr(current, k) != v}
        for k in before:
            if k not in entry.params and getattr(current, k) != getattr(base, k):
                changes[k] = getattr(base, k)  # the line no longer sets it: back to what it was
        if changes:
            try:
                engine.set_params(cid, **changes)
            except ConfigError as e:
                if cid not in self.managed:
                    self._base.pop(cid, None)
                return f"{e}; line ignored, {engine.markets[cid].short_question} keeps its parameters"
        self.managed[cid] = dict(entry.params)
        return ""

    def _report(self, text: str, level: str) -> None:
        if text in self._reported:
            return
        self._reported.add(text)
        self.engine.store.log(text, level)
