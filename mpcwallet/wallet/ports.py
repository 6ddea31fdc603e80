"""What a use case needs from its front end, and nothing more.

``Ui``: progress steps, notes and warnings, RPC retry notes, and the review of what is about to
be signed (show it; ask when someone can be asked). The CLI draws a rich status line and prompts
at a terminal; the HTTP API logs and never asks (its caller already chose to sign).

``Keyring``: the share passphrase and the unlocked share. The CLI asks for the passphrase per
command (file, variable or prompt) and decrypts with Argon2id each time; ``mpc serve`` unlocked
its shares once at start and answers from memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mpcwallet.storage.body import ShareBody


class Ui(Protocol):
    def step(self, label: str) -> AbstractContextManager[None]:
        """A wait the user should see (``with ui.step("signing with the co-signer"):``)."""
        ...

    def note(self, text: str) -> None:
        """A transient detail of the current step (an RPC retry)."""
        ...

    def info(self, text: str) -> None: ...

    def warn(self, text: str) -> None: ...

    def review(self, preview: dict[str, Any], *, yes: bool) -> bool:
        """Show what is about to be signed; ask if someone can be asked and ``yes`` is False.

        True if asked and accepted, False if not asked; raises :class:`Declined` if refused."""
        ...


class Keyring(Protocol):
    def prompts(self) -> bool:
        """Whether ``passphrase`` may ask a person (then a use case first checks that the
        co-signer answers: nobody types a passphrase for a session that cannot run)."""
        ...

    def passphrase(self, path: Path, *, verify: bool = False) -> str:
        """The passphrase of the share at ``path`` (``verify``: check it decrypts the share)."""
        ...

    def open(self, path: Path, passphrase: str) -> tuple[dict[str, Any], ShareBody]:
        """The share at ``path`` as it is on disk now: its header and decrypted body."""
        ...


class QuietUi:
    """A Ui that shows nothing and asks nothing (library callers, tests)."""

    def step(self, label: str) -> AbstractContextManager[None]:
        return contextlib.nullcontext()

    def note(self, text: str) -> None:
        pass

    def info(self, text: str) -> None:
        pass

    def warn(self, text: str) -> None:
        pass

    def review(self, preview: dict[str, Any], *, yes: bool) -> bool:
        return False


class PassphraseKeyring:
    """A Keyring over one passphrase source (a callable), decrypting on open.

    The decryption that verified a passphrase is kept for the ``open`` that follows, as long as
    the file is unchanged (same inode, size and mtime): a command pays Argon2id once."""

    def __init__(self, source: Callable[[Path, Callable[[str], object] | None], str]) -> None:
        self._source = source
        self._verified: tuple[Path, str, tuple[int, int, int], Any] | None = None

    def prompts(self) -> bool:
        return True  # a file or a variable, else a prompt: it may come to asking

    def passphrase(self, path: Path, *, verify: bool = False) -> str:
        from mpcwallet.storage.store import load_share

        def check(typed: str) -> object:
            stamp = file_stamp(path)
            opened = load_share(path, typed)
            self._verified = (path, typed, stamp, opened)
            return opened

        return self._source(path, check if verify else None)

    def open(self, path: Path, passphrase: str) -> tuple[dict[str, Any], ShareBody]:
        import hmac

        from mpcwallet.storage.store import load_share

        kept, self._verified = self._verified, None
        if kept is not None:
            kept_path, kept_passphrase, stamp, opened = kept
            if (
                kept_path == path
                and hmac.compare_digest(kept_passphrase.encode(), passphrase.encode())
                and stamp == file_stamp(path)
            ):
                result: tuple[dict[str, Any], ShareBody] = opened
                return result
        return load_share(path, passphrase)


def file_stamp(path: Path) -> tuple[int, int, int]:
    """What changes when a share file is replaced or rewritten: (inode, size, mtime in ns)."""
    st = path.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns)
