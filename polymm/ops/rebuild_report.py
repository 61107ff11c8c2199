"""What ``polymm rebuild-positions`` found and did (``RebuildReport``: per market, the journal's position,
the rebuilt one, the venue's balances and the legs that differ), as JSON and as text (``render_rebuild``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from ..domain.prices import AMOUNT_MAX_PLACES, fmt_amount, fmt_price, human
from .text import count, short


def _shares(d: Decimal) -> str:
    """Shares as the report writes them: 2 decimals, up to the chain's 6 where the value has them."""
    return fmt_amount(d)


def _plain(d: Decimal) -> str:
    """Shares in the JSON: a plain decimal string, as few decimals as it needs, at most the chain's 6."""
    return human(d, AMOUNT_MAX_PLACES)


@dataclass(frozen=True)
class RebuildLeg:
    """One fill row (a leg of ours, or the reversal of a failed one) as the rebuild compares it."""

    trade_id: str
    order_id: str
    condition_id: str
    side: str  # YES terms
    price: str  # YES terms, e.g. "0.45"
    size: Decimal
    token: str
    status: str

    @property
    def key(self) -> tuple[str, str]:
        return self.trade_id, self.order_id

    def same_fill(self, other: RebuildLeg) -> bool:
        return (self.condition_id, self.side, self.price, self.size, self.token) == \
            (other.condition_id, other.side, other.price, other.size, other.token)

    def line(self) -> str:
        return (f"trade {short(self.trade_id)}  order {short(self.order_id)}  {self.side} {_shares(self.size)} YES "
                f"@ {fmt_price(self.price)}  {self.status}")

    def to_dict(self) -> dict[str, Any]:
        return {"trade_id": self.trade_id, "order_id": self.order_id, "condition_id": self.condition_id,
                "side": self.side, "price": self.price, "size": _plain(self.size), "token": self.token,
                "status": self.status}


@dataclass(frozen=True)
class RebuildMarket:
    """One market: the position the journal restores to, the one rebuilt from the venue's trades and
    the venue's token balances (YES − NO), and the legs that differ."""

    condition_id: str
    question: str
    journal: Decimal
    rebuilt: Decimal
    venue: Decimal | None  # None: the balances could not be read
    journal_shares: tuple[Decimal, Decimal]  # (YES, NO)
    rebuilt_shares: tuple[Decimal, Decimal]
    venue_shares: tuple[Decimal, Decimal] | None
    only_journal: tuple[RebuildLeg, ...] = ()
    only_venue: tuple[RebuildLeg, ...] = ()
    changed: tuple[tuple[RebuildLeg, RebuildLeg], ...] = ()  # (journal's, venue's) of the same leg
    adjustments: int = 0  # the journal's ``reconcile:`` rows (none are kept)
    agrees: bool | None = None  # the rebuilt shares are the venue's (pending legs aside); None: unknown

    @property
    def differs(self) -> bool:
        """The journal disagrees with the venue's trades (legs, statuses, adjustments or position)."""
        return bool(self.only_journal or self.only_venue or self.changed or self.adjustments) or \
            self.journal != self.rebuilt

    def to_dict(self) -> dict[str, Any]:
        def pair(p: tuple[Decimal, Decimal] | None) -> dict[str, str] | None:
            return None if p is None else {"yes": _plain(p[0]), "no": _plain(p[1])}

        return {"condition_id": self.condition_id, "question": self.question, "journal": _plain(self.journal),
                "rebuilt": _plain(self.rebuilt), "venue": None if self.venue is None else _plain(self.venue),
                "journal_shares": pair(self.journal_shares), "rebuilt_shares": pair(self.rebuilt_shares),
                "venue_shares": pair(self.venue_shares), "differs": self.differs, "agrees_with_venue": self.agrees,
                "only_journal": [leg.to_dict() for leg in self.only_journal],
                "only_venue": [leg.to_dict() for leg in self.only_venue],
                "changed": [{"journal": a.to_dict(), "venue": b.to_dict()} for a, b in self.changed],
                "adjustments": self.adjustments}


@dataclass(frozen=True)
class RebuildReport:
    """What ``rebuild_positions`` found and did."""

    journal: str
    venue: str
    wallet: str
    wallet_note: str
    dry_run: bool
    since: int | None
    trades: int = 0  # the wallet's trades the venue listed
    legs: int = 0  # legs of ours in them (failed ones included)
    failed: int = 0  # legs of FAILED trades: booked and reversed
    kept: int = 0  # journal rows from before --since, kept as they were
    rows: int = 0  # fill rows the rebuilt journal holds (reversals included)
    markets: tuple[RebuildMarket, ...] = ()
    resting: int | None = None  # orders of ours resting at the venue (their fills may land meanwhile)
    written: bool = False
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def differences(self) -> bool:
        return any(m.differs for m in self.markets)

    def to_json(self) -> str:
        doc = {"journal": self.journal, "venue": self.venue, "wallet": self.wallet, "wallet_note": self.wallet_note,
               "dry_run": self.dry_run, "since": self.since, "trades": self.trades, "legs": self.legs,
               "failed": self.failed, "kept_before_since": self.kept, "rows": self.rows,
               "resting_orders": self.resting, "differences": self.differences, "written": self.written,
               "markets": [m.to_dict() for m in self.markets], "problems": list(self.problems)}
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()


