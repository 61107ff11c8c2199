"""The dashboard driven the way a person uses it (Textual Pilot), with the engine running against
the stand-in exchange over real sockets."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from engines import Writes, demo_settings, hit_our_bid, ours, until

from polymm.tui.app import PolymmApp
from polymm.tui.widgets import (
    ConfirmScreen,
    MarketsTable,
    OrderBookLadder,
    PnlSummary,
    PositionsPanel,
    ReconcileBanner,
    StatusBar,
    reward_text,
    shares_text,
)
from polymm_standin.server import run_exchange

pytestmark = pytest.mark.asyncio

SIZE = (160, 48)


def _status_text(app: PolymmApp) -> str:
    return str(app.query_one(StatusBar).render())


def _screen(app: PolymmApp, widget=None) -> list[str]:
    """The lines on the terminal as drawn (all of them, or the part ``widget`` covers)."""
    lines = [strip.text for strip in app.screen._compositor.render_strips()]
    if widget is None:
        return lines
    r = widget.region
    return [line[r.x:r.right] for line in lines[r.y:r.bottom]]


def _our_venue_orders(ex) -> list:
    """Orders resting at the stand-in that are not the synthetic traders' (the demo's are ours)."""
    return [o for o in ex.matching.open_orders() if not str(o.owner).startswith("synthetic")]


async def test_kill_switch_cancels_everything_and_rearm_resumes_quoting() -> None:
    async with run_exchange(port=0, seed=5, flow_rate=30) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.engine is not None and len(app.engine.execution.open_orders()) >= 4)
            await until(pilot, lambda: app.query_one(MarketsTable).row_count == len(app.engine.markets))
            assert "ARMED" in _status_text(app)

            # the demo's quotes rest at the venue (local orders are "submitted" until the POST lands)
            await until(pilot, lambda: len(_our_venue_orders(ex)) >= 4)
            await pilot.press("ctrl+k")
            engine = app.engine
            assert engine.halted and engine.halt_reason == "operator kill switch"
            # the venue holds zero orders of ours within a second
            await until(pilot, lambda: not engine.execution.open_orders() and not _our_venue_orders(ex), 1.0)
            assert "HALTED" in _status_text(app)
            assert app.has_class("-halted")
            # latched: no order comes back while halted, however the books move (every market steps)
            steps = [Writes(engine.store, f"book/{cid}") for cid in engine.markets]
            frames = engine.feed.frames
            await until(pilot, lambda: all(n() >= 3 for n in steps) and engine.feed.frames > frames)
            assert engine.execution.open_orders() == [] and _our_venue_orders(ex) == []

            await pilot.press("ctrl+r")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await until(pilot, lambda: not engine.halted)
            await until(pilot, lambda: len(engine.execution.open_orders()) >= 4)
            await until(pilot, lambda: len(_our_venue_orders(ex)) >= 4)  # quoting resumed at the venue
            await until(pilot, lambda: "ARMED" in _status_text(app))


async def test_rearm_can_be_declined_and_the_kill_button_works() -> None:
    async with run_exchange(port=0, seed=6, flow_rate=30) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.engine is not None and len(app.engine.execution.open_orders()) >= 2)
            await pilot.click("#kill-button")
            await until(pilot, lambda: app.engine.halted)
            await until(pilot, lambda: not app.engine.execution.open_orders() and not _our_venue_orders(ex), 1.0)
            await pilot.press("ctrl+r")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("n")
            await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
            steps = [Writes(app.engine.store, f"book/{cid}") for cid in app.engine.markets]
            await until(pilot, lambda: all(n() >= 3 for n in steps))  # declined: steps go on, still latched
            assert app.engine.halted
            assert app.engine.execution.open_orders() == [] and _our_venue_orders(ex) == []


async def test_ladder_shows_the_selected_book_and_our_quotes() -> None:
    async with run_exchange(port=0, seed=8, flow_rate=20) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.engine is not None and len(app.engine.execution.open_orders()) >= 2)
            ladder = app.query_one(OrderBookLadder)
            table = app.query_one(MarketsTable)
            await until(pilot, lambda: table.selected is not None)
            # a 0.01-tick market: its quotes (0.04 wide) fall within the ladder's rows
            for _ in range(len(app.engine.markets)):
                if app.engine.markets[table.selected].tick.text == "0.01":
                    break
                await pilot.press("down")
            cid = table.selected
            assert app.engine.markets[cid].tick.text == "0.01"

            def quotes_marked() -> bool:
                st = app.store.market(cid)
                if st is None or not st.orders:
                    return False
                cells = [str(ladder.get_cell(r, c)) for r in ladder._rows for c in ("ours_bid", "ours_ask")]
                return any("▶" in c for c in cells) and any("◀" in c for c in cells)

            await until(pilot, quotes_marked)
            prices = [str(ladder.get_cell(f"bid-{i}", "price")) for i in range(3)]
            assert all(prices), prices  # the best bids are drawn
            # moving the cursor selects another market and the ladder follows it
            first = table.selected
            await pilot.press("down" if table.cursor_row < table.row_count - 1 else "up")
            second = table.selected
            assert second is not None and second != first
            question = app.engine.markets[second].question
            await until(pilot, lambda: question[:20] in str(app.query_one("#ladder-title").render()))


async def test_a_crashing_worker_engages_the_kill_switch_and_the_app_survives(monkeypatch, wait_until) -> None:
    async with run_exchange(port=0, seed=9, flow_rate=10) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")

        async def boom(self, interval: float = 0.5) -> None:
            # the risk loop dies once the engine quotes: the kill has orders to cancel
            await wait_until(lambda: self.execution.open_orders(), timeout=20)
            raise RuntimeError("risk check exploded")

        monkeypatch.setattr("polymm.engine.engine.Engine.run_risk", boom)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.engine is not None and app.engine.halted)
            assert "risk loop crashed: RuntimeError" in app.engine.halt_reason  # not our wait's AssertionError
            await until(pilot, lambda: not app.engine.execution.open_orders() and not _our_venue_orders(ex), 2.0)
            await until(pilot, lambda: "HALTED" in _status_text(app))
            assert app.is_running


def _venue_orders_of(ex, cid: str) -> list:
    return [o for o in _our_venue_orders(ex) if o.market.condition_id == cid]


def _width(ex, cid: str) -> int | None:
    bids = [o.yes_price for o in _venue_orders_of(ex, cid) if o.yes_side.value == "BUY"]
    asks = [o.yes_price for o in _venue_orders_of(ex, cid) if o.yes_side.value == "SELL"]
    return min(asks) - max(bids) if bids and asks else None


async def test_quick_keys_tweak_the_selected_market_and_pause_it_at_the_venue() -> None:
    async with run_exchange(port=0, seed=10, flow_rate=5) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.engine is not None and app.query_one(MarketsTable).selected is not None)
            engine = app.engine
            cid = app.query_one(MarketsTable).selected
            tick = engine.markets[cid].tick.pips
            await until(pilot, lambda: _width(ex, cid) is not None)
            before = engine.params[cid].spread
            for _ in range(3):
                await pilot.press("plus")
            assert engine.params[cid].spread == before + 3 * engine.markets[cid].tick.decimal
            # the next quotes at the venue sit at the new width (the fixed model rounds outward)
            await until(pilot, lambda: (_width(ex, cid) or 0) >= int(engine.params[cid].spread * 10_000))
            await pilot.press("minus")
            assert engine.params[cid].spread == before + 2 * engine.markets[cid].tick.decimal
            size = engine.params[cid].size
            await pilot.press("right_square_bracket")
            assert engine.params[cid].size == size + engine.markets[cid].min_order_size
            await pilot.press("left_square_bracket")
            assert engine.params[cid].size == size
            step = engine.markets[cid].min_order_size
            for _ in range(int(size / step)):  # the last press would go below the market minimum: refused
                await pilot.press("left_square_bracket")
            assert engine.params[cid].size == step
            assert any(str(n.message).startswith("size:") for n in app._notifications)  # names the field
            assert tick > 0
            await pilot.press("p")
            await until(pilot, lambda: cid in engine.paused and _venue_orders_of(ex, cid) == [], 3.0)
            await until(pilot, lambda: app.query_one(MarketsTable).get_cell(cid, "state") == "paused")
            await pilot.press("p")
            await until(pilot, lambda: len(_venue_orders_of(ex, cid)) >= 2)


async def test_the_panels_show_signals_orders_the_no_view_and_a_filtered_log() -> None:
    from polymm.tui.widgets import EventLog, OpenOrdersTable, SignalsPanel

    async with run_exchange(port=0, seed=11, flow_rate=30) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.engine is not None and len(_our_venue_orders(ex)) >= 4)
            await until(pilot, lambda: "fair" in str(app.query_one(SignalsPanel).render()))
            text = str(app.query_one(SignalsPanel).render())
            assert "liquidity" in text and "markouts" in text and "flow imbalance" in text
            table = app.query_one(OpenOrdersTable)
            app.query_one("#tabs").active = "tab-orders"  # drawn while its tab is shown
            await until(pilot, lambda: table.row_count == len(app.engine.execution.open_orders()) > 0)
            # NO view: the best NO bid is 1 - the best YES ask
            cid = app.query_one(MarketsTable).selected
            ladder = app.query_one(OrderBookLadder)
            await pilot.press("n")
            assert ladder.outcome == "NO"

            def no_view_right() -> bool:
                book = app.store.book(cid)
                cell = str(ladder.get_cell("bid-0", "price"))
                if book is None or book.best_ask is None:
                    return False
                return cell == f"{(10_000 - book.best_ask) / 10_000:g}"

            await until(pilot, no_view_right)
            assert "NO book" in str(app.query_one("#ladder-title").render())
            log = app.query_one(EventLog)
            await pilot.press("l")
            assert log.level_name == "warnings+"
            await pilot.press("l")
            await pilot.press("l")
            assert log.level_name == "all"


async def test_quit_cancels_every_order_at_the_venue_first(wait_until) -> None:
    async with run_exchange(port=0, seed=12, flow_rate=20) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.engine is not None and len(_our_venue_orders(ex)) >= 4)
            await pilot.press("q")
            await wait_until(lambda: app.return_code is not None)  # the quit exits by itself...
            assert _our_venue_orders(ex) == []  # ...once every order of ours is cancelled at the venue
        assert app.return_code == 0


async def test_every_binding_has_an_id_and_is_in_the_command_palette() -> None:
    from textual.binding import Binding

    from polymm.config import load_settings

    app = PolymmApp(load_settings(_env_file=None, mode="paper", clob_url="http://127.0.0.1:9",
                                  gamma_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9"), mode="PAPER")
    bindings = [b for b in PolymmApp.BINDINGS if isinstance(b, Binding)]
    assert len(bindings) == len(PolymmApp.BINDINGS) and all(b.id for b in bindings)
    assert len({b.id for b in bindings}) == len(bindings)
    async with app.run_test(size=SIZE):
        titles = [c.title for c in app.get_system_commands(app.screen)]
    for b in bindings:
        assert any(t.startswith(b.description) for t in titles), b.id



async def test_an_unreachable_venue_says_so_instead_of_an_empty_armed_dashboard() -> None:
    """Nothing listens at the venue's address: the market listing is retried for ``venue_retry_s``
    (each retry in the log), then RECONCILING stays up with the reason — never a quiet ARMED screen."""
    from polymm.config import load_settings

    app = PolymmApp(load_settings(_env_file=None, mode="paper", clob_url="http://127.0.0.1:9",
                                  gamma_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9", venue_retry_s=4.0),
                    mode="PAPER")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "could not list markets" in "\n".join(_screen(app, app.query_one(ReconcileBanner))),
                    15.0)
        assert "RECONCILING" in _status_text(app)
        texts = [e.text for e in app.store.get("events", ())]
        assert any("listing markets" in t and "retrying" in t for t in texts), texts
        assert any("could not list markets at http://127.0.0.1:9" in t for t in texts), texts
        assert app.engine is None


async def _quit_cancels_first(ex, keys) -> None:
    """Drive ``keys(pilot, app)`` to quit once our quotes rest; the venue must hold none of ours
    by the time the app asks to exit (not only after: the process could end right there), and the
    app's stop summary says how many were cancelled and that the venue confirms none rest."""
    app = PolymmApp(demo_settings(ex), mode="DEMO")
    at_exit: list[int] = []
    exit_ = app.exit

    def recording_exit(*args, **kw) -> None:
        at_exit.append(len(_our_venue_orders(ex)))
        exit_(*args, **kw)

    app.exit = recording_exit  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.engine is not None and len(_our_venue_orders(ex)) >= 4)
        await keys(pilot, app)
        await until(pilot, lambda: bool(at_exit))
    assert at_exit[0] == 0
    assert _our_venue_orders(ex) == []
    summary = app.stop_summary
    assert summary is not None and summary.confirmed and summary.cancelled >= 4
    assert summary.line() == (f"stopped: {summary.cancelled} resting orders cancelled; the venue confirms none of "
                              f"ours rest")


