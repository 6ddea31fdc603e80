"""File I/O for shares and backups: atomic 0600 writes, bounded reads.

A write goes to a temp file created 0600 with ``O_CREAT | O_EXCL`` in the target's directory,
is fsynced, then moved into place (``os.replace`` with ``force``, else ``os.link`` so an existing
file is never replaced, even by a concurrent writer), and the directory is fsynced. A failure at
any step removes the temp file and leaves an existing target untouched. Missing parent
directories are created 0700.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path

from mpcwallet.errors import AlreadyExists, BadInput, FileFormatError, NotFound

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "ensure_dir",
    "fsync_dir",
    "publish",
    "read_share_file",
    "write_atomic",
    "write_new",
]

FILE_MODE = 0o600
DIR_MODE = 0o700
MAX_READ_BYTES = 16 * 1024 * 1024
_TMP_SUFFIX = ".tmp"


def ensure_dir(directory: Path) -> None:
    """Create ``directory`` and any missing parents with mode 0700 (existing ones untouched)."""
    missing: list[Path] = []
    d = directory
    while not d.exists():
        missing.append(d)
        if d.parent == d:
            break
        d = d.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        except OSError as exc:
            raise BadInput(
                f"cannot create directory {d}: {exc.strerror or type(exc).__name__}", field="path"
            ) from None
        os.chmod(d, DIR_MODE)  # mkdir's mode is filtered by the umask
    if not directory.is_dir():
        raise BadInput(f"{directory} is not a directory", field="path")


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(directory: Path, name: str, data: bytes) -> Path:
    tmp = directory / f".{name}.{secrets.token_hex(8)}{_TMP_SUFFIX}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # in case the umask removed our own read/write bits
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    return tmp


def write_atomic(path: Path, data: bytes, *, force: bool = False) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600.

    Without ``force`` an existing ``path`` is refused with :class:`AlreadyExists`.
    """
    path = Path(path)
    directory = path.parent
    ensure_dir(directory)
    if path.is_dir():
        raise BadInput(f"{path} is a directory; give a file name", field="path")
    if not force and (path.exists() or path.is_symlink()):
        raise AlreadyExists(f"{path} already exists; pass --force to overwrite it", field="path")
    try:
        tmp = _write_temp(directory, path.name, data)
    except OSError as exc:
        raise BadInput(
            f"cannot write {path}: {exc.strerror or type(exc).__name__}", field="path"
        ) from None
    try:
        publish(tmp, path, force=force)
    except OSError as exc:
        raise BadInput(
            f"cannot write {path}: {exc.strerror or type(exc).__name__}", field="path"
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def publish(src: Path, dest: Path, *, force: bool = False) -> None:
    """Move the finished file ``src`` to ``dest`` (same directory), then fsync the directory.

    With ``force`` an existing ``dest`` is replaced. Without, it is refused with
    :class:`AlreadyExists`, even against a concurrent writer: ``os.link`` fails on an existing
    name where a check-then-rename would not. ``src`` is gone afterwards unless this raised.
    """
    if force:
        os.replace(src, dest)
    else:
        try:
            os.link(src, dest)
        except FileExistsError:
            raise AlreadyExists(
                f"{dest} already exists; pass --force to overwrite it", field="path"
            ) from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            # No hard links on this filesystem: best effort without them.
            if dest.exists():
                raise AlreadyExists(
                    f"{dest} already exists; pass --force to overwrite it", field="path"
                ) from None
            os.replace(src, dest)
        else:
            os.unlink(src)
    fsync_dir(dest.parent)


def write_new(path: Path, data: bytes) -> bool:
    """Write ``path`` only if it does not exist yet. True if written, False if it existed."""
    try:
        write_atomic(path, data, force=False)
    except AlreadyExists:
        return False
    return True


def read_share_file(path: Path, *, what: str = "share file") -> bytes:
    """The bytes of ``path``; NotFound / BadInput naming the path; bounded in size."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_READ_BYTES + 1)
    except FileNotFoundError:
        raise NotFound(f"{what} {path} does not exist", field="path") from None
    except IsADirectoryError:
        raise BadInput(f"{what} {path} is a directory, not a file", field="path") from None
    except OSError as exc:
        raise BadInput(
            f"cannot read {what} {path}: {exc.strerror or type(exc).__name__}", field="path"
        ) from None
    if len(data) > MAX_READ_BYTES:
        raise FileFormatError(f"{path} is too large to be an mpcwallet {what}", field="path")
    return data
