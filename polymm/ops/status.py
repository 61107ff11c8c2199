"""``polymm status``: the venue (reachable, server time and clock skew), our open orders per market,
the balance and positions (per market: YES and NO shares, pairs to merge, redeemable) as the venue
reports them, the liquidity rewards earned today, the journal's latest capital operations (merge,
redeem, split), and what the journal says (``status``), and the text form of that report
(``render_status``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

import httpx
import orjson

from ..config import ConfigError, Settings
from ..domain.prices import AMOUNT_MAX_PLACES, fmt_amount, fmt_price, human
from ..journal import CapitalRecord
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
class OutcomeLine:
    """One outcome token held, as the Data API's ``/positions`` reports it (prices and P&L in pUSD)."""

    outcome: str  # the venue's label ("Yes", "No", "Lakers", ...)
    side: str  # "YES" (outcomeIndex 0) or "NO" (outcomeIndex 1)
    asset: str  # token id
    size: Decimal
    avg_price: Decimal
    cur_price: Decimal
    cash_pnl: Decimal
    redeemable: bool


@dataclass(frozen=True)
class MarketPosition:
    """What we hold of one market (the Data API's rows of it grouped by ``conditionId``): YES and NO
    shares, the pairs that can be merged back to pUSD (``min(yes, no)``), whether the venue says the
    market can be redeemed, average entry and current prices per side and the cash P&L of both."""

    condition_id: str
    question: str
    yes: Decimal
    no: Decimal
    mergeable: Decimal
    redeemable: bool
    avg_price_yes: Decimal | None
    avg_price_no: Decimal | None
    cur_price: Decimal | None  # the YES price now (1 − the NO price when only NO is held)
    cash_pnl: Decimal
    outcomes: tuple[OutcomeLine, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"condition_id": self.condition_id, "question": self.question, "yes": _plain(self.yes),
                "no": _plain(self.no), "mergeable": _plain(self.mergeable), "redeemable": self.redeemable,
                "avg_price_yes": _opt(self.avg_price_yes), "avg_price_no": _opt(self.avg_price_no),
                "cur_price": _opt(self.cur_price), "cash_pnl": _plain(self.cash_pnl),
                "outcomes": [{"outcome": o.outcome, "side": o.side, "asset": o.asset, "size": _plain(o.size),
                              "avg_price": _plain(o.avg_price), "cur_price": _plain(o.cur_price),
                              "cash_pnl": _plain(o.cash_pnl), "redeemable": o.redeemable} for o in self.outcomes]}


@dataclass(frozen=True)
class RewardsView:
    """The liquidity rewards earned on ``date`` (UTC, today): the day's total and per market (pUSD), and
    where they were read: ``venue`` (``/rewards/user*``), ``journal`` (the engine's last reading, when
    the venue could not be asked) or None (neither; ``note`` says why)."""

    date: str
    today: Decimal | None
    by_market: dict[str, Decimal] = field(default_factory=dict)
    source: Literal["venue", "journal"] | None = None
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"date": self.date, "today": _opt(self.today),
                "by_market": {c: _plain(v) for c, v in sorted(self.by_market.items())}, "source": self.source,
                "note": self.note}


def _plain(d: Decimal) -> str:
    """A number in the JSON: a plain decimal string, as few decimals as it needs and at most the chain's 6
    (no exponent, no float noise the Data API's numbers carried)."""
    return human(d, AMOUNT_MAX_PLACES)


def _opt(d: Decimal | None) -> str | None:
    return None if d is None else _plain(d)


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
    positions: tuple[MarketPosition, ...] | None = None  # one per market
    journal: JournalView | None = None
    problems: tuple[str, ...] = ()
    rewards: RewardsView | None = None
    capital_ops: tuple[CapitalRecord, ...] = ()  # the journal's latest, newest first

    @property
    def ok(self) -> bool:
        return self.venue.reachable and not self.problems

    def as_json(self) -> dict[str, Any]:
        """The report as JSON values: amounts as decimal strings (never an exponent)."""
        special: dict[str, Any] = {
            "positions": None if self.positions is None else [p.as_json() for p in self.positions],
            "rewards": None if self.rewards is None else self.rewards.as_json(),
            "capital_ops": [r.as_json() for r in self.capital_ops],
        }
        doc = {f.name: special[f.name] if f.name in special else getattr(self, f.name) for f in fields(self)}
        return orjson.loads(orjson.dumps(doc, default=_jsonable))

    def to_json(self) -> str:
        return orjson.dumps(self.as_json(), option=orjson.OPT_INDENT_2).decode()


