"""``polymm-tui``: the operator's dashboard.

The engine the App builds runs its loops (feed, strategy, risk, …) on an event loop of its own, on a
thread of its own (``polymm.engine.host``): a redraw of 10–36 ms at 300 markets never holds up a
frame's step. The App polls the StateStore every 50 ms and draws the panels whose slices changed, each
at its own cadence (``polymm.tui.panels``: a panel declares what it reads and how often it is drawn;
the app draws the panels it composed). It never touches trading state: every action goes through the
Engine's command API, run on the engine's loop (``self.host.call``). A trading loop that fails engages
the kill switch (``Engine.guard``) and is reported on screen; it never takes the app down.

Every way out cancels: ``q``, ctrl+q and the command palette's Quit (Textual's ``quit`` action),
ctrl+c (Textual binds it to ``help_quit``, a hint, when no text is selected to copy), and in the
program SIGTERM, SIGHUP (the terminal closed) and SIGINT all go through ``action_quit``: the engine
stops with cancel-all, confirmed at the venue, before the app exits (``stop_summary`` says how it went).
Any other exit (a crash, Textual's panic) still stops the engine the app started, on unmount.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import termios
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from importlib import resources
from pathlib import Path

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.drivers._writer_thread import WriterThread
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Footer, Label, Sparkline, Tab, Tabs
from textual.worker import Worker, WorkerState

from ..config import ConfigError, Settings
from ..domain.market import Market
from ..engine.engine import Engine
from ..engine.heap import SETTLE_AFTER_S, settle_heap, settle_when_started
from ..engine.host import EngineHost, Host, LocalHost
from ..state import ExecutionState, StateStore
from ..venue.retry import describe as venue_error
from .panels import SORTS, Frame, Panel, Schedule
from .screens import FlattenScreen, HelpScreen, MarketPicker, ParamsEditor
from .text import held_text, money, shares_text, signed_shares_text
from .widgets import (
    ConfirmScreen,
    EventLog,
    FillsTable,
    LadderTitle,
    MarketsTable,
    NoticeBanner,
    OpenOrdersTable,
    OrderBookLadder,
    PnlSummary,
    PositionsPanel,
    SignalsPanel,
    StatusBar,
    TradesTape,
    pnl_pieces,
)

REFRESH_S = 0.05  # UI reads the store at most 20 times a second; each panel declares its own cadence
CHART_S = 1.0  # one point a second for the session P&L and inventory charts
CHART_POINTS = 600
#: from this many columns and rows the panels sit side by side (the wide layout); below either, the
#: markets table takes the width and every other panel is a tab under it (the compact layout)
WIDE_COLUMNS = 130
WIDE_ROWS = 40


@dataclass(frozen=True)
class PaneTab:
    """A tab of the dashboard: its name (the tab's id is ``tab-<name>``), label, key, and the pane it
    shows. ``beside``: on a wide, tall terminal the pane is always on screen, beside the tabs."""

    name: str
    label: str
    key: str
    pane: str
    beside: bool = False


TABS = (
    PaneTab("book", "Book", "1", "book-box", beside=True),
    PaneTab("positions", "Positions", "2", "pnl-box", beside=True),
    PaneTab("signals", "Signals", "3", "signals", beside=True),
    PaneTab("trades", "Trades", "4", "tape-box", beside=True),
    PaneTab("log", "Log", "5", "event-log"),
    PaneTab("orders", "Orders", "6", "orders"),
    PaneTab("fills", "Fills", "7", "fills"),
)
TAB_BY_NAME = {t.name: t for t in TABS}


class PaneTabs(Tabs, can_focus=False):
    """The dashboard's tabs: clicked or chosen with their keys (1–7); never focused, so the arrows keep
    moving the markets table's cursor."""
#: what stops the program the orderly way (``stop_signals``); SIGINT arrives only from ``kill`` (the
#: terminal's ctrl+c is a key while Textual runs)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


@dataclass(frozen=True)
class StopSummary:
    """How the engine's stop went: ``cancelled`` orders of ours rested when it began, ``left`` still
    rest as far as the execution knows after cancel-all (live and demo: checked with /data/orders)."""

    cancelled: int
    left: int
    venue: bool  # live or demo: a venue holds the orders (paper: only our simulation)
    error: str = ""

    @property
    def confirmed(self) -> bool:
        return not self.left and not self.error

    def line(self) -> str:
        """One line for the terminal once the app has exited."""
        if self.error:
            return (f"stopping failed ({self.error}); orders of ours may still rest at the venue: "
                    f"run `polymm cancel-all`")
        if self.left:
            return (f"stopped: {self.left} orders of ours may still rest at the venue (cancel-all did not "
                    f"confirm); run `polymm cancel-all`")
        if not self.venue:
            return f"stopped: {self.cancelled} paper orders cancelled"
        return f"stopped: {self.cancelled} resting orders cancelled; the venue confirms none of ours rest"


def stylesheet_path() -> Path:
    """``app.tcss`` inside the installed package, else the repository root (editable installs)."""
    packaged = resources.files("polymm").joinpath("app.tcss")
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "app.tcss"


class PolymmApp(App[None]):
    """The dashboard. Give it settings (and optionally fixed markets); it builds the engine."""

    CSS_PATH = stylesheet_path()
    TITLE = "polymm"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE_COLUMNS, "-wide")]  # -narrow or -short: compact (tcss)
    VERTICAL_BREAKPOINTS = [(0, "-short"), (WIDE_ROWS, "-tall")]

    BINDINGS = [
        Binding("ctrl+k", "kill", "KILL", priority=True, id="kill", tooltip="Cancel every order and halt"),
        Binding("ctrl+r", "rearm", "Re-arm", id="rearm", tooltip="Resume quoting after a kill (asks first)"),
        Binding("m", "pick_markets", "Markets", id="pick_markets", tooltip="Add or remove markets"),
        Binding("e", "edit_params", "Edit", id="edit_params", tooltip="Edit the selected market's parameters"),
        Binding("plus,equals_sign", "spread(1)", "Spread+", show=False, id="spread_up",
                tooltip="Widen the selected market's spread by one tick"),
        Binding("minus", "spread(-1)", "Spread-", show=False, id="spread_down",
                tooltip="Narrow the selected market's spread by one tick"),
        Binding("right_square_bracket", "size(1)", "Size+", show=False, id="size_up",
                tooltip="Raise the selected market's size by one step"),
        Binding("left_square_bracket", "size(-1)", "Size-", show=False, id="size_down",
                tooltip="Lower the selected market's size by one step"),
        Binding("f", "flatten", "Flatten", id="flatten",
                tooltip="Flatten the selected market's position at market (asks first; or switch it to reduce-only)"),
        Binding("p", "toggle_pause", "Pause", id="pause", tooltip="Pause or resume the selected market"),
        Binding("s", "cycle_sort", "Sort", id="sort",
                tooltip="Sort the markets: P&L, position, book activity, fills, state, name, as listed"),
        Binding("slash", "filter_markets", "Filter", show=False, id="filter_markets",  # the table's title says /
                tooltip="Filter the markets as you type: a piece of the name or the condition id (escape clears)"),
        Binding("n", "toggle_outcome", "YES/NO", show=False, id="toggle_outcome",
                tooltip="Show the ladder and the trades as the YES or the NO book"),
        Binding("l", "cycle_log_level", "Log level", show=False, id="log_level",
                tooltip="Filter the event log: all, warnings and errors, errors (the Log tab says which)"),
        *(Binding(t.key, f"show_tab('{t.name}')", t.label, show=False, id=f"tab_{t.name}",
                  tooltip=f"Show the {t.label} tab" + (" (on a small terminal; a wide one shows it beside)"
                                                       if t.beside else "")) for t in TABS),
        Binding("question_mark", "help", "Help", id="help", tooltip="Every key, and what the status bar says"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Cancel all orders and quit"),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        mode: str = "PAPER",
        markets: list[Market] | None = None,
        venue_host: str = "",
        engine: Engine | None = None,
        settle_heap: bool = False,
        on_engine: Callable[[Engine], Awaitable[None]] | None = None,
        stop_signals: bool = False,
        engine_thread: bool = True,
    ) -> None:
        """``engine``: an engine built elsewhere and not started (snapshot tests, embedding); the app
        then only draws its store and sends its commands — no loops, no discovery. ``settle_heap``:
        freeze the start-up heap once the engine runs (``polymm.engine.heap``; the program sets it).
        ``on_engine``: what the program runs beside the engine once it started (a worker: the market
        file watcher, the metrics endpoint). ``stop_signals``: SIGTERM, SIGHUP and SIGINT quit the way
        ``q`` does (the program sets it; tests that drive the app leave the process's signals alone).
        ``engine_thread``: the engine the app builds runs its loops on a thread of its own
        (``engine/host.py``: a redraw never holds up a frame's step); False: on the app's loop."""
        super().__init__()
        self.settings = settings
        self.mode = mode
        self.venue_host = venue_host or settings.clob_url
        self._fixed_markets = markets
        self._given_engine = engine
        self._settle_heap = settle_heap
        self._on_engine = on_engine
        self.store = engine.store if engine is not None else StateStore()
        self.engine: Engine | None = engine
        #: where the engine's loops and the app's commands to it run (``engine/host.py``)
        self.host: Host = LocalHost(on_error=self._engine_task_failed)
        self._engine_thread = engine_thread and engine is None
        self._seen_version = 0
        self._selected: str | None = None
        #: monotonic times of the last store → widget refreshes (tui_bench reads the intervals)
        self.refresh_times: deque[float] = deque(maxlen=10_000)
        #: how long each of them took, ms (tui_bench: the drawing's own cost, apart from the loop's stalls)
        self.refresh_costs: deque[float] = deque(maxlen=10_000)
        self._panels: list[Panel] = []  # the panels composed, in layout order (on mount)
        self._schedule = Schedule(())
        self._pnl_points: deque[Decimal] = deque(maxlen=CHART_POINTS)
        self._inv_points: deque[Decimal] = deque(maxlen=CHART_POINTS)
        self._capital_at = 0.0  # when the capital operations' counts were last shown (monotonic)
        self._capital_title = ""
        self._stop_signals = stop_signals
        self._quitting = False  # set by the first way out: an engine still starting then never quotes
        self._stopping: asyncio.Future[StopSummary] | None = None
        #: set once the engine stopped through ``stop_engine`` (None: it never ran, or still runs)
        self.stop_summary: StopSummary | None = None
        self.sort = "listed"  # the markets table's sort (``s``; ``panels.SORTS``)
        self.compact = False  # the compact layout: one tab at a time under the markets table
        self.chosen_tab: str | None = None  # the tab the operator chose last (None: the layout's default)
        self._hidden: set[Panel] = set()  # panels on a pane not shown now: not drawn

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        """One container of panes in an order that suits both layouts (app.tcss): a grid on a wide, tall
        terminal (markets over positions and signals on the left, the book and the trades on the
        right, the tabs and their pane under them), a column on a small one (the markets table, the one
        pane of the tab chosen, the tabs docked at the bottom)."""
        yield StatusBar(id="status-bar")
        yield NoticeBanner(id="notice-banner")
        with Container(id="main"):
            yield MarketsTable(id="markets")
            with Vertical(id="book-box", classes="pane"):
                yield LadderTitle("", id="ladder-title")
                yield OrderBookLadder(id="ladder")
            with Vertical(id="pnl-box", classes="pane"):
                yield PnlSummary(id="pnl-summary")
                yield PositionsPanel(id="positions")
                yield Label(PNL_CHART, id="pnl-chart-label", classes="chart-label")
                yield Sparkline([], id="pnl-chart")
                yield Label(INV_CHART, id="inv-chart-label", classes="chart-label")
                yield Sparkline([], id="inv-chart")
            yield SignalsPanel(id="signals", classes="pane")
            yield PaneTabs(*(Tab(f"{t.key} {t.label}", id=f"tab-{t.name}") for t in TABS), id="tabs")
            with Vertical(id="tape-box", classes="pane"):
                yield TradesTape(id="tape")
                yield Button("KILL  (ctrl+k)", variant="error", id="kill-button")
            yield EventLog(id="event-log", classes="pane")
            yield OpenOrdersTable(id="orders", classes="pane")
            yield FillsTable(id="fills", classes="pane")
        yield Footer(compact=True, show_command_palette=False)  # ctrl+p still opens it (the help says so)

    async def on_mount(self) -> None:
        for wid, title in (("#pnl-box", "Positions & P&L"), ("#signals", "Signals"), ("#tape", "Trades")):
            self.query_one(wid).border_title = title
        self._show_sort()
        self._panels = [node for node in self.query("*") if isinstance(node, Panel)]
        self._schedule = Schedule(p.PANEL for p in self._panels)
        self.query_one(StatusBar).show(None, None, None)
        self._apply_layout()
        if self._stop_signals:
            _guard_output(self)
            loop = asyncio.get_running_loop()
            for sig in STOP_SIGNALS:  # the loop's handlers go when the loop closes, after the app exited
                loop.add_signal_handler(sig, self._on_stop_signal, sig)
        self.run_worker(self._refresh_loop(), name="ui-refresh", group="ui", exit_on_error=False)
        if self._given_engine is None:
            self.start_engine()
            self.set_interval(CHART_S, self._sample_charts)
        else:
            self.refresh_from_store()

    async def _refresh_loop(self) -> None:
        """Read the store every ``REFRESH_S`` on a fixed schedule. A late tick runs as soon as the loop
        is free and the schedule goes on from there: a stall delays one refresh by the stall, not by a
        whole skipped period (Textual's own timers skip missed ticks, so a 30 ms stall there shows as
        a 2-period gap)."""
        loop = asyncio.get_running_loop()
        next_at = loop.time() + REFRESH_S
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            try:
                self.refresh_from_store()
            except Exception as e:  # a drawing bug must never stop the dashboard from updating
                self.log.error(f"refresh failed: {type(e).__name__}: {e}")
            now = loop.time()
            next_at = max(next_at + REFRESH_S, now + REFRESH_S / 5)  # never a burst of catch-up ticks

    def _show_capital(self) -> None:
        """The engine's merges, redeems and splits (POLYMM_AUTO_MERGE / _AUTO_REDEEM) on the lower border
        of the positions box: in flight, confirmed (ok) and failed since the start (short enough for 80
        columns). Nothing without a capital manager."""
        cap = self.engine.capital if self.engine is not None else None
        if cap is None or not self.screen.query("#pnl-box"):
            return
        failed = f"[bold red]{cap.failed} failed[/]" if cap.failed else "0 failed"
        title = f"capital {len(cap.in_flight)} in flight {cap.confirmed} ok {failed}"
        if self._capital_title != title:
            self._capital_title = self.query_one("#pnl-box").border_subtitle = title

    def _sample_charts(self) -> None:
        """One point a second for the session charts (bounded: the last CHART_POINTS); each chart's label
        says the range it spans."""
        total = self.store.get("portfolio")
        pnl = total.total_pnl if total is not None else Decimal(0)
        inv = sum((st.position for k in self.store.keys("market/") if (st := self.store.get(k)) is not None),
                  Decimal(0))
        self._pnl_points.append(pnl)
        self._inv_points.append(inv)
        if self.screen.query("#pnl-chart"):
            self.query_one("#pnl-chart", Sparkline).data = [float(v) for v in self._pnl_points]
            self.query_one("#inv-chart", Sparkline).data = [float(v) for v in self._inv_points]
            self.query_one("#pnl-chart-label", Label).update(chart_label(PNL_CHART, self._pnl_points, money, " pUSD"))
            self.query_one("#inv-chart-label", Label).update(chart_label(INV_CHART, self._inv_points,
                                                                         signed_shares_text))

    @work(exclusive=True, group="setup", exit_on_error=False)
    async def start_engine(self) -> None:
        """Discover markets (unless given), build the engine, start its loops on its host. An unreachable
        venue is asked again, with a backoff, for as long as the app runs: the status bar and the banner
        say ``venue unreachable: <why> — retrying in N s`` (``_venue_wait``) until it answers. Unknown
        market ids are named in a persistent notice; the markets found are traded."""
        from ..ops.programs import LastSelection, UnknownMarkets, initial_markets
        from ..venue.retry import until_reachable

        execution = "paper" if self.mode == "PAPER" else "live"
        markets = self._fixed_markets
        selection = LastSelection()
        if markets is None:
            self.store.set("execution", ExecutionState(execution, 0, 0, None, 0, 0, 0, ready=False,
                                                       reason=f"listing markets at {self.settings.gamma_url}"))
            quick = self.settings.model_copy(update={"venue_retry_s": 0.0})  # the countdown below retries
            try:
                markets = await until_reachable(
                    lambda: initial_markets(quick, on_retry=lambda t: self.store.log(t, "warning"),
                                            on_selected=selection),
                    lambda why, s: self._venue_wait(execution, why, s))
            except UnknownMarkets as e:
                self.store.set("notice", str(e))
                self.store.log(str(e), "error")
                markets = e.found
            except Exception as e:  # not the venue being away: a bad market file, say
                reason = f"could not list markets at {self.settings.gamma_url}: {venue_error(e)}"
                self.store.log(reason, "error")
                self.store.set("notice", f"{reason}; fix it and restart polymm-tui")
                self.store.set("execution", ExecutionState(execution, 0, 0, None, 0, 0, 0, ready=False, reason=reason))
                return
        if self._engine_thread and not isinstance(self.host, EngineHost):
            ui = asyncio.get_running_loop()

            def failed(name: str, error: BaseException) -> None:  # on the engine's thread: shown on the UI's
                ui.call_soon_threadsafe(self._engine_task_failed, name, error)

            self.host = EngineHost(on_error=failed)
        host = self.host
        while True:
            engine = await host.call(Engine, self.settings, markets, self.store, mode=self.mode,
                                     venue_host=self.venue_host)
            try:
                await host.call(engine.start)
                break
            except Exception as e:
                from ..venue.retry import VenueUnavailable, is_transient

                if is_transient(e) or isinstance(e, VenueUnavailable):
                    with contextlib.suppress(Exception):
                        await host.call(engine.stop, cancel_orders=False)
                    await self._venue_wait(execution, f"venue unreachable: {venue_error(e)}", 10.0)
                    continue
                # bad credentials and the like: say so, trade nothing
                self.store.log(f"could not start execution: {type(e).__name__}: {e}", "error")
                self.store.set("notice", f"execution did not start: {venue_error(e)}")
                await host.call(engine.kill, f"execution did not start: {type(e).__name__}")
                self.engine = engine
                return
        self.engine = engine
        await host.call(selection.journal, engine)
        if self._quitting:  # a way out was taken while the engine started: stop it before it quotes
            await self.stop_engine()
            return
        if self._on_engine is not None:
            host.spawn(self._on_engine(engine), "extras")
        for name, loop in engine.loops():
            host.spawn(engine.guard(name, loop), name)
        if self._settle_heap:  # after the first books and screens: most of what start-up made is in place
            self.set_timer(SETTLE_AFTER_S, settle_heap)
            host.spawn(settle_when_started(engine.all_quoting), "settle-heap")  # and once every market quotes

    def _engine_task_failed(self, name: str, error: BaseException) -> None:
        """One of the engine's loops (or the program's extras) ended with an error: on screen (its
        ``guard`` logged it and engaged the kill switch)."""
        self.notify(f"{name} stopped: {error}", severity="error", timeout=10)

    async def _venue_wait(self, execution: str, why: str, seconds: float) -> None:
        """Say why nothing trades and when the next try is, counting down each second, then return."""
        self.store.log(f"{why}; retrying in {seconds:.0f} s", "warning")
        left = seconds
        while left > 0:
            self.store.set("execution", ExecutionState(execution, 0, 0, None, 0, 0, 0, ready=False,
                                                       reason=f"{why} — retrying in {left:.0f} s"))
            await asyncio.sleep(min(1.0, left))
            left -= 1.0
        self.store.set("execution", ExecutionState(execution, 0, 0, None, 0, 0, 0, ready=False,
                                                   reason=f"{why} — retrying now"))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.notify(f"{event.worker.name} stopped: {event.worker.error}", severity="error", timeout=10)

    # ------------------------------------------------------------ store → widgets
    def refresh_from_store(self) -> None:
        """Draw the panels due on this tick (``Schedule``): a panel whose slices changed, at its cadence
        (a changed panel is never lost, only drawn on its next turn), so a burst of market data costs a
        bounded amount of drawing per second however many markets move. The panels that do not follow
        the selected market come first; then the selection follows the markets table, and the panels
        that show the selected market are drawn."""
        if not self.screen.is_attached or not self.screen.query(StatusBar):
            return  # a modal is up or the app is shutting down: nothing of ours to draw into
        now = time.monotonic()
        self.refresh_times.append(now)
        try:
            self._refresh(now)
        finally:
            self.refresh_costs.append((time.monotonic() - now) * 1000)

    def _refresh(self, now: float) -> None:
        if now - self._capital_at >= CHART_S:  # not in the store: read off the engine once a second
            self._capital_at = now
            self._show_capital()
        store = self.store
        version, changed = store.changed_since(self._seen_version)
        self._seen_version = version
        due = self._schedule.due(now, changed, self._selected)
        frame = Frame(store, changed, store.get("markets", ()))
        frame.sort(self.sort)
        with self.batch_update():
            self._draw(frame, due, follows_selection=False)
            if self._schedule.quiet(due, changed):
                return
            table = self.query_one(MarketsTable)
            self._selected = frame.selected = table.selected or (frame.order[0] if frame.order else None)
            if frame.selected is not None:
                frame.outcome = self.query_one(OrderBookLadder).outcome
                self._draw(frame, due, follows_selection=True)
            self.set_class(bool(store.get("risk") and store.get("risk").halted), "-halted")
        self._schedule.drawn(due, now)

    def _draw(self, frame: Frame, due: set[str], follows_selection: bool) -> None:
        hidden = self._hidden
        for panel in self._panels:
            spec = panel.PANEL
            if spec.name in due and spec.follows_selection == follows_selection and panel not in hidden:
                panel.draw(frame)

    def redraw_all(self) -> None:
        """Draw every panel on the next tick (a new market selected, the ladder flipped to NO)."""
        self._schedule.redraw_all()

    def _draw_now(self, panels: list[Panel]) -> None:
        """Draw ``panels`` at once from the store as it is (a pane just shown: hidden, it was not drawn)."""
        if not panels:
            return
        if not self.screen.query(StatusBar):  # a modal is up: draw them on the next ticks instead
            self.redraw_all()
            return
        store = self.store
        frame = Frame(store, {}, store.get("markets", ()))
        frame.sort(self.sort)
        frame.selected = self._selected if self._selected in frame.order else (frame.order[0] if frame.order else None)
        frame.outcome = self.query_one(OrderBookLadder).outcome
        with self.batch_update():
            for panel in panels:
                if frame.selected is not None or not panel.PANEL.follows_selection:
                    panel.draw(frame)

    # ------------------------------------------------------------ layout and tabs
    def on_resize(self, event: events.Resize) -> None:
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int | None = None, height: int | None = None) -> None:
        """The wide or the compact layout for this terminal (``WIDE_COLUMNS`` × ``WIDE_ROWS``): which tabs
        the tab bar offers and which panes are shown (the tcss arranges them by the same breakpoints)."""
        width = self.size.width if width is None else width
        height = self.size.height if height is None else height
        self.compact = width < WIDE_COLUMNS or height < WIDE_ROWS
        tabs = self.query_one(PaneTabs)
        for t in TABS:
            if t.beside:
                (tabs.show if self.compact else tabs.hide)(f"tab-{t.name}")
        self._show_panes()

    @property
    def active_tab(self) -> str:
        """The tab shown: the one chosen last, unless the wide layout shows it beside the tabs anyway;
        by default the book on a small terminal, the event log on a wide one."""
        chosen = self.chosen_tab
        if chosen is not None and (self.compact or not TAB_BY_NAME[chosen].beside):
            return chosen
        return "book" if self.compact else "log"

    def _show_panes(self) -> None:
        """Show the active tab's pane (and, wide, the panes beside the tabs); hide the others. Their
        panels are not drawn while hidden, and drawn at once when shown."""
        active = self.active_tab
        tabs = self.query_one(PaneTabs)
        if tabs.active != f"tab-{active}":
            tabs.active = f"tab-{active}"
        was_hidden = self._hidden
        hidden: set[Panel] = set()
        for t in TABS:
            pane = self.query_one(f"#{t.pane}")
            shown = t.name == active or (t.beside and not self.compact)
            pane.set_class(not shown, "-hidden")
            if not shown:
                hidden.update(_panels_in(pane))
        self._hidden = hidden
        self._draw_now([p for p in self._panels if p in was_hidden and p not in hidden])

    @on(Tabs.TabActivated, "#tabs")
    def _tab_clicked(self, event: Tabs.TabActivated) -> None:
        name = (event.tab.id or "").removeprefix("tab-")
        if name in TAB_BY_NAME and name != self.active_tab:
            self.chosen_tab = name
            self._show_panes()

    def action_show_tab(self, name: str) -> None:
        """Show a tab (its key: 1–7). On a wide terminal the book, positions, signals and trades are on
        screen anyway: the key says so."""
        t = TAB_BY_NAME[name]
        if t.beside and not self.compact:
            self.notify(f"{t.label}: on screen (a terminal under {WIDE_COLUMNS}×{WIDE_ROWS} shows it as a tab)")
            return
        self.chosen_tab = name
        self._show_panes()

    def _show_sort(self) -> None:
        self.query_one(MarketsTable).set_sort_label(SORTS[self.sort])

    def action_cycle_sort(self) -> None:
        """The markets table's next sort (the positions follow it); its title names it."""
        names = list(SORTS)
        self.sort = names[(names.index(self.sort) + 1) % len(names)]
        self._show_sort()
        self.redraw_all()

    def action_filter_markets(self) -> None:
        """Open the markets table's filter box (``/``); on the dashboard only (a modal has its own keys)."""
        tables = self.screen.query(MarketsTable)
        if tables:
            tables.first().open_filter()

    @on(MarketsTable.Highlighted)
    def _market_selected(self, event: MarketsTable.Highlighted) -> None:
        if event.condition_id != self._selected:
            self._selected = event.condition_id
            self.redraw_all()  # the ladder, tape and signals follow the new market at once
        st = self.store.market(self._selected)
        event.table.border_subtitle = st.question if st is not None else ""  # the table at hand, even at exit

    # ------------------------------------------------------------ actions
    async def action_kill(self) -> None:
        if self.engine is not None:
            await self.host.call(self.engine.kill, "operator kill switch")
        self.refresh_from_store()

    @on(Button.Pressed, "#kill-button")
    async def _kill_pressed(self) -> None:
        await self.action_kill()

    def action_rearm(self) -> None:
        if self.engine is None or not self.engine.halted:
            self.notify("Not halted: nothing to re-arm")
            return

        async def answered(ok: bool | None) -> None:
            if ok and self.engine is not None:
                await self.host.call(self.engine.rearm)
                self.notify("Re-armed: quoting resumes", severity="warning")

        self.push_screen(ConfirmScreen("Re-arm trading? Quotes will be placed again."), answered)

    # ------------------------------------------------------------ command palette
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every action of the dashboard in the command palette (ctrl+p), under its binding's text."""
        yield from super().get_system_commands(screen)
        for b in self.BINDINGS:
            assert isinstance(b, Binding)
            title = f"{b.description} ({b.key.split(',')[0]})"
            yield SystemCommand(title, b.tooltip, partial(self.run_action, b.action))

    # ------------------------------------------------------------ per-market actions
    def _selected_market(self) -> str | None:
        if self.engine is None or self._selected not in self.engine.markets:
            self.notify("No market selected", severity="warning")
            return None
        return self._selected

    def _tweak(self, cid: str, **changes: object) -> None:
        """Apply a parameter change through the engine; an invalid one is shown and changes nothing."""
        assert self.engine is not None
        try:
            self.host.call_sync(self.engine.set_params, cid, **changes)
        except ConfigError as e:
            self.notify(str(e), title="Not changed", severity="error", timeout=8)
            return
        self.redraw_all()

    def action_spread(self, ticks: int) -> None:
        cid = self._selected_market()
        if cid is not None and self.engine is not None:
            p, tick = self.engine.params[cid], self.engine.markets[cid].tick.decimal
            self._tweak(cid, spread=p.spread + ticks * tick)

    def action_size(self, steps: int) -> None:
        cid = self._selected_market()
        if cid is not None and self.engine is not None:
            p, step = self.engine.params[cid], self.engine.markets[cid].min_order_size
            self._tweak(cid, size=p.size + steps * step)

    async def action_toggle_pause(self) -> None:
        cid = self._selected_market()
        if cid is None or self.engine is None:
            return
        name = self.engine.markets[cid].short_question
        if cid in self.engine.paused:
            self.host.call_sync(self.engine.resume, cid)
            self.store.log(f"{name}: resumed by operator")
        else:
            await self.host.call(self.engine.pause, cid)
            self.store.log(f"{name}: paused by operator", "warning")

    def action_toggle_outcome(self) -> None:
        ladder = self.query_one(OrderBookLadder)
        ladder.outcome = "NO" if ladder.outcome == "YES" else "YES"
        self.redraw_all()

    def action_cycle_log_level(self) -> None:
        log = self.query_one(EventLog)
        log.cycle_level()
        t = TAB_BY_NAME["log"]
        self.query_one("#tab-log", Tab).label = f"{t.key} {t.label}" + (
            f" ({log.level_name})" if log.level_name != "all" else "")
        self.notify(f"Event log shows: {log.level_name}")

    def action_flatten(self) -> None:
        """Ask, then flatten the selected market's position (``Engine.flatten``: a marketable order within
        the risk limits) — or switch the market to reduce-only instead, or back. The result is logged."""
        cid = self._selected_market()
        if cid is None or self.engine is None:
            return
        engine = self.engine
        market = engine.markets[cid]
        st = self.store.market(cid)  # what the screen shows (the engine checks its own count again)
        qty = st.position if st is not None else engine.portfolio.position(cid).qty
        reduce_only = cid in engine.reduce_only
        if not qty and not reduce_only:
            self.notify(f"{market.short_question}: no position to flatten", severity="warning")
            return
        held = held_text([h for h in self.store.get("holdings") or () if h.condition_id == cid], qty)
        cap = engine.settings.max_order_size
        if qty:
            verb = f"sell {'YES' if qty > 0 else 'NO'} {shares_text(abs(qty))}"
            more = (f"\n\nAt most {shares_text(cap)} shares go in one order (the risk limit): the rest stays held."
                    if abs(qty) > cap else "")
            question = (f"Flatten {market.question}: {verb} at market within the risk limits?\n\n"
                        f"We hold {held}. Its quotes are cancelled first; a marketable order takes the "
                        f"position to zero (YES terms: {'SELL' if qty > 0 else 'BUY'} {shares_text(abs(qty))}). "
                        f"The market quotes again afterwards: r switches it to reduce-only instead, p pauses it."
                        + more)
        else:
            question = f"{market.question}: no position, and reduce-only is on.\n\nSwitch reduce-only off?"

        def answered(choice: str | None) -> None:
            if choice == "flatten":
                self.run_worker(self._flatten(cid), name="flatten", group="flatten", exit_on_error=False)
            elif choice == "reduce":
                self.host.call_sync(engine.set_reduce_only, cid, not reduce_only)
                self.notify(f"{market.short_question}: reduce-only {'off' if reduce_only else 'on'}")
                self.redraw_all()

        self.push_screen(FlattenScreen(question, can_flatten=bool(qty), reduce_only=reduce_only), answered)

    async def _flatten(self, cid: str) -> None:
        assert self.engine is not None
        try:
            text = await self.host.call(self.engine.flatten, cid)
        except Exception as e:  # the engine says why in its answer; anything else is shown, never fatal
            text = f"flatten failed: {type(e).__name__}: {e}"
            self.store.log(text, "error")
        failed = any(w in text for w in ("not flattened", "refused", "failed", " left"))
        self.notify(text, title="Flatten", severity="warning" if failed else "information", timeout=10)
        self.redraw_all()

    def action_pick_markets(self) -> None:
        if self.engine is None:
            self.notify("The engine is still starting", severity="warning")
            return
        self.push_screen(MarketPicker(self.engine, self.settings, self.host))

    def action_edit_params(self) -> None:
        cid = self._selected_market()
        if cid is not None and self.engine is not None:
            self.push_screen(ParamsEditor(self.engine, cid, self.host))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.BINDINGS))

    def session_summary(self) -> list[str]:
        """What the terminal says once the app exited (``commands.dashboard``): ``session_summary``."""
        return session_summary(self.store, StatusBar.clock())

    # ------------------------------------------------------------ every way out
    async def action_quit(self) -> None:
        """The one way out: ``q``, ctrl+q and the palette's Quit (Textual's ``quit`` action), ctrl+c
        (``action_help_quit``) and the stop signals. Stops the engine with cancel-all, confirmed at the
        venue, then exits."""
        await self.stop_engine()
        self.exit()

    async def action_help_quit(self) -> None:  # type: ignore[override]  # an async action: Textual awaits it
        """ctrl+c when no text is selected to copy (Textual only shows a hint there): quit, cancelling."""
        await self.action_quit()

    def _on_stop_signal(self, sig: signal.Signals) -> None:
        if sig == signal.SIGHUP and _terminal_gone():
            # writes to a hung-up terminal fail: Textual's output thread dies on the first, and once its
            # queue of writes is full the app would block before the orders were cancelled
            with contextlib.suppress(OSError):
                null = os.open(os.devnull, os.O_WRONLY)
                for fd in (1, 2):
                    os.dup2(null, fd)
                os.close(null)
            self._begin_batch()  # and draw nothing more (Textual's batch: no repaint until it ends)
        self.store.log(f"{sig.name}: stopping; cancelling every order of ours at the venue", "warning")
        self.call_later(self.action_quit)

    async def stop_engine(self) -> StopSummary | None:
        """Stop the engine with cancel-all (``Engine.stop``; live and demo confirm with /data/orders)
        and record ``stop_summary``. Runs once: later calls wait for the first. None without an engine."""
        self._quitting = True
        if self._stopping is None:
            if self.engine is None:
                return None
            self._stopping = asyncio.ensure_future(self._stop_engine(self.engine))
        return await asyncio.shield(self._stopping)

    async def _stop_engine(self, engine: Engine) -> StopSummary:
        def count() -> int:  # on the engine's loop: its orders change there
            return len(engine.execution.open_orders())

        resting = await self.host.call(count)
        venue = self.settings.mode != "paper"
        try:
            await self.host.call(engine.stop, cancel_orders=True)
        except Exception as e:  # still exit, and say the orders may rest
            self.log.error(f"engine stop failed: {type(e).__name__}: {e}")
            summary = StopSummary(resting, await self.host.call(count), venue, f"{type(e).__name__}: {e}")
        else:
            summary = StopSummary(resting, await self.host.call(count), venue)
        finally:
            await self.host.close()  # the engine's loops, and its thread
        self.stop_summary = summary
        return summary

    async def on_unmount(self) -> None:
        """Whatever ended the app (a crash, Textual's panic), the engine it started stops with cancel-all
        (a no-op after ``action_quit``). An engine given to the app belongs to whoever built it. The
        engine's thread ends too, also when the app ended while the engine was still starting."""
        if self._given_engine is None:
            await self.stop_engine()
            await self.host.close()


