"""Co-signer backups (export, verify, import into a fresh co-signer home; stale refused) and
`mpc cosigner keys` (orphans, remove)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import TEST_BACKUP_PASSPHRASE, TEST_COSIGNER_PASSPHRASE, TEST_PASSPHRASE
from support.cosigner import assert_no_secrets, running_cosigner, wait_for
from support.proc import error_of as _err
from support.proc import mpc_cmd, run_mpc
from support.proc import ok_data as _ok

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tx.json"


def test_cosigner_backup_round_trip_stale_and_orphans(
    mpc_env: dict[str, str], mpc_home: Path, tmp_path: Path
) -> None:
    b0, b1 = tmp_path / "cosigner-gen0.backup", tmp_path / "cosigner-gen1.backup"
    with running_cosigner(mpc_env) as cs:
        mpc = lambda *a: run_mpc(["--json", *a], cs.env)  # noqa: E731
        one = _ok(mpc("keygen", "--name", "one"))
        two = _ok(mpc("keygen", "--name", "two"))
        _ok(mpc("cosigner", "backup", "export", "--out", str(b0)))
        assert (b0.stat().st_mode & 0o777) == 0o600
        checked = _ok(mpc("cosigner", "backup", "verify", "--in", str(b0)))
        assert sorted(k["key_id"] for k in checked["keys"]) == sorted(
            [one["key_id"], two["key_id"]]
        )
        assert all(k["public_key"] == "passed" for k in checked["keys"])
        wrong_tool = _err(mpc("backup", "verify", "--in", str(b0)), 2, "bad_input")
        assert "mpc cosigner backup" in wrong_tool["message"]
        trail = _ok(mpc("cosigner", "audit", "show"))["records"]
        assert sorted(r["key_id"] for r in trail if r["event"] == "backup_exported") == sorted(
            [one["key_id"], two["key_id"]]
        )
        c0 = tmp_path / "one-gen0.backup"
        _ok(mpc("backup", "export", "--key", "one", "--out", str(c0)))
        assert _ok(mpc("backup", "verify", "--in", str(c0)))["checks"]["generation"] == "current"
        _ok(mpc("refresh", "--key", "one"))
        _ok(mpc("cosigner", "backup", "export", "--out", str(b1)))
        # A client backup made before the refresh is stale, and verify says so (issue 20.7).
        stale_client = _err(mpc("backup", "verify", "--in", str(c0)), 11, "stale_share")
        assert "stale" in stale_client["message"] and "generation 1" in stale_client["message"]
        listed = _ok(mpc("cosigner", "keys"))["keys"]
        assert [(k["key_id"], k["orphan"]) for k in listed] == sorted(
            [(one["key_id"], False), (two["key_id"], False)]
        )
        # An orphan: the client is killed right after the co-signer committed its keygen.
        pause = tmp_path / "pause"
        pause.mkdir()
        env = dict(cs.env, MPC_TEST_PAUSE_AT="client_after_commit", MPC_TEST_PAUSE_DIR=str(pause))
        proc = subprocess.Popen(
            [*mpc_cmd(), "--json", "keygen", "--name", "three"], env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        wait_for(lambda: (pause / "client_after_commit.reached").exists(), 60, "pause")
        proc.kill()
        proc.communicate()
        orphans = [k for k in _ok(mpc("cosigner", "keys"))["keys"] if k["orphan"]]
        assert len(orphans) == 1 and orphans[0]["name"] == "three"
        orphan_id = orphans[0]["key_id"]
        _err(mpc("cosigner", "keys", "remove", orphan_id), 2, "bad_input")
        removed = _ok(mpc("cosigner", "keys", "remove", orphan_id, "--yes-i-understand"))
        assert Path(removed["removed_to"]).exists()
        assert orphan_id not in [k["key_id"] for k in _ok(mpc("cosigner", "keys"))["keys"]]
    (mpc_home / "shares" / "three.enc.pending").unlink(missing_ok=True)

    # A co-signer rebuilt on another machine: an empty home with no client share to compare
    # with. The stale backup must not come back silently (issue 20.7): the key's latest
    # generation has to come from outside the backup, or the operator says --allow-older.
    rebuilt = dict(mpc_env, MPC_HOME=str(tmp_path / "rebuilt"))
    cosigner_import = ["--json", "cosigner", "backup", "import", "--in"]
    unknown = _err(run_mpc([*cosigner_import, str(b0)], rebuilt), 2, "bad_input")
    assert "--expect-generation" in unknown["message"] and one["key_id"] in unknown["message"]
    assert not list((tmp_path / "rebuilt").glob("cosigner/shares/*.enc"))
    expect = ["--expect-generation", f"{one['key_id']}=1", "--expect-generation",
              f"{two['key_id']}=0"]  # fmt: skip
    older = _err(run_mpc([*cosigner_import, str(b0), *expect], rebuilt), 11, "stale_share")
    assert one["key_id"] in older["message"] and "generation 0" in older["message"]
    assert not list((tmp_path / "rebuilt").glob("cosigner/shares/*.enc"))
    allowed = run_mpc(["cosigner", "backup", "import", "--in", str(b0), "--allow-older"], rebuilt)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert f"{one['key_id']}" in allowed.stdout and "generation 0" in allowed.stdout
    assert "not checked" in allowed.stdout + allowed.stderr
    fresh = dict(mpc_env, MPC_HOME=str(tmp_path / "rebuilt-2"))
    good = _ok(run_mpc([*cosigner_import, str(b1), *expect], fresh))
    assert sorted(k["generation"] for k in good["restored"]) == [0, 1]

    # The co-signer machine is lost: a fresh co-signer home.
    (mpc_home / "cosigner").rename(tmp_path / "lost-cosigner")
    stale = _err(run_mpc(["--json", "cosigner", "backup", "import", "--in", str(b0)], mpc_env),
                 11, "stale_share")  # fmt: skip
    assert "predates a refresh" in stale["message"]
    assert not list((mpc_home / "cosigner" / "shares").glob("*.enc"))
    restored = _ok(run_mpc(["--json", "cosigner", "backup", "import", "--in", str(b1)], mpc_env))
    assert len(restored["restored"]) == 2
    audit = _ok(run_mpc(["--json", "cosigner", "audit", "show"], mpc_env))["records"]
    assert sorted(r["key_id"] for r in audit if r["event"] == "backup_imported") == sorted(
        [one["key_id"], two["key_id"]]
    )
    _ok(run_mpc(["--json", "cosigner", "audit", "verify"], mpc_env))
    with running_cosigner(mpc_env) as cs2:
        for name, made in (("one", one), ("two", two)):
            signed = _ok(run_mpc(["--json", "sign", "--key", name, "--tx", str(EXAMPLE)], cs2.env))
            assert signed["from"] == made["address"]
    secrets = {
        "share passphrase": TEST_PASSPHRASE.encode(),
        "backup passphrase": TEST_BACKUP_PASSPHRASE.encode(),
        "co-signer passphrase": TEST_COSIGNER_PASSPHRASE.encode(),
    }
    assert_no_secrets([mpc_home, b0, b1], secrets)
