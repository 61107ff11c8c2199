"""``polymm rebuild-positions`` against the real stand-in: the journal's fills and positions rebuilt
from the venue's trade history, the differences printed, the journal rewritten unless --dry-run.

The CLI runs on a worker thread (it has its own event loop) while the stand-in serves on the test's."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
import time
from decimal import Decimal
from pathlib import Path

import pytest
from engines import demo_settings, hit_our_bid, ours, running_engine, yes_bids
from eth_account import Account

from polymm.cli import main
from polymm.domain.ledger import Ledger
from polymm.domain.market import Side
from polymm.domain.portfolio import Fill
from polymm.domain.prices import pips_to_str
from polymm.engine.execution_factory import DEMO_PRIVATE_KEY
from polymm.journal import Journal, read_status
from polymm_standin.server import run_exchange
from polymm_standin.server.trading import TradingConfig

D = Decimal
ADDRESS = Account.from_key(DEMO_PRIVATE_KEY).address
FAST = TradingConfig(trade_step_s=0.05)  # MATCHED → MINED → CONFIRMED (or → FAILED) within a moment


@pytest.fixture
def state(clean, tmp_path: Path) -> Path:
    """No POLYMM_* variables or .env; the state directory (instance locks) under tmp_path."""
    clean.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


async def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    assert DEMO_PRIVATE_KEY.removeprefix("0x") not in out + err  # the wallet is shown by its address only
    return code, out, err


def engine_on(ex, journal: Path, markets):
    return running_engine(ex, markets=markets, journal_path=str(journal))


def demo(ex) -> list[str]:
    return ["rebuild-positions", "--demo", "--clob-url", ex.clob_url]


def api_key(ex) -> str:
    (key,) = ex.standin.keys.keys_of(ADDRESS)
    return key.key


def venue_legs(ex) -> set[tuple[str, str]]:
    """Our (trade id, order id) legs from the stand-in's own records — and the reversal a failed one
    needs — not through the command's path."""
    key, out = api_key(ex), set()
    for t in ex.standin.trading.trades.values():
        legs = [m.order_id for m in t.maker_orders if m.owner == key]
        if t.owner == key and (t.taker_address or "").lower() == ADDRESS.lower():
            legs.append(t.taker_order_id)
        for oid in legs:
            out.add((t.id, oid))
            if t.status == "FAILED":
                out.add((t.id + ":failed", oid))
    return out


def balances(ex, markets) -> dict[str, Decimal]:
    return {t: ex.standin.accounts.position(ADDRESS, t) for m in markets for t in (m.yes_token, m.no_token)}


def journal_rows(path: Path) -> dict[str, list]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as c:
        return {t: sorted(c.execute(f"SELECT * FROM {t}")) for t in ("fills", "fill_status", "positions", "orders")}


