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
from ..domain.quoting_models.base import EditorField
from ..engine.engine import Engine
from ..venue.discovery import Candidate, Discovery, Filters, RankBy, describe_filters, rank, selection_filters
from ..venue.rest import PublicClient
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
QUESTION_WIDTH = 58


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
        height: 1;
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("escape", "dismiss", "Close", id="picker_close", tooltip="Close the market picker"),
        Binding("enter", "toggle_market", "Add/remove", id="picker_toggle",
                tooltip="Add the highlighted market, or remove it if traded"),
        Binding("a", "add", "Add", id="picker_add", tooltip="Add the highlighted market (subscribe and quote)"),
        Binding("d", "remove", "Remove", id="picker_remove",
                tooltip="Remove the highlighted market: cancel orders, unsubscribe"),
        Binding("ctrl+s", "cycle_sort", "Sort", id="picker_sort", tooltip="Sort by volume, spread, reward, score"),
        Binding("f5", "reload", "Reload", id="picker_reload", tooltip="Read the markets from Gamma again"),
        Binding("ctrl+f", "toggle_selection", "Selection/all", id="picker_selection",
                tooltip="Show the automatic selection's markets (POLYMM_SELECT_*), or every open market"),
        Binding("down", "move(1)", "Down", show=False, id="picker_down", tooltip="Next market (while typing)"),
        Binding("up", "move(-1)", "Up", show=False, id="picker_up", tooltip="Previous market (while typing)"),
    ]

    def __init__(self, engine: Engine, settings: Settings) -> None:
        super().__init__()
        self.engine = engine
        self.settings = settings
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
            yield Label("enter add/remove · a add · d remove (in the list) · ↑↓ move · ctrl+s sort · "
                        "ctrl+f selection/all · f5 reload · esc close", id="picker-keys")

    def on_mount(self) -> None:
        table = self.query_one("#picker-table", DataTable)
        for key, label, width in (("traded", "Traded", 7), ("market", "Market", QUESTION_WIDTH),
                                  ("volume", "Vol 24h", 11), ("spread", "Spread", 7), ("reward", "Reward/d", 9),
                                  ("tick", "Tick", 6), ("ends", "Ends", 5)):
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
        for cid, m in self.engine.markets.items():
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
        q = q if len(q) <= QUESTION_WIDTH else q[: QUESTION_WIDTH - 1] + "…"
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
        """What we hold in a market, for a person (``Yes 20.00``; ``Yes 5.00 and No 3.00``), "" when
        nothing: the ledger's tokens with a non-zero count, else the market's YES-terms position."""
        market = self.engine.markets.get(cid)
        outcomes = market.outcomes if market is not None else ("Yes", "No")
        tokens = [h for h in self.engine.ledger.holdings() if h.condition_id == cid]
        if tokens:
            return " and ".join(f"{outcomes[1] if h.no else outcomes[0]} {shares_text(h.shares)}" for h in tokens)
        net = self.engine.portfolio.position(cid).qty
        if net:
            return f"a net position of {'+' if net > 0 else ''}{shares_text(net)} {outcomes[0]}"
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
                await self.engine.add_market(c.market)
                msg = f"added {name}: subscribed, quoting with default parameters"
                if self.engine.halted:
                    msg += " once re-armed"
            else:
                await self.engine.remove_market(cid)
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


#: The fields every model has, around the selected model's own (``QuotingModel.editor_fields``): the
#: quotes' shape first, the position limit last.
SHAPE_FIELDS = (
    _Field("spread", "Spread", Decimal),
    _Field("size", "Size", Decimal),
    _Field("layers", "Layers", int),
    _Field("layer_step", "Layer step", Decimal),
)
LIMIT_FIELDS = (_Field("position_limit", "Position limit", Decimal),)
MODELS: tuple[str, ...] = tuple(QUOTING_MODELS)


def _model_field(f: EditorField) -> _Field:
    kind = MarketParams.model_fields[f.name].annotation
    assert isinstance(kind, type), f"{f.name}: an editor field needs a plain type"
    return _Field(f.name, f.label, kind)


def model_fields(model: str) -> tuple[_Field, ...]:
    """The fields the model offers besides the common ones."""
    return tuple(_model_field(f) for f in QUOTING_MODELS[model].editor_fields)


