"""The dashboard driven the way a person uses it (Textual Pilot), with the engine running against
the stand-in exchange over real sockets."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from engines import Writes, demo_settings, hit_our_bid, ours, screen_lines, until

from polymm.tui.app import PolymmApp
from polymm.tui.widgets import (
    ConfirmScreen,
    MarketsTable,
    NoticeBanner,
    OrderBookLadder,
    PnlSummary,
    PositionsPanel,
    StatusBar,
    reward_text,
    shares_text,
)
from polymm_standin.server import run_exchange

pytestmark = pytest.mark.asyncio

SIZE = (160, 48)


def _status_text(app: PolymmApp) -> str:
    return str(app.query_one(StatusBar).render())


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
            # the risk loop runs once (the balance read lets quoting start), then dies once the engine
            # quotes: the kill has orders to cancel
            await self.risk_tick()
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
            await pilot.press("6")  # the Orders tab: drawn while it is shown
            assert not table.has_class("-hidden") and app.query_one(EventLog).has_class("-hidden")
            shown: list[str] = []

            def the_orders_are_the_tables_rows() -> bool:  # read together: the strategy requotes meanwhile
                ids = [o.order_id for o in app.engine.execution.open_orders()]
                shown[:] = ids
                return bool(ids) and {str(k.value) for k in table.rows} == set(ids)

            await until(pilot, the_orders_are_the_tables_rows)
            oid = shown[0]
            assert str(table.get_cell(oid, "id")) == oid[:10]  # the short id, and its age
            assert re.fullmatch(r"≥?(\d+s|\d+m\d\ds)", str(table.get_cell(oid, "age")))
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
            await pilot.press("5")
            await pilot.press("l")
            assert log.level_name == "warnings+"
            tab = app.query_one("#tab-log")
            assert "Log (warnings+)" in str(tab.render())  # the log's title says its filter
            await pilot.press("l")
            await pilot.press("l")
            assert log.level_name == "all" and str(tab.render()).strip() == "5 Log"


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
    """Nothing listens at the venue's address: the status bar never says just ARMED — it says ARMED ·
    NOT QUOTING and why, with the next retry's countdown, and so does the banner under it, at 80
    columns too; the app keeps asking (each try in the log) and builds no engine meanwhile."""
    from polymm.config import load_settings

    app = PolymmApp(load_settings(_env_file=None, mode="paper", clob_url="http://127.0.0.1:9",
                                  gamma_url="http://127.0.0.1:9", ws_url="ws://127.0.0.1:9", venue_retry_s=4.0),
                    mode="PAPER")
    async with app.run_test(size=(80, 24)) as pilot:
        def banner() -> str:
            return " ".join(line.strip() for line in screen_lines(app, app.query_one(NoticeBanner)))

        await until(pilot, lambda: "venue unreachable" in banner() and "retrying in" in banner(), 15.0)
        bar = screen_lines(app)[0]
        assert "ARMED" in bar and "NOT QUOTING" in bar and bar.rstrip().endswith("UTC"), bar
        assert "venue unr" in bar, bar  # the reason, shortened to fit beside the clock
        assert "nothing is quoted" in banner()
        assert app.query_one(StatusBar).has_class("-not-ready")
        texts = [e.text for e in app.store.get("events", ())]
        assert any("venue unreachable" in t and "retrying in" in t for t in texts), texts
        assert app.engine is None


async def test_the_banner_keeps_the_engines_notice_until_it_is_cleared() -> None:
    """The ``notice`` slice (unknown market ids, …) stays on the banner, wrapped, not as a toast."""
    from snapshot_scenario import build_app

    app = build_app()
    async with app.run_test(size=(80, 24)) as pilot:
        banner = app.query_one(NoticeBanner)
        assert not banner.has_class("-shown")
        notice = "unknown market ids: 0xabc1234567 (not listed by Gamma or the CLOB); the other markets are traded"
        app.store.set("notice", notice)
        await until(pilot, lambda: banner.has_class("-shown") and "0xabc1234567" in "".join(screen_lines(app, banner)))
        shown = " ".join(line.strip() for line in screen_lines(app, banner))
        assert shown == f"NOTICE: {notice}", shown  # wrapped over two lines at 80 columns, nothing cut
        assert screen_lines(app)[0].rstrip().endswith("11:06:40 UTC")
        app.store.set("notice", "")
        await until(pilot, lambda: not banner.has_class("-shown"))


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


async def test_the_status_bar_shows_not_quoting_and_why_at_80_and_160_columns(monkeypatch) -> None:
    """While what we hold is not known, NOT QUOTING sits beside the mode and ARMED / HALTED even at
    80 columns, the banner under the bar says why, the markets list says so per market, and the
    clock stays on screen; all of it goes once the execution is ready."""
    from dataclasses import replace

    from snapshot_scenario import RECONCILE_REASON, build_app

    monkeypatch.setattr(StatusBar, "clock", StatusBar.clock)  # build_app pins it: put it back afterwards
    for size, halted in (((80, 24), False), ((80, 24), True), ((160, 48), False)):
        app = build_app(halted=halted, reconciling=True)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            bar = screen_lines(app)[0]
            banner = " ".join(line.strip() for line in screen_lines(app, app.query_one(NoticeBanner)))
            assert "PAPER" in bar and ("HALTED" if halted else "ARMED") in bar and "NOT QUOTING" in bar, bar
            assert bar.rstrip().endswith("11:06:40 UTC"), bar  # the clock is never pushed off
            # the reasons too: shortened at 80 columns when halted as well (the banner has them in full)
            assert ("reconcili" if halted and size[0] == 80 else "reconciling with the venue") in bar, bar
            assert not halted or "operator kill switch" in bar
            # the banner says it all, wrapped at 80 columns
            assert banner == f"NOT QUOTING: {RECONCILE_REASON} — nothing is quoted meanwhile", banner
            assert app.query_one(NoticeBanner).display
            if size[0] == 160 and not halted:
                table = app.query_one(MarketsTable)
                rows = screen_lines(app, table)
                assert sum(" reconciling " in r for r in rows) == len(app.engine.markets), rows

                app.store.set("execution", replace(app.store.get("execution"), ready=True, reason=""))
                await until(pilot, lambda a=app: "NOT QUOTING" not in screen_lines(a)[0])
                assert not app.query_one(NoticeBanner).display
                # the banner's lines go with the next layout pass, which may come a frame after the bar's
                await until(pilot, lambda a=app: "nothing is quoted" not in "\n".join(screen_lines(a)))


async def test_the_status_bar_keeps_halted_its_reason_and_the_clock_dropping_the_rest_first(monkeypatch) -> None:
    """HALTED with tightened limits, a cooldown, a live balance and every figure the bar can show: at
    160, 100 and 80 columns the state, its reason and the clock stay (the clock at the right edge); the
    figures go in order of importance (frames and venue first, the risk figures last)."""
    from dataclasses import replace

    from snapshot_scenario import build_app

    from polymm.state import ExecutionState

    monkeypatch.setattr(StatusBar, "clock", StatusBar.clock)
    for width in (160, 100, 80):
        app = build_app(halted=True)
        store = app.store
        store.set("risk", replace(store.get("risk"), reason="daily loss limit reached: -100.00 of -100",
                                  tighten=0.96, cooldown_s=12.0, balance=1234.5))
        store.set("execution", ExecutionState("live", 0, 3, 2.0, 0, 0, 0, orders_1s=8, cancels_1s=7))
        async with app.run_test(size=(width, 30)) as pilot:
            await pilot.pause()
            bar = screen_lines(app)[0]
            assert bar.startswith(" PAPER   HALTED  ") and bar.endswith("11:06:40 UTC"), bar
            assert "daily loss limit reached" in bar, bar
            if width == 160:
                assert "limits x0.96" in bar and "cooldown 12s" in bar and "pUSD 1,234.50" in bar, bar
                assert "frames" not in bar and "127.0.0.1" not in bar  # the least important gave way
            if width == 80:
                assert "rl 8/40" not in bar and "hb 2s" not in bar


async def test_the_positions_panel_lists_every_token_held_traded_or_not(monkeypatch) -> None:
    from snapshot_scenario import build_app

    monkeypatch.setattr(StatusBar, "clock", StatusBar.clock)
    app = build_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        rows = screen_lines(app, app.query_one(PositionsPanel))
        text = "\n".join(rows)
        # the outcome and its share count, the venue's way (not only the YES-terms net), P&L by sign
        assert re.search(r"UK hold[^\n]*?\sYES 20\.00\s+\+1\.20\s+-0\.40", text), text
        assert re.search(r"Real Ma[^\n]*?\sYES 2\.50 NO 37\.50\s+-0\.75\s+\+0\.90", text), text  # both tokens
        assert re.search(r"Hurrica[^\n]*?\sYES 12\.50", text), text
        # a market held but not traded (removed earlier) is listed, marked, with its tokens
        assert re.search(r"\(not traded\)\s*\n\s*Bitcoin[^\n]*?\sNO 8\.25", text), text
        assert re.search(r"Total pUSD\s+fees 0\.10\s+\+0\.75\s+\+0\.55\s+14", text), text
        order = app.store.get("markets")
        shown = app.query_one(PositionsPanel).shown
        assert shown[order[1]][1:3] == ("YES 2.50 NO 37.50", "-35.00")  # and the YES-terms net, labelled


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
    """The outcome → shares the positions panel shows for a traded market (None while it shows none),
    checked against the screen: the row's held text is on it."""
    row = app.query_one(PositionsPanel).shown.get(cid)
    if row is None or row[1] not in "\n".join(screen_lines(app, app.query_one(PositionsPanel))):
        return None
    return {o: Decimal(n.replace(",", "")) for o, n in re.findall(r"\b(YES|NO) (-?[\d,]+(?:\.\d+)?)", row[1])}


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
                want = {k: v for k, v in (("YES", yes), ("NO", no)) if v}
                pos = str(app.query_one(MarketsTable).get_cell(cid, "pos"))  # the same words in the markets list
                return shown == want and pos == app.query_one(PositionsPanel).shown[cid][1]

            await until(pilot, shown_is_the_venues, 10.0)
            yes, no = _venue_position(ex, market)
            assert yes - no != 0
            assert engine.portfolio.position(cid).qty == yes - no


