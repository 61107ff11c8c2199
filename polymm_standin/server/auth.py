"""Authentication of the stand-in exchange: L1 wallet signatures, L2 HMAC, API keys, order signatures.

Everything here verifies exactly what the official ``py-clob-client-v2`` produces (docs/protocol.md §4, §5.1):

* **L1** (key create/derive): headers ``POLY_ADDRESS``/``POLY_SIGNATURE``/``POLY_TIMESTAMP``/``POLY_NONCE``;
  the signature is an EIP-712 ``ClobAuth(address address,string timestamp,uint256 nonce,string message)``
  under the domain ``{name:"ClobAuthDomain", version:"1", chainId}`` (no verifying contract) and must
  recover to ``POLY_ADDRESS``. Failure → 401 ``Invalid L1 Request headers``.
* **L2** (every trading/account route): ``POLY_ADDRESS``/``POLY_SIGNATURE``/``POLY_TIMESTAMP``/
  ``POLY_API_KEY``/``POLY_PASSPHRASE``; ``sig = urlsafe_b64(HMAC_SHA256(urlsafe_b64decode(secret),
  ts + METHOD + path_without_query + raw_body))``. Failure → 401 ``Unauthorized/Invalid api key``.
* **Freshness**: a request's ``POLY_TIMESTAMP`` must lie within ``AUTH_WINDOW_S`` (300 s, either
  direction) of the server clock. Polymarket does not document its window; 300 s is generous enough
  for a sleepy laptop yet still rejects replays of old captures.
* **Orders**: the V2 ``Order`` struct digest (= the order id) and ECDSA recovery of its signer, done
  with plain keccak + ``coincurve`` (a few tens of µs; eth_account's generic typed-data encoder is
  ~50× slower and the stand-in verifies every order).

API keys are deterministic per (exchange seed, address, nonce): a stand-in restarted with the same
seed hands a bot the same credentials, like Polymarket's ``derive-api-key``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from coincurve import PublicKey
from eth_utils import keccak, to_checksum_address

from . import http

AUTH_WINDOW_S = 300
CHAIN_ID = 137
#: Chains whose signatures are accepted (Polygon, and Amoy for clients built for the testnet).
CHAIN_IDS: tuple[int, ...] = (137, 80002)

EXCHANGE_V2 = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE_V2 = "0xe2222d279d744050d28e00520010520000310F59"
NEG_RISK_ADAPTER = "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296"

INVALID_L1 = "Invalid L1 Request headers"
INVALID_L2 = "Unauthorized/Invalid api key"
CANNOT_CREATE = "Could not create api key"
CANNOT_DERIVE = "Could not derive api key!"

CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"

_DOMAIN_TYPEHASH_NO_CONTRACT = keccak(text="EIP712Domain(string name,string version,uint256 chainId)")
_DOMAIN_TYPEHASH = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
_CLOB_AUTH_TYPEHASH = keccak(text="ClobAuth(address address,string timestamp,uint256 nonce,string message)")
ORDER_TYPEHASH = keccak(
    text="Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,"
    "uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)"
)
_UINT256_MAX = (1 << 256) - 1


class AuthError(http.ApiError):
    """A 401 with Polymarket's message."""

    def __init__(self, message: str = INVALID_L2) -> None:
        super().__init__(401, message)


# --------------------------------------------------------------------------------------------- EIP-712


def _word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def _address_word(address: str) -> bytes:
    return b"\x00" * 12 + address_bytes(address)


def address_bytes(address: str) -> bytes:
    """The 20 bytes of a ``0x``-hex address; ValueError when it is not one."""
    if not isinstance(address, str) or len(address) != 42 or address[:2] not in ("0x", "0X"):
        raise ValueError(f"not an address: {address!r}")
    return bytes.fromhex(address[2:])


def _domain_separator(name: str, version: str, chain_id: int, contract: str | None) -> bytes:
    parts = [keccak(text=name), keccak(text=version), _word(chain_id)]
    if contract is None:
        return keccak(_DOMAIN_TYPEHASH_NO_CONTRACT + b"".join(parts))
    return keccak(_DOMAIN_TYPEHASH + b"".join(parts) + _address_word(contract))


