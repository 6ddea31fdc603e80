"""Keys by name (`mpc keys`, `--key`, the default key) and stale shares and backups."""

from __future__ import annotations

import shutil
from pathlib import Path

from support.cosigner import Cosigner
from support.proc import error_of as _err
from support.proc import ok_data as _ok
from support.proc import run_mpc

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tx.json"


def test_keys_by_name_and_stale_shares_and_backups(
    cosigner: Cosigner, mpc_home: Path, tmp_path: Path
) -> None:
    env = cosigner.env
    mpc = lambda *args: run_mpc(["--json", *args], env)  # noqa: E731
    alpha = _ok(mpc("keygen", "--name", "alpha"))
    # The only key is the default one.
    assert _ok(mpc("address"))["address"] == alpha["address"]
    beta = _ok(mpc("keygen", "--name", "beta"))
    error = _err(mpc("address"), 2, "bad_input")
    assert "alpha, beta" in error["message"] and "--key" in error["message"]
    assert _ok(mpc("address", "--key", "beta"))["address"] == beta["address"]
    missing = _err(mpc("address", "--key", "gamma"), 5, "not_found")
    assert "alpha, beta" in missing["message"]
    _err(mpc("address", "--key", "alpha", "--share", "x.enc"), 2, "bad_input")
    rows = _ok(mpc("keys"))["keys"]
    assert [(r["name"], r["address"], r["generation"], r["cosigner"], r["quarantined"])
            for r in rows] == [
        ("alpha", alpha["address"], 0, "holds", False),
        ("beta", beta["address"], 0, "holds", False),
    ]  # fmt: skip
    assert all(r["engine"] == cosigner.engine for r in rows)

    # Stale after a refresh: an old copy of the share and a pre-refresh backup are refused.
    share = mpc_home / "shares" / "alpha.enc"
    old_copy = tmp_path / "old-alpha.enc"
    shutil.copy(share, old_copy)
    old_backup = tmp_path / "alpha-gen0.backup"
    _ok(mpc("backup", "export", "--key", "alpha", "--out", str(old_backup)))
    assert _ok(mpc("refresh", "--key", "alpha"))["generation"] == 1
    stale = _err(mpc("sign", "--tx", str(EXAMPLE), "--share", str(old_copy)), 11, "stale_share")
    assert "generation 0" in stale["message"] and "generation 1" in stale["message"]
    restored = tmp_path / "restored.enc"
    stale = _err(mpc("backup", "import", "--in", str(old_backup), "--out", str(restored)), 11,
                 "stale_share")  # fmt: skip
    assert "stale backup" in stale["message"] and not restored.exists()
    new_backup = tmp_path / "alpha-gen1.backup"
    _ok(mpc("backup", "export", "--key", "alpha", "--out", str(new_backup)))
    _ok(mpc("backup", "import", "--in", str(new_backup), "--out", str(restored)))
    signed = _ok(mpc("sign", "--tx", str(EXAMPLE), "--share", str(restored)))
    assert signed["from"] == alpha["address"]
    # Import never replaces a share, --force or not.
    again = _err(mpc("backup", "import", "--in", str(new_backup), "--out", str(share),
                     "--force"), 6, "already_exists")  # fmt: skip
    assert "mpc key retire" in again["message"]
    # A backup never lands on a share either.
    beta_share = mpc_home / "shares" / "beta.enc"
    before = beta_share.read_bytes()
    onto = _err(mpc("backup", "export", "--key", "alpha", "--out", str(beta_share), "--force"),
                6, "already_exists")  # fmt: skip
    assert "mpc key retire beta" in onto["message"] and beta_share.read_bytes() == before
    # Nothing but shares in shares/, after all of the above (failures included).
    assert sorted(p.name for p in (mpc_home / "shares").iterdir()) == ["alpha.enc", "beta.enc"]
