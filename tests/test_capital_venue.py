"""Capital operations against the stand-in's chain over real sockets, with the real clients: the EOA
path (web3 → JSON-RPC) and its calldata as it reaches the chain, the relayer path (py-builder-relayer-
client, a Safe, batched), the operator commands, and a demo engine that buys both sides of a market
and merges every pair with POLYMM_AUTO_MERGE."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal as D

import httpx
import pytest
from engines import demo_client, demo_settings
from eth_abi import decode
from eth_account import Account
from py_clob_client_v2.clob_types import OrderArgsV2, OrderType, PartialCreateOrderOptions

from polymm.cli import main
from polymm.domain.ctf import CTF_COLLATERAL_ADAPTER, NEG_RISK_COLLATERAL_ADAPTER, CapitalKind, CtfCall, adapter_for
from polymm.domain.market import Side
from polymm.engine.capital import CapitalManager, Holding, plan_merges
from polymm.engine.engine import Engine
from polymm.engine.execution_factory import DEMO_PRIVATE_KEY
from polymm.journal import read_capital_ops
from polymm.venue.capital import RelayerPath, Web3Path
from polymm_standin.server import EmbeddedExchange, RelayerConfig, run_exchange
from polymm_standin.server.trading import TradingConfig

KEY = "0x" + "5e" * 32
ADDRESS = Account.from_key(KEY).address
DEMO = Account.from_key(DEMO_PRIVATE_KEY).address


def _plain(ex, n: int = 1):
    return [m for m in ex.markets if not m.neg_risk][:n]


async def _rpc(url: str, method: str, *params):
    async with httpx.AsyncClient() as http:
        r = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    return r.json()["result"]


@pytest.mark.parametrize("neg_risk", [False, True])
async def test_the_eoa_path_sends_the_adapter_call_signed_for_polygon(neg_risk: bool, wait_until) -> None:
    async with run_exchange(port=0, flow=False, seed=5) as ex:
        m = next(m for m in ex.markets if m.neg_risk is neg_risk)
        acc = ex.standin.accounts
        acc.set_shares(ADDRESS, m.yes_token, "20")
        acc.set_shares(ADDRESS, m.no_token, "12.5")
        cash = acc.balance(ADDRESS)
        path = Web3Path(ex.rpc_url, KEY)
        sub = await asyncio.to_thread(path.submit, [(adapter_for(m.neg_risk), CtfCall(CapitalKind.MERGE,
                                                                                      m.condition_id, 12_500_000))])
        tx = await _rpc(ex.rpc_url, "eth_getTransactionByHash", sub.tx_hash)
        # what reached the chain: the adapter of the market's kind, chain id 137, our address, the ABI call
        assert tx["to"].lower() == (NEG_RISK_COLLATERAL_ADAPTER if neg_risk else CTF_COLLATERAL_ADAPTER).lower()
        assert int(tx["chainId"], 16) == 137
        assert tx["from"].lower() == ADDRESS.lower()
        data = bytes.fromhex(tx["input"][2:])
        assert data[:4].hex() == "9e7212ad"  # mergePositions(address,bytes32,bytes32,uint256[],uint256)
        collateral, parent, cond, partition, amount = decode(
            ["address", "bytes32", "bytes32", "uint256[]", "uint256"], data[4:])
        assert collateral.lower() == "0xc011a7e12a19f7b1f670d46f03b03f3342e82dfb"  # pUSD
        assert (parent, "0x" + cond.hex(), list(partition), amount) == (b"\0" * 32, m.condition_id, [1, 2], 12_500_000)

        async def answered():
            p = await asyncio.to_thread(path.poll, sub)  # the sync client off the loop the server runs on
            return p if p.state != "pending" else None

        polled = await wait_until(answered)
        assert polled.state == "confirmed"
        assert (acc.position(ADDRESS, m.yes_token), acc.position(ADDRESS, m.no_token)) == (D("7.5"), D(0))
        assert acc.balance(ADDRESS) == cash + D("12.5")


async def test_a_reverting_eoa_merge_fails_and_moves_nothing(wait_until) -> None:
    async with run_exchange(port=0, flow=False, seed=5) as ex:
        m = _plain(ex)[0]
        acc = ex.standin.accounts
        acc.set_shares(ADDRESS, m.yes_token, "3")
        manager = CapitalManager(Web3Path(ex.rpc_url, KEY), poll_s=0.02, backoff_s=0.01)
        [op] = await manager.execute(plan_merges([Holding(m, D(3), D(3))], D(1), "eoa"))  # we think we hold 3 NO
        assert op.status == "failed" and "reverted" in op.error
        assert acc.position(ADDRESS, m.yes_token) == D(3)


async def test_safe_wallets_merge_through_the_relayer_in_one_batched_transaction(tmp_path) -> None:
    async with run_exchange(port=0, flow=False, seed=5, relayer=RelayerConfig(step_s=0.02)) as ex:
        builder = ex.standin.issue_builder_key()
        path = await asyncio.to_thread(RelayerPath, ex.relayer_url, KEY, (builder.key, builder.secret,
                                                                          builder.passphrase), 2)
        safe = path.wallet
        assert safe.lower() != ADDRESS.lower()  # the Safe derived from the signer holds the funds
        a, b = _plain(ex, 2)
        acc = ex.standin.accounts
        for m, n in ((a, "10"), (b, "4")):
            acc.set_shares(safe, m.yes_token, n)
            acc.set_shares(safe, m.no_token, n)
        from polymm.journal import Journal

        journal = Journal(tmp_path / "j.sqlite")
        manager = CapitalManager(path, journal=journal, poll_s=0.02)
        ops = await manager.execute(plan_merges([Holding(a, D(10), D(10)), Holding(b, D(4), D(4))], D(1), path.name))
        assert [op.status for op in ops] == ["confirmed", "confirmed"]
        assert len({op.tx_id for op in ops}) == 1  # one relayer transaction (a Safe multisend)
        assert ex.standin.relayer.used_today(builder.key) == 1
        for m in (a, b):
            assert acc.position(safe, m.yes_token) == acc.position(safe, m.no_token) == D(0)
        journal.close()
        rows = read_capital_ops(tmp_path / "j.sqlite")
        assert {(r.kind, r.status, r.path) for r in rows} == {("merge", "confirmed", "relayer-safe")}


async def test_a_relayer_that_fails_the_transaction_fails_the_operation_and_logs_why() -> None:
    async with run_exchange(port=0, flow=False, seed=5, relayer=RelayerConfig(step_s=0.02)) as ex:
        builder = ex.standin.issue_builder_key()
        path = await asyncio.to_thread(RelayerPath, ex.relayer_url, KEY, (builder.key, builder.secret,
                                                                          builder.passphrase), 1)
        m = _plain(ex)[0]
        ex.standin.accounts.set_shares(path.wallet, m.yes_token, "5")
        ex.standin.accounts.set_shares(path.wallet, m.no_token, "5")
        ex.standin.faults.relayer_failures = 1
        logs: list[tuple[str, str]] = []
        manager = CapitalManager(path, poll_s=0.02, on_log=lambda t, lvl: logs.append((t, lvl)))
        [op] = await manager.execute(plan_merges([Holding(m, D(5), D(5))], D(1), path.name))
        assert op.status == "failed" and "STATE_FAILED" in op.error
        assert ex.standin.accounts.position(path.wallet, m.yes_token) == D(5)
        assert any(lvl == "error" and "failed: STATE_FAILED" in t for t, lvl in logs)


async def test_a_demo_engine_with_auto_merge_ends_with_no_pair_and_journals_the_merges(tmp_path, wait_until) -> None:
    """The demo wallet buys YES and NO of a market (real orders through the official client), then a
    demo engine with POLYMM_AUTO_MERGE runs: every pair goes back to pUSD, the journal shows the
    confirmed merges, and the engine's counts agree with the venue's."""
    trading = TradingConfig(trade_step_s=0.05, monitor_interval_s=0.02)
    async with run_exchange(port=0, flow=False, seed=23, trading=trading) as ex:
        m = _plain(ex)[0]
        ex.matching.cancel_orders([o.id for o in ex.matching.open_orders() if o.market == m])  # the test owns the book
        # someone sells 200 YES at 0.45 and 200 NO at 0.56 (a NO ask at 0.56 is a YES bid at 0.44: no cross)
        ex.matching.place("seller", m.yes_token, Side.SELL, 4500, D(200))
        ex.matching.place("seller", m.no_token, Side.SELL, 5600, D(200))
        client = await demo_client(ex)
        options = PartialCreateOrderOptions(tick_size=m.tick.text, neg_risk=False)
        for token, price, size in ((m.yes_token, 0.45, 30.0), (m.no_token, 0.56, 18.0)):
            order = await asyncio.to_thread(client.create_order, OrderArgsV2(token_id=token, price=price, size=size,
                                                                             side="BUY"), options)
            r = await asyncio.to_thread(client.post_order, order, OrderType.FOK)
            assert r["success"], r
        acc = ex.standin.accounts
        await wait_until(lambda: acc.position(DEMO, m.no_token) == D(18))
        journal = tmp_path / "journal.sqlite"
        engine = Engine(demo_settings(ex, auto_merge=True, auto_merge_min=1, capital_check_s=1,
                                      journal_path=str(journal)), [m], mode="DEMO")
        task = asyncio.create_task(engine.run())
        try:
            await wait_until(lambda: acc.position(DEMO, m.no_token) == 0 and engine.capital.confirmed >= 1, timeout=30)
            await wait_until(lambda: engine.ledger.shares(m.no_token) == 0
                             and engine.ledger.shares(m.yes_token) == acc.position(DEMO, m.yes_token), timeout=15)
            assert acc.position(DEMO, m.yes_token) == D(12)  # 30 YES − 18 pairs
            assert engine.portfolio.position(m.condition_id).qty == D(12)
            assert not engine.execution.paused_markets  # the merge never looked like a mismatch
        finally:
            await engine.stop(cancel_orders=True)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        merges = [r for r in read_capital_ops(journal) if r.kind == "merge"]
        assert merges and all(r.status == "confirmed" and r.path == "eoa" for r in merges)
        assert sum(r.amount for r in merges) == D(18)


# ---------------------------------------------------------------- the operator commands
@pytest.fixture
def venue():
    with EmbeddedExchange(seed=71, flow=False) as ex:
        yield ex


def _demo(ex) -> list[str]:
    return ["--demo", "--clob-url", ex.urls.clob_url]


def test_merge_by_hand_dry_run_then_for_real_and_redeem_after_resolution(clean, venue, capsys, tmp_path) -> None:
    clean.setenv("POLYMM_JOURNAL_PATH", str(tmp_path / "j.sqlite"))
    m = _plain(venue)[0]
    acc = venue.standin.accounts
    venue.call(acc.set_shares, DEMO, m.yes_token, "9")
    venue.call(acc.set_shares, DEMO, m.no_token, "4")
    assert main(["merge", *_demo(venue), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry-run" in out and "merge 4.00 YES+NO pairs → 4.00 pUSD" in out
    assert venue.call(acc.position, DEMO, m.no_token) == D(4)
    assert main(["merge", *_demo(venue), "--market", m.condition_id]) == 0
    out = capsys.readouterr().out
    assert "confirmed" in out and "1 of 1 confirmed; 4.00 pUSD" in out
    assert venue.call(acc.position, DEMO, m.no_token) == 0 and venue.call(acc.position, DEMO, m.yes_token) == D(5)
    venue.call(venue.standin.resolve_market, m.condition_id, "Yes")
    cash = venue.call(acc.balance, DEMO)
    assert main(["redeem", *_demo(venue)]) == 0
    assert "redeem → 5.00 pUSD" in capsys.readouterr().out
    assert venue.call(acc.balance, DEMO) == cash + 5
    assert [(r.kind, r.status) for r in read_capital_ops(tmp_path / "j.sqlite")] == [("redeem", "confirmed"),
                                                                                     ("merge", "confirmed")]


def test_split_mints_pairs_and_bad_input_names_the_option(clean, venue, capsys) -> None:
    m = _plain(venue)[0]
    assert main(["split", *_demo(venue), "--market", m.condition_id, "--amount", "7.5"]) == 0
    assert "split 7.50 pUSD → 7.50 YES+NO pairs" in capsys.readouterr().out
    assert venue.call(venue.standin.accounts.position, DEMO, m.no_token) == D("7.5")
    with pytest.raises(SystemExit) as e:
        main(["split", *_demo(venue), "--market", m.condition_id, "--amount", "-1"])
    assert e.value.code == 2
    assert "--amount: must be a number above 0 with at most 6 decimals" in capsys.readouterr().err
    assert main(["merge", *_demo(venue), "--market", "0x12"]) == 2
    assert "--market: must be a condition id (0x + 64 hex digits), got 0x12" in capsys.readouterr().err


async def test_a_demo_engine_with_auto_redeem_collects_a_resolved_market_once(tmp_path, wait_until) -> None:
    async with run_exchange(port=0, flow=False, seed=29) as ex:
        m, other = _plain(ex, 2)
        acc = ex.standin.accounts
        acc.set_shares(DEMO, m.yes_token, "10")  # held before the start: the catch-up takes it from the venue
        acc.set_shares(DEMO, m.no_token, "4")
        engine = Engine(demo_settings(ex, auto_redeem=True, capital_check_s=3600, journal_path=str(tmp_path / "j")),
                        [m, other], mode="DEMO")
        task = asyncio.create_task(engine.run())
        try:
            await wait_until(lambda: engine.ledger.shares(m.yes_token) == 10 and engine.execution.ready()[0])
            assert await engine.capital_once() == []  # not resolved: nothing to redeem
            cash = acc.balance(DEMO)
            ex.standin.resolve_market(m.condition_id, "Yes")
            [op] = await engine.capital_once()
            assert (op.kind, op.status, op.amount) == (CapitalKind.REDEEM, "confirmed", D(10))
            assert acc.balance(DEMO) == cash + 10  # 10 winning YES paid, 4 losing NO burned
            assert acc.position(DEMO, m.yes_token) == acc.position(DEMO, m.no_token) == 0
            assert engine.ledger.shares(m.yes_token) == engine.ledger.shares(m.no_token) == 0
            assert engine.portfolio.position(m.condition_id).qty == 0
            assert await engine.capital_once() == []  # nothing left: redeemed once
        finally:
            await engine.stop(cancel_orders=True)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
