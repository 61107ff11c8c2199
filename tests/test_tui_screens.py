"""The modal screens (market picker, parameter editor, help) driven with Textual Pilot, with the
engine running against the stand-in exchange over real sockets. Venue-side checks read the
stand-in's matching engine, filtered by our API key."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from engines import Writes, demo_settings, hit_our_bid, until
from textual.widgets import DataTable, Input, Label, Select

from polymm.domain.market import Side
from polymm.domain.quoting import to_pips
from polymm.tui.app import PolymmApp
from polymm.tui.screens import HelpScreen, MarketPicker, ParamsEditor
from polymm.tui.widgets import ConfirmScreen, MarketsTable, PositionsPanel, shares_text
from polymm_standin.server import run_exchange

pytestmark = pytest.mark.asyncio

SIZE = (160, 48)


def _ours(ex, app: PolymmApp, cid: str) -> list:
    """Our orders resting at the venue in one market (the stand-in's own records)."""
    key = app.engine.execution.api_key
    assert key, "no API key yet: the execution has not started"
    return [o for o in ex.matching.open_orders(key) if o.market.condition_id == cid]


async def _started(pilot, app: PolymmApp, ex) -> None:
    """The engine is up, the dashboard lists its markets and its quotes rest at the venue."""
    await until(pilot, lambda: app.engine is not None and app.engine.execution.api_key != "")
    await until(pilot, lambda: app.query_one(MarketsTable).row_count == len(app.engine.markets))
    await until(pilot, lambda: any(_ours(ex, app, cid) for cid in app.engine.markets))


async def _quoting_december(pilot, app: PolymmApp, ex):
    """Started, and the December 2026 market's quotes rest at the venue: (engine, its condition id)."""
    await _started(pilot, app, ex)
    engine = app.engine
    cid = next(c for c, m in engine.markets.items() if "December 2026" in m.question)
    await until(pilot, lambda: len(_ours(ex, app, cid)) >= 2)
    return engine, cid


async def _open_picker(pilot, app: PolymmApp) -> MarketPicker:
    await pilot.press("m")
    await until(pilot, lambda: isinstance(app.screen, MarketPicker))
    picker = app.screen
    assert isinstance(picker, MarketPicker)
    await until(pilot, lambda: picker.loaded)
    return picker


def _rows(picker: MarketPicker) -> list[str]:
    table = picker.query_one("#picker-table", DataTable)
    return [k.value for k in table.rows]


def _text(widget) -> str:
    return str(widget.render())


async def test_picker_search_then_enter_adds_a_market_that_quotes_at_the_venue() -> None:
    async with run_exchange(port=0, seed=5, flow=False) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            await _started(pilot, app, ex)
            engine = app.engine
            picker = await _open_picker(pilot, app)
            # the stand-in lists nine markets; the app trades the six with the most volume
            assert len(picker.candidates) == 9 and len(engine.markets) == 6
            assert len(_rows(picker)) == 9
            await pilot.press(*"taylor")
            await until(pilot, lambda: len(_rows(picker)) == 1)
            cid = _rows(picker)[0]
            assert "Taylor Swift" in picker.candidates[cid].market.question
            assert cid not in engine.markets and not _ours(ex, app, cid)
            table = picker.query_one("#picker-table", DataTable)
            assert str(table.get_cell(cid, "traded")) == ""

            await pilot.press("enter")
            await until(pilot, lambda: cid in engine.markets)
            assert engine.feed.books.get(cid) is not None  # subscribed
            await until(pilot, lambda: len(_ours(ex, app, cid)) >= 2)  # quoted at the venue, both sides
            sides = {o.yes_side for o in _ours(ex, app, cid)}
            assert sides == {Side.BUY, Side.SELL}
            await until(pilot, lambda: "added" in _text(picker.query_one("#picker-message", Label)))
            assert "yes" in str(table.get_cell(cid, "traded"))
            assert engine.params[cid] == engine.default_params(engine.markets[cid])

            # adding it again with `a` (list focused) does nothing and says so
            table.focus()
            await pilot.press("a")
            assert "already traded" in _text(picker.query_one("#picker-message", Label))
            assert len(engine.markets) == 7
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, MarketPicker))
            # the dashboard lists the new market
            await until(pilot, lambda: cid in app.query_one(MarketsTable).rows)


