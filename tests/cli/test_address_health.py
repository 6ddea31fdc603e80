"""`mpc address` and `mpc health` through the real entry point."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
from pathlib import Path

import pytest
from conftest import TEST_PASSPHRASE
from support.cosigner import Cosigner
from support.proc import json_result, run_mpc


@pytest.fixture
def keyed(cosigner: Cosigner, mpc_home: Path) -> dict[str, str]:
    cp = run_mpc(["--json", "keygen"], cosigner.env)
    assert cp.returncode == 0, cp.stdout
    data: dict[str, str] = json_result(cp)["data"]
    return data


def test_address_needs_no_passphrase(cosigner: Cosigner, keyed: dict[str, str]) -> None:
    env = {k: v for k, v in cosigner.env.items() if k != "MPC_PASSPHRASE"}
    cp = run_mpc(["address", "--share", keyed["share"]], env)
    assert cp.returncode == 0
    assert cp.stdout.strip() == keyed["address"]


def test_address_missing_and_edited_share(
    cosigner: Cosigner, keyed: dict[str, str], tmp_path: Path
) -> None:
    missing = run_mpc(["--json", "address", "--share", str(tmp_path / "nope.enc")], cosigner.env)
    assert missing.returncode == 5
    assert json_result(missing)["error"]["code"] == "not_found"
    # An edited header address (digest recomputed so only our cross-check can catch it).
    from mpcwallet.storage import envelope

    doc = json.loads(Path(keyed["share"]).read_bytes())
    doc["header"]["address"] = "0x" + "11" * 20
    rest = {k: v for k, v in doc.items() if k != "sha256"}
    doc["sha256"] = __import__("hashlib").sha256(envelope._canonical(rest)).hexdigest()
    edited = tmp_path / "edited.enc"
    edited.write_bytes(envelope._canonical(doc) + b"\n")
    cp = run_mpc(["--json", "address", "--share", str(edited)], cosigner.env)
    assert cp.returncode == 4
    assert "does not match its public key" in json_result(cp)["error"]["message"]


def test_health_ok_and_without_daemon(cosigner: Cosigner, mpc_env: dict[str, str]) -> None:
    cp = run_mpc(["--json", "health"], cosigner.env)
    assert cp.returncode == 0, cp.stdout
    assert json_result(cp)["data"]["checks"] == {
        "healthz": "ok",
        "home": "ok",
        "engine": "ok",
        "auth": "ok",
    }
    # whether cb-mpc is installed here, one line (issue 21)
    cbmpc = json_result(cp)["data"]["cbmpc"]
    assert cbmpc["installed"] is (importlib.util.find_spec("mpcwallet._cbmpc") is not None)
    human = run_mpc(["health"], cosigner.env)
    assert human.returncode == 0
    assert cbmpc["line"] in human.stdout.splitlines()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    env = dict(mpc_env, MPC_COSIGNER_URL=f"ws://127.0.0.1:{free}")
    down = run_mpc(["--json", "health"], env)
    assert down.returncode == 14
    err = json_result(down)["error"]
    assert err["code"] == "unhealthy" and err["field"] == "healthz"
    # the URL the user set is named as the thing to check (issue 15)
    assert f"MPC_COSIGNER_URL=ws://127.0.0.1:{free}" in err["message"]


def test_health_wrong_pairing_token(cosigner: Cosigner) -> None:
    token = cosigner.dir / "auth.token"
    token.write_text(os.urandom(32).hex() + "\n")  # the daemon keeps the original in memory
    cp = run_mpc(["--json", "health"], cosigner.env)
    assert cp.returncode == 14
    err = json_result(cp)["error"]
    assert err["field"] == "auth" and "auth_failed" in err["message"]


def test_health_share_the_daemon_lacks(cosigner: Cosigner, keyed: dict[str, str]) -> None:
    (cosigner.dir / "shares" / f"{keyed['key_id']}.enc").unlink()
    cp = run_mpc(["--json", "health", "--share", keyed["share"]], cosigner.env)
    assert cp.returncode == 14
    err = json_result(cp)["error"]
    assert err["field"] == "key" and keyed["key_id"] in err["message"]


def test_health_wrong_per_key_secret(
    cosigner: Cosigner, keyed: dict[str, str], tmp_path: Path
) -> None:
    """A share whose per-key secret differs from the daemon's fails the key handshake."""
    from mpcwallet.storage.body import ShareBody
    from mpcwallet.storage.store import load_share, save_share

    header, body = load_share(Path(keyed["share"]), TEST_PASSPHRASE)
    forged = tmp_path / "forged.enc"
    save_share(forged, ShareBody(body.key_blob, os.urandom(32)), header, TEST_PASSPHRASE)
    ok = run_mpc(
        ["--json", "health", "--share", keyed["share"], "--verify-key-secret"], cosigner.env
    )
    assert ok.returncode == 0, ok.stdout
    cp = run_mpc(["--json", "health", "--share", str(forged), "--verify-key-secret"], cosigner.env)
    assert cp.returncode == 14
    err = json_result(cp)["error"]
    assert err["field"] == "key_auth" and "auth_failed" in err["message"]
    assert TEST_PASSPHRASE not in cp.stdout + cp.stderr


def test_health_engine_mismatch(cosigner: Cosigner) -> None:
    other = "portable" if cosigner.engine == "cb-mpc" else "cb-mpc"
    from mpcwallet.engine import available_engines

    if other not in available_engines():
        pytest.skip(f"engine {other} is not installed here")
    cp = run_mpc(["--json", "health"], dict(cosigner.env, MPC_ENGINE=other))
    assert cp.returncode == 14
    err = json_result(cp)["error"]
    assert err["field"] == "engine" and other in err["message"]
