"""A minimal Ethereum JSON-RPC endpoint, ``POST /rpc``: enough of Polygon for ``web3`` (v7) to send an
EOA's signed split / merge / redeem and wait for its receipt (docs/protocol.md §15).

JSON-RPC 2.0, single requests and batch arrays. Methods:

* chain and fees: ``eth_chainId`` (137), ``net_version``, ``web3_clientVersion``, ``eth_syncing``,
  ``eth_blockNumber``, ``eth_getBlockByNumber`` / ``eth_getBlockByHash`` (with ``baseFeePerGas``, so
  web3's EIP-1559 defaults work), ``eth_gasPrice``, ``eth_maxPriorityFeePerGas``, ``eth_feeHistory``;
* accounts: ``eth_getTransactionCount`` (the next nonce: the chain mines at once, so ``pending`` =
  ``latest``), ``eth_getBalance`` (a fixed 100 POL), ``eth_getCode`` (code for the contracts the chain
  knows, ``0x`` otherwise);
* calls: ``eth_call`` — pUSD ``balanceOf`` / ``allowance``, CTF ``balanceOf`` / ``isApprovedForAll``
  read the accounts; a capital call is dry-run for ``from`` and a revert answers error 3 ``execution
  reverted: <reason>`` with ``Error(string)`` data (as a node does); anything else ``0x``.
  ``eth_estimateGas`` dry-runs the same way;
* transactions: ``eth_sendRawTransaction`` decodes a signed typed (EIP-2718) or legacy transaction,
  checks the chain id (137; unprotected legacy transactions are refused), the nonce (too low / too
  high: the stand-in keeps no queue), the gas (≥ 21,000) and fee cap (≥ the base fee), recovers the
  sender and runs the call for it: a revert (or gas under the estimate: out of gas) still mines, with
  receipt status ``0x0``;
  ``eth_getTransactionReceipt``, ``eth_getTransactionByHash`` (null while unknown).

An unknown method → error -32601 naming it; bad params → -32602 naming the parameter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
import rlp  # type: ignore[import-untyped]  # rlp ships no type information
from aiohttp import web
from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

from .chain import (
    BASE_FEE_WEI,
    BLOCK_GAS_LIMIT,
    CALL_GAS,
    INTRINSIC_GAS,
    KNOWN_CONTRACTS,
    POL_BALANCE_WEI,
    PRIORITY_FEE_WEI,
    Block,
    Call,
    Chain,
    Revert,
    revert_data,
)
from .http import json_response

log = logging.getLogger(__name__)

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = -32700, -32600, -32601, -32602, -32603
#: Geth's code for a refused transaction, and for a reverted call.
TX_REJECTED, EXECUTION_REVERTED = -32000, 3
MAX_BATCH = 100
_ZERO_ADDRESS = "0x" + "00" * 20
_ZERO_HASH = "0x" + "00" * 32
_EMPTY_UNCLES = "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
_STUB_CODE = "0x6080604052"  # any non-empty code: the contract exists


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


# ------------------------------------------------------------------------------------------ params


def _param(params: list[Any], index: int, name: str, default: Any = ...) -> Any:
    if index < len(params):
        return params[index]
    if default is ...:
        raise RpcError(INVALID_PARAMS, f"missing parameter {index + 1}: {name}")
    return default


def _quantity(value: object, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value[:2] in ("0x", "0X") and len(value) > 2:
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise RpcError(INVALID_PARAMS, f"{name} must be a 0x-prefixed hex quantity, got {value!r}")


def _address(value: object, name: str) -> str:
    if isinstance(value, str) and len(value) == 42 and value[:2] in ("0x", "0X"):
        try:
            return str(to_checksum_address(value))
        except ValueError:
            pass
    raise RpcError(INVALID_PARAMS, f"{name} must be a 0x-prefixed 20-byte address, got {value!r}")


def _data(value: object, name: str) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str) and value[:2] in ("0x", "0X"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    raise RpcError(INVALID_PARAMS, f"{name} must be 0x-prefixed hex data, got {str(value)[:80]!r}")


def _hash(value: object, name: str) -> str:
    raw = _data(value, name)
    if len(raw) != 32:
        raise RpcError(INVALID_PARAMS, f"{name} must be a 32-byte hash, got {value!r}")
    return "0x" + raw.hex()


# ------------------------------------------------------------------------------------------ the endpoint


class RpcApi:
    """``POST /rpc`` over a ``Chain``."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.methods: dict[str, Callable[[list[Any]], Any]] = {
            "eth_chainId": lambda p: hex(self.chain.chain_id),
            "net_version": lambda p: str(self.chain.chain_id),
            "web3_clientVersion": lambda p: "polymm-standin/1.0",
            "eth_syncing": lambda p: False,
            "eth_blockNumber": lambda p: hex(self.chain.block_number),
            "eth_getBlockByNumber": self.get_block_by_number,
            "eth_getBlockByHash": self.get_block_by_hash,
            "eth_gasPrice": lambda p: hex(BASE_FEE_WEI + PRIORITY_FEE_WEI),
            "eth_maxPriorityFeePerGas": lambda p: hex(PRIORITY_FEE_WEI),
            "eth_feeHistory": self.fee_history,
            "eth_getTransactionCount": self.get_transaction_count,
            "eth_getBalance": self.get_balance,
            "eth_getCode": self.get_code,
            "eth_call": self.call,
            "eth_estimateGas": self.estimate_gas,
            "eth_sendRawTransaction": self.send_raw_transaction,
            "eth_getTransactionReceipt": self.get_transaction_receipt,
            "eth_getTransactionByHash": self.get_transaction_by_hash,
        }

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/rpc", self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        try:
            payload = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return json_response(_error(None, RpcError(PARSE_ERROR, "parse error: the body is not JSON")))
        if isinstance(payload, list):
            if not payload or len(payload) > MAX_BATCH:
                err = RpcError(INVALID_REQUEST, f"invalid request: a batch holds 1 to {MAX_BATCH} requests")
                return json_response(_error(None, err))
            return json_response([self.answer(r) for r in payload])
        return json_response(self.answer(payload))

    def answer(self, req: object) -> dict[str, Any]:
        """The response to one JSON-RPC request object."""
        if not isinstance(req, dict):
            return _error(None, RpcError(INVALID_REQUEST, "invalid request: expected a JSON object"))
        rid = req.get("id")
        method, params = req.get("method"), req.get("params", [])
        if req.get("jsonrpc") != "2.0" or not isinstance(method, str):
            return _error(rid, RpcError(INVALID_REQUEST, 'invalid request: needs "jsonrpc": "2.0" and a method'))
        handler = self.methods.get(method)
        if handler is None:
            return _error(rid, RpcError(METHOD_NOT_FOUND, f"the method {method} does not exist/is not available"))
        if not isinstance(params, list):
            return _error(rid, RpcError(INVALID_PARAMS, f"params of {method} must be a list"))
        try:
            result = handler(params)
        except RpcError as exc:
            return _error(rid, exc)
        except Exception:
            log.exception("JSON-RPC %s failed", method)
            return _error(rid, RpcError(INTERNAL_ERROR, f"internal error in {method}"))
        return {"jsonrpc": "2.0", "id": rid, "result": result}

    # ---------------------------------------------------------------- blocks and fees

    def _block(self, tag: object) -> Block | None:
        if tag in ("latest", "pending", "safe", "finalized"):
            return self.chain.latest
        if tag == "earliest":
            return self.chain.block(0)
        return self.chain.block(_quantity(tag, "block"))

    def _block_json(self, block: Block | None, full: object) -> dict[str, Any] | None:
        if block is None:
            return None
        txs: list[Any] = list(block.transactions)
        if full is True:
            txs = [self.chain.transactions[h].transaction() for h in block.transactions]
        return {
            "number": hex(block.number),
            "hash": block.hash,
            "parentHash": block.parent_hash,
            "nonce": "0x0000000000000000",
            "sha3Uncles": _EMPTY_UNCLES,
            "logsBloom": "0x" + "00" * 256,
            "transactionsRoot": _ZERO_HASH,
            "stateRoot": _ZERO_HASH,
            "receiptsRoot": _ZERO_HASH,
            "mixHash": _ZERO_HASH,
            "miner": _ZERO_ADDRESS,
            "difficulty": "0x0",
            "totalDifficulty": "0x0",
            "extraData": "0x",
            "size": "0x220",
            "gasLimit": hex(BLOCK_GAS_LIMIT),
            "gasUsed": hex(block.gas_used),
            "timestamp": hex(block.timestamp),
            "baseFeePerGas": hex(BASE_FEE_WEI),
            "transactions": txs,
            "uncles": [],
        }

    def get_block_by_number(self, params: list[Any]) -> dict[str, Any] | None:
        return self._block_json(self._block(_param(params, 0, "block")), _param(params, 1, "full", False))

    def get_block_by_hash(self, params: list[Any]) -> dict[str, Any] | None:
        block = self.chain.block_by_hash(_hash(_param(params, 0, "block hash"), "block hash"))
        return self._block_json(block, _param(params, 1, "full", False))

    def fee_history(self, params: list[Any]) -> dict[str, Any]:
        count = min(_quantity(_param(params, 0, "blockCount"), "blockCount"), 1024)
        newest = self._block(_param(params, 1, "newestBlock"))
        percentiles = _param(params, 2, "rewardPercentiles", [])
        if not isinstance(percentiles, list):
            raise RpcError(INVALID_PARAMS, "rewardPercentiles must be a list of numbers")
        last = self.chain.block_number if newest is None else newest.number
        count = min(count, last + 1)
        return {
            "oldestBlock": hex(last - count + 1),
            "baseFeePerGas": [hex(BASE_FEE_WEI)] * (count + 1),
            "gasUsedRatio": [0.0] * count,
            "reward": [[hex(PRIORITY_FEE_WEI)] * len(percentiles) for _ in range(count)],
        }

    # ---------------------------------------------------------------- accounts

    def get_transaction_count(self, params: list[Any]) -> str:
        return hex(self.chain.nonce(_address(_param(params, 0, "address"), "address")))

    def get_balance(self, params: list[Any]) -> str:
        _address(_param(params, 0, "address"), "address")
        return hex(POL_BALANCE_WEI)

    def get_code(self, params: list[Any]) -> str:
        address = _address(_param(params, 0, "address"), "address")
        return _STUB_CODE if address.lower() in KNOWN_CONTRACTS else "0x"

    # ---------------------------------------------------------------- calls

    def _call_of(self, params: list[Any]) -> tuple[str, Call]:
        tx = _param(params, 0, "transaction")
        if not isinstance(tx, dict):
            raise RpcError(INVALID_PARAMS, "the transaction must be an object {from, to, data, value}")
        to = tx.get("to")
        if to is None:
            raise RpcError(INVALID_PARAMS, "contract creation is not supported: the transaction needs a to address")
        sender = _address(tx.get("from") or _ZERO_ADDRESS, "from")
        data = _data(tx.get("data", tx.get("input")), "data")
        value = _quantity(tx.get("value") or "0x0", "value")
        return sender, Call(_address(to, "to"), data, value)

    def _dry_run(self, sender: str, call: Call) -> bool:
        """True when the call ran (on a contract the chain knows); RpcError 3 when it reverts."""
        if not call.data or call.to.lower() not in KNOWN_CONTRACTS:
            return False
        try:
            self.chain.execute(sender, [call], dry_run=True)
        except Revert as exc:
            raise RpcError(EXECUTION_REVERTED, f"execution reverted: {exc.reason}", revert_data(exc.reason)) from None
        return True

    def call(self, params: list[Any]) -> str:
        sender, call = self._call_of(params)
        try:
            out = self.chain.read(call.to, call.data)
        except Revert as exc:
            raise RpcError(EXECUTION_REVERTED, f"execution reverted: {exc.reason}", revert_data(exc.reason)) from None
        if out is not None:
            return "0x" + out.hex()
        self._dry_run(sender, call)
        return "0x"

    def estimate_gas(self, params: list[Any]) -> str:
        sender, call = self._call_of(params)
        ran = self._dry_run(sender, call)
        return hex(INTRINSIC_GAS + (CALL_GAS if ran else 16 * len(call.data)))

    # ---------------------------------------------------------------- transactions

    def send_raw_transaction(self, params: list[Any]) -> str:
        raw = _data(_param(params, 0, "signed transaction"), "signed transaction")
        if not raw:
            raise RpcError(INVALID_PARAMS, "the signed transaction is empty")
        tx = _decode_signed(raw)
        tx_hash = "0x" + keccak(raw).hex()
        chain = self.chain
        if tx_hash in chain.transactions:
            raise RpcError(TX_REJECTED, "already known")
        if tx["chain_id"] is None:
            raise RpcError(TX_REJECTED, "only replay-protected (EIP-155) transactions are accepted: sign with a "
                                        f"chain id ({chain.chain_id})")
        if tx["chain_id"] != chain.chain_id:
            raise RpcError(TX_REJECTED, f"invalid chain id: the transaction is signed for chain {tx['chain_id']}, "
                                        f"this chain is {chain.chain_id}")
        sender = tx["sender"]
        expected = chain.nonce(sender)
        if tx["nonce"] < expected:
            raise RpcError(TX_REJECTED, f"nonce too low: next nonce {expected}, tx nonce {tx['nonce']}")
        if tx["nonce"] > expected:
            raise RpcError(TX_REJECTED, f"nonce too high: next nonce {expected}, tx nonce {tx['nonce']} (the stand-in "
                                        "mines at once and keeps no queue of future transactions)")
        if tx["gas"] < INTRINSIC_GAS:
            raise RpcError(TX_REJECTED, f"intrinsic gas too low: have {tx['gas']}, want {INTRINSIC_GAS}")
        if tx["max_fee"] < BASE_FEE_WEI:
            raise RpcError(TX_REJECTED, f"max fee per gas less than block base fee: address {sender}, "
                                        f"maxFeePerGas: {tx['max_fee']}, baseFee: {BASE_FEE_WEI}")
        if tx["gas"] * tx["max_fee"] + tx["value"] > POL_BALANCE_WEI:
            raise RpcError(TX_REJECTED, f"insufficient funds for gas * price + value: address {sender} has "
                                        f"{POL_BALANCE_WEI} wei")
        to = tx["to"]
        if to is None:
            raise RpcError(TX_REJECTED, "contract creation is not supported by the stand-in's chain")
        status, reason, effects = 1, "", []
        if tx["data"] or to.lower() in KNOWN_CONTRACTS:
            try:
                if tx["gas"] < INTRINSIC_GAS + CALL_GAS:
                    raise Revert(f"out of gas: the call needs {INTRINSIC_GAS + CALL_GAS}, the transaction gives "
                                 f"{tx['gas']}")
                effects = chain.execute(sender, [Call(to, tx["data"], tx["value"])])
            except Revert as exc:
                status, reason = 0, exc.reason
                log.info("transaction %s from %s reverted: %s", tx_hash, sender, reason)
        chain.use_nonce(sender)
        chain.mine(tx_hash, sender, to, tx["data"], tx["nonce"], status=status, revert_reason=reason, effects=effects,
                   gas=tx["gas"], value=tx["value"], tx_type=tx["type"], max_fee=tx["max_fee"],
                   max_priority_fee=tx["max_priority_fee"], chain_id=tx["chain_id"], vrs=tx["vrs"])
        return tx_hash

    def get_transaction_receipt(self, params: list[Any]) -> dict[str, Any] | None:
        tx = self.chain.transactions.get(_hash(_param(params, 0, "transaction hash"), "transaction hash"))
        return None if tx is None else tx.receipt()

    def get_transaction_by_hash(self, params: list[Any]) -> dict[str, Any] | None:
        tx = self.chain.transactions.get(_hash(_param(params, 0, "transaction hash"), "transaction hash"))
        return None if tx is None else tx.transaction()


