"""`mpc refresh` end to end: a real co-signer subprocess, the real `mpc` entry point.

Exclusivity (a second refresh or a sign of a key that is refreshing gets `busy` and changes
nothing), concurrent refreshes, and crash safety: client or co-signer SIGKILLed at named pause
points and at random moments; the next command settles it, the address is unchanged, signing
works and nothing is left behind.
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_COSIGNER_PASSPHRASE, TEST_PASSPHRASE
from support.cosigner import Cosigner, start_cosigner, wait_for
from support.proc import error_of as _err
from support.proc import mpc_cmd, run_mpc
from support.proc import ok_data as _ok

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tx.json"


def _share(home: Path) -> Path:
    return home / "shares" / "default.enc"


def _cosigner_generation(home: Path, key_id: str) -> int:
    from mpcwallet.storage.store import load_header

    header = load_header(home / "cosigner" / "shares" / f"{key_id}.enc")
    return int(header.get("generation", 0))


def _client_generation(home: Path) -> int:
    from mpcwallet.storage.store import load_header

    return int(load_header(_share(home)).get("generation", 0))


def _popen(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*mpc_cmd(), "--json", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _pause(env: dict[str, str], step: str, where: Path) -> dict[str, str]:
    return dict(env, MPC_TEST_PAUSE_AT=step, MPC_TEST_PAUSE_DIR=str(where))


def _assert_clean(home: Path, key_id: str) -> None:
    """Nothing left behind: only the share in shares/, only the key on the co-signer."""
    assert [p.name for p in (home / "shares").iterdir()] == ["default.enc"]
    daemon_shares = home / "cosigner" / "shares"
    # A session that ended uncommitted drops its pending file as the daemon notices the close.
    wait_for(
        lambda: (
            sorted(p.name for p in daemon_shares.iterdir()) == [f"{key_id}.enc", f"{key_id}.psk"]
        ),
        10,
        f"only {key_id}.enc and its PSK file in {daemon_shares}",
    )
    unconfirmed = home / "cosigner" / "unconfirmed"
    assert not unconfirmed.exists() or not list(unconfirmed.iterdir())


def _sign_works(env: dict[str, str], address: str) -> None:
    data = _ok(run_mpc(["--json", "sign", "--tx", str(EXAMPLE)], env))
    assert data["from"] == address


def test_refresh_keeps_the_address_and_rotates_both_shares(
    cosigner: Cosigner, mpc_home: Path
) -> None:
    from mpcwallet.cosigner.keyring import unlock
    from mpcwallet.cosigner.keystore import KeyStore
    from mpcwallet.homes.paths import CosignerPaths
    from mpcwallet.storage.store import load_share

    made = _ok(run_mpc(["--json", "keygen"], cosigner.env))
    key_id, address = made["key_id"], made["address"]
    old_header, old_body = load_share(_share(mpc_home), TEST_PASSPHRASE)
    keystore = KeyStore(
        CosignerPaths.for_home(mpc_home),
        unlock(CosignerPaths.for_home(mpc_home).keyring_file, TEST_COSIGNER_PASSPHRASE),
    )
    _, daemon_old = keystore.load(key_id)
    assert old_header["generation"] == 0 == _cosigner_generation(mpc_home, key_id)

    data = _ok(run_mpc(["--json", "refresh"], cosigner.env))
    assert data["address"] == address and data["generation"] == 1
    assert data["self_test"] == "passed"
    new_header, new_body = load_share(_share(mpc_home), TEST_PASSPHRASE)
    _, daemon_new = keystore.load(key_id)
    assert new_header["generation"] == 1 == _cosigner_generation(mpc_home, key_id)
    assert new_body.key_blob != old_body.key_blob and daemon_new.key_blob != daemon_old.key_blob
    assert new_header["address"] == address
    _assert_clean(mpc_home, key_id)
    events = [line.get("event") for line in cosigner.log_lines()]
    assert "refresh_completed" in events and "selftest_completed" in events

    # `mpc keys` shows the generation and that the co-signer holds it.
    rows = _ok(run_mpc(["--json", "keys"], cosigner.env))["keys"]
    assert [(r["name"], r["generation"], r["cosigner"]) for r in rows] == [("default", 1, "holds")]
    _sign_works(cosigner.env, address)


def test_a_key_that_is_refreshing_is_busy(
    mpc_env: dict[str, str], mpc_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Co-signer side: a second refresh and a sign get `busy` (exit 10) and change nothing."""
    from mpcwallet.errors import Busy
    from mpcwallet.session.client import run_refresh
    from mpcwallet.storage.store import load_share

    pause = tmp_path / "pause"
    pause.mkdir()
    cs = start_cosigner(_pause(mpc_env, "daemon_refresh_before_pending", pause))
    try:
        client_env = {k: v for k, v in cs.env.items() if not k.startswith("MPC_TEST_")}
        made = _ok(run_mpc(["--json", "keygen"], client_env))
        header, body = load_share(_share(mpc_home), TEST_PASSPHRASE)
        monkeypatch.setenv("MPC_HOME", str(mpc_home))  # the in-process client is this home's
        first = _popen(["refresh"], client_env)
        wait_for(lambda: (pause / "daemon_refresh_before_pending.reached").exists(), 60, "pause")
        # A second session for the same key (in-process, past any client-side lock).
        with pytest.raises(Busy, match="being refreshed"):
            run_refresh(cs.url, share_header=header, body=body, write_pending=lambda b, g: None)
        signing = run_mpc(["--json", "sign", "--tx", str(EXAMPLE)], client_env)
        _err(signing, 10, "busy")
        assert _cosigner_generation(mpc_home, made["key_id"]) == 0
        (pause / "daemon_refresh_before_pending.release").touch()
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, (out, err)
    finally:
        cs.stop()
    assert _cosigner_generation(mpc_home, made["key_id"]) == 1 == _client_generation(mpc_home)
    _assert_clean(mpc_home, made["key_id"])