def editor_fields(model: str) -> tuple[_Field, ...]:
    """Every field the editor shows for ``model``, in order."""
    return SHAPE_FIELDS + model_fields(model) + LIMIT_FIELDS


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
    """One market's parameters, pre-filled with the running values.

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
        width: 96;
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
        margin: 0 0 1 0;
    }
    ParamsEditor .editor-row {
        height: 3;
    }
    ParamsEditor .editor-label {
        width: 16;
        height: 3;
        content-align: left middle;
    }
    ParamsEditor .editor-row Input, ParamsEditor .editor-row Select {
        width: 24;
    }
    ParamsEditor .editor-hint {
        width: 1fr;
        height: 3;
        padding: 0 1;
        content-align: left middle;
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
    ]

    def __init__(self, engine: Engine, condition_id: str) -> None:
        super().__init__()
        self.engine = engine
        self.condition_id = condition_id
        params = engine.params.get(condition_id)
        #: the model whose fields are shown: the one selected in the model menu
        self.model = params.model if params is not None else MODELS[0]

    @property
    def fields(self) -> tuple[_Field, ...]:
        """The fields shown: the common ones around the selected model's own."""
        return editor_fields(self.model)

    def hint(self, name: str) -> str:
        """The allowed values of one field for this market and the engine's risk caps."""
        market = self.engine.markets.get(self.condition_id)
        tick = market.tick.decimal if market is not None else Decimal("0.01")
        s = self.engine.settings
        if name == "spread":
            return f"multiple of {_num(tick)}, ≥ {_num(2 * tick)}, < {_bound('spread', 'lt')} (ask − bid)"
        if name == "size":
            low = market.min_order_size if market is not None else _bound("size", "gt")
            return f"shares per order, ≥ {_num(low)}, ≤ {_num(s.max_order_size)}, 0.01 steps"
        if name == "layers":
            return f"orders per side, whole number {_bound('layers', 'ge')}–{_bound('layers', 'le')}"
        if name == "layer_step":
            return f"multiple of {_num(tick)}, < {_bound('layer_step', 'lt')}; gap between layers"
        if name == "position_limit":
            return f"shares either way, > {_bound('position_limit', 'gt')}, ≤ {_num(s.max_total_position)}"
        if name == "model":
            return " · ".join(MODELS)
        return self._own_hint(name)

    def _own_hint(self, name: str) -> str:
        """The hint of one of the selected model's own fields: its range and what it does."""
        for f in QUOTING_MODELS[self.model].editor_fields:
            if f.name == name:
                return f"{_range(name)}; {f.help}"
        return ""

    def _row(self, f: _Field, classes: str = "editor-row") -> Horizontal:
        params = self.engine.params.get(self.condition_id)
        value = getattr(params, f.name) if params is not None else ""
        return Horizontal(
            Label(f.label, classes="editor-label"),
            Input(_num(value), id=f"edit-{f.name}", select_on_focus=True),
            Label(self.hint(f.name), id=f"hint-{f.name}", classes="editor-hint"),
            id=f"row-{f.name}",
            classes=classes,
        )

    def compose(self) -> ComposeResult:
        params = self.engine.params.get(self.condition_id)
        market = self.engine.markets.get(self.condition_id)
        with VerticalScroll(id="editor-dialog") as dialog:  # scrolls on a short terminal
            dialog.border_title = "Parameters"
            yield Label(market.question if market is not None else self.condition_id, id="editor-market")
            for f in SHAPE_FIELDS:
                yield self._row(f)
            for f in model_fields(self.model):
                yield self._row(f, "editor-row editor-model-row")
            for f in LIMIT_FIELDS:
                yield self._row(f)
            with Horizontal(classes="editor-row"):
                yield Label("Model", classes="editor-label")
                yield Select([(m, m) for m in MODELS], value=self.model, allow_blank=False, id="edit-model")
                yield Label(self.hint("model"), id="hint-model", classes="editor-hint")
            yield Label("" if params is not None else "this market is no longer traded", id="editor-error")
            with Horizontal(id="editor-buttons"):
                yield Button("Save (enter)", variant="primary", id="editor-save")
                yield Button("Cancel (esc)", id="editor-cancel")

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
    async def _model_selected(self, event: Select.Changed) -> None:
        """Show the newly selected model's own fields (pre-filled with the running values)."""
        if not isinstance(event.value, str) or event.value == self.model:
            return
        self.model = event.value
        await self.query(".editor-model-row").remove()
        rows = [self._row(f, "editor-row editor-model-row") for f in model_fields(self.model)]
        if rows:
            await self.query_one("#editor-dialog").mount(*rows, before=f"#row-{LIMIT_FIELDS[0].name}")

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
            new = self.engine.set_params(self.condition_id, **changes)
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
            ("market picker", MarketPicker.BINDINGS),
            ("parameter editor", ParamsEditor.BINDINGS),
            ("this help", self.BINDINGS),
        ]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog") as dialog:
            dialog.border_title = "Keys"
            yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)
            yield Label("escape, ? or q closes", id="help-keys")

    def on_mount(self) -> None:
        table = self.query_one("#help-table", DataTable)
        for key, label, width in (("where", "Where", 17), ("keys", "Key", 16), ("action", "Action", 12),
                                  ("tooltip", "What it does", 60), ("id", "Binding id", 22)):
            table.add_column(label, key=key, width=width)
        for where, bindings in self.sections():
            for i, (keys, action, tooltip, bid) in enumerate(binding_rows(bindings)):
                table.add_row(Text(where if i == 0 else "", style="bold"), Text(keys, style="bold"), Text(action),
                              Text(tooltip), Text(bid, style="dim"))
        table.focus()

    def rows(self) -> list[tuple[str, ...]]:
        """The table as plain text (tests, copy-paste)."""
        table = self.query_one("#help-table", DataTable)
        return [tuple(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)]
