"""Capital operations (merge, split, redeem): the calldata against the contracts' ABI, planning, the
manager's booking, retries, quota and journal — on paper here; against the stand-in's chain (web3 and
the relayer, with the real clients) in ``test_capital_venue.py``."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest
from eth_abi import decode
from eth_utils import keccak

from polymm.domain.ctf import (
    CTF_COLLATERAL_ADAPTER,
    NEG_RISK_COLLATERAL_ADAPTER,
    PUSD,
    CapitalKind,
    CtfCall,
    adapter_for,
    decode_call,
)
from polymm.domain.ledger import Ledger
from polymm.domain.market import Market, Side
from polymm.domain.portfolio import Fill
from polymm.domain.prices import Tick
from polymm.engine.capital import CapitalManager, Holding, Quota, plan_merges, plan_redeems, plan_split
from polymm.journal import Journal, count_metered_today, read_capital_ops
from polymm.venue.capital import PaperPath, Polled, Submitted
from polymm.venue.listing import listing_problem
from polymm.venue.paper import PaperExecution

COND = "0x" + "ab" * 32
MARKET = Market(COND, "111", "222", "Will it rain in Lisbon on Friday?", Tick.parse("0.01"))
NEG = Market("0x" + "cd" * 32, "333", "444", "Who wins the cup? — Team A", Tick.parse("0.01"), neg_risk=True)

# The Conditional Tokens functions as Gnosis published them (the adapters keep this ABI): the selectors
# are the well-known ones, written out here rather than computed by the code under test.
SIGNATURES = {
    CapitalKind.MERGE: ("mergePositions(address,bytes32,bytes32,uint256[],uint256)", "0x9e7212ad",
                        ["address", "bytes32", "bytes32", "uint256[]", "uint256"]),
    CapitalKind.SPLIT: ("splitPosition(address,bytes32,bytes32,uint256[],uint256)", "0x72ce4275",
                        ["address", "bytes32", "bytes32", "uint256[]", "uint256"]),
    CapitalKind.REDEEM: ("redeemPositions(address,bytes32,bytes32,uint256[])", "0x01b7037c",
                         ["address", "bytes32", "bytes32", "uint256[]"]),
}


@pytest.mark.parametrize("kind", list(CapitalKind))
def test_calldata_is_the_ctf_function_with_pusd_a_zero_parent_and_the_binary_partition(kind: CapitalKind) -> None:
    signature, selector, types = SIGNATURES[kind]
    assert "0x" + keccak(text=signature)[:4].hex() == selector
    call = CtfCall(kind, COND, 0 if kind is CapitalKind.REDEEM else 12_500_000)
    data = bytes.fromhex(call.calldata()[2:])
    assert "0x" + data[:4].hex() == selector
    args = decode(types, data[4:])
    assert args[0].lower() == PUSD.lower() == "0xc011a7e12a19f7b1f670d46f03b03f3342e82dfb"
    assert args[1] == b"\x00" * 32
    assert "0x" + args[2].hex() == COND
    assert list(args[3]) == [1, 2]
    if kind is not CapitalKind.REDEEM:
        assert args[4] == 12_500_000  # 12.5 pairs in 6-dp units
    assert decode_call(call.calldata()) == call


def test_each_kind_of_market_goes_to_its_collateral_adapter() -> None:
    assert adapter_for(False) == CTF_COLLATERAL_ADAPTER == "0xAdA100Db00Ca00073811820692005400218FcE1f"
    assert adapter_for(True) == NEG_RISK_COLLATERAL_ADAPTER == "0xadA2005600Dec949baf300f4C6120000bDB6eAab"


def test_bad_calls_are_refused_naming_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="amount must be greater than 0"):
        CtfCall(CapitalKind.MERGE, COND, 0).calldata()
    with pytest.raises(ValueError, match="condition_id must be 0x"):
        CtfCall(CapitalKind.MERGE, "0x12", 5).calldata()
    with pytest.raises(ValueError, match="unknown function selector 0xdeadbeef"):
        decode_call("0xdeadbeef" + "00" * 64)


def test_merges_take_the_pairs_of_unresolved_markets_above_the_minimum() -> None:
    holdings = [Holding(MARKET, D("12.5"), D("30")), Holding(NEG, D("3"), D("2")),
                Holding(Market("0x" + "ef" * 32, "5", "6", "q", MARKET.tick), D("40"), D("40"), winner="YES")]
    ops = plan_merges(holdings, D("5"), "paper")
    assert [(op.condition_id, op.amount, op.yes, op.no) for op in ops] == [(COND, D("12.5"), D("-12.5"), D("-12.5"))]
    assert [op.amount for op in plan_merges(holdings, D("1"), "paper")] == [D("12.5"), D("2")]


def test_redeems_pay_the_winning_side_and_burn_both() -> None:
    ops = plan_redeems([Holding(MARKET, D("10"), D("4"), winner="NO"), Holding(NEG, D("5"), D("0"))], "paper")
    assert len(ops) == 1
    op = ops[0]
    assert (op.kind, op.amount, op.yes, op.no, op.price) == (CapitalKind.REDEEM, D("4"), D("-10"), D("-4"), 0)


def test_a_split_needs_a_positive_amount() -> None:
    with pytest.raises(ValueError, match="--amount: must be greater than 0 pUSD"):
        plan_split(MARKET, D("0"), "paper")
    op = plan_split(MARKET, D("7.1234567"), "paper")
    assert (op.amount, op.yes, op.no) == (D("7.123456"), D("7.123456"), D("7.123456"))


def test_the_quota_counts_a_utc_day_and_starts_again_the_next() -> None:
    now = [1_800_000_000.0]  # 2027-01-15 08:00 UTC
    q = Quota(2, used_today=1, clock=lambda: now[0])
    assert q.take() and not q.take() and q.left() == 0
    now[0] += 86_400
    assert q.left() == 2


@pytest.mark.parametrize(("gamma", "clob", "expected"), [
    ({"closed": False, "acceptingOrders": True}, {"closed": False, "accepting_orders": True}, ""),
    ({"closed": False, "acceptingOrders": True}, {"closed": True, "accepting_orders": False},
     "listings disagree: the CLOB says closed, Gamma says open"),
    ({"closed": False, "acceptingOrders": False}, {"closed": False, "accepting_orders": True},
     "listings disagree: Gamma says not accepting orders, the CLOB says open"),
    ({"closed": True}, {"closed": True}, "Gamma says closed; the CLOB says closed"),
    (None, {"closed": False, "accepting_orders": True},
     "listings disagree: Gamma does not list it, the CLOB says open"),
])
def test_a_market_is_tradeable_only_when_both_listings_allow_it(gamma, clob, expected) -> None:
    assert listing_problem(gamma, clob) == expected


def _buys(yes: D, no: D) -> list[Fill]:
    """A YES buy at 0.40 and a NO buy at 0.55 (a YES-terms sell at 0.45)."""
    return [Fill(COND, "o1", Side.BUY, 4000, yes, D(0), 1.0, "t1", MARKET.yes_token, False),
            Fill(COND, "o2", Side.SELL, 4500, no, D(0), 2.0, "t2", MARKET.no_token, True)]


def _paper_with_pairs(yes: D, no: D) -> PaperExecution:
    exe = PaperExecution(ledger=Ledger())
    for fill in _buys(yes, no):
        exe.ledger.record(fill, "CONFIRMED")
    return exe


async def test_a_confirmed_merge_burns_the_pairs_in_the_ledger_and_keeps_the_pnl(tmp_path) -> None:
    exe = _paper_with_pairs(D("10"), D("6"))
    realized = exe.ledger.portfolio.position(COND).realized
    journal = Journal(tmp_path / "j.sqlite")
    for fill in _buys(D("10"), D("6")):  # as the engine would have journaled them
        journal.record_fill(fill, None, "CONFIRMED")
    fills: list[Fill] = []
    exe.on_fill = fills.append
    manager = CapitalManager(PaperPath(), execution=exe, journal=journal)
    [op] = await manager.execute(plan_merges([Holding(MARKET, exe.free_shares("111"), exe.free_shares("222"))],
                                             D("1"), "paper"))
    assert op.status == "confirmed" and op.amount == D("6")
    assert exe.ledger.shares("111") == D("4") and exe.ledger.shares("222") == D("0")
    pos = exe.ledger.portfolio.position(COND)
    assert pos.qty == D("4")  # YES-terms: 10 YES − 6 NO, before and after
    assert pos.realized == realized  # a pair is worth 1 whatever the price: no P&L from merging
    assert pos.avg_price == D("0.4")
    assert fills == []  # no trade: the counts moved, nothing was bought or sold
    journal.close()
    [row] = read_capital_ops(tmp_path / "j.sqlite")
    assert (row.kind, row.status, row.amount, row.path) == ("merge", "confirmed", D("6"), "paper")
    assert row.condition_id == COND
    # a restart takes the move back from the journal: the fills give 10 YES and 6 NO, the merge −6 of each
    restored = Journal(tmp_path / "j.sqlite").restore()
    again = Ledger()
    again.restore(restored.fills)
    again.restore_moves(restored.moves)
    assert (again.shares("111"), again.shares("222")) == (D("4"), D("0"))


class FlakyPath:
    """A metered path whose first ``refusals`` submissions raise, then confirms (or fails) what it gets."""

    name = "relayer-safe"
    batch_limit = 2
    metered = True

    def __init__(self, refusals: int = 0, outcome: str = "confirmed") -> None:
        self.refusals = refusals
        self.outcome = outcome
        self.sent: list[list] = []

    def submit(self, calls):
        if self.refusals > 0:
            self.refusals -= 1
            raise ConnectionError("relayer unreachable")
        self.sent.append(calls)
        return Submitted(f"tx-{len(self.sent)}", "0x" + f"{len(self.sent):064x}")

    def poll(self, sub):
        return Polled(self.outcome, "STATE_CONFIRMED" if self.outcome == "confirmed" else "STATE_FAILED: revert")


def _holdings(n: int) -> list[Holding]:
    return [Holding(Market(f"0x{i:064x}", f"{i}1", f"{i}2", f"market {i}", MARKET.tick), D(5), D(5)) for i in range(n)]


async def test_refused_submissions_are_retried_with_backoff_and_logged(tmp_path) -> None:
    logs: list[tuple[str, str]] = []
    path = FlakyPath(refusals=2)
    manager = CapitalManager(path, on_log=lambda t, lvl: logs.append((t, lvl)), backoff_s=0.01)
    [op] = await manager.execute(plan_merges(_holdings(1), D(1), path.name))
    assert op.status == "confirmed" and op.attempts == 3
    assert [lvl for _, lvl in logs].count("warning") == 2
    assert "relayer unreachable; retrying in 0.01 s (attempt 1 of 4)" in logs[0][0]


async def test_batches_share_one_relayer_transaction_and_the_daily_quota_defers_the_rest(tmp_path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    path = FlakyPath()
    logs: list[str] = []
    manager = CapitalManager(path, journal=journal, quota=Quota(1), on_log=lambda t, lvl: logs.append(t))
    ops = await manager.execute(plan_merges(_holdings(3), D(1), path.name))
    assert len(path.sent) == 1 and len(path.sent[0]) == 2  # two merges in the one transaction the quota allowed
    assert sorted(op.status for op in ops) == ["confirmed", "confirmed", "deferred"]
    assert {op.tx_id for op in ops if op.status == "confirmed"} == {"tx-1"}
    assert any("relayer daily limit reached (1 transactions a UTC day)" in t for t in logs)
    journal.close()
    rows = read_capital_ops(tmp_path / "j.sqlite")
    assert sorted(r.status for r in rows) == ["confirmed", "confirmed", "deferred"]
    import time

    assert count_metered_today(tmp_path / "j.sqlite", ("relayer-safe",), time.time()) == 1


async def test_a_reverted_transaction_fails_the_op_books_nothing_and_backs_the_market_off() -> None:
    exe = _paper_with_pairs(D("8"), D("8"))
    path = FlakyPath(outcome="failed")
    path.metered = False
    manager = CapitalManager(path, execution=exe, backoff_s=30)
    ops = plan_merges([Holding(MARKET, D(8), D(8))], D(1), path.name)
    [op] = await manager.execute(ops)
    assert op.status == "failed" and "STATE_FAILED" in op.error
    assert exe.ledger.shares("111") == D(8) == exe.ledger.shares("222")
    assert manager.eligible(plan_merges([Holding(MARKET, D(8), D(8))], D(1), path.name)) == []
    assert exe.free_shares("111") == D(8)  # the hold is released


async def test_shares_held_for_an_operation_in_flight_are_not_offered() -> None:
    exe = _paper_with_pairs(D("8"), D("8"))
    started, release = asyncio.Event(), asyncio.Event()

    class Slow(FlakyPath):
        metered = False

        def poll(self, sub):
            started.set()
            return Polled("confirmed", "") if release.is_set() else Polled("pending", "")

    manager = CapitalManager(Slow(), execution=exe, poll_s=0.01)
    task = asyncio.create_task(manager.execute(plan_merges([Holding(MARKET, D(8), D(8))], D(1), "relayer-safe")))
    await asyncio.wait_for(started.wait(), 10)
    assert exe.free_shares("111") == D(0) and COND in manager.in_flight
    release.set()
    [op] = await asyncio.wait_for(task, 10)
    assert op.status == "confirmed" and exe.ledger.shares("111") == D(0)
