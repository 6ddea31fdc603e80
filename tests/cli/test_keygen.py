"""`mpc keygen` end to end: a real co-signer subprocess, the real `mpc` entry point.

Includes the fault tests (client killed, daemon killed, at exact steps via MPC_TEST_PAUSE_AT),
concurrency, and the secret scan of everything left under MPC_HOME.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import TEST_COSIGNER_PASSPHRASE, TEST_PASSPHRASE
from support.cosigner import (
    Cosigner,
    assert_no_secrets,
    running_cosigner,
    start_cosigner,
    wait_for,
)
from support.proc import json_result, mpc_cmd, run_mpc

from mpcwallet.engine import available_engines, get_engine

ENGINES = available_engines()


def _client_share(home: Path, name: str = "default") -> Path:
    return home / "shares" / f"{name}.enc"


def _load_both(home: Path, key_id: str):  # type: ignore[no-untyped-def]
    """Decrypt both shares (test only): client's with its passphrase, daemon's with its KEK."""
    from mpcwallet.cosigner.keyring import unlock
    from mpcwallet.cosigner.keystore import KeyStore
    from mpcwallet.homes.paths import CosignerPaths
    from mpcwallet.storage.store import load_share

    client_header, client_body = load_share(_client_share(home), TEST_PASSPHRASE)
    paths = CosignerPaths.for_home(home)
    kek = unlock(paths.keyring_file, TEST_COSIGNER_PASSPHRASE)
    daemon_header, daemon_body = KeyStore(paths, kek).load(key_id)
    return client_header, client_body, daemon_header, daemon_body


def _scan(cs: Cosigner, home: Path, key_id: str | None) -> None:
    """No passphrase, token, key blob or per-key secret in any file or log left behind."""
    token_file = cs.dir / "auth.token"
    secrets = {
        "share passphrase": TEST_PASSPHRASE.encode(),
        "co-signer passphrase": TEST_COSIGNER_PASSPHRASE.encode(),
        "pairing token": bytes.fromhex(token_file.read_text().strip()),
    }
    if key_id is not None:
        _, client_body, _, daemon_body = _load_both(home, key_id)
        secrets["client key blob"] = client_body.key_blob[-64:]
        secrets["daemon key blob"] = daemon_body.key_blob[-64:]
        secrets["per-key secret"] = client_body.auth_secret
    stdout_logs = list(home.parent.glob("cosigner-*.out"))
    scanned = assert_no_secrets(
        [home, *stdout_logs], secrets, allowed={"pairing token": {token_file}}
    )
    assert scanned >= 5


@pytest.mark.parametrize("engine", ENGINES)
def test_keygen_address_health_end_to_end(
    mpc_env: dict[str, str], mpc_home: Path, engine: str
) -> None:
    with running_cosigner(mpc_env, engine=engine) as cs:
        cp = run_mpc(["--json", "keygen", "--engine", engine], cs.env)
        assert cp.returncode == 0, cp.stderr
        data = json_result(cp)["data"]
        share = _client_share(mpc_home)
        assert data["share"] == str(share) and share.exists()
        assert (share.stat().st_mode & 0o777) == 0o600
        key_id = data["key_id"]
        assert (cs.dir / "shares" / f"{key_id}.enc").exists()
        assert not list(mpc_home.rglob("*.pending"))
        # MPC_HOME and every directory in it: owner only (parents of 0700 dirs too).
        for d in [mpc_home, *(p for p in mpc_home.rglob("*") if p.is_dir())]:
            assert (d.stat().st_mode & 0o777) == 0o700, d

        # The address is the one the engine's public key gives, on both shares.
        from mpcwallet.evm.address import address_from_public_key

        eng = get_engine(engine)
        ch, cb, dh, db = _load_both(mpc_home, key_id)
        pk = eng.public_key(cb.key_blob)
        assert pk == eng.public_key(db.key_blob)
        assert data["address"] == address_from_public_key(pk) == ch["address"] == dh["address"]
        assert ch["role"] == "P1" and dh["role"] == "P2" and ch["engine"] == engine
        assert cb.auth_secret == db.auth_secret and len(cb.auth_secret) == 32
        for secret in (cb.auth_secret, cb.key_blob[-32:]):
            assert secret.hex() not in cp.stdout + cp.stderr

        addr = json_result(run_mpc(["--json", "address"], cs.env))["data"]
        assert addr["address"] == data["address"] and addr["key_id"] == key_id

        health = run_mpc(["--json", "health", "--share", str(share), "--verify-key-secret"], cs.env)
        assert health.returncode == 0, health.stdout
        assert json_result(health)["data"]["checks"] == {
            "healthz": "ok",
            "home": "ok",
            "engine": "ok",
            "auth": "ok",
            "key": "ok",
            "key_auth": "ok",
        }
        lines = cs.log_lines()
        events = [line["event"] for line in lines if line.get("key_id") == key_id]
        assert "keygen_started" in events and "keygen_completed" in events
        assert all("session" in line and "round" in line for line in lines if "op" in line)
    _scan(cs, mpc_home, key_id)


def test_keygen_refuses_to_overwrite(cosigner: Cosigner, mpc_home: Path) -> None:
    first = run_mpc(["--json", "keygen"], cosigner.env)
    assert first.returncode == 0, first.stdout
    before = _client_share(mpc_home).read_bytes()
    again = run_mpc(["--json", "keygen"], cosigner.env)
    assert again.returncode == 6
    assert json_result(again)["error"]["code"] == "already_exists"
    assert _client_share(mpc_home).read_bytes() == before
    assert cosigner.healthz()[1]["keys"] == 1
    message = json_result(again)["error"]["message"]
    assert "mpc key retire default" in message and "--force" not in message
    # --force changes nothing: a share is never replaced by keygen.
    forced = run_mpc(["--json", "keygen", "--force"], cosigner.env)
    assert forced.returncode == 6, forced.stdout
    assert json_result(forced)["error"]["code"] == "already_exists"
    assert _client_share(mpc_home).read_bytes() == before
    assert cosigner.healthz()[1]["keys"] == 1
    # Retiring keeps the share (0600) under MPC_HOME/retired and frees the name.
    address = json_result(first)["data"]["address"]
    retired = run_mpc(["--json", "key", "retire", "default"], cosigner.env)
    assert retired.returncode == 0, retired.stdout
    data = json_result(retired)["data"]
    assert data["address"] == address
    kept = Path(data["retired_to"])
    assert kept.parent == mpc_home / "retired" and kept.read_bytes() == before
    assert (kept.stat().st_mode & 0o777) == 0o600
    assert not _client_share(mpc_home).exists()
    second = run_mpc(["--json", "keygen"], cosigner.env)
    assert second.returncode == 0, second.stdout
    assert json_result(second)["data"]["key_id"] != json_result(first)["data"]["key_id"]
    assert kept.read_bytes() == before
    assert [p.name for p in (mpc_home / "shares").iterdir()] == ["default.enc"]


def test_keygen_bad_name_is_bad_input(cosigner: Cosigner) -> None:
    cp = run_mpc(["--json", "keygen", "--name", "../evil"], cosigner.env)
    assert cp.returncode == 2
    err = json_result(cp)["error"]
    assert err["code"] == "bad_input" and err["field"] == "name"


def _pause_env(env: dict[str, str], step: str, where: Path) -> dict[str, str]:
    out = dict(env)
    out.update(MPC_TEST_PAUSE_AT=step, MPC_TEST_PAUSE_DIR=str(where))
    return out


def _keygen_proc(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*mpc_cmd(), "--json", "keygen"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_client_killed_before_commit_leaves_nothing(
    cosigner: Cosigner, mpc_home: Path, tmp_path: Path
) -> None:
    proc = _keygen_proc(_pause_env(cosigner.env, "client_after_share_written", tmp_path))
    try:
        wait_for(lambda: (tmp_path / "client_after_share_written.reached").exists(), 60, "pause")
    finally:
        proc.kill()
        proc.communicate()
    pending = _client_share(mpc_home).with_name("default.enc.pending")
    assert pending.exists() and not _client_share(mpc_home).exists()
    shares = cosigner.dir / "shares"
    wait_for(lambda: not list(shares.iterdir()), 10, "the daemon to drop its pending share")
    assert cosigner.healthz()[1]["keys"] == 0
    # A second run cleans the stale temp file and works.
    cp = run_mpc(["--json", "keygen"], cosigner.env)
    assert cp.returncode == 0, cp.stdout
    assert not pending.exists()
    key_id = json_result(cp)["data"]["key_id"]
    assert sorted(p.name for p in shares.iterdir()) == [f"{key_id}.enc", f"{key_id}.psk"]
    health = run_mpc(["--json", "health", "--share", str(_client_share(mpc_home))], cosigner.env)
    assert health.returncode == 0, health.stdout
    _scan(cosigner, mpc_home, key_id)


def test_client_killed_mid_share_write_leaves_no_temp_after_next_keygen(
    cosigner: Cosigner, mpc_home: Path, tmp_path: Path
) -> None:
    """SIGKILL between the encrypted share's fsync and its publish (issue 11, item 9)."""
    step = "atomic_write_before_publish:default.enc.pending"
    proc = _keygen_proc(_pause_env(cosigner.env, step, tmp_path))
    try:
        wait_for(lambda: (tmp_path / f"{step}.reached").exists(), 60, "pause")
    finally:
        proc.kill()
        proc.communicate()
    shares = _client_share(mpc_home).parent
    left = [p.name for p in shares.iterdir() if p.name.endswith(".tmp")]
    assert len(left) == 1 and left[0].startswith(".default.enc.pending."), left
    # A later keygen of another key sweeps the abandoned encrypted copy away.
    cp = run_mpc(["--json", "keygen", "--name", "second"], cosigner.env)
    assert cp.returncode == 0, cp.stdout
    assert [p.name for p in shares.iterdir() if p.name.endswith(".tmp")] == []
    assert (shares / "second.enc").exists()


