"""The stand-in's relayer (docs/protocol.md §15) against the REAL, unmodified ``py-builder-relayer-client``
over real sockets: Safe (with multisend batches), proxy and deposit wallets; builder HMAC auth; the
daily quota; the transaction states and when balances move; reverts; redeem after a resolution.

Most tests step transactions by hand (``relayer.advance``: the timer is set an hour out) so each state
can be looked at; one lets the stand-in's timer walk a transaction to the end. The sync clients run in
worker threads (``asyncio.to_thread``) because the server runs on the test's event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from py_builder_relayer_client.builder.safe import build_safe_transaction_request
from py_builder_relayer_client.client import RelayClient
from py_builder_relayer_client.config import get_contract_config
from py_builder_relayer_client.exceptions import RelayerApiException
from py_builder_relayer_client.models import (
    DepositWalletCall,
    OperationType,
    RelayerTxType,
    SafeTransaction,
    SafeTransactionArgs,
    Transaction,
)
from py_builder_relayer_client.signer import Signer
from py_builder_signing_sdk.config import BuilderConfig
from py_builder_signing_sdk.sdk_types import BuilderApiKeyCreds
from py_clob_client_v2 import ClobClient

from polymm.domain.ctf import CTF_COLLATERAL_ADAPTER, NEG_RISK_COLLATERAL_ADAPTER, CapitalKind, CtfCall, adapter_for
from polymm.domain.market import Market
from polymm_standin.server import ExchangeServer, RelayerConfig, run_exchange
from polymm_standin.server.relayer import BuilderKey

KEY_A = "0x" + "a1" * 32
KEY_B = "0x" + "b2" * 32
KEY_C = "0x" + "c3" * 32
KEY_D = "0x" + "d4" * 32
UNIT = 1_000_000
SAFE, PROXY = RelayerTxType.SAFE, RelayerTxType.PROXY
SAFE_MULTISEND = "0xa238cbeb142c10ef7ad8442c6d1f9e89e07e7761"
PROXY_FACTORY = "0xab45c5a4b0c941a2f231c04c3f49182e1a254052"


@pytest_asyncio.fixture
async def ex() -> AsyncIterator[ExchangeServer]:
    # states move only when a test says so (relayer.advance), unless it shortens the step
    async with run_exchange(port=0, flow=False, seed=41, relayer=RelayerConfig(step_s=3600.0)) as server:
        yield server


async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


def builder(key: BuilderKey) -> BuilderConfig:
    return BuilderConfig(local_builder_creds=BuilderApiKeyCreds(key=key.key, secret=key.secret,
                                                                passphrase=key.passphrase))


def relay_client(ex: ExchangeServer, key: BuilderKey, kind: RelayerTxType = SAFE, signer: str = KEY_A) -> RelayClient:
    return RelayClient(ex.relayer_url, 137, private_key=signer, builder_config=builder(key), relay_tx_type=kind,
                       rpc_url=ex.rpc_url)


def wallet_of(rc: RelayClient, kind: RelayerTxType) -> str:
    return rc.get_expected_safe() if kind is SAFE else rc.get_expected_proxy_wallet()


def plain(ex: ExchangeServer) -> Market:
    return next(m for m in ex.markets if not m.neg_risk)


def ctf(kind: CapitalKind, m: Market, amount: int = 0, to: str | None = None) -> Transaction:
    data = CtfCall(kind, m.condition_id, amount).calldata()
    return Transaction(to=to or adapter_for(m.neg_risk), data=data, value="0")


def holdings(ex: ExchangeServer, wallet: str, m: Market) -> tuple[int, int, int]:
    """(pUSD, YES, NO) of a wallet, in micro-units."""
    a = ex.accounts
    return a.cash_micro(wallet), a.shares_micro(wallet, m.yes_token), a.shares_micro(wallet, m.no_token)


def hold(ex: ExchangeServer, wallet: str, m: Market, yes: int, no: int) -> None:
    """Give a wallet ``yes`` and ``no`` micro-shares."""
    ex.accounts.set_shares(wallet, m.yes_token, Decimal(yes) / UNIT)
    ex.accounts.set_shares(wallet, m.no_token, Decimal(no) / UNIT)


async def execute(rc: RelayClient, txs: list[Transaction]) -> str:
    resp = await call(rc.execute, txs, "polymm test")
    assert resp.transaction_id
    return str(resp.transaction_id)


async def record(rc: RelayClient, tx_id: str) -> dict[str, Any]:
    (rec,) = await call(rc.get_transaction, tx_id)
    return rec


def run_to_end(ex: ExchangeServer, tx_id: str) -> str:
    """Advance a transaction by hand until it is CONFIRMED or FAILED; returns the final state."""
    state = ex.standin.relayer.transactions[tx_id].state
    while state not in ("STATE_CONFIRMED", "STATE_FAILED"):
        state = ex.standin.relayer.advance(tx_id) or state
    return state


# ------------------------------------------------------------------------------------------ states and balances


@pytest.mark.parametrize("kind", [SAFE, PROXY], ids=["safe", "proxy"])
async def test_split_then_merge_move_balances_only_when_mined(ex: ExchangeServer, kind: RelayerTxType) -> None:
    rc = relay_client(ex, ex.standin.issue_builder_key(), kind)
    m = plain(ex)
    wallet = wallet_of(rc, kind)
    cash, yes, no = holdings(ex, wallet, m)
    assert (yes, no) == (0, 0)

    split = await execute(rc, [ctf(CapitalKind.SPLIT, m, 5 * UNIT)])
    rec = await record(rc, split)
    assert rec["state"] == "STATE_NEW" and rec["transactionHash"] == ""
    assert rec["proxyAddress"] == wallet.lower() and rec["from"] == rc.signer.address().lower()
    assert rec["type"] == kind.value
    nonce_type = "SAFE" if kind is SAFE else "PROXY"
    assert (await call(rc.get_nonce, rc.signer.address(), nonce_type))["nonce"] == "0"
    assert ex.standin.relayer.advance(split) == "STATE_EXECUTED"
    rec = await record(rc, split)
    assert rec["state"] == "STATE_EXECUTED" and rec["transactionHash"].startswith("0x")
    assert (await call(rc.get_nonce, rc.signer.address(), nonce_type))["nonce"] == "1"  # used at execution
    assert holdings(ex, wallet, m) == (cash, 0, 0)  # nothing moves before the transaction is mined
    assert ex.standin.relayer.advance(split) == "STATE_MINED"
    assert holdings(ex, wallet, m) == (cash - 5 * UNIT, 5 * UNIT, 5 * UNIT)
    assert ex.standin.relayer.advance(split) == "STATE_CONFIRMED"
    assert (await record(rc, split))["state"] == "STATE_CONFIRMED"
    assert ex.standin.chain.transactions[rec["transactionHash"]].status == 1  # mined on the chain, from the relayer

    merge = await execute(rc, [ctf(CapitalKind.MERGE, m, 3 * UNIT)])
    assert ex.standin.relayer.advance(merge) == "STATE_EXECUTED"
    assert holdings(ex, wallet, m) == (cash - 5 * UNIT, 5 * UNIT, 5 * UNIT)
    assert run_to_end(ex, merge) == "STATE_CONFIRMED"
    assert holdings(ex, wallet, m) == (cash - 2 * UNIT, 2 * UNIT, 2 * UNIT)
    assert ex.standin.relayer.transactions[merge].states == ["STATE_NEW", "STATE_EXECUTED", "STATE_MINED",
                                                              "STATE_CONFIRMED"]


async def test_the_timer_walks_a_transaction_to_confirmed(ex: ExchangeServer, wait_until) -> None:
    ex.standin.relayer.config.step_s = 0.02
    rc = relay_client(ex, ex.standin.issue_builder_key(), SAFE)
    m = plain(ex)
    safe = rc.get_expected_safe()
    hold(ex, safe, m, 10 * UNIT, 10 * UNIT)
    cash = ex.accounts.cash_micro(safe)
    tx_id = await execute(rc, [ctf(CapitalKind.MERGE, m, 4 * UNIT)])

    async def confirmed() -> bool:
        return (await record(rc, tx_id))["state"] == "STATE_CONFIRMED"

    await wait_until(confirmed, timeout=10)
    assert holdings(ex, safe, m) == (cash + 4 * UNIT, 6 * UNIT, 6 * UNIT)
    assert ex.standin.relayer.transactions[tx_id].states[-2:] == ["STATE_MINED", "STATE_CONFIRMED"]


@pytest.mark.parametrize("kind", [SAFE, PROXY], ids=["safe", "proxy"])
async def test_a_batch_of_two_merges_is_one_transaction_and_all_or_nothing(ex: ExchangeServer,
                                                                           kind: RelayerTxType) -> None:
    key = ex.standin.issue_builder_key()
    rc = relay_client(ex, key, kind)
    m = plain(ex)
    wallet = wallet_of(rc, kind)
    hold(ex, wallet, m, 10 * UNIT, 10 * UNIT)
    cash = ex.accounts.cash_micro(wallet)

    both = await execute(rc, [ctf(CapitalKind.MERGE, m, 4 * UNIT), ctf(CapitalKind.MERGE, m, 3 * UNIT)])
    rec = await record(rc, both)
    assert rec["to"] == (SAFE_MULTISEND if kind is SAFE else PROXY_FACTORY)  # a multiSend / the proxy array
    assert len(ex.standin.relayer.transactions[both].calls) == 2
    assert run_to_end(ex, both) == "STATE_CONFIRMED"
    assert holdings(ex, wallet, m) == (cash + 7 * UNIT, 3 * UNIT, 3 * UNIT)
    assert ex.standin.relayer.used_today(key.key) == 1  # a batch counts as one transaction

    # the second call cannot pass (3 pairs left, 2 + 5 asked): the first is not applied either
    broken = await execute(rc, [ctf(CapitalKind.MERGE, m, 2 * UNIT), ctf(CapitalKind.MERGE, m, 5 * UNIT)])
    assert run_to_end(ex, broken) == "STATE_FAILED"
    rec = await record(rc, broken)
    assert rec["errorMsg"].startswith("call 2 of 2 reverted: merge of 5000000 units")
    assert holdings(ex, wallet, m) == (cash + 7 * UNIT, 3 * UNIT, 3 * UNIT)


async def test_a_merge_without_enough_no_fails_and_leaves_balances_untouched(ex: ExchangeServer) -> None:
    rc = relay_client(ex, ex.standin.issue_builder_key(), SAFE)
    m = plain(ex)
    safe = rc.get_expected_safe()
    hold(ex, safe, m, 10 * UNIT, 2 * UNIT)
    before = holdings(ex, safe, m)
    tx_id = await execute(rc, [ctf(CapitalKind.MERGE, m, 5 * UNIT)])
    assert ex.standin.relayer.advance(tx_id) == "STATE_EXECUTED"
    assert ex.standin.relayer.advance(tx_id) == "STATE_FAILED"
    rec = await record(rc, tx_id)
    assert rec["state"] == "STATE_FAILED"
    assert "can spend YES 10000000, NO 2000000" in rec["errorMsg"]
    assert holdings(ex, safe, m) == before
    assert ex.standin.chain.transactions[rec["transactionHash"]].status == 0  # mined, reverted
    assert ex.standin.relayer.advance(tx_id) is None  # FAILED is final


async def test_each_market_kind_takes_its_own_adapter_and_a_wrong_one_is_named(ex: ExchangeServer) -> None:
    rc = relay_client(ex, ex.standin.issue_builder_key(), PROXY)
    nr = next(m for m in ex.markets if m.neg_risk)
    wallet = rc.get_expected_proxy_wallet()
    cash = ex.accounts.cash_micro(wallet)
    wrong = await execute(rc, [ctf(CapitalKind.SPLIT, nr, 2 * UNIT, to=CTF_COLLATERAL_ADAPTER)])
    assert run_to_end(ex, wrong) == "STATE_FAILED"
    msg = (await record(rc, wrong))["errorMsg"]
    assert f"must be sent to the NegRiskCollateralAdapter {NEG_RISK_COLLATERAL_ADAPTER}" in msg
    right = await execute(rc, [ctf(CapitalKind.SPLIT, nr, 2 * UNIT)])
    assert run_to_end(ex, right) == "STATE_CONFIRMED"
    assert holdings(ex, wallet, nr) == (cash - 2 * UNIT, 2 * UNIT, 2 * UNIT)


async def test_redeem_after_resolution_pays_the_winners_and_burns_both_tokens(ex: ExchangeServer) -> None:
    assert ex.trading.config.auto_redeem is False  # the venue does not redeem for its holders
    key = ex.standin.issue_builder_key()
    safe_rc, proxy_rc = relay_client(ex, key, SAFE), relay_client(ex, key, PROXY, KEY_B)
    m = plain(ex)
    safe, proxy = safe_rc.get_expected_safe(), proxy_rc.get_expected_proxy_wallet()
    hold(ex, safe, m, 10 * UNIT, 4 * UNIT)
    hold(ex, proxy, m, 0, 6 * UNIT)
    (safe_cash, _, _), (proxy_cash, _, _) = holdings(ex, safe, m), holdings(ex, proxy, m)

    early = await execute(safe_rc, [ctf(CapitalKind.REDEEM, m)])
    assert run_to_end(ex, early) == "STATE_FAILED"
    assert "is not resolved yet" in (await record(safe_rc, early))["errorMsg"]

    ex.standin.resolve_market(m.condition_id, "Yes")
    assert holdings(ex, safe, m) == (safe_cash, 10 * UNIT, 4 * UNIT)  # resolved: shares kept, nothing paid
    async with httpx.AsyncClient() as h:
        rows = (await h.get(f"{ex.data_url}/positions", params={"user": safe})).json()
    assert {r["outcome"]: (r["redeemable"], r["mergeable"]) for r in rows} == {"Yes": (True, True),
                                                                                 "No": (True, True)}

    won = await execute(safe_rc, [ctf(CapitalKind.REDEEM, m)])
    lost = await execute(proxy_rc, [ctf(CapitalKind.REDEEM, m)])
    assert run_to_end(ex, won) == run_to_end(ex, lost) == "STATE_CONFIRMED"
    assert holdings(ex, safe, m) == (safe_cash + 10 * UNIT, 0, 0)  # 1 pUSD a winning share
    assert holdings(ex, proxy, m) == (proxy_cash, 0, 0)  # losers are burnt for nothing

    split = await execute(safe_rc, [ctf(CapitalKind.SPLIT, m, UNIT)])
    assert run_to_end(ex, split) == "STATE_FAILED"
    assert "is resolved: split is refused" in (await record(safe_rc, split))["errorMsg"]


async def test_a_deposit_wallet_batch_is_verified_and_relayed(ex: ExchangeServer) -> None:
    rc = relay_client(ex, ex.standin.issue_builder_key(), SAFE, KEY_C)
    m = plain(ex)
    wallet = await call(rc.get_expected_deposit_wallet)  # asks the stand-in's JSON-RPC for the factory's beacon
    cash = ex.accounts.cash_micro(wallet)
    nonce = (await call(rc.get_nonce, rc.signer.address(), "WALLET"))["nonce"]
    split = DepositWalletCall(target=adapter_for(False), value="0",
                              data=CtfCall(CapitalKind.SPLIT, m.condition_id, 3 * UNIT).calldata())
    deadline = str(int(time.time()) + 600)
    resp = await call(rc.execute_deposit_wallet_batch, [split], wallet, nonce, deadline)
    assert run_to_end(ex, resp.transaction_id) == "STATE_CONFIRMED"
    assert holdings(ex, wallet, m) == (cash - 3 * UNIT, 3 * UNIT, 3 * UNIT)
    rec = await record(rc, resp.transaction_id)
    assert rec["type"] == "WALLET" and rec["proxyAddress"] == wallet.lower()

    with pytest.raises(RelayerApiException) as info:  # signed for a nonce already used
        await call(rc.execute_deposit_wallet_batch, [split], wallet, nonce, deadline)
    assert info.value.status_code == 400 and "invalid nonce 0" in info.value.error_msg["error"]
    with pytest.raises(RelayerApiException) as info:
        await call(rc.execute_deposit_wallet_batch, [split], wallet, "1", str(int(time.time()) - 5))
    assert info.value.status_code == 400 and "deadline" in info.value.error_msg["error"]


# ------------------------------------------------------------------------------------------ refusals


async def test_a_nonce_still_pending_is_refused_and_bad_queries_name_what_is_allowed(ex: ExchangeServer) -> None:
    rc = relay_client(ex, ex.standin.issue_builder_key(), SAFE)
    m = plain(ex)
    first = await execute(rc, [ctf(CapitalKind.SPLIT, m, UNIT)])
    with pytest.raises(RelayerApiException) as info:  # /nonce still says 0: the first has not executed
        await execute(rc, [ctf(CapitalKind.SPLIT, m, UNIT)])
    assert info.value.status_code == 400
    assert info.value.error_msg["error"] == (
        f"invalid nonce 0 for SAFE wallet {rc.get_expected_safe()}: expected 1; 1 transaction(s) of this wallet "
        "wait to execute")
    ex.standin.relayer.advance(first)
    assert await execute(rc, [ctf(CapitalKind.SPLIT, m, UNIT)])  # nonce 1 now
    with pytest.raises(RelayerApiException) as info:
        await call(rc.get_nonce, rc.signer.address(), "EOA")
    assert info.value.status_code == 400
    assert info.value.error_msg == {"error": "type must be one of SAFE, PROXY, WALLET, got 'EOA'"}


async def test_a_tampered_or_misaddressed_transaction_is_refused(ex: ExchangeServer) -> None:
    key = ex.standin.issue_builder_key()
    m = plain(ex)
    signer = Signer(KEY_A, 137)
    merge = SafeTransaction(to=adapter_for(False), operation=OperationType.Call, value="0",
                            data=CtfCall(CapitalKind.MERGE, m.condition_id, UNIT).calldata())
    args = SafeTransactionArgs(from_address=signer.address(), nonce="0", chain_id=137, transactions=[merge])
    signed = build_safe_transaction_request(signer, args, get_contract_config(137)).to_dict()

    async def submit(body: dict[str, Any]) -> httpx.Response:
        headers = builder(key).generate_builder_headers("POST", "/submit", str(body)).to_dict()
        async with httpx.AsyncClient() as h:
            return await h.post(f"{ex.relayer_url}/submit", json=body, headers=headers)

    tampered = await submit({**signed, "data": CtfCall(CapitalKind.MERGE, m.condition_id, 9 * UNIT).calldata()})
    assert tampered.status_code == 400
    assert tampered.json()["error"].startswith(
        f"signature does not recover the signer {signer.address()} over the Safe transaction hash")
    elsewhere = await submit({**signed, "proxyWallet": "0x" + "12" * 20})
    assert elsewhere.status_code == 400
    assert elsewhere.json()["error"].startswith("proxyWallet 0x1212121212121212121212121212121212121212 is not the "
                                                f"Safe of {signer.address()}")
    assert ex.standin.relayer.transactions == {}
    assert (await submit(signed)).json()["state"] == "STATE_NEW"  # as signed: accepted


async def test_builder_auth_is_checked_and_never_echoes_the_secret(ex: ExchangeServer) -> None:
    key = ex.standin.issue_builder_key()
    m = plain(ex)
    forged = BuilderKey(key.key, "c2VjcmV0LW9mLXNvbWVvbmUtZWxzZQ==", key.passphrase, "", None, 0)
    with pytest.raises(RelayerApiException) as info:
        await execute(relay_client(ex, forged, SAFE), [ctf(CapitalKind.SPLIT, m, UNIT)])
    assert info.value.status_code == 401
    err = info.value.error_msg["error"]
    assert err.startswith("invalid POLY_BUILDER_SIGNATURE") and key.secret not in err
    async with httpx.AsyncClient() as h:
        bare = await h.post(f"{ex.relayer_url}/submit", json={"type": "SAFE"})
        assert bare.status_code == 401
        assert bare.json()["error"] == ("builder authentication required: missing header(s) POLY_BUILDER_API_KEY, "
                                        "POLY_BUILDER_TIMESTAMP, POLY_BUILDER_PASSPHRASE, POLY_BUILDER_SIGNATURE")
        assert (await h.get(f"{ex.relayer_url}/transactions")).status_code == 401
        # the builder's own transactions, with its headers (the Python client sends none on this route)
        rc = relay_client(ex, key, SAFE)
        tx_id = await execute(rc, [ctf(CapitalKind.SPLIT, m, UNIT)])
        headers = builder(key).generate_builder_headers("GET", "/transactions").to_dict()
        listed = await h.get(f"{ex.relayer_url}/transactions", headers=headers)
        assert listed.status_code == 200 and [r["transactionID"] for r in listed.json()] == [tx_id]
    assert ex.standin.relayer.used_today(key.key) == 1  # the refused submits counted nothing


async def test_the_daily_quota_of_a_builder_key_answers_429_until_the_next_utc_day() -> None:
    now = [1_800_000_000_000]  # ms: the stand-in's clock, which the quota's UTC day follows
    async with run_exchange(port=0, flow=False, seed=42, clock=lambda: now[0],
                            relayer=RelayerConfig(step_s=3600.0)) as ex:
        key = ex.standin.issue_builder_key(daily_limit=2)
        m = plain(ex)
        # other signers, so no nonce waits on another: the quota is the builder key's
        a, b, c = (relay_client(ex, key, PROXY, k) for k in (KEY_A, KEY_B, KEY_C))
        await execute(a, [ctf(CapitalKind.SPLIT, m, UNIT), ctf(CapitalKind.SPLIT, m, UNIT)])  # a batch: one
        await execute(b, [ctf(CapitalKind.SPLIT, m, UNIT)])
        with pytest.raises(RelayerApiException) as info:
            await execute(c, [ctf(CapitalKind.SPLIT, m, UNIT)])
        assert info.value.status_code == 429
        assert info.value.error_msg == {
            "error": "relayer daily transaction limit reached: 2/day for this builder key (resets at 00:00 UTC)"}
        other = ex.standin.issue_builder_key()  # the default tier: Unverified, 100 a day
        assert other.daily_limit == 100
        assert await execute(relay_client(ex, other, PROXY, KEY_C), [ctf(CapitalKind.SPLIT, m, UNIT)])
        now[0] += 86_400_000
        assert await execute(relay_client(ex, key, PROXY, KEY_D), [ctf(CapitalKind.SPLIT, m, UNIT)])


async def test_a_builder_key_created_through_the_clob_relays(ex: ExchangeServer) -> None:
    clob = ClobClient(ex.clob_url, 137, key=KEY_B)
    clob.set_api_creds(await call(clob.create_or_derive_api_key))
    creds = await call(clob.create_builder_api_key)
    assert set(creds) == {"key", "secret", "passphrase"}
    listed = await call(clob.get_builder_api_keys)
    assert [k["key"] for k in listed] == [creds["key"]]
    key = ex.standin.relayer.builder_keys.get(creds["key"])
    assert key is not None and key.owner == clob.get_address()
    rc = RelayClient(ex.relayer_url, 137, private_key=KEY_B, relay_tx_type=PROXY,
                     builder_config=BuilderConfig(local_builder_creds=BuilderApiKeyCreds(**creds)))
    m = plain(ex)
    tx_id = await execute(rc, [ctf(CapitalKind.SPLIT, m, UNIT)])
    assert run_to_end(ex, tx_id) == "STATE_CONFIRMED"
    assert ex.accounts.shares_micro(rc.get_expected_proxy_wallet(), m.yes_token) == UNIT


async def test_the_admin_route_issues_builder_keys_of_any_tier(ex: ExchangeServer) -> None:
    async with httpx.AsyncClient() as h:
        partner = await h.post(f"{ex.clob_url}/_admin/builder-key", json={"daily_limit": None})
        assert partner.status_code == 200
        body = partner.json()
        assert set(body) == {"key", "secret", "passphrase", "daily_limit"} and body["daily_limit"] is None
        key = ex.standin.relayer.builder_keys.get(body["key"])
        assert key is not None and key.daily_limit is None and key.secret == body["secret"]
        bad = await h.post(f"{ex.clob_url}/_admin/builder-key", json={"tier": "partner"})
        assert bad.status_code == 400
        assert bad.json() == {"error": "unknown field(s): tier; allowed: owner, daily_limit"}
        negative = await h.post(f"{ex.clob_url}/_admin/builder-key", json={"daily_limit": -1})
        assert negative.status_code == 400 and "daily_limit must be a non-negative integer" in negative.json()["error"]


async def test_the_relayer_failures_fault_fails_the_next_transaction(ex: ExchangeServer) -> None:
    rc = relay_client(ex, ex.standin.issue_builder_key(), SAFE)
    m = plain(ex)
    safe = rc.get_expected_safe()
    cash = ex.accounts.cash_micro(safe)
    async with httpx.AsyncClient() as h:
        r = await h.post(f"{ex.clob_url}/_admin/faults", json={"relayer_failures": 1})
        assert r.status_code == 200 and r.json()["relayer_failures"] == 1
    failed = await execute(rc, [ctf(CapitalKind.SPLIT, m, UNIT)])
    assert run_to_end(ex, failed) == "STATE_FAILED"
    assert "injected fault" in (await record(rc, failed))["errorMsg"]
    assert holdings(ex, safe, m) == (cash, 0, 0)
    retried = await execute(rc, [ctf(CapitalKind.SPLIT, m, UNIT)])  # the nonce moved on at execution
    assert run_to_end(ex, retried) == "STATE_CONFIRMED"
    assert holdings(ex, safe, m) == (cash - UNIT, UNIT, UNIT)
