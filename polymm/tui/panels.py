"""Dashboard panels: what each one reads from the store, how often it is drawn, and the schedule that
decides, tick by tick, which to draw.

A panel is a widget that also derives from ``Panel``: its ``PANEL`` (a ``PanelSpec``, written next to
the widget) names the store keys it reads and its ``Cadence``, and ``draw(frame)`` draws it. Composing
it in the app's layout is all the registration it needs: the app collects the panels it composed and
its refresh is a loop over them (``PolymmApp.refresh_from_store``). Widgets drawn together share one
spec (the ladder's title follows the ladder's schedule).

Plain Python, no Textual: the schedule is a rule about keys and clocks, testable without a screen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar, Literal

from ..domain.order_book import BookView
from ..state import HoldingView, MarketState, StateStore
from .text import short_names

#: in a read pattern, the selected market's condition id (``book/{selected}``)
SELECTED = "{selected}"


@dataclass(frozen=True)
class Cadence:
    """How often a panel is drawn.

    * ``on_change``: on every tick (50 ms) on which a key it reads changed — never otherwise.
    * ``throttled``: at most once every ``period_s``; a change waits for the panel's next turn and is
      never lost, so a burst of market data costs a bounded amount of drawing however much moves.
      ``Schedule.redraw_all`` draws it on the next tick.
    * ``every``: every ``period_s`` whether or not anything changed (the status bar's clock), and on
      the next tick when a key in ``at_once`` changed (ARMED / HALTED shows at once).
    """

    kind: Literal["on_change", "throttled", "every"]
    period_s: float = 0.0
    at_once: tuple[str, ...] = ()


ON_CHANGE = Cadence("on_change")


def throttled(period_s: float) -> Cadence:
    """At most once every ``period_s`` seconds, when something it reads changed."""
    return Cadence("throttled", period_s)


def every(period_s: float, at_once: tuple[str, ...] = ()) -> Cadence:
    """Every ``period_s`` seconds whatever changed, and at once when a key in ``at_once`` changed."""
    return Cadence("every", period_s, at_once)


@dataclass(frozen=True)
class PanelSpec:
    """A panel's declaration: its ``name`` (the schedule's key), the store keys it ``reads`` and its
    ``cadence``. A read is a key (``portfolio``), every market's slice of a kind (``market/*``), or
    the selected market's (``book/{selected}``); a panel with a selected-market read follows the
    selection and is not drawn while no market is selected."""

    name: str
    reads: tuple[str, ...]
    cadence: Cadence

    def __post_init__(self) -> None:
        for pattern in self.reads:
            head, sep, tail = pattern.partition("/")
            if ("*" in pattern or SELECTED in pattern) and not (sep and tail in ("*", SELECTED) and head):
                raise ValueError(f"panel {self.name!r}: bad read {pattern!r} (kind/*, kind/{SELECTED} or a key)")

    @property
    def follows_selection(self) -> bool:
        return any(p.endswith("/" + SELECTED) for p in self.reads)


@dataclass(eq=False)
class Frame:
    """One refresh tick as the panels see it: the store, the slices written since the last tick
    (``changed``; a deleted slice maps to None) and the markets in the table's order (``order``: the
    engine's ``listed`` order, sorted by ``sort``). ``selected`` (the market the ladder, tape and signals
    show) and ``outcome`` (YES or NO, the ladder's view) are set once the markets table is drawn, before
    the panels that follow the selection are."""

    store: StateStore
    changed: Mapping[str, Any]
    listed: tuple[str, ...]
    selected: str | None = None
    outcome: str = "YES"
    _per_market: dict[str, dict[str, Any]] = field(default_factory=dict)
    _by: str = "listed"
    _order: tuple[str, ...] | None = None

    @property
    def order(self) -> tuple[str, ...]:
        """The markets in the table's sort, sorted on first use: most ticks draw nothing that needs it,
        and a sort reads every market (hundreds of them)."""
        if self._order is None:
            self._order = self.listed
            if self._by != "listed" and self.listed:
                books = self.per_market("book") if self._by == "activity" else None
                self._order = sort_order(self.listed, self.states, self._by, books)
        return self._order

    def per_market(self, kind: str) -> dict[str, Any]:
        """``{condition id: slice}`` of ``kind/<id>`` for every market that has one, in the listed order."""
        got = self._per_market.get(kind)
        if got is None:
            store = self.store
            got = self._per_market[kind] = {cid: v for cid in self.listed
                                            if (v := store.get(f"{kind}/{cid}")) is not None}
        return got

    @property
    def states(self) -> dict[str, MarketState]:
        """Each market's ``MarketState`` (in ``order``)."""
        return self.per_market("market")

    @property
    def held(self) -> dict[str, list[HoldingView]]:
        """The tokens we hold, by market (the ``holdings`` slice: the ledger, what the venue says)."""
        got = self._per_market.get("#held")
        if got is None:
            got = self._per_market["#held"] = {}
            for h in self.store.get("holdings") or ():
                got.setdefault(h.condition_id, []).append(h)
        return got

    def sort(self, by: str) -> None:
        """Put ``order`` in the markets table's sort (``SORTS``); ``listed`` keeps the engine's order."""
        self._by = by
        self._order = None


@lru_cache(maxsize=16)
def _names(questions: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return short_names(dict(questions))


def market_names(frame: Frame) -> dict[str, str]:
    """Each traded market's short name (``text.short_names`` over the markets shown together); computed
    once per set of markets, not per tick."""
    return _names(tuple((cid, st.question) for cid, st in frame.states.items()))


#: The markets table's sorts (``s`` cycles them) and how its title names each.
SORTS: dict[str, str] = {
    "listed": "as listed",
    "pnl": "P&L, worst first",
    "position": "position, largest first",
    "activity": "book activity, latest first",
    "fills": "fills, most first",
    "state": "state, trouble first",
    "name": "name",
}
#: states by how much they need a look (the ``state`` sort): not quoting for a reason first
STATE_RANK = {"halted": 0, "untrusted": 1, "reconciling": 2, "event halt": 3, "paused": 4, "waiting": 5,
              "quoting": 6}


#: the ``activity`` sort's resolution (ms): books that changed within the same second tie, and keep their
#: listed order, so a busy board does not reshuffle on every refresh over a few milliseconds
ACTIVITY_MS = 1_000


def sort_order(order: tuple[str, ...], states: dict[str, MarketState], by: str,
               books: Mapping[str, BookView] | None = None) -> tuple[str, ...]:
    """``order`` sorted ``by`` one of ``SORTS``. Ties keep the listed order (Python's sort is stable), so
    rows whose figures are equal never swap between refreshes; a market without a state yet goes last.

    ``activity``: the book's last change first (``BookView.timestamp``, the exchange's clock, to the
    second: ``ACTIVITY_MS``), markets without a book last. The engine publishes no count of frames per
    market yet; the book's time of last change is the activity it does publish."""
    keys: dict[str, Callable[[MarketState], Any]] = {
        "pnl": lambda st: st.realized_pnl + st.unrealized_pnl,
        "position": lambda st: -abs(st.position),
        "fills": lambda st: -st.fills,
        "state": lambda st: STATE_RANK.get(st.status, 1),
    }
    if by == "activity":
        got = books or {}

        def latest(st: MarketState) -> int:
            book = got.get(st.condition_id)
            return -(book.timestamp // ACTIVITY_MS) if book is not None and book.timestamp else 1

        keys["activity"] = latest
    if by == "name":  # by the names the table shows (no "Will the")
        names = _names(tuple((cid, st.question) for cid, st in states.items()))
        keys["name"] = lambda st: names[st.condition_id].lower()
    key = keys.get(by)
    if key is None:
        return order
    known = [cid for cid in order if cid in states]
    rest = [cid for cid in order if cid not in states]
    return tuple(sorted(known, key=lambda cid: key(states[cid]))) + tuple(rest)


class Panel:
    """A widget the app draws from the store (mix it into a Textual widget: ``class X(Static, Panel)``).

    Subclasses set ``PANEL`` and implement ``draw``; the app calls ``draw`` when the panel's cadence
    says so, inside one batch with the other panels drawn on that tick."""

    PANEL: ClassVar[PanelSpec]

    def draw(self, frame: Frame) -> None:
        raise NotImplementedError


class Schedule:
    """Which panels are due on a tick, from what changed in the store and when each was drawn last.

    ``due`` once per tick, then ``drawn`` with what was drawn. Panels that share a spec share one turn."""

    def __init__(self, specs: Iterable[PanelSpec]) -> None:
        self._specs: dict[str, PanelSpec] = {}
        for spec in specs:
            if self._specs.setdefault(spec.name, spec) != spec:
                raise ValueError(f"two panels are named {spec.name!r}")
        by_kind: dict[str, dict[str, Cadence]] = {"on_change": {}, "throttled": {}, "every": {}}
        for name, spec in self._specs.items():
            by_kind[spec.cadence.kind][name] = spec.cadence
        self._throttled = by_kind["throttled"]
        self._on_change = frozenset(by_kind["on_change"])
        self._every = by_kind["every"]
        # the every-so-often panels are not woken by what they read (they are drawn anyway)
        self._readers = _Readers(s for s in self._specs.values() if s.name not in self._every)
        self._pending: set[str] = set(self._throttled)  # changes not drawn yet (at first: all of them)
        self._drawn_at: dict[str, float] = {}

    def due(self, now: float, changed: Mapping[str, Any], selected: str | None) -> set[str]:
        """The names of the panels to draw on the tick at ``now`` (monotonic seconds). ``selected``:
        the market selected when the tick began. An every-so-often panel counts as drawn from here."""
        woken = self._readers.woken(changed, selected)
        self._pending |= woken.intersection(self._throttled)
        drawn_at, throttled = self._drawn_at, self._throttled
        due = {n for n in self._pending if now - drawn_at.get(n, 0.0) >= throttled[n].period_s}
        due |= woken & self._on_change
        for name, cadence in self._every.items():
            if any(k in changed for k in cadence.at_once) or now - drawn_at.get(name, 0.0) >= cadence.period_s:
                drawn_at[name] = now
                due.add(name)
        return due

    def quiet(self, due: set[str], changed: Mapping[str, Any]) -> bool:
        """Nothing changed and only every-so-often panels are due: the tick draws those and nothing else."""
        return not changed and due.issubset(self._every)

    def drawn(self, due: set[str], now: float) -> None:
        """The panels in ``due`` were drawn at ``now``: their changes are on screen."""
        for name in due:
            self._drawn_at[name] = now
        self._pending -= due

    def redraw_all(self) -> None:
        """Draw every throttled and every-so-often panel on the next tick."""
        self._pending.update(self._throttled)
        self._drawn_at.clear()


class _Readers:
    """Which panels read a store key: one lookup table per kind of read pattern, so a tick costs a few
    dictionary lookups per changed key however many panels there are."""

    def __init__(self, specs: Iterable[PanelSpec]) -> None:
        self._exact: dict[str, set[str]] = {}  # "portfolio"
        self._any: dict[str, set[str]] = {}  # "market" for market/*
        self._of_selected: dict[str, set[str]] = {}  # "book" for book/{selected}
        for spec in specs:
            for pattern in spec.reads:
                head, _, tail = pattern.partition("/")
                table, key = ((self._any, head) if tail == "*" else (self._of_selected, head) if tail == SELECTED
                              else (self._exact, pattern))
                table.setdefault(key, set()).add(spec.name)

    def woken(self, changed: Mapping[str, Any], selected: str | None) -> set[str]:
        """The names of the panels that read a key in ``changed`` (``selected``: the selected market)."""
        woken: set[str] = set()
        exact, any_, of_selected = self._exact, self._any, self._of_selected
        for key in changed:
            if (names := exact.get(key)) is not None:
                woken |= names
            head, sep, tail = key.partition("/")
            if sep:
                if (names := any_.get(head)) is not None:
                    woken |= names
                if tail == selected and (names := of_selected.get(head)) is not None:
                    woken |= names
        return woken
