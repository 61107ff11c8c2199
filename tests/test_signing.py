"""The fast order signer must produce exactly what py-clob-client-v2 produces."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from hypothesis import given, settings
from hypothesis import strategies as st
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.config import get_contract_config
from py_clob_client_v2.order_utils import ExchangeOrderBuilderV2
from py_clob_client_v2.order_utils.model.order_data_v2 import OrderV2

from polymm.venue.signing import OrderSigner

KEY = "0x" + "11" * 32
TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
CFG = get_contract_config(137)
EXCHANGES = {False: CFG.exchange_v2, True: CFG.neg_risk_exchange_v2}


@pytest.fixture(scope="module")
def signer() -> OrderSigner:
    return OrderSigner(ClobClient("http://127.0.0.1:9", chain_id=137, key=KEY), 137, EXCHANGES)


def _sdk(signed, neg_risk: bool) -> tuple[str, str, dict]:
    ref = ExchangeOrderBuilderV2(EXCHANGES[neg_risk], 137, ClobClient("http://127.0.0.1:9", 137, key=KEY).signer)
    unsigned = OrderV2(**{k: v for k, v in dataclasses.asdict(signed).items() if k != "signature"})
    typed = ref.build_order_typed_data(unsigned)
    return ref.build_order_signature(typed), ref.build_order_hash(typed), typed


def test_protocol_example_amounts_and_sdk_identical_signature(signer: OrderSigner) -> None:
    signed, oid = signer.sign(TOKEN, "BUY", Decimal("0.43"), Decimal("17.37"), "0.01", False)
    assert (signed.makerAmount, signed.takerAmount) == ("7469100", "17370000")  # docs/protocol.md §5.2 example
    sig, digest, typed = _sdk(signed, False)
    assert signed.signature == sig and oid == digest
    # and the signature recovers to the key's address, as the venue checks
    recovered = Account.recover_message(encode_typed_data(full_message=typed), signature=sig)
    assert recovered == Account.from_key(KEY).address
    # every field of the order goes to the post as built, the unsigned GTD expiration too
    gtd, gtd_id = signer.sign(TOKEN, "BUY", Decimal("0.43"), Decimal("17.37"), "0.01", False, expiration=1_900_000_000)
    assert gtd.expiration == "1900000000" and gtd_id == _sdk(gtd, False)[1]
    assert {f.name for f in dataclasses.fields(gtd)} == {f.name for f in dataclasses.fields(OrderV2)} | {"signature"}
    assert all(getattr(gtd, f.name) not in (None, "") for f in dataclasses.fields(gtd))


@settings(max_examples=60, deadline=None)
@given(
    tick=st.sampled_from(["0.1", "0.01", "0.005", "0.0025", "0.001", "0.0001"]),
    k=st.integers(min_value=1, max_value=9),
    size=st.integers(min_value=500, max_value=10_000_00).map(lambda c: Decimal(c) / 100),
    side=st.sampled_from(["BUY", "SELL"]),
    neg_risk=st.booleans(),
)
def test_any_order_signs_identically_to_the_sdk(signer, tick, k, size, side, neg_risk) -> None:
    price = Decimal(tick) * k
    signed, oid = signer.sign(TOKEN, side, price, size, tick, neg_risk)
    sig, digest, _ = _sdk(signed, neg_risk)
    assert signed.signature == sig
    assert oid == digest


def test_the_signer_never_shows_its_key(signer: OrderSigner) -> None:
    assert "11111111" not in repr(signer)
