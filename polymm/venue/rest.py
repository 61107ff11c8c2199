"""Public REST clients: CLOB market data and Gamma discovery (async httpx, no auth).

Gamma quirks handled here (docs/protocol.md §7): ``outcomes``, ``outcomePrices`` and ``clobTokenIds``
are JSON-encoded strings in live responses but plain arrays in some captures; numbers sometimes
arrive as strings. A Gamma market that cannot be used (missing tokens, bad tick, a position-id
market for exchange version 3) is skipped and counted, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import msgspec
import orjson

from ..domain.market import Market
from ..domain.messages import BookSnapshot
from ..domain.prices import PriceError, Tick
from .http_clients import AcyclicAsyncClient
from .ratelimit import Priority, RateLimiter

log = logging.getLogger(__name__)


class VenueError(RuntimeError):
    """A non-200 answer from the venue, with its status and ``{"error": ...}`` text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def _json_list(value: Any) -> list:
    if isinstance(value, list):
        return value
    if isinstance(value, str) and value:
        try:
            out = orjson.loads(value)
        except orjson.JSONDecodeError:
            return []
        return out if isinstance(out, list) else []
    return []


def _dec(value: Any, default: Decimal = Decimal(0)) -> Decimal:
    if value is None or value == "":
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return default


#: Why a position-id market is refused (docs/protocol.md §7, §12); shown wherever one is skipped or asked for.
POSITION_ID_UNSUPPORTED = "position-id market (exchange version 3) is not supported yet"


class UnsupportedMarket(ValueError):
    """A well-formed Gamma market polymm must not trade (yet); the message names the field and why."""


def is_position_id_market(m: dict) -> bool:
    """Whether a Gamma market is a protocol-V2 one (``version: "v2"``, tokens in ``positionIds``).

    The SDK signs orders on position ids for exchange version 3 (EIP-712 domain "3"); polymm signs
    everything with the V2 domain, so its orders on such a market would be refused, or worse."""
    return bool(_json_list(m.get("positionIds"))) or str(m.get("version") or "").lower() == "v2"


def market_from_gamma(m: dict) -> Market:
    """Build a ``Market`` from one Gamma ``/markets`` object; raises ValueError naming the field
    (``UnsupportedMarket`` for a position-id market, which is never quoted)."""
    if is_position_id_market(m):
        raise UnsupportedMarket(f"positionIds: {POSITION_ID_UNSUPPORTED}")
    tokens = _json_list(m.get("clobTokenIds"))
    if len(tokens) != 2:
        raise ValueError(f"clobTokenIds: expected 2 token ids, got {len(tokens)}")
    outcomes = _json_list(m.get("outcomes")) or ["Yes", "No"]
    cond = m.get("conditionId") or ""
    if not (isinstance(cond, str) and cond.startswith("0x")):
        raise ValueError("conditionId: missing or not 0x-hex")
    tick_raw = m.get("orderPriceMinTickSize")
    try:
        tick = Tick.parse(str(tick_raw)) if tick_raw not in (None, "") else Tick.parse("0.01")
    except PriceError as e:
        raise ValueError(f"orderPriceMinTickSize: {e}") from None
    return Market(
        condition_id=cond,
        yes_token=str(tokens[0]),
        no_token=str(tokens[1]),
        question=str(m.get("question") or m.get("slug") or cond),
        tick=tick,
        min_order_size=_dec(m.get("orderMinSize"), Decimal(5)),
        neg_risk=bool(m.get("negRisk", False)),
        neg_risk_market_id=str(m.get("negRiskMarketID") or "") if m.get("negRisk") else "",
        slug=str(m.get("slug") or ""),
        reward_min_size=_dec(m.get("rewardsMinSize")),
        reward_max_spread=_dec(m.get("rewardsMaxSpread")),
        end_date=str(m.get("endDate") or ""),
        outcomes=(str(outcomes[0]), str(outcomes[1])) if len(outcomes) == 2 else ("Yes", "No"),
        game_start=str(m.get("gameStartTime") or m.get("eventStartTime") or ""),  # sports markets only
    )


def book_from_rest(raw: bytes | str) -> BookSnapshot:
    """A REST ``/book`` answer as a ``BookSnapshot`` (REST books carry no ``event_type``)."""
    doc = orjson.loads(raw)
    if not isinstance(doc, dict):
        raise ValueError("book: expected a JSON object")
    doc["event_type"] = "book"
    try:
        return msgspec.convert(doc, BookSnapshot, strict=False)
    except msgspec.ValidationError as e:
        raise ValueError(f"book: {e}") from None


