"""The journal: SQLite in WAL mode written off the event loop; restore and reconcile on restart; the
crash test (``kill -9`` under load → nothing orphaned, lost or counted twice)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from engines import Writes, demo_client, hit_our_bid, ours, running_engine, yes_bids

from polymm.domain.market import Side
from polymm.domain.portfolio import Fill, Portfolio
from polymm.journal import Journal, export_pnl, read_status
from polymm.venue.rest import PublicClient
from polymm_standin.server import run_exchange
from polymm_standin.server.records import TERMINAL_STATUSES
from polymm_standin.sim.matching import OrderType

D = Decimal
CID = "0x" + "ab" * 32


def fill(n: int, side: Side = Side.BUY, price: int = 4000, size: str = "10", ts: float = 1_763_700_000.0) -> Fill:
    return Fill(CID, f"order-{n}", side, price, D(size), D("0.01"), ts + n, f"trade-{n}")


# ------------------------------------------------------------------------------------------ unit
def test_a_write_returns_while_the_database_is_locked_and_lands_once_it_is_free(tmp_path: Path) -> None:
    """Writes never wait for SQLite: with another connection holding the write lock, recording still
    returns at once; the writer thread commits when the lock is released."""
    j = Journal(tmp_path / "j.sqlite")
    blocker = sqlite3.connect(tmp_path / "j.sqlite", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    t0 = time.perf_counter()
    for n in range(200):
        j.record_fill(fill(n))
    returned_in = time.perf_counter() - t0
    assert not j.flush(timeout=0.3)  # the writer is stuck behind the lock...
    assert returned_in < 0.3  # ...and the 200 records did not wait for it
    blocker.execute("COMMIT")
    blocker.close()
    assert j.flush(timeout=10)
    assert len(j.restore().fills) == 200
    j.close()


def test_restore_gives_back_fills_overrides_orders_and_the_latch(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    p = Portfolio()
    for f in (fill(1), fill(2, Side.SELL, 4500, "4"), fill(1)):  # the repeat is ignored
        if p.apply(f):
            j.record_fill(f, p.position(CID))
    j.record_fill_status("trade-1", "order-1", "CONFIRMED")
    j.record_params(CID, {"spread": D("0.06")})
    j.record_params(CID, {"size": D("25")})  # merged with the earlier override
    j.record_orders(CID, [("o-1", Side.BUY, 3900, D(10)), ("o-2", Side.SELL, 4100, D(10))])
    j.record_order_status(["o-1"], "closed")
    j.record_latch(True, "daily loss -120.00 over limit 100")
    j.close()

    r = Journal(path).restore()
    # each leg comes back with the venue's last status for it (a FAILED one after a restart is reversed)
    assert [(f.trade_id, f.size, st) for f, st in r.fills] == [("trade-1", D(10), "CONFIRMED"),
                                                             ("trade-2", D(4), "MATCHED")]
    assert r.params == {CID: {"spread": "0.06", "size": "25"}}
    assert r.open_orders == ["o-2"]
    assert r.latched and r.reason.startswith("daily loss")
    st = read_status(path)
    assert st.positions == {CID: D(6)} and st.open_orders == 1 and st.latched and st.last_event_at is not None
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert c.execute("SELECT status FROM fills WHERE trade_id = 'trade-1'").fetchone()[0] == "CONFIRMED"
        assert [s for (s,) in c.execute("SELECT status FROM fill_status WHERE trade_id = 'trade-1' ORDER BY ts")] \
            == ["MATCHED", "CONFIRMED"]


def test_the_programs_journal_path_by_mode(monkeypatch, tmp_path: Path) -> None:
    from polymm.journal import resolve_path

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert resolve_path("", "live") == str(tmp_path / "polymm" / "journal-live.sqlite")
    assert resolve_path("", "PAPER") == str(tmp_path / "polymm" / "journal-paper.sqlite")
    assert resolve_path("", "demo") == "" and resolve_path("off", "live") == ""
    assert resolve_path("/x/j.sqlite", "demo") == "/x/j.sqlite"


def test_read_status_without_a_journal_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no journal"):
        read_status(tmp_path / "missing.sqlite")


def test_export_pnl_is_the_days_difference_per_market_with_a_total(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = Journal(path)
    day1, day2 = 1_763_683_200.0 + 3600, 1_763_769_600.0 + 3600  # 2025-11-21 and 2025-11-22, 01:00 UTC
    pos = Portfolio().position(CID)
    pos.realized, pos.fees, pos.fills, pos.qty = D("5"), D("0.5"), 3, D(10)
    j.record_daily([(CID, pos, D("1"))], ts=day1)
    pos.realized, pos.fees, pos.fills, pos.qty = D("8"), D("0.7"), 7, D(4)
    j.record_daily([(CID, pos, D("-2"))], ts=day2)
    j.close()
    lines = export_pnl(path, "2025-11-22").splitlines()
    assert lines[0] == "date,condition_id,position,realized,unrealized,fees,total,fills,rewards,net"
    assert lines[1] == f"2025-11-22,{CID},4.00,3.00,-2.00,0.20,-0.20,4,0.00,-0.20"  # 3 realised, unrealised 1 → -2
    assert lines[2] == "2025-11-22,TOTAL,,3.00,-2.00,0.20,-0.20,4,0.00,-0.20"
    with pytest.raises(ValueError, match="--date: must be a date as YYYY-MM-DD"):
        export_pnl(path, "22/11/2025")


def test_export_pnl_command_writes_the_csv_and_names_bad_input(tmp_path: Path, capsys) -> None:
    from polymm.cli import main

    path = tmp_path / "j.sqlite"
    j = Journal(path)
    pos = Portfolio().position(CID)
    pos.realized, pos.qty, pos.fills = D("2.5"), D(10), 2
    j.record_daily([(CID, pos, D("0.5"))], ts=1_763_769_600.0 + 60)  # 2025-11-22
    j.close()
    out = tmp_path / "pnl.csv"
    assert main(["export-pnl", "--date", "2025-11-22", "--journal", str(path), "--out", str(out)]) == 0
    assert out.read_text().splitlines()[1:] == [f"2025-11-22,{CID},10.00,2.50,0.50,0.00,3.00,2,0.00,3.00",
                                                "2025-11-22,TOTAL,,2.50,0.50,0.00,3.00,2,0.00,3.00"]
    assert main(["export-pnl", "--date", "2025-13-01", "--journal", str(path)]) == 2
    assert "--date: must be a date as YYYY-MM-DD" in capsys.readouterr().err
    assert main(["export-pnl", "--date", "2025-11-22", "--journal", str(tmp_path / "none.sqlite")]) == 1
    assert "no journal at" in capsys.readouterr().err


def test_export_pnl_adds_the_days_rewards_per_market_and_a_net_column(tmp_path: Path) -> None:
    """``total`` stays trading (realised + unrealised − fees); ``rewards`` is the journal's last reading
    of the day for the market; ``net`` = total + rewards. A market that earned without a P&L snapshot
    is listed too; the TOTAL row sums every column; no number is written with an exponent."""
    import csv
    import io

    path = tmp_path / "j.sqlite"
    other, idle = "0x" + "cd" * 32, "0x" + "ef" * 32
    j = Journal(path)
    day = 1_763_769_600.0 + 3600  # 2025-11-22 01:00 UTC
    pos = Portfolio().position(CID)
    pos.realized, pos.fees, pos.fills, pos.qty = D("1.5"), D("0.25"), 3, D("1E+1")  # an exponent as stored
    j.record_daily([(CID, pos, D("0.75"))], ts=day)
    j.record_rewards("2025-11-22", {CID: D("0.1"), idle: D("0.2")}, ts=day)
    j.record_rewards("2025-11-22", {CID: D("0.35"), idle: D("0.000001")}, ts=day + 60)  # the day's later reading
    j.record_rewards("2025-11-21", {other: D("9")}, ts=day - 86_400)  # another day: not in this export
    j.close()
    rows = list(csv.DictReader(io.StringIO(export_pnl(path, "2025-11-22"))))
    assert [r["condition_id"] for r in rows] == [CID, idle, "TOTAL"]
    mine, earned_only, total = rows
    assert mine == {"date": "2025-11-22", "condition_id": CID, "position": "10.00", "realized": "1.50",
                    "unrealized": "0.75", "fees": "0.25", "total": "2.00", "fills": "3", "rewards": "0.35",
                    "net": "2.35"}
    assert earned_only == {"date": "2025-11-22", "condition_id": idle, "position": "", "realized": "0.00",
                           "unrealized": "", "fees": "0.00", "total": "0.00", "fills": "0", "rewards": "0.000001",
                           "net": "0.000001"}
    assert total == {"date": "2025-11-22", "condition_id": "TOTAL", "position": "", "realized": "1.50",
                     "unrealized": "0.75", "fees": "0.25", "total": "2.00", "fills": "3", "rewards": "0.350001",
                     "net": "2.350001"}
    assert "E" not in export_pnl(path, "2025-11-22").replace("TOTAL", "")
    # a day with rewards only
    assert export_pnl(path, "2025-11-21").splitlines()[1:] == [f"2025-11-21,{other},,0.00,,0.00,0.00,0,9.00,9.00",
                                                               "2025-11-21,TOTAL,,0.00,0.00,0.00,0.00,0,9.00,9.00"]


def test_export_pnl_writes_money_plainly_whatever_the_journal_stored(tmp_path: Path) -> None:
    """Float noise and exponents as stored (``-24.9799999999999996``, ``0E-7``, ``1E+1``) come out as
    plain amounts: 2 decimals, up to 6 where the value has them, never an exponent."""
    import csv
    import io

    path = tmp_path / "j.sqlite"
    j = Journal(path)
    pos = Portfolio().position(CID)
    pos.realized, pos.fees, pos.fills, pos.qty = D("-24.9799999999999996"), D("0E-7"), 1, D("1E+1")
    j.record_daily([(CID, pos, D("4E-16"))], ts=1_763_769_600.0 + 60)  # 2025-11-22
    j.close()
    text = export_pnl(path, "2025-11-22")
    row = next(csv.DictReader(io.StringIO(text)))
    assert [row[k] for k in ("position", "realized", "unrealized", "fees", "total", "net")] == \
        ["10.00", "-24.98", "0.00", "0.00", "-24.98", "-24.98"]
    body = text.replace("TOTAL", "")
    assert "E" not in body and "e-" not in body and "Decimal" not in body
    for r in csv.DictReader(io.StringIO(text)):
        for k in ("realized", "fees", "total", "rewards", "net"):
            assert 2 <= len(r[k].partition(".")[2]) <= 6, (k, r[k])


def test_export_pnl_takes_today_utc_when_no_date_is_given(tmp_path: Path, capsys) -> None:
    from datetime import UTC, datetime

    from polymm.cli import main

    with pytest.raises(SystemExit):
        main(["export-pnl", "--help"])
    assert "(default: today, UTC)" in " ".join(capsys.readouterr().out.split())  # the help says so

    def today() -> str:
        return datetime.now(UTC).strftime("%Y-%m-%d")

    path = tmp_path / "j.sqlite"
    j = Journal(path)
    pos = Portfolio().position(CID)
    pos.realized, pos.qty, pos.fills = D("1.25"), D(3), 1
    day = today()
    j.record_daily([(CID, pos, D(0))], ts=time.time())
    j.close()
    assert main(["export-pnl", "--journal", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    if today() != day:
        pytest.skip("midnight UTC passed during the test")
    assert lines[1:] == [f"{day},{CID},3.00,1.25,0.00,0.00,1.25,1,0.00,1.25",
                         f"{day},TOTAL,,1.25,0.00,0.00,1.25,1,0.00,1.25"]


# ------------------------------------------------------------------------------------------ engine
def engine_on(ex, journal: Path, markets):
    return running_engine(ex, markets=markets, journal_path=str(journal))


async def test_a_tweak_a_fill_and_the_kill_latch_survive_a_restart(tmp_path: Path, wait_until) -> None:
    path = tmp_path / "j.sqlite"
    async with run_exchange(port=0, seed=71, flow=False) as ex:
        markets = [m for m in ex.markets if not m.neg_risk][:2]
        cid = markets[0].condition_id
        async with engine_on(ex, path, markets) as engine:
            await wait_until(lambda: len(yes_bids(ours(ex, engine, cid))) >= 1)
            engine.set_params(cid, spread=D("0.06"))
            await wait_until(lambda: engine.portfolio.position(cid).fills == 0 and ours(ex, engine, cid) != [])
            size = hit_our_bid(ex, engine, cid)
            await wait_until(lambda: engine.portfolio.position(cid).qty == size)
            await engine.kill("operator kill switch")
        async with engine_on(ex, path, markets) as again:
            await wait_until(lambda: again.execution.name and again.store.get("risk") is not None)
            steps = [Writes(again.store, f"book/{m.condition_id}") for m in markets]
            await wait_until(lambda: all(n() >= 3 for n in steps))  # a few steps: a latched engine places nothing
            assert again.halted and "latched before restart" in again.halt_reason
            assert again.params[cid].spread == D("0.06")
            assert again.portfolio.position(cid).qty == size and again.portfolio.position(cid).fills == 1
            assert ours(ex, again) == []
            await again.rearm()
            await wait_until(lambda: len(ours(ex, again)) >= 2)
        assert not read_status(path).latched  # the re-arm was journaled too
        with contextlib.closing(sqlite3.connect(path)) as c:  # the venue's statuses, in the order it sent them
            (status,) = c.execute("SELECT status FROM fills").fetchone()
            seen = [s for (s,) in c.execute("SELECT status FROM fill_status ORDER BY ts, rowid")]
        assert seen[0] == "MATCHED" and status == seen[-1] and len(seen) == len(set(seen))


# ------------------------------------------------------------------------------------------ crash
def _venue_position(ex, address: str, market) -> Decimal:
    acc = ex.standin.accounts
    return acc.position(address, market.yes_token) - acc.position(address, market.no_token)


async def test_kill_9_under_load_loses_no_fill_counts_none_twice_and_leaves_no_orphans(
        tmp_path: Path, wait_until) -> None:
    """The engine runs in a child process against the stand-in (flow on, our bids hit on purpose too)
    and is killed with SIGKILL while quoting. A fill happens while it is down. The restarted engine
    must hold exactly the venue's positions and fills, and no order of ours rests that it does not
    know."""
    from eth_account import Account

    from polymm.engine.execution_factory import DEMO_PRIVATE_KEY

    path = tmp_path / "j.sqlite"
    address = Account.from_key(DEMO_PRIVATE_KEY).address
    async with run_exchange(port=0, seed=72, flow_rate=40) as ex:
        public = PublicClient(ex.clob_url, ex.gamma_url)
        markets = [m for m in await public.list_markets(limit=100) if not m.neg_risk][:3]
        await public.aclose()
        start = {m.condition_id: _venue_position(ex, address, m) for m in markets}

        def moved() -> dict[str, Decimal]:
            return {m.condition_id: _venue_position(ex, address, m) - start[m.condition_id] for m in markets}

        child = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("journal_child.py")), ex.clob_url, ex.ws_base,
             ex.gamma_url, str(path), str(len(markets))],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": os.getcwd()},
        )
        key = await _demo_api_key(ex.clob_url, wait_until)

        def resting(cid: str | None = None) -> list:
            return [o for o in ex.matching.open_orders()
                    if o.owner == key and (cid is None or o.market.condition_id == cid)]

        def mine(m, bid: bool) -> list:
            return [o for o in resting(m.condition_id) if (o.yes_side is Side.BUY) == bid]

        async def hit(m, bid: bool) -> None:  # a taker through our best bid (or ask), as any trader could
            await wait_until(lambda: mine(m, bid), timeout=10)  # not while a requote has it in flight
            price = (max if bid else min)(o.yes_price for o in mine(m, bid))
            ex.matching.place("test-taker", m.yes_token, Side.SELL if bid else Side.BUY, price, D(50_000),
                              order_type=OrderType.FAK)

        try:
            await wait_until(lambda: len(resting()) >= 6, timeout=20)
            for m in markets[:2]:  # fills the child books and journals
                await hit(m, bid=True)
            await wait_until(lambda: _journaled(path), timeout=10)
            await hit(markets[1], bid=False)  # and one it may not get to journal: it is killed now
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL
        assert resting(), "orders of the dead engine still rest at the venue (nobody cancelled them)"
        for bid in (True, False):  # fills while the engine is down: only the venue knows them
            if mine(markets[2], bid):
                await hit(markets[2], bid)
        ex.pause_flow()
        truth = moved()
        # the venue's trades of ours, not the net positions: a bid and an ask filled alike net to zero
        assert len(ex.trading.trades_of(address)) >= 3, "the scenario made too few fills"
        journaled = _journaled(path)

        async with engine_on(ex, path, markets) as engine:
            await wait_until(lambda: {c: engine.portfolio.position(c).qty for c in truth} == truth, timeout=10,
                             why=lambda: ({c: engine.portfolio.position(c).qty for c in truth}, truth))
            # whatever the venue replays late must not be booked twice: the venue has finished with every
            # trade of ours (CONFIRMED or FAILED) and the engine has heard each one's last status
            await wait_until(lambda: all(t.status in TERMINAL_STATUSES for t in ex.trading.trades_of(address))
                             and engine.execution.pending_fills == 0, timeout=20)
            assert {c: engine.portfolio.position(c).qty for c in truth} == truth
            venue_legs = await asyncio.to_thread(_our_trade_legs, await demo_client(ex))
            assert engine.portfolio._seen == venue_legs  # every venue fill of ours, each exactly once
            assert journaled and venue_legs - journaled, "the restart had nothing to take from the venue"
            await wait_until(lambda: {o.id for o in ours(ex, engine)}
                             <= {o.order_id for o in engine.execution.open_orders()}, timeout=5)


def _journaled(path: Path) -> set[tuple[str, str]]:
    """(trade id, order id) of the fills committed to the journal so far (read-only, beside the writer)."""
    if not path.exists():
        return set()
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as c:
        return set(c.execute("SELECT trade_id, order_id FROM fills"))


async def _demo_api_key(clob_url: str, wait_until, timeout: float = 20.0) -> str:
    """The demo wallet's API key as the venue derives it (the owner of the engine's orders), once the
    child engine has created it."""
    from py_clob_client_v2.client import ClobClient
    from py_clob_client_v2.exceptions import PolyApiException

    from polymm.engine.execution_factory import DEMO_PRIVATE_KEY

    client = ClobClient(clob_url, chain_id=137, key=DEMO_PRIVATE_KEY)
    said: list[str] = []

    async def derived() -> str | None:
        try:
            return (await asyncio.to_thread(client.derive_api_key)).api_key
        except PolyApiException as e:  # no key yet: the child has not signed in
            said[:] = [str(e)]
            return None

    return await wait_until(derived, timeout=timeout, step=0.2, why=lambda: said)


def _our_trade_legs(client) -> set[tuple[str, str]]:
    """(trade id, order id) of every leg of ours the venue reports (REST /data/trades, as the wallet)."""
    from py_clob_client_v2.clob_types import TradeParams

    key = client.creds.api_key
    legs = set()
    for t in client.get_trades(TradeParams(after=int(time.time()) - 3600)):
        for mo in t.get("maker_orders") or []:
            if mo.get("owner") == key:
                legs.add((t["id"], mo["order_id"]))
        if t.get("owner") == key and t.get("trader_side") == "TAKER":
            legs.add((t["id"], t["taker_order_id"]))
    return legs
