"""EIP-191 and EIP-712 digests: published vectors, eth-account as the reference, and bad input
that names its field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from eth_account.messages import _hash_eip191_message, encode_defunct, encode_typed_data
from hypothesis import given, settings
from hypothesis import strategies as st

from mpcwallet.errors import BadInput, BadTypedData, ChainIdMismatch
from mpcwallet.evm import eip191, eip712

VECTORS = Path(__file__).parent / "vectors"
MAIL_DIGEST = "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"


def mail() -> dict[str, Any]:
    doc = json.loads((VECTORS / "eip712_mail.json").read_text())
    doc.pop("_source")
    return dict(doc)


def reference(doc: dict[str, Any]) -> bytes:
    return bytes(_hash_eip191_message(encode_typed_data(full_message=copy.deepcopy(doc))))


def test_the_specifications_mail_example_gives_its_published_digest() -> None:
    td = eip712.parse(mail())
    assert eip712.encode_type(td.types, "Mail") == (
        "Mail(Person from,Person to,string contents)Person(string name,address wallet)"
    )
    assert eip712.digest(td).hex() == MAIL_DIGEST


NESTED: dict[str, Any] = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "salt", "type": "bytes32"},
        ],
        "Person": [
            {"name": "name", "type": "string"},
            {"name": "wallets", "type": "address[]"},
        ],
        "Group": [
            {"name": "members", "type": "Person[]"},
            {"name": "scores", "type": "int16[2]"},
            {"name": "grid", "type": "uint8[][]"},
            {"name": "blob", "type": "bytes"},
            {"name": "tag", "type": "bytes4"},
            {"name": "ok", "type": "bool"},
        ],
    },
    "primaryType": "Group",
    "domain": {"name": "Groups", "chainId": 11155111, "salt": "0x" + "ab" * 32},
    "message": {
        "members": [
            {"name": "Ann", "wallets": ["0x" + "11" * 20, "0x" + "22" * 20]},
            {"name": "Bo", "wallets": []},
        ],
        "scores": [-5, 300],
        "grid": [[1, 2], [], [255]],
        "blob": "0xdeadbeef",
        "tag": "0x01020304",
        "ok": True,
    },
}


def test_arrays_nested_structs_and_every_atomic_kind_match_eth_account() -> None:
    assert eip712.digest(eip712.parse(NESTED)) == reference(NESTED)


@settings(max_examples=25, deadline=None)
@given(
    name=st.text(max_size=20),
    value=st.integers(min_value=0, max_value=2**256 - 1),
    delta=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    data=st.binary(max_size=40),
    items=st.lists(st.integers(min_value=0, max_value=2**32 - 1), max_size=4),
)
def test_random_documents_match_eth_account(
    name: str, value: int, delta: int, data: bytes, items: list[int]
) -> None:
    doc = {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}],
            "Item": [{"name": "n", "type": "uint32"}],
            "Order": [
                {"name": "who", "type": "string"},
                {"name": "value", "type": "uint256"},
                {"name": "delta", "type": "int64"},
                {"name": "data", "type": "bytes"},
                {"name": "items", "type": "Item[]"},
            ],
        },
        "primaryType": "Order",
        "domain": {"name": name},
        "message": {
            "who": name,
            "value": value,
            "delta": delta,
            "data": "0x" + data.hex(),
            "items": [{"n": n} for n in items],
        },
    }
    assert eip712.digest(eip712.parse(doc)) == reference(doc)


def test_a_domain_without_eip712domain_type_is_inferred_as_eth_account_does() -> None:
    doc = mail()
    del doc["types"]["EIP712Domain"]
    assert eip712.digest(eip712.parse(doc)).hex() == MAIL_DIGEST


def _broken(edit: Any) -> dict[str, Any]:
    doc = mail()
    edit(doc)
    return doc


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (lambda d: d.update(primaryType="Letter"), "primaryType", "unknown type"),
        (lambda d: d["message"]["to"].pop("wallet"), "message.to.wallet", "missing"),
        (
            lambda d: d["message"]["from"].update(wallet="0x1234"),
            "message.from.wallet",
            "20-byte",
        ),
        (
            lambda d: d["types"]["Person"].append({"name": "boss", "type": "Mail"}),
            "types.Person",
            "cycle",
        ),
        (
            lambda d: d["types"]["Mail"].append({"name": "when", "type": "Date"}),
            "types.Mail.when",
            "unknown type",
        ),
        (lambda d: d["domain"].update(chainId=-1), "domain.chainId", "does not fit"),
        (lambda d: d["domain"].update(chainId="one"), "domain.chainId", "not an integer"),
        (lambda d: d["message"].update(extra=1), "message.extra", "not a field"),
        (lambda d: d.pop("domain"), "domain", "missing"),
    ],
)
def test_bad_documents_name_the_field(edit: Any, field: str, words: str) -> None:
    with pytest.raises(BadTypedData, match=words) as info:
        eip712.parse(_broken(edit))
    assert info.value.field == field
    assert field in info.value.message


def test_a_value_too_large_for_its_type_names_the_field() -> None:
    doc = copy.deepcopy(NESTED)
    doc["message"]["scores"] = [-5, 40000]
    with pytest.raises(BadTypedData, match="int16") as info:
        eip712.parse(doc)
    assert info.value.field == "message.scores[1]"


def test_a_chain_id_other_than_the_expected_one_is_refused() -> None:
    assert eip712.parse(mail(), expected_chain_id=1)
    with pytest.raises(ChainIdMismatch) as info:
        eip712.parse(mail(), expected_chain_id=11155111)
    assert info.value.field == "domain.chainId"


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=300))
def test_personal_sign_digest_matches_eth_account(message: bytes) -> None:
    assert eip191.message_digest(message) == bytes(_hash_eip191_message(encode_defunct(message)))


def test_personal_sign_of_a_known_text() -> None:
    # geth accounts.TextHash("hello") (also web3.js hashMessage("hello"))
    assert eip191.message_digest(b"hello").hex() == (
        "50b2c43fd39106bafbba0da34fc430e1f91e3c96ea2acee2bc34119f92b37750"
    )


def test_hex_messages_must_be_hex() -> None:
    assert eip191.parse_hex_message("0xdeadBEEF") == bytes.fromhex("deadbeef")
    for bad in ("deadbeef", "0xabc", "0xzz"):
        with pytest.raises(BadInput):
            eip191.parse_hex_message(bad)
