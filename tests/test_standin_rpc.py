"""The stand-in's JSON-RPC endpoint (docs/protocol.md §15) against the REAL ``web3`` (v7): an EOA's
signed split, merge and redeem to the collateral adapters, refusals (chain id, nonce), a reverting
call mined with receipt status 0, reads, and the JSON-RPC envelope itself. web3 is synchronous, so it
runs in worker threads (``asyncio.to_thread``) while the server runs on the test's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from eth_account import Account
from py_clob_client_v2 import ClobClient, OrderArgs
from py_clob_client_v2.clob_types import OrderType as ClobOrderType
from py_clob_client_v2.clob_types import PartialCreateOrderOptions
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from polymm.domain.ctf import ADAPTER_ABI, PUSD, CapitalKind, CtfCall, adapter_for
from polymm.domain.market import Market, Side
from polymm_standin.server import ExchangeServer, run_exchange
from polymm_standin.sim.matching import OrderType

KEY = "0x" + "e5" * 32
UNIT = 1_000_000
ERC20_BALANCE_ABI = [{"type": "function", "name": "balanceOf", "stateMutability": "view",
                      "inputs": [{"name": "owner", "type": "address"}],
                      "outputs": [{"name": "", "type": "uint256"}]}]


@pytest_asyncio.fixture
async def ex() -> AsyncIterator[ExchangeServer]:
    async with run_exchange(port=0, flow=False, seed=43) as server:
        yield server


async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


def plain(ex: ExchangeServer) -> Market:
    return next(m for m in ex.markets if not m.neg_risk)


def holdings(ex: ExchangeServer, wallet: str, m: Market) -> tuple[int, int, int]:
    a = ex.accounts
    return a.cash_micro(wallet), a.shares_micro(wallet, m.yes_token), a.shares_micro(wallet, m.no_token)


def hold(ex: ExchangeServer, wallet: str, m: Market, yes: int, no: int) -> None:
    """Give a wallet ``yes`` and ``no`` micro-shares."""
    ex.accounts.set_shares(wallet, m.yes_token, Decimal(yes) / UNIT)
    ex.accounts.set_shares(wallet, m.no_token, Decimal(no) / UNIT)


class Eoa:
    """An EOA driving the adapters through web3, as polymm's EOA path does."""

    def __init__(self, ex: ExchangeServer, key: str = KEY) -> None:
        self.w3 = Web3(HTTPProvider(ex.rpc_url))
        self.acct = Account.from_key(key)
        self.address = self.acct.address

    def signed(self, kind: CapitalKind, m: Market, amount: int = 0, **over: Any) -> bytes:
        contract = self.w3.eth.contract(address=adapter_for(m.neg_risk), abi=ADAPTER_ABI)
        fn = {CapitalKind.MERGE: contract.functions.mergePositions, CapitalKind.SPLIT: contract.functions.splitPosition,
              CapitalKind.REDEEM: contract.functions.redeemPositions}[kind]
        params = {"from": self.address, "nonce": self.w3.eth.get_transaction_count(self.address), "chainId": 137,
                  **over}
        tx = fn(*CtfCall(kind, m.condition_id, amount).args()).build_transaction(params)
        return bytes(self.acct.sign_transaction(tx).raw_transaction)

    def send(self, raw: bytes) -> Any:
        h = self.w3.eth.send_raw_transaction(raw)
        return self.w3.eth.wait_for_transaction_receipt(h, timeout=10, poll_latency=0.05)

    def run(self, kind: CapitalKind, m: Market, amount: int = 0, **over: Any) -> Any:
        return self.send(self.signed(kind, m, amount, **over))