def journal_legs(path: Path) -> set[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as c:
        return set(c.execute("SELECT trade_id, order_id FROM fills"))


def restored_shares(path: Path, markets) -> dict[str, Decimal]:
    """Each token's count as a restart restores it from the journal."""
    ledger = Ledger()
    assert ledger.restore(Journal(path).restore().fills) == []  # no reversal owed
    return {t: ledger.shares(t) for m in markets for t in (m.yes_token, m.no_token)}


async def engine_fills(ex, path: Path, wait_until) -> list:
    """A real engine (demo wallet) quoting two markets, each of its best bids hit once; its fills
    journaled with every status the venue sent (all CONFIRMED when it stops)."""
    markets = [m for m in ex.markets if not m.neg_risk][:2]
    async with engine_on(ex, path, markets) as engine:
        for m in markets:
            cid = m.condition_id
            await wait_until(lambda cid=cid: len(yes_bids(ours(ex, engine, cid))) >= 1, timeout=15)
            size = hit_our_bid(ex, engine, cid)
            await wait_until(lambda cid=cid, size=size: engine.portfolio.position(cid).qty >= size)
        await wait_until(lambda: engine.execution.pending_fills == 0)
    assert len(venue_legs(ex)) >= 2
    return markets


# ------------------------------------------------------------------------------------------ journal vs venue
async def test_a_lost_and_an_extra_fill_are_reported_by_a_dry_run_then_rebuilt_from_the_venue(
        state, tmp_path: Path, capsys, wait_until) -> None:
    path = tmp_path / "j.sqlite"
    paged = TradingConfig(trade_step_s=0.05, page_size=1)  # /data/trades one trade a page: every page is read
    async with run_exchange(port=0, seed=81, flow=False, trading=paged) as ex:
        markets = await engine_fills(ex, path, wait_until)
        legs = venue_legs(ex)
        assert journal_legs(path) == legs

        # the engine's own journal: the venue's trades rebuild exactly what it holds
        code, out, err = await cli(capsys, *demo(ex), "--journal", str(path), "--dry-run", "--json")
        assert code == 0, err
        doc = json.loads(out)
        assert doc["differences"] is False and doc["written"] is False and doc["legs"] == len(legs)
        for m in doc["markets"]:
            assert m["journal"] == m["rebuilt"] == m["venue"] and m["agrees_with_venue"] is True

        # a journal that lost a fill and holds one the venue never made (and an adjustment)
        tampered = tmp_path / "tampered.sqlite"
        shutil.copy(path, tampered)
        with contextlib.closing(sqlite3.connect(tampered)) as c:
            lost = c.execute("SELECT trade_id, order_id, condition_id FROM fills ORDER BY rowid LIMIT 1").fetchone()
            c.execute("DELETE FROM fills WHERE trade_id = ? AND order_id = ?", lost[:2])
            c.commit()
        m0 = markets[0]
        j = Journal(tampered)
        j.record_fill(Fill(m0.condition_id, "order-extra", Side.BUY, 4200, D("7.5"), D(0), time.time(), "trade-extra",
                           m0.yes_token, False), status="CONFIRMED")
        j.record_fill(Fill(m0.condition_id, "", Side.SELL, 5000, D(3), D(0), time.time(),
                           f"reconcile:{m0.yes_token}:1:0.000", m0.yes_token, False), status="ADJUSTED")
        j.close()
        frozen = journal_rows(tampered)

        code, out, err = await cli(capsys, *demo(ex), "--journal", str(tampered), "--dry-run")
        assert code == 0, err
        assert "(dry run: nothing written)" in out
        assert "legs only in the journal:" in out and "trade trade-extra  order order-extra  BUY 7.50 YES @ 0.42" in out
        assert "legs only at the venue:" in out and f"trade {lost[0][:8]}" in out
        assert "run without --dry-run" in out
        assert journal_rows(tampered) == frozen  # nothing changed

        code, out, err = await cli(capsys, *demo(ex), "--journal", str(tampered), "--dry-run", "--json")
        doc = json.loads(out)
        assert doc["differences"] is True
        by_cid = {m["condition_id"]: m for m in doc["markets"]}
        assert [(x["trade_id"], x["size"]) for x in by_cid[m0.condition_id]["only_journal"]] == [("trade-extra", "7.5")]
        assert [(x["trade_id"], x["order_id"]) for x in by_cid[lost[2]]["only_venue"]] == [tuple(lost[:2])]
        assert by_cid[m0.condition_id]["adjustments"] == 1
        assert by_cid[m0.condition_id]["journal"] != by_cid[m0.condition_id]["rebuilt"]
        assert journal_rows(tampered) == frozen

        # the rewrite: the venue's legs, no adjustment, positions the venue's balances
        code, out, err = await cli(capsys, *demo(ex), "--journal", str(tampered))
        assert code == 0, err
        assert "written: " in out and "1 adjustment row dropped" in out
        assert journal_legs(tampered) == legs
        assert restored_shares(tampered, markets) == balances(ex, markets)
        rows = journal_rows(tampered)
        assert rows["orders"] == frozen["orders"]  # what the rebuild does not own is left alone
        with contextlib.closing(sqlite3.connect(tampered)) as c:
            assert {s for (s,) in c.execute("SELECT status FROM fills")} == {"CONFIRMED"}
        assert {(t, o) for t, o, *_ in rows["fill_status"]} == legs
        st = read_status(tampered)
        for m in markets:
            venue = balances(ex, [m])
            assert st.positions.get(m.condition_id, D(0)) == venue[m.yes_token] - venue[m.no_token]
        with contextlib.closing(sqlite3.connect(tampered)) as c:
            (event,) = c.execute("SELECT text FROM risk_events WHERE kind = 'rebuild'").fetchone()
        assert "adjustment rows dropped" in event

        # rebuilt once, there is nothing left to differ; the engine restarts on it as on its own
        code, out, _ = await cli(capsys, *demo(ex), "--journal", str(tampered), "--dry-run")
        assert code == 0 and "the journal agrees with the venue's trades" in out
        async with engine_on(ex, tampered, markets) as engine:
            await wait_until(lambda: engine.execution.ready()[0], timeout=10)
            assert engine.execution.mismatches == 0
            assert engine.portfolio._seen == legs


async def test_a_ghost_fill_ends_reversed(state, tmp_path: Path, capsys, wait_until) -> None:
    """A trade the venue matched, then FAILED. A journal that booked it as MATCHED (its process died
    before the FAILED) gets the reversal, one that never saw it gets the leg booked and reversed: in
    both the position is the venue's (none)."""
    from py_clob_client_v2.clob_types import OrderArgsV2, OrderType, PartialCreateOrderOptions

    from polymm.ops.wallet import authed_client

    async with run_exchange(port=0, seed=82, flow=False, trading=FAST) as ex:
        m = next(x for x in ex.markets if not x.neg_risk and x.tick.text == "0.01")
        client = await asyncio.to_thread(authed_client, demo_settings(ex))
        bid = ex.matching.book(m.yes_token).bids[-1][0] + m.tick.pips  # inside the spread: only ours there
        price = float(pips_to_str(bid))
        order = await asyncio.to_thread(client.create_order,
                                        OrderArgsV2(token_id=m.yes_token, price=price, size=10.0, side="BUY"),
                                        PartialCreateOrderOptions(tick_size="0.01", neg_risk=False))
        r = await asyncio.to_thread(client.post_order, order, OrderType.GTC, True)
        assert r.get("success"), r
        ex.standin.faults.ghost_fills = 1
        ex.matching.place("synthetic-hitter", m.yes_token, Side.SELL, bid, "10", order_type="FAK")
        (trade,) = ex.standin.trading.trades.values()
        await wait_until(lambda: trade.status == "FAILED", timeout=5)
        assert ex.standin.accounts.position(ADDRESS, m.yes_token) == 0  # the venue gave the shares back

        matched = tmp_path / "matched.sqlite"
        j = Journal(matched)
        j.record_fill(Fill(m.condition_id, r["orderID"], Side.BUY, bid, D(10), D(0), float(trade.match_ms // 1000),
                           trade.id, m.yes_token, False), status="MATCHED")
        j.close()
        never = tmp_path / "never.sqlite"
        Journal(never).close()

        code, out, err = await cli(capsys, *demo(ex), "--journal", str(matched), "--dry-run")
        assert code == 0, err
        assert "1 of FAILED trades (booked and reversed)" in out
        assert f"trade {trade.id[:8]}" in out and "status MATCHED → FAILED" in out
        assert "legs only at the venue:" in out and "SELL 10.00 YES @ " in out  # the reversal it owes
        for path in (matched, never):
            code, out, err = await cli(capsys, *demo(ex), "--journal", str(path), "--json")
            assert code == 0, err
            assert json.loads(out)["written"] is True
            with contextlib.closing(sqlite3.connect(path)) as c:
                assert sorted(c.execute("SELECT trade_id, status, side FROM fills")) == [
                    (trade.id, "FAILED", "BUY"), (trade.id + ":failed", "REVERSAL", "SELL")]
                (qty,) = c.execute("SELECT qty FROM positions WHERE condition_id = ?", (m.condition_id,)).fetchone()
                statuses = {s for (s,) in c.execute("SELECT status FROM fill_status WHERE trade_id = ?", (trade.id,))}
            assert D(qty) == 0 and {"MATCHED", "FAILED"} <= statuses
            assert journal_legs(path) == venue_legs(ex)
            assert restored_shares(path, [m]) == balances(ex, [m]) == {m.yes_token: 0, m.no_token: 0}


# ------------------------------------------------------------------------------------------ the command
def test_help_describes_the_command(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["rebuild-positions", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the text
    assert e.value.code == 0
    for words in ("--dry-run", "--journal PATH", "--since WHEN", "--json", "GET /data/trades", "<trade id>:failed",
                  "reconcile: adjustment rows are not kept", "Exits 2 for bad input"):
        assert words in out, words
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "rebuild-positions" in capsys.readouterr().out


def test_bad_input_exits_2_naming_the_field(state, tmp_path: Path, capsys) -> None:
    journal = tmp_path / "j.sqlite"
    Journal(journal).close()
    url = ["--clob-url", "http://127.0.0.1:9"]
    with pytest.raises(SystemExit) as e:
        main(["rebuild-positions", "--demo", *url, "--journal", str(journal), "--since", "yesterday"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--since" in err and "epoch seconds or an ISO-8601 date or time" in err and "'yesterday'" in err

    cases = [
        (["--demo", *url, "--journal", str(tmp_path / "none.sqlite")], ["--journal: no journal at", "none.sqlite"]),
        (["--demo", "--journal", str(journal)], ["--clob-url: required with --demo"]),
        (["--demo", *url], ["--journal: demo mode keeps no journal"]),
        ([*url], ["--journal: paper mode's journal holds simulated fills", "--live"]),
        (["--live", *url, "--journal", str(journal)], ["POLYMM_PRIVATE_KEY", "64 hex"]),
        (["--demo", "--live", *url, "--journal", str(journal)], ["--demo and --live: choose one"]),
    ]
    not_a_journal = tmp_path / "notes.sqlite"
    not_a_journal.write_text("not sqlite at all")
    cases.append((["--demo", *url, "--journal", str(not_a_journal)], ["--journal:", "is not a polymm journal"]))
    for argv, words in cases:
        code = main(["rebuild-positions", *argv])
        out, err = capsys.readouterr()
        assert code == 2 and out == "", (argv, out, err)
        for w in words:
            assert w in err, (argv, err)
        assert DEMO_PRIVATE_KEY.removeprefix("0x") not in err


async def test_a_running_polymm_blocks_the_rewrite_but_not_a_dry_run(state, tmp_path: Path, capsys) -> None:
    from polymm.statedir import InstanceLock

    journal = tmp_path / "j.sqlite"
    Journal(journal).close()
    async with run_exchange(port=0, seed=83, flow=False) as ex:
        with InstanceLock(ex.clob_url, ADDRESS, "polymm run"):
            frozen = journal_rows(journal)
            code, out, err = await cli(capsys, *demo(ex), "--journal", str(journal))
            assert code == 1 and out == ""
            assert "not rewriting the journal" in err and "polymm run" in err and "pid " in err and ADDRESS in err
            assert journal_rows(journal) == frozen
            code, out, err = await cli(capsys, *demo(ex), "--journal", str(journal), "--dry-run")
            assert code == 0, err
            assert "none: neither the journal nor the venue has a fill of ours" in out
        code, out, err = await cli(capsys, *demo(ex), "--journal", str(journal))  # free again
        assert code == 0 and "written: 0 fill rows" in out, err


async def test_an_unreachable_venue_exits_2_and_writes_nothing(state, tmp_path: Path, capsys) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    journal = tmp_path / "j.sqlite"
    Journal(journal).close()
    frozen = journal_rows(journal)
    code, out, err = await cli(capsys, "rebuild-positions", "--demo", "--clob-url", f"http://127.0.0.1:{port}",
                               "--journal", str(journal))
    assert code == 2 and out == "" and f"http://127.0.0.1:{port}" in err  # nothing listens: an OS error
    assert journal_rows(journal) == frozen


async def test_since_keeps_the_journals_older_rows(state, tmp_path: Path, capsys) -> None:
    """--since: the venue is asked only from then on; the journal's rows from before are kept."""
    async with run_exchange(port=0, seed=84, flow=False) as ex:
        m = next(x for x in ex.markets if not x.neg_risk)
        journal = tmp_path / "j.sqlite"
        j = Journal(journal)
        old = Fill(m.condition_id, "order-old", Side.BUY, 4000, D(5), D(0), 1_700_000_000.0, "trade-old",
                   m.yes_token, False)
        j.record_fill(old, status="CONFIRMED")
        j.close()
        code, out, err = await cli(capsys, *demo(ex), "--journal", str(journal), "--since", "2024-01-01", "--json")
        assert code == 0, err
        doc = json.loads(out)
        assert doc["since"] == 1_704_067_200 and doc["kept_before_since"] == 1 and doc["written"] is True
        assert journal_legs(journal) == {("trade-old", "order-old")}
        assert read_status(journal).positions == {m.condition_id: D(5)}
        # the balances say 0: reported, no adjustment made up (the next start's reconciliation takes them)
        (row,) = doc["markets"]
        assert row["rebuilt"] == "5" and row["venue"] == "0" and row["agrees_with_venue"] is False
