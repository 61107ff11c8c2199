"""Venue controls and fault injection of the stand-in: a Python API and loopback-only admin routes.

``Controls`` (``standin.controls``) changes the venue the way Polymarket's operators do, and is what
tests use to provoke the situations a market maker must survive:

* ``change_tick_size`` — a new tick for a market: ``tick_size_change`` goes out to its subscribers and
  order validation uses the new grid. The venue also does it by itself: a 0.01 market whose last trade
  passes 0.96 / 0.04 moves to 0.001 and back to 0.01 once it trades within 0.95 / 0.05 again;
* ``resolve_market`` — closes a market: its orders are cancelled (the book empties), the flow stops,
  ``market_resolved`` goes to custom-feature subscribers, Gamma and the CLOB show it closed;
* ``list_new_market`` — lists a fresh market (``new_market`` to custom-feature subscribers);
* ``drop_websockets`` / ``freeze_market_ws`` — drop every socket, or keep them open and silent.

The shared ``Faults`` object holds the rest (latency, error bursts, ghost fills, heartbeats);
``faults_middleware`` applies latency and error bursts to every HTTP request except ``/_admin/``.

Admin routes (JSON bodies; 403 for any peer that is not loopback, 400/404 ``{"error"}`` on bad input):

==============================  ===================================================================
GET  ``/_admin/state``          faults, sockets, flow, and per market tick / closed / fair value
GET  ``/_admin/stats``          counters: ``rate_limit`` (tier, ``http_429`` = 429s the signer limits
                                sent, ``http_429_orders`` / ``http_429_cancels``; ``ratelimit``),
                                ``injected_http_errors`` (answers of the bursts below, by status:
                                ``{"429": n}``) and ``flow`` (markets, target and measured frames/s,
                                steps; ``flows``)
POST ``/_admin/faults``         any settable fault (``faults.Faults.settable()``: ``latency_s``,
                                ``market_ws_frozen``, ``heartbeats_honoured``, ``ghost_fills``,
                                ``heartbeat_reply_without_id``, ``relayer_failures``) and
                                ``http_errors`` (bursts, appended)
POST ``/_admin/http-errors``    one burst: ``status``, ``count``, ``retry_after_s``, ``path_prefix``
POST ``/_admin/drop-websockets`` ``{"channel": "market"|"user"}`` (absent = all)
POST ``/_admin/freeze``         ``{"frozen": true}`` (default true)
POST ``/_admin/tick-size``      ``{"market": cond or token, "tick_size": "0.001"}``
POST ``/_admin/resolve``        ``{"market": cond or token, "winner": "Yes"|"No"|token}``: closed;
                                holders keep their shares (``TradingConfig.auto_redeem``)
POST ``/_admin/new-market``     lists a new synthetic market
POST ``/_admin/game-start``     ``{"market": cond or token, "game_start": ISO time or ""}``: Gamma's
                                ``gameStartTime`` (a sports market's kick-off)
POST ``/_admin/gamma-stale``    ``{"market": cond or token, "stale": bool}``: Gamma keeps listing the
                                market open and accepting orders whatever the CLOB says
POST ``/_admin/flow``           ``{"paused": bool}``
POST ``/_admin/blast``          ``{"frames": n, "seed": s}``: generated ``price_change`` frames (benchmarks)
POST ``/_admin/clear``          every fault back to normal (does not reopen markets)
POST ``/_admin/builder-key``    ``{"owner"?, "daily_limit"?: int | null}``: a relayer builder key
                                (served by ``relayer.Relayer``, docs/protocol.md §15)
==============================  ===================================================================
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC
from typing import Any

import orjson
from aiohttp import web

from polymm.domain.market import Market, Outcome, parse_time
from polymm.domain.prices import PriceError, Tick, price_to_pips

from ..sim import frames, units
from ..sim.book import MarketBook, Order
from ..sim.catalog import Catalog, MarketProfile, listed_market_profile, single_market_event
from ..sim.flow import SyntheticFlow
from ..sim.market_channel import MarketChannel
from ..sim.matching import Event, MatchingEngine, Trade
from .faults import Faults
from .flows import FlowRunner
from .http import json_response as _json
from .http import retry_after
from .market_sockets import MarketSockets
from .user_channel import UserChannel

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/_admin/"
LOOPBACK_ONLY = "admin routes are loopback-only"

_TICK_COARSE = Tick(price_to_pips("0.01"))
_TICK_FINE = Tick(price_to_pips("0.001"))
#: The venue's automatic tick switch: finer beyond these YES prices (pips) ...
AUTO_FINE_ABOVE, AUTO_FINE_BELOW = 9600, 400
#: ... and back to the coarse tick once trading within these again (hysteresis: no flapping).
AUTO_COARSE_WITHIN = (500, 9500)


class ControlError(ValueError):
    """A control the venue cannot apply (unknown market, bad tick, already closed...)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class TickChange:
    condition_id: str
    old: Tick
    new: Tick
    timestamp_ms: int
    reason: str  # "control" or "auto"