_ORDER_DOMAINS: dict[tuple[int, bool], bytes] = {
    (chain, neg): _domain_separator(
        "Polymarket CTF Exchange", "2", chain, NEG_RISK_EXCHANGE_V2 if neg else EXCHANGE_V2
    )
    for chain in CHAIN_IDS
    for neg in (False, True)
}
_AUTH_DOMAINS: dict[int, bytes] = {c: _domain_separator("ClobAuthDomain", "1", c, None) for c in CHAIN_IDS}


def recover_address(digest: bytes, signature: str) -> str | None:
    """The checksum address whose key made the 65-byte ``signature`` over ``digest``, or None."""
    try:
        raw = bytes.fromhex(signature[2:] if signature[:2] in ("0x", "0X") else signature)
    except (ValueError, TypeError):
        return None
    if len(raw) != 65:
        return None
    v = raw[64]
    if v >= 27:
        v -= 27
    if v not in (0, 1):
        return None
    try:
        pub = PublicKey.from_signature_and_message(raw[:64] + bytes([v]), digest, hasher=None)
    except Exception:  # coincurve raises plain Exception/ValueError for junk signatures
        return None
    return to_checksum_address(keccak(pub.format(compressed=False)[1:])[-20:])


def clob_auth_digest(address: str, timestamp: str, nonce: int, chain_id: int = CHAIN_ID) -> bytes:
    """EIP-712 digest of the L1 ``ClobAuth`` message."""
    struct = keccak(
        _CLOB_AUTH_TYPEHASH
        + _address_word(address)
        + keccak(text=timestamp)
        + _word(nonce)
        + keccak(text=CLOB_AUTH_MESSAGE)
    )
    return keccak(b"\x19\x01" + _AUTH_DOMAINS[chain_id] + struct)


@dataclass(frozen=True, slots=True)
class SignedOrder:
    """The signed part of a V2 order plus its (unsigned) expiration, parsed and range-checked."""

    salt: int
    maker: str
    signer: str
    token_id: int
    maker_amount: int
    taker_amount: int
    side: int  # 0 BUY, 1 SELL
    signature_type: int
    timestamp: int
    metadata: bytes
    builder: bytes
    expiration: int
    signature: str

    def struct_hash(self) -> bytes:
        return keccak(
            ORDER_TYPEHASH
            + _word(self.salt)
            + _address_word(self.maker)
            + _address_word(self.signer)
            + _word(self.token_id)
            + _word(self.maker_amount)
            + _word(self.taker_amount)
            + _word(self.side)
            + _word(self.signature_type)
            + _word(self.timestamp)
            + self.metadata
            + self.builder
        )

    def digest(self, neg_risk: bool, chain_id: int = CHAIN_ID) -> bytes:
        """The EIP-712 digest: Polymarket's order id (as ``0x`` + hex)."""
        return keccak(b"\x19\x01" + _ORDER_DOMAINS[(chain_id, neg_risk)] + self.struct_hash())

    def signer_of(self, neg_risk: bool) -> tuple[str, str | None]:
        """(order id on Polygon, recovered signer) — trying Amoy's domain when Polygon's fails."""
        struct = self.struct_hash()
        order_id = ""
        for chain in CHAIN_IDS:
            digest = keccak(b"\x19\x01" + _ORDER_DOMAINS[(chain, neg_risk)] + struct)
            if chain == CHAIN_ID:
                order_id = "0x" + digest.hex()
            found = recover_address(digest, self.signature)
            if found is not None and found.lower() == self.signer.lower():
                return ("0x" + digest.hex(), found)
        return order_id, None


class OrderFormatError(ValueError):
    """The ``order`` object of a POST /order body is malformed."""


def _uint(value: object, name: str, bits: int = 256) -> int:
    if isinstance(value, bool):
        raise OrderFormatError(f"invalid {name}")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        n = int(value)
    else:
        raise OrderFormatError(f"invalid {name}")
    if not 0 <= n < (1 << bits):
        raise OrderFormatError(f"invalid {name}")
    return n


def _bytes32(value: object, name: str) -> bytes:
    if value is None or value == "":
        return b"\x00" * 32
    if not isinstance(value, str) or value[:2] not in ("0x", "0X"):
        raise OrderFormatError(f"invalid {name}")
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError:
        raise OrderFormatError(f"invalid {name}") from None
    if len(raw) > 32:
        raise OrderFormatError(f"invalid {name}")
    return raw.rjust(32, b"\x00")


