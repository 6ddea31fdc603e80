"""Who is waiting on the peer, and until when: a hook for a progress display, no I/O here.

The session layer calls :func:`waiting` around each blocking wait on the peer; the CLI registers
a listener (:func:`set_listener`) that shows a countdown. Nothing secret passes through: only a
label and a deadline.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

__all__ = ["Listener", "set_listener", "waiting"]

# (what we wait for, monotonic deadline) on entry; (None, None) on exit.
Listener = Callable[[str | None, float | None], None]

_listener: Listener | None = None


def set_listener(listener: Listener | None) -> None:
    global _listener
    _listener = listener


@contextlib.contextmanager
def waiting(what: str, timeout: float) -> Iterator[None]:
    listener = _listener
    if listener is None:
        yield
        return
    listener(what, time.monotonic() + timeout)
    try:
        yield
    finally:
        listener(None, None)