async def test_reconciling_is_shown_while_the_catch_up_fails_and_quoting_waits_for_it() -> None:
    """The venue's trade history answers 503 at start: NOT QUOTING and why, and nothing of ours rests,
    until the burst is over; then the quotes rest and NOT QUOTING goes."""
    async with run_exchange(port=0, seed=15, flow_rate=5) as ex:
        ex.standin.faults.add_http_errors(503, 3, 0.1, "/data/trades")
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "NOT QUOTING" in _status_text(app), 15.0)  # from the very start

            def banner() -> str:
                return " ".join(line.strip() for line in screen_lines(app, app.query_one(NoticeBanner)))

            await until(pilot, lambda: "reconciling with the venue" in banner(), 15.0)  # signed in: the catch-up
            assert "nothing is quoted" in banner(), banner()
            assert _our_venue_orders(ex) == []
            table = app.query_one(MarketsTable)
            await until(pilot, lambda: "reconciling" in {table.get_cell(c, "state") for c in table.rows})
            assert "NOT QUOTING" in _status_text(app) and _our_venue_orders(ex) == []

            await until(pilot, lambda: len(_our_venue_orders(ex)) >= 4, 20.0)  # the burst ran out: quoting
            await until(pilot, lambda: "NOT QUOTING" not in _status_text(app))
            assert not app.query_one(NoticeBanner).display


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
    return " ".join(line.strip() for line in screen_lines(app, app.query_one(PnlSummary)))


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
            # both lines drawn (a long figure wraps the summary onto a second line, laid out a refresh later)
            await until(pilot, lambda: shown in _summary(app) and " net " in f" {_summary(app)}")
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
    net); a known reading from before 00:00 UTC shows its date; at 80×24 (the Positions tab, the whole
    width) the summary is one line, and on the wide layout's narrower box it wraps onto two, nothing
    cut; the capital operations' counts sit on the box's lower border."""
    from snapshot_scenario import NOW, build_app

    from polymm.state import RewardsState, VenueState

    monkeypatch.setattr(StatusBar, "clock", StatusBar.clock)
    app = build_app()  # paper: trading 0.75 + 0.55, fees 0.10
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("2")  # a small terminal: the positions and P&L are a tab
        lines = [line.strip() for line in screen_lines(app, app.query_one(PnlSummary))]
        assert lines == ["trading +1.30  rewards n/a (paper)  fees -0.10  net +1.20 pUSD"], lines
        cells = {app.query_one(MarketsTable).get_cell(c, "rewards") for c in app.engine.markets}
        assert cells == {"—"}

        order = app.store.get("markets")
        app.store.set("venue", VenueState("LIVE", "http://venue", "live"))
        await until(pilot, lambda: "rewards not read yet" in _summary(app))
        assert "net unknown" in _summary(app)
        assert app.query_one(MarketsTable).get_cell(order[0], "rewards") == "?"

        app.store.set("rewards", RewardsState("2026-11-18", Decimal("2.5"), {order[0]: Decimal("2.5")}, NOW, "", True))
        await until(pilot, lambda: "rewards today +2.50" in _summary(app))
        lines = [line.strip() for line in screen_lines(app, app.query_one(PnlSummary))]
        assert lines == ["trading +1.30  rewards today +2.50  fees -0.10  net +3.70 pUSD"], lines
        await until(pilot, lambda: app.query_one(MarketsTable).get_cell(order[0], "rewards") == "2.50")

        class Capital:  # what the app reads of the engine's capital manager
            in_flight = {"0x1": object()}
            confirmed, failed = 3, 1

        app.engine.capital = Capital()  # type: ignore[assignment]  # a stand-in for the manager's counts
        box = app.query_one("#pnl-box")
        await until(pilot, lambda: "capital 1 in flight 3 ok 1 failed" in screen_lines(app, box)[-1])

    app = build_app()
    app.store.set("venue", VenueState("LIVE", "http://venue", "live"))
    order = app.store.get("markets")
    # read before 00:00 UTC (the screen's clock says 2026-11-18), an amount under a cent
    app.store.set("rewards", RewardsState("2026-11-17", Decimal("0.004211"), {order[0]: Decimal("0.004211")},
                                          NOW - 600, "", True))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "rewards yesterday +0.004211" in _summary(app))
        lines = [line.strip() for line in screen_lines(app, app.query_one(PnlSummary))]
        assert lines == ["trading +1.30  rewards yesterday +0.004211", "fees -0.10  net +1.20 pUSD"], lines
        assert "net +1.20 pUSD" in _summary(app)  # 1.30 + 0.004211 − 0.10, to the cent
        assert app.query_one(MarketsTable).get_cell(order[0], "rewards") == "0.004211"
        assert app.query_one(MarketsTable).get_cell(order[1], "rewards") == "0.00"


# ---------------------------------------------------------------- one store version per frame


async def test_the_markets_list_and_the_positions_agree_in_every_refresh() -> None:
    """Fills come in: the engine writes a market's slice (its position and P&L) at the market's next
    step and the ``holdings`` (what the venue says we hold) at its next pass, so for a while the store
    holds the new one beside the old other. The markets list and the positions panel are drawn on the
    same tick from the same store version, both showing what we hold from ``holdings`` and the P&L
    from the market's slice: after every refresh, for every market, they say the same."""
    import random

    from msgspec.structs import replace
    from snapshot_scenario import build_app

    from polymm.state import HoldingView

    app = build_app()
    store = app.store
    disagreements: list[str] = []
    refreshes = [0]
    draw = app.refresh_from_store

    def checked_refresh() -> None:  # the refresh loop swallows exceptions: collect, assert after
        draw()
        table, panel = app.query_one(MarketsTable), app.query_one(PositionsPanel)
        for cid in store.get("markets"):
            row = panel.shown.get(cid)
            if row is None or cid not in table.rows:
                continue
            refreshes[0] += 1
            held, pnl = str(table.get_cell(cid, "pos")), Decimal(table.get_cell(cid, "pnl").plain)
            if held != row[1] or pnl != Decimal(row[3]) + Decimal(row[4]):
                disagreements.append(f"{cid[:8]}: list {held} {pnl}, positions {row[1]} {row[3]} {row[4]}")

    app.refresh_from_store = checked_refresh  # type: ignore[method-assign]  # the refresh loop calls it
    rng = random.Random(15)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(MarketsTable)
        order = store.get("markets")
        for step in range(12):
            cid = order[rng.randrange(len(order))]
            st = store.get(f"market/{cid}")
            qty = Decimal(rng.randrange(-60, 60)) + Decimal("0.55")
            realized = st.realized_pnl + Decimal(rng.randrange(-300, 300)) / 100
            unreal = Decimal(rng.randrange(-300, 300)) / 100
            store.set(f"market/{cid}", replace(st, position=qty, realized_pnl=realized, unrealized_pnl=unreal,
                                               fills=st.fills + 1))
            # the market's slice is drawn while the holdings still say the old count
            await until(pilot, lambda c=cid, p=realized + unreal: table.get_cell(c, "pnl").plain == f"{p:+,.2f}")
            market = app.engine.markets[cid]
            token = ("Yes", market.yes_token) if qty > 0 else ("No", market.no_token)
            others = [h for h in store.get("holdings") if h.condition_id != cid]
            store.set("holdings", (*others, HoldingView(cid, market.question, token[0], token[1], abs(qty), True)))
            want = f"{token[0].upper()} {abs(qty):,.2f}"
            await until(pilot, lambda c=cid, w=want: str(table.get_cell(c, "pos")) == w)
            assert app.query_one(PositionsPanel).shown[cid][1] == want, step
    assert refreshes[0] > 0 and not disagreements, disagreements[:5]