async def test_picker_removes_a_traded_market_and_its_venue_orders() -> None:
    async with run_exchange(port=0, seed=5, flow=False) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            engine, cid = await _quoting_december(pilot, app, ex)
            picker = await _open_picker(pilot, app)
            await pilot.press(*"december")
            await until(pilot, lambda: _rows(picker) == [cid])
            assert "yes" in str(picker.query_one("#picker-table", DataTable).get_cell(cid, "traded"))
            await pilot.press("enter")  # on a traded row: remove
            await until(pilot, lambda: cid not in engine.markets)
            assert engine.feed.books.get(cid) is None  # unsubscribed
            assert _ours(ex, app, cid) == []  # cancelled at the venue before it was dropped
            await until(pilot, lambda: "removed" in _text(picker.query_one("#picker-message", Label)))
            # stays out: nothing of ours comes back in that market, while the others keep quoting
            steps = [Writes(engine.store, f"book/{c}") for c in engine.markets]
            await until(pilot, lambda: all(n() >= 3 for n in steps))
            assert _ours(ex, app, cid) == []
            assert any(_ours(ex, app, c) for c in engine.markets)
            assert str(picker.query_one("#picker-table", DataTable).get_cell(cid, "traded")) == ""
            # `d` only removes; in the list (not the search box) it is a key, not a letter
            await pilot.press("tab")
            assert isinstance(app.focused, DataTable)
            await pilot.press("d")
            assert "not traded" in _text(picker.query_one("#picker-message", Label))
            assert cid not in engine.markets


async def test_removing_a_market_we_hold_asks_first_and_its_position_stays_shown() -> None:
    """A market holding a position is removed only once confirmed (y); n and escape change nothing.
    Once removed, its tokens stay listed under Positions as not traded, with the venue's count."""
    from eth_account import Account

    from polymm.engine.execution_factory import DEMO_PRIVATE_KEY

    address = Account.from_key(DEMO_PRIVATE_KEY).address
    async with run_exchange(port=0, seed=5, flow=False) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            engine, cid = await _quoting_december(pilot, app, ex)
            market = engine.markets[cid]
            await until(pilot, lambda: any(o.yes_side is Side.BUY for o in _ours(ex, app, cid)))
            hit_our_bid(ex, engine, cid)
            await until(pilot, lambda: any(h.condition_id == cid for h in engine.ledger.holdings()))
            yes = ex.standin.accounts.position(address, market.yes_token)
            assert yes > 0 and engine.portfolio.position(cid).qty == yes

            picker = await _open_picker(pilot, app)
            await pilot.press(*"december")
            await until(pilot, lambda: _rows(picker) == [cid])
            await until(pilot, lambda: len(_ours(ex, app, cid)) >= 2)  # quoting again after the fill
            for decline in ("n", "escape"):
                await pilot.press("enter")  # on a traded row: remove, but we hold shares: asks first
                await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
                question = app.screen.question
                assert f"We hold YES {shares_text(yes)}" in question and market.short_question in question
                assert "stays counted" in question and "shown under Positions" in question
                await pilot.press(decline)
                await until(pilot, lambda: app.screen is picker)
                assert "kept, nothing changed" in _text(picker.query_one("#picker-message", Label))
                steps = Writes(engine.store, f"book/{cid}")
                await until(pilot, lambda steps=steps: steps() >= 2)  # it goes on stepping
                assert cid in engine.markets and engine.feed.books.get(cid) is not None
                assert len(_ours(ex, app, cid)) >= 2  # still quoting at the venue

            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await until(pilot, lambda: cid not in engine.markets)
            assert _ours(ex, app, cid) == []
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, MarketPicker))
            await until(pilot, lambda: cid not in app.query_one(MarketsTable).rows)
            # still held, still counted, and on screen: under Positions, as not traded
            assert engine.portfolio.position(cid).qty == yes

            def listed() -> bool:  # the row under "(not traded)", as drawn
                lines = [strip.text for strip in app.screen._compositor.render_strips()]
                r = app.query_one(PositionsPanel).region
                panel = [line[r.x:r.right] for line in lines[r.y:r.bottom]]
                at = next((i for i, t in enumerate(panel) if "(not traded)" in t), None)
                row = app.query_one(PositionsPanel).shown.get(cid)
                if at is None or at + 1 >= len(panel) or row is None:
                    return False
                name, held = row[:2]
                return held == f"YES {shares_text(yes)}" and name.rstrip("…") in panel[at + 1] and \
                    f" {held} " in panel[at + 1] + " "

            await until(pilot, listed)


