"""Modal screens: the market picker, the per-market parameter editor and the help screen.

Each screen changes trading state only through the Engine's command API (``add_market``,
``remove_market``, ``set_params``). Their CSS lives in ``DEFAULT_CSS`` (scoped to the screen).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.keys import format_key
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Select

from ..config import ConfigError, MarketParams, Settings
from ..domain.market import Market
from ..domain.params import QUOTING_MODELS
from ..domain.quoting_models.base import ModelFields, QuoteShape
from ..engine.engine import Engine
from ..engine.host import Host, LocalHost
from ..venue.discovery import Candidate, Discovery, Filters, RankBy, describe_filters, rank, selection_filters
from ..venue.rest import PublicClient
from .status import LEGEND
from .text import outcome_label
from .widgets import ConfirmScreen, shares_text

#: Sort orders ``ctrl+s`` cycles through (``discovery.rank`` keys).
SORTS: tuple[RankBy, ...] = ("score", "volume", "spread", "reward")
SORT_LABELS = {
    "volume": "24 h volume, highest first",
    "spread": "spread, tightest first",
    "reward": "reward yield, highest first",
    "score": "market-making score, best first",
}
#: Rows drawn at most: filtering is instant over thousands of candidates, drawing is not.
MAX_ROWS = 300
#: Gamma markets read at most (Gamma pages of up to 500).
MAX_SCAN = 5000
QUESTION_WIDTH = 58  # at most; a narrow terminal gives the question what the other columns leave


def _num(v: object) -> str:
    """A value as typed: ``0.01`` not ``0.0100``, ``100`` not ``1E+2``, ``2`` not ``2.0``."""
    if isinstance(v, Decimal):
        return format(v.normalize(), "f")
    return f"{v:g}" if isinstance(v, float) else str(v)


# ====================================================================== market picker


def _placeholder_candidate(market: Market) -> Candidate:
    """A traded market discovery did not return (closed, beyond the scan): listed so it can be removed."""
    return Candidate(market=market, gamma_id="", volume_24h=0.0, liquidity=0.0, spread=None, best_bid=None,
                     best_ask=None, last_price=None, end_date=None, hours_to_end=None, reward_daily_rate=0.0,
                     reward_min_size=0.0, reward_max_spread=0.0)


def _ends(hours: float | None) -> str:
    if hours is None:
        return "—"
    if hours < 48:
        return f"{max(hours, 0):.0f}h"
    return f"{hours / 24:.0f}d"


class MarketPicker(ModalScreen[None]):
    """Discovery with search as you type; add or remove markets while running.

    Candidates come from Gamma (``venue.discovery``) in a worker, so the UI never waits on the
    network. Typing filters by question and slug (every word must match); ``ctrl+s`` cycles the sort.
    ``enter`` adds the highlighted market, or removes it when it is already traded; ``a`` / ``d`` only
    add / only remove. Removing a market we hold shares of asks first (``ConfirmScreen``: what is held,
    and that the position stays counted and shown); declining changes nothing. The engine calls run as
    app workers so closing the picker never interrupts one.
    """

    DEFAULT_CSS = """
    MarketPicker {
        align: center middle;
    }
    MarketPicker #picker-dialog {
        width: 92%;
        max-width: 150;
        height: 90%;
        border: thick $primary;
        border-title-color: $primary;
        background: $surface;
        padding: 0 1;
    }
    MarketPicker #picker-search {
        margin: 0 0 0 0;
    }
    MarketPicker #picker-bar {
        height: 1;
    }
    MarketPicker #picker-sort {
        width: 1fr;
        color: $text-muted;
    }
    MarketPicker #picker-status {
        width: auto;
    }
    MarketPicker #picker-selection {
        height: 1;
        color: $text-muted;
    }
    MarketPicker .-error {
        color: $error;
        text-style: bold;
    }
    MarketPicker #picker-table {
        height: 1fr;
    }
    MarketPicker #picker-message {
        height: 1;
    }
    MarketPicker #picker-keys {
        width: 100%;
        height: auto;
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("escape", "dismiss", "Close", id="picker_close", tooltip="Close the market picker"),
        Binding("enter", "toggle_market", "Add/remove", id="picker_toggle",
                tooltip="Add the highlighted market, or remove it if traded"),
        Binding("a", "add", "Add", id="picker_add", tooltip="Add the highlighted market (subscribe and quote)"),
        Binding("d", "remove", "Remove", id="picker_remove",
                tooltip="Remove the highlighted market: cancel orders, unsubscribe (in the list)"),
        Binding("ctrl+d", "remove", "Remove", priority=True, id="picker_remove_typing",
                tooltip="Remove the highlighted market, also while typing in the search box"),
        Binding("ctrl+s", "cycle_sort", "Sort", id="picker_sort", tooltip="Sort by volume, spread, reward, score"),
        Binding("f5", "reload", "Reload", id="picker_reload", tooltip="Read the markets from Gamma again"),
        Binding("ctrl+f", "toggle_selection", "Selection/all", id="picker_selection",
                tooltip="Show the automatic selection's markets (POLYMM_SELECT_*), or every open market"),
        Binding("down", "move(1)", "Down", show=False, id="picker_down", tooltip="Next market (while typing)"),
        Binding("up", "move(-1)", "Up", show=False, id="picker_up", tooltip="Previous market (while typing)"),
    ]

    def __init__(self, engine: Engine, settings: Settings, host: Host | None = None) -> None:
        """``host``: where the engine runs (``engine/host.py``): adds and removes go there."""
        super().__init__()
        self.engine = engine
        self.settings = settings
        self.host: Host = host or LocalHost()
        self.sort: RankBy = SORTS[0]
        self.candidates: dict[str, Candidate] = {}
        self._ranked: list[Candidate] = []
        self._query = ""
        self._busy: set[str] = set()  # markets with an add / remove in flight
        self.loaded = False  # discovery answered at least once
        #: Only the markets the automatic selection's filters keep (``POLYMM_SELECT_*``); ctrl+f: all.
        self.selection = True

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-dialog") as dialog:
            dialog.border_title = "Markets"
            yield Input(placeholder="search question or slug…", id="picker-search")
            with Horizontal(id="picker-bar"):
                yield Label("", id="picker-sort")
                yield Label("loading…", id="picker-status")
            yield Label("", id="picker-selection")
            yield DataTable(id="picker-table", cursor_type="row", zebra_stripes=True)
            yield Label("", id="picker-message")
            yield Label("enter add/remove · ctrl+d remove · ↑↓ move · ctrl+s sort · ctrl+f selection/all · "
                        "f5 reload · esc close  (in the list: a add, d remove)", id="picker-keys")

    question_width = QUESTION_WIDTH  # the Market column's (on_mount fits it to the terminal)
    #: the table's columns besides the question, and their widths
    OTHER_COLUMNS = (("volume", "Vol 24h", 11), ("spread", "Spread", 7), ("reward", "Reward/d", 9),
                     ("tick", "Tick", 6), ("ends", "Ends", 5))

    def on_mount(self) -> None:
        table = self.query_one("#picker-table", DataTable)
        # the question takes what the other columns leave (each column has a cell padding either side)
        inside = min(self.app.size.width * 92 // 100, 150) - 4 - 2
        others = 7 + sum(w for _, _, w in self.OTHER_COLUMNS) + 2 * (len(self.OTHER_COLUMNS) + 2) + 2  # +scrollbar
        self.question_width = max(min(inside - others, QUESTION_WIDTH), 20)
        for key, label, width in (("traded", "Traded", 7), ("market", "Market", self.question_width),
                                  *self.OTHER_COLUMNS):
            table.add_column(label, key=key, width=width)
        self._show_sort()
        self.query_one("#picker-search", Input).focus()
        self.load()

    # ------------------------------------------------------------ discovery
    @work(exclusive=True, group="picker-discovery", exit_on_error=False)
    async def load(self) -> None:
        """Read every live Gamma market (off the UI's critical path) and draw them. A failure is shown
        in the modal; what an earlier load found stays listed."""
        self._set_status("loading…")
        client = PublicClient(self.settings.clob_url, self.settings.gamma_url)
        try:
            filters = selection_filters(self.settings) if self.selection else None
            found = await Discovery(client, page_size=500, max_scan=MAX_SCAN).discover(filters)
        except Exception as e:  # no Gamma, bad answer: say so in the modal, keep it usable
            self._set_status(f"discovery failed: {type(e).__name__}: {e} (f5 retries)", error=True)
            return
        finally:
            await client.aclose()
        candidates = {c.condition_id: c for c in found}
        for cid, m in dict(self.engine.markets).items():  # one copy (in C): the engine's thread may change it
            candidates.setdefault(cid, _placeholder_candidate(m))
        self.candidates = candidates
        self.loaded = True
        self._rerank()

    def action_reload(self) -> None:
        self.load()

    def action_toggle_selection(self) -> None:
        self.selection = not self.selection
        self._show_sort()
        self.candidates = {}
        self.load()

    # ------------------------------------------------------------ filter, sort, draw
    @on(Input.Changed, "#picker-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self._query = event.value.strip()
        self._draw()

    def action_cycle_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._show_sort()
        self._rerank()

    def _show_sort(self) -> None:
        self.query_one("#picker-sort", Label).update(f"sort: {SORT_LABELS[self.sort]}  (ctrl+s)")
        shown = (f"automatic selection: {describe_filters(selection_filters(self.settings))}" if self.selection
                 else "all open markets")
        self.query_one("#picker-selection", Label).update(f"{shown}  (ctrl+f)")

    def _rerank(self) -> None:
        self._ranked = rank(self.candidates.values(), by=self.sort)
        self._draw()

    def matches(self) -> list[Candidate]:
        """Ranked candidates whose question or slug contains every word typed."""
        if not self._query:
            return self._ranked
        f = Filters(search=self._query)
        return [c for c in self._ranked if f.reject(c) is None]

    def _draw(self) -> None:
        if not self.loaded:
            return
        table = self.query_one("#picker-table", DataTable)
        keep = self.highlighted
        found = self.matches()
        shown = found[:MAX_ROWS]
        with self.app.batch_update():
            table.clear()
            for c in shown:
                table.add_row(*self._cells(c), key=c.condition_id)
            if keep is not None and keep in table.rows:
                table.move_cursor(row=table.get_row_index(keep))
        traded = sum(1 for cid in self.candidates if cid in self.engine.markets)
        more = f", first {len(shown)} drawn: type to narrow" if len(found) > len(shown) else ""
        self._set_status(f"{len(found)} of {len(self.candidates)} markets{more} · {traded} traded")

    def _traded_cell(self, cid: str) -> Text:
        if cid in self._busy:
            return Text("…", style="yellow")
        if cid not in self.engine.markets:
            return Text("")
        if cid in self.engine.paused:
            return Text("paused", style="yellow")
        return Text("● yes", style="bold green")

    def _cells(self, c: Candidate) -> tuple[Text, ...]:
        q = c.market.question
        width = self.question_width
        q = q if len(q) <= width else q[: width - 1] + "…"
        spread = f"{c.spread:.4f}".rstrip("0").rstrip(".") if c.spread is not None else "—"
        reward = f"${c.reward_daily_rate:,.0f}" if c.reward_eligible else "—"
        return (self._traded_cell(c.condition_id), Text(q), Text(f"{c.volume_24h:,.0f}", justify="right"),
                Text(spread, justify="right"), Text(reward, justify="right"), Text(_num(c.market.tick.decimal)),
                Text(_ends(c.hours_to_end), justify="right"))

    def _sync_traded(self) -> None:
        table = self.query_one("#picker-table", DataTable)
        for key in list(table.rows):
            if key.value is not None:
                table.update_cell(key, "traded", self._traded_cell(key.value))

    def _set_status(self, text: str, error: bool = False) -> None:
        label = self.query_one("#picker-status", Label)
        label.update(text)
        label.set_class(error, "-error")

    def _set_message(self, text: str, error: bool = False) -> None:
        label = self.query_one("#picker-message", Label)
        label.update(text)
        label.set_class(error, "-error")

    # ------------------------------------------------------------ selection and actions
    @property
    def highlighted(self) -> str | None:
        """The condition id under the table's cursor."""
        table = self.query_one("#picker-table", DataTable)
        if not table.row_count:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # cursor out of range while the table is redrawn
            return None

    def action_move(self, rows: int) -> None:
        table = self.query_one("#picker-table", DataTable)
        if table.row_count:
            table.move_cursor(row=max(0, min(table.cursor_row + rows, table.row_count - 1)))

    @on(Input.Submitted, "#picker-search")
    def _submitted(self) -> None:
        self.action_toggle_market()

    @on(DataTable.RowSelected, "#picker-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self._act(event.row_key.value, None)

    def action_toggle_market(self) -> None:
        self._act(self.highlighted, None)

    def action_add(self) -> None:
        self._act(self.highlighted, "add")

    def action_remove(self) -> None:
        self._act(self.highlighted, "remove")

    def _act(self, cid: str | None, wanted: str | None) -> None:
        """Add or remove ``cid`` (``wanted`` None: whichever applies) through the engine, in a worker;
        a removal of a market we hold shares of only once confirmed."""
        if cid is None or cid not in self.candidates:
            self._set_message("no market highlighted", error=True)
            return
        c = self.candidates[cid]
        name = c.market.short_question
        traded = cid in self.engine.markets
        op = wanted or ("remove" if traded else "add")
        if cid in self._busy:
            self._set_message(f"{name}: still busy")
            return
        if op == "add" and traded:
            self._set_message(f"{name}: already traded (d removes it)")
            return
        if op == "remove" and not traded:
            self._set_message(f"{name}: not traded (a adds it)")
            return
        held = self.held(cid) if op == "remove" else ""
        if not held:
            self._start(op, c)
            return

        def answered(ok: bool | None) -> None:
            if not ok:
                self._set_message(f"{name}: kept, nothing changed")
            elif cid not in self.engine.markets:
                self._set_message(f"{name}: not traded any more")
            elif cid in self._busy:
                self._set_message(f"{name}: still busy")
            else:
                self._start(op, c)

        self.app.push_screen(ConfirmScreen(
            f"Remove {name}?\n\nWe hold {held}. Its orders are cancelled and it is no longer quoted; "
            f"the position stays counted (limits, P&L) and shown under Positions as not traded."), answered)

    def held(self, cid: str) -> str:
        """What we hold in a market, for a person (``YES 20.00``; ``YES 5.00 and NO 3.00``), "" when
        nothing: the ledger's tokens with a non-zero count, else the market's YES-terms position."""
        market = self.engine.markets.get(cid)
        outcomes = market.outcomes if market is not None else ("Yes", "No")
        tokens = [h for h in self.host.call_sync(self.engine.ledger.holdings) if h.condition_id == cid]
        if tokens:
            return " and ".join(f"{outcome_label(outcomes[1] if h.no else outcomes[0])} {shares_text(h.shares)}"
                                for h in tokens)
        net = self.engine.portfolio.position(cid).qty
        if net:
            return f"a net position of {'+' if net > 0 else ''}{shares_text(net)} {outcome_label(outcomes[0])}"
        return ""

    def _start(self, op: str, c: Candidate) -> None:
        cid, name = c.condition_id, c.market.short_question
        self._busy.add(cid)
        self._set_message(f"{'adding' if op == 'add' else 'removing'} {name}…")
        self._sync_traded()
        # an app worker, not the screen's: closing the picker must not cancel a half-done add / remove
        self.app.run_worker(self._apply(op, c), name=f"picker-{op}", group="picker-ops", exit_on_error=False)

    async def _apply(self, op: str, c: Candidate) -> None:
        cid, name = c.condition_id, c.market.short_question
        try:
            if op == "add":
                await self.host.call(self.engine.add_market, c.market)
                msg = f"added {name}: subscribed, quoting with default parameters"
                if self.engine.halted:
                    msg += " once re-armed"
            else:
                await self.host.call(self.engine.remove_market, cid)
                msg = f"removed {name}: its orders cancelled, unsubscribed"
        except Exception as e:
            msg = f"could not {op} {name}: {type(e).__name__}: {e}"
            self._busy.discard(cid)
            self.app.notify(msg, title="Markets", severity="error", timeout=10)
            if self.is_attached:
                self._set_message(msg, error=True)
                self._sync_traded()
            return
        self._busy.discard(cid)
        self.app.notify(msg, title="Markets")
        if self.is_attached:
            self._set_message(msg)
            self._sync_traded()
            self._draw_counts()

    def _draw_counts(self) -> None:
        if self.loaded:
            found = self.matches()
            traded = sum(1 for cid in self.candidates if cid in self.engine.markets)
            self._set_status(f"{len(found)} of {len(self.candidates)} markets · {traded} traded")


# ====================================================================== parameter editor


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    label: str
    kind: type  # Decimal, int or float
    help: str = ""


#: What each parameter does, as the editor says it (its range comes from ``MarketParams``' bounds).
FIELD_HELP: dict[str, tuple[str, str]] = {
    "spread": ("Spread", "the full quoted width; the adaptive models' minimum"),
    "size": ("Size", "shares per order on the inner layer"),
    "layers": ("Layers", "orders per side"),
    "layer_step": ("Layer step", "price gap between layers"),
    "size_mult": ("Size multiplier", "each outer layer's size is the inner one's times this"),
    "requote_threshold": ("Requote at", "how far (price) the fair value moves before a holding model requotes"),
    "position_limit": ("Position limit", "net YES shares either way; the adding side tapers to 0 at it"),
    "capital_weight": ("Capital weight", "this market's share of the capital, relative to the others'"),
    "tolerance_ticks": ("Tolerance ticks", "a resting order this close to its target keeps its queue place"),
    "max_order_age_s": ("Max order age s", "an order older than this is replaced anyway"),
    "fee_ticks": ("Fee ticks", "extra half-spread, in ticks (the adaptive models)"),
    "size_usd": ("Size USD", "the inner layer's size in dollars at the mid instead of shares (0: use Size)"),
    "max_size_usd": ("Max order USD", "dollars one quote may lock at most (0: no cap)"),
    "max_notional_side": ("Max USD per side", "dollars a side's quotes may lock together (0: no cap)"),
    "jitter_ticks": ("Jitter ticks", "outer layers moved away from the book by up to this many ticks"),
    "jitter_size": ("Jitter size", "outer layers shrunk by up to this fraction of their size"),
    "jitter_seed": ("Jitter seed", "the seed of the layers' jitter draws"),
    "k_vol": ("k vol", "half-spread per unit of volatility (σ over one second)"),
    "skew_ticks": ("Skew ticks", "price shift at the position limit, in ticks"),
    "gamma_a": ("γ inventory", "exponent of the inventory spread multiplier 1/(1 − |q|)^γ"),
    "j_min": ("J min", "lowest volatility-regime ratio J (1: no change of regime)"),
    "j_max": ("J max", "highest volatility-regime ratio J"),
    "c_risk": ("c risk", "liquidity premium c/κ on the half-spread, in price units (0: off)"),
    "kappa0": ("κ0 liquidity", "κ = κ0 · depth/size: how the thinner side's depth shrinks the premium"),
    "gamma": ("γ risk aversion", "per USDC, inventory in shares"),
    "horizon_s": ("Horizon s", "time left T − t; the market's end date caps it when closer"),
    "kappa": ("κ arrival decay", "order-arrival decay per price unit, until the market's own prints say"),
}
#: The groups of the common parameters, in the editor's order (each model's own follow, then any other).
COMMON_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Quotes", ("spread", "size", "layers", "layer_step", "size_mult", "requote_threshold")),
    ("Risk", ("position_limit", "capital_weight")),
    ("Order upkeep", ("tolerance_ticks", "max_order_age_s", "fee_ticks")),
    ("Dollars", ("size_usd", "max_size_usd", "max_notional_side")),
    ("Layer jitter", ("jitter_ticks", "jitter_size", "jitter_seed")),
)
MODELS: tuple[str, ...] = tuple(QUOTING_MODELS)
#: what the editor does not offer: the model is a menu, and ``enabled`` is the pause key (``p``)
NOT_FIELDS = frozenset({"model", "enabled"})


def _field(name: str) -> _Field:
    kind = MarketParams.model_fields[name].annotation
    assert isinstance(kind, type), f"{name}: an editor field needs a plain type"
    label, help_ = FIELD_HELP.get(name, (name, ""))
    for model in QUOTING_MODELS.values():  # a model's own words for its field win
        for f in model.editor_fields:
            if f.name == name:
                label, help_ = f.label, f.help
    return _Field(name, label, kind, help_)


def model_field_names(model: str) -> tuple[str, ...]:
    """The fields of ``MarketParams`` that belong to one quoting model (its ``ModelFields`` class)."""
    for c in MarketParams.__mro__:
        if isinstance(c, type) and issubclass(c, ModelFields) and "quoting_model" in vars(c) \
                and c.quoting_model.name == model:
            return tuple(n for n in c.model_fields if n not in QuoteShape.model_fields)
    return ()


def field_groups() -> tuple[tuple[str, str, tuple[_Field, ...]], ...]:
    """(group id, title, fields) of every parameter a market takes (what the market file accepts):
    the common groups, then each model's own, then any other field (none today)."""
    groups: list[tuple[str, str, tuple[_Field, ...]]] = [
        (title.lower().replace(" ", "-"), title, tuple(_field(n) for n in names)) for title, names in COMMON_GROUPS]
    for model in MODELS:
        names = model_field_names(model)
        if names:
            groups.append((f"model-{model}", f"{model} model", tuple(_field(n) for n in names)))
    placed = {f.name for _, _, fs in groups for f in fs} | NOT_FIELDS
    other = tuple(_field(n) for n in MarketParams.model_fields if n not in placed)
    if other:
        groups.append(("other", "Other", other))
    return tuple(groups)


def editor_fields() -> tuple[_Field, ...]:
    """Every field the editor shows, in order."""
    return tuple(f for _, _, fs in field_groups() for f in fs)


def _bound(name: str, op: str) -> object | None:
    """A numeric bound (``gt``, ``ge``, ``lt``, ``le``) of a ``MarketParams`` field, from its schema."""
    for meta in MarketParams.model_fields[name].metadata:
        value = getattr(meta, op, None)
        if value is not None:
            return value
    return None


def _range(name: str) -> str:
    """The allowed range of a ``MarketParams`` field from its bounds: ``0–100``, ``> 0, ≤ 10``."""
    ge, le = _bound(name, "ge"), _bound(name, "le")
    if ge is not None and le is not None:
        return f"{_num(ge)}–{_num(le)}"
    gt, lt = _bound(name, "gt"), _bound(name, "lt")
    low = f"> {_num(gt)}" if gt is not None else f"≥ {_num(ge)}" if ge is not None else ""
    high = f"< {_num(lt)}" if lt is not None else f"≤ {_num(le)}" if le is not None else ""
    return ", ".join(part for part in (low, high) if part)


def parse_field(field: _Field, text: str) -> Decimal | int | float:
    """The typed value of one editor field; raises ConfigError naming the field when not a number."""
    raw = text.strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise ConfigError(f"{field.name}: not a number (got {raw!r})")
    if field.kind is int:
        if value != value.to_integral_value():
            raise ConfigError(f"{field.name}: must be a whole number (got {raw!r})")
        return int(value)
    if field.kind is float:
        f = float(value)
        if not math.isfinite(f):
            raise ConfigError(f"{field.name}: not a number (got {raw!r})")
        return f
    return value


class ParamsEditor(ModalScreen[MarketParams | None]):
    """One market's parameters — every one the market file takes — grouped (quotes, risk, order
    upkeep, each model's own), pre-filled with the running values, each with its allowed range and
    a line on what it does. A model's group says whether the model in the menu uses it.

    Save (``enter`` in a field, ``ctrl+s`` or the button) sends only the fields that changed, in one
    ``Engine.set_params`` call, which validates them against the market (tick, minimum size) and the
    risk caps. A refusal is shown inside the modal and changes nothing; the modal stays open.
    Dismisses with the new ``MarketParams`` (``None`` when cancelled or nothing changed).
    """

    DEFAULT_CSS = """
    ParamsEditor {
        align: center middle;
    }
    ParamsEditor #editor-dialog {
        width: 110;
        max-width: 100%;
        height: auto;
        max-height: 95%;
        border: thick $primary;
        border-title-color: $primary;
        background: $surface;
        padding: 0 1;
    }
    ParamsEditor #editor-market {
        text-style: bold;
    }
    ParamsEditor .editor-group {
        margin: 1 0 0 0;
        text-style: bold;
        color: $secondary;
    }
    ParamsEditor .editor-group.-unused {
        text-style: none;
        color: $text-muted;
    }
    ParamsEditor .editor-row {
        height: auto;
    }
    ParamsEditor .editor-label {
        width: 17;
    }
    ParamsEditor .editor-row Input, ParamsEditor .editor-row Select {
        width: 16;
    }
    ParamsEditor .editor-row Input.-invalid {
        background: $error 30%;
    }
    ParamsEditor .editor-hint {
        width: 1fr;
        height: auto;
        padding: 0 0 0 1;
        color: $text-muted;
    }
    ParamsEditor #editor-error {
        width: 100%;
        height: auto;
        min-height: 1;
        margin: 1 0 0 0;
        color: $error;
        text-style: bold;
    }
    ParamsEditor #editor-buttons {
        height: 3;
        margin: 1 0 0 0;
        align-horizontal: right;
    }
    ParamsEditor #editor-buttons Button {
        margin: 0 0 0 2;
    }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="editor_cancel", tooltip="Close without changing anything"),
        Binding("enter", "save", "Save", id="editor_save", tooltip="Apply the changed fields"),
        Binding("ctrl+s", "save", "Save", id="editor_save_anywhere",
                tooltip="Apply the changed fields (also from the model menu)"),
        Binding("tab,down", "app.focus_next", "Next field", show=False, id="editor_next",
                tooltip="The next field (shift+tab / up: the one before)"),
        Binding("shift+tab,up", "app.focus_previous", "Previous field", show=False, id="editor_previous",
                tooltip="The field before"),
    ]

    def __init__(self, engine: Engine, condition_id: str, host: Host | None = None) -> None:
        """``host``: where the engine runs (``engine/host.py``): the change is applied there."""
        super().__init__()
        self.engine = engine
        self.host: Host = host or LocalHost()
        self.condition_id = condition_id
        params = engine.params.get(condition_id)
        #: the model selected in the model menu (its group is marked as the one in use)
        self.model = params.model if params is not None else MODELS[0]

    @property
    def fields(self) -> tuple[_Field, ...]:
        """Every field shown, in order."""
        return editor_fields()

    def hint(self, name: str) -> str:
        """The allowed values of one field for this market and the engine's risk caps, and what it does."""
        market = self.engine.markets.get(self.condition_id)
        tick = market.tick.decimal if market is not None else Decimal("0.01")
        s = self.engine.settings
        if name == "spread":
            allowed = f"multiple of {_num(tick)}, ≥ {_num(2 * tick)}, < {_bound('spread', 'lt')} (ask − bid)"
        elif name == "size":
            low = market.min_order_size if market is not None else _bound("size", "gt")
            allowed = f"≥ {_num(low)}, ≤ {_num(s.max_order_size)}, 0.01 steps"
        elif name == "layers":
            allowed = f"whole number {_bound('layers', 'ge')}–{_bound('layers', 'le')}"
        elif name == "layer_step":
            allowed = f"multiple of {_num(tick)}, < {_bound('layer_step', 'lt')}"
        elif name == "position_limit":
            allowed = f"> {_bound('position_limit', 'gt')}, ≤ {_num(s.max_total_position)}"
        elif name == "model":
            return " · ".join(MODELS)
        else:
            allowed = _range(name)
        what = _field(name).help
        return f"{allowed}; {what}" if what else allowed

    def _row(self, f: _Field) -> Horizontal:
        params = self.engine.params.get(self.condition_id)
        value = getattr(params, f.name) if params is not None else ""
        return Horizontal(
            Label(f.label, classes="editor-label"),
            Input(_num(value), id=f"edit-{f.name}", select_on_focus=True, compact=True),
            Label(self.hint(f.name), id=f"hint-{f.name}", classes="editor-hint"),
            id=f"row-{f.name}",
            classes="editor-row",
        )

    def _group_title(self, gid: str, title: str) -> str:
        model = gid.removeprefix("model-")
        if not gid.startswith("model-"):
            return title
        return f"{title} — in use" if model == self.model else f"{title} — used when the model is {model}"

    def compose(self) -> ComposeResult:
        params = self.engine.params.get(self.condition_id)
        market = self.engine.markets.get(self.condition_id)
        with VerticalScroll(id="editor-dialog") as dialog:  # scrolls on a short terminal
            dialog.border_title = "Parameters"
            yield Label(market.question if market is not None else self.condition_id, id="editor-market")
            with Horizontal(classes="editor-row"):
                yield Label("Model", classes="editor-label")
                yield Select([(m, m) for m in MODELS], value=self.model, allow_blank=False, id="edit-model",
                             compact=True)
                yield Label(self.hint("model"), id="hint-model", classes="editor-hint")
            for gid, title, fields in field_groups():
                yield Label(self._group_title(gid, title), id=f"group-{gid}",
                            classes="editor-group" + (" -unused" if self._unused(gid) else ""))
                for f in fields:
                    yield self._row(f)
            yield Label("" if params is not None else "this market is no longer traded", id="editor-error")
            with Horizontal(id="editor-buttons"):
                yield Button("Save (enter)", variant="primary", id="editor-save")
                yield Button("Cancel (esc)", id="editor-cancel")

    def _unused(self, gid: str) -> bool:
        return gid.startswith("model-") and gid != f"model-{self.model}"

    def on_mount(self) -> None:
        self.query_one("#edit-spread", Input).focus()

    def changes(self) -> dict[str, object]:
        """The fields whose value differs from the running one; raises ConfigError naming every
        field that is not a number."""
        running = self.engine.params[self.condition_id]
        out: dict[str, object] = {}
        problems: list[str] = []
        for f in self.fields:
            try:
                value = parse_field(f, self.query_one(f"#edit-{f.name}", Input).value)
            except ConfigError as e:
                problems.append(f"{e}; allowed: {self.hint(f.name)}")
                continue
            if value != getattr(running, f.name):
                out[f.name] = value
        model = self.query_one("#edit-model", Select).value
        if model != running.model:
            out["model"] = model
        if problems:
            raise ConfigError("; ".join(problems))
        return out

    @on(Select.Changed, "#edit-model")
    def _model_selected(self, event: Select.Changed) -> None:
        """Mark the newly selected model's group as the one in use."""
        if not isinstance(event.value, str) or event.value == self.model:
            return
        self.model = event.value
        for gid, title, _ in field_groups():
            label = self.query_one(f"#group-{gid}", Label)
            label.update(self._group_title(gid, title))
            label.set_class(self._unused(gid), "-unused")

    @on(Input.Submitted)
    def _field_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    @on(Button.Pressed, "#editor-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#editor-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        """Apply every changed field in one ``set_params`` call; on a refusal show why and stay open."""
        if self.condition_id not in self.engine.params:
            self._show_error("this market is no longer traded")
            return
        try:
            changes = self.changes()
            if not changes:
                self.app.notify("No change", title="Parameters")
                self.dismiss(None)
                return
            new = self.host.call_sync(self.engine.set_params, self.condition_id, **changes)
        except ConfigError as e:
            self._show_error(str(e))
            return
        market = self.engine.markets[self.condition_id]
        self.app.notify(", ".join(f"{k}={_num(v)}" for k, v in changes.items()),
                        title=f"Saved · {market.short_question}")
        self.dismiss(new)

    def _show_error(self, message: str) -> None:
        error = self.query_one("#editor-error", Label)
        error.update(Text(f"Not changed: {message}"))
        error.scroll_visible()  # the dialog scrolls on a short terminal
        named = {part.split(":", 1)[0].strip() for part in message.split(";")}
        for f in self.fields:
            self.query_one(f"#edit-{f.name}", Input).set_class(f.name in named, "-invalid")


# ====================================================================== flatten


class FlattenScreen(ModalScreen[str | None]):
    """Flatten a market's position — or switch it to reduce-only instead: ``y`` flattens (dismisses with
    ``"flatten"``), ``r`` switches reduce-only on or off (``"reduce"``), ``n`` or ``escape`` changes
    nothing (None)."""

    BINDINGS = [
        Binding("y", "answer('flatten')", "Flatten", id="flatten_yes",
                tooltip="Send the marketable order that takes the position to zero"),
        Binding("r", "answer('reduce')", "Reduce-only", id="flatten_reduce_only",
                tooltip="Instead: quote only the side that reduces the position (r again: both sides)"),
        Binding("n,escape", "answer(None)", "No", id="flatten_no", tooltip="Change nothing"),
    ]

    def __init__(self, question: str, can_flatten: bool = True, reduce_only: bool = False) -> None:
        super().__init__()
        self.question = question
        self.can_flatten = can_flatten
        self.reduce_only = reduce_only

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Label(self.question, id="confirm-question")
            with Horizontal(id="confirm-buttons"):
                if self.can_flatten:
                    yield Button("Flatten (y)", variant="error", id="flatten-yes")
                yield Button("Reduce-only off (r)" if self.reduce_only else "Reduce-only (r)", variant="warning",
                             id="flatten-reduce")
                yield Button("No (n)", variant="primary", id="flatten-no")

    def action_answer(self, choice: str | None) -> None:
        if choice == "flatten" and not self.can_flatten:
            return
        self.dismiss(choice)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss({"flatten-yes": "flatten", "flatten-reduce": "reduce"}.get(event.button.id or ""))


# ====================================================================== help


def _key_label(key: str) -> str:
    """``ctrl+k`` stays ``ctrl+k``; named symbols become their character (``question_mark`` → ``?``)."""
    modifiers, name = Binding(key, "").parse_key()
    shown = {"enter": "enter", "escape": "escape"}.get(name) or format_key(name)
    return "+".join([*modifiers, shown])


def binding_rows(bindings: Iterable[BindingType]) -> list[tuple[str, str, str, str]]:
    """(keys, description, tooltip, id) for each binding, keys of one binding joined by `` / ``."""
    rows = []
    for b in bindings:
        binding = b if isinstance(b, Binding) else Binding(*b)
        keys = " / ".join(_key_label(k.strip()) for k in binding.key.split(","))
        rows.append((keys, binding.description or binding.action, binding.tooltip, binding.id or ""))
    return rows


#: Moving around: the markets table's keys (``markets.MarketsTable.BINDINGS``) and Textual's own, in plain words.
NAVIGATION: tuple[Binding, ...] = (
    Binding("up,down", "", "Select", tooltip="Move the markets table's cursor: the book, trades and signals follow"),
    Binding("pageup,pagedown,home,end", "", "Scroll",
            tooltip="Move the markets table's cursor a page, to the first or the last market"),
    Binding("enter", "", "Keep filter",
            tooltip="In the markets filter box (/): keep the filter and give the keys back to the table"),
    Binding("escape", "", "Clear filter",
            tooltip="In the markets table or its filter box: clear the filter, every market again"),
    Binding("tab,shift+tab", "", "Focus", tooltip="Move the focus between the markets table and the other tables"),
    Binding("ctrl+p", "", "Palette", tooltip="The command palette: every action by name, and Quit, Theme, Keys"),
    Binding("ctrl+q,ctrl+c", "", "Quit", tooltip="Cancel every order of ours, then quit (as q)"),
)


class HelpScreen(ModalScreen[None]):
    """Every key binding of the app (key, what it does, binding id), then the modals' own keys."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen #help-dialog {
        width: 92%;
        max-width: 140;
        height: 90%;
        border: thick $primary;
        border-title-color: $primary;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen #help-table {
        height: 1fr;
    }
    HelpScreen #help-keys {
        height: 1;
        color: $text-muted;
    }
    """

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help_close", tooltip="Close this help")]

    def __init__(self, bindings: Sequence[BindingType]) -> None:
        super().__init__()
        self.app_bindings = list(bindings)

    def sections(self) -> list[tuple[str, Sequence[BindingType]]]:
        return [
            ("dashboard", self.app_bindings),
            ("moving around", NAVIGATION),
            ("market picker", MarketPicker.BINDINGS),
            ("parameter editor", ParamsEditor.BINDINGS),
            ("flatten", FlattenScreen.BINDINGS),
            ("yes / no questions", ConfirmScreen.BINDINGS),
            ("this help", self.BINDINGS),
        ]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog") as dialog:
            dialog.border_title = "Keys"
            yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)
            yield Label("escape, ? or q closes · the status bar's words are at the end", id="help-keys")

    def listing(self) -> list[tuple[str, str, str, str, str]]:
        """(where, keys, action, what it does, binding id): every key, then the status bar's words."""
        out = [(where, *row) for where, bindings in self.sections() for row in binding_rows(bindings)]
        out += [("status bar", shown, "", meaning, "") for shown, meaning in LEGEND]
        return out

    def on_mount(self) -> None:
        """One section after another, under its name; on a narrow terminal the description wraps and the
        binding id (for keymaps) follows it, instead of a column of its own."""
        table = self.query_one("#help-table", DataTable)
        inside = min(self.app.size.width * 92 // 100, 140) - 4 - 2  # the dialog's border and padding, scrollbar
        wide = inside >= 120
        fixed = 16 + 14 + (22 if wide else 0)
        what = max(inside - fixed - 2 * (4 if wide else 3), 20)
        columns = [("keys", "Key", 16), ("action", "Action", 14), ("tooltip", "What it does", what)]
        for key, label, width in columns + ([("id", "Binding id", 22)] if wide else []):
            table.add_column(label, key=key, width=width)
        where_now = ""
        for where, keys, action, tooltip, bid in self.listing():
            if where != where_now:
                where_now = where
                table.add_row(Text(where, style="bold reverse"), "", "", *([""] if wide else []))
            described = Text(tooltip)
            if bid and not wide:
                described.append(f" ({bid})", style="dim")
            id_cell = [Text(bid, style="dim")] if wide else []
            table.add_row(Text(keys, style="bold"), Text(action), described, *id_cell, height=None)
        table.focus()

    def rows(self) -> list[tuple[str, ...]]:
        """Every key as plain text: (where, keys, action, what it does, binding id) (tests, copy-paste)."""
        return list(self.listing())
