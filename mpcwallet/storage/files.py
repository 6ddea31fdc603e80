"""File I/O for shares and backups: atomic 0600 writes, bounded reads.

A write goes to a temp file ``.NAME.<16 hex>.tmp`` created 0600 with ``O_CREAT | O_EXCL`` in
the target's directory, is fsynced, then moved into place (``os.replace`` with ``force``, else
``os.link`` so an existing file is never replaced, even by a concurrent writer), and the
directory is fsynced. A failure at any step removes the temp file and leaves an existing
target untouched. Missing parent directories are created 0700.

A process killed mid-write leaves its temp file behind. The writer holds an exclusive ``flock``
on its temp file from creation until it is published or removed, and the kernel drops that lock
when the process dies; so :func:`clean_stale_temps` removes exactly the temp files of our own
pattern that nobody holds (a live writer's are skipped). Each :func:`write_atomic` cleans the
stale temps of its own target name; ``mpc keygen`` cleans its whole shares directory.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import stat
from pathlib import Path

from mpcwallet.errors import AlreadyExists, BadInput

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "clean_stale_temps",
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
_TMP_RE = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{16}\.tmp$")


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


def _create_locked_temp(directory: Path, name: str) -> tuple[Path, int]:
    """A fresh temp file, open and exclusively flocked by us (see the module doc)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = directory / f".{name}.{secrets.token_hex(8)}{_TMP_SUFFIX}"
        fd = os.open(tmp, flags, FILE_MODE)
        fcntl.flock(fd, fcntl.LOCK_EX)
        # A cleaner may have taken the file between our create and our lock: then it is gone
        # from the directory and we start over with a new name.
        try:
            if os.fstat(fd).st_nlink > 0 and os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                return tmp, fd
        except FileNotFoundError:
            pass
        os.close(fd)


def _write_temp(directory: Path, name: str, data: bytes) -> tuple[Path, int]:
    """The temp file holding ``data``, fsynced; its fd stays open (and locked) for publish."""
    tmp, fd = _create_locked_temp(directory, name)
    try:
        os.fchmod(fd, FILE_MODE)  # in case the umask removed our own read/write bits
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        os.close(fd)
        raise
    return tmp, fd


def clean_stale_temps(directory: Path, name: str | None = None) -> list[Path]:
    """Remove our own temp files (``.NAME.<16 hex>.tmp``) in ``directory`` that no live writer
    holds; with ``name``, only those of that target name. Returns what was removed.

    Only regular files owned by us, never followed through a symlink; a file some process
    holds locked (a write in progress) is left alone.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        m = _TMP_RE.match(entry.name)
        if m is None or (name is not None and m.group("name") != name):
            continue
        path = Path(entry.path)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue  # a symlink, gone already, or not ours to read
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live writer holds it
            # Still the same file at that name (not replaced since we opened it)?
            if os.lstat(path).st_ino != st.st_ino:
                continue
            os.unlink(path)
            removed.append(path)
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


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
    clean_stale_temps(directory, path.name)  # left by a writer that was killed
    try:
        tmp, fd = _write_temp(directory, path.name, data)
    except OSError as exc:
        raise BadInput(
            f"cannot write {path}: {exc.strerror or type(exc).__name__}", field="path"
        ) from None
    try:
        if os.environ.get("MPC_TEST_PAUSE_AT"):
            from mpcwallet.testhooks import pause_point

            # named per file: a test stops exactly the write it means (e.g. a share's)
            pause_point(f"atomic_write_before_publish:{path.name}")
        publish(tmp, path, force=force)
    except OSError as exc:
        raise BadInput(
            f"cannot write {path}: {exc.strerror or type(exc).__name__}", field="path"
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.close(fd)  # releases our lock on the temp file


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
    from mpcwallet.jsonio import read_bounded

    # Regular files only (a FIFO or /dev/zero is refused unread), at most MAX_READ_BYTES.
    return read_bounded(path, what=what, max_bytes=MAX_READ_BYTES, field="path")
