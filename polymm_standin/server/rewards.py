"""Liquidity rewards a wallet EARNED on the stand-in, and the L2 routes that report them (docs/protocol.md §8, §5.5).

``RewardsLedger`` samples every reward market's book every ``sample_s`` seconds (60, as the venue),
scores every maker's resting orders with ``sim.rewards.maker_scores`` (the published formula: the
size-cutoff-adjusted mid, ``S = ((v − s)/v)²·size`` within the max spread and above the min size,
``Q_min`` from both sides) and credits each wallet its share ``Q_min / Σ Q_min`` of the sample's pool,
``daily_rate × sample_s / 86400``. The synthetic traders' orders compete in ``Σ Q_min`` (their share is
paid to nobody). A wallet is the API key's address: the orders of all its keys are scored together,
as one maker. Credits accumulate per (UTC day of the sample, wallet, condition id) as exact Decimals
of micro-pUSD; the routes serve them rounded down to whole micro-units (6 dp), so what a market pays
out never exceeds its pool. ``sample_now()`` takes one sample at once (tests drive the ledger with it).

``RewardsApi`` serves, for the authenticated wallet (L2, like every trading route):

* GET ``/rewards/user`` (``date``, ``next_cursor``): pages of ``{date, condition_id, asset_address,
  maker_address, earnings, asset_rate}``, one per market that paid the wallet that day;
* GET ``/rewards/user/total`` (``date``): ``[{date, asset_address, maker_address, earnings, asset_rate}]``
  (empty when nothing was earned), the sum of the per-market rows;
* GET ``/rewards/user/percentages``: ``{condition_id: percent}``, the wallet's share of each market's
  rewards in the book as it is now (markets where it scores);
* GET ``/rewards/user/markets`` (``date``, ``next_cursor``, ``page_size``, ``order_by``, ``position``,
  ``no_competition``): pages of every reward market's config with the wallet's earnings that day and
  its live percentage.

``signature_type`` is accepted (0, 1 or 2) and ignored: the stand-in has no proxy or Safe wallets, the
earnings are the API key's address's. ``maker_address`` in the answers is the ``maker`` (funder) the
wallet's scored orders carried, else the wallet's address.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from aiohttp import web

from polymm.domain.prices import PIPS_PER_UNIT

from ..sim import units
from ..sim.book import MarketBook, Order
from ..sim.catalog import COLLATERAL_ADDRESS, Catalog, MarketProfile
from ..sim.matching import MatchingEngine
from ..sim.rewards import SAMPLE_S, maker_scores
from . import http
from .auth import ApiKey, KeyStore, verify_l2
from .http import json_response
from .paging import page
from .public import reward_market
from .records import OrderRecord
from .trading import TradingConfig

log = logging.getLogger(__name__)

DAY_S = 86_400
#: Page size of ``/rewards/user`` and the default of ``/rewards/user/markets`` (the venue's 100).
PAGE_SIZE = 100
#: ``/rewards/user/markets`` caps ``page_size`` here (the venue's documented maximum).
MAX_PAGE_SIZE = 500
_MICRO = Decimal(units.MICRO)
_PERCENT_STEP = Decimal("0.0001")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DATE_FORMAT = "YYYY-MM-DD (a UTC day)"
SIGNATURE_TYPES = ("0", "1", "2")
#: ``order_by`` values of ``/rewards/user/markets`` (the venue's): the sort key of an (item, market).
ORDER_BY: dict[str, Callable[[dict[str, Any], MarketProfile], Any]] = {
    "max_spread": lambda it, p: it["rewards_max_spread"],
    "min_size": lambda it, p: it["rewards_min_size"],
    "end_date": lambda it, p: p.market.end_date,
    "earning_percentage": lambda it, p: it["earning_percentage"],
    "rate_per_day": lambda it, p: p.reward_daily_rate,
    "earnings": lambda it, p: it["earnings"][0]["earnings"],
    "spread": lambda it, p: it["spread"],
    "competitiveness": lambda it, p: it["market_competitiveness"],
    "question": lambda it, p: it["question"],
    "price": lambda it, p: it["tokens"][0]["price"],
    "market": lambda it, p: it["condition_id"],
    "volume_24hr": lambda it, p: it["volume_24hr"],
}
POSITIONS = ("ASC", "DESC")


@dataclass(frozen=True, slots=True)
class MarketSample:
    """One market's scoring in one sample: the adjusted mid (pips; None = no mid, nothing paid),
    ``Σ Q_min`` of every maker, the pool of the sample (pUSD) and what each wallet was credited (pUSD)."""

    condition_id: str
    mid: float | None
    total_q: float
    pool: Decimal
    credits: dict[str, Decimal]  # wallet address (lower case) → pUSD


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample of every reward market: when (epoch ms), the UTC day it was credited to, per market."""

    at_ms: int
    date: str  # YYYY-MM-DD
    markets: dict[str, MarketSample]