async def test_removing_a_market_while_its_step_is_placing_keeps_the_engine_armed() -> None:
    """remove_market holds the market's step lock: a step in flight (its own cancel changed the book)
    finishes first, and none places orders for the market once it is gone."""
    async with run_exchange(port=0, seed=5, flow=False) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            engine, cid = await _quoting_december(pilot, app, ex)
            ex_place, ex_cancel, ex_step = engine.execution.place_many, engine.execution.cancel_market, engine.step
            busy: list[str] = []  # the market's steps and placements under way

            # a slower venue: cancels answer 0.5 s after they land, placements take 0.6 s. The market steps
            # every ~0.25 s, so a step sees the cancelled book and is placing while remove_market goes on.
            # These sleeps are the fault (the venue's latency), not waits.
            async def slow_place_many(market, book, reqs, origin_ns=0):
                busy.append(market.condition_id)
                try:
                    await asyncio.sleep(0.6)
                    return await ex_place(market, book, reqs)
                finally:
                    busy.remove(market.condition_id)

            async def slow_cancel_market(condition_id):
                n = await ex_cancel(condition_id)
                await asyncio.sleep(0.5)
                return n

            async def step(condition_id):
                busy.append(condition_id)
                try:
                    return await ex_step(condition_id)
                finally:
                    busy.remove(condition_id)

            engine.execution.place_many = slow_place_many
            engine.execution.cancel_market = slow_cancel_market
            engine.step = step
            picker = await _open_picker(pilot, app)
            await pilot.press(*"december")
            await until(pilot, lambda: _rows(picker) == [cid])
            await pilot.press("enter")
            await until(pilot, lambda: cid not in engine.markets)
            await until(pilot, lambda: cid not in busy)  # whatever was under way for it has finished
            assert not engine.halted, engine.halt_reason
            assert _ours(ex, app, cid) == []


