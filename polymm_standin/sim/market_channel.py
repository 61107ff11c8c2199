"""The ``/ws/market`` channel: subscriptions and fan-out of matching-engine events.

Protocol (docs/protocol.md §6.1): the client's first text frame ``{"type":"market","assets_ids":[..],
"initial_dump":true}`` subscribes and is answered by ONE frame holding a JSON array of ``book``
events (``[]`` when no asset is known); later ``{"operation":"subscribe"|"unsubscribe",
"assets_ids":[..]}`` frames change the set; text ``PING`` is answered with text ``PONG``. There is no
ack and no sequence number. Malformed frames are counted and ignored: one bad client never affects
the server or other sockets.

Events are rendered only when someone subscribes to the market, at most once per event per variant
(``price_change`` lists only the entries for the tokens a socket subscribes to). The channel knows no
sockets: a subscriber is a ``Sink`` (``attach``) that takes frames synchronously, so the engine's
listener never awaits. The server's sinks are sockets with their own outbound queues
(``polymm_standin.server.market_sockets``); the backtest's are recordings.

Beyond books and trades the channel carries ``tick_size_change`` (to every subscriber of the token)
and, for sockets that set ``custom_feature_enabled``, ``best_bid_ask`` (when a token's best bid or
ask changes), ``new_market`` (to every such socket) and ``market_resolved`` (to those subscribed to
the market). Duplicate assets in a subscription are ignored (counted), closed markets are left out of
initial dumps. While the ``frozen`` check says so (the server's ``faults.market_ws_frozen``), no data
frame goes out (``PONG`` still does: the silent freeze of docs/protocol.md §10.3).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Protocol

import orjson

from polymm.domain.market import Market, Outcome
from polymm.domain.prices import Tick, complement

from . import frames, units
from .book import MarketBook
from .matching import Event, LevelsChanged, MatchingEngine, Trade

log = logging.getLogger(__name__)

class Sink(Protocol):
    """Where a subscription's frames go: a socket's outbound queue, a recording, a test list."""

    def send(self, frame: bytes) -> None: ...


class Subscription:
    """One subscriber of the market channel: its sink, its asset set and its options."""

    __slots__ = ("assets", "custom", "sink")

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.assets: set[str] = set()
        #: ``custom_feature_enabled``: best_bid_ask, new_market and market_resolved frames.
        self.custom = False

    def send(self, frame: bytes) -> None:
        self.sink.send(frame)


def _dedupe_strings(values: object) -> tuple[list[str], int] | None:
    """The distinct string items of a JSON list, in order, and how many items were dropped.

    None when it is not a list.
    """
    if not isinstance(values, list):
        return None
    distinct = list(dict.fromkeys(v for v in values if isinstance(v, str)))
    return distinct, len(values) - len(distinct)


class MarketChannel:
    """Market-channel hub: owns the subscriptions, listens to the matching engine, pushes frames."""

    def __init__(self, matching: MatchingEngine, frozen: Callable[[], bool] = lambda: False) -> None:
        self.matching = matching
        #: True while no data frame may go out (the venue's silent freeze, a fault the server sets).
        self.is_frozen = frozen
        self._by_token: dict[str, set[Subscription]] = {}
        self._subscribers: set[Subscription] = set()
        #: Counts of ignored client input by kind (malformed JSON, unknown operation, ...).
        self.ignored: Counter[str] = Counter()
        #: Data frames not sent because the channel was frozen.
        self.frozen_dropped = 0
        #: Markets (condition ids) that are closed: left out of initial dumps.
        self.closed_markets: set[str] = set()
        #: Last best (bid, ask) in YES pips announced per market, for ``best_bid_ask``.
        self._bba: dict[str, tuple[int | None, int | None]] = {}
        matching.add_listener(self._on_event)

    @property
    def connections(self) -> int:
        return len(self._subscribers)

    @property
    def frozen(self) -> bool:
        return self.is_frozen()

    def _frozen_drop(self) -> bool:
        if self.is_frozen():
            self.frozen_dropped += 1
            return True
        return False

    def attach(self, sink: Sink) -> Subscription:
        """A new subscriber whose frames go to ``sink``; it subscribes by sending frames (``receive``)."""
        sub = Subscription(sink)
        self._subscribers.add(sub)
        return sub

    def detach(self, sub: Subscription) -> None:
        """The subscriber is gone: no more frames to it."""
        self._unsubscribe(sub, list(sub.assets))
        self._subscribers.discard(sub)

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(self._subscribers)

    # ------------------------------------------------------------------ client frames

    def receive(self, sub: Subscription, text: str) -> None:
        """A text frame from the subscriber: subscribe, unsubscribe, ``PING``; anything else is counted."""
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
        parsed = _dedupe_strings(fields.get("assets_ids", fields.get("asset_ids")))
        if parsed is None:
            self.ignored["no assets_ids list"] += 1
            return
        assets, dropped = parsed
        if dropped:
            self.ignored["duplicate or non-string assets"] += dropped
        dump = fields.get("initial_dump", True) is not False
        custom = fields.get("custom_feature_enabled")
        if isinstance(custom, bool):
            sub.custom = custom
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

    def _subscribe(self, sub: Subscription, assets: list[str], dump: bool, only_new: bool) -> None:
        known: list[tuple[MarketBook, Outcome]] = []
        for asset in assets:
            found = self.matching.lookup(asset)
            if found is None or (only_new and asset in sub.assets):
                continue
            sub.assets.add(asset)
            self._by_token.setdefault(asset, set()).add(sub)
            if found[0].market.condition_id not in self.closed_markets:
                known.append(found)
        if dump and not self._frozen_drop():
            sub.send(b"[" + b",".join(frames.ws_book(book, outcome) for book, outcome in known) + b"]")

    def _unsubscribe(self, sub: Subscription, assets: Iterable[str]) -> None:
        for asset in assets:
            sub.assets.discard(asset)
            subs = self._by_token.get(asset)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._by_token[asset]

    # ------------------------------------------------------------------ engine events

    def _subs(self, market: Market) -> tuple[set[Subscription], set[Subscription]]:
        return self._by_token.get(market.yes_token) or set(), self._by_token.get(market.no_token) or set()

    def _on_event(self, event: Event) -> None:
        market = event.book.market
        yes_subs, no_subs = self._subs(market)
        if not yes_subs and not no_subs:
            return
        if self._frozen_drop():
            return
        if isinstance(event, LevelsChanged):
            self._price_change(event, yes_subs, no_subs)
        elif isinstance(event, Trade):
            self._trade(event, yes_subs, no_subs)
        self._best_bid_ask(event.book, event.timestamp_ms, yes_subs, no_subs)

    def _best_bid_ask(
        self, book: MarketBook, timestamp_ms: int, yes_subs: set[Subscription], no_subs: set[Subscription]
    ) -> None:
        yes_custom = [s for s in yes_subs if s.custom]
        no_custom = [s for s in no_subs if s.custom]
        if not yes_custom and not no_custom:
            return
        market = book.market
        best = (book.best_bid(), book.best_ask())
        if self._bba.get(market.condition_id) == best:
            return
        self._bba[market.condition_id] = best
        for outcome, subs in ((Outcome.YES, yes_custom), (Outcome.NO, no_custom)):
            if subs:
                frame = frames.ws_best_bid_ask(
                    market, outcome, book.best_bid(outcome), book.best_ask(outcome), timestamp_ms
                )
                for sub in subs:
                    sub.send(frame)

    # ------------------------------------------------------------------ venue announcements

    def tick_size_change(self, market: Market, old: Tick, new: Tick, timestamp_ms: int) -> int:
        """Tell every subscriber of the market's tokens about a new tick; returns frames sent."""
        sent = 0
        yes_subs, no_subs = self._subs(market)
        if (yes_subs or no_subs) and not self._frozen_drop():
            for outcome, subs in ((Outcome.YES, yes_subs), (Outcome.NO, no_subs)):
                if subs:
                    frame = frames.ws_tick_size_change(market, outcome, old, new, timestamp_ms)
                    for sub in subs:
                        sub.send(frame)
                        sent += 1
        return sent

    def market_resolved(self, market: Market, gamma_id: str, winner: Outcome, timestamp_ms: int) -> int:
        """Mark the market closed and send ``market_resolved`` to its custom-feature subscribers."""
        self.closed_markets.add(market.condition_id)
        self._bba.pop(market.condition_id, None)
        yes_subs, no_subs = self._subs(market)
        targets = [s for s in yes_subs | no_subs if s.custom]
        if not targets or self._frozen_drop():
            return 0
        frame = frames.ws_market_resolved(market, gamma_id, winner, timestamp_ms)
        for sub in targets:
            sub.send(frame)
        return len(targets)

    def new_market(self, frame: bytes) -> int:
        """Send a rendered ``new_market`` frame to every custom-feature socket; returns how many."""
        targets = [s for s in self._subscribers if s.custom]
        if not targets or self._frozen_drop():
            return 0
        for sub in targets:
            sub.send(frame)
        return len(targets)

    def _price_change(
        self, event: LevelsChanged, yes_subs: set[Subscription], no_subs: set[Subscription]
    ) -> None:
        book = event.book
        market = book.market
        ts = str(event.timestamp_ms)

        def entries(outcome: Outcome) -> list[bytes]:
            token = market.token(outcome)
            h = book.hash(outcome)
            best_bid = units.price_str(book.best_bid(outcome))
            best_ask = units.price_str(book.best_ask(outcome))
            out = []
            for c in event.changes:
                yes = outcome is Outcome.YES
                out.append(
                    orjson.dumps(
                        {
                            "asset_id": token,
                            "price": units.price_str(c.price if yes else complement(c.price)),
                            "size": units.micro_to_str(c.size),
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

    def _trade(self, trade: Trade, yes_subs: set[Subscription], no_subs: set[Subscription]) -> None:
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
                        "price": units.price_str(price),
                        "size": units.micro_to_str(size),
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
                frame = frames.ws_book(book, outcome)
                for sub in subs:
                    sub.send(frame)