async def test_the_palettes_quit_cancels_every_order_at_the_venue_first() -> None:
    """Textual's own Quit in the command palette (ctrl+p), not our "Quit (q)" entry."""
    from textual.command import CommandList, CommandPalette

    async def palette_quit(pilot, app) -> None:
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"quit")
        options = app.screen.query_one(CommandList)

        def textual_quit() -> int | None:
            texts = [str(options.get_option_at_index(i).hit.text) for i in range(options.option_count)]
            return texts.index("Quit") if "Quit" in texts else None

        await until(pilot, lambda: textual_quit() is not None)
        options.highlighted = textual_quit()
        await pilot.press("enter")

    async with run_exchange(port=0, seed=13, flow_rate=20) as ex:
        await _quit_cancels_first(ex, palette_quit)


@pytest.mark.parametrize("key", ["ctrl+q", "ctrl+c"])
async def test_ctrl_q_and_ctrl_c_cancel_every_order_at_the_venue_first(key: str) -> None:
    """Textual 8.2.8 binds ctrl+q to ``quit`` and ctrl+c (with no text selected) to ``help_quit``, a
    hint: both quit here, through the same cancel-all."""
    async def press(pilot, app) -> None:
        await pilot.press(key)

    async with run_exchange(port=0, seed=14, flow_rate=20) as ex:
        await _quit_cancels_first(ex, press)


