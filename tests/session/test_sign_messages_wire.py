"""Messages, typed data and accounts through a real co-signer daemon.

The co-signer receives what is signed, derives the account itself, recomputes the digest and
refuses anything else; signatures recover (eth-account's ``recover_message``) to the account's
address.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_COSIGNER_PASSPHRASE, TEST_PASSPHRASE
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from support.cosigner import Cosigner, running_cosigner
from support.proc import json_result, run_mpc

from mpcwallet.accounts import account_key
from mpcwallet.errors import ChainIdMismatch, PolicyRefused
from mpcwallet.evm import eip191, eip712
from mpcwallet.evm.signature import message_signature
from mpcwallet.session.client import run_sign, run_sign_message, run_sign_typed_data
from mpcwallet.storage.store import load_share

ROOT = Path(__file__).resolve().parents[2]
TX: dict[str, Any] = json.loads((ROOT / "examples" / "tx.json").read_text())
MAIL: dict[str, Any] = {
    k: v
    for k, v in json.loads(
        (ROOT / "tests" / "evm" / "vectors" / "eip712_mail.json").read_text()
    ).items()
    if k != "_source"
}
SECRET_TEXT = "a private note: the vault code is 4711"


class Keyed:
    def __init__(self, cs: Cosigner, path: Path) -> None:
        self.cs, self.path = cs, path
        self.header, self.body = load_share(path, TEST_PASSPHRASE)

    def address(self, account: int) -> str:
        return account_key(self.header, self.path, account)[1]

    def public_key(self, account: int) -> bytes:
        return account_key(self.header, self.path, account)[0]

    def audit(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.cs.log_lines() if line.get("event") == event]


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyed]:
    import os

    home = tmp_path_factory.mktemp("messages") / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPC_")}
    env.update(
        MPC_HOME=str(home),
        MPC_PASSPHRASE=TEST_PASSPHRASE,
        MPC_COSIGNER_PASSPHRASE=TEST_COSIGNER_PASSPHRASE,
    )
    with running_cosigner(env) as cs:
        cp = run_mpc(["--json", "keygen"], cs.env)
        assert cp.returncode == 0, cp.stdout
        yield Keyed(cs, Path(json_result(cp)["data"]["share"]))


@pytest.fixture(autouse=True)
def _client_home(keyed: Keyed, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process clients belong to the daemon's home (they only talk to their own co-signer)."""
    monkeypatch.setenv("MPC_HOME", str(keyed.cs.home))


def test_a_personal_sign_message_recovers_to_the_accounts_address(keyed: Keyed) -> None:
    message = SECRET_TEXT.encode()
    digest = eip191.message_digest(message)
    der = run_sign_message(
        keyed.cs.url,
        share_header=keyed.header,
        body=keyed.body,
        message=message,
        digest=digest,
        account=2,
    )
    sig = message_signature(digest, der, keyed.public_key(2))
    assert sig["v"] in (27, 28) and len(bytes.fromhex(sig["signature"][2:])) == 65
    recovered = Account.recover_message(encode_defunct(message), signature=sig["signature"])
    assert recovered == keyed.address(2) != keyed.address(0)
    done = [a for a in keyed.audit("sign_completed") if a.get("kind") == "eip191"]
    assert done and done[-1]["message_length"] == len(message)
    assert done[-1]["digest"] == digest.hex() and done[-1]["account"] == 2
    assert SECRET_TEXT not in keyed.cs.log_file.read_text()  # a summary, never the message


def test_typed_data_recovers_to_the_accounts_address_and_is_summarised(keyed: Keyed) -> None:
    td = eip712.parse(MAIL)
    digest = eip712.digest(td)
    der = run_sign_typed_data(
        keyed.cs.url,
        share_header=keyed.header,
        body=keyed.body,
        typed_data=MAIL,
        digest=digest,
        chain_id=1,
        account=0,
    )
    sig = message_signature(digest, der, keyed.public_key(0))
    signable = encode_typed_data(full_message=json.loads(json.dumps(MAIL)))
    assert Account.recover_message(signable, signature=sig["signature"]) == keyed.address(0)
    done = [a for a in keyed.audit("sign_completed") if a.get("kind") == "eip712"]
    assert done[-1]["domain_name"] == "Ether Mail" and done[-1]["chain_id"] == "1"
    assert done[-1]["primary_type"] == "Mail"
    assert done[-1]["verifying_contract"] == MAIL["domain"]["verifyingContract"]


def test_a_tampering_client_is_refused_and_nothing_is_signed(keyed: Keyed) -> None:
    """The client asks to sign one message but sends the digest of another (and of other typed
    data): the co-signer refuses before any protocol message, and audits the refusal."""
    before = len(keyed.audit("sign_started"))
    other = eip191.message_digest(b"transfer everything to mallory")
    with pytest.raises(PolicyRefused, match="digest the client sent"):
        run_sign_message(
            keyed.cs.url,
            share_header=keyed.header,
            body=keyed.body,
            message=b"hello",
            digest=other,
        )
    wrong_mail = json.loads(json.dumps(MAIL))
    wrong_mail["message"]["contents"] = "Goodbye, Bob!"
    with pytest.raises(PolicyRefused, match="digest"):
        run_sign_typed_data(
            keyed.cs.url,
            share_header=keyed.header,
            body=keyed.body,
            typed_data=MAIL,
            digest=eip712.digest(eip712.parse(wrong_mail)),
        )
    refused = keyed.audit("sign_refused")
    assert {r["digest"] for r in refused} >= {eip191.message_digest(b"hello").hex()}
    assert len(keyed.audit("sign_started")) == before  # no signing protocol ran


def test_typed_data_for_another_chain_is_refused_by_the_cosigner(keyed: Keyed) -> None:
    with pytest.raises(ChainIdMismatch):
        run_sign_typed_data(
            keyed.cs.url,
            share_header=keyed.header,
            body=keyed.body,
            typed_data=MAIL,
            digest=eip712.digest(eip712.parse(MAIL)),
            chain_id=11155111,
        )


def test_a_transaction_from_another_account_is_refused(keyed: Keyed) -> None:
    from mpcwallet.evm.txjson import parse_tx, signing_digest

    tx = {**TX, "from": keyed.address(0)}
    digest = signing_digest(parse_tx(tx))
    with pytest.raises(PolicyRefused, match=r"from .* is not the address of account 1"):
        run_sign(
            keyed.cs.url,
            share_header=keyed.header,
            body=keyed.body,
            tx_json=tx,
            digest=digest,
            account=1,
        )
    tx = {**TX, "from": keyed.address(1)}
    der = run_sign(
        keyed.cs.url,
        share_header=keyed.header,
        body=keyed.body,
        tx_json=tx,
        digest=signing_digest(parse_tx(tx)),
        account=1,
    )
    from coincurve import PublicKey

    assert PublicKey(keyed.public_key(1)).verify(der, signing_digest(parse_tx(tx)), hasher=None)
