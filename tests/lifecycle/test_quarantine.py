"""Quarantine fails closed: a violation stays exit 9 when a record cannot be written, the key is
quarantined by key id under MPC_HOME, and copies of the share are refused too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from support.cosigner import running_cosigner
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

        error = _err(run_mpc(["--json", "sign", "--tx", str(EXAMPLE)], env), 9)
        assert error["kind"] == "violation"
        by_id = mpc_home / "quarantine" / f"{key_id}.json"
        assert str(by_id) in error["message"] and "could not be written" in error["message"]
        assert json.loads(by_id.read_text())["error_code"] == error["code"]
        assert (by_id.stat().st_mode & 0o777) == 0o600

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