@dataclass(frozen=True, slots=True)
class Resolution:
    """A market resolved: who won, and the live orders the venue cancelled because of it."""

    condition_id: str
    winner: Outcome
    winning_token: str
    cancelled: tuple[Order, ...]
    timestamp_ms: int


def _register_market(matching: MatchingEngine, market: Market) -> None:
    """Add a market to a running engine (``engine.add_market`` when it has one)."""
    add = getattr(matching, "add_market", None)
    if add is not None:
        add(market)
        return
    # The matching engine has no public way to add a market yet: register it the way its
    # constructor does. (Keep in step with MatchingEngine.__init__.)
    book = MarketBook(market, matching._clock())
    matching._books[market.condition_id] = book
    matching._tokens[market.yes_token] = (book, Outcome.YES)
    matching._tokens[market.no_token] = (book, Outcome.NO)
    matching._notional[market.condition_id] = 0


def parse_outcome(market: Market, winner: object) -> Outcome:
    """``"Yes"``/``"No"`` (any case, or the market's own outcome names), ``Outcome``, or a token id."""
    if isinstance(winner, Outcome):
        return winner
    if isinstance(winner, str):
        if winner == market.yes_token:
            return Outcome.YES
        if winner == market.no_token:
            return Outcome.NO
        lowered = winner.lower()
        if lowered in ("yes", market.outcomes[0].lower()):
            return Outcome.YES
        if lowered in ("no", market.outcomes[1].lower()):
            return Outcome.NO
    raise ControlError(f"invalid winner {winner!r}: expected Yes, No or one of the market's token ids")