def _error(rid: object, exc: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "error": exc.wire()}


def _decode_signed(raw: bytes) -> dict[str, Any]:
    """The fields of a signed transaction, typed (EIP-2718) or legacy, and its recovered sender."""
    out: dict[str, Any]
    try:
        if raw[0] <= 0x7F:
            typed = TypedTransaction.from_bytes(HexBytes(raw))
            d = typed.as_dict()
            max_fee = int(d.get("maxFeePerGas", d.get("gasPrice", 0)))
            out = {
                "type": int(raw[0]),
                "chain_id": int(d["chainId"]),
                "nonce": int(d["nonce"]),
                "gas": int(d["gas"]),
                "to": bytes(d["to"]) if d.get("to") else None,
                "value": int(d["value"]),
                "data": bytes(d["data"]),
                "max_fee": max_fee,
                "max_priority_fee": int(d.get("maxPriorityFeePerGas", max_fee)),
                "vrs": tuple(int(x) for x in typed.vrs()),
            }
        else:
            items = rlp.decode(raw)
            if not isinstance(items, list) or len(items) != 9:
                raise ValueError("a legacy transaction is an RLP list of 9 items")
            nonce, gas_price, gas, to, value, data, v, r, s = items
            v_n = int.from_bytes(v, "big")
            out = {
                "type": 0,
                "chain_id": None if v_n in (27, 28) else (v_n - 35) // 2,
                "nonce": int.from_bytes(nonce, "big"),
                "gas": int.from_bytes(gas, "big"),
                "to": bytes(to) or None,
                "value": int.from_bytes(value, "big"),
                "data": bytes(data),
                "max_fee": int.from_bytes(gas_price, "big"),
                "max_priority_fee": int.from_bytes(gas_price, "big"),
                "vrs": (v_n, int.from_bytes(r, "big"), int.from_bytes(s, "big")),
            }
        out["sender"] = str(Account.recover_transaction(raw))
    except Exception as exc:  # rlp / eth_account decoding errors of every kind
        raise RpcError(TX_REJECTED, f"invalid signed transaction: {exc}") from None
    if out["to"] is not None:
        if len(out["to"]) != 20:
            raise RpcError(TX_REJECTED, "invalid signed transaction: to must be 20 bytes")
        out["to"] = str(to_checksum_address(out["to"]))
    return out