def test_client_killed_after_commit_is_recovered(
    cosigner: Cosigner, mpc_home: Path, tmp_path: Path
) -> None:
    proc = _keygen_proc(_pause_env(cosigner.env, "client_after_commit", tmp_path))
    try:
        wait_for(lambda: (tmp_path / "client_after_commit.reached").exists(), 60, "pause")
    finally:
        proc.kill()
        proc.communicate()
    assert cosigner.healthz()[1]["keys"] == 1
    assert not _client_share(mpc_home).exists()
    cp = run_mpc(["--json", "keygen"], cosigner.env)
    assert cp.returncode == 0, cp.stdout
    data = json_result(cp)["data"]
    assert data["recovered"] is True
    assert (cosigner.dir / "shares" / f"{data['key_id']}.enc").exists()
    assert cosigner.healthz()[1]["keys"] == 1
    health = run_mpc(
        ["--json", "health", "--share", str(_client_share(mpc_home)), "--verify-key-secret"],
        cosigner.env,
    )
    assert health.returncode == 0, health.stdout


def test_daemon_killed_mid_keygen_leaves_nothing(
    mpc_env: dict[str, str], mpc_home: Path, tmp_path: Path
) -> None:
    cs = start_cosigner(_pause_env(mpc_env, "daemon_commit_received", tmp_path))
    try:
        proc = _keygen_proc(cs.env)
        wait_for(lambda: (tmp_path / "daemon_commit_received.reached").exists(), 60, "pause")
        cs.kill()
        out, _err = proc.communicate(timeout=60)
    finally:
        cs.stop()
    assert proc.returncode == 10, out
    assert '"peer_unreachable"' in out and "is unknown" in out
    # The commit was in flight: the client keeps only its temporary file, no share.
    share = _client_share(mpc_home)
    pending = share.with_name("default.enc.pending")
    assert not share.exists() and pending.exists()
    # The daemon's pending file survived the kill; its next start removes it.
    assert list((cs.dir / "shares").glob("*.pending"))
    with running_cosigner(mpc_env) as cs2:
        assert not list((cs2.dir / "shares").iterdir())
        # The next keygen learns the co-signer never committed, drops the file, makes a key.
        cp = run_mpc(["--json", "keygen"], cs2.env)
        assert cp.returncode == 0, cp.stdout
        assert "recovered" not in json_result(cp)["data"]
        assert not pending.exists() and share.exists()
        assert cs2.healthz()[1]["keys"] == 1
        _scan(cs2, mpc_home, json_result(cp)["data"]["key_id"])


