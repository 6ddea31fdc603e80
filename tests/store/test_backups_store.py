"""Share points and node backups in the session store (issue 25), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from mpcwallet.errors import BadInput, NotFound
from mpcwallet.store import Store
from mpcwallet.store.backups import BackupRecord

POINTS = {"n1": "02" + "11" * 32, "n2": "03" + "22" * 32, "n3": "02" + "33" * 32}
FP = "ab" * 16


def _keyset(store: Store) -> None:
    store.create_keyset("ks1", "wallet-1", 2, 3, ["n1", "n2", "n3"])


def _backup(gen: int, party: str = "n1", ct: bytes = b"\x01" * 64) -> BackupRecord:
    return BackupRecord("ks1", party, gen, FP, b"label", ct, b"\x02" * 80)


def test_share_points_and_generations(store: Store) -> None:
    _keyset(store)
    assert store.current_generation("ks1") is None
    store.record_share_points("ks1", 0, POINTS, now=1)
    store.record_share_points("ks1", 0, POINTS, now=2)  # the same again: nothing changes
    store.record_share_points("ks1", 1, {**POINTS, "n1": "03" + "44" * 32})
    assert store.current_generation("ks1") == 1
    assert store.share_points("ks1", 0) == POINTS
    with pytest.raises(BadInput, match="another share point"):
        store.record_share_points("ks1", 0, {**POINTS, "n2": "02" + "55" * 32})
    with pytest.raises(BadInput, match="exactly the parties"):
        store.record_share_points("ks1", 2, {"n1": POINTS["n1"]})
    with pytest.raises(BadInput, match="66 lowercase hex"):
        store.record_share_points("ks1", 2, {**POINTS, "n3": "secret"})
    with pytest.raises(NotFound):
        store.record_share_points("ks-none", 0, POINTS)


def test_backups_latest_wins_and_a_remake_replaces(store: Store) -> None:
    _keyset(store)
    assert store.latest_backup("ks1", "n1") is None
    store.put_backup(_backup(0), now=5)
    store.put_backup(_backup(1), now=6)
    store.put_backup(_backup(0, "n2"), now=7)
    latest = store.latest_backup("ks1", "n1")
    assert latest == _backup(1).__class__(**{**_backup(1).__dict__, "created_at": 6})
    again = store.put_backup(_backup(1, ct=b"\x03" * 64), now=8)
    assert again.ciphertext == b"\x03" * 64 and again.created_at == 8
    assert store.latest_backup("ks1", "n2") is not None
    with pytest.raises(BadInput, match="fingerprint"):
        store.put_backup(BackupRecord("ks1", "n1", 2, "not-a-fp", b"", b"", b""))
    with pytest.raises(BadInput, match="no key set"):
        store.put_backup(BackupRecord("ks-none", "n1", 0, FP, b"l", b"c", b"p"))