# ---------------------------------------------------------------- what we hold, and when it is not known


async def test_the_status_bar_shows_reconciling_and_why_at_80_and_160_columns(monkeypatch) -> None:
    """While what we hold is not known, RECONCILING sits beside the mode and ARMED / HALTED even at
    80 columns, the banner under the bar says why, the markets list says so per market, and the
    clock stays on screen; all of it goes once the execution is ready."""
    from dataclasses import replace

    from snapshot_scenario import RECONCILE_REASON, build_app

    monkeypatch.setattr(StatusBar, "clock", StatusBar.clock)  # build_app pins it: put it back afterwards
    for size, halted in (((80, 24), False), ((80, 24), True), ((160, 48), False)):
        app = build_app(halted=halted, reconciling=True)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            lines = _screen(app)
            bar, banner = lines[0], lines[1]
            assert "PAPER" in bar and ("HALTED" if halted else "ARMED") in bar and "RECONCILING" in bar, bar
            assert bar.rstrip().endswith("11:06:40 UTC"), bar  # the clock is never pushed off
            assert banner.strip().startswith(RECONCILE_REASON), banner
            assert app.query_one(ReconcileBanner).display
            if size[0] == 160 and not halted:
                table = app.query_one(MarketsTable)
                rows = _screen(app, table)
                assert sum(" reconciling " in r for r in rows) == len(app.engine.markets), rows

                app.store.set("execution", replace(app.store.get("execution"), ready=True, reason=""))
                await until(pilot, lambda a=app: "RECONCILING" not in _screen(a)[0])
                assert not app.query_one(ReconcileBanner).display
                assert "nothing is quoted" not in "\n".join(_screen(app))