def _address(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise OrderFormatError(f"invalid {name}")
    try:
        address_bytes(value)
    except ValueError:
        raise OrderFormatError(f"invalid {name}") from None
    return str(to_checksum_address(value))


def parse_order(obj: object) -> SignedOrder:
    """Parse the wire ``order`` object (docs/protocol.md §5.3). Raises ``OrderFormatError``."""
    if not isinstance(obj, dict):
        raise OrderFormatError("invalid order")
    side = obj.get("side")
    if side in ("BUY", 0):
        side_n = 0
    elif side in ("SELL", 1):
        side_n = 1
    else:
        raise OrderFormatError("invalid side")
    signature = obj.get("signature")
    if not isinstance(signature, str):
        raise OrderFormatError("invalid signature")
    expiration = obj.get("expiration", "0")
    return SignedOrder(
        salt=_uint(obj.get("salt"), "salt"),
        maker=_address(obj.get("maker"), "maker"),
        signer=_address(obj.get("signer", obj.get("maker")), "signer"),
        token_id=_uint(obj.get("tokenId"), "tokenId"),
        maker_amount=_uint(obj.get("makerAmount"), "makerAmount"),
        taker_amount=_uint(obj.get("takerAmount"), "takerAmount"),
        side=side_n,
        signature_type=_uint(obj.get("signatureType", 0), "signatureType", 8),
        timestamp=_uint(obj.get("timestamp", 0), "timestamp"),
        metadata=_bytes32(obj.get("metadata"), "metadata"),
        builder=_bytes32(obj.get("builder"), "builder"),
        expiration=_uint(expiration if expiration is not None else 0, "expiration", 64),
        signature=signature,
    )


# --------------------------------------------------------------------------------------------- keys


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One API key: the credentials a client holds and the wallet address they belong to."""

    key: str
    secret: str
    passphrase: str
    address: str  # checksum
    nonce: int

    def creds(self) -> dict[str, str]:
        """The wire shape of ``/auth/api-key``: ``{"apiKey","secret","passphrase"}``."""
        return {"apiKey": self.key, "secret": self.secret, "passphrase": self.passphrase}


class KeyStore:
    """API keys by key id, deterministic per (seed, address, nonce)."""

    def __init__(self, seed: int | str = 0) -> None:
        self._seed = str(seed)
        self._keys: dict[str, ApiKey] = {}
        self._by_slot: dict[tuple[str, int], str] = {}

    def _make(self, address: str, nonce: int) -> ApiKey:
        base = f"polymm-apikey:{self._seed}:{address.lower()}:{nonce}"
        key = str(uuid.UUID(bytes=hashlib.sha256(f"{base}:key".encode()).digest()[:16], version=4))
        secret = base64.urlsafe_b64encode(hashlib.sha256(f"{base}:secret".encode()).digest()).decode()
        passphrase = hashlib.sha256(f"{base}:passphrase".encode()).hexdigest()
        return ApiKey(key, secret, passphrase, to_checksum_address(address), nonce)

    def create(self, address: str, nonce: int = 0) -> ApiKey:
        """Issue the key of (address, nonce); ``ApiError(400)`` if it already exists."""
        slot = (address.lower(), nonce)
        if slot in self._by_slot:
            raise http.ApiError(400, CANNOT_CREATE)
        api_key = self._make(address, nonce)
        self._keys[api_key.key] = api_key
        self._by_slot[slot] = api_key.key
        return api_key

    def derive(self, address: str, nonce: int = 0) -> ApiKey:
        """The existing key of (address, nonce); ``ApiError(400)`` if it was never created."""
        key = self._by_slot.get((address.lower(), nonce))
        if key is None:
            raise http.ApiError(400, CANNOT_DERIVE)
        return self._keys[key]

    def create_or_derive(self, address: str, nonce: int = 0) -> ApiKey:
        """Python-side convenience (no HTTP): the key of (address, nonce), created if needed."""
        key = self._by_slot.get((address.lower(), nonce))
        return self._keys[key] if key is not None else self.create(address, nonce)

    def get(self, key: str) -> ApiKey | None:
        return self._keys.get(key)

    def delete(self, key: str) -> bool:
        api_key = self._keys.pop(key, None)
        if api_key is None:
            return False
        self._by_slot.pop((api_key.address.lower(), api_key.nonce), None)
        return True

    def keys_of(self, address: str) -> list[ApiKey]:
        low = address.lower()
        return [k for k in self._keys.values() if k.address.lower() == low]

    def __iter__(self) -> Iterator[ApiKey]:
        return iter(list(self._keys.values()))

    def __len__(self) -> int:
        return len(self._keys)


# --------------------------------------------------------------------------------------------- headers


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # aiohttp's CIMultiDict is case-insensitive; some clients send POLY-ADDRESS with dashes.
    value = headers.get(name)
    if value is None:
        value = headers.get(name.replace("_", "-"))
    return value


def _fresh(ts_text: str | None, now_s: float, window_s: float) -> bool:
    if ts_text is None:
        return False
    try:
        ts = int(ts_text)
    except ValueError:
        return False
    return abs(now_s - ts) <= window_s


def verify_l1(
    headers: Mapping[str, str], now_s: float | None = None, window_s: float = AUTH_WINDOW_S
) -> tuple[str, int]:
    """Check L1 headers; returns (checksum address, nonce) or raises ``AuthError(INVALID_L1)``."""
    now_s = time.time() if now_s is None else now_s
    address = _header(headers, "POLY_ADDRESS")
    signature = _header(headers, "POLY_SIGNATURE")
    ts = _header(headers, "POLY_TIMESTAMP")
    nonce_text = _header(headers, "POLY_NONCE") or "0"
    if address is None or signature is None or ts is None or not _fresh(ts, now_s, window_s):
        raise AuthError(INVALID_L1)
    try:
        address_bytes(address)
        nonce = int(nonce_text)
    except ValueError:
        raise AuthError(INVALID_L1) from None
    if not 0 <= nonce <= _UINT256_MAX:
        raise AuthError(INVALID_L1)
    for chain in CHAIN_IDS:
        found = recover_address(clob_auth_digest(address, ts, nonce, chain), signature)
        if found is not None and found.lower() == address.lower():
            return found, nonce
    raise AuthError(INVALID_L1)


def hmac_signature(secret: str, message: bytes) -> str:
    """``urlsafe_b64(HMAC_SHA256(urlsafe_b64decode(secret), message))`` (the client's recipe)."""
    digest = hmac.new(base64.urlsafe_b64decode(secret), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()


def verify_l2(
    keys: KeyStore,
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
    now_s: float | None = None,
    window_s: float = AUTH_WINDOW_S,
) -> ApiKey:
    """Check L2 headers against the key store; returns the key or raises ``AuthError``."""
    now_s = time.time() if now_s is None else now_s
    key_id = _header(headers, "POLY_API_KEY")
    passphrase = _header(headers, "POLY_PASSPHRASE")
    signature = _header(headers, "POLY_SIGNATURE")
    address = _header(headers, "POLY_ADDRESS")
    ts = _header(headers, "POLY_TIMESTAMP")
    if not key_id or passphrase is None or signature is None or address is None or ts is None:
        raise AuthError()
    api_key = keys.get(key_id)
    if api_key is None or not hmac.compare_digest(passphrase.encode(), api_key.passphrase.encode()):
        raise AuthError()
    if address.lower() != api_key.address.lower() or not _fresh(ts, now_s, window_s):
        raise AuthError()
    prefix = (ts + method.upper() + path).encode()
    try:
        if hmac.compare_digest(signature.encode(), hmac_signature(api_key.secret, prefix + body).encode()):
            return api_key
        # The official client signs ``str(body).replace("'", '"')`` while sending the raw body.
        if b"'" in body:
            alt = prefix + body.replace(b"'", b'"')
            if hmac.compare_digest(signature.encode(), hmac_signature(api_key.secret, alt).encode()):
                return api_key
    except (binascii.Error, ValueError):
        pass
    raise AuthError()


def verify_ws_creds(keys: KeyStore, auth: object) -> ApiKey | None:
    """The key named by a user-channel ``auth`` object when its secret and passphrase match."""
    if not isinstance(auth, dict):
        return None
    key_id, secret, passphrase = auth.get("apiKey"), auth.get("secret"), auth.get("passphrase")
    if not (isinstance(key_id, str) and isinstance(secret, str) and isinstance(passphrase, str)):
        return None
    api_key = keys.get(key_id)
    if api_key is None:
        return None
    ok_secret = hmac.compare_digest(secret.encode(), api_key.secret.encode())
    ok_pass = hmac.compare_digest(passphrase.encode(), api_key.passphrase.encode())
    return api_key if ok_secret and ok_pass else None
