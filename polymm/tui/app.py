"""``polymm-tui``: the operator's dashboard.

The App hosts the engine's loops as workers (feed, strategy, risk), polls the StateStore every
100 ms and pushes only the slices that changed into widgets. It never touches trading state: every
action goes through the Engine's command API. A trading worker that fails engages the kill switch
(``Engine.guard``) and is reported on screen; it never takes the app down (``exit_on_error=False``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from ..config import Settings
from ..domain.market import Market
from ..engine.engine import Engine
from ..state import StateStore
from ..venue.rest import PublicClient
from .widgets import ConfirmScreen, EventLog, MarketsTable, OrderBookLadder, PositionsPanel, StatusBar

REFRESH_S = 0.1  # UI reads the store at most 10 times a second


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

    BINDINGS = [
        Binding("ctrl+k", "kill", "KILL", priority=True, id="kill", tooltip="Cancel every order and halt"),
        Binding("ctrl+r", "rearm", "Re-arm", id="rearm", tooltip="Resume quoting after a kill (asks first)"),
        Binding("q", "quit_app", "Quit", id="quit", tooltip="Cancel all orders and quit"),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        mode: str = "PAPER",
        markets: list[Market] | None = None,
        venue_host: str = "",
    ) -> None:
        super().__init__()
        self.settings = settings
        self.mode = mode
        self.venue_host = venue_host or settings.clob_url
        self._fixed_markets = markets
        self.store = StateStore()
        self.engine: Engine | None = None
        self._seen_version = 0
        self._selected: str | None = None

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield MarketsTable(id="markets")
                yield PositionsPanel(id="positions")
                yield EventLog(id="event-log", max_lines=300, wrap=False, markup=False)
            with Vertical(id="right"):
                yield Static("", id="ladder-title")
                yield OrderBookLadder(id="ladder")
                yield Button("KILL  (ctrl+k)", variant="error", id="kill-button")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one(StatusBar).show(None, None, None)
        self.start_engine()
        self.set_interval(REFRESH_S, self.refresh_from_store)

    @work(exclusive=True, group="setup", exit_on_error=False)
    async def start_engine(self) -> None:
        """Discover markets (unless given), build the engine, start its loops as workers."""
        markets = self._fixed_markets
        if markets is None:
            public = PublicClient(self.settings.clob_url, self.settings.gamma_url)
            try:
                wanted = set(self.settings.market_ids)
                found = await public.list_markets(limit=100)
                markets = [m for m in found if not wanted or m.condition_id in wanted][: self.settings.max_markets]
            finally:
                await public.aclose()
        engine = Engine(self.settings, markets, self.store, mode=self.mode, venue_host=self.venue_host)
        try:
            await engine.start()
        except Exception as e:  # no venue, bad credentials: say so, trade nothing
            self.store.log(f"could not start execution: {type(e).__name__}: {e}", "error")
            self.notify(f"Execution did not start: {e}", severity="error", timeout=15)
            await engine.kill(f"execution did not start: {type(e).__name__}")
            self.engine = engine
            return
        self.engine = engine
        for name, loop in (("feed", engine.run_feed), ("strategy", engine.run_strategy), ("risk", engine.run_risk),
                           ("execution", engine.run_execution)):
            self.run_worker(engine.guard(name, loop), name=name, group="engine", exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.notify(f"{event.worker.name} stopped: {event.worker.error}", severity="error", timeout=10)

    # ------------------------------------------------------------ store → widgets
    def refresh_from_store(self) -> None:
        if not self.screen.is_attached or not self.screen.query(StatusBar):
            return  # a modal is up or the app is shutting down: nothing of ours to draw into
        version, changed = self.store.changed_since(self._seen_version)
        if not changed:
            self.query_one(StatusBar).show(self.store.get("venue"), self.store.get("feed"), self.store.get("risk"),
                                           self.store.get("execution"))
            return
        self._seen_version = version
        store = self.store
        order: tuple[str, ...] = store.get("markets", ())
        states = {cid: store.get(f"market/{cid}") for cid in order}
        states = {k: v for k, v in states.items() if v is not None}
        books = {cid: store.get(f"book/{cid}") for cid in order}
        books = {k: v for k, v in books.items() if v is not None}
        with self.batch_update():
            self.query_one(StatusBar).show(store.get("venue"), store.get("feed"), store.get("risk"),
                                           store.get("execution"))
            table = self.query_one(MarketsTable)
            table.show(order, states, books)
            self._selected = table.selected or (order[0] if order else None)
            if self._selected is not None:
                st = states.get(self._selected)
                self.query_one(OrderBookLadder).show(books.get(self._selected), st)
                title = st.question if st else self._selected
                self.query_one("#ladder-title", Static).update(f"YES book · {title}")
            if "portfolio" in changed or any(k.startswith("market/") for k in changed):
                self.query_one(PositionsPanel).show(order, states, store.get("portfolio"))
            if "events" in changed:
                self.query_one(EventLog).show(changed["events"])
            self.set_class(bool(store.get("risk") and store.get("risk").halted), "-halted")

    @on(DataTable.RowHighlighted, "#markets")
    def _market_selected(self, event: DataTable.RowHighlighted) -> None:
        self._selected = event.row_key.value
        self._seen_version = 0  # redraw the ladder for the new market

    # ------------------------------------------------------------ actions
    async def action_kill(self) -> None:
        if self.engine is not None:
            await self.engine.kill("operator kill switch")
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
                await self.engine.rearm()
                self.notify("Re-armed: quoting resumes", severity="warning")

        self.push_screen(ConfirmScreen("Re-arm trading? Quotes will be placed again."), answered)

    async def action_quit_app(self) -> None:
        if self.engine is not None:
            await self.engine.stop(cancel_orders=True)
        self.exit()
