"""The on-chain side of capital operations: split, merge and redeem of a binary market's outcome tokens.

Polymarket's V2 routes pUSD-native CTF actions through two thin collateral adapters (one for
standard markets, one for neg-risk markets). Both keep the Conditional Tokens ABI for the three
calls, with pUSD as ``collateralToken``, a zero ``parentCollectionId`` and the binary partition
``[1, 2]`` (index set 1 = YES, 2 = NO). See docs/protocol.md §15.

This module is the one place that knows the contracts: their addresses, the functions' ABI and how a
call is encoded and decoded. polymm's EOA path (web3), its relayer path (py-builder-relayer-client)
and the stand-in's chain all use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address

POLYGON_CHAIN_ID = 137
AMOY_CHAIN_ID = 80002

#: Polymarket's contracts on Polygon (docs/protocol.md §1, §15).
PUSD = to_checksum_address("0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB")
CONDITIONAL_TOKENS = to_checksum_address("0x4D97DCd97eC945f40cF65F87097ACe5EA0476045")
CTF_COLLATERAL_ADAPTER = to_checksum_address("0xAdA100Db00Ca00073811820692005400218FcE1f")
NEG_RISK_COLLATERAL_ADAPTER = to_checksum_address("0xadA2005600Dec949baf300f4C6120000bDB6eAab")

ZERO_BYTES32 = b"\x00" * 32
#: Index sets of a binary condition: YES is outcome slot 0 (bit 1), NO slot 1 (bit 2).
BINARY_PARTITION = (1, 2)
#: pUSD and outcome shares both have 6 decimals.
UNIT = 10**6


class CapitalKind(StrEnum):
    """What a capital operation does."""

    MERGE = "merge"  # YES + NO pairs → pUSD
    SPLIT = "split"  # pUSD → YES + NO pairs
    REDEEM = "redeem"  # a resolved market's winning shares → pUSD


_SIGNATURES = {
    CapitalKind.SPLIT: "splitPosition(address,bytes32,bytes32,uint256[],uint256)",
    CapitalKind.MERGE: "mergePositions(address,bytes32,bytes32,uint256[],uint256)",
    CapitalKind.REDEEM: "redeemPositions(address,bytes32,bytes32,uint256[])",
}
_ARG_TYPES = {
    CapitalKind.SPLIT: ["address", "bytes32", "bytes32", "uint256[]", "uint256"],
    CapitalKind.MERGE: ["address", "bytes32", "bytes32", "uint256[]", "uint256"],
    CapitalKind.REDEEM: ["address", "bytes32", "bytes32", "uint256[]"],
}
#: The 4-byte selector of each function: keccak256 of its signature.
SELECTORS: dict[CapitalKind, bytes] = {k: keccak(text=s)[:4] for k, s in _SIGNATURES.items()}
_BY_SELECTOR = {v: k for k, v in SELECTORS.items()}


def _abi_function(kind: CapitalKind) -> dict[str, Any]:
    names = ["collateralToken", "parentCollectionId", "conditionId",
             "indexSets" if kind is CapitalKind.REDEEM else "partition", "amount"]
    types = _ARG_TYPES[kind]
    return {
        "type": "function",
        "name": _SIGNATURES[kind].split("(")[0],
        "stateMutability": "nonpayable",
        "inputs": [{"name": n, "type": t} for n, t in zip(names, types, strict=False)],
        "outputs": [],
    }


#: The JSON ABI of the three functions (the same on CTF and on both collateral adapters).
ADAPTER_ABI: list[dict[str, Any]] = [_abi_function(k) for k in CapitalKind]


def adapter_for(neg_risk: bool) -> str:
    """The contract a capital operation on this kind of market is sent to."""
    return NEG_RISK_COLLATERAL_ADAPTER if neg_risk else CTF_COLLATERAL_ADAPTER


def to_units(amount: Decimal) -> int:
    """Shares or pUSD as on-chain integer units (6 dp, rounded down: never more than held)."""
    return int((amount * UNIT).to_integral_value(rounding=ROUND_DOWN))


def from_units(units: int) -> Decimal:
    return Decimal(units) / UNIT


def _condition_bytes(condition_id: str) -> bytes:
    raw = bytes.fromhex(condition_id.removeprefix("0x"))
    if len(raw) != 32:
        raise ValueError(f"condition_id must be 0x + 64 hex digits, got {condition_id!r}")
    return raw


@dataclass(frozen=True, slots=True)
class CtfCall:
    """One decoded (or to-be-encoded) capital call: ``amount`` in units; redeem has none."""

    kind: CapitalKind
    condition_id: str
    amount: int = 0
    collateral: str = PUSD
    index_sets: tuple[int, ...] = BINARY_PARTITION

    def args(self) -> list[Any]:
        head: list[Any] = [self.collateral, ZERO_BYTES32, _condition_bytes(self.condition_id),
                           list(self.index_sets)]
        return head if self.kind is CapitalKind.REDEEM else [*head, self.amount]

    def calldata(self) -> str:
        """The transaction's ``data``: selector + ABI-encoded arguments, as 0x-hex."""
        if self.kind is not CapitalKind.REDEEM and self.amount <= 0:
            raise ValueError(f"{self.kind} amount must be greater than 0 units, got {self.amount}")
        body = encode(_ARG_TYPES[self.kind], self.args())
        return "0x" + (SELECTORS[self.kind] + body).hex()


def decode_call(data: str | bytes) -> CtfCall:
    """The capital call in a transaction's ``data``; raises ValueError naming what is wrong."""
    raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else bytes(data)
    kind = _BY_SELECTOR.get(raw[:4])
    if kind is None:
        raise ValueError(f"unknown function selector 0x{raw[:4].hex()}; expected one of "
                         + ", ".join(f"0x{s.hex()} ({k})" for k, s in SELECTORS.items()))
    values = decode(_ARG_TYPES[kind], raw[4:])
    collateral, parent, cond, sets = values[0], values[1], values[2], values[3]
    if parent != ZERO_BYTES32:
        raise ValueError("parentCollectionId must be zero for Polymarket markets")
    amount = int(values[4]) if kind is not CapitalKind.REDEEM else 0
    return CtfCall(kind, "0x" + bytes(cond).hex(), amount, to_checksum_address(collateral),
                   tuple(int(s) for s in sets))