@pytest.mark.slow
def test_ten_concurrent_keygens(cosigner: Cosigner, mpc_home: Path) -> None:
    procs = [
        subprocess.Popen(
            [*mpc_cmd(), "--json", "keygen", "--name", f"k{i}"],
            env=cosigner.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(10)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, (out, err)
        results.append(json_result(subprocess.CompletedProcess(p.args, 0, out, err))["data"])
    assert len({r["key_id"] for r in results}) == 10
    assert len({r["address"] for r in results}) == 10
    assert cosigner.healthz()[1]["keys"] == 10
    assert len(list((mpc_home / "shares").glob("k*.enc"))) == 10


def test_keygen_starts_the_cosigner_when_none_runs(mpc_env: dict[str, str], mpc_home: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(mpc_env, MPC_COSIGNER_URL=f"ws://127.0.0.1:{port}")
    try:
        cp = run_mpc(["--json", "keygen"], env)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        assert "started the co-signer" in cp.stderr
        status = json_result(run_mpc(["--json", "cosigner", "status"], env))["data"]
        assert status["running"] is True and status["port"] == port
        assert status["healthz"]["keys"] == 1
    finally:
        stopped = run_mpc(["--json", "cosigner", "stop"], env)
    assert stopped.returncode == 0, stopped.stdout


def test_one_keygen_per_share_path(cosigner: Cosigner, mpc_home: Path) -> None:
    import fcntl
    import hashlib
    import os

    target = mpc_home / "shares" / "default.enc"
    digest = hashlib.sha256(str(target.absolute()).encode()).hexdigest()[:24]
    lock = mpc_home / "locks" / f"keygen-{digest}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a concurrent `mpc keygen` would hold it
        cp = run_mpc(["--json", "keygen"], cosigner.env)
    finally:
        os.close(fd)
    assert cp.returncode == 6
    assert "another `mpc keygen`" in json_result(cp)["error"]["message"]
    assert cosigner.healthz()[1]["keys"] == 0


def test_bad_round_timeout_names_the_variable(cosigner: Cosigner, mpc_home: Path) -> None:
    cp = run_mpc(["--json", "keygen"], dict(cosigner.env, MPC_ROUND_TIMEOUT="soon"))
    assert cp.returncode == 2
    err = json_result(cp)["error"]
    assert err["field"] == "MPC_ROUND_TIMEOUT"
    assert not (mpc_home / "shares").exists()
    assert cosigner.healthz()[1]["keys"] == 0
