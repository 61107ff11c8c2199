"""Polymarket's relayer, under ``/relayer``: gasless split, merge and redeem for Safe, proxy and
deposit wallets (docs/protocol.md §15), driven by the official ``py-builder-relayer-client``.

``RelayClient(relayer_url=f"{clob_url}/relayer", chain_id=137, private_key=..., builder_config=...,
relay_tx_type=RelayerTxType.SAFE | PROXY)`` works against it unchanged.

Routes (JSON; errors ``{"error": message}``):

==================================  ===============================================================
GET  ``/relayer/nonce``             ``?address=<signer>&type=SAFE|PROXY|WALLET`` → ``{"nonce": "n"}``:
                                    the Safe's nonce, the relay hub's nonce of the signer, or the
                                    deposit wallet's batch nonce (WALLET is the stand-in's extension)
GET  ``/relayer/relay-payload``     same query → ``{"address": <relayer EOA>, "nonce": "n"}``
GET  ``/relayer/deployed``          ``?address=`` → ``{"deployed": true}``: every wallet counts as
                                    deployed (the stand-in has no deployment step)
POST ``/relayer/submit``            a signed SAFE / PROXY / WALLET (or WALLET-CREATE) request →
                                    ``{"transactionID", "state": "STATE_NEW"}`` (builder auth)
GET  ``/relayer/transaction``       ``?id=`` → a list holding the record (``[]`` for an unknown id)
GET  ``/relayer/transactions``      the builder key's records, newest first (builder auth)
POST ``/auth/builder-api-key``      (CLOB, L2) a new builder key ``{"key", "secret", "passphrase"}``
GET  ``/auth/builder-api-key``      (CLOB, L2) the wallet's builder keys ``[{"key", "createdAt",
                                    "revokedAt"}]``
POST ``/_admin/builder-key``        (loopback) ``{"owner"?, "daily_limit"?: int | null}`` → a key
==================================  ===============================================================

**Builder auth**: ``POLY_BUILDER_API_KEY``, ``POLY_BUILDER_TIMESTAMP``, ``POLY_BUILDER_PASSPHRASE``,
``POLY_BUILDER_SIGNATURE`` = urlsafe-base64 HMAC-SHA256 under the urlsafe-base64-decoded secret of
``timestamp + METHOD + path + body``, where the path is the relayer's own (``/submit``, without the
``/relayer`` prefix; the prefixed path is accepted too) and the body is the sent JSON, or the Python
client's ``str(dict).replace("'", '"')`` of it. Anything else → 401 naming what is wrong.

**Checks** of a submitted transaction (400 naming the field): SAFE — ``proxyWallet`` is the Safe the
factory derives for ``from``, the signature (packed ``r, s, v+4`` eth_sign, or ``v`` 27/28) recovers
``from`` over the Safe transaction hash (``signatureParams`` and ``nonce`` included), a
delegatecall goes only to MultiSend and is unpacked into its calls; PROXY — ``proxyWallet`` is the
proxy the factory derives, ``to`` the proxy factory, ``relayHub`` / ``relay`` the hub and this
relayer, the signature recovers ``from`` over the ``rlx:`` hash, ``data`` is ``proxy((uint8,address,
uint256,bytes)[])`` of plain calls; WALLET — ``depositWallet`` is the UUPS wallet the factory derives
(the stand-in's factory has no beacon), ``deadline`` is ahead, the EIP-712 ``Batch`` signature
recovers ``from``. The nonce must be the wallet's next one, counting transactions accepted and not
yet executed (a second submit with the nonce ``GET /nonce`` still shows is refused: wait for the
first to execute). The calls themselves are the chain's business (``chain.Chain``): a call that
reverts fails the transaction, it is not refused at submit.

**States** on the stand-in's timer, ``RelayerConfig.step_s`` apart (``advance`` drives them by hand):
STATE_NEW → STATE_EXECUTED (the nonce is used, the hash known) → STATE_MINED (the calls run, all or
nothing; balances change here) → STATE_CONFIRMED; a reverting call → STATE_FAILED instead of MINED,
balances untouched, the reason in the record's ``errorMsg``. ``Faults.relayer_failures`` fails the
next N accepted transactions that way.

**Quota**: each builder key may have ``daily_limit`` accepted transactions per UTC day of the
stand-in's clock (``RelayerConfig.daily_limit``, 100 = Polymarket's Unverified tier; Verified is
3,000, Partner unlimited = None); a batch is one. Past it → 429.

Whose balances: a relayed call acts for the WALLET (the Safe, proxy or deposit wallet), as on chain.
The trading core still keys balances by the API key's address (the signer, docs/protocol.md §13), so a
test funds the wallet itself (``accounts.set_shares(safe, …)``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from aiohttp import web
from eth_abi import decode
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_utils import keccak, to_checksum_address
from py_builder_relayer_client.builder.deposit_wallet import DEPOSIT_WALLET_TYPES
from py_builder_relayer_client.builder.derive import derive, derive_proxy_wallet, derive_uups_deposit_wallet
from py_builder_relayer_client.builder.proxy import create_proxy_struct_hash
from py_builder_relayer_client.builder.safe import create_struct_hash
from py_builder_relayer_client.config import get_contract_config
from py_builder_relayer_client.constants.constants import (
    DEPOSIT_WALLET_DOMAIN_NAME,
    DEPOSIT_WALLET_DOMAIN_VERSION,
    ZERO_ADDRESS,
)
from py_builder_relayer_client.models import OperationType

from polymm.domain.ctf import POLYGON_CHAIN_ID

from ..sim import units
from . import http
from .admin import LOOPBACK_ONLY, is_loopback, peer_host
from .auth import AUTH_WINDOW_S, KeyStore, hmac_signature, recover_address, verify_l2
from .chain import ACCOUNT, RELAY_HUB, SAFE, WALLET, Call, Chain, Effect, Revert
from .faults import Faults
from .http import json_response

log = logging.getLogger(__name__)

PREFIX = "/relayer"
#: Polymarket's Builder tiers: transactions per UTC day a builder key may relay.
UNVERIFIED_DAILY_LIMIT = 100
VERIFIED_DAILY_LIMIT = 3_000

STATE_NEW = "STATE_NEW"
STATE_EXECUTED = "STATE_EXECUTED"
STATE_MINED = "STATE_MINED"
STATE_CONFIRMED = "STATE_CONFIRMED"
STATE_FAILED = "STATE_FAILED"
TERMINAL_STATES = frozenset({STATE_CONFIRMED, STATE_FAILED})

#: The submit types the stand-in relays, and the nonce types ``/nonce`` answers.
SUBMIT_TYPES = ("SAFE", "PROXY", "WALLET", "WALLET-CREATE")
NONCE_TYPES = ("SAFE", "PROXY", "WALLET")
MULTISEND_SELECTOR = bytes.fromhex("8d80ff0a")
PROXY_SELECTOR = keccak(text="proxy((uint8,address,uint256,bytes)[])")[:4]
_BUILDER_HEADERS = ("POLY_BUILDER_API_KEY", "POLY_BUILDER_TIMESTAMP", "POLY_BUILDER_PASSPHRASE",
                    "POLY_BUILDER_SIGNATURE")
MAX_LISTED = 100


@dataclass(slots=True)
class RelayerConfig:
    """Knobs of the relayer (mutable at run time; read when used)."""

    #: Delay between transaction states (NEW → EXECUTED → MINED → CONFIRMED).
    step_s: float = 0.2
    #: Transactions a builder key may relay per UTC day, for keys issued without their own limit
    #: (None: unlimited, the Partner tier).
    daily_limit: int | None = UNVERIFIED_DAILY_LIMIT
    #: Accepted clock skew of ``POLY_BUILDER_TIMESTAMP`` (and of the CLOB's L2 headers on the
    #: builder-key routes), seconds.
    auth_window_s: float = AUTH_WINDOW_S
    #: The chain the signatures are checked for.
    chain_id: int = POLYGON_CHAIN_ID


@dataclass(slots=True)
class BuilderKey:
    """Builder API credentials the stand-in issued, and the key's daily quota (None: unlimited)."""

    key: str
    secret: str
    passphrase: str
    owner: str  # the wallet that created it ("" when issued from Python without one)
    daily_limit: int | None
    created_ms: int

    def creds(self) -> dict[str, str]:
        """The wire shape of ``POST /auth/builder-api-key``: ``{"key", "secret", "passphrase"}``."""
        return {"key": self.key, "secret": self.secret, "passphrase": self.passphrase}

    def __repr__(self) -> str:  # never the secret or the passphrase
        return f"BuilderKey(key={self.key!r}, owner={self.owner!r}, daily_limit={self.daily_limit})"


