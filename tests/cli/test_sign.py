"""`mpc sign` / `mpc send` / `mpc tx erc20-transfer` end to end: the real `mpc`, a real co-signer
daemon, a real anvil node. Balances must change by exactly the expected amounts.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_COSIGNER_PASSPHRASE, TEST_PASSPHRASE
from eth_account import Account
from evm.evmasm import token_initcode
from support.anvil import DEV_ADDR_1, DEV_KEY_0, Anvil, running_anvil
from support.cosigner import Cosigner, running_cosigner, start_cosigner, wait_for
from support.proc import json_result, mpc_cmd, run_mpc

from mpcwallet.cli.app import COMMAND_MODULES

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tx.json"
RECIPIENT = "0x" + "77" * 20


def base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPC_")}
    env.update(
        MPC_HOME=str(home),
        MPC_PASSPHRASE=TEST_PASSPHRASE,
        MPC_COSIGNER_PASSPHRASE=TEST_COSIGNER_PASSPHRASE,
        COLUMNS="200",
        NO_COLOR="1",
    )
    return env


def keygen(env: dict[str, str]) -> str:
    cp = run_mpc(["--json", "keygen"], env)
    assert cp.returncode == 0, cp.stderr
    address = json_result(cp)["data"]["address"]
    assert isinstance(address, str)
    return address


class Wallet:
    def __init__(self, cs: Cosigner, address: str, node: Anvil, tmp: Path) -> None:
        self.cs, self.address, self.node, self.tmp = cs, address, node, tmp

    def mpc(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return run_mpc(["--json", *args], self.cs.env, **kw)

    def write_tx(self, name: str, obj: dict[str, Any]) -> Path:
        path = self.tmp / name
        path.write_text(json.dumps(obj))
        return path


@pytest.fixture(scope="module")
def wallet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wallet]:
    tmp = tmp_path_factory.mktemp("sign-e2e")
    with running_anvil() as node, running_cosigner(base_env(tmp / "home")) as cs:
        address = keygen(cs.env)
        node.fund(address, 10 * 10**18)
        yield Wallet(cs, address, node, tmp)


def ok(cp: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    data = json_result(cp)["data"]
    assert isinstance(data, dict)
    return data


def err(cp: subprocess.CompletedProcess[str], exit_code: int) -> dict[str, Any]:
    assert cp.returncode == exit_code, (cp.stdout, cp.stderr)
    obj = json_result(cp)
    assert obj["ok"] is False
    error = obj["error"]
    assert isinstance(error, dict)
    return error


def fee(receipt: dict[str, Any]) -> int:
    return int(receipt["gas_used"]) * int(receipt["effective_gas_price"])


# --- offline ---------------------------------------------------------------------------------


@pytest.mark.anvil
def test_offline_sign_of_the_example(wallet: Wallet) -> None:
    out = wallet.tmp / "example.sig.json"
    data = ok(wallet.mpc("sign", "--tx", str(EXAMPLE), "--out", str(out)))
    on_disk = json.loads(out.read_text())
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    for key in ("from", "hash", "signing_hash", "r", "s", "v", "yParity", "raw_tx"):
        assert on_disk[key] == data[key]
    raw = bytes.fromhex(data["raw_tx"][2:])
    assert Account.recover_transaction(raw) == wallet.address == data["from"]
    from eth_account.typed_transactions import TypedTransaction
    from hexbytes import HexBytes

    decoded = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    example = json.loads(EXAMPLE.read_text())
    assert decoded["chainId"] == 11155111 and decoded["nonce"] == 0
    assert decoded["value"] == int(example["value"]) and decoded["gas"] == 21000
    assert int(data["s"], 16) <= 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
    # no overwrite without --force; the file is untouched
    before = out.read_bytes()
    error = err(wallet.mpc("sign", "--tx", str(EXAMPLE), "--out", str(out)), 6)
    assert error["code"] == "already_exists" and error["field"] == "out"
    assert out.read_bytes() == before


@pytest.mark.anvil
def test_missing_fields_without_rpc_are_listed(wallet: Wallet) -> None:
    tx = wallet.write_tx("partial.json", {"chainId": 11155111, "to": RECIPIENT, "value": 1})
    error = err(wallet.mpc("sign", "--tx", str(tx)), 2)
    assert error["code"] == "bad_input" and error["field"] == "nonce"
    for name in ("nonce", "gas", "maxFeePerGas", "maxPriorityFeePerGas"):
        assert name in error["message"]


@pytest.mark.anvil
def test_from_must_match_the_share(wallet: Wallet) -> None:
    example = json.loads(EXAMPLE.read_text())
    tx = wallet.write_tx("from.json", {**example, "from": DEV_ADDR_1})
    error = err(wallet.mpc("sign", "--tx", str(tx)), 2)
    assert error["field"] == "from" and wallet.address in error["message"]
    tx = wallet.write_tx("from-ok.json", {**example, "from": wallet.address.lower()})
    assert ok(wallet.mpc("sign", "--tx", str(tx)))["from"] == wallet.address


@pytest.mark.anvil
def test_sign_path_does_not_import_heavy_modules(wallet: Wallet) -> None:
    """What `mpc sign` must not load (issue 16, end to end): web3/eth-account (~0.85 s), aiohttp
    (its client ~0.14 s; the client's WebSocket is `websockets`), pydantic (typer 0.29's
    parameter adapters), pycryptodome with cffi's C parser (Keccak comes from safe-pysha3), and
    other commands' modules (only `sign` is registered)."""
    cp = subprocess.run(
        [sys.executable, "-P", "-X", "importtime", "-m", "mpcwallet", "sign", "--tx", str(EXAMPLE)],
        env=wallet.cs.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert cp.returncode == 0, cp.stderr[-3000:]
    modules = {line.split("|")[-1].strip() for line in cp.stderr.splitlines() if "|" in line}
    # the measurement saw the signing path, over the websockets client
    assert {"mpcwallet.session.client", "mpcwallet.session.ws_client", "websockets"} <= modules
    roots = ("web3", "eth_account", "rlp", "aiohttp", "pydantic", "Crypto", "pycparser")
    heavy = {m for m in modules if m.split(".")[0] in roots}
    heavy |= {m for m in modules if m.startswith("mpcwallet.evm.rpc")}  # no endpoint: no HTTP
    # command modules no other command borrows from: imported only when registered
    shared = {"sign", "approve", "cosigner", "message"}
    heavy |= {f"mpcwallet.cli.{m}" for m in COMMAND_MODULES if m not in shared} & modules
    assert not heavy, sorted(heavy)


# --- against the node ----------------------------------------------------------------------


@pytest.mark.anvil
def test_eip1559_transfer_filled_from_rpc_then_broadcast(wallet: Wallet) -> None:
    node, value = wallet.node, 123_456_789_000
    tx = wallet.write_tx(
        "eip1559.json", {"chainId": 11155111, "to": RECIPIENT, "value": str(value)}
    )
    sender_before, to_before = node.balance(wallet.address), node.balance(RECIPIENT)
    sig = wallet.tmp / "eip1559.sig.json"
    cp = wallet.mpc("sign", "--tx", str(tx), "--rpc-url", node.url, "--out", str(sig))
    signed = ok(cp)
    assert "filled from" in cp.stderr and "nonce" in cp.stderr and "maxFeePerGas" in cp.stderr
    data = ok(wallet.mpc("broadcast", "--sig", str(sig), "--wait", "--rpc-url", node.url))
    assert data["hash"] == signed["hash"] and data["from"] == wallet.address
    receipt = data["receipt"]
    assert receipt["status"] == 1 and receipt["gas_used"] == 21000
    assert node.balance(RECIPIENT) == to_before + value
    assert node.balance(wallet.address) == sender_before - value - fee(receipt)


@pytest.mark.anvil
def test_legacy_transfer_with_send(wallet: Wallet) -> None:
    node, value = wallet.node, 10**15
    tx = wallet.write_tx(
        "legacy.json", {"type": 0, "chainId": 11155111, "to": RECIPIENT, "value": hex(value)}
    )
    sender_before, to_before = node.balance(wallet.address), node.balance(RECIPIENT)
    data = ok(wallet.mpc("send", "--tx", str(tx), "--rpc-url", node.url))
    receipt = data["receipt"]
    assert receipt["status"] == 1
    raw = bytes.fromhex(data["raw_tx"][2:])
    assert raw[0] >= 0xC0  # legacy RLP list, not a typed envelope
    assert Account.recover_transaction(raw) == wallet.address
    assert node.balance(RECIPIENT) == to_before + value
    assert node.balance(wallet.address) == sender_before - value - fee(receipt)


@pytest.mark.anvil
def test_erc20_transfer(wallet: Wallet) -> None:
    node = wallet.node
    deploy = node.send_signed(DEV_KEY_0, {"data": "0x" + token_initcode(10**24).hex()})
    assert int(deploy["status"], 16) == 1
    token = deploy["contractAddress"]

    def token_balance(holder: str) -> int:
        data = "0x70a08231" + "00" * 12 + holder[2:].lower()
        return int(node.call("eth_call", {"to": token, "data": data}, "latest"), 16)

    from mpcwallet.evm.erc20 import transfer_calldata

    fund = transfer_calldata(bytes.fromhex(wallet.address[2:]), 50 * 10**18)
    assert int(node.send_signed(DEV_KEY_0, {"to": token, "data": "0x" + fund.hex()})["status"], 16)
    assert token_balance(wallet.address) == 50 * 10**18

    tx = wallet.tmp / "erc20.json"
    ok(
        wallet.mpc(
            "tx", "erc20-transfer", "--token", token, "--to", DEV_ADDR_1,
            "--amount", "12.5", "--decimals", "18", "--out", str(tx),
        )
    )  # fmt: skip
    eth_before = node.balance(wallet.address)
    sig = wallet.tmp / "erc20.sig.json"
    ok(wallet.mpc("sign", "--tx", str(tx), "--rpc-url", node.url, "--out", str(sig)))
    data = ok(wallet.mpc("broadcast", "--sig", str(sig), "--wait", "--rpc-url", node.url))
    receipt = data["receipt"]
    assert receipt["status"] == 1
    assert token_balance(wallet.address) == 50 * 10**18 - 125 * 10**17
    assert token_balance(DEV_ADDR_1) == 125 * 10**17
    assert node.balance(wallet.address) == eth_before - fee(receipt)


@pytest.mark.anvil
def test_wrong_chain_id_is_refused(wallet: Wallet) -> None:
    tx = wallet.write_tx("chain1.json", {"chainId": 1, "to": RECIPIENT, "value": 1})
    out = wallet.tmp / "chain1.sig.json"
    error = err(
        wallet.mpc("sign", "--tx", str(tx), "--rpc-url", wallet.node.url, "--out", str(out)), 8
    )
    assert error["code"] == "chain_id_mismatch" and "11155111" in error["message"]
    assert not out.exists()


@pytest.mark.anvil
def test_reused_nonce_is_refused(wallet: Wallet) -> None:
    node = wallet.node
    assert node.nonce(wallet.address) > 0  # earlier tests used nonce 0
    tx = wallet.write_tx(
        "reuse.json",
        {"chainId": 11155111, "to": RECIPIENT, "value": 7, "nonce": 0},
    )
    sig = wallet.tmp / "reuse.sig.json"
    ok(wallet.mpc("sign", "--tx", str(tx), "--rpc-url", node.url, "--out", str(sig)))
    error = err(wallet.mpc("broadcast", "--sig", str(sig), "--rpc-url", node.url), 8)
    assert error["code"] == "nonce_too_low" and "nonce" in error["message"]


# --- faults with the co-signer ---------------------------------------------------------------


def test_cosigner_killed_mid_sign_then_retry(tmp_path: Path) -> None:
    env = base_env(tmp_path / "home")
    pause_dir = tmp_path / "pause"
    pause_dir.mkdir()
    out = tmp_path / "sig.json"
    with running_cosigner(env) as cs:
        address = keygen(cs.env)
    paused = dict(
        env, MPC_TEST_PAUSE_AT="daemon_sign_before_last_send", MPC_TEST_PAUSE_DIR=str(pause_dir)
    )
    cs = start_cosigner(paused)
    try:
        client_env = dict(cs.env, MPC_TEST_PAUSE_AT="", MPC_TEST_PAUSE_DIR="")
        proc = subprocess.Popen(
            [*mpc_cmd(), "--json", "sign", "--tx", str(EXAMPLE), "--out", str(out)],
            env=client_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(
            lambda: (pause_dir / "daemon_sign_before_last_send.reached").exists(),
            60,
            "the co-signer to reach the middle of signing",
        )
        cs.kill()
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        cs.stop()
    assert proc.returncode == 10, (stdout, stderr)
    error = json.loads(stdout)["error"]
    assert error["kind"] == "transient"
    assert not out.exists()
    assert not list(tmp_path.glob("sig.json*"))
    # the key is not quarantined (a crash is not a violation) and a retry succeeds
    with running_cosigner(env) as cs2:
        data = ok(run_mpc(["--json", "sign", "--tx", str(EXAMPLE), "--out", str(out)], cs2.env))
    assert data["from"] == address and json.loads(out.read_text())["raw_tx"] == data["raw_tx"]


def test_tampering_cosigner_quarantines_the_key(tmp_path: Path) -> None:
    env = base_env(tmp_path / "home")
    out = tmp_path / "sig.json"
    with running_cosigner(env) as cs:
        address = keygen(cs.env)
        assert not any(line.get("event") == "test_hooks_active" for line in cs.log_lines())
    share = tmp_path / "home" / "shares" / "default.enc"
    with running_cosigner(dict(env, MPC_TEST_TAMPER="sign")) as bad:
        client_env = {k: v for k, v in bad.env.items() if k != "MPC_TEST_TAMPER"}
        cp = run_mpc(["--json", "sign", "--tx", str(EXAMPLE), "--out", str(out)], client_env)
        error = err(cp, 9)
        assert error["kind"] == "violation" and "quarantined" in error["message"]
        assert not out.exists()
        record = Path(str(share) + ".quarantine")
        assert record.exists() and stat.S_IMODE(record.stat().st_mode) == 0o600
        assert json.loads(record.read_text())["error_code"] == error["code"]
        # the misbehaving co-signer announced its hook in its own log
        assert any(line.get("event") == "test_hooks_active" for line in bad.log_lines())
        # refused from now on, before any contact with the co-signer
        error2 = err(run_mpc(["--json", "sign", "--tx", str(EXAMPLE)], client_env), 7)
        assert error2["code"] == "key_quarantined" and "unquarantine" in error2["message"]
        error3 = err(run_mpc(["--json", "send", "--tx", str(EXAMPLE),
                              "--rpc-url", "http://127.0.0.1:9"], client_env), 7)  # fmt: skip
        assert error3["code"] == "key_quarantined"
    with running_cosigner(env) as cs:
        status = err(run_mpc(["--json", "key", "status"], cs.env), 7)
        assert status["code"] == "key_quarantined" and "unquarantine" in status["message"]
        # lifting needs the explicit confirmation
        err(run_mpc(["--json", "key", "unquarantine"], cs.env, input=""), 2)
        assert record.exists()
        lifted = ok(run_mpc(["--json", "key", "unquarantine", "--yes-i-understand"], cs.env))
        assert lifted["lifted"] is True and not record.exists()
        data = ok(run_mpc(["--json", "sign", "--tx", str(EXAMPLE), "--out", str(out)], cs.env))
        assert data["from"] == address


@pytest.mark.anvil
def test_no_secrets_in_outputs_and_wrong_passphrase(wallet: Wallet) -> None:
    from mpcwallet.storage.store import load_share

    share = Path(wallet.cs.env["MPC_HOME"]) / "shares" / "default.enc"
    _, body = load_share(share, TEST_PASSPHRASE)
    secrets = [
        TEST_PASSPHRASE,
        TEST_COSIGNER_PASSPHRASE,
        body.auth_secret.hex(),
        body.key_blob[-32:].hex(),
    ]
    out = wallet.tmp / "secret-scan.sig.json"
    runs = [
        wallet.mpc("sign", "--tx", str(EXAMPLE), "--out", str(out)),
        run_mpc(["sign", "--tx", str(EXAMPLE)], wallet.cs.env),  # human output
    ]
    wrong = dict(wallet.cs.env, MPC_PASSPHRASE="not the passphrase")
    bad = run_mpc(["--json", "sign", "--tx", str(EXAMPLE)], wrong)
    runs.append(bad)
    assert runs[0].returncode == 0 and runs[1].returncode == 0, runs[1].stderr
    assert "signed" in runs[1].stdout and "0x02" in runs[1].stdout
    assert err(bad, 3)["code"] == "wrong_passphrase"
    assert not Path(str(share) + ".quarantine").exists()  # a typo is not a violation
    texts = [cp.stdout + cp.stderr for cp in runs] + [out.read_text()]
    for text in texts:
        for secret in secrets:
            assert secret not in text


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--token", "0x5FbDB2315678afecb367f032d93F642f64180aA3"], "token"),  # bad checksum
        (["--amount", "1.0000001", "--decimals", "6"], "amount"),
        (["--amount", "-1"], "amount"),
        (["--to", "0x1234"], "to"),
    ],
)
def test_erc20_transfer_bad_input(
    mpc_env: dict[str, str], tmp_path: Path, args: list[str], field: str
) -> None:
    base = {
        "--token": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "--to": DEV_ADDR_1,
        "--amount": "1",
        "--out": str(tmp_path / "tx.json"),
    }
    flags = dict(zip(args[::2], args[1::2], strict=True))
    argv = [x for k, v in {**base, **flags}.items() for x in (k, v)]
    error = err(run_mpc(["--json", "tx", "erc20-transfer", *argv], mpc_env), 2)
    assert error["field"] == field
    assert not (tmp_path / "tx.json").exists()
