"""The dashboard driven the way a person uses it (Textual Pilot), with the engine running against
the stand-in exchange over real sockets."""

from __future__ import annotations

import asyncio

import pytest
from engines import demo_settings, until

from polymm.exchange import run_exchange
from polymm.tui.app import PolymmApp
from polymm.tui.widgets import ConfirmScreen, MarketsTable, OrderBookLadder, StatusBar

pytestmark = pytest.mark.asyncio

SIZE = (160, 48)


def _status_text(app: PolymmApp) -> str:
    return str(app.query_one(StatusBar).render())


def _our_venue_orders(ex) -> list:
    """Orders resting at the stand-in that are not the synthetic traders' (the demo's are ours)."""
    return [o for o in ex.engine.open_orders() if not str(o.owner).startswith("synthetic")]


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
            # latched: no order comes back while halted, however the books move
            await pilot.pause(1.0)
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
            await pilot.pause(0.5)
            assert app.engine.halted
            assert app.engine.execution.open_orders() == [] and _our_venue_orders(ex) == []


async def test_ladder_shows_the_selected_book_and_our_quotes() -> None:
    async with run_exchange(port=0, seed=8, flow_rate=20) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.engine is not None and len(app.engine.execution.open_orders()) >= 2)
            ladder = app.query_one(OrderBookLadder)
            await until(pilot, lambda: app.query_one(MarketsTable).selected is not None)
            cid = app.query_one(MarketsTable).selected

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
            table = app.query_one(MarketsTable)
            first = table.selected
            await pilot.press("down")
            second = table.selected
            assert second is not None and second != first
            question = app.engine.markets[second].question
            await until(pilot, lambda: question[:20] in str(app.query_one("#ladder-title").render()))


async def test_a_crashing_worker_engages_the_kill_switch_and_the_app_survives(monkeypatch) -> None:
    async with run_exchange(port=0, seed=9, flow_rate=10) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")

        async def boom(self, interval: float = 0.5) -> None:
            await asyncio.sleep(0.3)
            raise RuntimeError("risk check exploded")

        monkeypatch.setattr("polymm.engine.engine.Engine.run_risk", boom)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.engine is not None and app.engine.halted)
            assert "risk loop crashed" in app.engine.halt_reason
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


async def test_quit_cancels_every_order_at_the_venue_first() -> None:
    async with run_exchange(port=0, seed=12, flow_rate=20) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.engine is not None and len(_our_venue_orders(ex)) >= 4)
            await pilot.press("q")
            await pilot.pause(0.2)
        assert _our_venue_orders(ex) == []


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