async def test_merge_split_and_redeem_from_an_eoa(ex: ExchangeServer) -> None:
    eoa = Eoa(ex)
    m = plain(ex)
    hold(ex, eoa.address, m, 10 * UNIT, 10 * UNIT)
    cash = ex.accounts.cash_micro(eoa.address)

    merged = await call(eoa.run, CapitalKind.MERGE, m, 4 * UNIT)
    assert merged["status"] == 1 and merged["from"] == eoa.address and merged["to"] == adapter_for(False)
    assert holdings(ex, eoa.address, m) == (cash + 4 * UNIT, 6 * UNIT, 6 * UNIT)
    split = await call(eoa.run, CapitalKind.SPLIT, m, 2 * UNIT)
    assert split["status"] == 1 and split["blockNumber"] == merged["blockNumber"] + 1
    assert holdings(ex, eoa.address, m) == (cash + 2 * UNIT, 8 * UNIT, 8 * UNIT)
    assert await call(eoa.w3.eth.get_transaction_count, eoa.address) == 2

    clob = ClobClient(ex.clob_url, 137, key=KEY)
    clob.set_api_creds(await call(clob.create_or_derive_api_key))
    order = await call(clob.create_order, OrderArgs(token_id=m.yes_token, price=m.tick.pips / 10_000, size=5,
                                                    side="BUY"),
                       PartialCreateOrderOptions(tick_size=m.tick.text, neg_risk=False))
    resting = await call(clob.post_order, order, ClobOrderType.GTC)
    ex.standin.resolve_market(m.condition_id, "No")  # the venue does not redeem: the holder does
    assert (await call(clob.get_order, resting["orderID"]))["status"] == "CANCELED_MARKET_RESOLVED"
    assert holdings(ex, eoa.address, m) == (cash + 2 * UNIT, 8 * UNIT, 8 * UNIT)
    redeemed = await call(eoa.run, CapitalKind.REDEEM, m)
    assert redeemed["status"] == 1
    assert holdings(ex, eoa.address, m) == (cash + 10 * UNIT, 0, 0)
    tx = await call(eoa.w3.eth.get_transaction, redeemed["transactionHash"])
    assert tx["from"] == eoa.address and tx["nonce"] == 2 and tx["input"][:4].hex() == "01b7037c"

    # a neg-risk market's calls go to its own adapter (the helper picks it), and its pUSD reads back
    nr = next(x for x in ex.markets if x.neg_risk)
    assert (await call(eoa.run, CapitalKind.SPLIT, nr, 3 * UNIT))["status"] == 1
    pusd = eoa.w3.eth.contract(address=PUSD, abi=ERC20_BALANCE_ABI)
    assert await call(pusd.functions.balanceOf(eoa.address).call) == ex.accounts.cash_micro(eoa.address)


async def test_a_reverting_call_is_mined_with_status_0_and_changes_nothing(ex: ExchangeServer) -> None:
    eoa = Eoa(ex)
    m = plain(ex)
    hold(ex, eoa.address, m, 10 * UNIT, 2 * UNIT)
    before = holdings(ex, eoa.address, m)
    with pytest.raises(ContractLogicError, match="can spend YES 10000000, NO 2000000"):  # the estimate dry-runs it
        await call(eoa.signed, CapitalKind.MERGE, m, 5 * UNIT)
    receipt = await call(eoa.run, CapitalKind.MERGE, m, 5 * UNIT, gas=300_000)  # sent anyway
    assert receipt["status"] == 0 and receipt["gasUsed"] > 0
    assert holdings(ex, eoa.address, m) == before
    assert ex.standin.chain.transactions[receipt["transactionHash"].to_0x_hex()].revert_reason.startswith("merge of")
    assert await call(eoa.w3.eth.get_transaction_count, eoa.address) == 1  # the nonce is used all the same
    starved = await call(eoa.run, CapitalKind.MERGE, m, UNIT, gas=60_000)  # a valid merge, under its estimate
    assert starved["status"] == 0 and holdings(ex, eoa.address, m) == before
    assert ex.standin.chain.transactions[starved["transactionHash"].to_0x_hex()].revert_reason.startswith("out of gas")


async def test_a_wrong_chain_id_and_a_used_nonce_are_refused(ex: ExchangeServer) -> None:
    eoa = Eoa(ex)
    m = plain(ex)
    cash = ex.accounts.cash_micro(eoa.address)
    # signed by hand: web3's own middleware would stop a chain id that is not the node's before sending
    other_chain = eoa.acct.sign_transaction({
        "to": adapter_for(False), "data": CtfCall(CapitalKind.SPLIT, m.condition_id, UNIT).calldata(), "value": 0,
        "gas": 300_000, "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 3 * 10**10, "nonce": 0, "chainId": 1,
    }).raw_transaction
    wrong_chain = "invalid chain id: the transaction is signed for chain 1, this chain is 137"
    with pytest.raises(Web3RPCError, match=wrong_chain):
        await call(eoa.send, other_chain)
    first = await call(eoa.signed, CapitalKind.SPLIT, m, UNIT)
    again = await call(eoa.signed, CapitalKind.SPLIT, m, 2 * UNIT)  # the same nonce, 0
    assert (await call(eoa.send, first))["status"] == 1
    with pytest.raises(Web3RPCError, match="nonce too low: next nonce 1, tx nonce 0"):
        await call(eoa.send, again)
    ahead = await call(eoa.signed, CapitalKind.SPLIT, m, UNIT, nonce=5)
    with pytest.raises(Web3RPCError, match="nonce too high: next nonce 1, tx nonce 5"):
        await call(eoa.send, ahead)
    assert holdings(ex, eoa.address, m) == (cash - UNIT, UNIT, UNIT)  # only the first ran

    # legacy (type 0) transactions: EIP-155 ones run, unprotected ones are refused
    legacy = {"to": adapter_for(False), "data": CtfCall(CapitalKind.SPLIT, m.condition_id, UNIT).calldata(),
              "value": 0, "gas": 300_000, "gasPrice": 6 * 10**10, "nonce": 1}
    unprotected = eoa.acct.sign_transaction(legacy).raw_transaction
    with pytest.raises(Web3RPCError, match="only replay-protected"):
        await call(eoa.send, unprotected)
    assert (await call(eoa.send, eoa.acct.sign_transaction({**legacy, "chainId": 137}).raw_transaction))["status"] == 1
    assert holdings(ex, eoa.address, m) == (cash - 2 * UNIT, 2 * UNIT, 2 * UNIT)