async def test_the_positions_panel_lists_every_token_held_traded_or_not(monkeypatch) -> None:
    from snapshot_scenario import build_app

    monkeypatch.setattr(StatusBar, "clock", StatusBar.clock)
    app = build_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rows = _screen(app, app.query_one(PositionsPanel))
        text = "\n".join(rows)
        # the outcome and its share count, the venue's way (not only the YES-terms net)
        assert re.search(r"Will the UK[^\n]*?\sYes 20\.00\s+\+1\.20\s+-0\.40", text), text
        assert re.search(r"Will Real M[^\n]*?\sYes 2\.50 No 37\.50\s+-0\.75\s+\+0\.90", text), text  # both tokens
        assert re.search(r"Will a hurr[^\n]*?\sYes 12\.50", text), text
        # a market held but not traded (removed earlier) is listed, marked, with its tokens
        assert re.search(r"\(not traded\)\s*\n\s*Will Bitcoi[^\n]*?\sNo 8\.25", text), text
        assert re.search(r"Total\s+fees 0\.10\s+\+0\.75\s+\+0\.55\s+14", text), text


async def test_share_counts_read_as_a_person_writes_them() -> None:
    assert shares_text(Decimal("1E+1")) == "10.00"
    assert shares_text(Decimal("4E-16")) == "0.00"  # a residue beyond the venue's unit
    assert shares_text(Decimal("0.004")) == "0.004"  # a real holding never reads 0.00
    assert shares_text(Decimal("12.345678")) == "12.345678"
    assert shares_text(Decimal("9.9999999999999986")) == "10.00"
    assert shares_text(Decimal("-1234.5")) == "-1,234.50"
    assert shares_text(Decimal("-0.0000001")) == "0.00"