@dataclass(slots=True)
class RelayerTransaction:
    """One relayed transaction and its record."""

    id: str
    type: str
    sender: str  # checksum: the signer (``from``)
    to: str
    wallet: str  # checksum: the Safe / proxy / deposit wallet that acts
    data: str
    nonce: int | None
    value: int
    signature: str
    metadata: str
    builder_key: str
    calls: tuple[Call, ...]
    nonce_space: str | None
    nonce_key: str  # whose nonce: the wallet's, or for PROXY the signer's (the relay hub's count)
    created_ms: int
    updated_ms: int
    state: str = STATE_NEW
    hash: str = ""
    error: str = ""
    doomed: bool = False  # a ``relayer_failures`` fault: fails when it would be mined
    effects: tuple[Effect, ...] = ()
    states: list[str] = field(default_factory=lambda: [STATE_NEW])

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "transactionID": self.id,
            "transactionHash": self.hash,
            "from": self.sender.lower(),
            "to": self.to.lower(),
            "proxyAddress": self.wallet.lower(),
            "data": self.data,
            "nonce": "" if self.nonce is None else str(self.nonce),
            "value": str(self.value) if self.value else "",
            "signature": self.signature,
            "state": self.state,
            "type": self.type,
            "owner": self.sender.lower(),
            "metadata": self.metadata,
            "createdAt": _iso(self.created_ms),
            "updatedAt": _iso(self.updated_ms),
        }
        if self.state == STATE_FAILED:
            out["errorMsg"] = self.error
        return out


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ------------------------------------------------------------------------------------------ parsing


