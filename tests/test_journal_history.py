"""The journal keeps what the earlier bots' SQLite state kept besides orders and fills: each fill's
markout, and every automatic market selection with its scores and filters."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from engines import demo_settings, hit_our_bid, ours, running_engine, yes_bids

from polymm.domain.market import Side
from polymm.domain.portfolio import Fill
from polymm.engine.engine import MARKOUT_S, Engine
from polymm.journal import Journal, read_markouts, read_selections
from polymm.ops.programs import initial_markets
from polymm_standin.server import run_exchange


def test_markouts_and_selections_are_journaled_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = Journal(path, clock=lambda: 1_000.0)
    f = Fill(condition_id="c1", order_id="o1", side=Side.BUY, price=5000, size=D(10), trade_id="t1")
    j.record_markout(f, 10.0, D("-0.0200"))
    j.record_markout(f, 10.0, D("-0.03"))  # the same fill and horizon again: replaced, not doubled
    j.record_selection([("c1", "Will it rain?", 4.25), ("c2", "Will it snow?", 3.5)], "price 0.1–0.9")
    j.record_selection([("c2", "Will it snow?", 3.75)], "price 0.1–0.9", ts=2_000.0)
    assert j.flush()
    j.close()
    assert read_markouts(path) == [("t1", "o1", "c1", 10.0, D("-0.03"))]
    assert read_markouts(path, "other") == []
    assert read_selections(path) == [
        (1_000.0, [("c1", "Will it rain?", 4.25), ("c2", "Will it snow?", 3.5)], "price 0.1–0.9"),
        (2_000.0, [("c2", "Will it snow?", 3.75)], "price 0.1–0.9"),
    ]


async def test_the_engine_journals_the_selection_it_started_from_and_each_fills_markout(
        tmp_path: Path, wait_until) -> None:
    path = tmp_path / "j.sqlite"
    async with run_exchange(port=0, seed=73, market_count=8, flow=False) as ex:
        heard: list = []
        settings = demo_settings(ex, max_markets=3)
        picked = await initial_markets(settings, on_selected=lambda p, f: heard.append((p, f)))
        (selection, filters), = heard
        assert [cid for cid, _, _ in selection] == [m.condition_id for m in picked]
        assert all(score > 0 for _, _, score in selection) and filters.startswith("price")
        plain = [m for m in picked if not m.neg_risk]
        async with running_engine(ex, markets=plain, journal_path=str(path)) as engine:
            engine.record_selection(selection, filters)
            cid = plain[0].condition_id
            await wait_until(lambda: len(yes_bids(ours(ex, engine, cid))) >= 1)
            size = hit_our_bid(ex, engine, cid)
            await wait_until(lambda: engine.portfolio.position(cid).qty == size)
            await wait_until(lambda: any(r.fill.condition_id == cid for r in engine._fills))
            for rec in engine._fills:  # as if MARKOUT_S had passed (no wall-clock wait in a test)
                rec.seen_at -= MARKOUT_S
            engine._publish_fills()
            resolved = [r for r in engine._fills if r.markout is not None]
            assert resolved
            assert engine.journal is not None and engine.journal.flush()
        rows = read_markouts(path, cid)
        assert rows and {(t, o) for t, o, *_ in rows} == {(r.fill.trade_id, r.fill.order_id) for r in resolved}
        assert all(h == MARKOUT_S and m == next(r.markout for r in resolved if r.fill.order_id == o)
                   for _, o, _, h, m in rows)
        assert read_selections(path) == [(read_selections(path)[0][0], selection, filters)]


def test_a_journal_from_before_these_tables_reads_as_empty(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite"
    sqlite3.connect(path).close()
    assert read_markouts(path) == [] and read_selections(path) == []
    assert Engine is not None  # (imported for the type of the engine above)
