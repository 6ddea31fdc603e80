"""Progress on every wait: one rich status line on stderr, shown only when stderr is a terminal.

Never on stdout, so ``--json`` output is unaffected; with stderr redirected (scripts, CI logs)
nothing is drawn and diagnostics stay plain lines. Steps nest (``with step("key generation")``);
while the session layer waits on the co-signer (:mod:`mpcwallet.session.waiting`) the line
counts down the round timeout, so a frozen co-signer is visible rather than silent.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator
from typing import Any

from rich.text import Text

__all__ = ["enabled", "note", "step", "suspended"]


class _Line:
    """The status line's text, recomputed at every refresh (so a countdown ticks by itself)."""

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.note: str | None = None
        self.wait_for: str | None = None
        self.deadline: float | None = None

    def text(self) -> str:
        parts = [self.steps[-1]] if self.steps else []
        if self.wait_for is not None and self.deadline is not None:
            left = max(0, math.ceil(self.deadline - time.monotonic()))
            parts.append(f"waiting for {self.wait_for} ({left} s left)")
        if self.note:
            parts.append(self.note)
        return ": ".join(parts)

    def __rich__(self) -> Text:
        return Text(self.text())


_lock = threading.Lock()
_line = _Line()
_status: Any = None  # a rich Live while shown


def enabled() -> bool:
    from mpcwallet.cli.output import out

    return bool(out().stderr.is_terminal)


def _show() -> None:
    global _status
    if _status is None and _line.steps:
        from rich.live import Live
        from rich.spinner import Spinner

        from mpcwallet.cli.output import out

        _status = Live(
            Spinner("dots", text=_line),
            console=out().stderr,
            transient=True,
            refresh_per_second=8,
        )
        _status.start(refresh=True)  # drawn at once: a short step is still seen


def _hide() -> None:
    global _status
    if _status is not None:
        _status.stop()
        _status = None


def _on_wait(what: str | None, deadline: float | None) -> None:
    with _lock:
        _line.wait_for, _line.deadline = what, deadline


@contextlib.contextmanager
def step(label: str) -> Iterator[None]:
    """Show ``label`` (with a spinner) until the block ends; no-op unless stderr is a terminal."""
    if not enabled():
        yield
        return
    from mpcwallet.session.waiting import set_listener

    with _lock:
        _line.steps.append(label)
        _line.note = None
        set_listener(_on_wait)
        _show()
    try:
        yield
    finally:
        with _lock:
            _line.steps.pop()
            _line.note = None
            if not _line.steps:
                set_listener(None)
                _line.wait_for = _line.deadline = None
                _hide()


def note(message: str) -> None:
    """A transient detail on the current line (an RPC retry, say), else a plain stderr line."""
    with _lock:
        if _status is not None:
            _line.note = message
            return
    from mpcwallet.cli.output import out

    out().info(message)


@contextlib.contextmanager
def suspended() -> Iterator[None]:
    """Hide the line while the user is asked something (a prompt must not be overdrawn)."""
    with _lock:
        shown = _status is not None
        _hide()
    try:
        yield
    finally:
        with _lock:
            if shown:
                _show()
