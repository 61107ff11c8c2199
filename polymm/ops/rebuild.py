"""``polymm rebuild-positions``: the journal's fills and positions rebuilt from the venue's trades, the
differences found (``RebuildReport``, in ``rebuild_report``) and, unless a dry run, the journal rewritten.

The steps of ``_rebuild``: read the wallet's trades in match-time order (``_trades_in_order``); book
our legs in them as the live execution does (``_Booking``), looking each market up once
(``_Markets``); the rows to write with their status histories (``_Booking.final_rows``,
``_status_rows``); the journal's side and the venue's side of the comparison (``_sides``), the venue's
token balances and resting orders; one ``RebuildMarket`` per market (``_market_report``); the
rewrite.

The rule for adjustments: a ``reconcile:`` row in the journal is the ledger taking a venue balance it
could not explain from the journal's legs. A rebuild replaces every leg with the venue's own, so no
such row is kept: where the rebuilt position still differs from the venue's balances the report says
so, and the next start's reconciliation takes the venue's number (with its own adjustment row).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..config import ConfigError, Settings
from ..domain.ledger import ADJUSTMENT, Ledger
from ..domain.portfolio import Fill
from ..domain.prices import pips_to_str
from ..venue.wire import TradeEvent, balance_amount, epoch_seconds, trade_from_rest, trade_status
from .rebuild_report import RebuildLeg, RebuildMarket, RebuildReport
from .text import short
from .venue import venue_error
from .wallet import authed_client, wallet

if TYPE_CHECKING:
    from ..domain.market import Market
    from ..journal import JournalFills

Key = tuple[str, str]  # (trade id, order id): one leg
StatusRows = list[tuple[str, float]]  # (status, when), oldest first: a leg's fill_status rows
Row = tuple[Fill, str]  # a fill row and its status


def parse_since(text: str) -> int:
    """``--since``: epoch seconds, or an ISO-8601 date or date and time (UTC unless it has an offset).
    Whole seconds (what ``/data/trades``' ``after`` takes). ValueError naming what is allowed."""
    value = text.strip()
    try:
        secs: float | None = float(value)
    except ValueError:
        secs = epoch_seconds(value) if value else None  # ISO-8601; a date alone is its midnight UTC
    if secs is None or secs != secs or not 0 <= secs < 1e11:
        raise ValueError(f"must be epoch seconds or an ISO-8601 date or time, e.g. 2025-11-22 or "
                         f"2025-11-22T10:00:00Z (got {text!r})")
    return int(secs)


async def rebuild_positions(settings: Settings, journal_path: str, *, dry_run: bool = True, since: int | None = None,
                            program: str = "polymm rebuild-positions") -> RebuildReport:
    """``polymm rebuild-positions``: the journal's fills and positions rebuilt from the venue's trades.

    Signs in as the configured wallet, reads every trade of the wallet from ``GET /data/trades``
    (from ``since`` on when given), finds our legs in each and maps them to YES-terms fills with the
    live execution's own functions (``our_legs``, ``leg_fill``: our API key as a maker order's
    owner, or as the taker's with trader_side TAKER), and books them through a ``Ledger`` in
    match-time order, exactly as the live execution books them: a leg of a FAILED trade is booked
    (MATCHED) and reversed (``<trade id>:failed``). Each market's rebuilt position is compared with
    the one the journal restores to and with the venue's token balances.

    Unless ``dry_run``: while holding the wallet's instance lock (``InstanceLocked`` when a polymm
    trades it), the journal's ``fills``, ``fill_status`` and ``positions`` are replaced in one
    transaction. The journal's ``reconcile:`` adjustment rows are not kept (see the module
    docstring). With ``since``, the journal's rows from before it are kept as they were (the venue was
    not asked about them). Nothing is written when a trade, a leg's market or the venue's history
    could not be read (``problems``). ConfigError (naming the option) for a missing journal or a file
    that is not one, and without a wallet key."""
    import sqlite3
    from pathlib import Path

    from ..journal import read_fills

    path = str(Path(journal_path).expanduser())
    if not Path(path).is_file():
        raise ConfigError(f"--journal: no journal at {path} (the journal `polymm run` keeps: "
                          f"$XDG_STATE_HOME/polymm/journal-<mode>.sqlite, or POLYMM_JOURNAL_PATH)")
    w = wallet(settings)
    note = "demo wallet: a throwaway key, for stand-ins only" if w.demo else \
        (f"funds held by {w.funder}" if w.funder != w.address else "")
    lock = None
    if not dry_run:  # no polymm may trade (and journal) this wallet while its journal is rewritten
        from ..statedir import InstanceLock

        lock = InstanceLock(settings.clob_url, w.address, program)
        lock.acquire()
    try:
        try:
            before = read_fills(path)
        except sqlite3.Error as e:
            raise ConfigError(f"--journal: {path} is not a polymm journal ({e})") from None
        return await _rebuild(settings, before, w.address, note, dry_run, since)
    finally:
        if lock is not None:
            lock.release()


async def _rebuild(settings: Settings, before: JournalFills, address: str, note: str, dry_run: bool,
                   since: int | None) -> RebuildReport:
    from py_clob_client_v2.clob_types import TradeParams

    client = await asyncio.to_thread(authed_client, settings)
    raw = await asyncio.to_thread(client.get_trades, TradeParams(after=since) if since is not None else None)
    blocking: list[str] = []  # problems that make the rebuild incomplete: nothing is written
    problems: list[str] = []
    events = _trades_in_order(raw, since, blocking)
    markets = _Markets(client)
    booking = _Booking(client.creds.api_key, markets, blocking)  # our legs: as the live execution finds them
    kept = _kept_before(before.fills, since)
    booking.keep(kept)
    await booking.book(events)
    final = booking.final_rows()
    statuses = _status_rows(final, before.history, booking.history)
    sides = _sides(before, booking, final, since)
    cids = sorted({f.condition_id for f, _ in before.fills} | booking.ledger.markets())
    for cid in cids:
        await markets.get(cid)
    pairs = {cid: markets.tokens(cid, [*before.fills, *final]) for cid in cids}
    balances = await _token_balances(client, sorted({t for pair in pairs.values() for t in pair if t}), problems)
    resting = await _resting_orders(client, problems)
    problems += _lookup_problems(cids, markets, final)
    rebuilt = tuple(_market_report(cid, pairs[cid], markets.known(cid), balances, sides) for cid in cids)
    written = False
    if not dry_run and not blocking:
        await _rewrite(before, final, statuses, booking, sum(sides.adjustments.values()),
                       len(kept) if since is not None else None)
        written = True
    elif not dry_run:
        blocking.append("nothing was written: the venue's history could not be read completely")
    return RebuildReport(before.path, settings.clob_url, address, note, dry_run, since, trades=len(events),
                         legs=booking.legs, failed=booking.failed, kept=len(kept), rows=len(final), markets=rebuilt,
                         resting=resting, written=written, problems=tuple(blocking + problems))


def _trades_in_order(raw: Any, since: int | None, blocking: list[str]) -> list[tuple[float, int, TradeEvent]]:
    """The wallet's trades (from ``since`` on) as (match time, position in the reply, trade), in
    match-time order: average-cost P&L depends on it. An unreadable trade is named in ``blocking``."""
    now = time.time()
    events = []
    for i, t in enumerate(raw if isinstance(raw, list) else []):
        try:
            ev = trade_from_rest(t)
        except ValueError as e:
            tid = t.get("id") if isinstance(t, dict) else None
            blocking.append(f"trade {tid or f'#{i + 1}'}: unreadable ({e})")
            continue
        ts = ev.match_ts or epoch_seconds(ev.last_update) or now
        if since is None or ts >= since:
            events.append((ts, i, ev))
    events.sort(key=lambda e: (e[0], e[1]))
    return events


def _kept_before(fills: list[Row], since: int | None) -> list[Row]:
    """With ``since``: the journal's rows from before it (adjustment rows aside), kept as they were."""
    return [(f, st) for f, st in fills if since is not None and f.ts < since and not f.trade_id.startswith(ADJUSTMENT)]


class _Markets:
    """Each market the rebuild meets, looked up once at the venue (``GET /markets/{condition_id}``); a
    lookup that failed is kept as its error text."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.found: dict[str, Market | str] = {}

    async def get(self, cid: str) -> Market | str:
        from ..venue.live import market_from_clob

        if cid not in self.found:
            try:
                self.found[cid] = market_from_clob(await asyncio.to_thread(self.client.get_market, cid))
            except Exception as e:
                self.found[cid] = venue_error(e) if not isinstance(e, ValueError) else f"unreadable: {e}"
        return self.found[cid]

    def known(self, cid: str) -> Market | None:
        """The market, when its lookup succeeded."""
        m = self.found.get(cid)
        return m if m is not None and not isinstance(m, str) else None

    def tokens(self, cid: str, fills: list[Row]) -> tuple[str, str]:
        """(YES token, NO token) of a market: the venue's, else as ``fills`` name them ("" where none does)."""
        m = self.known(cid)
        if m is not None:
            return m.yes_token, m.no_token
        seen = [f for f, _ in fills if f.condition_id == cid and f.token]
        return (next((f.token for f in seen if not f.no), ""), next((f.token for f in seen if f.no), ""))


class _Booking:
    """Our legs in the venue's trades booked through a ``Ledger`` as the live execution books them (a
    leg of a FAILED trade booked MATCHED, then reversed), with the fill rows the rebuilt journal holds
    and each leg's status history."""

    def __init__(self, api_key: str, markets: _Markets, blocking: list[str]) -> None:
        self.api_key = api_key
        self.markets = markets
        self.blocking = blocking
        self.ledger = Ledger()
        self.rows: list[tuple[Fill, str | None]] = []  # None: the ledger's last status for the leg
        self.history: dict[Key, StatusRows] = {}
        self.venue_keys: list[Key] = []  # the rows booked from the venue's trades, in booking order
        self.legs = 0
        self.failed = 0

    def keep(self, kept: list[Row]) -> None:
        """The journal's rows from before ``--since``, as they were (with the reversal owed for a FAILED
        leg among them whose reversal was never journaled)."""
        self.rows += kept
        self.rows += [(owed, "REVERSAL") for owed in self.ledger.restore(kept)]

    async def book(self, events: list[tuple[float, int, TradeEvent]]) -> None:
        """Book our legs of each trade, in the order given."""
        from ..venue.live import our_legs

        for ts, _, ev in events:
            status = trade_status(ev.status)
            changed_at = epoch_seconds(ev.last_update) or ts
            for leg in our_legs(ev, self.api_key):
                fill = await self._fill(ev, leg, ts)
                if fill is not None:
                    self._book(fill, ev.id, leg[0], status, ts, changed_at)

    async def _fill(self, ev: TradeEvent, leg: Any, ts: float) -> Fill | None:
        """The leg as the YES-terms fill the ledger books; None after naming in ``blocking`` why not."""
        from ..venue.live import leg_fill

        m = await self.markets.get(ev.market)
        if isinstance(m, str):
            self.blocking.append(f"trade {ev.id}: its market {ev.market or '(none)'} could not be looked up: {m}")
            return None
        if leg[1] not in (m.yes_token, m.no_token):
            self.blocking.append(f"trade {ev.id}: token {short(leg[1])} is not one of market {short(ev.market)}'s")
            return None
        return leg_fill(m, leg, ev.id, ts)

    def _book(self, fill: Fill, trade_id: str, order_id: str, status: str, ts: float, changed_at: float) -> None:
        self.legs += 1
        seen = self.history.setdefault((trade_id, order_id), [])
        booked = []
        if status == "FAILED":  # booked when it matched, reversed when it failed
            self.failed += 1
            booked += self.ledger.record(fill, "MATCHED")
            seen.append(("MATCHED", ts))
        booked += self.ledger.record(fill, status)
        seen.append((status, ts if status == "MATCHED" else changed_at))
        for b in booked:
            self.rows.append((b, "REVERSAL" if b.is_reversal else None))
            self.venue_keys.append((b.trade_id, b.order_id))
            if b.is_reversal:
                self.history.setdefault((b.trade_id, b.order_id), []).append(("REVERSAL", changed_at))

    def final_rows(self) -> list[Row]:
        """The rows as written: each original leg with the venue's last status for it."""
        final: list[Row] = []
        for f, st in self.rows:
            if st is None or not (f.is_reversal or f.trade_id.startswith(ADJUSTMENT)):
                st = self.ledger.status(f.trade_id, f.order_id) or st or "booked"
            final.append((f, st))
        return final


def _status_rows(final: list[Row], journaled: dict[Key, StatusRows], seen: dict[Key, StatusRows]
                 ) -> dict[Key, StatusRows]:
    """Each row's fill_status history: the first time of each status the journal had, the venue's
    trades showed, or the row ends with; oldest first."""
    statuses: dict[Key, StatusRows] = {}
    for f, st in final:
        key = (f.trade_id, f.order_id)
        merged: dict[str, float] = {}
        for s, t in [*journaled.get(key, []), *seen.get(key, []), *([(st, f.ts)] if st != "booked" else [])]:
            merged.setdefault(s, t)
        statuses[key] = sorted(merged.items(), key=lambda item: item[1])
    return statuses


@dataclass(frozen=True)
class _Sides:
    """The two sides of the comparison: the journal as a restart would restore it, and the rebuild."""

    restored: Ledger
    rebuilt: Ledger
    in_journal: dict[Key, RebuildLeg]  # from ``since`` on; adjustment rows aside
    at_venue: dict[Key, RebuildLeg]
    adjustments: dict[str, int]  # condition id → the journal's ``reconcile:`` rows (none are kept)


def _sides(before: JournalFills, booking: _Booking, final: list[Row], since: int | None) -> _Sides:
    restored = Ledger()
    restored.restore(before.fills)
    in_journal = {(f.trade_id, f.order_id): _rebuild_leg(f, st) for f, st in before.fills
                  if not f.trade_id.startswith(ADJUSTMENT) and (since is None or f.ts >= since)}
    by_key = {(f.trade_id, f.order_id): (f, st) for f, st in final}
    at_venue = {k: _rebuild_leg(*by_key[k]) for k in booking.venue_keys}
    adjustments: dict[str, int] = {}
    for f, _ in before.fills:
        if f.trade_id.startswith(ADJUSTMENT):
            adjustments[f.condition_id] = adjustments.get(f.condition_id, 0) + 1
    return _Sides(restored, booking.ledger, in_journal, at_venue, adjustments)


async def _token_balances(client: Any, tokens: list[str], problems: list[str]) -> dict[str, Decimal | BaseException]:
    """The venue's balance of each token (read at once); one that could not be read is named in ``problems``."""
    from py_clob_client_v2.clob_types import AssetType, BalanceAllowanceParams

    async def balance(token: str) -> Decimal:
        r = await asyncio.to_thread(client.get_balance_allowance,
                                    BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=token))
        return balance_amount(r)

    got = dict(zip(tokens, await asyncio.gather(*(balance(t) for t in tokens), return_exceptions=True), strict=True))
    for t, r in got.items():
        if isinstance(r, BaseException):
            problems.append(f"balance of token {short(t)} unavailable: {venue_error(r)}")
    return got