def _jsonable(v: object) -> object:
    if isinstance(v, Decimal):
        return _plain(v)
    if is_dataclass(v) and not isinstance(v, type):
        return asdict(v)
    return str(v)


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
            lines.append(f"{o.get('side')} {o.get('outcome') or ('No' if is_no else 'Yes')} {fmt_amount(left)} "
                         f"@ {_price(o.get('price'))}")
        out.append(MarketOrders(cid, question, bids, asks, tuple(lines)))
    return tuple(out)


async def _positions(settings: Settings, user: str) -> tuple[MarketPosition, ...]:
    """What ``user`` holds, one entry per market (sizes under a share included: they still merge)."""
    async with httpx.AsyncClient(timeout=5.0) as http:
        r = await http.get(f"{settings.data_url}/positions", params={"user": user, "sizeThreshold": 0})
        if r.status_code != 200:
            raise RuntimeError(f"Data API /positions answered {r.status_code}")
        docs = r.json()
    return group_positions([d for d in docs if isinstance(d, dict)] if isinstance(docs, list) else [])


def _price(raw: object) -> str:
    """A price the venue sent, as ``fmt_price`` writes it (what it sent, when that is not a number)."""
    try:
        return fmt_price(Decimal(str(raw)))
    except ArithmeticError:
        return str(raw)


def _num(doc: dict, key: str) -> Decimal:
    """A Data API number as an exact Decimal (``str()`` of the JSON number: 0.1 stays 0.1)."""
    v = doc.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return Decimal(0)
    try:
        d = Decimal(str(v))
    except ArithmeticError:
        return Decimal(0)
    return d if d.is_finite() else Decimal(0)


def _side(doc: dict) -> str:
    """YES for the market's first outcome (``outcomeIndex`` 0), NO for the second."""
    index = doc.get("outcomeIndex")
    if isinstance(index, int) and not isinstance(index, bool) and index in (0, 1):
        return "YES" if index == 0 else "NO"
    return "NO" if str(doc.get("outcome", "")).strip().lower() == "no" else "YES"


def group_positions(docs: list[dict]) -> tuple[MarketPosition, ...]:
    """The Data API's per-outcome ``/positions`` rows grouped by ``conditionId`` (in the order markets
    first appear): YES and NO shares, ``mergeable`` = min(YES, NO) pairs, ``redeemable`` when the venue
    flags any of the market's rows, the average entry price of each side, the YES price now and the
    cash P&L of both sides."""
    rows: dict[str, list[OutcomeLine]] = {}
    titles: dict[str, str] = {}
    for d in docs:
        cid = str(d.get("conditionId", ""))
        titles.setdefault(cid, str(d.get("title", "")))
        rows.setdefault(cid, []).append(OutcomeLine(
            str(d.get("outcome", "")), _side(d), str(d.get("asset", "")), _num(d, "size"), _num(d, "avgPrice"),
            _num(d, "curPrice"), _num(d, "cashPnl"), d.get("redeemable") is True))
    out = []
    for cid, lines in rows.items():
        yes = [o for o in lines if o.side == "YES"]
        no = [o for o in lines if o.side == "NO"]
        n_yes, n_no = sum((o.size for o in yes), Decimal(0)), sum((o.size for o in no), Decimal(0))
        cur = yes[0].cur_price if yes else (1 - no[0].cur_price if no else None)
        out.append(MarketPosition(
            cid, titles[cid], n_yes, n_no, max(Decimal(0), min(n_yes, n_no)), any(o.redeemable for o in lines),
            _avg(yes), _avg(no), cur, sum((o.cash_pnl for o in lines), Decimal(0)), tuple(lines)))
    return tuple(out)