class Controls:
    """Operator actions on a running stand-in (see the module docstring)."""

    def __init__(
        self,
        seed: int,
        matching: MatchingEngine,
        catalog: Catalog,
        channel: MarketChannel,
        flows: FlowRunner,
        faults: Faults,
        user_channel: UserChannel,
        clock: Callable[[], int],
    ) -> None:
        self.seed = seed
        self.matching = matching
        self.catalog = catalog
        self.channel = channel
        self.flows = flows
        self.faults = faults
        self.user_channel = user_channel
        self.clock = clock
        self.tick_listeners: list[Callable[[TickChange], None]] = []
        #: Called after a market resolved and its orders were cancelled (accounts settle here).
        self.resolution_listeners: list[Callable[[Resolution], None]] = []
        self.tick_changes: list[TickChange] = []
        self.resolutions: list[Resolution] = []
        self._listed = 0
        matching.add_listener(self._on_event)

    # ---------------------------------------------------------------- helpers

    def condition_id(self, market_or_token: object) -> str:
        if not isinstance(market_or_token, str) or not market_or_token:
            raise ControlError("market must be a condition id or a token id")
        cond = self.catalog.resolve_id(market_or_token)
        if cond is None:
            raise ControlError(f"market not found: {market_or_token}", 404)
        return cond

    def _book(self, cond: str) -> MarketBook:
        book = self.matching.market_book(cond)
        assert book is not None, "catalog and engine out of step"
        return book

    def _flow(self, cond: str) -> SyntheticFlow | None:
        return self.flows.find(cond)

    def _now(self) -> int:
        return self.clock()

    # ---------------------------------------------------------------- tick size

    def _swap_market(self, cond: str, market: Market) -> Market:
        """Put a changed definition of a market everywhere the venue holds it (book, orders, catalog, flow)."""
        book = self._book(cond)
        book.market = market
        for order in self.matching.open_orders():
            if order.market.condition_id == cond:
                order.market = market
        self.catalog.replace_market(market)
        flow = self._flow(cond)
        if flow is not None:
            flow.market = market
        return market

    def schedule_game(self, market_or_token: str, start: str) -> Market:
        """Give a market a game start (Gamma's ``gameStartTime``, shown as ``2026-09-24 03:00:00+00``); ""
        clears it. An ISO time; a time without a zone is UTC."""
        cond = self.condition_id(market_or_token)
        text = ""
        if start:
            try:
                when = parse_time(start)
            except ValueError:
                raise ControlError(
                    f"game_start must be an ISO time such as 2026-09-24T03:00:00Z (got {start!r})"
                ) from None
            text = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00")
        return self._swap_market(cond, replace(self._book(cond).market, game_start=text))

    def set_gamma_stale(self, market_or_token: str, stale: bool = True) -> str:
        """Make Gamma lag the CLOB for one market: while ``stale`` it lists the market open and accepting
        orders whatever the CLOB says (as Gamma was seen doing for finished matches). Returns the id."""
        cond = self.condition_id(market_or_token)
        self.catalog.status[cond].gamma_stale = bool(stale)
        return cond

    def change_tick_size(
        self, market_or_token: str, tick: Tick | str | float, *, reason: str = "control"
    ) -> TickChange:
        """Move a market to a new tick: validation uses it at once and subscribers get ``tick_size_change``."""
        cond = self.condition_id(market_or_token)
        if not isinstance(tick, Tick):
            try:
                tick = Tick.parse(str(tick))
            except PriceError as exc:
                raise ControlError(str(exc)) from None
        s = self
        status = s.catalog.status[cond]
        if status.closed:
            raise ControlError(f"market {cond} is closed")
        book = self._book(cond)
        old = book.market.tick
        if tick == old:
            raise ControlError(f"market {cond} already has tick size {tick.text}")
        market = self._swap_market(cond, replace(book.market, tick=tick))
        ts = self._now()
        book.touch(ts)  # the book's tick_size is part of its hash
        if reason != "auto":
            status.auto_tick = False
        change = TickChange(cond, old, tick, ts, reason)
        self.tick_changes.append(change)
        s.channel.tick_size_change(market, old, tick, ts)
        for listener in self.tick_listeners:
            try:
                listener(change)
            except Exception:
                log.exception("tick-size listener failed")
        return change

    def _on_event(self, event: Event) -> None:
        if not isinstance(event, Trade):
            return
        book = event.book
        cond = book.market.condition_id
        status = self.catalog.status.get(cond)
        last = book.last_trade
        if status is None or status.closed or last is None or status.base_tick != _TICK_COARSE:
            return
        tick = book.market.tick
        if not status.auto_tick and tick == _TICK_COARSE and (last > AUTO_FINE_ABOVE or last < AUTO_FINE_BELOW):
            self.change_tick_size(cond, _TICK_FINE, reason="auto")
            status.auto_tick = True
        elif status.auto_tick and tick == _TICK_FINE and AUTO_COARSE_WITHIN[0] <= last <= AUTO_COARSE_WITHIN[1]:
            self.change_tick_size(cond, _TICK_COARSE, reason="auto")
            status.auto_tick = False

    # ---------------------------------------------------------------- lifecycle

    def resolve_market(self, market_or_token: str, winner: Outcome | str = Outcome.YES) -> Resolution:
        """Resolve and close a market: orders cancelled, book empty, flow stopped, ``market_resolved`` sent."""
        cond = self.condition_id(market_or_token)
        s = self
        status = s.catalog.status[cond]
        if status.closed:
            raise ControlError(f"market {cond} is already resolved")
        book = self._book(cond)
        outcome = parse_outcome(book.market, winner)
        ts = self._now()
        status.closed, status.winner, status.closed_ms = True, outcome, ts
        flow = self._flow(cond)
        if flow is not None:
            flow.deactivate()
        cancelled = s.matching.cancel_orders([o.id for o in s.matching.open_orders() if o.market.condition_id == cond])
        profile = s.catalog.profile(cond)
        assert profile is not None
        s.channel.market_resolved(book.market, profile.gamma_id, outcome, ts)
        resolution = Resolution(cond, outcome, book.market.token(outcome), tuple(cancelled), ts)
        self.resolutions.append(resolution)
        for listener in self.resolution_listeners:
            try:
                listener(resolution)
            except Exception:
                log.exception("resolution listener failed")
        return resolution

    def list_new_market(self) -> MarketProfile:
        """List a fresh synthetic market (flow running if the venue's is) and announce ``new_market``."""
        s = self
        profile = listed_market_profile(s.seed, self._listed)
        self._listed += 1
        _register_market(s.matching, profile.market)
        event = single_market_event(profile)
        s.catalog.add(profile, event)
        flow = SyntheticFlow(s.matching, profile, s.seed, 1000 + self._listed, clock=s.clock)
        flow.seed_book()
        s.flows.add(flow)
        m = profile.market
        fees = profile.fees
        fee_schedule: dict[str, str | bool] | None = (
            None
            if fees is None
            else {
                "exponent": str(fees.exponent),
                "rate": units.decimal_str(fees.rate),
                "taker_only": fees.taker_only,
                "rebate_rate": units.decimal_str(fees.rebate_rate),
            }
        )
        frame = frames.ws_new_market(
            m,
            profile.gamma_id,
            {"id": event.id, "ticker": event.ticker, "slug": event.slug, "title": event.title,
             "description": event.description},
            [profile.tag.label],
            fee_schedule,
            self._now(),
        )
        s.channel.new_market(frame)
        return profile

    # ---------------------------------------------------------------- sockets

    async def drop_websockets(self, channel: str | None = None) -> int:
        """Close every open WebSocket (of ``channel``: ``"market"`` or ``"user"``); returns how many."""
        if channel not in (None, "market", "user"):
            raise ControlError(f"invalid channel {channel!r}: expected market, user or nothing (all)")
        registry = self.faults.sockets
        registered_users = registry.count("user")
        closed = await registry.close_all(channel)
        # A user channel that does not register its sockets in ``faults.sockets``: close them its way.
        if channel in (None, "user") and registered_users == 0:
            closed += self.user_channel.connections
            await self.user_channel.close_all()
        return closed

    def freeze_market_ws(self, frozen: bool = True) -> None:
        """Sockets stay open and ``PONG`` still answers, but no market data goes out."""
        self.faults.market_ws_frozen = bool(frozen)

    # ---------------------------------------------------------------- state

    def state(self) -> dict[str, Any]:
        s = self
        markets = []
        for p in s.catalog.profiles:
            cond = p.market.condition_id
            status = s.catalog.status[cond]
            flow = self._flow(cond)
            markets.append(
                {
                    "condition_id": cond,
                    "question": p.market.question,
                    "tick_size": self._book(cond).market.tick.text,
                    "neg_risk": p.market.neg_risk,
                    "closed": status.closed,
                    "winner": None if status.winner is None else status.winner.value,
                    "fair_value": None if flow is None else round(flow.fair_value(), 6),
                }
            )
        return {
            "faults": s.faults.as_dict(),
            "websockets": {"market": s.faults.sockets.count("market"), "user": s.faults.sockets.count("user")},
            "flow_paused": s.flows.paused,
            "markets": markets,
        }