async def _resting_orders(client: Any, problems: list[str]) -> int | None:
    """How many orders of ours rest at the venue (their fills may land while the rebuild runs)."""
    try:
        return len([o for o in await asyncio.to_thread(client.get_open_orders) if isinstance(o, dict)])
    except Exception as e:
        problems.append(f"open orders unavailable: {venue_error(e)}")
        return None


def _lookup_problems(cids: list[str], markets: _Markets, final: list[Row]) -> list[str]:
    """The markets that could not be looked up and have no rebuilt row naming their tokens."""
    booked = {f.condition_id for f, _ in final}
    return [f"market {cid}: could not be looked up ({m}); its balances are unknown"
            for cid in cids if isinstance(m := markets.found.get(cid), str) and cid not in booked]


def _market_report(cid: str, pair: tuple[str, str], market: Market | None,
                   balances: dict[str, Decimal | BaseException], sides: _Sides) -> RebuildMarket:
    yes, no = pair
    venue_pair = _venue_shares(pair, balances)
    only_journal, only_venue, changed = _leg_differences(cid, sides)
    return RebuildMarket(
        cid, market.question if market is not None else "",
        journal=_qty(sides.restored, cid), rebuilt=_qty(sides.rebuilt, cid),
        venue=None if venue_pair is None else venue_pair[0] - venue_pair[1],
        journal_shares=(sides.restored.shares(yes), sides.restored.shares(no)),
        rebuilt_shares=(sides.rebuilt.shares(yes), sides.rebuilt.shares(no)), venue_shares=venue_pair,
        only_journal=only_journal, only_venue=only_venue, changed=changed,
        adjustments=sides.adjustments.get(cid, 0), agrees=_agrees(sides.rebuilt, pair, venue_pair))