class PublicClient:
    """CLOB public REST and Gamma, over one pooled ``httpx.AsyncClient``."""

    def __init__(self, clob_url: str, gamma_url: str, timeout: float = 5.0) -> None:
        self.clob_url = clob_url.rstrip("/")
        self.gamma_url = gamma_url.rstrip("/")
        self._http = AcyclicAsyncClient(timeout=timeout)  # its responses hold no reference cycle (http_clients.py)
        self.skipped_markets = 0
        #: book reads paced by Cloudflare's per-route limits (a resync of hundreds of books at once)
        self.limiter = RateLimiter()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get(self, url: str, **params: Any) -> bytes:
        r = await self._http.get(url, params=params or None)
        if r.status_code != 200:
            raise VenueError(r.status_code, _error_text(r))
        return r.content

    async def get_book(self, token_id: str) -> BookSnapshot:
        """GET /book as a ``BookSnapshot`` (the REST shape has no ``event_type``)."""
        await self.limiter.acquire("book", 1, Priority.READ)
        return book_from_rest(await self._get(f"{self.clob_url}/book", token_id=token_id))

    async def get_books(self, token_ids: list[str]) -> list[BookSnapshot]:
        """POST /books (≤ 500 tokens per call, chunked): unknown tokens are simply absent."""
        out: list[BookSnapshot] = []
        for i in range(0, len(token_ids), 500):
            await self.limiter.acquire("books", 1, Priority.READ)  # Cloudflare meters /books per request
            body = orjson.dumps([{"token_id": t} for t in token_ids[i : i + 500]])
            r = await self._http.post(f"{self.clob_url}/books", content=body,
                                      headers={"Content-Type": "application/json"})
            if r.status_code != 200:
                raise VenueError(r.status_code, _error_text(r))
            docs = orjson.loads(r.content)
            for d in docs if isinstance(docs, list) else []:
                if isinstance(d, dict):
                    try:
                        out.append(book_from_rest(orjson.dumps(d)))
                    except ValueError as e:
                        log.warning("skipping a malformed /books entry: %s", e)
        return out

    async def clob_market(self, condition_id: str) -> dict[str, Any]:
        """CLOB ``GET /markets/{condition_id}`` as parsed JSON (VenueError 404 when it is not listed)."""
        doc = orjson.loads(await self._get(f"{self.clob_url}/markets/{condition_id}"))
        if not isinstance(doc, dict):
            raise VenueError(404, f"/markets/{condition_id}: no market object")
        return doc

    async def gamma_get(self, path: str, **params: Any) -> Any:
        """GET a Gamma path (``/markets``, ``/events``...) as parsed JSON; list values repeat the parameter."""
        return orjson.loads(await self._get(f"{self.gamma_url}{path}", **params))

    async def gamma_pages(
        self, path: str = "/markets", page_size: int = 100, max_items: int | None = None, **params: Any
    ) -> AsyncIterator[Any]:
        """Yield Gamma list pages with ``limit``/``offset`` until a short page or ``max_items`` rows.

        A non-list answer (an error object...) is yielded as-is and ends the walk, so callers can count
        it as malformed instead of crashing.
        """
        offset = 0
        while max_items is None or offset < max_items:
            limit = page_size if max_items is None else min(page_size, max_items - offset)
            doc = await self.gamma_get(path, **{**params, "limit": limit, "offset": offset})
            if not isinstance(doc, list):
                yield doc
                return
            yield doc
            if len(doc) < limit:
                return
            offset += len(doc)

    async def list_markets(self, limit: int = 100, **filters: Any) -> list[Market]:
        """Active, order-book-enabled Gamma markets by 24 h volume; unusable ones are skipped."""
        params = {"limit": limit, "closed": "false", "order": "volume24hr", "ascending": "false", **filters}
        docs = orjson.loads(await self._get(f"{self.gamma_url}/markets", **params))
        out: list[Market] = []
        for m in docs if isinstance(docs, list) else []:
            if not isinstance(m, dict):
                self.skipped_markets += 1
                continue
            if m.get("active") is False or m.get("enableOrderBook") is False or m.get("acceptingOrders") is False:
                continue
            try:
                out.append(market_from_gamma(m))
            except ValueError as e:
                self.skipped_markets += 1
                log.warning("skipping Gamma market %s: %s", m.get("id"), e)
        return out


def _error_text(r: httpx.Response) -> str:
    try:
        doc = r.json()
        if isinstance(doc, dict) and "error" in doc:
            return str(doc["error"])
    except ValueError:
        pass
    return r.text[:200]