async def test_picker_sorts_and_filters_a_long_list_and_reports_a_failed_discovery() -> None:
    async with run_exchange(port=0, seed=7, market_count=150, flow=False) as ex:
        settings = demo_settings(ex).model_copy(update={"select_price_min": 0.3, "select_price_max": 0.6})
        app = PolymmApp(settings, mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.engine is not None)
            picker = await _open_picker(pilot, app)
            sort_label = picker.query_one("#picker-sort", Label)
            selection = picker.query_one("#picker-selection", Label)
            # it opens on the automatic selection (POLYMM_SELECT_*: here YES price 0.3–0.6), by score
            assert "selection: price 0.3–0.6, ≥ 24 h to end" in _text(selection) and "score" in _text(sort_label)
            selected = dict(picker.candidates)
            traded = set(app.engine.markets)
            assert all(0.3 <= c.price <= 0.6 for cid, c in selected.items() if cid not in traded)
            scores = [picker.candidates[c].score for c in _rows(picker)]
            assert scores == sorted(scores, reverse=True)
            await pilot.press("ctrl+f")  # every open market
            await until(pilot, lambda: picker.loaded and len(picker.candidates) > 150)
            assert "all open markets" in _text(selection)
            assert len(selected) < len(picker.candidates)
            assert len(_rows(picker)) == len(picker.candidates)  # all drawn (under the row cap)
            await pilot.press("ctrl+s")
            assert "volume" in _text(sort_label)
            vols = [picker.candidates[c].volume_24h for c in _rows(picker)]
            assert vols == sorted(vols, reverse=True)
            await pilot.press("ctrl+s")
            assert "spread" in _text(sort_label)
            spreads = [picker.candidates[c].spread for c in _rows(picker)]
            known = [s for s in spreads if s is not None]
            assert known == sorted(known) and spreads[: len(known)] == known
            # search as you type: every word must match the question or slug
            await pilot.press(*"bitcoin")
            bitcoin = _rows(picker)
            assert 0 < len(bitcoin) < len(picker.candidates)
            assert all("bitcoin" in picker.candidates[c].market.question.lower() for c in bitcoin)
            # a second word that two or more of those questions have, not all (the catalog's own words)
            word = next(w for c in bitcoin for w in picker.candidates[c].market.question.lower().rstrip("?").split()
                        if 1 < sum(w in picker.candidates[d].market.question.lower() for d in bitcoin) < len(bitcoin))
            await pilot.press("space", *word)
            narrower = _rows(picker)
            assert 0 < len(narrower) < len(bitcoin) and set(narrower) <= set(bitcoin)
            assert f"{len(narrower)} of {len(picker.candidates)}" in _text(picker.query_one("#picker-status"))
            # ↓ while typing moves the cursor in the list
            await pilot.press("down")
            assert picker.highlighted == narrower[1]

            # Gamma unreachable: the modal says so, stays open and keeps what it had
            picker.settings = picker.settings.model_copy(update={"gamma_url": "http://127.0.0.1:9/gamma-api"})
            await pilot.press("f5")
            status = picker.query_one("#picker-status", Label)
            await until(pilot, lambda: "discovery failed" in _text(status))
            assert status.has_class("-error") and isinstance(app.screen, MarketPicker)
            assert _rows(picker) == narrower


async def _open_editor(pilot, app: PolymmApp, cid: str | None = None) -> tuple[ParamsEditor, str]:
    """Select ``cid`` on the dashboard (cursor keys; the first market when None) and press ``e``."""
    table = app.query_one(MarketsTable)
    await until(pilot, lambda: table.selected is not None)
    while cid is not None and table.selected != cid:
        assert table.cursor_row < table.row_count - 1, f"{cid} is not on the dashboard"
        await pilot.press("down")
    cid = table.selected
    await pilot.press("e")
    await until(pilot, lambda: isinstance(app.screen, ParamsEditor))
    editor = app.screen
    assert isinstance(editor, ParamsEditor) and editor.condition_id == cid
    return editor, cid


async def _type(pilot, editor: ParamsEditor, field: str, text: str) -> None:
    box = editor.query_one(f"#edit-{field}", Input)
    box.focus()
    box.value = ""
    await pilot.press(*text)
    assert box.value == text