# ---------------------------------------------------------------- keys: sort, tabs, flatten


async def test_s_sorts_the_markets_and_the_positions_follow(monkeypatch) -> None:
    from snapshot_scenario import build_app

    monkeypatch.setattr(StatusBar, "clock", StatusBar.clock)
    app = build_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(MarketsTable)
        await until(pilot, lambda: table.row_count == 4)
        m = list(app.store.get("markets"))
        table.move_cursor(row=1)
        await pilot.pause()
        selected = table.selected

        def rows() -> list[str]:
            return list(table.rows)

        def title() -> str:
            return screen_lines(app, table)[0]

        assert "sort: as listed (s)" in title() and rows() == m
        expected = {
            "P&L, worst first": [m[2], m[1], m[3], m[0]],  # 0.00, +0.15, +0.35, +0.80
            "position, largest first": [m[1], m[0], m[3], m[2]],  # 35, 20, 12.5, 0 shares
            "book activity, latest first": m,  # the canned books carry no exchange time: a tie, as listed
            "fills, most first": [m[3], m[2], m[1], m[0]],  # 6, 5, 4, 3 fills
            "state, trouble first": [m[2], m[0], m[1], m[3]],  # paused first, then quoting as listed
            "name": [m[3], m[2], m[1], m[0]],  # Hurricane, NASA's, Real Madrid, UK
            "as listed": m,
        }
        for label, want in expected.items():
            await pilot.press("s")
            await until(pilot, lambda w=want: rows() == w)
            assert f"sort: {label} (s)" in title(), title()
            assert list(app.query_one(PositionsPanel).shown)[:4] == want  # the positions in the same order
            assert table.selected == selected  # the cursor stays on its market


