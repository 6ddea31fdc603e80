"""mpcwallet.storage.store: shares on disk are envelopes only; errors name the file."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from mpcwallet.errors import AlreadyExists, TamperedFile, WrongPassphrase
from mpcwallet.storage.body import ShareBody
from mpcwallet.storage.envelope import KDF_FLOOR, KdfParams, derive_key
from mpcwallet.storage.store import (
    load_header,
    load_kdf_params,
    load_share,
    load_share_with_key,
    save_share,
    save_share_with_key,
)

PW = "store passphrase 1"
BODY = ShareBody(key_blob=b"MPCK-blob-" + bytes(range(256)), auth_secret=b"A" * 32)
HEADER = {"key_id": "k", "role": "P2", "engine": "portable", "address": "0x00"}


def _assert_no_plaintext(directory: Path) -> None:
    needles = [BODY.key_blob, BODY.auth_secret, BODY.encode(), PW.encode()]
    needles += [base64.b64encode(n) for n in needles] + [n.hex().encode() for n in needles]
    for path in directory.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for needle in needles:
                assert needle not in data, f"secret bytes found in {path}"


def test_save_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "shares" / "default.enc"
    save_share(path, BODY, HEADER, PW, params=KDF_FLOOR)
    assert load_header(path) == HEADER
    assert load_kdf_params(path).same_cost(KDF_FLOOR)
    header, body = load_share(path, PW)
    assert header == HEADER and body == BODY
    _assert_no_plaintext(tmp_path)
    with pytest.raises(AlreadyExists):
        save_share(path, BODY, HEADER, PW, params=KDF_FLOOR)
    save_share(path, BODY, {**HEADER, "key_id": "k2"}, PW, params=KDF_FLOOR, force=True)
    assert load_header(path)["key_id"] == "k2"


def test_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.enc"
    save_share(path, BODY, HEADER, PW, params=KDF_FLOOR)
    with pytest.raises(WrongPassphrase) as info:
        load_share(path, "other")
    assert str(path) in info.value.message
    path.write_bytes(path.read_bytes().replace(b'"P2"', b'"P1"'))
    with pytest.raises(TamperedFile) as tampered:
        load_header(path)
    assert str(path) in tampered.value.message


def test_with_key_for_the_cosigner(tmp_path: Path) -> None:
    key = derive_key(PW, KdfParams.fresh(KDF_FLOOR))
    paths = [tmp_path / "cosigner" / f"{i}.enc" for i in range(3)]
    for i, path in enumerate(paths):
        save_share_with_key(path, BODY, {**HEADER, "key_id": str(i)}, key)
    for i, path in enumerate(paths):
        assert load_share_with_key(path, key) == ({**HEADER, "key_id": str(i)}, BODY)
    # the unlock step can re-derive the same key from any file's params
    assert derive_key(PW, load_kdf_params(paths[0])).params == key.params
    _assert_no_plaintext(tmp_path)
