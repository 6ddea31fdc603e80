"""The wallet ports (:mod:`mpcwallet.wallet.ports`) as ``mpc serve`` fills them.

:class:`MemoryKeyring`: every served share is unlocked once at start with one passphrase; both
the passphrase and the decrypted shares live only in this process's memory. ``open`` answers
from memory while the file is the one that was decrypted (same inode, mtime and size); a file
rewritten since (a refresh) is decrypted again. :class:`LogUi`: steps and notes become JSON log
lines, and ``review`` never asks (the caller chose to sign; the preview is in the response).
"""

from __future__ import annotations

import contextlib
import hmac
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpcwallet.api.logs import log
from mpcwallet.wallet.ports import file_stamp

if TYPE_CHECKING:
    from mpcwallet.storage.body import ShareBody

Stamp = tuple[int, int, int]


@dataclass
class _Unlocked:
    stamp: Stamp
    header: dict[str, Any]
    body: ShareBody


class MemoryKeyring:
    def __init__(self, passphrase: str) -> None:
        self._passphrase = passphrase
        self._shares: dict[Path, _Unlocked] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the passphrase, never a share
        return f"MemoryKeyring({len(self._shares)} shares)"

    @property
    def paths(self) -> list[Path]:
        with self._lock:
            return sorted(self._shares)

    def unlock(self, path: Path) -> dict[str, Any]:
        """Decrypt ``path`` now (Argon2id) and keep it; its header."""
        from mpcwallet.storage.store import load_share

        key = path.resolve()
        stamp = file_stamp(key)
        header, body = load_share(key, self._passphrase)
        with self._lock:
            self._shares[key] = _Unlocked(stamp, header, body)
        return header

    def new_share_passphrase(self) -> str:
        """The passphrase a key made through the server is encrypted under (the same one)."""
        return self._passphrase

    def prompts(self) -> bool:
        return False  # unlocked at start; nobody is asked again

    def passphrase(self, path: Path, *, verify: bool = False) -> str:
        if verify:
            self.open(path, self._passphrase)
        return self._passphrase

    def open(self, path: Path, passphrase: str) -> tuple[dict[str, Any], ShareBody]:
        from mpcwallet.storage.store import load_share

        key = path.resolve()
        if not hmac.compare_digest(passphrase.encode(), self._passphrase.encode()):
            return load_share(key, passphrase)
        with self._lock:
            held = self._shares.get(key)
        try:
            stamp = file_stamp(key)
        except OSError:
            stamp = None
        if held is not None and held.stamp == stamp:
            return held.header, held.body
        header, body = load_share(key, passphrase)
        if stamp is not None:
            with self._lock:
                self._shares[key] = _Unlocked(stamp, header, body)
            log("share_reloaded", share=key.name)
        return header, body


def unlock_all(keyring: MemoryKeyring, paths: list[Path]) -> list[dict[str, Any]]:
    """Unlock every share of ``paths``; the public summary of each (wrong passphrase raises,
    naming the file)."""
    out = []
    for path in paths:
        header = keyring.unlock(path)
        out.append(
            {"share": path.name, "key_id": header.get("key_id"), "address": header.get("address")}
        )
    return out


class LogUi:
    """A Ui that logs and never asks."""

    def step(self, label: str) -> AbstractContextManager[None]:
        return self._step(label)

    @contextlib.contextmanager
    def _step(self, label: str) -> Iterator[None]:
        start = time.perf_counter()
        log("step", step=label)
        try:
            yield
        finally:
            log("step_done", step=label, ms=round((time.perf_counter() - start) * 1000, 1))

    def note(self, text: str) -> None:
        log("note", text=text)

    def info(self, text: str) -> None:
        log("info", text=text)

    def warn(self, text: str) -> None:
        log("warning", level="warning", text=text)

    def review(self, preview: dict[str, Any], *, yes: bool) -> bool:
        return False
