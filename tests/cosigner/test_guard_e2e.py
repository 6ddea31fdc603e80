"""Policy, spending limits, permits and the audit trail through the real `mpc`, a real co-signer
daemon, its real SQLite guard database and a real anvil node.

One co-signer serves five keys with different rules: ``main`` (transfers mined on anvil),
``conc`` (a 24 h limit that admits exactly 4 of 10 concurrent signs), ``perm`` (permits),
``msg`` (messages and typed data) and ``tok`` (a limited token and an allowlist: typed-data
allowances, issue 20).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_COSIGNER_PASSPHRASE, TEST_PASSPHRASE
from evm.evmasm import token_initcode
from support.anvil import DEV_ADDR_1, DEV_KEY_0, Anvil, running_anvil
from support.cosigner import (
    Cosigner,
    assert_no_secrets,
    running_cosigner,
    start_cosigner,
    wait_for,
)
from support.proc import json_result, mpc_cmd, run_mpc
from support.proc import ok_data as ok

from mpcwallet.cosigner.ledger import Ledger

ALLOWED = "0x" + "a1" * 20
DEAD = "0x000000000000000000000000000000000000dEaD"
USDC = "0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238"
APPROVER_PASSPHRASE = "approver passphrase: green kettle 4"
ETHER = 10**18
GWEI = 10**9

POLICY = f"""
[default]
chain_ids = [11155111]
max_value_per_tx = "0.05 ether"
max_value_24h = "0.1 ether"
max_fee_per_gas = "200 gwei"
deny_to = ["{DEAD}"]

[keys.main]
allow_to = ["{ALLOWED}"]

[keys.conc]
max_value_per_tx = "0.1 ether"
max_value_24h = "0.4 ether"

[keys.msg]
chain_ids = [1, 11155111]
approval_for = ["message"]
allow_without_approval = ["typed_data"]
approvers = ["carol"]
allow_domains = [{{ name = "Ether Mail", chainId = 1 }}]

[keys.perm]
max_value_24h = "1 ether"
approval_above = "0.01 ether"
approvals_required = 1
approvers = ["alice"]

[keys.tok]
allow_to = ["{ALLOWED}"]

