"""How a capital operation reaches the chain: one path per wallet type (docs/protocol.md §15).

* **EOA** (signature type 0): the wallet sends its own transaction to the collateral adapter with
  ``web3`` over a Polygon JSON-RPC (``POLYMM_RPC_URL``) and pays the gas in POL. One call a
  transaction.
* **Proxy, Safe and deposit wallets** (types 1, 2, 3): the signer signs and Polymarket's relayer
  (``POLYMM_RELAYER_URL``) sends, with the official ``py-builder-relayer-client`` and a builder API key.
  Gas is Polymarket's; a transaction may batch several calls (Safe multisend, the proxy's array, the
  deposit wallet's call list) and counts once against the builder's daily quota.
* **Paper**: nothing is sent; the operation is confirmed at once (the paper ledger is the venue).

Every path is synchronous (the official clients are): the caller runs ``submit`` and ``poll`` in a
worker thread. ``poll`` answers ``pending``, ``confirmed`` or ``failed`` with the venue's words.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ..domain.ctf import POLYGON_CHAIN_ID, CtfCall

State = Literal["pending", "confirmed", "failed"]


@dataclass(frozen=True, slots=True)
class Submitted:
    """What the chain (or the relayer) answered to a submission."""

    tx_id: str  # the relayer's transaction id; the hash for an EOA transaction
    tx_hash: str


@dataclass(frozen=True, slots=True)
class Polled:
    state: State
    detail: str = ""  # the venue's state name or the failure's reason
    tx_hash: str = ""


class CapitalPath(Protocol):
    """One way to the chain (see the module docstring)."""

    #: "eoa", "relayer-safe", "relayer-proxy", "relayer-wallet" or "paper"
    name: str
    #: most calls one transaction carries
    batch_limit: int
    #: whether transactions count against the relayer's daily quota
    metered: bool

    def submit(self, calls: list[tuple[str, CtfCall]]) -> Submitted:
        """Send ``(target contract, call)`` pairs as one transaction."""
        ...

    def poll(self, sub: Submitted) -> Polled: ...


class PaperPath:
    """Paper trading: every operation is confirmed at once (the ledger is the only venue)."""

    name = "paper"
    batch_limit = 50
    metered = False

    def submit(self, calls: list[tuple[str, CtfCall]]) -> Submitted:
        tx = "paper-" + uuid.uuid4().hex[:16]
        return Submitted(tx, "")

    def poll(self, sub: Submitted) -> Polled:
        return Polled("confirmed", "paper")


class Web3Path:
    """An EOA's own transactions over JSON-RPC (web3): one call each, gas paid in POL."""

    name = "eoa"
    batch_limit = 1
    metered = False

    def __init__(self, rpc_url: str, private_key: str, chain_id: int = POLYGON_CHAIN_ID,
                 timeout_s: float = 10.0) -> None:
        from eth_account import Account
        from web3 import Web3
        from web3.providers.rpc import HTTPProvider

        from ..domain.ctf import ADAPTER_ABI

        self._abi = ADAPTER_ABI
        self._w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}))
        self._account = Account.from_key(private_key)
        self.chain_id = chain_id
        self.address = self._w3.to_checksum_address(self._account.address)

    def __repr__(self) -> str:
        return f"Web3Path(address={self.address}, key=<hidden>)"

    def submit(self, calls: list[tuple[str, CtfCall]]) -> Submitted:
        if len(calls) != 1:
            raise ValueError(f"an EOA transaction carries one call, got {len(calls)}")
        target, call = calls[0]
        contract = self._w3.eth.contract(address=self._w3.to_checksum_address(target), abi=self._abi)
        fn = getattr(contract.functions, _FUNCTION[call.kind.value])(*call.args())
        tx = fn.build_transaction({
            "from": self.address,
            "nonce": self._w3.eth.get_transaction_count(self.address, "pending"),
            "chainId": self.chain_id,
        })
        signed = self._account.sign_transaction(tx)
        h = self._w3.eth.send_raw_transaction(signed.raw_transaction)
        text = "0x" + bytes(h).hex().removeprefix("0x")
        return Submitted(text, text)

    def poll(self, sub: Submitted) -> Polled:
        from eth_typing import HexStr
        from web3.exceptions import TransactionNotFound

        try:
            receipt = self._w3.eth.get_transaction_receipt(HexStr(sub.tx_hash))
        except TransactionNotFound:
            return Polled("pending", "not mined yet", sub.tx_hash)
        if int(receipt["status"]) == 1:
            return Polled("confirmed", f"mined in block {int(receipt['blockNumber'])}", sub.tx_hash)
        return Polled("failed", "the transaction reverted", sub.tx_hash)


_FUNCTION = {"split": "splitPosition", "merge": "mergePositions", "redeem": "redeemPositions"}

#: The relayer's transaction states (py_builder_relayer_client.models.RelayerTransactionState).
_RELAYER_DONE = {"STATE_CONFIRMED"}
_RELAYER_FAILED = {"STATE_FAILED", "STATE_INVALID"}