PNL_CHART = "total P&L (trading, after fees)"
INV_CHART = "net inventory (YES shares)"


def chart_label(title: str, points: Iterable[Decimal], fmt: Callable[[Decimal], str], unit: str = "") -> Text:
    """A chart's title and the range its points span (``… −1.20 … +3.40 pUSD``)."""
    values = list(points)
    if not values:
        return Text(title)
    return Text.assemble(title, "  ", (f"{fmt(min(values))} … {fmt(max(values))}{unit}", "bold"))


def _panels_in(widget: Widget) -> list[Panel]:
    return [w for w in (widget, *widget.query("*")) if isinstance(w, Panel)]


def session_summary(store: StateStore, now: float | None = None) -> list[str]:
    """The session's P&L and the positions left, for the terminal once the dashboard exited: the P&L
    summary's figures, then each token still held (the ledger's count, the venue's way) and its market."""
    today = time.strftime("%Y-%m-%d", time.gmtime(now if now is not None else time.time()))
    pieces = pnl_pieces(store.get("portfolio"), store.get("rewards"), store.get("venue"), today)
    total = store.get("portfolio")
    fills = f" ({total.fills} fills)" if total is not None else ""
    lines = ["session P&L: " + "  ".join(p.plain for p in pieces) + fills]
    held: dict[str, list] = {}
    for h in store.get("holdings") or ():
        held.setdefault(h.condition_id, []).append(h)
    if not held:
        return [*lines, "positions left: none"]
    lines.append(f"positions left ({len(held)} markets; the venue holds them after the exit):")
    names = {cid: hs[0].question or cid for cid, hs in held.items()}
    width = max(len(held_text(hs)) for hs in held.values())
    lines += [f"  {held_text(hs):<{width}}  {names[cid]}" for cid, hs in held.items()]
    return lines


