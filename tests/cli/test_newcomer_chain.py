"""A newcomer's first hour, second pass (issue 26), on a chain: `mpc send --to --value`,
`-` for stdin, `mpc balance ADDR`, a contract creation's address. The real `mpc`, a real
co-signer and a real anvil node, one wallet for the module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.anvil import DEV_KEY_0
from support.chain_wallet import Wallet, funded_wallet
from support.proc import json_result, run_mpc

RECIPIENT = "0x" + "79" * 20


@pytest.fixture(scope="module")
def wallet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wallet]:
    with funded_wallet(tmp_path_factory.mktemp("newcomer-chain")) as w:
        yield w


@pytest.mark.anvil
def test_send_to_and_value_without_a_tx_json(wallet: Wallet) -> None:
    before = wallet.node.balance(RECIPIENT)
    code, obj = wallet.run("send", "--to", RECIPIENT, "--value", "0.01ether")
    assert code == 0, obj
    assert obj["data"]["preview"]["value_eth"] == "0.01"
    assert obj["data"]["preview"]["chain_id"] == 11155111  # the wallet's chain
    assert wallet.node.balance(RECIPIENT) == before + 10**16
    # the preview's own spelling, back on the command line
    code, obj = wallet.run("sign", "--to", RECIPIENT, "--value", "0.01 ETH")
    assert code == 0, obj
    assert obj["data"]["preview"]["value_wei"] == str(10**16)


@pytest.mark.anvil
def test_a_value_without_a_unit_says_how_to_write_it(wallet: Wallet) -> None:
    code, obj = wallet.run("send", "--to", RECIPIENT, "--value", "0.01")
    assert code == 2 and obj["error"]["field"] == "value", obj
    assert '"0.01 ETH"' in obj["error"]["message"]
    code, obj = wallet.run("sign", "--to", RECIPIENT)
    assert code == 2 and obj["error"]["field"] == "value", obj
    code, obj = wallet.run("sign", "--tx", "x.json", "--to", RECIPIENT, "--value", "1 wei")
    assert code == 2 and obj["error"]["field"] == "tx", obj


@pytest.mark.anvil
def test_a_dash_reads_tx_json_typed_data_and_message_from_stdin(wallet: Wallet) -> None:
    tx = {"chainId": 11155111, "to": RECIPIENT, "value": "1 gwei"}
    code, obj = wallet.run("sign", "--tx", "-", stdin=json.dumps(tx))
    assert code == 0, obj
    assert obj["data"]["preview"]["value_wei"] == str(10**9)
    code, obj = wallet.run("sign-message", "--message-file", "-", stdin="from stdin\n")
    assert code == 0, obj
    assert obj["data"]["preview"]["text"] == "from stdin\n"
    doc = {
        "types": {"EIP712Domain": [{"name": "chainId", "type": "uint256"}],
                  "Note": [{"name": "text", "type": "string"}]},
        "primaryType": "Note",
        "domain": {"chainId": 11155111},
        "message": {"text": "via stdin"},
    }  # fmt: skip
    code, obj = wallet.run("sign-typed-data", "--data", "-", stdin=json.dumps(doc))
    assert code == 0, obj
    assert obj["data"]["preview"]["fields"] == {"text": "via stdin"}


@pytest.mark.anvil
def test_balance_of_any_address(wallet: Wallet, tmp_path: Path) -> None:
    env = dict(wallet.env, MPC_HOME=str(tmp_path / "no-key-here"))  # no key needed
    cp = run_mpc(["--json", "balance", RECIPIENT], env)
    data = json_result(cp)["data"]
    assert data["balance_wei"] == str(wallet.node.balance(RECIPIENT)) != "0"
    assert data["address"].lower() == RECIPIENT


@pytest.mark.anvil
def test_a_contract_creation_shows_the_contract_address(wallet: Wallet) -> None:
    from eth_account import Account
    from eth_utils import to_checksum_address

    sender = Account.from_key(DEV_KEY_0)
    nonce = wallet.node.nonce(sender.address)
    initcode = "0x600a600c600039600a6000f3602a60005260206000f3"  # returns a tiny contract
    raw = sender.sign_transaction(
        {"chainId": 11155111, "nonce": nonce, "gas": 200_000, "maxFeePerGas": 10**10,
         "maxPriorityFeePerGas": 10**9, "value": 0, "data": initcode, "to": b""}
    ).raw_transaction  # fmt: skip
    cp = run_mpc(["broadcast", "--raw", "0x" + bytes(raw).hex(), "--wait"], wallet.env)
    assert cp.returncode == 0, cp.stderr
    tx_hash = cp.stdout.split("tx hash: ")[1].split()[0]
    created = wallet.node.receipt(tx_hash)["contractAddress"]
    assert f"contract created at {to_checksum_address(created)}" in cp.stdout, cp.stdout