def render_rebuild(r: RebuildReport) -> str:
    """The human table of ``polymm rebuild-positions``."""
    lines = _summary_lines(r)
    lines += _market_table(r.markets)
    lines += _leg_lines(r.markets)
    lines.append("")
    lines += _outcome_lines(r)
    return "\n".join(lines)


def _summary_lines(r: RebuildReport) -> list[str]:
    """The journal, the venue and wallet, what the venue listed, and the orders resting there."""
    lines = [f"journal    {r.journal}" + ("  (dry run: nothing written)" if r.dry_run else "")]
    lines.append(f"venue      {r.venue}  wallet {r.wallet}" + (f"  ({r.wallet_note})" if r.wallet_note else ""))
    since = "" if r.since is None else \
        f" since {datetime.fromtimestamp(r.since, UTC).strftime('%Y-%m-%d %H:%M:%S UTC')}"
    lines.append(f"trades     {count(r.trades, 'trade')} of this wallet at the venue{since}: "
                 f"{count(r.legs, 'leg')} of ours" + (f", {r.failed} of FAILED trades (booked and reversed)"
                                                      if r.failed else ""))
    if r.kept:
        lines.append(f"           {count(r.kept, 'journal row')} from before --since kept as they are")
    if r.resting:
        lines.append(f"orders     {count(r.resting, 'order')} of ours rest at the venue: fills may land while this "
                     f"runs (`polymm cancel-all` first)")
    return lines


def _market_table(markets: tuple[RebuildMarket, ...]) -> list[str]:
    """One row per market: the positions and how many legs differ."""
    if not markets:
        return ["markets    none: neither the journal nor the venue has a fill of ours"]
    head = (f"{'market':<16} {'journal':>10} {'rebuilt':>10} {'venue':>10} {'venue YES':>10} {'venue NO':>10}  "
            f"{'only journal':>12} {'only venue':>10} {'changed':>7} {'adj':>3}  question")
    lines = ["", head]
    for m in markets:
        vy, vn = (_shares(m.venue_shares[0]), _shares(m.venue_shares[1])) if m.venue_shares else ("?", "?")
        q = (m.question[:37] + "…") if len(m.question) > 38 else m.question
        mark = " *" if m.differs else ""
        lines.append(f"{short(m.condition_id):<16} {_shares(m.journal):>10} {_shares(m.rebuilt):>10} "
                     f"{_shares(m.venue) if m.venue is not None else '?':>10} {vy:>10} {vn:>10}  "
                     f"{len(m.only_journal):>12} {len(m.only_venue):>10} {len(m.changed):>7} "
                     f"{m.adjustments:>3}  {q}{mark}")
    lines.append("(positions in YES shares: YES − NO; * = the journal differs from the venue's trades)")
    return lines


def _leg_lines(markets: tuple[RebuildMarket, ...]) -> list[str]:
    """The legs only in the journal, only at the venue, and those that differ (journal → venue)."""
    lines: list[str] = []
    for title, found in (("legs only in the journal", [(m, leg) for m in markets for leg in m.only_journal]),
                         ("legs only at the venue", [(m, leg) for m in markets for leg in m.only_venue])):
        if found:
            lines += ["", f"{title}:"]
            lines += [f"  {short(m.condition_id)}  {leg.line()}" for m, leg in found]
    changed = [(m, a, b) for m in markets for a, b in m.changed]
    if changed:
        lines += ["", "legs that differ (journal → venue):"]
        lines += [f"  {short(m.condition_id)}  trade {short(a.trade_id)}  order {short(a.order_id)}: "
                  + ", ".join(_what_differs(a, b)) for m, a, b in changed]
    return lines


def _what_differs(a: RebuildLeg, b: RebuildLeg) -> list[str]:
    what = [f"{x} {getattr(a, x)} → {getattr(b, x)}" for x in ("side", "token", "status")
            if getattr(a, x) != getattr(b, x)]
    if a.price != b.price:
        what.insert(0, f"price {fmt_price(a.price)} → {fmt_price(b.price)}")
    if a.size != b.size:
        what.insert(0, f"size {_shares(a.size)} → {_shares(b.size)}")
    return what


def _outcome_lines(r: RebuildReport) -> list[str]:
    """Whether the journal agrees, where the venue's balances differ, what was written, the problems."""
    lines = []
    if not r.differences:
        lines.append("the journal agrees with the venue's trades")
    for m in r.markets:
        if m.agrees is False:
            assert m.venue_shares is not None and m.venue is not None
            lines.append(f"{short(m.condition_id)}: rebuilt {_shares(m.rebuilt)} YES, the venue's balances "
                         f"{_shares(m.venue)} (YES {_shares(m.venue_shares[0])}, NO {_shares(m.venue_shares[1])}): "
                         f"{'a rewrite keeps' if r.dry_run else 'the journal keeps'} no adjustment; the next start's "
                         f"reconciliation takes the venue's number")
    if r.written:
        dropped = sum(m.adjustments for m in r.markets)
        lines.append(f"written: {count(r.rows, 'fill row')} and {count(len(r.markets), 'position')}"
                     + (f"; {count(dropped, 'adjustment row')} dropped" if dropped else ""))
    elif r.dry_run and r.differences:
        lines.append("dry run: run without --dry-run to rewrite the journal from the venue's trades")
    lines += [f"problem    {p}" for p in r.problems]
    return lines
