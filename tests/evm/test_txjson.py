"""tx.json validation, canonical form, digests and raw encoding against eth-account and rlp."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rlp as rlp_lib
from eth_account import Account
from eth_account._utils.legacy_transactions import serializable_unsigned_transaction_from_dict
from hypothesis import given, settings
from hypothesis import strategies as st

from mpcwallet.errors import BadInput, FileFormatError, NotFound
from mpcwallet.evm import rlp
from mpcwallet.evm.txdecode import decode_signed
from mpcwallet.evm.txjson import (
    describe,
    encode_signed,
    load_tx,
    missing_fields,
    parse_tx,
    signing_digest,
)

TO = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BASE: dict[str, Any] = {
    "chainId": 11155111,
    "nonce": 0,
    "to": TO,
    "value": "10000000000000000",
    "data": "0x",
    "gas": 21000,
    "maxFeePerGas": "0x6fc23ac00",
    "maxPriorityFeePerGas": 1_000_000_000,
}
LEGACY: dict[str, Any] = {
    "chainId": 1,
    "nonce": "7",
    "to": TO.lower(),
    "value": 1,
    "gas": "0x5208",
    "gasPrice": 2_000_000_000,
}
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tx.json"


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = dict(base)
    for k, v in changes.items():
        if v is _DROP:
            out.pop(k, None)
        else:
            out[k] = v
    return out


_DROP = object()


def test_example_signs_offline_complete() -> None:
    tx = load_tx(EXAMPLE)
    assert tx.type == 2 and tx.chain_id == 11155111 and tx.nonce == 0 and tx.gas == 21000
    assert missing_fields(tx) == []
    assert len(signing_digest(tx)) == 32


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, 5), ("5", 5), ("0x5", 5), ("0X0a", 10), (" 12 ", 12), (2**256 - 1, 2**256 - 1)],
)
def test_integer_forms(value: Any, expected: int) -> None:
    assert parse_tx(with_(BASE, value=value)).value == expected


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"value": -1}, "value"),
        ({"value": "-1"}, "value"),
        ({"value": 2**256}, "value"),
        ({"value": 1.5}, "value"),
        ({"value": True}, "value"),
        ({"value": "1e18"}, "value"),
        ({"value": "0x"}, "value"),
        ({"value": "0xzz"}, "value"),
        ({"nonce": 2**64}, "nonce"),
        ({"gas": 2**64}, "gas"),
        ({"chainId": _DROP}, "chainId"),
        ({"chainId": 0}, "chainId"),
        ({"to": "0x70997970c51812dc3a010c7d01b50e0d17dc79C8"}, "to"),  # one wrong-case letter
        ({"to": "0x1234"}, "to"),
        ({"to": 12}, "to"),
        ({"to": _DROP}, "to"),  # no to and no data
        ({"data": "0x123"}, "data"),
        ({"data": "abcd"}, "data"),
        ({"gasPrice": 1}, "gasPrice"),  # mixed legacy + 1559
        ({"type": 1}, "type"),
        ({"type": 0}, "maxFeePerGas"),
        ({"maxPriorityFeePerGas": "0x6fc23ac01"}, "maxPriorityFeePerGas"),
        ({"accessList": {"a": 1}}, "accessList"),
        ({"accessList": [{"address": TO, "storageKeys": ["0x01"]}]}, "accessList[0]"),
        ({"from": "0xnothex"}, "from"),
    ],
)
def test_bad_fields_are_named(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(BadInput) as info:
        parse_tx(with_(BASE, **changes))
    assert info.value.field is not None and info.value.field.startswith(field.split("[")[0])
    assert field.split("[")[0] in info.value.message


def test_legacy_rejects_1559_fields_and_access_list() -> None:
    with pytest.raises(BadInput) as info:
        parse_tx(with_(LEGACY, maxFeePerGas=1))
    assert info.value.field == "gasPrice"
    with pytest.raises(BadInput) as info:
        parse_tx(with_(LEGACY, accessList=[{"address": TO, "storageKeys": []}]))
    assert info.value.field == "accessList"


def test_contract_creation_allowed_with_data() -> None:
    tx = parse_tx(with_(BASE, to=_DROP, data="0x6000"))
    assert tx.to is None and tx.data == b"\x60\x00"


def test_missing_fields_listed() -> None:
    tx = parse_tx(with_(BASE, nonce=_DROP, gas=_DROP, maxFeePerGas=_DROP))
    assert missing_fields(tx) == ["nonce", "gas", "maxFeePerGas"]
    with pytest.raises(BadInput) as info:
        signing_digest(tx)
    assert info.value.field == "nonce" and "gas" in info.value.message
    legacy = parse_tx(with_(LEGACY, gasPrice=_DROP, type=0))
    assert missing_fields(legacy) == ["gasPrice"]
    assert parse_tx(legacy.to_json()) == legacy  # "type": 0 is kept while gasPrice is unset


def test_describe_for_audit_log() -> None:
    d = describe(parse_tx(with_(BASE, data="0xa9059cbb" + "00" * 64)))
    assert d["chain_id"] == 11155111 and d["to"] == TO and d["selector"] == "0xa9059cbb"
    assert d["type"] == 2 and d["nonce"] == 0 and d["value"] == 10**16


def test_load_tx_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_tx(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(FileFormatError) as info:
        load_tx(bad)
    assert str(bad) in info.value.message
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(with_(BASE, value=-3)))
    with pytest.raises(BadInput) as info2:
        load_tx(wrong)
    assert str(wrong) in info2.value.message and info2.value.field == "value"


# --- encodings against eth-account --------------------------------------------------------------

KEY = Account.from_key("0x" + "42" * 32)
addresses = st.binary(min_size=20, max_size=20)
u256 = st.integers(min_value=0, max_value=2**256 - 1)
u64 = st.integers(min_value=0, max_value=2**64 - 1)


@st.composite
def tx_dicts(draw: st.DrawFn) -> dict[str, Any]:
    from mpcwallet.evm.address import to_checksum

    legacy = draw(st.booleans())
    obj: dict[str, Any] = {
        "chainId": draw(st.integers(min_value=1, max_value=2**32)),
        "nonce": draw(u64),
        "to": to_checksum(draw(addresses)),
        "value": draw(u256),
        "data": "0x" + draw(st.binary(max_size=80)).hex(),
        "gas": draw(st.integers(min_value=21000, max_value=2**63)),
    }
    if legacy:
        obj["gasPrice"] = draw(st.integers(min_value=0, max_value=2**128))
    else:
        tip = draw(st.integers(min_value=0, max_value=2**128))
        obj["maxPriorityFeePerGas"] = tip
        obj["maxFeePerGas"] = tip + draw(st.integers(min_value=0, max_value=2**128))
        keys = st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex())
        obj["accessList"] = draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "address": addresses.map(to_checksum),
                        "storageKeys": st.lists(keys, max_size=2),
                    }
                ),
                max_size=2,
            )
        )
    return obj


@settings(max_examples=40, deadline=None)
@given(tx_dicts())
def test_digest_and_raw_match_eth_account(obj: dict[str, Any]) -> None:
    tx = parse_tx(obj)
    assert parse_tx(tx.to_json()) == tx
    assert parse_tx(json.loads(json.dumps(tx.to_json()))) == tx
    ref_unsigned = serializable_unsigned_transaction_from_dict(tx.to_json())
    assert ref_unsigned.hash() == signing_digest(tx)
    signed = KEY.sign_transaction(tx.to_json())
    y = signed.v if tx.type == 2 else signed.v - 35 - 2 * tx.chain_id
    raw = encode_signed(tx, y, signed.r, signed.s)
    assert raw == bytes(signed.raw_transaction)
    back, y2, r2, s2 = decode_signed(raw)
    assert (back, y2, r2, s2) == (tx, y, signed.r, signed.s)


items = st.recursive(
    st.binary(max_size=70), lambda children: st.lists(children, max_size=5), max_leaves=12
)


@settings(max_examples=100, deadline=None)
@given(items)
def test_rlp_matches_reference(item: Any) -> None:
    encoded = rlp.encode(item)
    assert encoded == rlp_lib.encode(item)
    assert rlp.decode(encoded) == rlp_lib.decode(encoded)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x81\x05", b"\xb8\x01\x00", b"\xc2\x01", b"\x82\x01", b"\x01\x02", b"\xb9\x00\x38"],
)
def test_rlp_refuses_non_canonical(data: bytes) -> None:
    with pytest.raises(rlp.RlpError):
        rlp.decode(data)


def test_decode_signed_rejects_garbage() -> None:
    for raw in (b"", b"\x01\xc0", b"\x02\xc0", b"\xc0", b"\x02" + b"\xff" * 10):
        with pytest.raises(BadInput) as info:
            decode_signed(raw)
        assert info.value.field == "raw"