class RelayerPath:
    """Proxy (1), Safe (2) and deposit (3) wallets through Polymarket's relayer: gasless, batched."""

    metered = True

    def __init__(self, relayer_url: str, private_key: str, builder: tuple[str, str, str],
                 signature_type: int, chain_id: int = POLYGON_CHAIN_ID, wallet: str | None = None,
                 rpc_url: str | None = None, batch_limit: int = 20, deadline_s: int = 1800) -> None:
        from py_builder_relayer_client.client import RelayClient
        from py_builder_relayer_client.models import RelayerTxType
        from py_builder_signing_sdk.config import BuilderConfig
        from py_builder_signing_sdk.sdk_types import BuilderApiKeyCreds

        if signature_type not in (1, 2, 3):
            raise ValueError(f"signature_type must be 1 (proxy), 2 (Safe) or 3 (deposit wallet) for the relayer, "
                             f"got {signature_type}")
        key, secret, passphrase = builder
        config = BuilderConfig(local_builder_creds=BuilderApiKeyCreds(key=key, secret=secret, passphrase=passphrase))
        tx_type = RelayerTxType.PROXY if signature_type == 1 else RelayerTxType.SAFE
        self._client: Any = RelayClient(relayer_url, chain_id, private_key, config, tx_type, rpc_url)
        self.signature_type = signature_type
        self.name = {1: "relayer-proxy", 2: "relayer-safe", 3: "relayer-wallet"}[signature_type]
        self.batch_limit = batch_limit
        self.deadline_s = deadline_s
        self.wallet = wallet or self.expected_wallet()

    def __repr__(self) -> str:
        return f"RelayerPath({self.name}, wallet={self.wallet}, key=<hidden>)"

    def expected_wallet(self) -> str:
        """The wallet the relayer acts for: the signer's Safe or proxy (a deposit wallet must be given)."""
        if self.signature_type == 1:
            return str(self._client.get_expected_proxy_wallet())
        if self.signature_type == 2:
            return str(self._client.get_expected_safe())
        raise ValueError("POLYMM_FUNDER: required for a deposit wallet (signature type 3): its address")

    def submit(self, calls: list[tuple[str, CtfCall]]) -> Submitted:
        from py_builder_relayer_client.models import DepositWalletCall, Transaction

        if self.signature_type == 3:
            signer = self._client.signer.address()
            nonce = self._client.get_nonce(signer, "WALLET")
            if not isinstance(nonce, dict) or nonce.get("nonce") is None:
                raise RuntimeError(f"the relayer's nonce answer has no nonce: {nonce!r}")
            resp = self._client.execute_deposit_wallet_batch(
                [DepositWalletCall(target=t, value="0", data=c.calldata()) for t, c in calls],
                self.wallet, str(nonce["nonce"]), str(int(time.time()) + self.deadline_s))
        else:
            resp = self._client.execute([Transaction(to=t, data=c.calldata(), value="0") for t, c in calls],
                                        "polymm " + ",".join(sorted({c.kind.value for _, c in calls})))
        if not resp.transaction_id:
            raise RuntimeError("the relayer answered without a transaction id")
        return Submitted(str(resp.transaction_id), str(resp.transaction_hash or ""))

    def poll(self, sub: Submitted) -> Polled:
        records = self._client.get_transaction(sub.tx_id)
        if not records:
            return Polled("pending", "not listed yet", sub.tx_hash)
        rec = records[0] if isinstance(records, list) else records
        state = str(rec.get("state", ""))
        tx_hash = str(rec.get("transactionHash") or sub.tx_hash)
        if state in _RELAYER_DONE:
            return Polled("confirmed", state, tx_hash)
        if state in _RELAYER_FAILED:
            why = rec.get("errorMsg") or rec.get("error") or ""
            return Polled("failed", f"{state}{': ' + str(why) if why else ''}", tx_hash)
        return Polled("pending", state or "unknown state", tx_hash)


def path_for(mode: str, *, signature_type: int, private_key: str | None, chain_id: int, rpc_url: str,
             relayer_url: str, builder: tuple[str, str, str] | None, funder: str | None) -> CapitalPath:
    """The path for a wallet type; raises ValueError naming the missing setting."""
    if mode == "paper":
        return PaperPath()
    if not private_key:
        raise ValueError("POLYMM_PRIVATE_KEY: required for merge, split and redeem (64 hex characters)")
    if signature_type == 0:
        return Web3Path(rpc_url, private_key, chain_id)
    if builder is None:
        raise ValueError("POLYMM_BUILDER_API_KEY, POLYMM_BUILDER_SECRET and POLYMM_BUILDER_PASSPHRASE: required "
                         f"for the relayer (signature type {signature_type}); create them in Polymarket's "
                         "builder settings")
    return RelayerPath(relayer_url, private_key, builder, signature_type, chain_id,
                       wallet=funder if signature_type == 3 else None, rpc_url=None)