def _field(obj: Mapping[str, Any], name: str, where: str = "") -> Any:
    if name not in obj or obj[name] is None:
        raise http.ApiError(400, f"missing field {where}{name}")
    return obj[name]


def _address(obj: Mapping[str, Any], name: str, where: str = "", default: str | None = None) -> str:
    value = obj.get(name, default) if default is not None else _field(obj, name, where)
    if not isinstance(value, str) or len(value) != 42 or value[:2] not in ("0x", "0X"):
        raise http.ApiError(400, f"{where}{name} must be a 0x-prefixed 40-hex-digit address, got {value!r}")
    try:
        return str(to_checksum_address(value))
    except ValueError:
        raise http.ApiError(400, f"{where}{name} must be a 0x-prefixed 40-hex-digit address, got {value!r}") from None


def _uint(obj: Mapping[str, Any], name: str, where: str = "", default: int | None = None) -> int:
    value = obj.get(name) if default is not None else _field(obj, name, where)
    if value is None or value == "":
        if default is None:
            raise http.ApiError(400, f"missing field {where}{name}")
        return default
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise http.ApiError(400, f"{where}{name} must be a non-negative integer (a decimal string), got {value!r}")


def _hex(obj: Mapping[str, Any], name: str, where: str = "") -> bytes:
    value = _field(obj, name, where)
    if isinstance(value, str) and value[:2] in ("0x", "0X"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    raise http.ApiError(400, f"{where}{name} must be 0x-prefixed hex, got {str(value)[:80]!r}")


def _signature(obj: Mapping[str, Any]) -> bytes:
    raw = _hex(obj, "signature")
    if len(raw) != 65:
        raise http.ApiError(400, f"signature must be 65 bytes (r, s, v), got {len(raw)}")
    return raw


def _recover_prefixed(digest: bytes, signature: bytes) -> str | None:
    """The signer of an eth_sign (EIP-191) signature over a 32-byte hash, or None."""
    try:
        return str(Account.recover_message(encode_defunct(primitive=digest), signature=signature))
    except Exception:  # eth_keys' BadSignature / ValueError for junk
        return None


def _recover_safe(digest: bytes, signature: bytes) -> str | None:
    """A Safe owner signature: ``v`` 31/32 = eth_sign over the hash (what the client sends), 27/28 =
    a plain ECDSA signature of the hash itself."""
    v = signature[64]
    if v in (31, 32):
        return _recover_prefixed(digest, signature[:64] + bytes([v - 4]))
    if v in (27, 28):
        return recover_address(digest, "0x" + signature.hex())
    return None


def unpack_multisend(data: bytes) -> list[Call]:
    """The calls of a Safe ``multiSend(bytes)``: packed ``[uint8 op, address to, uint256 value,
    uint256 length, bytes data]`` entries. ValueError naming what is malformed."""
    if data[:4] != MULTISEND_SELECTOR:
        raise ValueError(f"expected multiSend(bytes) (selector 0x{MULTISEND_SELECTOR.hex()}), got 0x{data[:4].hex()}")
    try:
        (packed,) = decode(["bytes"], data[4:])
    except Exception as exc:  # eth_abi's DecodingError
        raise ValueError(f"multiSend argument is not ABI-encoded bytes: {exc}") from None
    calls: list[Call] = []
    i = 0
    while i < len(packed):
        if i + 85 > len(packed):
            raise ValueError(f"multiSend entry {len(calls) + 1} is truncated")
        op = packed[i]
        to = to_checksum_address(packed[i + 1 : i + 21])
        value = int.from_bytes(packed[i + 21 : i + 53], "big")
        length = int.from_bytes(packed[i + 53 : i + 85], "big")
        end = i + 85 + length
        if end > len(packed):
            raise ValueError(f"multiSend entry {len(calls) + 1} claims {length} data bytes past the end")
        if op != 0:
            raise ValueError(f"multiSend entry {len(calls) + 1} has operation {op}; only 0 (call) is relayed")
        calls.append(Call(to, bytes(packed[i + 85 : end]), value))
        i = end
    if not calls:
        raise ValueError("multiSend carries no transactions")
    return calls


def unpack_proxy(data: bytes) -> list[Call]:
    """The calls of a proxy wallet's ``proxy((uint8,address,uint256,bytes)[])``; ValueError if malformed."""
    if data[:4] != PROXY_SELECTOR:
        raise ValueError(f"data must call proxy((uint8,address,uint256,bytes)[]) (selector 0x{PROXY_SELECTOR.hex()}),"
                         f" got 0x{data[:4].hex()}")
    try:
        (entries,) = decode(["(uint8,address,uint256,bytes)[]"], data[4:])
    except Exception as exc:  # eth_abi's DecodingError
        raise ValueError(f"proxy(...) arguments are malformed: {exc}") from None
    calls = []
    for n, (type_code, to, value, call_data) in enumerate(entries, 1):
        if type_code != 1:
            raise ValueError(f"proxy call {n} has typeCode {type_code}; only 1 (call) is relayed")
        calls.append(Call(to_checksum_address(to), bytes(call_data), int(value)))
    if not calls:
        raise ValueError("proxy(...) carries no calls")
    return calls


# ------------------------------------------------------------------------------------------ builder keys


class BuilderKeys:
    """Builder API keys, deterministic per (seed, issue order) like the CLOB's API keys."""

    def __init__(self, seed: int | str = 0) -> None:
        self._seed = str(seed)
        self._keys: dict[str, BuilderKey] = {}

    def issue(self, owner: str, daily_limit: int | None, created_ms: int) -> BuilderKey:
        base = f"polymm-builderkey:{self._seed}:{owner.lower()}:{len(self._keys)}"
        key = str(uuid.UUID(bytes=hashlib.sha256(f"{base}:key".encode()).digest()[:16], version=4))
        secret = base64.urlsafe_b64encode(hashlib.sha256(f"{base}:secret".encode()).digest()).decode()
        passphrase = hashlib.sha256(f"{base}:passphrase".encode()).hexdigest()
        built = BuilderKey(key, secret, passphrase, owner, daily_limit, created_ms)
        self._keys[key] = built
        return built

    def get(self, key: str) -> BuilderKey | None:
        return self._keys.get(key)

    def of(self, owner: str) -> list[BuilderKey]:
        low = owner.lower()
        return [k for k in self._keys.values() if k.owner.lower() == low]


# ------------------------------------------------------------------------------------------ the relayer


class Relayer:
    """The relayer: builder keys, quotas, verification of submitted transactions, their states."""

    def __init__(
        self,
        chain: Chain,
        keys: KeyStore,
        faults: Faults,
        config: RelayerConfig | None = None,
        clock: Callable[[], int] = units.now_ms,
        seed: int = 0,
    ) -> None:
        self.chain = chain
        self.keys = keys
        self.faults = faults
        self.config = config or RelayerConfig()
        self.clock = clock
        self.seed = seed
        self.contracts = get_contract_config(self.config.chain_id)
        #: The relayer's own EOA (``/relay-payload``'s ``address``; mined transactions come from it).
        self.address = str(to_checksum_address(keccak(text=f"polymm-standin-relayer:{seed}")[-20:]))
        self.builder_keys = BuilderKeys(seed)
        self.transactions: dict[str, RelayerTransaction] = {}
        self._usage: dict[tuple[str, int], int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

    # ---------------------------------------------------------------- Python API

    def issue_builder_key(
        self, owner: str = "", *, daily_limit: int | Literal["config"] | None = "config"
    ) -> BuilderKey:
        """A new builder key (no HTTP). ``daily_limit``: transactions per UTC day, None = unlimited;
        by default ``config.daily_limit``."""
        limit = self.config.daily_limit if daily_limit == "config" else daily_limit
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise ValueError(f"daily_limit must be a non-negative integer or None (unlimited), got {limit!r}")
        return self.builder_keys.issue(owner, limit, self.clock())

    def used_today(self, key: str) -> int:
        """Transactions the builder key relayed this UTC day (of the stand-in's clock)."""
        return self._usage.get((key, self._day()), 0)

    def stop(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    def wallet_nonce(self, signer: str, kind: str) -> int:
        """The nonce ``GET /nonce`` answers for a signer and a type (``NONCE_TYPES``)."""
        wallet, space = self._nonce_slot(signer, kind)
        return self.chain.nonce(wallet, space)

    def _nonce_slot(self, signer: str, kind: str) -> tuple[str, str]:
        c = self.contracts
        if kind == "SAFE":
            return derive(signer, c.safe_factory), SAFE
        if kind == "PROXY":
            return signer, RELAY_HUB
        if kind == "WALLET":
            return derive_uups_deposit_wallet(signer, c.deposit_wallet_factory, c.deposit_wallet_implementation), WALLET
        raise http.ApiError(400, f"type must be one of {', '.join(NONCE_TYPES)}, got {kind!r}")

    def _day(self) -> int:
        return self.clock() // 86_400_000

    # ---------------------------------------------------------------- auth

    def verify_builder(self, headers: Mapping[str, str], method: str, path: str, body: bytes) -> BuilderKey:
        """The builder key whose HMAC signs this request; ``ApiError(401)`` saying what is wrong."""
        values = {name: headers.get(name) or headers.get(name.replace("_", "-")) for name in _BUILDER_HEADERS}
        missing = [name for name, v in values.items() if not v]
        if missing:
            raise http.ApiError(401, "builder authentication required: missing header(s) " + ", ".join(missing))
        key_id, ts, passphrase, signature = (str(values[n]) for n in _BUILDER_HEADERS)
        key = self.builder_keys.get(key_id)
        if key is None or not hmac.compare_digest(passphrase.encode(), key.passphrase.encode()):
            raise http.ApiError(401, "invalid builder credentials: unknown POLY_BUILDER_API_KEY or wrong "
                                     "POLY_BUILDER_PASSPHRASE")
        try:
            skew = abs(time.time() - int(ts))
        except ValueError:
            raise http.ApiError(401, f"POLY_BUILDER_TIMESTAMP must be Unix seconds, got {ts[:20]!r}") from None
        if skew > self.config.auth_window_s:
            raise http.ApiError(401, f"POLY_BUILDER_TIMESTAMP is {skew:.0f} s from the server's clock "
                                     f"(accepted: {self.config.auth_window_s:g} s)")
        paths = [path.removeprefix(PREFIX) or "/", path] if path.startswith(PREFIX + "/") else [path]
        bodies = [body.decode("utf-8", "replace")] if body else [""]
        if body:
            try:
                bodies.append(str(json.loads(body)).replace("'", '"'))  # the Python clients' form
            except ValueError:
                pass
        for p in paths:
            for b in bodies:
                expected = hmac_signature(key.secret, (ts + method.upper() + p + b).encode())
                if hmac.compare_digest(signature.encode(), expected.encode()):
                    return key
        raise http.ApiError(401, "invalid POLY_BUILDER_SIGNATURE: not the HMAC-SHA256 of timestamp + method + "
                                 "path + body under this key's secret")

    def _count(self, key: BuilderKey) -> None:
        slot = (key.key, self._day())
        self._usage[slot] = self._usage.get(slot, 0) + 1

    def _check_quota(self, key: BuilderKey) -> None:
        limit = key.daily_limit
        if limit is not None and self._usage.get((key.key, self._day()), 0) >= limit:
            raise http.ApiError(429, f"relayer daily transaction limit reached: {limit}/day for this builder key "
                                     "(resets at 00:00 UTC)")

    # ---------------------------------------------------------------- submit

    def submit(self, body: object, key: BuilderKey) -> RelayerTransaction:
        """Verify and accept one submitted transaction (``ApiError`` 400/429 otherwise)."""
        if not isinstance(body, dict):
            raise http.ApiError(400, "the body must be a JSON object")
        self._check_quota(key)
        kind = body.get("type")
        if kind == "SAFE-CREATE":
            raise http.ApiError(400, "SAFE-CREATE is not needed: every Safe counts as deployed on the stand-in "
                                     "(GET /deployed answers true)")
        if kind not in SUBMIT_TYPES:
            raise http.ApiError(400, f"type must be one of {', '.join(SUBMIT_TYPES)}, got {kind!r}")
        sender = _address(body, "from")
        space: str | None
        nonce: int | None
        if kind == "SAFE":
            wallet, calls, space, nonce = self._safe(body, sender)
        elif kind == "PROXY":
            wallet, calls, space, nonce = self._proxy(body, sender)
        elif kind == "WALLET":
            wallet, calls, space, nonce = self._wallet(body, sender)
        else:
            wallet, calls, space, nonce = self._wallet_create(body, sender)
        nonce_key = sender if space == RELAY_HUB else wallet  # the relay hub counts per signer
        if space is not None and nonce is not None:
            self._check_nonce(kind, nonce_key, space, nonce)
        self._count(key)
        now = self.clock()
        tx = RelayerTransaction(
            id=self._new_id(),
            type=kind,
            sender=sender,
            to=_address(body, "to"),
            wallet=wallet,
            data=str(body.get("data") or "0x"),
            nonce=nonce,
            value=sum(c.value for c in calls),
            signature=str(body.get("signature") or ""),
            metadata=str(body.get("metadata") or ""),
            builder_key=key.key,
            calls=tuple(calls),
            nonce_space=space,
            nonce_key=nonce_key,
            created_ms=now,
            updated_ms=now,
            doomed=self.faults.take_relayer_failure(),
        )
        self.transactions[tx.id] = tx
        self._schedule(tx)
        return tx

    def _new_id(self) -> str:
        digest = hashlib.sha256(f"polymm-standin-relayer:{self.seed}:{len(self.transactions)}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def _check_nonce(self, kind: str, owner: str, space: str, nonce: int) -> None:
        low = owner.lower()
        pending = sum(1 for t in self.transactions.values()
                      if t.state == STATE_NEW and t.nonce_space == space and t.nonce_key.lower() == low)
        expected = self.chain.nonce(owner, space) + pending
        if nonce != expected:
            whose = "signer" if space == RELAY_HUB else "wallet"
            waiting = f"; {pending} transaction(s) of this {whose} wait to execute" if pending else ""
            raise http.ApiError(400, f"invalid nonce {nonce} for {kind} {whose} {owner}: expected {expected}{waiting}")

    def _safe(self, body: dict[str, Any], sender: str) -> tuple[str, list[Call], str, int]:
        c = self.contracts
        safe = derive(sender, c.safe_factory)
        proxy = _address(body, "proxyWallet")
        if proxy != safe:
            raise http.ApiError(400, f"proxyWallet {proxy} is not the Safe of {sender}: the Safe factory "
                                     f"{c.safe_factory} derives {safe}")
        to = _address(body, "to")
        data = _hex(body, "data")
        value = _uint(body, "value", default=0)
        nonce = _uint(body, "nonce")
        params = body.get("signatureParams")
        if not isinstance(params, dict):
            raise http.ApiError(400, "missing field signatureParams (an object)")
        where = "signatureParams."
        op = _uint(params, "operation", where, default=0)
        if op not in (0, 1):
            raise http.ApiError(400, f"signatureParams.operation must be 0 (call) or 1 (delegatecall), got {op}")
        digest = create_struct_hash(
            self.config.chain_id, safe, to, str(value), "0x" + data.hex(), OperationType(op),
            str(_uint(params, "safeTxnGas", where, default=0)), str(_uint(params, "baseGas", where, default=0)),
            str(_uint(params, "gasPrice", where, default=0)), _address(params, "gasToken", where, ZERO_ADDRESS),
            _address(params, "refundReceiver", where, ZERO_ADDRESS), str(nonce),
        )
        signer = _recover_safe(bytes.fromhex(digest.removeprefix("0x")), _signature(body))
        if signer is None or signer != sender:
            raise http.ApiError(400, f"signature does not recover the signer {sender} over the Safe transaction hash"
                                     f" (it recovers {signer}): to, value, data, operation, signatureParams and "
                                     "nonce must be those signed")
        if op == 1:
            if to != c.safe_multisend:
                raise http.ApiError(400, f"a delegatecall (operation 1) is relayed only to MultiSend "
                                         f"{c.safe_multisend}, got {to}")
            try:
                calls = unpack_multisend(data)
            except ValueError as exc:
                raise http.ApiError(400, f"data: {exc}") from None
        else:
            calls = [Call(to, data, value)]
        return safe, calls, SAFE, nonce

    def _proxy(self, body: dict[str, Any], sender: str) -> tuple[str, list[Call], str, int]:
        c = self.contracts
        if not (c.proxy_factory and c.relay_hub):
            raise http.ApiError(400, f"PROXY transactions are not relayed on chain {self.config.chain_id}")
        wallet = derive_proxy_wallet(sender, c.proxy_factory)
        proxy = _address(body, "proxyWallet")
        if proxy != wallet:
            raise http.ApiError(400, f"proxyWallet {proxy} is not the proxy wallet of {sender}: the proxy factory "
                                     f"{c.proxy_factory} derives {wallet}")
        to = _address(body, "to")
        if to != c.proxy_factory:
            raise http.ApiError(400, f"to must be the proxy factory {c.proxy_factory} for a PROXY transaction, "
                                     f"got {to}")
        data = _hex(body, "data")
        nonce = _uint(body, "nonce")
        params = body.get("signatureParams")
        if not isinstance(params, dict):
            raise http.ApiError(400, "missing field signatureParams (an object)")
        where = "signatureParams."
        hub = _address(params, "relayHub", where)
        if hub != c.relay_hub:
            raise http.ApiError(400, f"signatureParams.relayHub must be the relay hub {c.relay_hub}, got {hub}")
        relay = _address(params, "relay", where)
        if relay != self.address:
            raise http.ApiError(400, f"signatureParams.relay must be this relayer's address {self.address} "
                                     f"(GET /relay-payload), got {relay}")
        digest = create_proxy_struct_hash(
            sender, to, "0x" + data.hex(), str(_uint(params, "relayerFee", where, default=0)),
            str(_uint(params, "gasPrice", where, default=0)), str(_uint(params, "gasLimit", where)),
            str(nonce), hub, relay,
        )
        signer = _recover_prefixed(bytes.fromhex(digest.removeprefix("0x")), _signature(body))
        if signer != sender:
            raise http.ApiError(400, f"signature does not recover the signer {sender} over the proxy (rlx:) hash "
                                     f"(it recovers {signer}): data, nonce and signatureParams must be those signed")
        try:
            calls = unpack_proxy(data)
        except ValueError as exc:
            raise http.ApiError(400, f"data: {exc}") from None
        return wallet, calls, RELAY_HUB, nonce

    def _deposit_wallet(self, sender: str) -> str:
        c = self.contracts
        return str(derive_uups_deposit_wallet(sender, c.deposit_wallet_factory, c.deposit_wallet_implementation))

    def _factory(self, body: dict[str, Any]) -> str:
        to = _address(body, "to")
        if to != self.contracts.deposit_wallet_factory:
            raise http.ApiError(400, f"to must be the deposit wallet factory {self.contracts.deposit_wallet_factory},"
                                     f" got {to}")
        return to

    def _wallet(self, body: dict[str, Any], sender: str) -> tuple[str, list[Call], str, int]:
        self._factory(body)
        params = body.get("depositWalletParams")
        if not isinstance(params, dict):
            raise http.ApiError(400, "missing field depositWalletParams (an object)")
        where = "depositWalletParams."
        wallet = _address(params, "depositWallet", where)
        expected = self._deposit_wallet(sender)
        if wallet != expected:
            raise http.ApiError(400, f"depositWalletParams.depositWallet {wallet} is not the deposit wallet of "
                                     f"{sender}: the factory derives {expected}")
        deadline = _uint(params, "deadline", where)
        now_s = self.clock() // 1000
        if deadline <= now_s:
            raise http.ApiError(400, f"depositWalletParams.deadline {deadline} has passed (now {now_s})")
        raw_calls = params.get("calls")
        if not isinstance(raw_calls, list) or not raw_calls:
            raise http.ApiError(400, "depositWalletParams.calls must be a non-empty list of {target, value, data}")
        calls: list[Call] = []
        for n, item in enumerate(raw_calls):
            at = f"{where}calls[{n}]."
            if not isinstance(item, dict):
                raise http.ApiError(400, f"{where}calls[{n}] must be an object {{target, value, data}}")
            target, data = _address(item, "target", at), _hex(item, "data", at)
            calls.append(Call(target, data, _uint(item, "value", at, default=0)))
        nonce = _uint(body, "nonce")
        typed = {
            "primaryType": "Batch",
            "types": DEPOSIT_WALLET_TYPES,
            "domain": {"name": DEPOSIT_WALLET_DOMAIN_NAME, "version": DEPOSIT_WALLET_DOMAIN_VERSION,
                       "chainId": self.config.chain_id, "verifyingContract": wallet},
            "message": {"wallet": wallet, "nonce": nonce, "deadline": deadline,
                        "calls": [{"target": c.to, "value": c.value, "data": "0x" + c.data.hex()} for c in calls]},
        }
        try:
            signer: str | None = str(Account.recover_message(encode_typed_data(full_message=typed),
                                                             signature=_signature(body)))
        except http.ApiError:
            raise
        except Exception:  # eth_keys' BadSignature / ValueError for junk
            signer = None
        if signer != sender:
            raise http.ApiError(400, f"signature does not recover the signer {sender} over the EIP-712 Batch "
                                     f"(it recovers {signer}): wallet, nonce, deadline and calls must be those signed")
        return wallet, calls, WALLET, nonce

    def _wallet_create(self, body: dict[str, Any], sender: str) -> tuple[str, list[Call], None, None]:
        self._factory(body)
        return self._deposit_wallet(sender), [], None, None

    # ---------------------------------------------------------------- states

    def _schedule(self, tx: RelayerTransaction) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # driven synchronously (no loop): states stay put until advance()
        self._timers[tx.id] = loop.call_later(max(0.0, self.config.step_s), self.advance, tx.id)

    def advance(self, tx_id: str) -> str | None:
        """Move one transaction to its next state now (the timer calls this); returns the new state."""
        handle = self._timers.pop(tx_id, None)
        if handle is not None:
            handle.cancel()
        tx = self.transactions.get(tx_id)
        if tx is None or tx.state in TERMINAL_STATES:
            return None
        if tx.state == STATE_NEW:
            if tx.nonce_space is not None:
                self.chain.use_nonce(tx.nonce_key, tx.nonce_space)
            tx.hash = "0x" + keccak(text=f"polymm-standin-relayer-tx:{self.seed}:{tx.id}").hex()
            tx.state = STATE_EXECUTED
        elif tx.state == STATE_EXECUTED:
            self._mine(tx)
        else:
            tx.state = STATE_CONFIRMED
        tx.updated_ms = self.clock()
        tx.states.append(tx.state)
        if tx.state not in TERMINAL_STATES:
            self._schedule(tx)
        return tx.state

    def _mine(self, tx: RelayerTransaction) -> None:
        try:
            if tx.doomed:
                raise Revert("injected fault (relayer_failures): the transaction reverted on chain")
            tx.effects = tuple(self.chain.execute(tx.wallet, tx.calls))
        except Revert as exc:
            tx.state, tx.error = STATE_FAILED, exc.reason
            log.info("relayer transaction %s failed: %s", tx.id, exc.reason)
        else:
            tx.state = STATE_MINED
        data = bytes.fromhex(tx.data.removeprefix("0x")) if tx.data.startswith("0x") else b""
        self.chain.mine(tx.hash, self.address, tx.to, data, self.chain.use_nonce(self.address, ACCOUNT),
                        status=0 if tx.state == STATE_FAILED else 1, revert_reason=tx.error, effects=tx.effects)

    # ---------------------------------------------------------------- HTTP

    def routes(self) -> list[web.RouteDef]:
        p = PREFIX
        return [
            web.get(f"{p}/nonce", self.nonce_route),
            web.get(f"{p}/relay-payload", self.relay_payload_route),
            web.get(f"{p}/deployed", self.deployed_route),
            web.post(f"{p}/submit", self.submit_route),
            web.get(f"{p}/transaction", self.transaction_route),
            web.get(f"{p}/transactions", self.transactions_route),
            web.post("/auth/builder-api-key", self.create_builder_key_route),
            web.get("/auth/builder-api-key", self.list_builder_keys_route),
            web.post("/_admin/builder-key", self.admin_builder_key_route),
        ]

    @staticmethod
    def _query_address(request: web.Request) -> str:
        value = request.query.get("address")
        if value is None:
            raise http.ApiError(400, "address is required (a 0x-prefixed 40-hex-digit address)")
        return _address({"address": value}, "address")

    def _query_nonce(self, request: web.Request) -> tuple[str, int]:
        address = self._query_address(request)
        kind = request.query.get("type")
        if kind not in NONCE_TYPES:
            raise http.ApiError(400, f"type must be one of {', '.join(NONCE_TYPES)}, got {kind!r}")
        return address, self.wallet_nonce(address, kind)

    async def nonce_route(self, request: web.Request) -> web.Response:
        _, nonce = self._query_nonce(request)
        return json_response({"nonce": str(nonce)})

    async def relay_payload_route(self, request: web.Request) -> web.Response:
        _, nonce = self._query_nonce(request)
        return json_response({"address": self.address, "nonce": str(nonce)})

    async def deployed_route(self, request: web.Request) -> web.Response:
        self._query_address(request)
        return json_response({"deployed": True})

    async def submit_route(self, request: web.Request) -> web.Response:
        raw = await request.read()
        key = self.verify_builder(request.headers, request.method, request.path, raw)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise http.ApiError(400, "the body must be a JSON object") from None
        tx = self.submit(body, key)
        return json_response({"transactionID": tx.id, "state": tx.state})

    async def transaction_route(self, request: web.Request) -> web.Response:
        tx_id = request.query.get("id")
        if not tx_id:
            raise http.ApiError(400, "id is required: GET /transaction?id=<transactionID>")
        tx = self.transactions.get(tx_id)
        return json_response([] if tx is None else [tx.wire()])

    async def transactions_route(self, request: web.Request) -> web.Response:
        key = self.verify_builder(request.headers, request.method, request.path, await request.read())
        mine = [t for t in self.transactions.values() if t.builder_key == key.key]
        return json_response([t.wire() for t in reversed(mine[-MAX_LISTED:])])

    def _l2_address(self, request: web.Request, body: bytes) -> str:
        api_key = verify_l2(self.keys, request.headers, request.method, request.path, body,
                            window_s=self.config.auth_window_s)
        return api_key.address

    async def create_builder_key_route(self, request: web.Request) -> web.Response:
        owner = self._l2_address(request, await request.read())
        return json_response(self.issue_builder_key(owner).creds())

    async def list_builder_keys_route(self, request: web.Request) -> web.Response:
        owner = self._l2_address(request, await request.read())
        return json_response([{"key": k.key, "createdAt": _iso(k.created_ms), "revokedAt": None}
                              for k in self.builder_keys.of(owner)])

    async def admin_builder_key_route(self, request: web.Request) -> web.Response:
        if not is_loopback(peer_host(request)):
            return json_response({"error": LOOPBACK_ONLY}, 403)
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            raise http.ApiError(400, "invalid JSON body") from None
        if not isinstance(body, dict):
            raise http.ApiError(400, "body must be a JSON object {owner?, daily_limit?}")
        unknown = set(body) - {"owner", "daily_limit"}
        if unknown:
            raise http.ApiError(400, f"unknown field(s): {', '.join(sorted(unknown))}; allowed: owner, daily_limit")
        owner = _address(body, "owner") if body.get("owner") is not None else ""
        limit = body.get("daily_limit", "config")
        if limit != "config" and limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)
                                                        or limit < 0):
            raise http.ApiError(400, f"daily_limit must be a non-negative integer or null (unlimited), got {limit!r}")
        key = self.issue_builder_key(owner, daily_limit=limit)
        return json_response({**key.creds(), "daily_limit": key.daily_limit})