async def test_editor_widens_the_spread_and_the_venue_quotes_follow() -> None:
    async with run_exchange(port=0, seed=8, flow=False) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            await _started(pilot, app, ex)
            engine = app.engine
            # a market without a reward program: nothing but the fixed model decides where the quotes sit
            plain = next(c for c, m in engine.markets.items() if m.reward_max_spread == 0)
            await until(pilot, lambda: len(_ours(ex, app, plain)) >= 2)
            editor, cid = await _open_editor(pilot, app, plain)
            assert engine.params[cid].model == "fixed"
            before = engine.params[cid]
            tick = engine.markets[cid].tick.decimal
            # pre-filled with the running values, with the allowed range beside each field
            assert Decimal(editor.query_one("#edit-spread", Input).value) == before.spread
            assert Decimal(editor.query_one("#edit-size", Input).value) == before.size
            hint = _text(editor.query_one("#hint-spread"))
            assert f"multiple of {tick.normalize()}, ≥ {(2 * tick).normalize()}" in hint
            wider = before.spread + 4 * tick
            old_ids = {o.id for o in _ours(ex, app, cid)}

            calls: list[dict] = []
            real = engine.set_params
            engine.set_params = lambda c, **kw: calls.append(kw) or real(c, **kw)
            await _type(pilot, editor, "spread", str(wider))
            await pilot.press("enter")
            await until(pilot, lambda: not isinstance(app.screen, ParamsEditor))
            assert calls == [{"spread": wider}]  # one call, only the changed field
            assert engine.params[cid].spread == wider and engine.params[cid].size == before.size

            # the next quotes at the venue: the old ones replaced, both sides placed from one book,
            # exactly as fixed_quotes rounds (bid down, ask up onto the grid): width S to S + 2 ticks
            def requoted() -> bool:
                ours = _ours(ex, app, cid)
                return bool(ours) and not {o.id for o in ours} & old_ids and {o.yes_side for o in ours} == {
                    Side.BUY, Side.SELL}

            await until(pilot, requoted)
            ours = _ours(ex, app, cid)
            bid = max(o.yes_price for o in ours if o.yes_side is Side.BUY)
            ask = min(o.yes_price for o in ours if o.yes_side is Side.SELL)
            assert to_pips(wider) <= ask - bid <= to_pips(wider) + 2 * to_pips(tick)


async def test_editor_refuses_invalid_values_inside_the_modal() -> None:
    async with run_exchange(port=0, seed=9, flow=False) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.engine is not None)
            engine = app.engine
            editor, cid = await _open_editor(pilot, app)
            before = engine.params[cid]
            tick = engine.markets[cid].tick.decimal
            error = editor.query_one("#editor-error", Label)
            spread_box = editor.query_one("#edit-spread", Input)

            off_grid = before.spread + tick / 2  # not a tick multiple
            await _type(pilot, editor, "spread", str(off_grid))
            await pilot.press("enter")
            assert isinstance(app.screen, ParamsEditor)  # stays open
            shown = _text(error)
            assert "spread" in shown and f"multiple of the tick {engine.markets[cid].tick.text}" in shown
            assert str(off_grid.normalize()) in shown
            assert error.display and error.region.height >= 1  # visible, not only a toast
            assert spread_box.has_class("-invalid")
            assert engine.params[cid].spread == before.spread

            await _type(pilot, editor, "spread", "abc")
            await pilot.press("enter")
            assert isinstance(app.screen, ParamsEditor)
            shown = _text(error)
            assert "spread: not a number" in shown and "'abc'" in shown and f"multiple of {tick.normalize()}" in shown
            assert engine.params[cid].spread == before.spread

            # over the risk cap: the engine's message names the field and the cap
            await _type(pilot, editor, "spread", str(before.spread))
            await _type(pilot, editor, "size", str(engine.settings.max_order_size + 1))
            await pilot.press("enter")
            assert "size" in _text(error) and str(engine.settings.max_order_size) in _text(error)
            assert engine.params[cid] == before

            await pilot.press("escape")  # cancel: nothing changed
            await until(pilot, lambda: not isinstance(app.screen, ParamsEditor))
            assert engine.params[cid] == before


