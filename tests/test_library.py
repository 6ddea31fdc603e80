"""The public Python API as an integrator uses it: only names ``mpcwallet`` exports, a real
co-signer daemon, the example files signed and checked with eth-account, a real anvil node for
broadcast, and examples/library.py run as a program."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_COSIGNER_PASSPHRASE, TEST_PASSPHRASE
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from support.cosigner import Cosigner, running_cosigner
from support.proc import json_result, run_mpc

import mpcwallet
from mpcwallet import MpcError, ShareStore, Wallet

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


class MemoryStore:
    """An integrator's share store: a dict (a database table in real life)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.saves = 0

    def names(self) -> list[str]:
        return sorted(self.files)

    def load(self, name: str) -> bytes | None:
        return self.files.get(name)

    def save(self, name: str, data: bytes) -> None:
        self.files[name] = data
        self.saves += 1


class Setup:
    def __init__(self, cs: Cosigner, store: MemoryStore, wallet: Wallet) -> None:
        self.cs, self.store, self.wallet = cs, store, wallet


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    home = tmp_path_factory.mktemp("library") / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPC_")}
    env.update(MPC_HOME=str(home), MPC_COSIGNER_PASSPHRASE=TEST_COSIGNER_PASSPHRASE)
    with running_cosigner(env) as cs:
        store = MemoryStore()
        wallet = Wallet.open(home, passphrase=TEST_PASSPHRASE, store=store, cosigner_url=cs.url)
        wallet.keygen("treasury")
        yield Setup(cs, store, wallet)


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


