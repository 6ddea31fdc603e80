"""mpcwallet.wallet.ports: the CLI's keyring pays Argon2id once per command, never for a
changed file or another passphrase."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from mpcwallet.errors import MpcError, WrongPassphrase
from mpcwallet.storage.body import ShareBody
from mpcwallet.storage.envelope import KDF_FLOOR
from mpcwallet.storage.store import save_share
from mpcwallet.wallet.ports import PassphraseKeyring

PW = "ports passphrase 1"
BODY = ShareBody(key_blob=b"MPCK-blob-" + bytes(range(64)), auth_secret=b"A" * 32)
HEADER = {"key_id": "k", "role": "P1", "engine": "portable", "address": "0x00"}


def _typed(value: str) -> Callable[[Path, Callable[[str], object] | None], str]:
    """A passphrase source that checks what it is given, as the prompt does."""

    def source(path: Path, verify: Callable[[str], object] | None) -> str:
        if verify is not None:
            verify(value)
        return value

    return source


def test_the_verified_decryption_serves_the_open_that_follows(tmp_path: Path) -> None:
    path = tmp_path / "default.enc"
    save_share(path, BODY, HEADER, PW, params=KDF_FLOOR)
    keys = PassphraseKeyring(_typed(PW))
    passphrase = keys.passphrase(path, verify=True)
    # Garble the file in place, keeping inode, size and mtime: an open that decrypted again
    # would fail; the one that follows the verification does not read it.
    st = path.stat()
    with path.open("r+b") as f:
        f.write(b"x" * st.st_size)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    header, body = keys.open(path, passphrase)
    assert header["key_id"] == "k" and body == BODY
    with pytest.raises(MpcError):  # a second open decrypts (and fails) again
        keys.open(path, passphrase)


def test_a_rewritten_file_is_decrypted_again(tmp_path: Path) -> None:
    path = tmp_path / "default.enc"
    save_share(path, BODY, HEADER, PW, params=KDF_FLOOR)
    keys = PassphraseKeyring(_typed(PW))
    passphrase = keys.passphrase(path, verify=True)
    save_share(path, BODY, {**HEADER, "key_id": "k2"}, PW, params=KDF_FLOOR, force=True)
    header, _ = keys.open(path, passphrase)
    assert header["key_id"] == "k2"


def test_another_passphrase_is_checked_by_decryption(tmp_path: Path) -> None:
    path = tmp_path / "default.enc"
    save_share(path, BODY, HEADER, PW, params=KDF_FLOOR)
    keys = PassphraseKeyring(_typed(PW))
    keys.passphrase(path, verify=True)
    with pytest.raises(WrongPassphrase):
        keys.open(path, "not the passphrase")
