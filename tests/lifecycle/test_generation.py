"""Generations in share headers and the refresh self-test digest (pure, in-process)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from mpcwallet.errors import FileFormatError, PolicyRefused
from mpcwallet.storage.generation import generation_of, selftest_digest

KEY_ID = "0123456789abcdef0123456789abcdef"


def test_generation_defaults_to_zero_and_rejects_garbage() -> None:
    assert generation_of({}) == 0
    assert generation_of({"generation": 7}) == 7
    for bad in (-1, "1", 1.0, True, None, 2**63):
        with pytest.raises(FileFormatError):
            generation_of({"generation": bad})


def test_selftest_digest_is_domain_separated_and_bound_to_key_and_generation() -> None:
    expected = hashlib.sha256(
        b"mpcwallet refresh self-test v1" + bytes.fromhex(KEY_ID) + (3).to_bytes(8, "big")
    ).digest()
    assert selftest_digest(KEY_ID, 3) == expected
    assert selftest_digest(KEY_ID, 4) != expected
    assert selftest_digest("f" * 32, 3) != expected


def test_the_cosigner_signs_the_selftest_digest_in_no_other_operation(tmp_path: Path) -> None:
    from mpcwallet.cosigner.keystore import KeyStore
    from mpcwallet.cosigner.service import Service
    from mpcwallet.engine import get_engine
    from mpcwallet.homes.paths import CosignerPaths
    from mpcwallet.storage.body import ShareBody
    from mpcwallet.storage.envelope import KDF_FLOOR, KdfParams, derive_key

    kek = derive_key("test", KdfParams.fresh(KDF_FLOOR))
    store = KeyStore(CosignerPaths.for_home(tmp_path), kek)
    store.save_pending(KEY_ID, {"key_id": KEY_ID, "generation": 5}, ShareBody(b"x", b""))
    store.commit(KEY_ID)
    service = Service(get_engine("portable"), store, os.urandom(32), "test-install")
    for generation in (5, 6):
        with pytest.raises(PolicyRefused, match="self-test"):
            service._refuse_selftest_digest(KEY_ID, selftest_digest(KEY_ID, generation))
    service._refuse_selftest_digest(KEY_ID, os.urandom(32))  # any other digest passes