def _avg(lines: list[OutcomeLine]) -> Decimal | None:
    """The size-weighted average entry price of one side's rows (None when it holds nothing)."""
    size = sum((o.size for o in lines), Decimal(0))
    if not lines or size <= 0:
        return None
    if len(lines) == 1:
        return lines[0].avg_price
    return (sum((o.size * o.avg_price for o in lines), Decimal(0)) / size).quantize(Decimal("0.000001"))


CAPITAL_OPS_SHOWN = 20  # the journal's latest capital operations in the report


def today_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


async def status(settings: Settings, journal_path: str | None = None, timeout: float = 5.0) -> StatusReport:
    """Everything ``polymm status`` shows (see the module docstring). Never raises for venue trouble:
    each part that failed is named in ``problems``."""
    venue = await ping(settings, timeout)
    journal = journal_view(settings, journal_path)
    ops, ops_problem = capital_ops(journal)
    base = (f"capital operations unavailable: {ops_problem}",) if ops_problem else ()
    if not venue.reachable:
        return StatusReport(venue, journal=journal, problems=(f"venue unreachable: {venue.error}", *base),
                            rewards=await rewards_view(None, journal, f"venue unreachable: {venue.error}"),
                            capital_ops=ops)
    try:
        w = wallet(settings)
    except ConfigError as e:
        return StatusReport(venue, None, f"no credentials: {e}", journal=journal, problems=base,
                            rewards=await rewards_view(None, journal, "no credentials to ask the venue"),
                            capital_ops=ops)
    note = "demo wallet: a throwaway key, for stand-ins only" if w.demo else ""
    if w.funder != w.address:
        note = f"funds held by {w.funder}"
    try:
        client = await asyncio.to_thread(authed_client, settings)
    except Exception as e:
        why = f"auth failed: {venue_error(e)}"
        return StatusReport(venue, w.address, note, journal=journal, problems=(why, *base),
                            rewards=await rewards_view(None, journal, why), capital_ops=ops)
    problems: list[str] = list(base)
    collateral = await _part(problems, "balance", _collateral(client))
    orders = await _part(problems, "open orders", _open_orders(settings, client))
    positions = await _part(problems, "positions", _positions(settings, w.funder))
    rewards = await rewards_view(client, journal)
    if rewards.source is None:
        problems.append(f"rewards unavailable: {rewards.note}")
    return StatusReport(venue, w.address, note, collateral, orders, positions, journal, tuple(problems), rewards,
                        ops)


def capital_ops(journal: JournalView, limit: int = CAPITAL_OPS_SHOWN) -> tuple[tuple[CapitalRecord, ...], str]:
    """The journal's latest capital operations, newest first, and why they could not be read ("" when
    they could; none and no problem when there is no journal)."""
    if journal.state != "present":
        return (), ""
    from ..journal import read_capital_ops

    try:
        return tuple(read_capital_ops(journal.path, limit)), ""
    except Exception as e:  # a journal that went away or is not ours: the rest of the status still counts
        return (), f"{type(e).__name__}: {e}"


async def rewards_view(client: Any, journal: JournalView, no_venue: str = "", date: str | None = None) -> RewardsView:
    """Today's (UTC) rewards: from the venue with ``client`` (``venue.rewards.read_earned``); when that
    fails or there is no client (``no_venue`` says why), the journal's last reading of the day; else
    none, ``note`` saying why."""
    from ..venue.rewards import read_earned

    day = date or today_utc()
    why = no_venue
    if client is not None:
        try:
            earned = await asyncio.to_thread(read_earned, client, day)
        except Exception as e:
            why = f"the venue's /rewards/user did not answer: {venue_error(e)}"
        else:
            return RewardsView(day, earned.total, dict(earned.by_market), "venue")
    if journal.state == "present":
        from ..journal import read_rewards

        try:
            journaled = read_rewards(journal.path, day)
        except Exception as e:
            return RewardsView(day, None, {}, None, f"{why}; the journal's could not be read: {type(e).__name__}: {e}")
        kept = "the journal's last reading of the day instead" if journaled else \
            "the journal holds no rewards for the day (none earned, or not read yet)"
        return RewardsView(day, sum(journaled.values(), Decimal(0)), journaled, "journal", f"{why}; {kept}")
    return RewardsView(day, None, {}, None, f"{why}; no journal to fall back on")


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
        lines.append(f"balance    {fmt_amount(r.collateral, grouping=True)} pUSD")
    if r.orders is not None:
        lines += _order_lines(r.orders)
    if r.positions is not None:
        lines += _position_lines(r.positions)
    if r.rewards is not None:
        lines += _rewards_lines(r.rewards)
    if r.journal is not None and r.journal.state == "present":
        lines += _capital_lines(r.capital_ops)
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


