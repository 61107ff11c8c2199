"""Data API under ``/data-api``: ``/positions`` and ``/trades`` (docs/protocol.md §7).

* GET ``/data-api/positions?user=<address>`` answers a JSON array of positions (camelCase, numbers).
  Holdings come from the ``positions_for`` hook when one is set, else from the accounts' share
  balances with the current price as entry price (no cost basis yet), as ``PositionRecord``s
  (``token_id``, ``size``, ``avg_price`` and optionally ``total_bought``, ``realized_pnl``). Prices,
  values, PnL and market fields are filled in here.
  Filters: ``market`` (condition ids, comma list), ``sizeThreshold`` (default 1), ``limit`` (≤ 500),
  ``offset``, ``sortBy`` (TOKENS, CURRENT, INITIAL, CASHPNL, PERCENTPNL, PRICE, TITLE),
  ``sortDirection`` (ASC/DESC), ``redeemable`` (the market resolved and the wallet holds the token:
  its holders redeem on chain, docs/protocol.md §15), ``mergeable`` (the wallet holds YES and NO).
* GET ``/data-api/trades`` lists recent venue trades from the tape, newest first, in the captured
  shape (``tests/fixtures/rest/trades.json``): ``user``, ``market``, ``side``, ``takerOnly`` (default
  true; false adds each maker's side of the fill), ``limit`` (≤ 10 000), ``offset``.

The matching engine's order owners are API keys for user orders (shown as the key's address) and
names for synthetic traders (shown under a stable pseudo-address).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web

from polymm.domain.market import Outcome, Side
from polymm.domain.prices import PIPS_PER_UNIT

from ..sim import units
from ..sim.catalog import Catalog
from ..sim.matching import MatchingEngine, Trade
from . import http
from .accounts import Accounts
from .auth import KeyStore
from .public import Tape, token_prices

ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
MAX_POSITIONS = 500
MAX_TRADES = 10_000
_SORT_KEYS = {
    "TOKENS": "size",
    "CURRENT": "currentValue",
    "INITIAL": "initialValue",
    "CASHPNL": "cashPnl",
    "PERCENTPNL": "percentPnl",
    "PRICE": "curPrice",
    "TITLE": "title",
}


@dataclass(frozen=True, slots=True)
class PositionRecord:
    """One outcome-token holding of a user, as the accounts layer knows it."""

    token_id: str
    size: Decimal  # shares
    avg_price: Decimal  # average entry price
    total_bought: Decimal | None = None  # shares bought in total (defaults to size)
    realized_pnl: Decimal = Decimal(0)


def owner_address(owner: str, resolver: Callable[[str], str | None] | None = None) -> str:
    """The address shown for an engine order owner."""
    if ADDRESS.match(owner):
        return owner.lower()
    if resolver is not None:
        resolved = resolver(owner)
        if resolved:
            return resolved.lower()
    return "0x" + hashlib.sha256(f"polymm-owner:{owner}".encode()).hexdigest()[:40]


def _f(d: Decimal, places: str = "0.000001") -> float:
    return float(d.quantize(Decimal(places)))


def _flag(query: Any, name: str) -> bool | None:
    value = query.get(name)
    if value is None:
        return None
    if value.lower() not in ("true", "false"):
        raise http.ApiError(400, f"invalid {name}: {value!r} (expected true or false)")
    return value.lower() == "true"


def _int(query: Any, name: str, default: int, maximum: int) -> int:
    value = query.get(name)
    if value is None:
        return default
    try:
        n = int(value)
    except ValueError:
        raise http.ApiError(400, f"invalid {name}: {value!r} (expected a non-negative integer)") from None
    if n < 0:
        raise http.ApiError(400, f"invalid {name}: {value!r} (expected a non-negative integer)")
    return min(n, maximum)


def _conditions(query: Any) -> set[str]:
    out: set[str] = set()
    for v in query.getall("market", ()):
        out.update(x.strip().lower() for x in v.split(",") if x.strip())
    return out


class DataApi:
    """The ``/data-api`` routes."""

    def __init__(
        self, matching: MatchingEngine, catalog: Catalog, tape: Tape, keys: KeyStore, accounts: Accounts
    ) -> None:
        self.matching = matching
        self.catalog = catalog
        self.tape = tape
        self.keys = keys
        self.accounts = accounts
        #: Holdings with a cost basis, by address (``PositionRecord``s); None: the accounts' balances.
        self.positions_for: Callable[[str], Iterable[Any]] | None = None

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/data-api/positions", self.positions),
            web.get("/data-api/trades", self.trades),
        ]

    def _resolver(self) -> Callable[[str], str | None]:
        keys = self.keys  # the matching engine's owners of user orders are API keys

        def by_key(owner: str) -> str | None:
            key = keys.get(owner)
            return None if key is None else key.address

        return by_key

    # ---- positions

    def _holdings(self, address: str) -> list[Any]:
        if self.positions_for is not None:
            return list(self.positions_for(address))
        # Until the accounts track cost basis: sizes from the accounts, entry price = current price.
        accounts = self.accounts
        if not accounts.known(address):
            return []
        out = []
        for token, micro in accounts.account(address).positions.items():
            found = self.matching.lookup(token)
            if found is None or micro <= 0:
                continue
            book, outcome = found
            yes, no = token_prices(book, self.catalog.status[book.market.condition_id])
            out.append(PositionRecord(token, Decimal(micro) / units.MICRO, yes if outcome is Outcome.YES else no))
        return out

    def position_doc(self, address: str, record: Any) -> dict[str, Any] | None:
        """A Data API position for one holding (None for unknown tokens)."""
        s = self
        token = str(getattr(record, "token_id", getattr(record, "asset", "")))
        found = s.matching.lookup(token)
        if found is None:
            return None
        book, outcome = found
        m = book.market
        profile = s.catalog.profile(m.condition_id)
        assert profile is not None
        status = s.catalog.status[m.condition_id]
        size = Decimal(record.size)
        avg = Decimal(record.avg_price)
        bought = getattr(record, "total_bought", None)
        realized = Decimal(getattr(record, "realized_pnl", 0) or 0)
        yes_price, no_price = token_prices(book, status)
        cur = yes_price if outcome is Outcome.YES else no_price
        initial, current = size * avg, size * cur
        cash = current - initial
        event = s.catalog.event_of(m.condition_id)
        index = 0 if outcome is Outcome.YES else 1
        return {
            "proxyWallet": address.lower(),
            "asset": token,
            "conditionId": m.condition_id,
            "size": _f(size),
            "avgPrice": _f(avg),
            "initialValue": _f(initial),
            "currentValue": _f(current),
            "cashPnl": _f(cash),
            "percentPnl": _f(cash / initial * 100, "0.0001") if initial else 0.0,
            "totalBought": _f(Decimal(bought) if bought is not None else size),
            "realizedPnl": _f(realized),
            "curPrice": _f(cur, "0.0001"),
            "redeemable": status.closed and size > 0,  # resolved, and shares to redeem (on chain, §15)
            "mergeable": False,  # filled in per user below: both YES and NO held
            "title": m.question,
            "slug": m.slug,
            "icon": "",
            "eventId": event.id if event else "",
            "eventSlug": event.slug if event else "",
            "outcome": m.outcomes[index],
            "outcomeIndex": index,
            "oppositeOutcome": m.outcomes[1 - index],
            "oppositeAsset": m.token(outcome.other),
            "endDate": m.end_date[:10],
            "negativeRisk": m.neg_risk,
        }

    async def positions(self, request: web.Request) -> web.Response:
        q = request.query
        user = q.get("user", "")
        if not ADDRESS.match(user):
            raise http.ApiError(400, "user must be a 0x-prefixed 40-hex-digit address")
        threshold_text = q.get("sizeThreshold", "1")
        try:
            threshold = Decimal(threshold_text)
            if not threshold.is_finite() or threshold < 0:
                raise ValueError
        except (ArithmeticError, ValueError):
            raise http.ApiError(400, f"invalid sizeThreshold: {threshold_text!r}") from None
        limit = _int(q, "limit", 100, MAX_POSITIONS)
        offset = _int(q, "offset", 0, 10_000)
        sort_by = q.get("sortBy", "TOKENS").upper()
        if sort_by not in _SORT_KEYS:
            raise http.ApiError(400, f"invalid sortBy: {sort_by!r}; allowed: {', '.join(_SORT_KEYS)}")
        direction = q.get("sortDirection", "DESC").upper()
        if direction not in ("ASC", "DESC"):
            raise http.ApiError(400, f"invalid sortDirection: {direction!r} (ASC or DESC)")
        redeemable, mergeable = _flag(q, "redeemable"), _flag(q, "mergeable")
        markets = _conditions(q)

        docs = [d for d in (self.position_doc(user, r) for r in self._holdings(user)) if d is not None]
        held: dict[str, set[str]] = {}
        for d in docs:
            if d["size"] > 0:
                held.setdefault(d["conditionId"], set()).add(d["asset"])
        for d in docs:
            d["mergeable"] = len(held.get(d["conditionId"], ())) == 2
        docs = [
            d
            for d in docs
            if d["size"] >= threshold
            and (not markets or d["conditionId"] in markets)
            and (redeemable is None or d["redeemable"] is redeemable)
            and (mergeable is None or d["mergeable"] is mergeable)
        ]
        key = _SORT_KEYS[sort_by]
        docs.sort(key=lambda d: d[key], reverse=direction == "DESC")
        return web.Response(body=orjson.dumps(docs[offset : offset + limit]), content_type="application/json")

    # ---- trades

    def _trade_docs(self, trade: Trade, taker_only: bool) -> Iterable[dict[str, Any]]:
        s = self
        book = trade.book
        m = book.market
        event = s.catalog.event_of(m.condition_id)
        resolver = self._resolver()
        common = {
            "conditionId": m.condition_id,
            "timestamp": trade.timestamp_ms // 1000,
            "title": m.question,
            "slug": m.slug,
            "icon": "",
            "eventSlug": event.slug if event else "",
            "name": "",
            "pseudonym": "",
            "bio": "",
            "profileImage": "",
            "profileImageOptimized": "",
            "transactionHash": trade.transaction_hash,
        }
        size = trade.size
        notional = sum(f.size * trade.taker_price(f) for f in trade.fills)
        index = 0 if trade.outcome is Outcome.YES else 1
        yield {
            "proxyWallet": owner_address(trade.taker_owner, resolver),
            "side": trade.side.value,
            "asset": trade.token_id,
            "size": _f(Decimal(size) / units.MICRO),
            "price": _f(Decimal(notional) / size / PIPS_PER_UNIT, "0.0001"),
            "outcome": m.outcomes[index],
            "outcomeIndex": index,
            **common,
        }
        if taker_only:
            return
        for fill in trade.fills:
            maker_index = 0 if fill.maker_outcome is Outcome.YES else 1
            yield {
                "proxyWallet": owner_address(fill.maker_owner, resolver),
                "side": Side(fill.maker_side).value,
                "asset": fill.maker_token,
                "size": _f(Decimal(fill.size) / units.MICRO),
                "price": _f(Decimal(fill.maker_price) / PIPS_PER_UNIT, "0.0001"),
                "outcome": m.outcomes[maker_index],
                "outcomeIndex": maker_index,
                **common,
            }

    async def trades(self, request: web.Request) -> web.Response:
        q = request.query
        user = q.get("user")
        if user is not None and not ADDRESS.match(user):
            raise http.ApiError(400, "user must be a 0x-prefixed 40-hex-digit address")
        side = q.get("side")
        if side is not None and side.upper() not in ("BUY", "SELL"):
            raise http.ApiError(400, f"invalid side: {side!r} (BUY or SELL)")
        taker_only = _flag(q, "takerOnly")
        limit = _int(q, "limit", 100, MAX_TRADES)
        offset = _int(q, "offset", 0, MAX_TRADES)
        markets = _conditions(q)
        out: list[dict[str, Any]] = []
        wanted = user.lower() if user else None
        for trade in reversed(self.tape.trades):
            if markets and trade.book.market.condition_id not in markets:
                continue
            for doc in self._trade_docs(trade, taker_only is not False):
                if wanted is not None and doc["proxyWallet"] != wanted:
                    continue
                if side is not None and doc["side"] != side.upper():
                    continue
                out.append(doc)
            if len(out) >= offset + limit:
                break
        return web.Response(body=orjson.dumps(out[offset : offset + limit]), content_type="application/json")