[keys.tok.tokens."{USDC}"]
decimals = 6
max_per_tx = "1000"
"""


def base_env(home: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MPC_")}
    env.update(
        MPC_HOME=str(home),
        MPC_PASSPHRASE=TEST_PASSPHRASE,
        MPC_COSIGNER_PASSPHRASE=TEST_COSIGNER_PASSPHRASE,
        MPC_APPROVER_PASSPHRASE=APPROVER_PASSPHRASE,
        COLUMNS="200",
        NO_COLOR="1",
    )
    return env


def refused(cp: subprocess.CompletedProcess[str], code: str = "policy_refused") -> dict[str, Any]:
    assert cp.returncode == 7, (cp.stdout, cp.stderr)
    error = json_result(cp)["error"]
    assert isinstance(error, dict)
    assert error["code"] == code, error
    return error


class Setup:
    def __init__(self, cs: Cosigner, node: Anvil, tmp: Path) -> None:
        self.cs, self.node, self.tmp = cs, node, tmp
        self.keys: dict[str, dict[str, Any]] = {}

    def mpc(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_mpc(["--json", *args], self.cs.env)

    def keygen(self, name: str) -> None:
        share = self.tmp / f"{name}.enc"
        data = ok(self.mpc("keygen", "--name", name, "--out", str(share)))
        self.keys[name] = {**data, "share": share}

    def tx(self, name: str, obj: dict[str, Any]) -> Path:
        path = self.tmp / f"{name}.json"
        path.write_text(json.dumps(obj))
        return path

    def ledger(self) -> Ledger:
        return Ledger(self.cs.dir / "guard.db")


def full_tx(nonce: int, to: str, value: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": 2, "chainId": 11155111, "nonce": nonce, "to": to, "value": str(value),
        "gas": 21000, "maxFeePerGas": str(30 * GWEI), "maxPriorityFeePerGas": str(GWEI), **extra,
    }  # fmt: skip


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("guard-e2e")
    home = tmp / "home"
    (home / "cosigner").mkdir(parents=True)
    (home / "cosigner" / "policy.toml").write_text(POLICY)
    with running_anvil() as node, running_cosigner(base_env(home)) as cs:
        s = Setup(cs, node, tmp)
        for name in ("main", "conc", "perm", "msg", "tok"):
            s.keygen(name)
        yield s


@pytest.mark.anvil
def test_policy_refusals_and_allowed_transfers_mined(setup: Setup) -> None:
    node, main = setup.node, setup.keys["main"]
    share, address = str(main["share"]), main["address"]
    node.fund(address, 2 * ETHER)
    send = ("send", "--share", share, "--rpc-url", node.url)

    def attempt(name: str, obj: dict[str, Any], rule: str) -> None:
        nonce_before = node.nonce(address)
        out = setup.tmp / f"{name}.sig.json"
        error = refused(setup.mpc(*send, "--tx", str(setup.tx(name, obj)), "--out", str(out)))
        assert error["field"] == rule and f".{rule}):" in error["message"], error
        assert not out.exists() and node.nonce(address) == nonce_before  # nothing signed

    attempt("over", {"chainId": 11155111, "to": ALLOWED, "value": str(6 * ETHER // 100)},
            "max_value_per_tx")  # fmt: skip
    for i in range(2):
        data = ok(setup.mpc(*send, "--tx", str(setup.tx(f"ok{i}", {
            "chainId": 11155111, "to": ALLOWED, "value": str(4 * ETHER // 100)}))))  # fmt: skip
        assert data["receipt"]["status"] == 1
    assert node.balance(ALLOWED) == 8 * ETHER // 100
    attempt("third", {"chainId": 11155111, "to": ALLOWED, "value": str(4 * ETHER // 100)},
            "max_value_24h")  # fmt: skip
    attempt("dead", {"chainId": 11155111, "to": DEAD, "value": "1"}, "deny_to")

    # ERC-20: the token contract (the tx's `to`) and the recipient decoded from the calldata
    # must both be on the allowlist; the deployed token is listed by a policy reload.
    deploy = node.send_signed(DEV_KEY_0, {"data": "0x" + token_initcode(10**24).hex()})
    token = deploy["contractAddress"]
    policy = setup.cs.dir / "policy.toml"
    policy.write_text(
        POLICY.replace(f'allow_to = ["{ALLOWED}"]', f'allow_to = ["{ALLOWED}", "{token}"]', 1)
    )
    ok(setup.mpc("cosigner", "policy", "reload"))
    from mpcwallet.evm.erc20 import transfer_calldata

    fund = transfer_calldata(bytes.fromhex(address[2:]), 50 * ETHER)
    node.send_signed(DEV_KEY_0, {"to": token, "data": "0x" + fund.hex()})
    to_dev = "0x" + transfer_calldata(bytes.fromhex(DEV_ADDR_1[2:]), ETHER).hex()
    attempt("erc20-bad", {"chainId": 11155111, "to": token, "data": to_dev}, "allow_to")
    to_ok = "0x" + transfer_calldata(bytes.fromhex(ALLOWED[2:]), ETHER).hex()
    data = ok(setup.mpc(*send, "--tx", str(setup.tx("erc20-ok", {
        "chainId": 11155111, "to": token, "data": to_ok}))))  # fmt: skip
    assert data["receipt"]["status"] == 1
    balance = node.call("eth_call", {"to": token, "data": "0x70a08231" + "00" * 12 + ALLOWED[2:]},
                        "latest")  # fmt: skip
    assert int(balance, 16) == ETHER

    # Wrong chain id (offline: the node would refuse it earlier in the client).
    wrong = setup.tx("chain1", full_tx(99, ALLOWED, 1, chainId=1))
    error = refused(setup.mpc("sign", "--share", share, "--tx", str(wrong)))
    assert "chain_ids" in error["message"] and "[11155111]" in error["message"]

    sessions = ok(setup.mpc("cosigner", "sessions", "--key", main["key_id"]))["sessions"]
    statuses = sorted(s["status"] for s in sessions)
    assert statuses.count("completed") == 4 and statuses.count("refused") == 5, sessions
    assert all(s["ended"] and s["digest"] for s in sessions if s["op"] == "sign")
    assert [s["op"] for s in sessions if s["status"] == "completed"].count("keygen") == 1


def test_transfer_calldata_does_not_hide_the_real_to(setup: Setup) -> None:
    """Issue 20 item 1: `transfer(allowed, 0)` calldata sent, with ETH, to an address that is
    not on the allowlist. The decoded recipient is allowed; the real `to` is not. `mpc sign`
    (offline, a complete transaction) stands for a compromised client: `mpc send` would stop
    at its own check that `to` holds code, which such a client skips."""
    main = setup.keys["main"]
    from mpcwallet.evm.erc20 import transfer_calldata

    data = "0x" + transfer_calldata(bytes.fromhex(ALLOWED[2:]), 0).hex()
    tx = full_tx(50, DEV_ADDR_1, ETHER // 100, data=data, gas=60000)
    cp = setup.mpc("sign", "--share", str(main["share"]), "--tx", str(setup.tx("bypass", tx)))
    error = refused(cp)
    assert error["field"] == "allow_to" and DEV_ADDR_1.lower() in error["message"].lower()
    assert "raw" not in cp.stdout and "signature" not in cp.stdout


def test_ten_concurrent_signs_against_a_limit_that_admits_four(setup: Setup) -> None:
    conc = setup.keys["conc"]
    files = [setup.tx(f"conc{i}", full_tx(i, ALLOWED, ETHER // 10)) for i in range(10)]

    def sign(path: Path) -> subprocess.CompletedProcess[str]:
        return setup.mpc("sign", "--share", str(conc["share"]), "--tx", str(path))

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(sign, files))
    codes = sorted(r.returncode for r in results)
    assert codes == [0] * 4 + [7] * 6, [(r.returncode, r.stdout[-300:]) for r in results]
    for r in results:
        if r.returncode == 7:
            assert refused(r)["field"] == "max_value_24h"
    assert setup.ledger().spent_24h(conc["key_id"], 0, "ETH") == 4 * ETHER // 10


def test_permits(setup: Setup) -> None:
    perm = setup.keys["perm"]
    share = str(perm["share"])
    approver = {}
    for name in ("alice", "mallory"):
        path = setup.tmp / f"{name}.enc"
        approver[name] = ok(setup.mpc("approver", "new", name, "--out", str(path)))
    ok(setup.mpc("cosigner", "approvers", "add", "alice", approver["alice"]["public_key"]))
    listed = ok(setup.mpc("cosigner", "approvers", "list"))["approvers"]
    assert [a["name"] for a in listed] == ["alice"]

    def tx(i: int) -> Path:
        return setup.tx(f"perm{i}", full_tx(i, ALLOWED, 2 * ETHER // 100))

    def permit(i: int, who: str = "alice", key_id: str | None = None) -> Path:
        out = setup.tmp / f"permit-{i}-{who}.json"
        key = ["--key-id", key_id] if key_id else ["--share", share]
        approver_key = str(setup.tmp / f"{who}.enc")
        ok(setup.mpc("approve", "--tx", str(tx(i)), *key, "--approver", approver_key,
                     "--out", str(out), "--force"))  # fmt: skip
        return out

    def sign(i: int, *permits: Path) -> subprocess.CompletedProcess[str]:
        extra = [a for p in permits for a in ("--permit", str(p))]
        return setup.mpc("sign", "--share", share, "--tx", str(tx(i)), *extra)

    error = refused(sign(0), "approval_required")
    assert "approval_above" in error["message"] and "0.01 ether" in error["message"]
    good = permit(0)
    ok(sign(0, good))
    refused(sign(0, good), "permit_replayed")
    refused(sign(1, permit(0)), "permit_wrong_digest")
    refused(sign(1, permit(1, "mallory")), "permit_unknown_approver")
    refused(sign(1, permit(1, key_id=setup.keys["conc"]["key_id"])), "permit_mismatch")
    tampered = json.loads(permit(1).read_text())
    tampered["expires_at"] += 30
    (setup.tmp / "tampered.json").write_text(json.dumps(tampered))
    refused(sign(1, setup.tmp / "tampered.json"), "permit_tampered")

    from mpcwallet.cosigner.approvers import load_key_file
    from mpcwallet.cosigner.permits import make_permit
    from mpcwallet.evm.txjson import load_tx, signing_digest

    _, seed = load_key_file(setup.tmp / "alice.enc", APPROVER_PASSPHRASE)
    old = make_permit(seed, key_id=perm["key_id"], account=0, kind="tx",
                      digest=signing_digest(load_tx(tx(1))), chain_id=11155111,
                      now=time.time() - 120)  # fmt: skip
    (setup.tmp / "expired.json").write_text(json.dumps(old))
    refused(sign(1, setup.tmp / "expired.json"), "permit_expired")
    ok(sign(1, permit(1)))  # a fresh valid one still works

    events = [json.loads(line) for line in (setup.cs.dir / "audit.log").read_text().splitlines()]
    rejected = sorted(e["code"] for e in events if e["event"] == "permit_rejected")
    assert rejected == sorted(["permit_replayed", "permit_wrong_digest", "permit_unknown_approver",
                               "permit_mismatch", "permit_tampered", "permit_expired"])  # fmt: skip
    assert sum(e["event"] == "permit_accepted" for e in events) == 2


def test_messages_and_typed_data(setup: Setup) -> None:
    """EIP-191 messages need a permit on this key; typed data only from the allowed domain."""
    share = str(setup.keys["msg"]["share"])
    carol = setup.tmp / "carol.enc"
    public = ok(setup.mpc("approver", "new", "carol", "--out", str(carol)))["public_key"]
    ok(setup.mpc("cosigner", "approvers", "add", "carol", public))
    sign = ("sign-message", "--share", share, "--message", "hello policy")
    assert refused(setup.mpc(*sign), "approval_required")["field"] == "approval_for"
    permit = setup.tmp / "msg-permit.json"
    ok(setup.mpc("approve", "--message", "hello policy", "--share", share, "--approver",
                 str(carol), "--out", str(permit)))  # fmt: skip
    other = setup.tmp / "msg-other.json"
    ok(setup.mpc("approve", "--message", "hello other", "--share", share, "--approver",
                 str(carol), "--out", str(other)))  # fmt: skip
    refused(setup.mpc(*sign, "--permit", str(other)), "permit_wrong_digest")
    assert ok(setup.mpc(*sign, "--permit", str(permit)))["signature"]

    vector = Path(__file__).resolve().parents[1] / "evm" / "vectors" / "eip712_mail.json"
    doc = {k: v for k, v in json.loads(vector.read_text()).items() if not k.startswith("_")}
    mail = setup.tmp / "mail.json"
    mail.write_text(json.dumps(doc))
    # the Mail vector names chain 1, not the wallet's Sepolia: signed for chain 1 on purpose
    ok(setup.mpc("sign-typed-data", "--data", str(mail), "--share", share, "--chain-id", "1"))
    doc["domain"]["name"] = "Phish Mail"
    mail.write_text(json.dumps(doc))
    error = refused(
        setup.mpc("sign-typed-data", "--data", str(mail), "--share", share, "--chain-id", "1")
    )
    assert error["field"] == "allow_domains" and "Phish Mail" in error["message"]


def eip2612_permit(spender: str, value: int) -> dict[str, Any]:
    """EIP-2612 ("Specification") Permit typed data for the token USDC."""
    fields = [("owner", "address"), ("spender", "address"), ("value", "uint256"),
              ("nonce", "uint256"), ("deadline", "uint256")]  # fmt: skip
    return {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"},
                             {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"},
                             {"name": "verifyingContract", "type": "address"}],
            "Permit": [{"name": n, "type": t} for n, t in fields],
        },
        "primaryType": "Permit",
        "domain": {"name": "USDC", "version": "2", "chainId": 11155111,
                   "verifyingContract": USDC},
        "message": {"owner": ALLOWED, "spender": spender, "value": str(value), "nonce": 0,
                    "deadline": 2**40},
    }  # fmt: skip


def test_permit_typed_data_is_checked_and_needs_an_approval(setup: Setup) -> None:
    """Issue 20 item 2: an unlimited EIP-2612 Permit to an unlisted spender is refused (even
    with an approver's permit); a Permit within the limits to a listed spender is signed only
    with an approval, since the policy restricts and does not list typed_data as allowed."""
    share = str(setup.keys["tok"]["share"])
    unlimited = setup.tmp / "permit-unlimited.json"
    unlimited.write_text(json.dumps(eip2612_permit(DEV_ADDR_1, 2**256 - 1)))
    error = refused(setup.mpc("sign-typed-data", "--data", str(unlimited), "--share", share))
    assert error["field"] == "allow_to" and "EIP-2612 Permit" in error["message"]
    dave = setup.tmp / "dave.enc"
    public = ok(setup.mpc("approver", "new", "dave", "--out", str(dave)))["public_key"]
    ok(setup.mpc("cosigner", "approvers", "add", "dave", public))
    permit = setup.tmp / "permit-unlimited-approval.json"
    ok(setup.mpc("approve", "--typed-data", str(unlimited), "--share", share, "--approver",
                 str(dave), "--out", str(permit)))  # fmt: skip
    sign = ("sign-typed-data", "--share", share, "--data")
    assert refused(setup.mpc(*sign, str(unlimited), "--permit", str(permit)))["field"] == (
        "allow_to"
    )
    small = setup.tmp / "permit-small.json"
    small.write_text(json.dumps(eip2612_permit(ALLOWED, 10 * 10**6)))
    error = refused(setup.mpc(*sign, str(small)), "approval_required")
    assert error["field"] == "allow_without_approval"
    permit = setup.tmp / "permit-small-approval.json"
    ok(setup.mpc("approve", "--typed-data", str(small), "--share", share, "--approver",
                 str(dave), "--out", str(permit)))  # fmt: skip
    assert ok(setup.mpc(*sign, str(small), "--permit", str(permit)))["signature"]
    events = [json.loads(line) for line in (setup.cs.dir / "audit.log").read_text().splitlines()]
    both = [e for e in events if e.get("rule") == "allow_to" and e.get("allowances")]
    assert len(both) == 2  # without and with the approver's permit
    assert both[0]["allowances"] == (
        f"EIP-2612 Permit token={USDC.lower()} spender={DEV_ADDR_1.lower()} amount={2**256 - 1}"
    )


def test_audit_trail_verifies_and_holds_no_secrets(setup: Setup) -> None:
    """Runs after the others in this module: the trail holds all their events."""
    assert ok(setup.mpc("cosigner", "audit", "verify"))["ok"] is True
    key_id = setup.keys["main"]["key_id"]
    shown = ok(setup.mpc("cosigner", "audit", "show", "--key", key_id))["records"]
    assert {r["key_id"] for r in shown} == {key_id}
    assert "keygen_completed" in {r["event"] for r in shown}
    every = {r["event"] for r in ok(setup.mpc("cosigner", "audit", "show"))["records"]}
    assert {"unlocked", "policy_loaded", "keygen_started", "keygen_completed"} <= every

    from mpcwallet.storage.store import load_share

    secrets = {
        "share passphrase": TEST_PASSPHRASE.encode(),
        "co-signer passphrase": TEST_COSIGNER_PASSPHRASE.encode(),
        "approver passphrase": APPROVER_PASSPHRASE.encode(),
        "pairing token": (setup.cs.dir / "auth.token").read_bytes().strip(),
    }
    for name, key in setup.keys.items():
        _, body = load_share(key["share"], TEST_PASSPHRASE)
        secrets[f"{name} key blob"] = body.key_blob[:64]
        secrets[f"{name} per-key secret"] = body.auth_secret
    if (setup.tmp / "alice.enc").exists():
        from mpcwallet.cosigner.approvers import load_key_file

        secrets["approver key"] = load_key_file(setup.tmp / "alice.enc", APPROVER_PASSPHRASE)[1]
    roots = [setup.cs.dir / "audit.log", setup.cs.dir / "audit.head", setup.cs.dir / "guard.db"]
    assert assert_no_secrets(roots, secrets) == 3


def test_policy_reload(setup: Setup) -> None:
    policy = setup.cs.dir / "policy.toml"
    conc = setup.keys["conc"]
    tx = setup.tx("reload", full_tx(20, ALLOWED, ETHER // 10))
    sign = ("sign", "--share", str(conc["share"]), "--tx", str(tx))
    refused(setup.mpc(*sign))  # the 24 h limit of keys.conc is used up
    shown = ok(setup.mpc("cosigner", "audit", "show"))["records"]
    reloads = [r["event"] for r in shown].count("policy_reloaded")  # earlier tests reload too
    policy.write_text(POLICY + '\n[keys.conc.accounts.0]\nmax_value_24h = "lots"\n')
    cp = setup.mpc("cosigner", "policy", "reload")
    error = json_result(cp)["error"]
    assert cp.returncode == 2 and error["code"] == "bad_policy", error
    assert (
        f"{policy}:{POLICY.count(chr(10)) + 3}: keys.conc.accounts.0.max_value_24h"
        in error["message"]
    )
    refused(setup.mpc(*sign))  # the old policy stays in force
    policy.write_text(POLICY.replace('max_value_24h = "0.4 ether"', 'max_value_24h = "1 ether"'))
    assert ok(setup.mpc("cosigner", "policy", "reload"))["present"] is True
    ok(setup.mpc(*sign))
    events = [r["event"] for r in ok(setup.mpc("cosigner", "audit", "show"))["records"]]
    assert "policy_reload_failed" in events and events.count("policy_reloaded") == reloads + 1
    assert ok(setup.mpc("cosigner", "audit", "verify"))["ok"] is True


def test_killed_between_decision_and_signature_keeps_the_counter(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "cosigner").mkdir(parents=True)
    (home / "cosigner" / "policy.toml").write_text('[default]\nmax_value_24h = "0.2 ether"\n')
    pause = tmp_path / "pause"
    pause.mkdir()
    env = dict(
        base_env(home), MPC_TEST_PAUSE_AT="guard_after_decision", MPC_TEST_PAUSE_DIR=str(pause)
    )
    cs = start_cosigner(env)
    try:
        share = tmp_path / "k.enc"
        key = ok(run_mpc(["--json", "keygen", "--out", str(share)], cs.env))
        tx = tmp_path / "tx.json"
        tx.write_text(json.dumps(full_tx(0, ALLOWED, ETHER // 10)))
        client = subprocess.Popen(
            [*mpc_cmd(), "--json", "sign", "--share", str(share), "--tx", str(tx)],
            env=cs.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: (pause / "guard_after_decision.reached").exists(), 60, "the decision")
        cs.kill()  # SIGKILL: the reservation is committed, the engine has not run
        client.communicate(timeout=60)
        assert client.returncode == 10
    finally:
        cs.kill()
    ledger = Ledger(home / "cosigner" / "guard.db")
    assert ledger.spent_24h(key["key_id"], 0, "ETH") == ETHER // 10  # durable before signing
    with running_cosigner(base_env(home)) as cs2:
        rows = ledger.spend_rows(key["key_id"])
        assert [r["state"] for r in rows] == ["spent"]  # a crash may have produced a signature
        sessions = ok(run_mpc(["--json", "cosigner", "sessions"], cs2.env))["sessions"]
        assert sessions[0]["status"] == "interrupted"
        ok(run_mpc(["--json", "sign", "--share", str(share), "--tx", str(tx)], cs2.env))
        tx.write_text(json.dumps(full_tx(1, ALLOWED, ETHER // 10)))
        cp = run_mpc(["--json", "sign", "--share", str(share), "--tx", str(tx)], cs2.env)
        assert "max_value_24h" in refused(cp)["message"]
    assert ledger.spent_24h(key["key_id"], 0, "ETH") == 2 * ETHER // 10
