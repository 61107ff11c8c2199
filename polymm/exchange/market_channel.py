"""The ``/ws/market`` channel: subscriptions and fan-out of matching-engine events.

Protocol (PROTOCOL §6.1): the client's first text frame ``{"type":"market","assets_ids":[..],
"initial_dump":true}`` subscribes and is answered by ONE frame holding a JSON array of ``book``
events (``[]`` when no asset is known); later ``{"operation":"subscribe"|"unsubscribe",
"assets_ids":[..]}`` frames change the set; text ``PING`` is answered with text ``PONG``. There is no
ack and no sequence number. Malformed frames are counted and ignored: one bad client never affects
the server or other sockets.

Events are rendered only when someone subscribes to the market, at most once per event per variant
(``price_change`` lists only the entries for the tokens a socket subscribes to). Each socket has its
own outbound queue and writer task, so the engine's synchronous listener never awaits; a socket whose
backlog exceeds ``MAX_BACKLOG`` frames is closed (a slow consumer must resync anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Iterable

import orjson
from aiohttp import WSMsgType, web

from polymm.domain.market import Outcome
from polymm.domain.prices import complement

from . import wire
from .book import MarketBook
from .matching import Event, LevelsChanged, MatchingEngine, Trade

log = logging.getLogger(__name__)

MAX_BACKLOG = 50_000


class _Subscriber:
    """One market-channel socket: its asset set and its ordered outbound queue."""

    __slots__ = ("assets", "closing", "queue", "ws")

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.assets: set[str] = set()
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closing = False

    def send(self, frame: bytes) -> None:
        if self.closing:
            return
        if self.queue.qsize() >= MAX_BACKLOG:
            log.warning("closing slow market-channel socket (%d frames queued)", MAX_BACKLOG)
            self.closing = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(frame)

    async def drain(self) -> None:
        """Write queued frames in order until told to stop or the socket fails."""
        try:
            while True:
                frame = await self.queue.get()
                if frame is None:
                    break
                await self.ws.send_frame(frame, WSMsgType.TEXT)
        except (ConnectionError, RuntimeError):
            pass  # the peer went away; the reader side notices and cleans up
        finally:
            if self.closing:
                with contextlib.suppress(Exception):
                    await self.ws.close()


def _dedupe_strings(values: object) -> list[str] | None:
    """The distinct string items of a JSON list, in order; None when it is not a list."""
    if not isinstance(values, list):
        return None
    return list(dict.fromkeys(v for v in values if isinstance(v, str)))


class MarketChannel:
    """Market-channel hub: owns the sockets, listens to the engine, pushes frames."""

    def __init__(self, engine: MatchingEngine) -> None:
        self.engine = engine
        self._by_token: dict[str, set[_Subscriber]] = {}
        self._subscribers: set[_Subscriber] = set()
        #: Counts of ignored client input by kind (malformed JSON, unknown operation, ...).
        self.ignored: Counter[str] = Counter()
        engine.add_listener(self._on_event)

    @property
    def connections(self) -> int:
        return len(self._subscribers)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """aiohttp handler for ``GET /ws/market``."""
        ws = web.WebSocketResponse(autoping=True, max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        sub = _Subscriber(ws)
        self._subscribers.add(sub)
        writer = asyncio.create_task(sub.drain())
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self._on_text(sub, msg.data)
                elif msg.type is WSMsgType.BINARY:
                    self.ignored["binary frame"] += 1
        finally:
            self._unsubscribe(sub, list(sub.assets))
            self._subscribers.discard(sub)
            sub.queue.put_nowait(None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def close_all(self) -> None:
        """Close every socket (server shutdown)."""
        for sub in list(self._subscribers):
            with contextlib.suppress(Exception):
                await sub.ws.close(code=1001, message=b"server shutdown")

    # ------------------------------------------------------------------ client frames

    def _on_text(self, sub: _Subscriber, text: str) -> None:
        stripped = text.strip()
        if stripped in ("PING", "ping"):
            sub.send(b"PONG")
            return
        try:
            obj = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            self.ignored["malformed JSON"] += 1
            return
        if not isinstance(obj, dict):
            self.ignored["not an object"] += 1
            return
        fields = {k.lower(): v for k, v in obj.items() if isinstance(k, str)}
        assets = _dedupe_strings(fields.get("assets_ids", fields.get("asset_ids")))
        if assets is None:
            self.ignored["no assets_ids list"] += 1
            return
        dump = fields.get("initial_dump", True) is not False
        operation = fields.get("operation")
        if isinstance(operation, str):
            op = operation.lower()
            if op == "subscribe":
                self._subscribe(sub, assets, dump, only_new=True)
            elif op == "unsubscribe":
                self._unsubscribe(sub, assets)
            else:
                self.ignored["unknown operation"] += 1
            return
        kind = fields.get("type")
        if isinstance(kind, str) and kind.lower() == "market":
            self._subscribe(sub, assets, dump, only_new=False)
        else:
            self.ignored["unknown message"] += 1

    def _subscribe(self, sub: _Subscriber, assets: list[str], dump: bool, only_new: bool) -> None:
        known: list[tuple[MarketBook, Outcome]] = []
        for asset in assets:
            found = self.engine.lookup(asset)
            if found is None or (only_new and asset in sub.assets):
                continue
            known.append(found)
            sub.assets.add(asset)
            self._by_token.setdefault(asset, set()).add(sub)
        if dump:
            sub.send(b"[" + b",".join(wire.ws_book(book, outcome) for book, outcome in known) + b"]")

    def _unsubscribe(self, sub: _Subscriber, assets: Iterable[str]) -> None:
        for asset in assets:
            sub.assets.discard(asset)
            subs = self._by_token.get(asset)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._by_token[asset]

    # ------------------------------------------------------------------ engine events

    def _on_event(self, event: Event) -> None:
        market = event.book.market
        yes_subs = self._by_token.get(market.yes_token)
        no_subs = self._by_token.get(market.no_token)
        if not yes_subs and not no_subs:
            return
        if isinstance(event, LevelsChanged):
            self._price_change(event, yes_subs or set(), no_subs or set())
        elif isinstance(event, Trade):
            self._trade(event, yes_subs or set(), no_subs or set())

    def _price_change(
        self, event: LevelsChanged, yes_subs: set[_Subscriber], no_subs: set[_Subscriber]
    ) -> None:
        book = event.book
        market = book.market
        ts = str(event.timestamp_ms)

        def entries(outcome: Outcome) -> list[bytes]:
            token = market.token(outcome)
            h = book.hash(outcome)
            best_bid = wire.price_str(book.best_bid(outcome))
            best_ask = wire.price_str(book.best_ask(outcome))
            out = []
            for c in event.changes:
                yes = outcome is Outcome.YES
                out.append(
                    orjson.dumps(
                        {
                            "asset_id": token,
                            "price": wire.price_str(c.price if yes else complement(c.price)),
                            "size": wire.micro_to_str(c.size),
                            "side": (c.side if yes else c.side.other).value,
                            "hash": h,
                            "best_bid": best_bid,
                            "best_ask": best_ask,
                        }
                    )
                )
            return out

        head = b'{"event_type":"price_change","market":"%s","price_changes":[' % market.condition_id.encode()
        tail = b'],"timestamp":"' + ts.encode() + b'"}'
        yes_entries = entries(Outcome.YES) if yes_subs else []
        no_entries = entries(Outcome.NO) if no_subs else []
        frames: dict[str, bytes] = {}

        def frame(variant: str) -> bytes:
            f = frames.get(variant)
            if f is None:
                if variant == "both":
                    parts = [e for pair in zip(yes_entries, no_entries, strict=True) for e in pair]
                else:
                    parts = yes_entries if variant == "yes" else no_entries
                f = frames[variant] = head + b",".join(parts) + tail
            return f

        for sub in yes_subs:
            sub.send(frame("both" if sub in no_subs else "yes"))
        for sub in no_subs:
            if sub not in yes_subs:
                sub.send(frame("no"))

    def _trade(self, trade: Trade, yes_subs: set[_Subscriber], no_subs: set[_Subscriber]) -> None:
        book = trade.book
        market = book.market
        taker_subs = yes_subs if trade.outcome is Outcome.YES else no_subs
        if taker_subs:
            # One last_trade_price per price level the taker went through, in the order it traded.
            levels: dict[int, int] = {}
            for fill in trade.fills:
                price = trade.taker_price(fill)
                levels[price] = levels.get(price, 0) + fill.size
            ts = str(trade.timestamp_ms)
            for price, size in levels.items():
                frame = orjson.dumps(
                    {
                        "event_type": "last_trade_price",
                        "market": market.condition_id,
                        "asset_id": trade.token_id,
                        "price": wire.price_str(price),
                        "size": wire.micro_to_str(size),
                        "fee_rate_bps": "0",
                        "side": trade.side.value,
                        "timestamp": ts,
                        "transaction_hash": trade.transaction_hash,
                    }
                )
                for sub in taker_subs:
                    sub.send(frame)
        for outcome, subs in ((Outcome.YES, yes_subs), (Outcome.NO, no_subs)):
            if subs:
                frame = wire.ws_book(book, outcome)
                for sub in subs:
                    sub.send(frame)