def utc_day(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d")


def share_percent(wallet: str, scores: dict[str, float]) -> Decimal:
    """``wallet``'s ``Q_min / Σ Q_min`` in percent, rounded down to 4 dp (0 when it does not score)."""
    total, q = sum(scores.values()), scores.get(wallet, 0.0)
    if total <= 0 or q <= 0:
        return Decimal(0)
    return (Decimal(repr(q)) * 100 / Decimal(repr(total))).quantize(_PERCENT_STEP, ROUND_DOWN)


def _num(d: Decimal) -> int | float:
    """A JSON number without float noise (the venue's earnings and percentages are numbers)."""
    return int(d) if d == d.to_integral_value() else float(d)


class RewardsLedger:
    """Samples the reward markets and accrues what each wallet earned (module docstring).

    ``sample_s`` (seconds between samples, default 60) may be changed while running (``set_sample_s``
    wakes the sampler). ``orders`` is the trading core's order records by id (which wallet placed an
    engine order, and with which ``maker``)."""

    def __init__(
        self,
        matching: MatchingEngine,
        catalog: Catalog,
        orders: Mapping[str, OrderRecord],
        *,
        sample_s: float = SAMPLE_S,
        clock: Callable[[], int] = units.now_ms,
        page_size: int = PAGE_SIZE,
    ) -> None:
        if sample_s <= 0:
            raise ValueError(f"sample_s must be > 0 seconds, got {sample_s}")
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size}")
        self.matching = matching
        self.catalog = catalog
        self.orders = orders
        self.clock = clock
        self.page_size = page_size
        self._sample_s = sample_s
        #: (UTC day, wallet lower case, condition id) → micro-pUSD, exact.
        self._earned: dict[tuple[str, str, str], Decimal] = {}
        #: wallet lower case → the ``maker`` its last scored order carried.
        self._makers: dict[str, str] = {}
        self.samples_taken = 0
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    # ---------------------------------------------------------------- scoring

    @property
    def sample_s(self) -> float:
        return self._sample_s

    def set_sample_s(self, sample_s: float) -> None:
        """Sample every ``sample_s`` seconds from now on (each sample pays ``sample_s`` worth of pool)."""
        if sample_s <= 0:
            raise ValueError(f"sample_s must be > 0 seconds, got {sample_s}")
        self._sample_s = sample_s
        if self._wake is not None:
            self._wake.set()

    def reward_profiles(self) -> list[MarketProfile]:
        """The markets paying rewards now (open, a pool, a min size and a max spread)."""
        status = self.catalog.status
        return [
            p
            for p in self.catalog.profiles
            if p.has_rewards and p.market.reward_max_spread > 0 and not status[p.market.condition_id].closed
        ]

    def scores(self, profile: MarketProfile) -> tuple[float | None, dict[str, float]]:
        """(adjusted mid, ``Q_min`` per maker) of a market's book now: wallets (lower-case addresses) for
        accounts' orders, the engine owner for the synthetic traders'."""
        book = self.matching.market_book(profile.market.condition_id)
        if book is None:
            return None, {}
        orders, makers = self.orders, self._makers

        def owner_of(order: Order) -> str:
            rec = orders.get(order.id)
            if rec is None or rec.owner != order.owner:
                return order.owner  # a synthetic trader
            wallet = rec.address.lower()
            makers[wallet] = rec.maker_address
            return wallet

        return maker_scores(book, profile.market, owner_of)

    def sample_now(self) -> Sample:
        """Score every reward market now and credit each wallet its share of the sample's pool."""
        at_ms = self.clock()
        day = utc_day(at_ms)
        seconds = Decimal(repr(self._sample_s))
        markets: dict[str, MarketSample] = {}
        for profile in self.reward_profiles():
            cond = profile.market.condition_id
            pool = profile.reward_daily_rate * seconds / DAY_S
            mid, scores = self.scores(profile)
            total = sum(scores.values())
            credits: dict[str, Decimal] = {}
            if total > 0:
                total_d = Decimal(repr(total))
                for owner, q in scores.items():
                    # wallets only (``scores`` registered each in ``_makers``): the synthetic traders' shares
                    # of the pool are paid to nobody
                    if q > 0 and owner in self._makers:
                        credits[owner] = pool * Decimal(repr(q)) / total_d
                        key = (day, owner, cond)
                        self._earned[key] = self._earned.get(key, Decimal(0)) + credits[owner] * _MICRO
            markets[cond] = MarketSample(cond, mid, total, pool, credits)
        self.samples_taken += 1
        return Sample(at_ms, day, markets)

    # ---------------------------------------------------------------- reading

    def earnings(self, wallet: str, day: str) -> dict[str, Decimal]:
        """pUSD earned by ``wallet`` on ``day`` per condition id, rounded down to micro-units; markets
        that paid less than one micro-unit are left out. Catalog order."""
        low = wallet.lower()
        out: dict[str, Decimal] = {}
        for profile in self.catalog.profiles:
            cond = profile.market.condition_id
            micro = self._earned.get((day, low, cond))
            if micro is not None and micro >= 1:
                out[cond] = micro.to_integral_value(ROUND_DOWN) / _MICRO
        return out

    def percentages(self, wallet: str) -> dict[str, Decimal]:
        """``wallet``'s share (percent, rounded down to 4 dp) of each reward market's rewards as its book
        is now; only markets where it scores."""
        low = wallet.lower()
        out: dict[str, Decimal] = {}
        for profile in self.reward_profiles():
            share = share_percent(low, self.scores(profile)[1])
            if share > 0:
                out[profile.market.condition_id] = share
        return out

    def maker_address(self, wallet: str) -> str:
        """The ``maker`` shown for ``wallet``: its scored orders' funder, else the wallet itself."""
        return self._makers.get(wallet.lower(), wallet)

    # ---------------------------------------------------------------- sampler task

    def start(self) -> None:
        """Start sampling every ``sample_s`` on the running loop."""
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="rewards-sampler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            self._wake = None

    async def _run(self) -> None:
        assert self._wake is not None
        wake = self._wake
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._sample_s):  # not wait_for: on 3.11 it can lose a cancel
                    await wake.wait()
                wake.clear()
                continue  # the interval changed: wait a whole new one
            try:
                self.sample_now()
            except Exception:
                log.exception("rewards sample failed")