async def test_every_tab_has_a_key_and_a_small_terminal_shows_one_pane_at_a_time(monkeypatch) -> None:
    from snapshot_scenario import build_app

    from polymm.tui.app import TABS

    monkeypatch.setattr(StatusBar, "clock", StatusBar.clock)
    app = build_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.compact and app.active_tab == "book"
        for t in TABS:
            await pilot.press(t.key)
            assert app.active_tab == t.name
            shown = [u.name for u in TABS if not app.query_one(f"#{u.pane}").has_class("-hidden")]
            assert shown == [t.name], shown
            await pilot.pause()
            pane = app.query_one(f"#{t.pane}")
            assert pane.region.height > 5 and pane.region.y > 6  # under the markets, over the tab bar
        tabs_line = screen_lines(app)[-2]
        assert all(f"{t.key} {t.label}" in tabs_line for t in TABS), tabs_line
    app = build_app()
    async with app.run_test(size=SIZE) as pilot:  # wide: the book, positions, signals and trades stay
        await pilot.pause()
        assert not app.compact and app.active_tab == "log"
        await pilot.press("1")
        assert app.active_tab == "log" and not app.query_one("#book-box").has_class("-hidden")
        assert any("on screen" in str(n.message) for n in app._notifications)
        await pilot.press("7")
        assert app.active_tab == "fills" and app.query_one("#event-log").has_class("-hidden")
        shown = "\n".join(screen_lines(app))
        assert "5 Log  6 Orders  7 Fills" in shown and "1 Book" not in shown
        # the terminal shrinks, then grows: the layout follows, the tab chosen stays
        await pilot.resize_terminal(100, 30)
        await until(pilot, lambda: app.compact and "1 Book  2 Positions" in "\n".join(screen_lines(app)))
        assert app.active_tab == "fills" and app.query_one("#book-box").has_class("-hidden")
        table = app.query_one(MarketsTable)
        await until(pilot, lambda: all(n in "\n".join(screen_lines(app, table))
                                       for n in ("Our bid", "Our ask", "Held")))
        await pilot.resize_terminal(*SIZE)
        await until(pilot, lambda: not app.compact and not app.query_one("#book-box").has_class("-hidden"))
        assert app.active_tab == "fills"