def _venue_position(ex, market) -> tuple[Decimal, Decimal]:
    """(YES shares, NO shares) the demo wallet holds at the stand-in."""
    from eth_account import Account

    from polymm.engine.execution_factory import DEMO_PRIVATE_KEY

    address = Account.from_key(DEMO_PRIVATE_KEY).address
    return (ex.standin.accounts.position(address, market.yes_token),
            ex.standin.accounts.position(address, market.no_token))


def _shown_holding(app: PolymmApp, cid: str) -> dict[str, Decimal] | None:
    """The outcome → shares the positions panel shows for a traded market, read off the screen (its
    rows follow the markets' order; None while the panel does not show the market yet)."""
    lines = _screen(app, app.query_one(PositionsPanel))
    order = list(app.store.get("markets", ()))
    if not lines or "Held" not in lines[0] or cid not in order or len(lines) <= 1 + order.index(cid):
        return None
    held_at = lines[0].index("Held")
    row = lines[1 + order.index(cid)]
    name = row[:held_at].strip().rstrip("…")
    if not name or not app.engine.markets[cid].question.startswith(name):
        return None  # drawn before the market was added
    return {o: Decimal(n.replace(",", "")) for o, n in re.findall(r"\b(Yes|No) (-?[\d,]+(?:\.\d+)?)", row[held_at:])}


async def test_a_market_added_with_the_picker_shows_the_position_the_venue_holds() -> None:
    """Issue 11: a market added while running quoted for minutes while the screen said 0. Add one with
    the picker, let a taker hit our bid there: the positions panel (and the markets list) show what
    the venue says we hold."""
    from polymm.tui.screens import MarketPicker

    async with run_exchange(port=0, seed=5, flow_rate=5) as ex:
        # it starts on other markets (the automatic selection ranks by a score the flow keeps moving)
        start = [m.condition_id for m in ex.markets if "taylor" not in m.question.lower()][:4]
        app = PolymmApp(demo_settings(ex, markets=",".join(start)), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.engine is not None and len(_our_venue_orders(ex)) >= 4)
            engine = app.engine
            await pilot.press("m")
            await until(pilot, lambda: isinstance(app.screen, MarketPicker) and app.screen.loaded)
            picker = app.screen
            await pilot.press(*"taylor")
            await until(pilot, lambda: picker.highlighted is not None and len(picker.matches()) == 1)
            cid = picker.highlighted
            market = picker.candidates[cid].market
            assert cid not in engine.markets
            await pilot.press("enter")
            await until(pilot, lambda: cid in engine.markets)
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, MarketPicker))
            await until(pilot, lambda: any(o.yes_side.value == "BUY" for o in ours(ex, engine, cid)), 15.0)

            hit_our_bid(ex, engine, cid)

            def shown_is_the_venues() -> bool:
                yes, no = _venue_position(ex, market)
                shown = _shown_holding(app, cid)
                if not (yes or no) or shown is None:
                    return False
                want = {k: v for k, v in (("Yes", yes), ("No", no)) if v}
                pos = str(app.query_one(MarketsTable).get_cell(cid, "pos"))
                return shown == want and pos == f"{yes - no:,.2f}"

            await until(pilot, shown_is_the_venues, 10.0)
            yes, no = _venue_position(ex, market)
            assert yes - no != 0
            assert engine.portfolio.position(cid).qty == yes - no