@pytest.mark.anvil
def test_two_concurrent_refreshes_one_commits_and_the_pair_signs_a_mined_tx(
    cosigner: Cosigner, mpc_home: Path, anvil: Any
) -> None:
    made = _ok(run_mpc(["--json", "keygen"], cosigner.env))
    key_id, address = made["key_id"], made["address"]
    procs = [_popen(["refresh"], cosigner.env) for _ in range(2)]
    results = [(p.wait(timeout=180), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 10], results
    loser = next(json.loads(out) for code, out, _ in results if code == 10)
    assert loser["error"]["code"] == "busy"
    assert _cosigner_generation(mpc_home, key_id) == 1 == _client_generation(mpc_home)
    _assert_clean(mpc_home, key_id)

    anvil.fund(address, 10**18)
    recipient = "0x" + "42" * 20
    tx = mpc_home.parent / "tx.json"
    tx.write_text(json.dumps({"chainId": 11155111, "to": recipient, "value": "12345"}))
    sent = _ok(run_mpc(["--json", "send", "--tx", str(tx), "--rpc-url", anvil.url], cosigner.env))
    assert sent["receipt"]["status"] == 1 and sent["from"] == address
    assert anvil.balance(recipient) == 12345


# --- crash safety ------------------------------------------------------------------------------
# (pause point, who is killed, the command that settles, expected generation afterwards)
CRASHES = [
    ("client_refresh_pending_written", "client", "keys", 0),
    ("client_refresh_after_commit", "client", "sign", 1),
    ("client_refresh_before_selftest", "client", "refresh", 2),
    ("client_refresh_before_replace", "client", "keys", 1),
    ("daemon_refresh_before_pending", "daemon", "sign", 0),  # no client file yet: nothing to say
    ("daemon_refresh_commit_received", "daemon", "keys", 0),
    ("daemon_refresh_after_commit", "daemon", "refresh", 2),
]


def _settle(cmd: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = {"keys": ["keys"], "sign": ["sign", "--tx", str(EXAMPLE)], "refresh": ["refresh"]}
    return run_mpc(["--json", *args[cmd]], env)


@pytest.mark.parametrize(("step", "victim", "settler", "generation"), CRASHES)
def test_killed_mid_refresh_leaves_a_working_pair(
    mpc_env: dict[str, str],
    mpc_home: Path,
    tmp_path: Path,
    step: str,
    victim: str,
    settler: str,
    generation: int,
) -> None:
    pause = tmp_path / "pause"
    pause.mkdir()
    daemon_env = _pause(mpc_env, step, pause) if victim == "daemon" else mpc_env
    cs = start_cosigner(daemon_env)
    try:
        env = {k: v for k, v in cs.env.items() if not k.startswith("MPC_TEST_")}
        made = _ok(run_mpc(["--json", "keygen"], env))
        key_id, address = made["key_id"], made["address"]
        proc = _popen(["refresh"], _pause(env, step, pause) if victim == "client" else env)
        wait_for(lambda: (pause / f"{step}.reached").exists(), 90, step)
        if victim == "client":
            proc.kill()
            proc.communicate(timeout=30)
        else:
            cs.kill()
            out, _ = proc.communicate(timeout=60)
            assert proc.returncode == 10, out  # the co-signer went away: transient
            cs = start_cosigner(mpc_env)  # its next start drops its uncommitted pending file
        env = cs.env
        cp = _settle(settler, env)
        assert cp.returncode == 0, (cp.stdout, cp.stderr)
        if step != "daemon_refresh_before_pending":
            assert "interrupted refresh" in cp.stdout + cp.stderr
        assert _client_generation(mpc_home) == generation == _cosigner_generation(mpc_home, key_id)
        assert _ok(run_mpc(["--json", "address"], env))["address"] == address
        if settler != "sign":
            _sign_works(env, address)
        _assert_clean(mpc_home, key_id)
    finally:
        cs.stop()


def test_killed_at_random_moments(mpc_env: dict[str, str], mpc_home: Path) -> None:
    """SIGKILL the client, then the co-signer, at random moments of a refresh."""
    rng = random.Random()
    seed = rng.randrange(2**32)
    rng.seed(seed)
    cs = start_cosigner(mpc_env)
    made = _ok(run_mpc(["--json", "keygen"], cs.env))
    key_id, address = made["key_id"], made["address"]
    try:
        for victim in ("client", "daemon"):
            proc = _popen(["refresh"], cs.env)
            delay = rng.uniform(0.05, 1.5)
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                pass
            if victim == "client":
                proc.kill()
                proc.communicate(timeout=30)
            else:
                cs.kill()
                proc.communicate(timeout=60)
                cs = start_cosigner(mpc_env)
            rows = _ok(run_mpc(["--json", "keys"], cs.env))["keys"]
            assert rows[0]["cosigner"] == "holds", (seed, victim, delay, rows)
            assert rows[0]["address"] == address
            _sign_works(cs.env, address)
            assert _client_generation(mpc_home) == _cosigner_generation(mpc_home, key_id)
            _assert_clean(mpc_home, key_id)
    finally:
        cs.stop()