async def test_f_flattens_the_selected_markets_position_at_the_venue_after_asking() -> None:
    """Demo engine against the stand-in: a taker hits our bid, so we hold YES; ``f`` asks (what is held,
    sell YES at market within the limits, or reduce-only instead); ``n`` changes nothing, ``r`` switches
    the market to reduce-only and back, ``y`` flattens: the venue holds nothing of it, the event log and
    the markets list say so."""
    from polymm.tui.screens import FlattenScreen

    async with run_exchange(port=0, seed=16, flow=False) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.engine is not None and app.query_one(MarketsTable).selected is not None)
            engine = app.engine
            table = app.query_one(MarketsTable)
            cid = table.selected
            market = engine.markets[cid]
            await until(pilot, lambda: any(o.yes_side.value == "BUY" for o in ours(ex, engine, cid)), 15.0)
            hit_our_bid(ex, engine, cid)
            await until(pilot, lambda: _venue_position(ex, market)[0] > 0 and engine.portfolio.position(cid).qty > 0)
            yes = _venue_position(ex, market)[0]
            await until(pilot, lambda: str(table.get_cell(cid, "pos")) == f"YES {shares_text(yes)}")

            await pilot.press("f")
            await until(pilot, lambda: isinstance(app.screen, FlattenScreen))
            question = app.screen.question
            assert f"Flatten {market.question}: sell YES {shares_text(yes)} at market within the risk limits?" \
                in question, question
            assert "reduce-only" in question
            await pilot.press("n")
            await until(pilot, lambda: not isinstance(app.screen, FlattenScreen))
            assert _venue_position(ex, market)[0] == yes and cid not in engine.reduce_only

            for on in (True, False):  # the second choice: reduce-only instead (and back)
                await pilot.press("f")
                await until(pilot, lambda: isinstance(app.screen, FlattenScreen))
                await pilot.press("r")
                await until(pilot, lambda o=on: (cid in engine.reduce_only) == o)
                assert _venue_position(ex, market)[0] == yes
            assert any("reduce-only on" in e.text for e in app.store.get("events"))

            await pilot.press("f")
            await until(pilot, lambda: isinstance(app.screen, FlattenScreen))
            await pilot.press("y")
            await until(pilot, lambda: _venue_position(ex, market) == (0, 0), 15.0)
            await until(pilot, lambda: engine.portfolio.position(cid).qty == 0)
            await until(pilot, lambda: any("flatten SELL" in e.text and "matched" in e.text
                                           for e in app.store.get("events")))
            await until(pilot, lambda: str(table.get_cell(cid, "pos")) == "—")
            assert not engine.halted
            # the session charts say the range they span, with the unit
            label = app.query_one("#pnl-chart-label")
            await until(pilot, lambda: re.search(r"after fees\)  [+-]\d+\.\d\d … [+-]\d+\.\d\d pUSD$",
                                                 str(label.render())) is not None)


