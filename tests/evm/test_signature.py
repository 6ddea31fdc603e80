"""Signature assembly: DER -> low-s (r, s), recovery id against the wallet key, checked raw tx.

A locally known key stands in for the engine here (unit level only); the two-party engine is
exercised by the property test and the end-to-end tests.
"""

from __future__ import annotations

import pytest
from coincurve import PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from eth_account import Account

from mpcwallet.errors import BadInput, ProtocolViolation
from mpcwallet.evm.signature import HALF_N, SECP256K1_N, assemble, raw_sender
from mpcwallet.evm.txjson import parse_tx, signing_digest

KEY = PrivateKey(bytes.fromhex("07" * 32))
ADDRESS = Account.from_key(KEY.secret).address
TX_1559 = {
    "chainId": 11155111,
    "nonce": 3,
    "to": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "value": 12345,
    "gas": 21000,
    "maxFeePerGas": 3 * 10**9,
    "maxPriorityFeePerGas": 10**9,
}
TX_LEGACY = {**{k: v for k, v in TX_1559.items() if "Fee" not in k}, "gasPrice": 10**9}


@pytest.mark.parametrize("obj", [TX_1559, TX_LEGACY], ids=["eip1559", "legacy"])
def test_assemble_matches_eth_account(obj: dict[str, object]) -> None:
    tx = parse_tx(obj)
    der = KEY.sign(signing_digest(tx), hasher=None)
    signed = assemble(tx, der, KEY.public_key.format())
    ref = Account.from_key(KEY.secret).sign_transaction(tx.to_json())
    assert signed.raw == bytes(ref.raw_transaction)
    assert signed.sender == ADDRESS == Account.recover_transaction(signed.raw)
    assert (signed.r, signed.s, signed.v) == (ref.r, ref.s, ref.v)
    assert signed.tx_hash == bytes(ref.hash)
    assert signed.s <= HALF_N
    if tx.type == 0:
        assert signed.v in (2 * 11155111 + 35, 2 * 11155111 + 36)
    else:
        assert signed.v == signed.y_parity


def test_high_s_is_normalised() -> None:
    tx = parse_tx(TX_1559)
    r, s = decode_dss_signature(KEY.sign(signing_digest(tx), hasher=None))
    high = encode_dss_signature(r, SECP256K1_N - s)  # the same signature with high s
    signed = assemble(tx, high, KEY.public_key.format())
    assert signed.s == s <= HALF_N
    assert Account.recover_transaction(signed.raw) == ADDRESS


def test_signature_from_another_key_is_a_violation() -> None:
    tx = parse_tx(TX_1559)
    other = PrivateKey(bytes.fromhex("08" * 32))
    with pytest.raises(ProtocolViolation):
        assemble(tx, other.sign(signing_digest(tx), hasher=None), KEY.public_key.format())
    with pytest.raises(ProtocolViolation):
        assemble(tx, b"\x30\x02garbage", KEY.public_key.format())


def test_from_field_must_be_the_wallet() -> None:
    tx = parse_tx({**TX_1559, "from": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"})
    with pytest.raises(BadInput) as info:
        assemble(tx, KEY.sign(signing_digest(tx), hasher=None), KEY.public_key.format())
    assert info.value.field == "from"
    ok = parse_tx({**TX_1559, "from": ADDRESS})
    assert assemble(ok, KEY.sign(signing_digest(ok), hasher=None), KEY.public_key.format())


def test_raw_sender_refuses_high_s() -> None:
    tx = parse_tx(TX_1559)
    signed = assemble(tx, KEY.sign(signing_digest(tx), hasher=None), KEY.public_key.format())
    assert raw_sender(signed.raw)[1] == ADDRESS
    from mpcwallet.evm.txjson import encode_signed

    flipped = encode_signed(tx, 1 - signed.y_parity, signed.r, SECP256K1_N - signed.s)
    with pytest.raises(BadInput):
        raw_sender(flipped)
