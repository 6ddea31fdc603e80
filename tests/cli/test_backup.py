"""``mpc backup export|import|verify`` through the real ``mpc``, and passphrase sourcing."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_BACKUP_PASSPHRASE, TEST_COSIGNER_PASSPHRASE, TEST_PASSPHRASE, in_ci
from support.proc import json_result, run_mpc

from mpcwallet.cli import passphrase as passphrase_module
from mpcwallet.cli.passphrase import get_passphrase
from mpcwallet.errors import BadInput, NotFound, PassphraseRequired
from mpcwallet.storage import envelope
from mpcwallet.storage.body import ShareBody
from mpcwallet.storage.envelope import BACKUP_KDF, KDF_FLOOR, read_kdf_params
from mpcwallet.storage.store import load_share, save_share

HEADER: dict[str, Any] = {
    "key_id": "key-0001",
    "role": "P1",
    "engine": "test-engine",  # no such engine: the public-key check is skipped
    "public_key": "02" + "11" * 32,
    "address": "0x" + "ab" * 20,
    "created_at": "2026-01-01T00:00:00+00:00",
}
PASSPHRASES = (TEST_PASSPHRASE, TEST_BACKUP_PASSPHRASE, TEST_COSIGNER_PASSPHRASE)


def _body() -> ShareBody:
    return ShareBody(key_blob=b"MPCK" + os.urandom(400), auth_secret=os.urandom(32))


def _needles(body: ShareBody) -> list[bytes]:
    raw = [body.key_blob, body.auth_secret, body.encode()]
    out = raw + [base64.b64encode(n) for n in raw] + [n.hex().encode() for n in raw]
    return out + [p.encode() for p in PASSPHRASES]


def _scan(root: Path, body: ShareBody, *outputs: subprocess.CompletedProcess[str]) -> int:
    """Assert no file under ``root`` and no output holds the body or a passphrase."""
    needles = _needles(body)
    seen = 0
    for path in root.rglob("*"):
        if path.is_file():
            seen += 1
            data = path.read_bytes()
            for needle in needles:
                assert needle not in data, f"secret found in {path}"
    for cp in outputs:
        text = (cp.stdout + cp.stderr).encode()
        for needle in needles:
            assert needle not in text
    return seen


@pytest.fixture
def share(mpc_home: Path) -> tuple[Path, ShareBody]:
    """A client share at the default path, written with the real share KDF."""
    body = _body()
    path = mpc_home / "shares" / "default.enc"
    save_share(path, body, HEADER, TEST_PASSPHRASE)
    return path, body


def _backup(path: Path, body: ShareBody, header: dict[str, Any] | None = None) -> Path:
    """A backup made in-process at the KDF floor (params are read from the file)."""
    full = {**(header or HEADER), "purpose": "backup", "backed_up_at": "2026-01-02T00:00:00+00:00"}
    save_share(path, body, full, TEST_BACKUP_PASSPHRASE, params=KDF_FLOOR)
    return path


def _error(cp: subprocess.CompletedProcess[str], code: str, exit_code: int) -> dict[str, Any]:
    assert cp.returncode == exit_code, (cp.stdout, cp.stderr)
    obj = json_result(cp)
    assert obj["ok"] is False
    err = obj["error"]
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"]
    assert err["kind"] in ("permanent", "transient", "violation")
    assert "Traceback" not in cp.stderr
    for secret in PASSPHRASES:
        assert secret not in cp.stdout + cp.stderr
    return dict(err)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the happy path ----------------------------------------------------------------------------


def test_export_verify_import_round_trip(
    mpc_env: dict[str, str], tmp_path: Path, share: tuple[Path, ShareBody]
) -> None:
    share_path, body = share
    backup = tmp_path / "out" / "backup.enc"
    restored = tmp_path / "restored.enc"

    exported = run_mpc(["--json", "backup", "export", "--out", str(backup)], mpc_env)
    assert exported.returncode == 0, exported.stderr
    data = json_result(exported)["data"]
    assert data["path"] == str(backup)
    assert data["share"] == str(share_path)
    assert data["key_id"] == HEADER["key_id"] and data["address"] == HEADER["address"]
    assert _mode(backup) == 0o600 and _mode(backup.parent) == 0o700
    assert read_kdf_params(backup.read_bytes()).same_cost(BACKUP_KDF)
    header = envelope.read_header(backup.read_bytes())
    assert header["purpose"] == "backup" and header["key_id"] == HEADER["key_id"]

    verified = run_mpc(["backup", "verify", "--in", str(backup), "--json"], mpc_env)
    assert verified.returncode == 0, verified.stderr
    vdata = json_result(verified)["data"]
    assert vdata["key_id"] == HEADER["key_id"]
    checks = vdata["checks"]
    assert checks["structure"] == checks["aead"] == checks["body"] == "passed"
    assert checks["public_key"].startswith("skipped")

    imported = run_mpc(
        ["backup", "import", "--in", str(backup), "--out", str(restored), "--json"], mpc_env
    )
    assert imported.returncode == 0, imported.stderr
    assert json_result(imported)["data"]["path"] == str(restored)
    assert _mode(restored) == 0o600
    restored_header, restored_body = load_share(restored, TEST_PASSPHRASE)
    assert restored_body == body
    assert restored_header == HEADER
    assert read_kdf_params(restored.read_bytes()).same_cost(envelope.SHARE_KDF)

    # Nothing any of these runs left on disk or printed holds the body or a passphrase.
    assert _scan(tmp_path, body, exported, verified, imported) >= 3
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_human_output(
    mpc_env: dict[str, str], tmp_path: Path, share: tuple[Path, ShareBody]
) -> None:
    backup = tmp_path / "b.enc"
    cp = run_mpc(["backup", "export", "--out", str(backup)], mpc_env)
    assert cp.returncode == 0, cp.stderr
    assert str(backup) in cp.stdout and HEADER["address"] in cp.stdout


def test_passphrase_files_instead_of_env(
    mpc_env: dict[str, str], tmp_path: Path, share: tuple[Path, ShareBody]
) -> None:
    env = {k: v for k, v in mpc_env.items() if k not in ("MPC_PASSPHRASE", "MPC_BACKUP_PASSPHRASE")}
    share_pw = tmp_path / "share.pw"
    share_pw.write_text(TEST_PASSPHRASE + "\n")
    backup_pw = tmp_path / "backup.pw"
    backup_pw.write_text(TEST_BACKUP_PASSPHRASE + "\r\n")
    backup = tmp_path / "b.enc"
    cp = run_mpc(
        [
            "backup",
            "export",
            "--out",
            str(backup),
            "--passphrase-file",
            str(share_pw),
            "--backup-passphrase-file",
            str(backup_pw),
            "--json",
        ],
        env,
        input="",
    )
    assert cp.returncode == 0, cp.stderr
    # the trailing newline was stripped: the backup opens with the bare passphrase
    assert load_share(backup, TEST_BACKUP_PASSPHRASE)[1] == share[1]


# --- export errors -----------------------------------------------------------------------------


def test_export_share_missing(mpc_env: dict[str, str], tmp_path: Path) -> None:
    cp = run_mpc(["backup", "export", "--out", str(tmp_path / "b.enc"), "--json"], mpc_env)
    err = _error(cp, "not_found", 5)
    assert "default.enc" in err["message"]
    assert not (tmp_path / "b.enc").exists()


def test_export_refuses_overwrite(
    mpc_env: dict[str, str], tmp_path: Path, share: tuple[Path, ShareBody]
) -> None:
    backup = tmp_path / "b.enc"
    backup.write_bytes(b"precious")
    err = _error(
        run_mpc(["backup", "export", "--out", str(backup), "--json"], mpc_env), "already_exists", 6
    )
    assert str(backup) in err["message"] and "--force" in err["message"]
    assert backup.read_bytes() == b"precious"
    cp = run_mpc(["backup", "export", "--out", str(backup), "--force", "--json"], mpc_env)
    assert cp.returncode == 0, cp.stderr
    assert load_share(backup, TEST_BACKUP_PASSPHRASE)[1] == share[1]


def test_export_wrong_share_passphrase(
    mpc_env: dict[str, str], tmp_path: Path, share: tuple[Path, ShareBody]
) -> None:
    env = {**mpc_env, "MPC_PASSPHRASE": "not the passphrase"}
    cp = run_mpc(["backup", "export", "--out", str(tmp_path / "b.enc"), "--json"], env)
    _error(cp, "wrong_passphrase", 3)
    assert not (tmp_path / "b.enc").exists()


@pytest.mark.parametrize(
    ("drop", "names"),
    [
        ("MPC_PASSPHRASE", "--passphrase-file"),
        ("MPC_BACKUP_PASSPHRASE", "--backup-passphrase-file"),
    ],
)
def test_export_passphrase_required(
    mpc_env: dict[str, str],
    tmp_path: Path,
    share: tuple[Path, ShareBody],
    drop: str,
    names: str,
) -> None:
    env = {k: v for k, v in mpc_env.items() if k != drop}
    cp = run_mpc(["backup", "export", "--out", str(tmp_path / "b.enc"), "--json"], env, input="")
    err = _error(cp, "passphrase_required", 3)
    assert drop in err["message"] and names in err["message"]
    assert not (tmp_path / "b.enc").exists()


def test_export_same_passphrase_refused(
    mpc_env: dict[str, str], tmp_path: Path, share: tuple[Path, ShareBody]
) -> None:
    env = {**mpc_env, "MPC_BACKUP_PASSPHRASE": TEST_PASSPHRASE}
    cp = run_mpc(["backup", "export", "--out", str(tmp_path / "b.enc"), "--json"], env)
    err = _error(cp, "bad_input", 2)
    assert err["field"] == "backup_passphrase"
    assert not (tmp_path / "b.enc").exists()


def test_export_of_a_backup_refused(mpc_env: dict[str, str], tmp_path: Path) -> None:
    backup = _backup(tmp_path / "b.enc", _body())
    cp = run_mpc(
        ["backup", "export", "--share", str(backup), "--out", str(tmp_path / "c.enc"), "--json"],
        mpc_env,
    )
    _error(cp, "bad_input", 2)


def test_export_tampered_share(
    mpc_env: dict[str, str], tmp_path: Path, share: tuple[Path, ShareBody]
) -> None:
    share_path = share[0]
    share_path.write_bytes(share_path.read_bytes().replace(b'"P1"', b'"P2"'))
    cp = run_mpc(["backup", "export", "--out", str(tmp_path / "b.enc"), "--json"], mpc_env)
    err = _error(cp, "tampered", 4)
    assert str(share_path) in err["message"]


def test_passphrase_file_errors(
    mpc_env: dict[str, str], tmp_path: Path, share: tuple[Path, ShareBody]
) -> None:
    out = str(tmp_path / "b.enc")
    missing = run_mpc(
        ["backup", "export", "--out", out, "--passphrase-file", str(tmp_path / "nope"), "--json"],
        mpc_env,
    )
    assert "--passphrase-file" in _error(missing, "not_found", 5)["message"]
    empty = tmp_path / "empty.pw"
    empty.write_text("\n")
    cp = run_mpc(
        ["backup", "export", "--out", out, "--passphrase-file", str(empty), "--json"], mpc_env
    )
    assert "empty" in _error(cp, "bad_input", 2)["message"]
    assert not Path(out).exists()


# --- import errors -----------------------------------------------------------------------------


def test_import_wrong_backup_passphrase(mpc_env: dict[str, str], tmp_path: Path) -> None:
    backup = _backup(tmp_path / "b.enc", _body())
    env = {**mpc_env, "MPC_BACKUP_PASSPHRASE": "wrong"}
    cp = run_mpc(["backup", "import", "--in", str(backup), "--json"], env)
    _error(cp, "wrong_passphrase", 3)
    assert not (Path(mpc_env["MPC_HOME"]) / "shares" / "default.enc").exists()


def test_import_tampered_backup(mpc_env: dict[str, str], tmp_path: Path) -> None:
    backup = _backup(tmp_path / "b.enc", _body())
    obj = json.loads(backup.read_bytes())
    obj["header"]["address"] = "0x" + "00" * 20
    rest = {k: v for k, v in obj.items() if k != "sha256"}
    obj["sha256"] = hashlib.sha256(envelope._canonical(rest)).hexdigest()
    backup.write_bytes(envelope._canonical(obj) + b"\n")
    cp = run_mpc(["backup", "import", "--in", str(backup), "--json"], mpc_env)
    _error(cp, "tampered", 4)
    assert not (Path(mpc_env["MPC_HOME"]) / "shares").exists()


def test_import_refuses_overwrite_and_shares(
    mpc_env: dict[str, str], tmp_path: Path, share: tuple[Path, ShareBody]
) -> None:
    share_path, _ = share
    before = share_path.read_bytes()
    backup = _backup(tmp_path / "b.enc", _body())
    cp = run_mpc(["backup", "import", "--in", str(backup), "--json"], mpc_env)
    message = _error(cp, "already_exists", 6)["message"]
    assert "mpc key retire default" in message and "--force" not in message
    forced = run_mpc(["backup", "import", "--in", str(backup), "--force", "--json"], mpc_env)
    _error(forced, "already_exists", 6)
    assert share_path.read_bytes() == before
    not_backup = run_mpc(
        ["backup", "import", "--in", str(share_path), "--out", str(tmp_path / "s.enc"), "--json"],
        mpc_env,
    )
    _error(not_backup, "bad_input", 2)


def test_import_backup_passphrase_required(mpc_env: dict[str, str], tmp_path: Path) -> None:
    backup = _backup(tmp_path / "b.enc", _body())
    env = {k: v for k, v in mpc_env.items() if k != "MPC_BACKUP_PASSPHRASE"}
    cp = run_mpc(["backup", "import", "--in", str(backup), "--json"], env, input="")
    assert "MPC_BACKUP_PASSPHRASE" in _error(cp, "passphrase_required", 3)["message"]


# --- verify errors -----------------------------------------------------------------------------


def _rewrite(path: Path, **params: Any) -> None:
    obj = json.loads(path.read_bytes())
    obj["kdf_params"].update(params)
    rest = {k: v for k, v in obj.items() if k != "sha256"}
    obj["sha256"] = hashlib.sha256(envelope._canonical(rest)).hexdigest()
    path.write_bytes(envelope._canonical(obj) + b"\n")


def test_verify_error_paths(mpc_env: dict[str, str], tmp_path: Path) -> None:
    def verify(path: Path, env: dict[str, str] = mpc_env) -> subprocess.CompletedProcess[str]:
        return run_mpc(["backup", "verify", "--in", str(path), "--json"], env)

    assert str(tmp_path / "nope") in _error(verify(tmp_path / "nope"), "not_found", 5)["message"]
    garbage = tmp_path / "garbage.enc"
    garbage.write_text("hello")
    _error(verify(garbage), "bad_file", 2)
    weak = _backup(tmp_path / "weak.enc", _body())
    _rewrite(weak, t=1, m=8)
    assert _error(verify(weak), "kdf_params_too_weak", 2)["field"] == "kdf_params"
    flipped = _backup(tmp_path / "flipped.enc", _body())
    data = bytearray(flipped.read_bytes())
    data[data.index(b'"ciphertext":"') + 20] ^= 0x01
    flipped.write_bytes(bytes(data))
    _error(verify(flipped), "tampered", 4)
    ok = _backup(tmp_path / "ok.enc", _body())
    _error(verify(ok, {**mpc_env, "MPC_BACKUP_PASSPHRASE": "wrong"}), "wrong_passphrase", 3)


def test_verify_checks_the_public_key_with_a_real_engine(
    mpc_env: dict[str, str], tmp_path: Path
) -> None:
    from mpcwallet.engine import available_engines, get_engine
    from mpcwallet.engine.memory import run_two_party

    engines = available_engines()
    if not engines:
        reason = "no engine loads here (cb-mpc absent and the portable engine failed to load)"
        if in_ci():
            pytest.fail(reason)  # the portable engine must always load
        pytest.skip(reason)
    engine = get_engine(engines[0])
    blob1, _ = run_two_party(engine.dkg, engine.dkg)
    body = ShareBody(key_blob=blob1, auth_secret=os.urandom(32))
    header = {**HEADER, "engine": engine.name, "public_key": engine.public_key(blob1).hex()}
    good = _backup(tmp_path / "good.enc", body, header)
    cp = run_mpc(["backup", "verify", "--in", str(good), "--json"], mpc_env)
    assert cp.returncode == 0, cp.stderr
    assert json_result(cp)["data"]["checks"]["public_key"] == "passed"

    other_pk = "03" + "22" * 32
    bad = _backup(tmp_path / "bad.enc", body, {**header, "public_key": other_pk})
    cp = run_mpc(["backup", "verify", "--in", str(bad), "--json"], mpc_env)
    _error(cp, "inconsistent_share", 4)
    _scan(tmp_path, body, cp)


# --- passphrase sourcing (in-process; the terminal is the boundary) ----------------------------


def test_passphrase_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MPC_PASSPHRASE", "from-env")
    pw_file = tmp_path / "pw"
    pw_file.write_text("from-file\n\n")
    assert get_passphrase("share", passphrase_file=pw_file, confirm=False) == "from-file\n"
    assert get_passphrase("share", passphrase_file=None, confirm=False) == "from-env"
    monkeypatch.setenv("MPC_COSIGNER_PASSPHRASE", "cosigner-env")
    assert get_passphrase("cosigner", passphrase_file=None, confirm=False) == "cosigner-env"
    monkeypatch.setenv("MPC_PASSPHRASE", "")
    with pytest.raises(BadInput):
        get_passphrase("share", passphrase_file=None, confirm=False)
    with pytest.raises(NotFound):
        get_passphrase("share", passphrase_file=tmp_path / "missing", confirm=False)


class _Tty:
    def isatty(self) -> bool:
        return True


def test_prompt_when_interactive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MPC_BACKUP_PASSPHRASE", raising=False)
    monkeypatch.setattr(passphrase_module.sys, "stdin", _Tty())
    answers = iter(["typed secret", "typed secret", "a", "b", ""])
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr(passphrase_module.getpass, "getpass", fake_getpass)
    assert get_passphrase("backup", passphrase_file=None, confirm=True) == "typed secret"
    assert len(prompts) == 2 and "backup" in prompts[0].lower()
    with pytest.raises(BadInput, match="differ"):
        get_passphrase("backup", passphrase_file=None, confirm=True)
    with pytest.raises(BadInput, match="empty"):
        get_passphrase("backup", passphrase_file=None, confirm=False)


def test_no_tty_no_env_is_passphrase_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MPC_COSIGNER_PASSPHRASE", raising=False)

    class _Pipe:
        def isatty(self) -> bool:
            return False

    monkeypatch.setattr(passphrase_module.sys, "stdin", _Pipe())
    with pytest.raises(PassphraseRequired) as info:
        get_passphrase("cosigner", passphrase_file=None, confirm=False)
    assert "MPC_COSIGNER_PASSPHRASE" in info.value.message
    assert "--passphrase-file" in info.value.message


def test_interactive_prompts_are_hidden_and_confirmed(
    mpc_env: dict[str, str], tmp_path: Path
) -> None:
    """A real pseudo-terminal: prompts appear, typed passphrases are not echoed, confirmation."""
    import pty
    import select
    import time

    from support.proc import mpc_cmd

    body = _body()
    backup = _backup(tmp_path / "b.enc", body)
    restored = tmp_path / "restored.enc"
    new_pw = b"typed share passphrase 9"
    env = {k: v for k, v in mpc_env.items() if k not in ("MPC_PASSPHRASE", "MPC_BACKUP_PASSPHRASE")}
    argv = [*mpc_cmd(), "backup", "import", "--in", str(backup), "--out", str(restored)]
    pid, fd = pty.fork()
    if pid == 0:  # child: becomes the session leader with the pty as its terminal
        try:
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    transcript = b""

    def read_until(marker: bytes | None, timeout: float = 30.0) -> None:
        nonlocal transcript
        deadline = time.monotonic() + timeout
        while marker is None or marker not in transcript:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {marker!r}; got {transcript!r}"
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            if not chunk:
                assert marker is None, f"EOF before {marker!r}; got {transcript!r}"
                return
            transcript += chunk

    try:
        read_until(b"Backup passphrase (unlocks the backup file):")
        os.write(fd, TEST_BACKUP_PASSPHRASE.encode() + b"\n")
        read_until(b"New share passphrase (protects your key share):")
        os.write(fd, new_pw + b"\n")
        read_until(b"Repeat the share passphrase:")
        os.write(fd, new_pw + b"\n")
        read_until(None)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, transcript
    assert TEST_BACKUP_PASSPHRASE.encode() not in transcript
    assert new_pw not in transcript
    assert b"restored to" in transcript
    assert load_share(restored, new_pw.decode())[1] == body