class _DroppingWriter(WriterThread):
    """Textual's output thread, except that a write the terminal refuses is dropped, not fatal.

    Textual's own thread dies on the first failed write (a hung-up terminal answers EIO); its queue
    holds 30 writes, and the 31st then blocks the event loop for good — and so does the driver's stop,
    which queues one more. Whether the SIGHUP handler (which points stdout at /dev/null) runs before
    that is a race the app loses when it repaints often, and then the stop signal's cancel-all never
    runs. With this thread a hung-up terminal only loses what was drawn on it."""

    def run(self) -> None:
        get, qsize = self._queue.get, self._queue.qsize
        while (text := get()) is not None:
            with contextlib.suppress(OSError):
                self._file.write(text)
                if qsize() == 0:
                    self._file.flush()
        with contextlib.suppress(OSError):
            self._file.flush()


def _guard_output(app: App) -> None:
    """Run the app's terminal output through ``_DroppingWriter``: the driver's current writer thread is
    swapped between two writes (everything queued so far is written by the old one first), and every
    one the driver starts later is one too — a hung-up terminal also gets SIGCONT, on which the driver
    restarts its application mode with a new writer thread. A driver without one (headless, web) is
    left as it is."""
    from textual.drivers import linux_driver

    driver = app._driver
    old = getattr(driver, "_writer_thread", None)
    file = getattr(old, "_file", None)
    if type(old) is not WriterThread or file is None:
        return
    linux_driver.WriterThread = _DroppingWriter  # type: ignore[misc]  # what start_application_mode builds
    old.stop()  # drains what is queued, then ends
    new = _DroppingWriter(file)
    new.start()
    driver._writer_thread = new  # type: ignore[union-attr]  # the Linux driver has one (checked above)


def _terminal_gone() -> bool:
    """Whether stdout's terminal hung up (closed): terminal calls on it then fail with EIO."""
    try:
        termios.tcgetattr(1)
    except termios.error as e:
        return bool(e.args) and e.args[0] == errno.EIO
    return False
