"""Accounts, `mpc sign-message` and `mpc sign-typed-data` end to end: the real `mpc`, a real
co-signer daemon, a real anvil node.

- account 3's derived address sends a transfer that anvil mines;
- an EIP-2612 permit signed here is accepted by a permit-checking contract on anvil, which
  computes the EIP-712 digest on chain and ecrecovers the owner;
- a personal_sign message recovers with eth-account; --out is written atomically, and a refused
  document writes nothing.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_PASSPHRASE, subprocess_env
from eth_account import Account
from eth_account.messages import encode_defunct
from support.anvil import DEV_KEY_0, Anvil, running_anvil
from support.cosigner import Cosigner, running_cosigner
from support.proc import json_result, run_mpc
from support.proc import ok_data as ok

RECIPIENT = "0x" + "66" * 20
TOKEN = "0x" + "44" * 20
SPENDER = "0x" + "55" * 20


class Wallet:
    def __init__(self, cs: Cosigner, node: Anvil, tmp: Path) -> None:
        self.cs, self.node, self.tmp = cs, node, tmp

    def mpc(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_mpc(["--json", *args], self.cs.env)


@pytest.fixture(scope="module")
def wallet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wallet]:
    tmp = tmp_path_factory.mktemp("accounts-e2e")
    env = subprocess_env(tmp / "home")
    with running_anvil() as node, running_cosigner(env) as cs:
        cp = run_mpc(["--json", "keygen"], cs.env)
        assert cp.returncode == 0, cp.stdout
        yield Wallet(cs, node, tmp)


@pytest.mark.anvil
def test_account_3_lists_and_sends_a_transfer_anvil_mines(wallet: Wallet) -> None:
    listed = ok(wallet.mpc("address", "--accounts", "0-9"))["addresses"]
    assert [a["account"] for a in listed] == list(range(10))
    assert len({a["address"] for a in listed}) == 10
    one = ok(wallet.mpc("address", "--account", "3"))
    assert one["address"] == listed[3]["address"] and one["account"] == 3
    assert ok(wallet.mpc("address"))["address"] == listed[0]["address"]

    node, sender, value = wallet.node, listed[3]["address"], 10**15
    node.fund(sender, 10**18)
    tx = wallet.tmp / "tx3.json"
    tx.write_text(json.dumps({"type": 2, "chainId": 11155111, "to": RECIPIENT, "value": value}))
    before = node.balance(RECIPIENT)
    data = ok(wallet.mpc("send", "--tx", str(tx), "--account", "3", "--rpc-url", node.url))
    assert data["receipt"]["status"] == 1 and data["account"] == 3
    assert Account.recover_transaction(bytes.fromhex(data["raw_tx"][2:])) == sender
    assert node.balance(RECIPIENT) == before + value


def permit(owner: str, chain_id: int, token: str = TOKEN) -> dict[str, Any]:
    """An EIP-2612 permit (https://eips.ethereum.org/EIPS/eip-2612) as dApps send it."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {
            "name": "Test Token",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": token,
        },
        "message": {
            "owner": owner,
            "spender": SPENDER,
            "value": str(10**18),
            "nonce": 0,
            "deadline": "0x7fffffff",
        },
    }


@pytest.mark.anvil
def test_a_permit_signed_here_is_accepted_by_a_permit_checking_contract(wallet: Wallet) -> None:
    """The contract computes the EIP-712 digest on chain (domain separator from its own
    chainid and address) and ecrecovers it, as EIP-2612's permit does."""
    from evm.evmasm import permit_check_initcode

    deploy = wallet.node.send_signed(
        DEV_KEY_0, {"data": "0x" + permit_check_initcode("Test Token", "1").hex()}
    )
    assert int(deploy["status"], 16) == 1
    checker = deploy["contractAddress"]
    owner = ok(wallet.mpc("address", "--account", "3"))["address"]
    document = permit(owner, 11155111, token=checker)
    doc = wallet.tmp / "permit.json"
    doc.write_text(json.dumps(document))
    out = wallet.tmp / "permit-sig.json"
    data = ok(
        wallet.mpc(
            "sign-typed-data", "--data", str(doc), "--chain-id", "11155111",
            "--account", "3", "--out", str(out),
        )
    )  # fmt: skip
    assert data["address"] == owner and data["account"] == 3
    assert json.loads(out.read_text())["signature"] == data["signature"]
    assert oct(out.stat().st_mode & 0o777) == "0o600"

    def check(value: int) -> str:
        m = document["message"]
        words = [int(owner, 16), int(SPENDER, 16), value, m["nonce"], int(m["deadline"], 16)]
        words += [data["v"], int(data["r"], 16), int(data["s"], 16)]
        calldata = "0x" + "".join(w.to_bytes(32, "big").hex() for w in words)
        result = wallet.node.call("eth_call", {"to": checker, "data": calldata}, "latest")
        assert isinstance(result, str)
        return result

    assert int(check(10**18), 16) == 1
    with pytest.raises(RuntimeError, match="revert"):
        check(10**18 + 1)  # another value than the one signed: the contract refuses

    # a document for another chain than the one asked for: refused, nothing written
    other = wallet.tmp / "permit-mainnet.json"
    other.write_text(json.dumps(permit(owner, 1)))
    out2 = wallet.tmp / "refused.json"
    cp = wallet.mpc(
        "sign-typed-data", "--data", str(other), "--chain-id", "11155111", "--out", str(out2)
    )
    assert cp.returncode == 8, cp.stdout
    error = json_result(cp)["error"]
    assert error["code"] == "chain_id_mismatch" and error["field"] == "domain.chainId"
    assert not out2.exists()


@pytest.mark.anvil
def test_sign_message_recovers_and_names_bad_input(wallet: Wallet) -> None:
    cp = wallet.mpc("sign-message", "--message", "log in to example.org", "--account", "1")
    assert TEST_PASSPHRASE not in cp.stdout + cp.stderr
    data = ok(cp)
    signable = encode_defunct(text="log in to example.org")
    assert Account.recover_message(signable, signature=data["signature"]) == data["address"]
    assert data["address"] == ok(wallet.mpc("address", "--account", "1"))["address"]
    assert data["v"] in (27, 28) and len(data["signature"]) == 2 + 130

    hex_data = ok(wallet.mpc("sign-message", "--hex", "0xdeadbeef"))
    recovered = Account.recover_message(
        encode_defunct(hexstr="0xdeadbeef"), signature=hex_data["signature"]
    )
    assert recovered == hex_data["address"]

    raw = bytes(range(256))
    (wallet.tmp / "msg.bin").write_bytes(raw)
    file_data = ok(wallet.mpc("sign-message", "--message-file", str(wallet.tmp / "msg.bin")))
    recovered = Account.recover_message(encode_defunct(raw), signature=file_data["signature"])
    assert recovered == file_data["address"]
    missing = wallet.mpc("sign-message", "--message-file", str(wallet.tmp / "nope.bin"))
    assert missing.returncode == 5 and json_result(missing)["error"]["field"] == "message_file"

    both = wallet.mpc("sign-message", "--message", "a", "--hex", "0x00")
    assert both.returncode == 2 and json_result(both)["error"]["field"] == "message"
    bad = wallet.tmp / "bad.json"
    bad.write_text(json.dumps({**permit(data["address"], 1), "primaryType": "Letter"}))
    cp = wallet.mpc("sign-typed-data", "--data", str(bad))
    assert cp.returncode == 2
    assert json_result(cp)["error"]["code"] == "bad_typed_data"
    assert "primaryType" in json_result(cp)["error"]["message"]