@pytest.mark.usefixtures("clean")
async def test_on_quit_the_terminal_gets_the_session_pnl_and_the_positions_left(monkeypatch, capsys) -> None:
    """``polymm-tui``, once its app exited: how the stop went, then the session's P&L (the summary's
    figures) and every token still held with its market — or that nothing is."""
    from snapshot_scenario import build_app

    from polymm.commands import dashboard
    from polymm.tui.app import StopSummary, session_summary

    monkeypatch.setattr(StatusBar, "clock", StatusBar.clock)
    app = build_app()  # paper: trading +1.30, fees 0.10; holds tokens of four markets
    app.run = lambda *a, **kw: None  # type: ignore[method-assign]  # the session already ran
    app.stop_summary = StopSummary(cancelled=9, left=0, venue=False)
    monkeypatch.setattr(dashboard, "program_app", lambda settings, mode, markets: app)
    assert dashboard.main([]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "polymm-tui: stopped: 9 paper orders cancelled", err
    assert err[1] == ("polymm-tui: session P&L: trading +1.30  rewards n/a (paper)  fees -0.10  net +1.20 pUSD "
                      "(14 fills)"), err
    assert err[2] == "polymm-tui: positions left (4 markets; the venue holds them after the exit):", err
    held = {line.split("  ")[1].strip(): line.rsplit("  ", 1)[1] for line in err[3:]}
    assert held == {"YES 20.00": "Will the UK hold a general election in 2027?",
                    "YES 2.50 NO 37.50": "Will Real Madrid win the 2026-27 Champions League?",
                    "YES 12.50": "Will a hurricane make US landfall as Category 5 in 2027?",
                    "NO 8.25": "Will Bitcoin close above $150,000 on December 31, 2026?"}, err

    app.store.set("holdings", ())
    assert session_summary(app.store)[-1] == "positions left: none"


async def test_the_names_in_a_narrow_table_keep_the_words_that_tell_markets_apart() -> None:
    from polymm.tui.text import fit_name, short_names

    names = short_names({"a": "Will the UK hold a general election in 2027?",
                         "b": "Will Real Madrid win the 2026-27 Champions League?",
                         "c": "Will NASA's Artemis III launch before December 2027?"})
    assert names == {"a": "UK hold a general election in 2027", "b": "Real Madrid 2026-27 Champions League",
                     "c": "NASA's Artemis III launch before December 2027"}
    # a year every row has says nothing about which row is which
    both = short_names({"x": "Will Lakers win the 2026 NBA Finals?", "y": "Will Celtics win the 2026 NBA Finals?"})
    assert both == {"x": "Lakers NBA Finals", "y": "Celtics NBA Finals"}
    assert fit_name(names["a"], 40) == names["a"]
    assert fit_name(names["a"], 29) == "UK hold general election 2027"  # filler words go first
    assert fit_name(names["a"], 22) == "UK hold general… 2027"  # then a cut, the year kept
    assert fit_name(names["c"], 20) == "NASA's Artemis III…"
    assert all(len(fit_name(n, w)) <= w for n in names.values() for w in range(12, 50))


async def test_the_status_bar_fits_by_rank_and_keeps_the_clock_at_the_right_edge() -> None:
    from decimal import Decimal as D

    from rich.text import Text

    from polymm.state import ExecutionState, FeedState, RiskState, VenueState
    from polymm.tui.app import INV_CHART, PNL_CHART, chart_label
    from polymm.tui.status import fit, status_parts
    from polymm.tui.text import money, signed_shares_text

    parts = status_parts(VenueState("LIVE", "https://clob.polymarket.com", "live"),
                         FeedState("RUNNING", frames=48_213, applied_p99_ms=0.02),
                         RiskState(True, "operator kill switch", daily_pnl=D("-3.5"), daily_loss_limit=D(100),
                                   tighten=0.96, balance=1234.5),
                         ExecutionState("live", 0, 0, 2.0, 0, 0, 0, orders_1s=8, cancels_1s=7))
    clock = Text("11:06:40 UTC")
    every = fit(parts, clock, 0).plain
    assert "rl 8/40 7/80" in every and "48,213 frames" in every and "clob.polymarket.com" in every
    for width in (200, 160, 120, 100, 80, 60):
        line = fit(parts, clock, width).plain
        assert len(line) == width and line.endswith("11:06:40 UTC"), (width, line)
        assert "HALTED" in line and "operator kill switch" in line and "LIVE" in line, (width, line)
    assert "limits x0.96" in fit(parts, clock, 120).plain and "frames" not in fit(parts, clock, 120).plain
    assert chart_label(PNL_CHART, [D("-1.2"), D("3.4"), D(0)], money, " pUSD").plain == \
        "total P&L (trading, after fees)  -1.20 … +3.40 pUSD"
    assert chart_label(INV_CHART, [D(-35), D("12.5")], signed_shares_text).plain == \
        "net inventory (YES shares)  -35.00 … +12.50"
    assert chart_label(INV_CHART, [], signed_shares_text).plain == INV_CHART