def test_the_package_exports_the_api_and_stays_cheap_to_import() -> None:
    assert set(mpcwallet.__all__) >= {"Wallet", "ShareStore", "MpcError", "KeyInfo"}
    assert all(getattr(mpcwallet, name) is not None for name in mpcwallet.__all__)
    with pytest.raises(AttributeError):
        mpcwallet.not_a_name  # noqa: B018
    code = (
        "import sys, json, mpcwallet\n"
        "heavy = ('mpcwallet.library', 'mpcwallet.wallet', 'cryptography', 'eth_account', 'web3')\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_keygen_saves_the_share_to_the_store_and_addresses_derive(setup: Setup) -> None:
    assert isinstance(setup.store, ShareStore)
    info = setup.wallet.key("treasury")
    assert setup.wallet.names() == ["treasury"] and info.generation == 0
    saved = setup.store.files["treasury"]
    assert saved == (setup.wallet.home / "shares" / "treasury.enc").read_bytes()
    assert TEST_PASSPHRASE.encode() not in saved  # the store holds the encrypted file
    accounts = setup.wallet.accounts(0, 3)
    assert accounts[0] == setup.wallet.address() == info.address
    assert len(set(accounts)) == 3 and setup.wallet.address(2) == accounts[2]


def test_the_example_transaction_signs_and_recovers_per_account(setup: Setup) -> None:
    for account in (0, 1):
        sig = setup.wallet.sign_transaction(example("tx.json"), account=account)
        assert Account.recover_transaction(sig.raw_tx) == setup.wallet.address(account)
        assert sig.sender == setup.wallet.address(account) and sig.to_json()["raw_tx"] == sig.raw_tx


def test_the_example_message_and_typed_data_sign_and_recover(setup: Setup) -> None:
    address = setup.wallet.address()
    text = (EXAMPLES / "message.txt").read_bytes()
    sig = setup.wallet.sign_message(text)
    assert Account.recover_message(encode_defunct(text), signature=sig.signature) == address
    for name, primary in (("typed-data-mail.json", "Mail"), ("typed-data-permit.json", "Permit")):
        document = example(name)
        assert document["primaryType"] == primary
        sig = setup.wallet.sign_typed_data(document, chain_id=11155111)
        signable = encode_typed_data(full_message=document)
        assert Account.recover_message(signable, signature=sig.signature) == address
        assert sig.v in (27, 28) and sig.address == address
        assert sig.preview  # what the CLI would have shown, for the integrator's own review


def test_the_readme_message_and_typed_data_commands_sign_the_same(setup: Setup) -> None:
    """The README's three signing commands, run as written (from the repository's root)."""
    readme = (ROOT / "README.md").read_text()
    lines = [line for line in readme.splitlines() if line.startswith(".venv/bin/mpc sign-")]
    assert len(lines) == 3, lines
    env = {**setup.cs.env, "MPC_HOME": str(setup.wallet.home), "MPC_PASSPHRASE": TEST_PASSPHRASE}
    for line in lines:
        args = line.split()[1:]
        cp = run_mpc(["--json", *args], env, cwd=ROOT)
        data = json_result(cp)["data"]
        assert data["address"] == setup.wallet.address(), cp.stderr
        if "--message-file" in args:
            signable = encode_defunct((ROOT / args[args.index("--message-file") + 1]).read_bytes())
        else:
            signable = encode_typed_data(full_message=example(args[args.index("--data") + 1][9:]))
        assert Account.recover_message(signable, signature=data["signature"]) == data["address"]


def test_errors_are_the_error_tree_with_stable_codes(setup: Setup) -> None:
    with pytest.raises(MpcError) as info:
        setup.wallet.sign_typed_data(example("typed-data-mail.json"), chain_id=1)
    assert info.value.code == "chain_id_mismatch"
    mainnet = {**example("typed-data-mail.json")}
    mainnet["domain"] = {**mainnet["domain"], "chainId": 1}
    with pytest.raises(MpcError) as info:  # another chain than the wallet's, not asked for
        setup.wallet.sign_typed_data(mainnet)
    assert info.value.code == "chain_id_mismatch"
    wrong = Wallet.open(setup.wallet.home, passphrase="not it", cosigner_url=setup.cs.url)
    with pytest.raises(MpcError) as info:
        wrong.sign_message("hello")
    assert info.value.code == "wrong_passphrase"
    with pytest.raises(MpcError) as info:
        setup.wallet.keygen("treasury")
    assert info.value.code == "already_exists"


def test_refresh_saves_the_new_share_and_a_lost_copy_is_restored_from_the_store(
    setup: Setup,
) -> None:
    before = setup.store.files["treasury"]
    info = setup.wallet.refresh()
    assert info.generation == 1 and info.address == setup.wallet.address()
    assert setup.store.files["treasury"] != before
    share = setup.wallet.home / "shares" / "treasury.enc"
    share.unlink()
    reopened = Wallet.open(
        setup.wallet.home, passphrase=TEST_PASSPHRASE, store=setup.store, cosigner_url=setup.cs.url
    )
    assert share.read_bytes() == setup.store.files["treasury"]
    sig = reopened.sign_message("after the restore")
    assert (
        Account.recover_message(encode_defunct(text="after the restore"), signature=sig.signature)
        == reopened.address()
    )


def test_broadcast_sends_to_a_real_node(setup: Setup) -> None:
    from support.anvil import running_anvil

    with running_anvil() as node:
        node.fund(setup.wallet.address(), 10**18)
        tx = {"chainId": 11155111, "to": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
              "value": "0.01 ether"}  # fmt: skip
        sig = setup.wallet.sign_transaction(tx, rpc_url=node.url)
        sent = setup.wallet.broadcast(sig, rpc_url=node.url, wait=True)
        assert sent["hash"] == sig.hash and sent["state"] == "CONFIRMED"
        assert node.balance("0x70997970C51812dc3A010C7d01b50e0d17dc79C8") == 10000 * 10**18 + 10**16


def test_the_example_program_runs(setup: Setup) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPC_")}
    env.update(
        MPC_HOME=str(setup.wallet.home),
        MPC_PASSPHRASE=TEST_PASSPHRASE,
        MPC_COSIGNER_URL=setup.cs.url,
    )
    cp = subprocess.run(
        [sys.executable, str(EXAMPLES / "library.py")], env=env, capture_output=True, text=True
    )
    assert cp.returncode == 0, cp.stderr
    assert setup.wallet.address() in cp.stdout and "raw tx       0x02" in cp.stdout