def _position_lines(positions: tuple[MarketPosition, ...]) -> list[str]:
    lines = [f"positions  {count(len(positions), 'market')} (Data API)" if positions else "positions  none (Data API)"]
    for p in positions:
        t = (p.question[:40] + "…") if len(p.question) > 41 else p.question
        held = ", ".join(f"{side} {fmt_amount(n)} @ {fmt_price(avg)}" for side, n, avg in
                         (("YES", p.yes, p.avg_price_yes), ("NO", p.no, p.avg_price_no)) if n and avg is not None)
        now = f", YES now {fmt_price(p.cur_price)}" if p.cur_price is not None else ""
        extra = "".join((f"; {fmt_amount(p.mergeable)} pairs mergeable" if p.mergeable else "",
                         "; redeemable" if p.redeemable else ""))
        lines.append(f"           {short(p.condition_id)}  {held or 'nothing'}{now}{extra}; "
                     f"P&L {_signed(p.cash_pnl)} pUSD  {t}")
    return lines


def _signed(d: Decimal) -> str:
    """Signed, to the cent (never ``-0.00``)."""
    cents = d.quantize(Decimal("0.01"))
    return f"{cents if cents else abs(cents):+,.2f}"


def _rewards_lines(rw: RewardsView) -> list[str]:
    """``rewards    today (2026-11-18 UTC) 0.35 pUSD from the venue, 2 markets`` and one line per market."""
    if rw.today is None:
        return [f"rewards    today ({rw.date} UTC) unknown: {rw.note}"]
    where = "from the venue" if rw.source == "venue" else f"from the journal ({rw.note})"
    lines = [f"rewards    today ({rw.date} UTC) {fmt_amount(rw.today)} pUSD {where}, "
             f"{count(len(rw.by_market), 'market')}"]
    for cid, amount in sorted(rw.by_market.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"           {short(cid)}  {fmt_amount(amount)} pUSD")
    return lines


CAPITAL_LINES = 5  # operations the text form lists (the JSON has CAPITAL_OPS_SHOWN)


def _capital_lines(ops: tuple[CapitalRecord, ...]) -> list[str]:
    """The journal's latest capital operations: kind, amount, status, market and when (newest first)."""
    if not ops:
        return ["capital    no merge, redeem or split in the journal"]
    shown = ops[:CAPITAL_LINES]
    lines = [f"capital    the journal's latest {len(shown)} operations, newest first:" if len(ops) > len(shown)
             else f"capital    {count(len(ops), 'operation')} in the journal:"]
    for op in shown:
        amount = fmt_amount(op.amount)
        what = {"merge": f"merge {amount} pairs", "split": f"split {amount} pUSD",
                "redeem": f"redeem for {amount} pUSD"}.get(op.kind, f"{op.kind} {amount}")
        when = datetime.fromtimestamp(op.updated_at or op.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        q = (op.question[:40] + "…") if len(op.question) > 41 else op.question
        err = f" ({op.error[:80]})" if op.error and op.status != "confirmed" else ""
        lines.append(f"           {when}  {what}  {op.status}{err}  {short(op.condition_id)}  {q}")
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
        lines.append(f"           {short(cid)}  {fmt_amount(q)} YES")
    for cid, p in sorted(j.params.items()):
        lines.append(f"           {short(cid)}  " + " ".join(f"{k}={_param(v)}" for k, v in sorted(p.items())))
    return lines


def _param(text: str) -> str:
    """A journaled parameter value: a number in plain digits (an older journal's ``1E+1`` is ``10``)."""
    try:
        return human(Decimal(text))
    except (ArithmeticError, TypeError, ValueError):
        return str(text)
