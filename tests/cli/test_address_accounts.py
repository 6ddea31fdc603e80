"""`mpc address --account/--accounts` on keys made before and after accounts existed
(the share header alone; no co-signer, no passphrase)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coincurve import PrivateKey
from conftest import TEST_PASSPHRASE
from support.proc import json_result, run_mpc

from mpcwallet.engine.derive import account_public_key
from mpcwallet.evm.address import address_from_public_key
from mpcwallet.storage.body import ShareBody
from mpcwallet.storage.store import save_share


def share(path: Path, chain_code: bytes | None) -> bytes:
    root = PrivateKey().public_key.format(compressed=True)
    header: dict[str, Any] = {
        "key_id": "ab" * 16,
        "role": "P1",
        "engine": "portable",
        "public_key": root.hex(),
        "address": address_from_public_key(root),
        "name": "default",
    }
    if chain_code is not None:
        header["chain_code"] = chain_code.hex()
    save_share(path, ShareBody(b"\x01" * 40, b"\x02" * 32), header, TEST_PASSPHRASE)
    return root


def test_accounts_come_from_the_header(tmp_path: Path, mpc_env: dict[str, str]) -> None:
    path = tmp_path / "new.enc"
    cc = bytes(range(32))
    root = share(path, cc)
    env = {k: v for k, v in mpc_env.items() if k != "MPC_PASSPHRASE"}
    cp = run_mpc(["--json", "address", "--share", str(path), "--accounts", "5-7"], env)
    assert cp.returncode == 0, cp.stdout
    data = json_result(cp)["data"]
    want = [address_from_public_key(account_public_key(root, cc, i)) for i in (5, 6, 7)]
    assert [a["address"] for a in data["addresses"]] == want
    assert data["accounts"] == "0-2147483647" and "accounts_note" not in data
    for bad in (["--account", "-1"], ["--account", str(2**31)], ["--accounts", "9-3"]):
        cp = run_mpc(["--json", "address", "--share", str(path), *bad], env)
        assert cp.returncode == 2, (bad, cp.stdout)
        assert "account" in json_result(cp)["error"]["message"]


def test_a_key_from_before_accounts_says_it_has_account_0_only(
    tmp_path: Path, mpc_env: dict[str, str]
) -> None:
    path = tmp_path / "legacy.enc"
    root = share(path, None)
    cp = run_mpc(["address", "--share", str(path)], mpc_env)
    assert cp.returncode == 0
    assert address_from_public_key(root) in cp.stdout and "account 0 only" in cp.stdout
    data = json_result(run_mpc(["--json", "address", "--share", str(path)], mpc_env))["data"]
    assert data["accounts"] == "0" and "account 0 only" in data["accounts_note"]
    for args in (
        ["address", "--account", "1"],
        ["sign", "--tx", str(tmp_path / "unused.json"), "--account", "1"],
        ["sign-message", "--message", "hi", "--account", "1"],
    ):
        cp = run_mpc(["--json", *args, "--share", str(path)], mpc_env)
        assert cp.returncode == 2, (args, cp.stdout)
        error = json_result(cp)["error"]
        assert error["code"] == "account_unavailable" and error["field"] == "account"
