"""Plain units (issue 15): amounts as people write them, converted by eth-utils, and the preview
built from them; plus the RPC retry line a person sees."""

from __future__ import annotations

import socket

import pytest

from mpcwallet.errors import BadInput
from mpcwallet.evm.erc20 import transfer_calldata
from mpcwallet.evm.preview import TokenFacts, build, lines
from mpcwallet.evm.txjson import parse_tx
from mpcwallet.evm.units import format_ether, format_units, parse_wei


@pytest.mark.parametrize(
    ("text", "wei"),
    [
        ("0.01 ether", 10**16),
        ("0.01ether", 10**16),
        ("10 gwei", 10 * 10**9),
        ("1.5 GWEI", 1_500_000_000),
        ("21000 wei", 21000),
        ("1000000000000000000", 10**18),
        ("0x10", 16),
        (7, 7),
    ],
)
def test_amounts_with_and_without_units(text: object, wei: int) -> None:
    assert parse_wei(text, "value") == wei


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("0.5 wei", "whole number of wei"),
        ("1 bananas", "unknown unit"),
        ("-1 ether", "not an amount"),
        ("1e3 ether", "not an amount"),
        ("ether", "not an amount"),
    ],
)
def test_bad_amounts_name_the_field(text: str, why: str) -> None:
    with pytest.raises(BadInput) as info:
        parse_wei(text, "value")
    assert info.value.field == "value" and why in info.value.message


def test_tx_json_accepts_units_for_value_and_fees() -> None:
    tx = parse_tx(
        {
            "chainId": 11155111,
            "to": "0x" + "11" * 20,
            "value": "0.25 ether",
            "maxFeePerGas": "30 gwei",
            "maxPriorityFeePerGas": "1 gwei",
        }
    )
    assert tx.value == 25 * 10**16
    assert (tx.max_fee_per_gas, tx.max_priority_fee_per_gas) == (30 * 10**9, 10**9)
    assert tx.to_json()["value"] == 25 * 10**16  # canonical form stays wei


def test_formatting_is_exact() -> None:
    assert format_ether(10**16) == "0.01" and format_ether(0) == "0"
    assert format_ether(123456789012345678901) == "123.456789012345678901"
    assert format_units(1_500_000, 6) == "1.5"


def test_preview_of_an_erc20_transfer_with_token_facts() -> None:
    recipient = bytes.fromhex("22" * 20)
    tx = parse_tx(
        {
            "chainId": 1,
            "nonce": 4,
            "to": "0x" + "33" * 20,
            "value": 0,
            "data": "0x" + transfer_calldata(recipient, 2_500_000).hex(),
            "gas": 60000,
            "maxFeePerGas": "20 gwei",
            "maxPriorityFeePerGas": "1 gwei",
        }
    )
    p = build(tx, sender="0x" + "44" * 20, key_name="default", token=TokenFacts(6, "USDC"))
    assert p["chain"] == "Ethereum mainnet" and p["max_cost_eth"] == "0.0012"
    assert p["erc20"]["amount"] == "2.5 USDC"
    shown = dict(lines(p))
    assert shown["amount"] == "2.5 USDC" and shown["max fee/gas"] == "20 gwei"
    assert shown["max total"].startswith("0.0012 ETH")


def test_rpc_refused_connection_gives_up_in_half_a_second_and_says_why() -> None:
    """Nothing listens there: a few quick retries, not the whole window meant for a flaky node
    (issue 24: it took ~35 s)."""
    import time

    from mpcwallet.errors import RpcUnavailable
    from mpcwallet.evm.rpc import REFUSED_RETRY_SECONDS, RpcClient

    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    seen: list[str] = []
    client = RpcClient(f"http://127.0.0.1:{port}", retry_seconds=30.0, on_event=seen.append)
    client._provider()  # web3's import is not part of the retry budget under test
    start = time.monotonic()
    with pytest.raises(RpcUnavailable) as info:
        client.chain_id()
    assert time.monotonic() - start < REFUSED_RETRY_SECONDS + 0.5
    assert "refused the connection" in info.value.message
    assert "no node is listening" in info.value.message
    assert seen[0] == (
        "rpc: eth_chainId: connection refused; retry 1 in 0.1 s (giving up after 0.5 s)"
    )
    assert 2 <= len(seen) <= 4


@pytest.mark.parametrize(
    "text", ["0.01 ETH", "0.01eth", "0.01 ether", "0.01 Ether", "0.01ETH", " 0.01  eth "]
)
def test_ether_as_people_type_it_and_as_the_preview_prints_it(text: str) -> None:
    """Issue 26: the preview's own "0.01 ETH" and its spellings are accepted back."""
    assert parse_wei(text, "value") == 10**16


@pytest.mark.parametrize("text", ["30 gwei", "30gwei", "30 GWEI", "30Gwei"])
def test_gwei_in_any_case(text: str) -> None:
    assert parse_wei(text, "maxFeePerGas") == 30 * 10**9


def test_the_preview_line_reads_back_as_the_same_value() -> None:
    value = 123456789012345678901
    tx = parse_tx({"chainId": 1, "to": "0x" + "11" * 20, "value": value})
    (text,) = [
        t
        for label, t in lines(build(tx, sender="0x" + "22" * 20, key_name=None))
        if label == "value"
    ]
    assert parse_wei(text, "value") == value


@pytest.mark.parametrize("given", ["0.01", 0.01])
def test_a_decimal_without_a_unit_says_how_to_write_it(given: object) -> None:
    """`--value 0.01` (or "value": 0.01 in tx.json): ETH, gwei or wei? The message shows the
    ways to write it instead of "not an integer"."""
    with pytest.raises(BadInput) as info:
        parse_tx({"chainId": 1, "to": "0x" + "11" * 20, "value": given})
    message = info.value.message
    assert info.value.field == "value" and "needs a unit" in message
    for way in ('"0.01 ETH"', '"0.01 gwei"', '"10000000000000000"'):
        assert way in message
