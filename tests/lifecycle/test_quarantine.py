"""Quarantine fails closed: no session starts unless its quarantine can be recorded, a violation
stays exit 9 when one record cannot be written, the key is quarantined by key id under MPC_HOME,
copies of the share are refused too, and the co-signer records the signature as failed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.cosigner import running_cosigner, wait_for
from support.proc import error_of as _err
from support.proc import json_result, run_mpc

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tx.json"


def test_failed_quarantine_write_still_violates_and_copies_are_refused(
    mpc_env: dict[str, str], mpc_home: Path, tmp_path: Path
) -> None:
    with running_cosigner(dict(mpc_env, MPC_TEST_TAMPER="sign")) as bad:
        env = {k: v for k, v in bad.env.items() if k != "MPC_TEST_TAMPER"}
        made = run_mpc(["--json", "keygen"], env)
        assert made.returncode == 0, made.stdout
        key_id = json_result(made)["data"]["key_id"]
        share = mpc_home / "shares" / "default.enc"
        copy = tmp_path / "elsewhere" / "copy.enc"
        copy.parent.mkdir()
        shutil.copy(share, copy)
        link = tmp_path / "elsewhere" / "link.enc"
        link.symlink_to(share)
        # The record next to the share cannot be written (a directory is in the way).
        blocker = Path(str(share) + ".quarantine")
        blocker.mkdir()
        # Nor can the one by key id (a directory in its place too; root ignores modes, so modes
        # cannot make a location unwritable here). Issue 20.8: the session must not start, so
        # the tampering co-signer never runs, and no attempt runs while this lasts.
        by_id_blocker = mpc_home / "quarantine" / f"{key_id}.json"
        by_id_blocker.mkdir(parents=True)
        for _ in range(2):
            cannot = _err(run_mpc(["--json", "sign", "--tx", str(EXAMPLE)], env), 7)
            assert cannot["code"] == "quarantine_unavailable", cannot
            assert str(by_id_blocker) in cannot["message"]
        sessions = json_result(run_mpc(["--json", "cosigner", "sessions"], env))["data"]
        assert [r["op"] for r in sessions["sessions"]] == ["keygen"]
        by_id_blocker.rmdir()

        error = _err(run_mpc(["--json", "sign", "--tx", str(EXAMPLE)], env), 9)
        assert error["kind"] == "violation"
        by_id = mpc_home / "quarantine" / f"{key_id}.json"
        assert str(by_id) in error["message"] and "could not be written" in error["message"]
        assert json.loads(by_id.read_text())["error_code"] == error["code"]
        assert (by_id.stat().st_mode & 0o777) == 0o600
        # Issue 20.9: P1 rejected the signature, so the co-signer records it as failed, in its
        # audit trail and its session records, on either engine.
        session = json.loads(by_id.read_text())["session_id"][:32]

        def outcome() -> list[str]:
            trail = json_result(run_mpc(["--json", "cosigner", "audit", "show"], env))["data"]
            return [r["event"] for r in trail["records"] if r.get("session") == session
                    and r["event"] in ("sign_completed", "sign_failed")]  # fmt: skip

        wait_for(lambda: bool(outcome()), 60, "the co-signer's record of the signature")
        assert outcome() == ["sign_failed"]
        rows = json_result(run_mpc(["--json", "cosigner", "sessions"], env))["data"]["sessions"]
        [row] = [r for r in rows if r["session"] == session]
        assert row["status"] == "failed" and row["code"] == error["code"], row

        # Refused from now on: the share, a copy and a symlink (the check is by key id).
        for path in (share, copy, link):
            refused = _err(
                run_mpc(["--json", "sign", "--tx", str(EXAMPLE), "--share", str(path)], env), 7
            )
            assert refused["code"] == "key_quarantined"
        status = _err(run_mpc(["--json", "key", "status", "--share", str(copy)], env), 7)
        assert status["code"] == "key_quarantined"
        health = _err(run_mpc(["--json", "health", "--share", str(share)], env), 7)
        assert "quarantined" in health["message"]
        rows = json_result(run_mpc(["--json", "keys"], env))["data"]["keys"]
        assert rows[0]["quarantined"] is True and rows[0]["quarantine"]["error_code"]

        blocker.rmdir()
        lifted = run_mpc(["--json", "key", "unquarantine", "--yes-i-understand"], env)
        assert lifted.returncode == 0, lifted.stdout
        assert not by_id.exists()
        ok = run_mpc(["--json", "key", "status", "--share", str(copy)], env)
        assert ok.returncode == 0, ok.stdout


def test_no_session_without_a_writable_quarantine_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 20.8, in process: the probe fails for a file where the directory should be, a
    directory where the record should be, and passes (leaving nothing) otherwise."""
    from mpcwallet.errors import QuarantineUnavailable
    from mpcwallet.lifecycle.quarantine import ensure_can_quarantine

    monkeypatch.setenv("MPC_HOME", str(tmp_path))
    key_id, share = "cd" * 16, tmp_path / "s.enc"
    (tmp_path / "quarantine").write_text("a file, not a directory\n")
    with pytest.raises(QuarantineUnavailable, match="quarantine"):
        ensure_can_quarantine(share, key_id)
    (tmp_path / "quarantine").unlink()
    (tmp_path / "quarantine" / f"{key_id}.json").mkdir(parents=True)
    with pytest.raises(QuarantineUnavailable, match="in the way"):
        ensure_can_quarantine(share, key_id)
    (tmp_path / "quarantine" / f"{key_id}.json").rmdir()
    ensure_can_quarantine(share, key_id)
    assert list((tmp_path / "quarantine").iterdir()) == []
