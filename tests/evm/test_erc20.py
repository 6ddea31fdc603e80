from __future__ import annotations

import pytest
from eth_abi import decode

from mpcwallet.errors import BadInput
from mpcwallet.evm.erc20 import (
    TRANSFER_SELECTOR,
    TRANSFER_SIGNATURE,
    parse_amount,
    selector,
    transfer_calldata,
)


def test_selector_is_keccak_of_signature() -> None:
    assert selector(TRANSFER_SIGNATURE) == TRANSFER_SELECTOR == bytes.fromhex("a9059cbb")


@pytest.mark.parametrize(
    ("text", "decimals", "units"),
    [
        ("1", 18, 10**18),
        ("1.5", 18, 15 * 10**17),
        ("0.000001", 6, 1),
        ("12.340000", 2, 1234),
        ("7", 0, 7),
        ("0", 18, 0),
    ],
)
def test_amounts_are_exact(text: str, decimals: int, units: int) -> None:
    assert parse_amount(text, decimals) == units


@pytest.mark.parametrize(
    ("text", "decimals"),
    [("0.0000001", 6), ("1.5", 0), ("-1", 18), ("1e18", 18), ("", 18), ("1.", 18), ("abc", 2)],
)
def test_bad_amounts(text: str, decimals: int) -> None:
    with pytest.raises(BadInput) as info:
        parse_amount(text, decimals)
    assert info.value.field == "amount"


def test_too_large_and_bad_decimals() -> None:
    with pytest.raises(BadInput):
        parse_amount(str(2**256), 0)
    with pytest.raises(BadInput) as info:
        parse_amount("1", 78)
    assert info.value.field == "decimals"


def test_calldata_decodes() -> None:
    to = bytes.fromhex("ab" * 20)
    data = transfer_calldata(to, 5 * 10**17)
    assert data[:4] == TRANSFER_SELECTOR and len(data) == 68
    addr, amount = decode(["address", "uint256"], data[4:])
    assert addr == "0x" + "ab" * 20 and amount == 5 * 10**17