def _leg_differences(cid: str, sides: _Sides) -> tuple[tuple[RebuildLeg, ...], tuple[RebuildLeg, ...],
                                                         tuple[tuple[RebuildLeg, RebuildLeg], ...]]:
    """A market's legs only in the journal, only at the venue, and in both but not the same fill or
    status (journal's, venue's)."""
    j = {k: v for k, v in sides.in_journal.items() if v.condition_id == cid}
    v = {k: x for k, x in sides.at_venue.items() if x.condition_id == cid}
    return (tuple(j[k] for k in j if k not in v), tuple(v[k] for k in v if k not in j),
            tuple((j[k], v[k]) for k in j if k in v and (not j[k].same_fill(v[k]) or j[k].status != v[k].status)))


def _venue_shares(pair: tuple[str, str], balances: dict[str, Decimal | BaseException]
                  ) -> tuple[Decimal, Decimal] | None:
    """The venue's (YES, NO) balances of a market; None unless both tokens are known and were read."""
    yes, no = pair
    b_yes, b_no = balances.get(yes), balances.get(no)
    if yes and no and isinstance(b_yes, Decimal) and isinstance(b_no, Decimal):
        return b_yes, b_no
    return None


def _agrees(ledger: Ledger, pair: tuple[str, str], venue_pair: tuple[Decimal, Decimal] | None) -> bool | None:
    """The rebuilt shares are the venue's (a leg the venue has not settled yet counted or not); None
    when the venue's balances are unknown."""
    if venue_pair is None:
        return None
    return all(venue in _shares_either_way(ledger, token) for token, venue in zip(pair, venue_pair, strict=True))


