"""Which generation a co-signer backup may bring back (issue 20.7), without a daemon: the
latest generation comes from the held share, a client share in MPC_HOME, or the operator."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mpcwallet.cosigner.restore_check import check_restore, parse_expected
from mpcwallet.errors import BadInput, StaleShare
from mpcwallet.homes.paths import CosignerPaths
from mpcwallet.storage.body import ShareBody
from mpcwallet.storage.envelope import KDF_FLOOR
from mpcwallet.storage.store import save_share

A, B = "aa" * 16, "bb" * 16


def _header(key_id: str, generation: int) -> dict[str, object]:
    return {"key_id": key_id, "engine": "portable", "generation": generation}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MPC_HOME", str(tmp_path))
    return tmp_path


def _client_share(home: Path, key_id: str, generation: int) -> None:
    body = ShareBody(key_blob=b"MPCK" + os.urandom(40), auth_secret=os.urandom(32))
    save_share(home / "shares" / f"{key_id[:4]}.enc", body, _header(key_id, generation), "pw",
               params=KDF_FLOOR)  # fmt: skip


def test_parse_expected() -> None:
    assert parse_expected([f"{A}=3", f" {B.upper()} = 0 "]) == {A: 3, B: 0}
    for bad in ("nokey=1", f"{A}=-1", f"{A}", f"{A}=x", f"{A}=99999999999999999999"):
        with pytest.raises(BadInput) as info:
            parse_expected([bad])
        assert info.value.field == "expect_generation"
    with pytest.raises(BadInput, match="twice"):
        parse_expected([f"{A}=1", f"{A}=2"])


def test_unknown_generation_needs_a_source_or_allow_older(home: Path) -> None:
    paths = CosignerPaths.for_home(home)
    backup = [_header(A, 1), _header(B, 0)]
    with pytest.raises(BadInput, match=B) as info:
        check_restore(paths, backup, {A: 1}, allow_older=False)
    assert A not in info.value.message  # A is known from --expect-generation
    _client_share(home, B, 0)
    assert check_restore(paths, backup, {A: 1}, allow_older=False).unchecked == []
    plan = check_restore(paths, backup, {}, allow_older=True)
    assert plan.unchecked == [{"key_id": A, "generation": 1, "latest": None}]


def test_older_than_any_source_is_stale(home: Path) -> None:
    paths = CosignerPaths.for_home(home)
    _client_share(home, B, 2)
    with pytest.raises(StaleShare, match="client share"):
        check_restore(paths, [_header(B, 1)], {}, allow_older=False)
    with pytest.raises(StaleShare, match="--expect-generation"):
        check_restore(paths, [_header(A, 1)], {A: 4}, allow_older=False)
    plan = check_restore(paths, [_header(A, 1), _header(B, 1)], {A: 4}, allow_older=True)
    assert plan.unchecked == [
        {"key_id": A, "generation": 1, "latest": 4},
        {"key_id": B, "generation": 1, "latest": 2},
    ]
    with pytest.raises(BadInput, match="newer"):  # the operator's value contradicts the backup
        check_restore(paths, [_header(A, 3)], {A: 2}, allow_older=False)
    with pytest.raises(BadInput, match="does not hold"):
        check_restore(paths, [_header(A, 3)], {A: 3, B: 0}, allow_older=False)
