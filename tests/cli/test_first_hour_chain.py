"""See what you sign, plain units, balance and honest receipts: the real `mpc`, a real co-signer
and a real anvil node (issue 15)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from evm.evmasm import token_initcode
from support.anvil import DEV_KEY_0
from support.chain_wallet import Wallet, funded_wallet
from support.proc import run_mpc

RECIPIENT = "0x" + "78" * 20


@pytest.fixture(scope="module")
def wallet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wallet]:
    with funded_wallet(tmp_path_factory.mktemp("first-hour-chain")) as w:
        yield w


@pytest.mark.anvil
def test_transfer_with_units_then_send_shows_the_preview(wallet: Wallet) -> None:
    tx = wallet.tmp / "pay.json"
    code, obj = wallet.run(
        "tx", "transfer", "--to", RECIPIENT, "--value", "0.01ether", "--out", str(tx)
    )
    assert code == 0, obj
    assert json.loads(tx.read_text())["value"] == str(10**16)
    before, signs = wallet.node.balance(RECIPIENT), wallet.sign_events()
    code, obj = wallet.run("send", "--tx", str(tx))
    assert code == 0, obj
    assert wallet.sign_events() == signs + 1  # what the early-refusal tests count
    preview = obj["data"]["preview"]
    assert preview["chain_id"] == 11155111 and preview["chain"] == "Sepolia testnet"
    assert preview["from"] == wallet.address and preview["account"] == 0
    assert preview["to"].lower() == RECIPIENT and preview["value_eth"] == "0.01"
    assert preview["nonce"] == 0 and preview["gas"] == 21000
    worst = 10**16 + 21000 * int(preview["max_fee_per_gas"])
    assert preview["max_cost_wei"] == str(worst) and preview["confirmed"] is False
    assert wallet.node.balance(RECIPIENT) == before + 10**16
    # a unit in tx.json itself
    unit_tx = wallet.tmp / "unit.json"
    unit_tx.write_text(json.dumps({"chainId": 11155111, "to": RECIPIENT, "value": "2 gwei"}))
    code, obj = wallet.run("send", "--tx", str(unit_tx))
    assert code == 0, obj
    assert obj["data"]["value"] == 2 * 10**9
    code, obj = wallet.run("balance")
    assert code == 0 and obj["data"]["balance_wei"] == str(wallet.node.balance(wallet.address))
    code, obj = wallet.run("balance", "--account", "1")
    assert code == 0 and obj["data"]["address"] != wallet.address, obj
    assert obj["data"]["balance_wei"] == "0"


@pytest.mark.anvil
def test_insufficient_funds_before_the_cosigner_is_contacted(wallet: Wallet) -> None:
    tx = wallet.tmp / "too-much.json"
    tx.write_text(json.dumps({"chainId": 11155111, "to": RECIPIENT, "value": "5 ether"}))
    before = wallet.sign_events()
    code, obj = wallet.run("sign", "--tx", str(tx))
    assert code == 8 and obj["error"]["code"] == "insufficient_funds", obj
    assert "nothing was signed" in obj["error"]["message"]
    assert wallet.sign_events() == before  # the co-signer never saw it


@pytest.mark.anvil
def test_erc20_preview_and_a_token_address_without_code(wallet: Wallet) -> None:
    node = wallet.node
    deploy = node.send_signed(DEV_KEY_0, {"data": "0x" + token_initcode(10**24).hex()})
    token = deploy["contractAddress"]
    tx = wallet.tmp / "erc20.json"
    code, obj = wallet.run(
        "tx", "erc20-transfer", "--token", token, "--to", RECIPIENT,
        "--amount", "0", "--decimals", "18", "--out", str(tx),
    )  # fmt: skip
    assert code == 0, obj
    code, obj = wallet.run("sign", "--tx", str(tx))
    assert code == 0, obj
    erc20 = obj["data"]["preview"]["erc20"]
    assert erc20["token"].lower() == token.lower() and erc20["recipient"].lower() == RECIPIENT
    assert erc20["decimals"] is None  # this test token has no decimals(): shown as base units
    code, obj = wallet.run("balance", "--token", token)
    assert code == 0 and obj["data"]["balance_units"] == "0", obj
    # the same call aimed at an address with no code: refused before signing
    nocode = wallet.tmp / "nocode.json"
    code, obj = wallet.run(
        "tx", "erc20-transfer", "--token", RECIPIENT, "--to", RECIPIENT,
        "--amount", "1", "--out", str(nocode),
    )  # fmt: skip
    assert code == 0, obj
    before = wallet.sign_events()
    code, obj = wallet.run("sign", "--tx", str(nocode))
    assert code == 8 and obj["error"]["code"] == "not_a_contract", obj
    assert obj["error"]["field"] == "to" and wallet.sign_events() == before


@pytest.mark.anvil
def test_send_after_a_receipt_timeout_says_sent_not_yet_confirmed(wallet: Wallet) -> None:
    node = wallet.node
    tx = wallet.tmp / "slow.json"
    tx.write_text(json.dumps({"chainId": 11155111, "to": RECIPIENT, "value": "1 gwei"}))
    node.call("evm_setAutomine", False)
    try:
        cp = run_mpc(["send", "--tx", str(tx), "--receipt-timeout", "1"], wallet.env)
    finally:
        node.call("evm_setAutomine", True)
    assert cp.returncode == 10, cp.stderr
    assert "sent, not yet confirmed: 0x" in cp.stderr and "not broadcast" not in cp.stderr
    assert "not_yet_mined" in cp.stderr
    tx_hash = cp.stderr.split("sent, not yet confirmed: ")[1][:66]
    assert node.call("eth_getTransactionByHash", tx_hash) is not None  # it was sent
    # the command it names works: it follows the recorded transaction until it is confirmed
    command = cp.stderr.split("follow it with: ")[1].split()
    assert command[:4] == ["mpc", "tx", "status", tx_hash] and command[4] == "--wait"
    code, done = wallet.run("tx", "status", tx_hash, "--wait")
    assert code == 0 and done["data"]["receipt"]["status"] == 1, done
    assert done["data"]["state"] == "CONFIRMED"
