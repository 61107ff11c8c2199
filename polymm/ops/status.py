"""``polymm status``: the venue (reachable, server time and clock skew), our open orders per market,
the balance and positions as the venue reports them, and what the journal says (``status``), and the
text form of that report (``render_status``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

import httpx
import orjson

from ..config import ConfigError, Settings
from ..domain.prices import human
from ..venue.rest import PublicClient
from .text import ago, count, short
from .venue import CLOCK_OK_S, Ping, ping, venue_error
from .wallet import authed_client, wallet

log = logging.getLogger("polymm")
T = TypeVar("T")


@dataclass(frozen=True)
class MarketOrders:
    """Our open orders in one market, in YES terms (a BUY of NO is an ask)."""

    condition_id: str
    question: str
    bids: int
    asks: int
    orders: tuple[str, ...]  # "BUY Yes 10 @ 0.48"


@dataclass(frozen=True)
class PositionLine:
    condition_id: str
    title: str
    outcome: str
    size: float
    avg_price: float
    cur_price: float
    cash_pnl: float


@dataclass(frozen=True)
class JournalView:
    path: str
    state: Literal["present", "missing", "none", "unreadable"]
    note: str = ""
    latched: bool = False
    reason: str = ""
    positions: dict[str, Decimal] = field(default_factory=dict)
    open_orders: int = 0
    params: dict[str, dict[str, str]] = field(default_factory=dict)
    last_event_at: float | None = None


@dataclass(frozen=True)
class StatusReport:
    venue: Ping
    wallet: str | None = None
    wallet_note: str = ""
    collateral: Decimal | None = None
    orders: tuple[MarketOrders, ...] | None = None
    positions: tuple[PositionLine, ...] | None = None
    journal: JournalView | None = None
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.venue.reachable and not self.problems

    def to_json(self) -> str:
        return orjson.dumps(asdict(self), default=str, option=orjson.OPT_INDENT_2).decode()


def journal_view(settings: Settings, path: str | None) -> JournalView:
    """What the journal says (``read_status``), or why there is nothing to say."""
    from ..journal import resolve_path

    if path is None:
        path = resolve_path(settings.journal_path, settings.mode)
        if not path:
            why = "journal off (POLYMM_JOURNAL_PATH=off)" if settings.journal_path == "off" else \
                "demo mode keeps no journal (POLYMM_JOURNAL_PATH or --journal to read one)"
            return JournalView("", "none", why)
    try:
        from ..journal import read_status
    except ImportError:
        return JournalView(path, "none", "this build has no journal reader")
    try:
        js = read_status(path)
    except FileNotFoundError:
        return JournalView(path, "missing", "no journal there yet")
    except Exception as e:  # a corrupt or foreign file: say so, the rest of the status still counts
        return JournalView(path, "unreadable", f"{type(e).__name__}: {e}")
    return JournalView(js.path, "present", "", js.latched, js.reason, dict(js.positions), js.open_orders,
                       dict(js.params), js.last_event_at)


async def _questions(settings: Settings, cids: list[str]) -> dict[str, tuple[str, str, str]]:
    """condition id → (question, YES token, NO token) from Gamma (empty where it does not answer)."""
    if not cids:
        return {}
    from ..venue.rest import market_from_gamma

    public = PublicClient(settings.clob_url, settings.gamma_url)
    out: dict[str, tuple[str, str, str]] = {}
    try:
        docs = await public.gamma_get("/markets", condition_ids=cids, limit=len(cids))
        for d in docs if isinstance(docs, list) else []:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                m = market_from_gamma(d)
                out[m.condition_id] = (m.question, m.yes_token, m.no_token)
    except Exception as e:
        log.debug("status: questions unavailable: %s", e)
    finally:
        await public.aclose()
    return out


def _group_orders(raw: list[dict], names: dict[str, tuple[str, str, str]]) -> tuple[MarketOrders, ...]:
    by_market: dict[str, list[dict]] = {}
    for o in raw:
        by_market.setdefault(str(o.get("market", "")), []).append(o)
    out = []
    for cid, orders in sorted(by_market.items()):
        question, _yes, no = names.get(cid, ("", "", ""))
        bids = asks = 0
        lines = []
        for o in orders:
            is_no = o.get("asset_id") == no if no else str(o.get("outcome", "")).lower() == "no"
            buys = o.get("side") == "BUY"
            if buys != is_no:
                bids += 1
            else:
                asks += 1
            left = Decimal(str(o.get("original_size") or 0)) - Decimal(str(o.get("size_matched") or 0))
            lines.append(f"{o.get('side')} {o.get('outcome') or ('No' if is_no else 'Yes')} {human(left)} "
                         f"@ {o.get('price')}")
        out.append(MarketOrders(cid, question, bids, asks, tuple(lines)))
    return tuple(out)


async def _positions(settings: Settings, user: str) -> tuple[PositionLine, ...]:
    async with httpx.AsyncClient(timeout=5.0) as http:
        r = await http.get(f"{settings.data_url}/positions", params={"user": user})
        if r.status_code != 200:
            raise RuntimeError(f"Data API /positions answered {r.status_code}")
        docs = r.json()
    out = []
    for d in docs if isinstance(docs, list) else []:
        if isinstance(d, dict):
            out.append(PositionLine(str(d.get("conditionId", "")), str(d.get("title", "")), str(d.get("outcome", "")),
                                    float(d.get("size") or 0), float(d.get("avgPrice") or 0),
                                    float(d.get("curPrice") or 0), float(d.get("cashPnl") or 0)))
    return tuple(out)


async def status(settings: Settings, journal_path: str | None = None, timeout: float = 5.0) -> StatusReport:
    """Everything ``polymm status`` shows (see the module docstring). Never raises for venue trouble:
    each part that failed is named in ``problems``."""
    venue = await ping(settings, timeout)
    journal = journal_view(settings, journal_path)
    if not venue.reachable:
        return StatusReport(venue, journal=journal, problems=(f"venue unreachable: {venue.error}",))
    try:
        w = wallet(settings)
    except ConfigError as e:
        return StatusReport(venue, None, f"no credentials: {e}", journal=journal)
    note = "demo wallet: a throwaway key, for stand-ins only" if w.demo else ""
    if w.funder != w.address:
        note = f"funds held by {w.funder}"
    try:
        client = await asyncio.to_thread(authed_client, settings)
    except Exception as e:
        return StatusReport(venue, w.address, note, journal=journal, problems=(f"auth failed: {venue_error(e)}",))
    problems: list[str] = []
    collateral = await _part(problems, "balance", _collateral(client))
    orders = await _part(problems, "open orders", _open_orders(settings, client))
    positions = await _part(problems, "positions", _positions(settings, w.funder))
    return StatusReport(venue, w.address, note, collateral, orders, positions, journal, tuple(problems))


async def _part(problems: list[str], what: str, read: Awaitable[T]) -> T | None:
    """One part of the status: what ``read`` gives, or None after naming ``what`` in ``problems``."""
    try:
        return await read
    except Exception as e:
        problems.append(f"{what} unavailable: {venue_error(e)}")
        return None


async def _collateral(client: Any) -> Decimal:
    """The wallet's pUSD balance: 1e6-unit integers or decimal strings (docs/protocol.md §12)."""
    from py_clob_client_v2.clob_types import AssetType, BalanceAllowanceParams

    from ..venue.wire import balance_amount

    r = await asyncio.to_thread(client.get_balance_allowance, BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
    return balance_amount(r)


async def _open_orders(settings: Settings, client: Any) -> tuple[MarketOrders, ...]:
    raw = [o for o in await asyncio.to_thread(client.get_open_orders) if isinstance(o, dict)]
    names = await _questions(settings, sorted({str(o.get("market", "")) for o in raw}))
    return _group_orders(raw, names)


# ---------------------------------------------------------------- the text form


def render_status(r: StatusReport) -> str:
    """The human form of ``polymm status``: one labelled line per part, details indented below."""
    lines = _venue_lines(r.venue)
    if r.wallet is not None or r.wallet_note:
        lines.append(f"wallet     {r.wallet or '-'}" + (f"  ({r.wallet_note})" if r.wallet_note else ""))
    if r.collateral is not None:
        lines.append(f"balance    {r.collateral:,.2f} pUSD")
    if r.orders is not None:
        lines += _order_lines(r.orders)
    if r.positions is not None:
        lines += _position_lines(r.positions)
    if r.journal is not None:
        lines += _journal_lines(r.journal)
    lines += [f"problem    {p}" for p in r.problems]
    return "\n".join(lines)


def _venue_lines(v: Ping) -> list[str]:
    if not v.reachable:
        return [f"venue      {v.url}  UNREACHABLE: {v.error}"]
    when = datetime.fromtimestamp(v.server_time or 0, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    skew = v.skew_s or 0.0
    rel = "in step with ours" if abs(skew) <= CLOCK_OK_S else \
        f"our clock is {abs(skew):.1f} s {'behind' if skew > 0 else 'ahead'}"
    return [f"venue      {v.url}  reachable in {v.latency_ms:.0f} ms" +
            (f", CLOB version {v.version}" if v.version is not None else ""),
            f"clock      venue {when}, skew {skew:+.1f} s ({rel})"]


def _order_lines(orders: tuple[MarketOrders, ...]) -> list[str]:
    n = sum(m.bids + m.asks for m in orders)
    lines = [f"orders     {count(n, 'open order')} of ours in {count(len(orders), 'market')}" if n else
             "orders     none of ours rest"]
    for m in orders:
        lines.append(f"           {m.condition_id}  {m.question}")
        lines.append(f"             {count(m.bids, 'bid')}, {count(m.asks, 'ask')}: {', '.join(m.orders)}")
    return lines


def _position_lines(positions: tuple[PositionLine, ...]) -> list[str]:
    lines = [f"positions  {len(positions)} (Data API)" if positions else "positions  none (Data API)"]
    for p in positions:
        t = (p.title[:40] + "…") if len(p.title) > 41 else p.title
        lines.append(f"           {short(p.condition_id)}  {p.outcome} {p.size:,.2f} @ {p.avg_price:.4g}, "
                     f"now {p.cur_price:.4g}, P&L {p.cash_pnl:+,.2f}  {t}")
    return lines


def _journal_lines(j: JournalView) -> list[str]:
    if j.state != "present":
        return [f"journal    {j.path + ': ' if j.path else ''}{j.note}"]
    latch = f"HALTED ({j.reason})" if j.latched else "ARMED"
    held = {c: q for c, q in j.positions.items() if q}
    lines = [f"journal    {j.path}: {latch}, {count(j.open_orders, 'order')} open when last seen, "
             f"{count(len(held), 'position')}, parameter overrides for "
             f"{count(len(j.params), 'market')}, last event {ago(j.last_event_at)}"]
    for cid, q in sorted(held.items()):
        lines.append(f"           {short(cid)}  {human(q)} YES")
    for cid, p in sorted(j.params.items()):
        lines.append(f"           {short(cid)}  " + " ".join(f"{k}={v}" for k, v in sorted(p.items())))
    return lines
