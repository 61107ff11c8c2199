"""The dashboard with 300 markets (issue 16): the markets table formats only the rows on screen, its
filter narrows the rows as one types, every sort orders them right and keeps ties in the listed order,
the cursor keys and the selection work over the whole list, and the status bar shows the order path's
latency and the rate limiter.

The store is filled directly (``scale_app``: MarketState and BookView objects, a fixed seed, a fixed
clock); the engine is built, never started. No timing is asserted: what is checked is which rows were
formatted, not how long it took (``bench/tui_bench.py --markets N`` measures that)."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from decimal import Decimal as D

import msgspec
import pytest
from engines import screen_lines, until
from rich.text import Text

from polymm.config import load_settings
from polymm.domain.prices import Tick
from polymm.engine.engine import Engine
from polymm.state import (
    ExecutionState,
    FeedState,
    HoldingView,
    MarketState,
    OrderView,
    PortfolioState,
    RiskState,
    VenueState,
)
from polymm.tui import markets as markets_module
from polymm.tui.app import PolymmApp
from polymm.tui.panels import ACTIVITY_MS, SORTS, STATE_RANK
from polymm.tui.status import LAG_RED_MS, LEGEND, fit, status_parts
from polymm.tui.text import short_names
from polymm.tui.widgets import LadderTitle, MarketsTable, PositionsPanel, StatusBar
from polymm_standin.sim.catalog import make_markets

pytestmark = pytest.mark.asyncio

N = 300
SIZE = (160, 48)
NOW = 1_795_000_000.0  # 2026-11-18 11:06:40 UTC
DEAD = "127.0.0.1:9"  # nothing listens: the app must not need the network
STATES = ("quoting", "quoting", "quoting", "paused", "waiting", "reconciling", "halted", "untrusted")


def _book(cid: str, tick: Tick, mid: int, ts_ms: int, version: int):
    from polymm.domain.order_book import BookView, Level

    bids = tuple(Level(mid - tick.pips * (i + 1), 50.0 + i) for i in range(5))
    asks = tuple(Level(mid + tick.pips * (i + 1), 40.0 + i) for i in range(5))
    return BookView(cid, 1, version, tick, bids[0].price, asks[0].price, bids[0].size, asks[0].size, bids, asks,
                    None, ts_ms)


def scale_app(n: int = N, seed: int = 16) -> PolymmApp:
    """A paper dashboard over ``n`` markets with varied figures: P&L, positions, fills and book times drawn
    from small sets (so ties happen), every state, a few holdings. Seeded: the same store on every run."""
    rng = random.Random(seed)
    settings = load_settings(_env_file=None, mode="paper", clob_url=f"http://{DEAD}", ws_url=f"ws://{DEAD}",
                             gamma_url=f"http://{DEAD}/gamma-api", data_url=f"http://{DEAD}/data-api")
    markets = make_markets(seed, n)
    engine = Engine(settings, markets, mode="PAPER", venue_host=f"http://{DEAD}")
    store = engine.store
    order = tuple(m.condition_id for m in markets)
    holdings = []
    for k, m in enumerate(markets):
        cid = m.condition_id
        mid = (2000 + 100 * rng.randrange(60)) // m.tick.pips * m.tick.pips
        store.set(f"book/{cid}", _book(cid, m.tick, mid, int(NOW * 1000) - 250 * rng.randrange(40), k))
        position = D(rng.choice((0, 0, 5, -5, 20, -35, 12)))
        orders = (OrderView(f"0x{k:04x}b", "BUY", mid - 2 * m.tick.pips, D(10)),
                  OrderView(f"0x{k:04x}s", "SELL", mid + 2 * m.tick.pips, D(10)))
        params = engine.params[cid]
        store.set(f"market/{cid}", MarketState(
            cid, m.question, rng.choice(STATES), "", orders, position, D("0.5") if position else None,
            D(rng.randrange(-3, 4)) / 2, D(rng.randrange(-2, 3)) / 4, rng.randrange(6), params.spread, params.size,
            params.position_limit))
        if position and k % 3 == 0:
            token = ("Yes", m.yes_token) if position > 0 else ("No", m.no_token)
            holdings.append(HoldingView(cid, m.question, token[0], token[1], abs(position), True))
    store.set("markets", order)
    store.set("holdings", tuple(holdings))
    store.set("portfolio", PortfolioState(D("1.25"), D("-0.50"), D("0.10"), 40))
    store.set("venue", VenueState("PAPER", f"http://{DEAD}", "paper"))
    store.set("feed", FeedState("RUNNING", "", 48_213, 0, 1, 0.4, (), 0, 6, 0, 0.006, 0.021))
    store.set("execution", ExecutionState("paper", 600, 0, None, 0, 0, 0))
    store.set("risk", RiskState(False, daily_pnl=D("0.75"), daily_loss_limit=D(100)))
    StatusBar.clock = staticmethod(lambda: NOW)
    app = PolymmApp(settings, mode="PAPER", engine=engine)
    app.theme = "textual-dark"
    return app


def _title(app: PolymmApp) -> str:
    return screen_lines(app, app.query_one(MarketsTable))[0]


async def _refreshes(pilot, app: PolymmApp, n: int) -> None:
    """Wait for ``n`` more store → widget refreshes (the markets panel is drawn on the first after a
    ``redraw_all``)."""
    seen = len(app.refresh_costs)
    await until(pilot, lambda: len(app.refresh_costs) >= seen + n)


async def _loaded(pilot, app: PolymmApp) -> MarketsTable:
    table = app.query_one(MarketsTable)
    await until(pilot, lambda: table.row_count == N and table.selected is not None)
    return table


@pytest.fixture(autouse=True)
def _clock(monkeypatch) -> None:
    monkeypatch.setattr(StatusBar, "clock", StatusBar.clock)  # scale_app pins it: put it back afterwards


# ---------------------------------------------------------------- only what is on screen is drawn


async def test_only_the_rows_on_screen_are_formatted(monkeypatch) -> None:
    """Every market's figures change; a refresh formats the rows on screen and no other, and so does
    a page down. The rows shown carry the new figures."""
    calls: list[str] = []
    real = markets_module.market_row

    def counted(st, *args, **kwargs):
        calls.append(st.condition_id)
        return real(st, *args, **kwargs)

    monkeypatch.setattr(markets_module, "market_row", counted)
    app = scale_app()
    store = app.store
    async with app.run_test(size=SIZE) as pilot:
        table = await _loaded(pilot, app)
        rows = app.query_one("#market-rows")
        shown = rows.shown_rows
        assert 10 < shown < 40, shown
        await until(pilot, lambda: len(set(calls)) >= shown)
        assert set(calls) <= set(table.rows[:shown]), "a row off screen was formatted"

        calls.clear()
        for cid in store.get("markets"):  # every market moves: P&L up by 1
            st = store.get(f"market/{cid}")
            store.set(f"market/{cid}", msgspec.structs.replace(st, realized_pnl=st.realized_pnl + 1))
        first = table.rows[0]
        want = store.get(f"market/{first}")
        await until(pilot, lambda: screen_lines(app, table)[2].rstrip("│ ").endswith(
            f"{want.realized_pnl + want.unrealized_pnl:+,.2f}        —     {want.fills}"))
        await pilot.pause()
        assert 0 < len(calls) <= shown and set(calls) <= set(table.rows[:shown]), (len(calls), shown)

        calls.clear()
        await pilot.press("pagedown")  # the next page: its rows, and only those
        await until(pilot, lambda: table.cursor_row == shown - 1 and rows.top > 0)
        await pilot.pause()
        top = rows.top
        assert calls and set(calls) <= set(table.rows[top:top + shown]), (top, len(calls))
        assert len(calls) <= shown
        for _ in range(8):  # what is kept of the lines drawn stays a few screens' worth, however far one pages
            await pilot.press("pagedown")
            await pilot.pause()
        assert len(rows._strips) <= 4 * (rows.size.height + 1) + 1


# ---------------------------------------------------------------- filter


async def test_the_filter_narrows_the_rows_as_one_types_and_escape_restores_them() -> None:
    app = scale_app()
    store = app.store
    async with app.run_test(size=SIZE) as pilot:
        table = await _loaded(pilot, app)
        every = table.rows
        questions = {cid: store.get(f"market/{cid}").question for cid in every}
        assert "filter (/)" in _title(app)
        selected = table.selected

        await pilot.press("slash")
        assert table.filtering and app.focused is app.query_one("#markets-filter")
        await pilot.press(*"FeD")  # case-insensitive, a piece of the question
        want = tuple(cid for cid in every if "fed" in questions[cid].lower())
        assert 0 < len(want) < N
        await until(pilot, lambda: table.rows == want)
        await until(pilot, lambda: f'filter "FeD" {len(want)} of {N}' in _title(app))
        assert table.selected in want  # the cursor is on a row the filter shows: the ladder follows it
        await until(pilot, lambda: questions[table.selected] in str(app.query_one(LadderTitle).render()))
        await pilot.press("down")  # the cursor keys work while typing
        assert table.cursor_row == 1 and table.selected == want[1]

        await pilot.press("escape")  # clears, closes, every market again, the keys back to the table
        await until(pilot, lambda: table.rows == every)
        assert not table.filtering and app.focused is app.query_one("#market-rows")
        assert table.selected == want[1]  # the cursor stays on its market
        assert "filter (/)" in _title(app) and " of " not in _title(app)

        # a condition id's start, with or without 0x; enter keeps the filter and gives the keys back
        cid = every[123]
        await pilot.press("slash", *cid[2:10])
        await until(pilot, lambda: table.rows == (cid,))
        await pilot.press("enter")
        assert app.focused is app.query_one("#market-rows") and table.rows == (cid,)
        assert f"1 of {N}" in _title(app)
        await pilot.press("s")  # a key of the dashboard again, not a letter of the filter
        assert app.sort == "pnl" and table.rows == (cid,)
        await pilot.press("escape")
        await until(pilot, lambda: len(table.rows) == N)

        # nothing matches: no rows, and the ladder keeps the market it showed
        await pilot.press("slash", "x")
        await until(pilot, lambda: table.filter_text == "x")
        before = table.selected
        await pilot.press(*"qqzz")
        await until(pilot, lambda: table.row_count == 0)
        assert table.selected == before and f"0 of {N}" in _title(app)
        assert str(app.store.get(f"market/{before}").question)[:40] in str(app.query_one(LadderTitle).render())
        await pilot.press("escape")
        await until(pilot, lambda: table.row_count == N)
        assert selected in table.rows


# ---------------------------------------------------------------- sorts


def _expected(app: PolymmApp, by: str) -> tuple[str, ...]:
    """The order ``by`` should give, worked out here from the store (a stable sort of the listed order)."""
    store = app.store
    listed = store.get("markets")
    st = {cid: store.get(f"market/{cid}") for cid in listed}
    books = {cid: store.get(f"book/{cid}") for cid in listed}
    names = short_names({cid: s.question for cid, s in st.items()})
    keys = {
        "listed": lambda c: 0,
        "pnl": lambda c: st[c].realized_pnl + st[c].unrealized_pnl,
        "position": lambda c: -abs(st[c].position),
        "activity": lambda c: -(books[c].timestamp // ACTIVITY_MS),
        "fills": lambda c: -st[c].fills,
        "state": lambda c: STATE_RANK[st[c].status],
        "name": lambda c: names[c].lower(),
    }
    return tuple(sorted(listed, key=keys[by]))


async def test_every_sort_orders_the_rows_and_ties_keep_the_listed_order() -> None:
    """``s`` cycles P&L, position, book activity, fills, state, name and back to as listed; each order is
    the stable sort of the listed order (the figures are drawn from small sets: many ties), the title
    names it, and a refresh that changes nothing moves no row. The positions panel follows the sort."""
    app = scale_app()
    store = app.store
    async with app.run_test(size=SIZE) as pilot:
        table = await _loaded(pilot, app)
        assert table.rows == store.get("markets")
        for by in [*list(SORTS)[1:], "listed"]:
            await pilot.press("s")
            assert app.sort == by
            want = _expected(app, by)
            assert len(set(want)) == N
            await until(pilot, lambda w=want: table.rows == w)
            assert f"sort: {SORTS[by]} (s)" in _title(app)
            listed_panel = list(app.query_one(PositionsPanel).shown)
            assert listed_panel == [c for c in want if c in listed_panel]  # the positions in the same order
            # a write that changes no figure: the rows stay where they are
            cid = want[0]
            store.set(f"market/{cid}", msgspec.structs.replace(store.get(f"market/{cid}")))
            app.redraw_all()
            await _refreshes(pilot, app, 3)
            assert table.rows == want

        # the activity sort follows the books: a book that just changed comes first
        while app.sort != "activity":
            await pilot.press("s")
        last = store.get("markets")[-1]
        book = store.get(f"book/{last}")
        store.set(f"book/{last}", msgspec.structs.replace(book, timestamp=book.timestamp + 60_000))
        await until(pilot, lambda: table.rows[0] == last)


# ---------------------------------------------------------------- the cursor over 300 rows


async def test_cursor_keys_page_and_jump_over_every_row_and_the_ladder_follows() -> None:
    app = scale_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await _loaded(pilot, app)
        rows = app.query_one("#market-rows")
        shown = rows.shown_rows
        ladder = app.query_one(LadderTitle)

        def shows(cid: str) -> bool:
            st = app.store.get(f"market/{cid}")
            return st.question[:40] in str(ladder.render())

        await pilot.press("end")
        assert table.cursor_row == N - 1 and table.selected == table.rows[-1]
        await until(pilot, lambda: rows.top == N - shown)  # scrolled to the last page
        await until(pilot, lambda: shows(table.rows[-1]))
        last = app.store.get(f"market/{table.rows[-1]}")
        assert screen_lines(app, table)[-2][1:-2].split()[-1] == str(last.fills)  # the last row at the bottom
        await pilot.press("pageup")
        assert table.cursor_row == N - 1 - (shown - 1)
        await pilot.press("home")
        assert table.cursor_row == 0 and rows.top == 0
        await until(pilot, lambda: shows(table.rows[0]))
        await pilot.press("pagedown", "pagedown", "down", "up", "up")
        assert table.cursor_row == 2 * (shown - 1) - 1
        assert table.cursor_row - shown < rows.top <= table.cursor_row  # the cursor's row is on screen
        await until(pilot, lambda: shows(table.selected))
        # a click on a row selects it
        await pilot.click("#market-rows", offset=(5, 3))
        assert table.cursor_row == rows.top + 2
        await until(pilot, lambda: shows(table.selected))
        # a market removed under the cursor: the cursor stays on the row where it was
        at = table.cursor_row
        gone = table.selected
        app.store.set("markets", tuple(c for c in app.store.get("markets") if c != gone))
        app.store.delete(f"market/{gone}")
        await until(pilot, lambda: table.row_count == N - 1)
        assert table.cursor_row == at and table.selected == table.rows[at] != gone


# ---------------------------------------------------------------- the status bar


def _bar(execution: ExecutionState, feed: FeedState | None = None, width: int = 0) -> Text:
    feed = feed or FeedState("RUNNING", frames=48_213, applied_p50_ms=0.006, applied_p99_ms=0.021)
    return fit(status_parts(VenueState("LIVE", "https://clob.polymarket.com", "live"), feed,
                            RiskState(False, balance=1234.5), execution), Text("11:06:40 UTC"), width)


def _style_of(line: Text, piece: str) -> str:
    at = line.plain.index(piece)
    return " ".join(str(s.style) for s in line.spans if s.start <= at < s.end)


async def test_the_status_bar_shows_tick_to_trade_the_loop_lag_and_the_limiter() -> None:
    live = ExecutionState("live", 9, 0, 1.2, 0, 0, 0, orders_1s=8, cancels_1s=7)
    plain = _bar(live).plain
    assert "p99 0.02ms" in plain and "t2t" not in plain and "lag" not in plain and "queue" not in plain
    assert "429" not in plain

    busy = replace(live, tick_to_trade_p50_ms=4.25, tick_to_trade_p99_ms=12.4, loop_lag_ms=120.0, queued=3,
                   throttled_1m=1_250, venue_429s=2)
    line = _bar(busy)
    assert "t2t 12ms" in line.plain and "p99 0.02ms" not in line.plain  # tick-to-trade replaces the feed's
    assert "lag 120ms" in line.plain and "yellow" in _style_of(line, "lag 120ms")
    assert "rl 8/40 7/80 queue 3 held 1,250/min" in line.plain  # next to the spend it paces
    assert "yellow" in _style_of(line, "queue 3")
    assert "429×2" in line.plain and "red" in _style_of(line, "429×2")
    late = _bar(replace(busy, loop_lag_ms=LAG_RED_MS + 150.5))
    assert "lag 400ms" in late.plain and "red" in _style_of(late, "lag 400ms")
    assert "lag" not in _bar(replace(busy, loop_lag_ms=35.0)).plain  # under 50 ms: nothing to say
    assert "t2t 4.5ms" in _bar(replace(busy, tick_to_trade_p99_ms=4.5)).plain
    assert "t2t 0.75ms" in _bar(replace(busy, tick_to_trade_p99_ms=0.75)).plain
    assert "held 12/min" in _bar(replace(busy, queued=0, throttled_1m=12)).plain
    # narrow: the frames and the venue go first; a red lag and the 429s stay as long as the risk figures
    narrow = _bar(replace(busy, loop_lag_ms=400.0), width=100).plain
    assert "lag 400ms" in narrow and "429×2" in narrow and "frames" not in narrow and len(narrow) == 100
    # every abbreviation is explained (the tooltip and the help screen list LEGEND)
    shown = {k.split()[0] for k, _ in LEGEND}
    assert {"t2t", "p99", "lag", "rl", "queue", "429×2"} <= shown

    app = scale_app()
    async with app.run_test(size=SIZE) as pilot:
        await _loaded(pilot, app)
        bar = app.query_one(StatusBar)
        app.store.set("execution", replace(busy, name="paper"))  # paper: no rl, the limiter's figures still
        await until(pilot, lambda: "t2t 12ms" in str(bar.render()))
        text = str(bar.render())
        assert "lag 120ms" in text and "queue 3 held 1,250/min" in text and "429×2" in text and "rl " not in text
        tooltip = str(bar.tooltip)
        assert "feed apply (frame received → book updated): p50 0.01ms, p99 0.02ms" in tooltip, tooltip
        assert "tick-to-trade (frame received → order sent): p50 4.2ms, p99 12ms" in tooltip, tooltip
        assert "1,250 held back in the last minute; venue 429s: 2" in tooltip


async def test_the_event_log_is_drawn_at_most_four_times_a_second_however_often_it_changes() -> None:
    """At 300 markets a log line (a fill) came on almost every 50 ms tick, and the log drawn on each
    was the UI thread's largest cost after the positions: a line written every tick is on screen
    within 0.25 s, never drawn more often than that."""
    from polymm.tui.panels import Schedule
    from polymm.tui.widgets import EventLog

    schedule = Schedule([EventLog.PANEL])
    drawn = []
    for tick in range(40):  # two seconds of ticks, the log changed on each
        now = 100.0 + tick * 0.05
        due = schedule.due(now, {"events": (tick,)}, None)
        if "events" in due:
            drawn.append(now)
            schedule.drawn(due, now)
    gaps = [round(b - a, 2) for a, b in itertools.pairwise(drawn)]
    assert len(drawn) == 8 and set(gaps) == {0.25}