# --------------------------------------------------------------------------------------------- routes


def parse_day(value: str | None, *, required: bool, today: str) -> str:
    """A ``date`` query parameter: ``YYYY-MM-DD``, a real calendar day. ApiError(400) naming ``date``."""
    if value is None or value == "":
        if required:
            raise http.ApiError(400, f"date is required: {DATE_FORMAT}")
        return today
    if _DATE.fullmatch(value):
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value).isoformat()
    raise http.ApiError(400, f"invalid date {value!r}: want {DATE_FORMAT}")


def _signature_type(query: Mapping[str, str]) -> None:
    value = query.get("signature_type")
    if value not in (None, "", *SIGNATURE_TYPES):
        raise http.ApiError(
            400, f"invalid signature_type {value!r}: want 0 (EOA), 1 (POLY_PROXY) or 2 (POLY_GNOSIS_SAFE)"
        )


def _flag(query: Mapping[str, str], name: str) -> bool:
    value = (query.get(name) or "false").lower()
    if value not in ("true", "false"):
        raise http.ApiError(400, f"invalid {name} {query.get(name)!r}: want true or false")
    return value == "true"


def _page_size(query: Mapping[str, str], default: int) -> int:
    value = query.get("page_size")
    if value is None or value == "":
        return default
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise http.ApiError(400, f"invalid page_size {value!r}: want an integer from 1 to {MAX_PAGE_SIZE}")
    return min(int(value), MAX_PAGE_SIZE)