async def test_shares_of_a_trade_that_is_going_to_fail_cannot_be_merged(ex: ExchangeServer) -> None:
    """The trading core's rule (docs/protocol.md §10.5) holds on chain too: what a trade that is going to
    fail brought in is not there to merge."""
    eoa = Eoa(ex)
    m = plain(ex)
    clob = ClobClient(ex.clob_url, 137, key=KEY)
    clob.set_api_creds(await call(clob.create_or_derive_api_key))
    bid = max(o.yes_price for o in ex.matching.open_orders()
              if o.market.condition_id == m.condition_id and o.yes_side is Side.BUY) + m.tick.pips
    order = await call(clob.create_order, OrderArgs(token_id=m.yes_token, price=bid / 10_000, size=5, side="BUY"),
                       PartialCreateOrderOptions(tick_size=m.tick.text, neg_risk=False))
    await call(clob.post_order, order, ClobOrderType.GTC, True)
    ex.faults.ghost_fills = 1
    ex.matching.place("taker", m.yes_token, Side.SELL, bid, Decimal(5), order_type=OrderType.FAK)  # fills our bid
    ex.accounts.set_shares(eoa.address, m.no_token, 5)
    assert ex.accounts.shares_micro(eoa.address, m.yes_token) == 5 * UNIT  # counted at the match, not spendable
    with pytest.raises(ContractLogicError, match="can spend YES 0, NO 5000000"):
        await call(eoa.signed, CapitalKind.MERGE, m, 5 * UNIT)


async def test_the_json_rpc_envelope(ex: ExchangeServer) -> None:
    async with httpx.AsyncClient() as h:
        mine = {"jsonrpc": "2.0", "id": 7, "method": "eth_mine", "params": []}
        unknown = (await h.post(ex.rpc_url, json=mine)).json()
        assert unknown == {"jsonrpc": "2.0", "id": 7,
                           "error": {"code": -32601, "message": "the method eth_mine does not exist/is not available"}}
        batch = (await h.post(ex.rpc_url, json=[
            {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
            {"jsonrpc": "2.0", "id": 2, "method": "eth_getTransactionCount", "params": ["0x12", "latest"]},
            {"jsonrpc": "2.0", "id": 3, "method": "eth_getTransactionReceipt", "params": ["0x" + "ab" * 32]},
        ])).json()
        assert batch[0] == {"jsonrpc": "2.0", "id": 1, "result": "0x89"}
        assert batch[1]["error"]["code"] == -32602 and "address must be" in batch[1]["error"]["message"]
        assert batch[2] == {"jsonrpc": "2.0", "id": 3, "result": None}  # not mined (yet)
        garbled = (await h.post(ex.rpc_url, content=b"{not json")).json()
        assert garbled["error"]["code"] == -32700
        m = plain(ex)
        reverted = (await h.post(ex.rpc_url, json={"jsonrpc": "2.0", "id": 4, "method": "eth_call", "params": [
            {"from": "0x" + "34" * 20, "to": adapter_for(False),
             "data": CtfCall(CapitalKind.REDEEM, m.condition_id).calldata()}, "latest"]})).json()
        assert reverted["error"]["code"] == 3
        assert reverted["error"]["message"] == (f"execution reverted: condition {m.condition_id} is not resolved "
                                                "yet: redeemPositions needs its payout")
        assert reverted["error"]["data"].startswith("0x08c379a0")  # Error(string), as a node sends it
