"""Fast signing of CTF Exchange V2 orders: one keccak digest and one coincurve signature.

Why not the SDK's signing path: py-clob-client-v2 builds a generic EIP-712 document and runs it
through eth-account's typed-data encoder (pure Python) — twice per order if you also want the order
id. The V2 ``Order`` struct has only static fields (uint256, address, uint8, bytes32), so its
EIP-712 hash is ``keccak(0x1901 ‖ domainSeparator ‖ keccak(typeHash ‖ 11 × 32-byte words))``, with
the domain separator fixed per exchange contract. The digest *is* the order id. We keep the SDK for
everything else — amounts and rounding (``OrderBuilder.get_order_amounts``), salt and field layout
(``ExchangeOrderBuilderV2.build_order``), the ``SignedOrderV2`` value it posts — and a test checks
that signatures and ids are byte-identical to the SDK's for the same order.

Deterministic ECDSA (RFC 6979) with low-s, as eth-keys does; ``v`` is 27/28.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import coincurve
from eth_hash.auto import keccak

ORDER_TYPE = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,uint256 takerAmount,"
    "uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)"
)
DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
ORDER_TYPE_HASH = keccak(ORDER_TYPE.encode())
DOMAIN_TYPE_HASH = keccak(DOMAIN_TYPE.encode())
DOMAIN_NAME = "Polymarket CTF Exchange"


def _word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def _address(a: str) -> bytes:
    return b"\x00" * 12 + bytes.fromhex(a[2:] if a.startswith("0x") else a)


def _bytes32(h: str | bytes) -> bytes:
    if isinstance(h, bytes):
        return h.rjust(32, b"\x00")
    return bytes.fromhex(h.removeprefix("0x").zfill(64))


def domain_separator(chain_id: int, contract: str, version: str = "2") -> bytes:
    return keccak(
        DOMAIN_TYPE_HASH + keccak(DOMAIN_NAME.encode()) + keccak(version.encode()) + _word(chain_id)
        + _address(contract)
    )


def order_digest(order: Any, domain: bytes) -> bytes:
    """EIP-712 digest of a V2 order (``OrderV2``-like: the SDK's field names)."""
    struct = keccak(
        ORDER_TYPE_HASH + _word(int(order.salt)) + _address(order.maker) + _address(order.signer)
        + _word(int(order.tokenId)) + _word(int(order.makerAmount)) + _word(int(order.takerAmount))
        + _word(int(order.side)) + _word(int(order.signatureType)) + _word(int(order.timestamp))
        + _bytes32(order.metadata) + _bytes32(order.builder)
    )
    return keccak(b"\x19\x01" + domain + struct)


class OrderSigner:
    """Signs V2 orders for one EOA key (signature types 0–2). Holds the key; never shows it."""

    def __init__(self, client: Any, chain_id: int, exchanges: dict[bool, str]) -> None:
        from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG
        from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2
        from py_clob_client_v2.order_utils.model.order_data_v2 import OrderV2

        self._client = client
        self._rounding = ROUNDING_CONFIG
        self._key = coincurve.PrivateKey(bytes.fromhex(client.signer.private_key.removeprefix("0x")))
        self._domains = {nr: domain_separator(chain_id, addr) for nr, addr in exchanges.items()}
        self._builders = {nr: ExchangeOrderBuilderV2(addr, chain_id, client.signer) for nr, addr in exchanges.items()}
        self._fields = tuple(f.name for f in dataclasses.fields(OrderV2))  # what ``build_order`` makes

    def __repr__(self) -> str:
        return "OrderSigner(<key hidden>)"

    def sign(
        self, token_id: str, side: str, price: Decimal, size: Decimal, tick: str, neg_risk: bool,
        expiration: int = 0,
    ) -> tuple[Any, str]:
        """(SignedOrderV2 ready to post, order id) for a limit order: GTC, or GTD until ``expiration``
        (epoch seconds; V2 does not sign it, so the order id is the same either way)."""
        from py_clob_client_v2.constants import BYTES32_ZERO
        from py_clob_client_v2.order_utils.model.order_data_v2 import OrderDataV2, SignedOrderV2

        b = self._client.builder
        venue_side, maker_amount, taker_amount = b.get_order_amounts(side, float(size), float(price),
                                                                     self._rounding[tick])
        data = OrderDataV2(
            maker=b.funder, tokenId=token_id, makerAmount=str(maker_amount), takerAmount=str(taker_amount),
            side=venue_side, signer=b._v2_order_signer(), signatureType=b.signature_type, timestamp="",
            metadata=BYTES32_ZERO, builder=BYTES32_ZERO, expiration=str(expiration),
        )
        order = self._builders[neg_risk].build_order(data)
        digest = order_digest(order, self._domains[neg_risk])
        sig = self._key.sign_recoverable(digest, hasher=None)  # r ‖ s ‖ recovery id
        signature = "0x" + (sig[:64] + bytes([sig[64] + 27])).hex()
        # the order's fields as they are (strings and enums): ``dataclasses.asdict`` deep-copies each one,
        # a third of a signature's time
        fields = {name: getattr(order, name) for name in self._fields}
        return SignedOrderV2(**fields, signature=signature), "0x" + digest.hex()