def _shares_either_way(ledger: Ledger, token: str) -> tuple[Decimal, Decimal]:
    h = ledger.holding(token)
    ours, pending = (h.shares, h.pending) if h is not None else (Decimal(0), Decimal(0))
    return ours, ours - pending  # the venue may not count unsettled legs yet


def _qty(ledger: Ledger, cid: str) -> Decimal:
    pos = ledger.portfolio.positions.get(cid)
    return pos.qty if pos is not None else Decimal(0)


def _rebuild_leg(fill: Fill, status: str) -> RebuildLeg:
    return RebuildLeg(fill.trade_id, fill.order_id, fill.condition_id, fill.side.value, pips_to_str(fill.price),
                      fill.size, fill.token, status)


async def _rewrite(before: JournalFills, final: list[Row], statuses: dict[Key, StatusRows], booking: _Booking,
                   dropped: int, kept: int | None) -> None:
    """Replace the journal's fills, statuses and positions (``journal.rewrite_fills``; ``JournalChanged``
    when another writer added fills since they were read). ``kept``: rows from before --since."""
    from ..journal import rewrite_fills

    text = (f"rebuilt from the venue's trades: {booking.legs} legs ({booking.failed} of failed trades, reversed), "
            f"{dropped} adjustment rows dropped" +
            (f", {kept} rows from before --since kept" if kept is not None else ""))
    await asyncio.to_thread(rewrite_fills, before.path, final, statuses, dict(booking.ledger.portfolio.positions),
                            expect=before.fingerprint, note=text)
