"""The co-signer's registry of paired clients, its static key, the upgrade of an older home, and
what a co-signer backup carries of them (in-process: the daemon side is covered end to end by
tests/session/test_handshake_attacks.py and tests/cosigner/test_homes_and_pairing.py)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from conftest import TEST_BACKUP_PASSPHRASE, TEST_COSIGNER_PASSPHRASE

from mpcwallet.cosigner import clients, keyring
from mpcwallet.cosigner.backup import export_backup, import_backup
from mpcwallet.errors import FileFormatError, NotFound
from mpcwallet.homes.paths import CosignerPaths
from mpcwallet.homes.token import read_static_key, read_token
from mpcwallet.session.install_id import cosigner_install_id
from mpcwallet.storage.files import ensure_dir


def _home(root: Path) -> CosignerPaths:
    paths = CosignerPaths.for_home(root)
    ensure_dir(paths.root)
    return paths


def test_a_fresh_home_gets_token_static_key_and_an_empty_registry(tmp_path: Path) -> None:
    paths = _home(tmp_path / "h")
    assert clients.prepare_home(paths) is False
    for path in (paths.token_file, paths.static_key_file, paths.clients_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert clients.list_clients(paths) == []
    token, static = read_token(paths.token_file), read_static_key(paths.static_key_file)
    assert clients.prepare_home(paths) is False  # a restart changes nothing
    assert (read_token(paths.token_file), read_static_key(paths.static_key_file)) == (
        token,
        static,
    )


def test_an_old_home_that_paired_clients_replaces_its_shared_token(tmp_path: Path) -> None:
    paired = _home(tmp_path / "paired")
    (paired.token_file).write_text("ab" * 32 + "\n")
    paired.pairing_codes_dir.mkdir()  # it issued pairing codes: remote clients hold the token
    assert clients.prepare_home(paired) is True
    assert read_token(paired.token_file) != bytes.fromhex("ab" * 32)
    rotated = read_token(paired.token_file)
    assert clients.prepare_home(paired) is False and read_token(paired.token_file) == rotated
    # A home that never paired anyone keeps its token (only its own local client holds it).
    local = _home(tmp_path / "local")
    local.token_file.write_text("cd" * 32 + "\n")
    assert clients.prepare_home(local) is False
    assert read_token(local.token_file) == bytes.fromhex("cd" * 32)


def test_each_client_has_its_own_secret_and_removal_touches_no_other(tmp_path: Path) -> None:
    paths = _home(tmp_path / "h")
    clients.prepare_home(paths)
    a_id, a_secret = clients.add_client(paths, "laptop")
    b_id, b_secret = clients.add_client(paths, "build server")
    assert a_id != b_id and a_secret != b_secret
    listed = clients.list_clients(paths)
    assert [(r["id"], r["label"]) for r in listed] == [(a_id, "laptop"), (b_id, "build server")]
    assert all(set(r) == {"id", "label", "created_at"} for r in listed)
    assert clients.remove_client(paths, b_id)["label"] == "build server"
    assert clients.client_secret(paths, b_id) is None
    assert clients.client_secret(paths, a_id) == a_secret
    with pytest.raises(NotFound):
        clients.remove_client(paths, b_id)
    paths.clients_file.write_text(json.dumps({"clients": [{"id": "x"}]}))
    with pytest.raises(FileFormatError, match=r"clients\.json"):
        clients.list_clients(paths)


def test_a_cosigner_backup_carries_static_key_and_registry_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mpcwallet.storage import envelope

    # What is checked here is the identity the backup carries, not its KDF cost.
    monkeypatch.setattr(envelope, "BACKUP_KDF", envelope.KDF_FLOOR)
    src = _home(tmp_path / "src")
    clients.prepare_home(src)
    keyring.unlock(src.keyring_file, TEST_COSIGNER_PASSPHRASE)
    install_id = cosigner_install_id(src.root)
    client_id, secret = clients.add_client(src, "laptop")
    backup = tmp_path / "cosigner.backup"
    export_backup(src, TEST_COSIGNER_PASSPHRASE, TEST_BACKUP_PASSPHRASE, backup, False)
    assert secret.hex().encode() not in backup.read_bytes()  # encrypted, like the shares

    # The runbook's rebuilt co-signer: an empty home takes the backup's whole identity.
    rebuilt = _home(tmp_path / "rebuilt")
    import_backup(rebuilt, TEST_COSIGNER_PASSPHRASE, TEST_BACKUP_PASSPHRASE, backup)
    assert cosigner_install_id(rebuilt.root) == install_id
    assert read_static_key(rebuilt.static_key_file) == read_static_key(src.static_key_file)
    assert clients.client_secret(rebuilt, client_id) == secret
    assert clients.prepare_home(rebuilt) is False  # and its first start keeps all of it
    assert clients.client_secret(rebuilt, client_id) == secret

    # A home with an identity of its own keeps it: no static key or registry of another.
    other = _home(tmp_path / "other")
    clients.prepare_home(other)
    own_static = read_static_key(other.static_key_file)
    cosigner_install_id(other.root)
    import_backup(other, TEST_COSIGNER_PASSPHRASE, TEST_BACKUP_PASSPHRASE, backup)
    assert read_static_key(other.static_key_file) == own_static
    assert clients.list_clients(other) == []


def test_a_backup_with_a_malformed_registry_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mpcwallet.storage import envelope

    monkeypatch.setattr(envelope, "BACKUP_KDF", envelope.KDF_FLOOR)
    src = _home(tmp_path / "src")
    clients.prepare_home(src)
    keyring.unlock(src.keyring_file, TEST_COSIGNER_PASSPHRASE)
    cosigner_install_id(src.root)
    bad = {"static_key": "00" * 32, "clients": [{"id": "not-an-id", "secret": "00"}]}
    monkeypatch.setattr(clients, "for_backup", lambda paths: bad)
    backup = tmp_path / "bad.backup"
    export_backup(src, TEST_COSIGNER_PASSPHRASE, TEST_BACKUP_PASSPHRASE, backup, False)
    rebuilt = _home(tmp_path / "rebuilt")
    with pytest.raises(FileFormatError, match="paired-client registry is malformed"):
        import_backup(rebuilt, TEST_COSIGNER_PASSPHRASE, TEST_BACKUP_PASSPHRASE, backup)
    assert list(rebuilt.root.iterdir()) == []
