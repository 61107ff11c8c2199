"""The stand-in's chain: what split, merge and redeem do on Polygon, without HTTP (docs/protocol.md §15).

``Chain`` holds the on-chain side of capital operations, for the two ways they reach it: a relayed
transaction (``relayer``: a Safe, proxy or deposit wallet acts) and an EOA's own signed transaction
(``rpc``). It keeps

* per-address nonces, in separate spaces: ``"account"`` (an EOA's transaction nonce), ``"safe"`` (a
  Safe's own nonce), ``"relay-hub"`` (the proxy-wallet relay hub's nonce of a signer) and
  ``"wallet"`` (a deposit wallet's batch nonce);
* a block counter (one block per transaction, mined at once) and every transaction it mined, by hash,
  with its receipt (status 1, or 0 for a revert, with the revert reason);
* the effects of the calls on the accounts' balances (``accounts.Accounts``, micro-units = on-chain
  units, 6 dp).

A call is one of the three Conditional Tokens functions Polymarket V2 sends to its collateral
adapters (``polymm.domain.ctf``): the adapter must be the one of the condition's market kind
(``adapter_for(neg_risk)``), the collateral pUSD, the partition / index sets ``[1, 2]``.

* merge(amount): the wallet must be able to spend ``amount`` of BOTH tokens → both burnt, ``amount``
  pUSD credited;
* split(amount): the market must not be resolved and the wallet must be able to spend ``amount``
  pUSD → debited, ``amount`` of YES and of NO minted;
* redeem: the market must be resolved → 1 pUSD per winning share, both tokens burnt (losers pay 0).

What a wallet "can spend": its balance less what trades that are going to fail brought it
(``Trading.failing_in``, the trading core's rule, docs/protocol.md §10.5) — those shares and that
pUSD are not on chain yet. Amounts that live orders reserve are NOT deducted: the chain knows nothing
of the CLOB, as on Polygon (a bot should cancel the orders a merge takes the shares of).

A batch (a Safe multisend, a proxy-wallet array, a deposit-wallet batch) runs all-or-nothing: the
calls are planned against the balances as the earlier calls leave them, and committed only when all
pass; a revert names the call and changes nothing. ERC-20 ``approve`` on pUSD and ERC-1155
``setApprovalForAll`` on the Conditional Tokens succeed without effect (the stand-in's allowances
are always unlimited).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address

from polymm.domain.ctf import (
    BINARY_PARTITION,
    CONDITIONAL_TOKENS,
    NEG_RISK_COLLATERAL_ADAPTER,
    POLYGON_CHAIN_ID,
    PUSD,
    CapitalKind,
    CtfCall,
    adapter_for,
    decode_call,
)
from polymm.domain.market import Market, Outcome

from ..sim import units
from ..sim.catalog import Catalog
from .accounts import Accounts

#: Gas the stand-in's chain charges: a constant base fee and tip (wei), an estimate for a capital
#: call, the intrinsic cost of any transaction, and the POL every address holds (never spent).
BASE_FEE_WEI = 30 * 10**9
PRIORITY_FEE_WEI = 30 * 10**9
BLOCK_GAS_LIMIT = 30_000_000
INTRINSIC_GAS = 21_000
CALL_GAS = 150_000
POL_BALANCE_WEI = 100 * 10**18

#: Nonce spaces (see the module docstring).
ACCOUNT, SAFE, RELAY_HUB, WALLET = "account", "safe", "relay-hub", "wallet"
NONCE_SPACES = (ACCOUNT, SAFE, RELAY_HUB, WALLET)

_APPROVE = keccak(text="approve(address,uint256)")[:4]
_SET_APPROVAL_FOR_ALL = keccak(text="setApprovalForAll(address,bool)")[:4]
_BALANCE_OF = keccak(text="balanceOf(address)")[:4]
_BALANCE_OF_1155 = keccak(text="balanceOf(address,uint256)")[:4]
_ALLOWANCE = keccak(text="allowance(address,address)")[:4]
_IS_APPROVED_FOR_ALL = keccak(text="isApprovedForAll(address,address)")[:4]
_MAX_UINT = (1 << 256) - 1
#: Approvals the chain accepts without effect: pUSD ``approve``, the CTF's ``setApprovalForAll``.
_APPROVALS = frozenset({(_APPROVE, PUSD.lower()), (_SET_APPROVAL_FOR_ALL, CONDITIONAL_TOKENS.lower())})
_ZERO_HASH = "0x" + "00" * 32
#: Contracts the chain knows (``eth_getCode`` answers code for them).
KNOWN_CONTRACTS = frozenset(a.lower() for a in (PUSD, CONDITIONAL_TOKENS, adapter_for(False), adapter_for(True)))


class Revert(Exception):
    """A call that reverts: ``reason`` says why (kept in the transaction's record and receipt)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Call:
    """One call a transaction makes: target contract, calldata, native value (wei)."""

    to: str
    data: bytes
    value: int = 0


@dataclass(frozen=True, slots=True)
class Effect:
    """What one successful call did to a wallet (amounts in micro-units)."""

    kind: str  # "split", "merge", "redeem" or "approve"
    wallet: str
    condition_id: str = ""
    amount: int = 0  # split/merge: pairs; redeem: winning shares paid
    cash: int = 0  # pUSD credited (negative: debited)


@dataclass(slots=True)
class Block:
    number: int
    hash: str
    parent_hash: str
    timestamp: int  # seconds
    transactions: list[str] = field(default_factory=list)
    gas_used: int = 0


@dataclass(slots=True)
class ChainTx:
    """A mined transaction and its receipt."""

    hash: str
    sender: str  # checksum
    to: str | None
    data: bytes
    nonce: int
    value: int
    gas: int
    gas_used: int
    block: Block
    status: int  # 1 success, 0 reverted
    tx_type: int = 2
    max_fee: int = BASE_FEE_WEI + PRIORITY_FEE_WEI
    max_priority_fee: int = PRIORITY_FEE_WEI
    chain_id: int = POLYGON_CHAIN_ID
    vrs: tuple[int, int, int] = (0, 0, 0)
    revert_reason: str = ""
    effects: tuple[Effect, ...] = ()

    @property
    def effective_gas_price(self) -> int:
        if self.tx_type == 2:
            return min(self.max_fee, BASE_FEE_WEI + self.max_priority_fee)
        return self.max_fee

    def receipt(self) -> dict[str, Any]:
        """The JSON-RPC receipt (``eth_getTransactionReceipt``)."""
        return {
            "transactionHash": self.hash,
            "transactionIndex": "0x0",
            "blockHash": self.block.hash,
            "blockNumber": hex(self.block.number),
            "from": self.sender.lower(),
            "to": None if self.to is None else self.to.lower(),
            "cumulativeGasUsed": hex(self.gas_used),
            "gasUsed": hex(self.gas_used),
            "effectiveGasPrice": hex(self.effective_gas_price),
            "contractAddress": None,
            "logs": [],
            "logsBloom": "0x" + "00" * 256,
            "status": hex(self.status),
            "type": hex(self.tx_type),
        }

    def transaction(self) -> dict[str, Any]:
        """The JSON-RPC transaction (``eth_getTransactionByHash``)."""
        v, r, s = self.vrs
        out: dict[str, Any] = {
            "hash": self.hash,
            "nonce": hex(self.nonce),
            "blockHash": self.block.hash,
            "blockNumber": hex(self.block.number),
            "transactionIndex": "0x0",
            "from": self.sender.lower(),
            "to": None if self.to is None else self.to.lower(),
            "value": hex(self.value),
            "gas": hex(self.gas),
            "gasPrice": hex(self.effective_gas_price),
            "input": "0x" + self.data.hex(),
            "type": hex(self.tx_type),
            "chainId": hex(self.chain_id),
            "v": hex(v),
            "r": hex(r),
            "s": hex(s),
        }
        if self.tx_type == 2:
            out["maxFeePerGas"] = hex(self.max_fee)
            out["maxPriorityFeePerGas"] = hex(self.max_priority_fee)
            out["accessList"] = []
        return out


Locked = Callable[[str, str | None], int]


class _Plan:
    """Balance changes of a batch, checked call by call, committed only when every call passed."""

    def __init__(self, accounts: Accounts, locked: Locked) -> None:
        self.accounts = accounts
        self.locked = locked
        self.cash: dict[str, int] = {}
        self.shares: dict[tuple[str, str], int] = {}

    def spendable_cash(self, wallet: str) -> int:
        low = wallet.lower()
        held = self.accounts.cash_micro(wallet) - self.locked(wallet, None)
        return max(held, 0) + self.cash.get(low, 0)

    def spendable_shares(self, wallet: str, token: str) -> int:
        held = self.accounts.shares_micro(wallet, token) - self.locked(wallet, token)
        return max(held, 0) + self.shares.get((wallet.lower(), token), 0)

    def move_cash(self, wallet: str, delta: int) -> None:
        low = wallet.lower()
        self.cash[low] = self.cash.get(low, 0) + delta

    def move_shares(self, wallet: str, token: str, delta: int) -> None:
        key = (wallet.lower(), token)
        self.shares[key] = self.shares.get(key, 0) + delta

    def commit(self) -> None:
        for low, delta in self.cash.items():
            self.accounts.account(low).cash += delta
        for (low, token), delta in self.shares.items():
            self.accounts.account(low).add_shares(token, delta)


def revert_data(reason: str) -> str:
    """ABI-encoded ``Error(string)``: what a node returns as the revert data of a ``require``."""
    return "0x" + (keccak(text="Error(string)")[:4] + encode(["string"], [reason])).hex()


class Chain:
    """Nonces, blocks, mined transactions and the effects of capital calls (see the module doc)."""

    def __init__(
        self,
        catalog: Catalog,
        accounts: Accounts,
        *,
        locked: Locked | None = None,
        clock: Callable[[], int] = units.now_ms,
        seed: int = 0,
        chain_id: int = POLYGON_CHAIN_ID,
    ) -> None:
        self.catalog = catalog
        self.accounts = accounts
        #: What a wallet holds but cannot spend yet (micro): shares of a token, or pUSD for None.
        self.locked: Locked = locked if locked is not None else (lambda _address, _token: 0)
        self.clock = clock
        self.seed = seed
        self.chain_id = chain_id
        self._nonces: dict[tuple[str, str], int] = {}
        genesis = Block(0, self._block_hash(0), _ZERO_HASH, clock() // 1000)
        self.blocks: list[Block] = [genesis]
        self._blocks_by_hash: dict[str, Block] = {genesis.hash: genesis}
        self.transactions: dict[str, ChainTx] = {}

    # ---------------------------------------------------------------- nonces and blocks

    def nonce(self, address: str, space: str = ACCOUNT) -> int:
        """The next nonce of ``address`` in ``space`` (``NONCE_SPACES``)."""
        if space not in NONCE_SPACES:
            raise ValueError(f"unknown nonce space {space!r}; expected one of {', '.join(NONCE_SPACES)}")
        return self._nonces.get((space, address.lower()), 0)

    def use_nonce(self, address: str, space: str = ACCOUNT) -> int:
        """Consume the next nonce of ``address`` in ``space``; returns the one used."""
        n = self.nonce(address, space)
        self._nonces[(space, address.lower())] = n + 1
        return n

    @property
    def block_number(self) -> int:
        return self.blocks[-1].number

    @property
    def latest(self) -> Block:
        return self.blocks[-1]

    def block(self, number: int) -> Block | None:
        return self.blocks[number] if 0 <= number < len(self.blocks) else None

    def block_by_hash(self, block_hash: str) -> Block | None:
        return self._blocks_by_hash.get(block_hash.lower())

    def _block_hash(self, number: int) -> str:
        return "0x" + keccak(text=f"polymm-standin-block:{self.seed}:{number}").hex()

    def mine(
        self,
        tx_hash: str,
        sender: str,
        to: str | None,
        data: bytes,
        nonce: int,
        *,
        status: int,
        revert_reason: str = "",
        effects: Sequence[Effect] = (),
        **fields: Any,
    ) -> ChainTx:
        """Put one transaction in a new block and keep its receipt."""
        parent = self.latest
        number = parent.number + 1
        block = Block(number, self._block_hash(number), parent.hash, max(parent.timestamp, self.clock() // 1000))
        gas_used = INTRINSIC_GAS + (CALL_GAS if data and status else len(data) * 16)
        gas = int(fields.pop("gas", gas_used))
        tx = ChainTx(
            hash=tx_hash.lower(),
            sender=to_checksum_address(sender),
            to=None if to is None else to_checksum_address(to),
            data=data,
            nonce=nonce,
            value=int(fields.pop("value", 0)),
            gas=max(gas, gas_used),
            gas_used=min(gas_used, max(gas, INTRINSIC_GAS)),
            block=block,
            status=status,
            revert_reason=revert_reason,
            effects=tuple(effects),
            **fields,
        )
        block.transactions.append(tx.hash)
        block.gas_used = tx.gas_used
        self.blocks.append(block)
        self._blocks_by_hash[block.hash] = block
        self.transactions[tx.hash] = tx
        return tx

    # ---------------------------------------------------------------- calls

    def market(self, condition_id: str) -> Market:
        profile = self.catalog.profile(condition_id.lower())
        if profile is None:
            raise Revert(f"unknown condition {condition_id}: no market of the stand-in has it")
        return profile.market

    def apply(self, wallet: str, to: str, data: str | bytes) -> list[Effect]:
        """Run one call for ``wallet`` (atomically); raises ``Revert`` and changes nothing on failure."""
        raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else bytes(data)
        return self.execute(wallet, [Call(to, raw)])

    def execute(self, wallet: str, calls: Sequence[Call], *, dry_run: bool = False) -> list[Effect]:
        """Run ``calls`` for ``wallet``, all or nothing; raises ``Revert`` naming the failing call."""
        plan = _Plan(self.accounts, self.locked)
        effects: list[Effect] = []
        for i, call in enumerate(calls):
            try:
                effects.append(self._plan_call(plan, wallet, call))
            except Revert as exc:
                if len(calls) > 1:
                    raise Revert(f"call {i + 1} of {len(calls)} reverted: {exc.reason}") from None
                raise
        if not dry_run:
            plan.commit()
        return effects

    def _plan_call(self, plan: _Plan, wallet: str, call: Call) -> Effect:
        to = call.to.lower()
        selector = call.data[:4]
        if (selector, to) in _APPROVALS:
            return Effect("approve", wallet)
        try:
            ctf = decode_call(call.data)
        except Exception as exc:  # ValueError from decode_call, eth_abi's DecodingError for short data
            raise Revert(f"not a split, merge or redeem call to a collateral adapter: {exc}") from None
        market = self.market(ctf.condition_id)
        expected = adapter_for(market.neg_risk)
        if to != expected.lower():
            name = "NegRiskCollateralAdapter" if expected == NEG_RISK_COLLATERAL_ADAPTER else "CtfCollateralAdapter"
            kind = "neg-risk" if market.neg_risk else "standard"
            raise Revert(f"{ctf.kind} on condition {ctf.condition_id} ({kind} market) must be sent to the "
                         f"{name} {expected}, not to {to_checksum_address(call.to)}")
        if ctf.collateral.lower() != PUSD.lower():
            raise Revert(f"collateralToken must be pUSD {PUSD}, got {ctf.collateral}")
        if ctf.index_sets != BINARY_PARTITION:
            name = "indexSets" if ctf.kind is CapitalKind.REDEEM else "partition"
            raise Revert(f"{name} must be [1, 2] (YES, NO) for a binary market, got {list(ctf.index_sets)}")
        if call.value:
            raise Revert("the collateral adapters are not payable: value must be 0")
        if ctf.kind is CapitalKind.MERGE:
            return self._merge(plan, wallet, market, ctf)
        if ctf.kind is CapitalKind.SPLIT:
            return self._split(plan, wallet, market, ctf)
        return self._redeem(plan, wallet, market)

    def _merge(self, plan: _Plan, wallet: str, market: Market, ctf: CtfCall) -> Effect:
        amount = ctf.amount
        if amount <= 0:
            raise Revert("merge amount must be greater than 0 units")
        yes = plan.spendable_shares(wallet, market.yes_token)
        no = plan.spendable_shares(wallet, market.no_token)
        if yes < amount or no < amount:
            raise Revert(f"merge of {amount} units needs {amount} of both tokens; {to_checksum_address(wallet)} "
                         f"can spend YES {yes}, NO {no} (shares of trades not yet settled do not count)")
        plan.move_shares(wallet, market.yes_token, -amount)
        plan.move_shares(wallet, market.no_token, -amount)
        plan.move_cash(wallet, amount)
        return Effect("merge", wallet, market.condition_id, amount, amount)

    def _split(self, plan: _Plan, wallet: str, market: Market, ctf: CtfCall) -> Effect:
        amount = ctf.amount
        if amount <= 0:
            raise Revert("split amount must be greater than 0 units")
        if self.catalog.status[market.condition_id].closed:
            raise Revert(f"market {market.condition_id} is resolved: split is refused")
        cash = plan.spendable_cash(wallet)
        if cash < amount:
            raise Revert(f"split of {amount} units needs {amount} pUSD units; {to_checksum_address(wallet)} "
                         f"can spend {cash}")
        plan.move_cash(wallet, -amount)
        plan.move_shares(wallet, market.yes_token, amount)
        plan.move_shares(wallet, market.no_token, amount)
        return Effect("split", wallet, market.condition_id, amount, -amount)

    def _redeem(self, plan: _Plan, wallet: str, market: Market) -> Effect:
        status = self.catalog.status[market.condition_id]
        if not status.closed or status.winner is None:
            raise Revert(f"condition {market.condition_id} is not resolved yet: redeemPositions needs its payout")
        winning = market.token(status.winner)
        paid = 0
        for outcome in (Outcome.YES, Outcome.NO):
            token = market.token(outcome)
            held = plan.spendable_shares(wallet, token)
            if held > 0:
                plan.move_shares(wallet, token, -held)
                if token == winning:
                    paid = held
        plan.move_cash(wallet, paid)
        return Effect("redeem", wallet, market.condition_id, paid, paid)

    # ---------------------------------------------------------------- reads (eth_call)

    def read(self, to: str, data: bytes) -> bytes | None:
        """The return data of a view call the chain answers (balances, allowances), else None."""
        selector, args, low = data[:4], data[4:], to.lower()
        try:
            if selector == _BALANCE_OF and low == PUSD.lower():
                (owner,) = decode(["address"], args)
                return encode(["uint256"], [max(self.accounts.cash_micro(owner), 0)])
            if selector == _BALANCE_OF_1155 and low == CONDITIONAL_TOKENS.lower():
                owner, token = decode(["address", "uint256"], args)
                return encode(["uint256"], [max(self.accounts.shares_micro(owner, str(token)), 0)])
            if selector == _ALLOWANCE and low == PUSD.lower():
                return encode(["uint256"], [_MAX_UINT])
            if selector == _IS_APPROVED_FOR_ALL and low == CONDITIONAL_TOKENS.lower():
                return encode(["bool"], [True])
        except Exception as exc:  # eth_abi's DecodingError: short or malformed arguments
            raise Revert(f"malformed arguments for 0x{selector.hex()}: {exc}") from None
        return None