async def test_reconciling_is_shown_while_the_catch_up_fails_and_quoting_waits_for_it() -> None:
    """The venue's trade history answers 503 at start: RECONCILING and why, and nothing of ours rests,
    until the burst is over; then the quotes rest and RECONCILING goes."""
    async with run_exchange(port=0, seed=15, flow_rate=5) as ex:
        ex.standin.faults.add_http_errors(503, 3, 0.1, "/data/trades")
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "RECONCILING" in _status_text(app), 15.0)  # from the very start

            def banner() -> str:
                return "\n".join(_screen(app, app.query_one(ReconcileBanner)))

            await until(pilot, lambda: "reconciling with the venue" in banner(), 15.0)  # signed in: the catch-up
            assert "nothing is quoted" in banner(), banner()
            assert _our_venue_orders(ex) == []
            table = app.query_one(MarketsTable)
            await until(pilot, lambda: "reconciling" in {table.get_cell(c, "state") for c in table.rows})
            assert "RECONCILING" in _status_text(app) and _our_venue_orders(ex) == []

            await until(pilot, lambda: len(_our_venue_orders(ex)) >= 4, 20.0)  # the burst ran out: quoting
            await until(pilot, lambda: "RECONCILING" not in _status_text(app))
            assert not app.query_one(ReconcileBanner).display


async def test_the_status_bar_shows_the_venues_balance_or_that_it_is_unknown() -> None:
    from textual.app import App

    from polymm.state import ExecutionState, RiskState, VenueState

    class Bar(App[None]):
        def compose(self):
            yield StatusBar()

    app = Bar()
    async with app.run_test(size=(160, 3)):
        bar = app.query_one(StatusBar)
        live = ExecutionState("live", 0, 0, None, 0, 0, 0)
        bar.show(VenueState("DEMO", "http://venue", "live"), None, RiskState(False, balance=None), live)
        assert "pUSD unknown" in str(bar.render())  # never an estimate
        bar.show(VenueState("DEMO", "http://venue", "live"), None, RiskState(False, balance=1234.5), live)
        assert "pUSD 1,234.50" in str(bar.render())
        paper = ExecutionState("paper", 0, 0, None, 0, 0, 0)
        bar.show(VenueState("PAPER", "http://venue", "paper"), None, RiskState(False, balance=1000.0), paper)
        assert "pUSD" not in str(bar.render())  # paper trades no wallet


# ---------------------------------------------------------------- rewards, net P&L and capital operations


def _summary(app: PolymmApp) -> str:
    """The P&L summary over the positions, as drawn (its one or two lines joined by a space)."""
    return " ".join(line.strip() for line in _screen(app, app.query_one(PnlSummary)))


async def test_the_rewards_the_venue_pays_show_in_the_pnl_summary_and_per_market(monkeypatch) -> None:
    """Demo mode against the stand-in: the engine quotes a reward market at its minimum size, the
    stand-in pays the wallet for a sample, and once the engine's ``rewards_once`` read it the summary
    says ``rewards today +X`` and net = trading + rewards − fees, and the markets list shows the
    market's share. A reading that fails says ``rewards unknown: <why>`` instead of a number."""
    import time

    from polymm.state import PortfolioState

    monkeypatch.setattr(StatusBar, "clock", staticmethod(time.time))  # today is today (snapshot tests pin it)
    async with run_exchange(port=0, seed=7, flow=False) as ex:
        await ex.standin.rewards.stop()  # only this test's sample
        market = _reward_market(ex)
        cid = market.condition_id
        app = PolymmApp(demo_settings(ex, markets=cid, default_size=market.reward_min_size), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.engine is not None and app.store.get("rewards") is not None, 20.0)
            engine = app.engine
            await until(pilot, lambda: {o.yes_side.value for o in ours(ex, engine, cid)} == {"BUY", "SELL"}, 20.0)
            sample = ex.standin.rewards.sample_now()
            assert sample.markets[cid].credits.get(_demo_address().lower(), 0) > 0  # our quotes scored
            state = await engine.rewards_once()
            assert state.known and state.today > 0 and set(state.by_market) == {cid}

            shown = f"rewards today +{reward_text(state.today)}"
            await until(pilot, lambda: shown in _summary(app))
            pf: PortfolioState = app.store.get("portfolio")
            trading, fees = pf.realized_pnl + pf.unrealized_pnl, pf.fees
            text = _summary(app)
            assert f"trading {trading:+,.2f}" in text and "fees " in text
            assert f"net {trading + state.today - fees:+,.2f} pUSD" in text, text
            table = app.query_one(MarketsTable)
            await until(pilot, lambda: table.get_cell(cid, "rewards") == reward_text(state.by_market[cid]))

            ex.standin.faults.add_http_errors(503, 1, 0.0, "/rewards/user")
            failed = await engine.rewards_once()
            assert failed.error
            await until(pilot, lambda: "rewards unknown: " in _summary(app))
            text = _summary(app)
            assert "503" in text and "net unknown" in text and shown not in text, text
            await until(pilot, lambda: table.get_cell(cid, "rewards") == "?")


