"""One process at a time may change a key's client files: ``MPC_HOME/locks/<key_id>.lock``.

Lock files live outside ``shares/`` so nothing but shares is ever left there. ``flock`` is
released by the kernel when a process dies, so a killed run never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator

from mpcwallet.config import mpc_home
from mpcwallet.errors import Busy, MpcError
from mpcwallet.homes.paths import check_key_id
from mpcwallet.storage.files import ensure_dir


@contextlib.contextmanager
def home_lock(name: str, held: Callable[[], MpcError]) -> Iterator[None]:
    """``MPC_HOME/locks/<name>.lock``, exclusive and non-blocking: ``held()`` is raised if
    another process holds it."""
    directory = mpc_home() / "locks"
    ensure_dir(directory)
    fd = os.open(directory / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise held() from None
        yield
    finally:
        os.close(fd)


def key_lock(key_id: str) -> contextlib.AbstractContextManager[None]:
    """One process at a time changes a key's files: :class:`Busy` otherwise."""
    return home_lock(
        check_key_id(key_id),
        lambda: Busy(
            f"another mpc process is refreshing key {key_id} right now; nothing was "
            "changed. Retry when it is done.",
            field="key",
        ),
    )