class RewardsApi:
    """The four L2 ``/rewards/user*`` routes over a ``RewardsLedger`` (module docstring)."""

    def __init__(self, ledger: RewardsLedger, keys: KeyStore, config: TradingConfig) -> None:
        self.ledger = ledger
        self.keys = keys
        self.config = config  # its auth window

    def routes(self) -> list[web.RouteDef]:
        l2 = self._l2
        return [
            web.get("/rewards/user", l2(self.earnings)),
            web.get("/rewards/user/total", l2(self.total)),
            web.get("/rewards/user/percentages", l2(self.percentages)),
            web.get("/rewards/user/markets", l2(self.markets)),
        ]

    def _l2(self, handler: Callable[[web.Request, ApiKey], Any]) -> Callable[[web.Request], Any]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            api_key = verify_l2(
                self.keys, request.headers, request.method, request.path, body, window_s=self.config.auth_window_s
            )
            _signature_type(request.query)
            return await handler(request, api_key)

        return wrapped

    def _day(self, request: web.Request, *, required: bool = True) -> str:
        return parse_day(request.query.get("date"), required=required, today=utc_day(self.ledger.clock()))

    def _rows(self, api_key: ApiKey, day: str) -> tuple[str, dict[str, Decimal]]:
        return self.ledger.maker_address(api_key.address), self.ledger.earnings(api_key.address, day)

    async def earnings(self, request: web.Request, api_key: ApiKey) -> web.Response:
        day = self._day(request)
        maker, earned = self._rows(api_key, day)
        rows = [
            {
                "date": f"{day}T00:00:00Z",
                "condition_id": cond,
                "asset_address": COLLATERAL_ADDRESS,
                "maker_address": maker,
                "earnings": _num(amount),
                "asset_rate": 1,
            }
            for cond, amount in earned.items()
        ]
        return json_response(page(rows, request.query.get("next_cursor"), self.ledger.page_size))

    async def total(self, request: web.Request, api_key: ApiKey) -> web.Response:
        day = self._day(request)
        maker, earned = self._rows(api_key, day)
        rows = (
            [
                {
                    "date": f"{day}T00:00:00Z",
                    "asset_address": COLLATERAL_ADDRESS,
                    "maker_address": maker,
                    "earnings": _num(sum(earned.values(), Decimal(0))),
                    "asset_rate": 1,
                }
            ]
            if earned
            else []
        )
        return json_response(rows)

    async def percentages(self, request: web.Request, api_key: ApiKey) -> web.Response:
        return json_response({cond: _num(p) for cond, p in self.ledger.percentages(api_key.address).items()})

    async def markets(self, request: web.Request, api_key: ApiKey) -> web.Response:
        q = request.query
        day = self._day(request, required=False)
        order_by = q.get("order_by") or ""
        if order_by and order_by not in ORDER_BY:
            raise http.ApiError(400, f"invalid order_by {order_by!r}: want one of {', '.join(ORDER_BY)}")
        position = (q.get("position") or "ASC").upper()
        if position not in POSITIONS:
            raise http.ApiError(400, f"invalid position {q.get('position')!r}: want ASC or DESC")
        no_competition = _flag(q, "no_competition")
        size = _page_size(q, self.ledger.page_size)
        wallet = api_key.address.lower()
        maker, earned = self._rows(api_key, day)
        items: list[tuple[dict[str, Any], MarketProfile]] = []
        for profile in self.ledger.reward_profiles():
            cond = profile.market.condition_id
            book = self.ledger.matching.market_book(cond)
            if book is None:
                continue
            scores = self.ledger.scores(profile)[1]
            if no_competition and any(q_ > 0 for owner, q_ in scores.items() if owner != wallet):
                continue
            item = self._market_item(profile, book, scores, wallet, maker, earned.get(cond, Decimal(0)))
            items.append((item, profile))
        if order_by:
            key = ORDER_BY[order_by]
            items.sort(key=lambda x: key(*x), reverse=position == "DESC")
        body = page([item for item, _ in items], q.get("next_cursor"), size)
        body["total_count"] = len(items)
        return json_response(body)

    def _market_item(
        self,
        profile: MarketProfile,
        book: MarketBook,
        scores: dict[str, float],
        wallet: str,
        maker: str,
        earned: Decimal,
    ) -> dict[str, Any]:
        m = profile.market
        status = self.ledger.catalog.status[m.condition_id]
        item = reward_market(profile, book, status)  # condition_id, max spread, min size, rewards_config, tokens
        bid, ask = book.bids.best(), book.asks.best()
        spread = Decimal(ask - bid) / PIPS_PER_UNIT if bid is not None and ask is not None else Decimal(0)
        item.update(
            {
                "market_id": profile.gamma_id,
                "event_id": profile.event_id,
                "question": m.question,
                "market_slug": m.slug,
                "event_slug": (event.slug if (event := self.ledger.catalog.event_of(m.condition_id)) else m.slug),
                "image": "",
                "volume_24hr": _num(profile.base_volume_24h),
                "spread": _num(spread),
                # the stand-in's competitiveness: Σ Q_min of every maker in the book now, 2 dp
                "market_competitiveness": _num(Decimal(repr(sum(scores.values()))).quantize(Decimal("0.01"))),
                "maker_address": maker,
                "earning_percentage": _num(share_percent(wallet, scores)),
                "earnings": [{"asset_address": COLLATERAL_ADDRESS, "earnings": _num(earned), "asset_rate": 1}],
            }
        )
        return item