async def test_help_lists_every_binding_with_its_id() -> None:
    async with run_exchange(port=0, seed=10, flow=False) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("question_mark")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen))
            rows = app.screen.rows()
            by_id = {r[4]: r for r in rows}
            assert by_id["kill"][1] == "ctrl+k" and by_id["kill"][2] == "KILL"
            assert "Cancel every order" in by_id["kill"][3]
            assert by_id["spread_up"][1] == "+ / ="
            # every app binding is listed, and the modals' own keys too
            assert {b.id for b in PolymmApp.BINDINGS} <= set(by_id)
            assert {"picker_toggle", "picker_sort", "editor_save", "help_close"} <= set(by_id)
            # Textual's own keys too (the arrows, the palette), every tab's key, and the status bar's words
            by_key = {r[1]: r for r in rows}
            assert {"↑ / ↓", "ctrl+p", "tab / shift+tab", "ctrl+q / ctrl+c"} <= set(by_key)
            assert {"tab_book", "tab_log", "tab_orders", "tab_fills", "flatten", "sort"} <= set(by_id)
            assert by_id["tab_log"][1] == "5" and by_id["flatten"][1] == "f" and by_id["sort"][1] == "s"
            assert {"flatten_yes", "flatten_reduce_only", "flatten_no"} <= set(by_id)
            assert "rate limit" in by_key["rl 8/40 7/80"][3] and "queue" in by_key["q54 (ladder)"][3]
            assert {"hb 2s", "p99 0.02ms", "limits x0.96", "NOT QUOTING: <why>"} <= set(by_key)
            await pilot.press("q")  # closes the help, does not quit the app
            await until(pilot, lambda: not isinstance(app.screen, HelpScreen))
            assert app.is_running
            assert "rate limit" in str(app.query_one("#status-bar").tooltip)  # and the bar's own tooltip


async def test_picker_removes_with_ctrl_d_without_leaving_the_search_box() -> None:
    """``d`` types into the search box; ``ctrl+d`` removes the highlighted market from there."""
    async with run_exchange(port=0, seed=5, flow=False) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=SIZE) as pilot:
            engine, cid = await _quoting_december(pilot, app, ex)
            picker = await _open_picker(pilot, app)
            await pilot.press(*"december")  # a "d" among them: typed, not a removal
            await until(pilot, lambda: _rows(picker) == [cid])
            search = picker.query_one("#picker-search", Input)
            assert search.value == "december" and app.focused is search and cid in engine.markets
            await pilot.press("ctrl+d")
            await until(pilot, lambda: cid not in engine.markets)
            assert app.focused is search and search.value == "december"  # still typing
            assert _ours(ex, app, cid) == []


async def test_editor_offers_every_parameter_the_market_file_takes_grouped_with_help() -> None:
    from polymm.engine.watchlist import PARAM_KEYS
    from polymm.tui.screens import field_groups

    async with run_exchange(port=0, seed=9, flow=False) as ex:
        app = PolymmApp(demo_settings(ex), mode="DEMO")
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.engine is not None)
            engine = app.engine
            editor, cid = await _open_editor(pilot, app)
            running = engine.params[cid]
            offered = {f.name for _, _, fields in field_groups() for f in fields} | {"model"}
            assert set(PARAM_KEYS) <= offered, set(PARAM_KEYS) - offered
            for name in PARAM_KEYS:
                if name == "model":
                    continue
                box = editor.query_one(f"#edit-{name}", Input)
                assert Decimal(box.value) == Decimal(str(getattr(running, name))), name  # the running value
                hint = _text(editor.query_one(f"#hint-{name}"))
                assert "; " in hint and len(hint.split("; ", 1)[1]) > 10, (name, hint)  # its range; what it does
            groups = [_text(label) for label in editor.query(".editor-group")]
            assert groups[:3] == ["Quotes", "Risk", "Order upkeep"], groups
            assert running.model == "fixed" and not [g for g in groups if g.endswith("in use")], groups
            assert "pm4 model — used when the model is pm4" in groups
            editor.query_one("#edit-model", Select).value = "pm4"  # the menu marks the group in use
            await until(pilot, lambda: _text(editor.query_one("#group-model-pm4")) == "pm4 model — in use")
            # another model's field saved like any other, with the model, in one set_params call
            calls: list[dict] = []
            real = engine.set_params
            engine.set_params = lambda c, **kw: calls.append(kw) or real(c, **kw)
            await _type(pilot, editor, "kappa", "250")
            await pilot.press("enter")
            await until(pilot, lambda: not isinstance(app.screen, ParamsEditor))
            assert calls == [{"kappa": 250.0, "model": "pm4"}]
            assert engine.params[cid].kappa == 250.0 and engine.params[cid].model == "pm4"
