"""mpcwallet.storage.files: atomic 0600 writes, no overwrite without force, bounded reads."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpcwallet.errors import AlreadyExists, BadInput, FileFormatError, NotFound
from mpcwallet.storage import files
from mpcwallet.storage.files import read_share_file, write_atomic, write_new

OLD = b"old content\n"
NEW = b"new content\n"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_new_file_is_0600_and_new_dirs_0700(tmp_path: Path, loose_umask: None) -> None:
    target = tmp_path / "a" / "b" / "share.enc"
    write_atomic(target, NEW)
    assert target.read_bytes() == NEW
    assert _mode(target) == 0o600
    assert _mode(tmp_path / "a") == 0o700
    assert _mode(tmp_path / "a" / "b") == 0o700
    assert _leftovers(target.parent) == []


def test_existing_parent_mode_untouched(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    write_atomic(tmp_path / "x.enc", NEW)
    assert _mode(tmp_path) == 0o755


def test_mode_0600_even_under_a_hostile_umask(tmp_path: Path) -> None:
    old = os.umask(0o777)
    try:
        write_atomic(tmp_path / "d" / "x.enc", NEW)
    finally:
        os.umask(old)
    assert _mode(tmp_path / "d" / "x.enc") == 0o600
    assert _mode(tmp_path / "d") == 0o700


def test_overwrite_refused_without_force(tmp_path: Path) -> None:
    target = tmp_path / "share.enc"
    target.write_bytes(OLD)
    with pytest.raises(AlreadyExists) as info:
        write_atomic(target, NEW)
    assert str(target) in info.value.message
    assert "--force" in info.value.message
    assert info.value.exit_code == 6
    assert target.read_bytes() == OLD
    assert _leftovers(tmp_path) == []


def test_symlink_target_refused_without_force(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(OLD)
    link = tmp_path / "share.enc"
    link.symlink_to(victim)
    with pytest.raises(AlreadyExists):
        write_atomic(link, NEW)
    assert victim.read_bytes() == OLD


def test_force_replaces(tmp_path: Path, loose_umask: None) -> None:
    target = tmp_path / "share.enc"
    target.write_bytes(OLD)
    target.chmod(0o644)
    write_atomic(target, NEW, force=True)
    assert target.read_bytes() == NEW
    assert _mode(target) == 0o600
    assert _leftovers(tmp_path) == []


def test_no_overwrite_is_atomic_against_a_racing_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file appears between our existence check and the link: still refused, not replaced."""
    target = tmp_path / "share.enc"
    real_link = os.link

    def racing_link(src: str | Path, dst: str | Path) -> None:
        Path(dst).write_bytes(OLD)  # another writer wins the race
        real_link(src, dst)

    monkeypatch.setattr(files.os, "link", racing_link)
    with pytest.raises(AlreadyExists):
        write_atomic(target, NEW)
    assert target.read_bytes() == OLD
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("step", "force"),
    [("write", True), ("fsync", True), ("replace", True), ("write", False), ("link", False)],
)
def test_interrupted_write_leaves_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str, force: bool
) -> None:
    target = tmp_path / "share.enc"
    if force:
        target.write_bytes(OLD)

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(files.os, step, boom)
    with pytest.raises(BadInput) as info:
        write_atomic(target, NEW, force=force)
    monkeypatch.undo()
    assert str(target) in info.value.message
    if force:
        assert target.read_bytes() == OLD
    else:
        assert not target.exists()
    assert _leftovers(tmp_path) == []


def test_interrupt_by_signal_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "share.enc"
    target.write_bytes(OLD)

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, NEW, force=True)
    monkeypatch.undo()
    assert target.read_bytes() == OLD
    assert _leftovers(tmp_path) == []


def test_write_new(tmp_path: Path) -> None:
    target = tmp_path / "cosigner" / "k.enc"
    assert write_new(target, NEW) is True
    assert write_new(target, OLD) is False
    assert target.read_bytes() == NEW


def test_target_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    for force in (True, False):
        with pytest.raises(BadInput, match="directory"):
            write_atomic(tmp_path / "d", NEW, force=force)


def test_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(OLD)
    with pytest.raises(BadInput):
        write_atomic(tmp_path / "f" / "x.enc", NEW)


def test_read_missing_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.enc"
    with pytest.raises(NotFound) as info:
        read_share_file(missing)
    assert str(missing) in info.value.message
    assert info.value.exit_code == 5


def test_read_directory_and_oversize(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BadInput):
        read_share_file(tmp_path)
    big = tmp_path / "big.enc"
    big.write_bytes(b"x" * 101)
    monkeypatch.setattr(files, "MAX_READ_BYTES", 100)
    with pytest.raises(FileFormatError):
        read_share_file(big)
    monkeypatch.undo()
    assert read_share_file(big) == b"x" * 101