# ------------------------------------------------------------------------------------------ HTTP side


def is_loopback(host: object) -> bool:
    """True for a loopback peer address (``127.0.0.0/8``, ``::1``, IPv4-mapped loopback)."""
    if not isinstance(host, str) or not host:
        return False
    try:
        addr = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


def peer_host(request: web.Request) -> str | None:
    """The TCP peer's address (not any forwarded-for header)."""
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    if isinstance(peer, tuple | list) and peer:
        return str(peer[0])
    return None




def faults_middleware(faults: Faults) -> Callable[..., Any]:
    """HTTP middleware: injected latency, then queued 425/429/503 bursts (not on ``/_admin/``)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PREFIX):
            return await handler(request)
        if faults.latency_s > 0:
            await asyncio.sleep(faults.latency_s)
        burst = faults.take_http_error(request.path)
        if burst is not None:
            body: dict[str, Any] = {"error": burst.text}
            headers = None
            if burst.status == 429:  # the same shape as the signer limits' 429s (``ratelimit``)
                extra, headers = retry_after(burst.retry_after_s)
                body.update(extra)
            return _json(body, burst.status, headers)
        return await handler(request)

    return middleware


class AdminApi:
    """The ``/_admin/`` routes (loopback peers only)."""

    def __init__(
        self,
        controls: Controls,
        faults: Faults,
        flows: FlowRunner,
        market_sockets: MarketSockets,
        markets: list[Market],
        stats: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.controls = controls
        self.faults = faults
        self.flows = flows
        self.market_sockets = market_sockets
        self.markets = markets  # the catalog's live list (new listings appear in it)
        #: What ``GET /_admin/stats`` answers (the stand-in's counters); None: the flow's alone.
        self._stats = stats
        self._blasts: set[asyncio.Future] = set()  # running /_admin/blast pushes

    def routes(self) -> list[web.RouteDef]:
        g = self._guard
        return [
            web.get("/_admin/state", g(self.state)),
            web.get("/_admin/stats", g(self.stats)),
            web.post("/_admin/faults", g(self.set_faults)),
            web.post("/_admin/http-errors", g(self.http_errors)),
            web.post("/_admin/drop-websockets", g(self.drop_websockets)),
            web.post("/_admin/freeze", g(self.freeze)),
            web.post("/_admin/tick-size", g(self.tick_size)),
            web.post("/_admin/resolve", g(self.resolve)),
            web.post("/_admin/new-market", g(self.new_market)),
            web.post("/_admin/game-start", g(self.game_start)),
            web.post("/_admin/gamma-stale", g(self.gamma_stale)),
            web.post("/_admin/flow", g(self.flow)),
            web.post("/_admin/clear", g(self.clear)),
            web.post("/_admin/blast", g(self.blast)),
        ]

    @staticmethod
    def _guard(handler: Callable[[web.Request], Any]) -> Callable[[web.Request], Any]:
        async def guarded(request: web.Request) -> web.StreamResponse:
            if not is_loopback(peer_host(request)):
                return _json({"error": LOOPBACK_ONLY}, 403)
            try:
                return await handler(request)
            except ControlError as exc:
                return _json({"error": exc.message}, exc.status)

        return guarded

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if not raw.strip():
            return {}
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ControlError("invalid JSON body") from None
        if not isinstance(body, dict):
            raise ControlError("body must be a JSON object")
        return body

    @staticmethod
    def _bool(body: dict[str, Any], key: str, default: bool | None = None) -> bool:
        value = body.get(key, default)
        if not isinstance(value, bool):
            raise ControlError(f"{key} must be true or false")
        return value

    def _add_burst(self, spec: object) -> dict[str, Any]:
        if not isinstance(spec, dict):
            raise ControlError("an http error burst must be an object {status, count, retry_after_s, path_prefix}")
        unknown = set(spec) - {"status", "count", "retry_after_s", "path_prefix", "message"}
        if unknown:
            raise ControlError(f"unknown http error field(s): {', '.join(sorted(unknown))}")
        fields: dict[str, Any] = spec  # validated by ``add_http_errors``: a bad value is a ValueError
        status: Any = fields.get("status")
        try:
            burst = self.faults.add_http_errors(
                status,
                fields.get("count", 1),
                fields.get("retry_after_s", 1.0),
                fields.get("path_prefix", "/"),
                fields.get("message", ""),
            )
        except ValueError as exc:
            raise ControlError(str(exc)) from None
        return burst.as_dict()

    async def state(self, request: web.Request) -> web.Response:
        return _json(self.controls.state())

    async def stats(self, request: web.Request) -> web.Response:
        return _json(self._stats() if self._stats is not None else {"flow": self.flows.stats()})

    async def set_faults(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        bursts = body.pop("http_errors", [])
        f = self.faults
        # Validate everything before changing anything.
        try:
            values = f.validated(body)
        except ValueError as exc:
            raise ControlError(str(exc)) from None
        if not isinstance(bursts, list):
            raise ControlError("http_errors must be a list")
        saved = list(f.http_errors)
        try:
            for spec in bursts:
                self._add_burst(spec)
        except ControlError:
            f.http_errors[:] = saved
            raise
        f.apply(values)
        return _json(f.as_dict())

    async def http_errors(self, request: web.Request) -> web.Response:
        return _json(self._add_burst(await self._body(request)))

    async def drop_websockets(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        return _json({"closed": await self.controls.drop_websockets(body.get("channel"))})

    async def freeze(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        frozen = self._bool(body, "frozen", True)
        self.controls.freeze_market_ws(frozen)
        return _json({"market_ws_frozen": frozen})

    async def tick_size(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        tick = body.get("tick_size")
        if not isinstance(tick, str | int | float) or isinstance(tick, bool):
            raise ControlError("tick_size must be one of 0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001")
        market: Any = body.get("market", body.get("token_id"))  # checked by ``condition_id``
        change = self.controls.change_tick_size(market, tick)
        return _json(
            {"market": change.condition_id, "old_tick_size": change.old.text, "new_tick_size": change.new.text}
        )

    async def resolve(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        market: Any = body.get("market", body.get("token_id"))  # checked by ``condition_id``
        res = self.controls.resolve_market(
            market,
            body.get("winner", "Yes"),
        )
        return _json(
            {
                "market": res.condition_id,
                "winning_outcome": res.winner.value,
                "winning_asset_id": res.winning_token,
                "cancelled_orders": [o.id for o in res.cancelled],
            }
        )

    async def game_start(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        start = body.get("game_start", "")
        if not isinstance(start, str):
            raise ControlError("game_start must be an ISO time string, or \"\" to clear it")
        market: Any = body.get("market", body.get("token_id"))  # checked by ``condition_id``
        m = self.controls.schedule_game(market, start)
        return _json({"market": m.condition_id, "gameStartTime": m.game_start or None})

    async def gamma_stale(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        stale = body.get("stale", True)
        if not isinstance(stale, bool):
            raise ControlError("stale must be true or false")
        market: Any = body.get("market", body.get("token_id"))  # checked by ``condition_id``
        return _json({"market": self.controls.set_gamma_stale(market, stale), "gamma_stale": stale})

    async def new_market(self, request: web.Request) -> web.Response:
        profile = self.controls.list_new_market()
        m = profile.market
        return _json({"market": m.condition_id, "id": profile.gamma_id, "assets_ids": [m.yes_token, m.no_token]})

    async def flow(self, request: web.Request) -> web.Response:
        paused = self._bool(await self._body(request), "paused")
        if paused:
            self.flows.pause()
        else:
            self.flows.resume()
        return _json({"paused": self.flows.paused})

    async def blast(self, request: web.Request) -> web.Response:
        """Benchmark load: push ``frames`` generated price_change frames through the market channel
        (they do not touch the matching books). Returns at once; the frames stream behind it."""
        from ..sim.blast import price_change_stream

        body = await self._body(request)
        count = body.get("frames", 100_000)
        seed = body.get("seed", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 5_000_000:
            raise ControlError("frames must be an integer within [1, 5000000]")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ControlError("seed must be an integer")
        markets = [m for m in self.markets if m.condition_id not in self.market_sockets.channel.closed_markets]
        frames, levels = price_change_stream(markets, count, seed)
        tokens = {t for m in markets for t in (m.yes_token, m.no_token)}
        task = asyncio.ensure_future(self.market_sockets.blast(frames, tokens))
        self._blasts.add(task)
        task.add_done_callback(self._blasts.discard)
        return _json({"frames": count, "level_changes": levels})

    async def clear(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return _json(self.faults.as_dict())
