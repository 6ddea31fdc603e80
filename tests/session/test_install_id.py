"""Install ids: drawn once, 0600, stable, refused when damaged."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from mpcwallet.errors import FileFormatError
from mpcwallet.session.install_id import client_install_id, cosigner_install_id


def test_created_once_0600_and_distinct_per_side(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = client_install_id(home)
    assert client_install_id(home) == first and len(first) == 32
    assert stat.S_IMODE((home / "install.id").stat().st_mode) == 0o600
    other = cosigner_install_id(home / "cosigner")
    assert other != first
    assert stat.S_IMODE((home / "cosigner").stat().st_mode) == 0o700


def test_a_damaged_install_id_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "install.id"
    path.write_text("not-an-id\n")
    with pytest.raises(FileFormatError, match=r"install\.id"):
        client_install_id(tmp_path)