def _reward_market(ex):
    """The stand-alone reward market on the 0.01 grid with the smallest reward minimum size: the demo's
    quotes (2 cents either side of the mid) of that size score (its max spread is 3.5 or 4.5 cents)."""
    market = min((p.market for p in ex.standin.profiles if p.has_rewards and p.market.tick.text == "0.01"
                  and not p.market.neg_risk), key=lambda m: m.reward_min_size)
    assert market.reward_min_size <= 100 and market.reward_max_spread > 2  # within the default position limit
    return market


def _demo_address() -> str:
    from eth_account import Account

    from polymm.engine.execution_factory import DEMO_PRIVATE_KEY

    return Account.from_key(DEMO_PRIVATE_KEY).address


async def test_the_pnl_summary_labels_each_figure_in_paper_before_a_reading_and_at_80_columns(monkeypatch) -> None:
    """Paper earns no rewards (n/a, net = trading − fees); live before the first reading says so (no
    net); a known reading from before 00:00 UTC shows its date; at 80×24 the summary wraps onto two
    lines, nothing cut; the capital operations' counts sit on the box's lower border."""
    from snapshot_scenario import NOW, build_app

    from polymm.state import RewardsState, VenueState

    monkeypatch.setattr(StatusBar, "clock", StatusBar.clock)
    app = build_app()  # paper: trading 0.75 + 0.55, fees 0.10
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        lines = [line.strip() for line in _screen(app, app.query_one(PnlSummary))]
        assert lines == ["trading +1.30  rewards n/a (paper)", "fees -0.10  net +1.20 pUSD"], lines
        cells = {app.query_one(MarketsTable).get_cell(c, "rewards") for c in app.engine.markets}
        assert cells == {"—"}

        order = app.store.get("markets")
        app.store.set("venue", VenueState("LIVE", "http://venue", "live"))
        await until(pilot, lambda: "rewards not read yet" in _summary(app))
        assert "net unknown" in _summary(app)
        assert app.query_one(MarketsTable).get_cell(order[0], "rewards") == "?"

        app.store.set("rewards", RewardsState("2026-11-18", Decimal("2.5"), {order[0]: Decimal("2.5")}, NOW, "", True))
        await until(pilot, lambda: "rewards today +2.50" in _summary(app))
        lines = [line.strip() for line in _screen(app, app.query_one(PnlSummary))]
        assert lines == ["trading +1.30  rewards today +2.50", "fees -0.10  net +3.70 pUSD"], lines
        await until(pilot, lambda: app.query_one(MarketsTable).get_cell(order[0], "rewards") == "2.50")

        class Capital:  # what the app reads of the engine's capital manager
            in_flight = {"0x1": object()}
            confirmed, failed = 3, 1

        app.engine.capital = Capital()  # type: ignore[assignment]  # a stand-in for the manager's counts
        box = app.query_one("#pnl-box")
        await until(pilot, lambda: "capital 1 in flight 3 ok 1 failed" in _screen(app, box)[-1])

    app = build_app()
    app.store.set("venue", VenueState("LIVE", "http://venue", "live"))
    order = app.store.get("markets")
    # read before 00:00 UTC (the screen's clock says 2026-11-18), an amount under a cent
    app.store.set("rewards", RewardsState("2026-11-17", Decimal("0.004211"), {order[0]: Decimal("0.004211")},
                                          NOW - 600, "", True))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "rewards yesterday +0.004211" in _summary(app))
        assert "net +1.20 pUSD" in _summary(app)  # 1.30 + 0.004211 − 0.10, to the cent
        assert app.query_one(MarketsTable).get_cell(order[0], "rewards") == "0.004211"
        assert app.query_one(MarketsTable).get_cell(order[1], "rewards") == "0.00"
