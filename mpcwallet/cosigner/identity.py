"""Each co-signer home's install id: 16 random bytes, hex, in ``MPC_HOME/cosigner/install.id``.

It is public: ``/healthz`` reports it so a client can tell its own home's co-signer from
another's before it opens a session, and the session handshake uses it as the co-signer's party
name. Created once, atomically (0600, never replaced), by :func:`load_or_create_install_id`.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from mpcwallet.errors import FileFormatError
from mpcwallet.storage.files import write_new

INSTALL_ID_BYTES = 16
_INSTALL_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def check_install_id(value: object, *, source: str) -> str:
    if not isinstance(value, str) or not _INSTALL_ID_RE.match(value):
        raise FileFormatError(f"{source} is not an install id (32 hex digits)", field="install_id")
    return value


def read_install_id(path: Path) -> str | None:
    """The install id stored at ``path``, or None if there is none yet."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return check_install_id(text, source=str(path))


def load_or_create_install_id(path: Path) -> str:
    """The install id at ``path``, creating it (random, 0600, atomic) on first use.

    Two processes racing here agree: ``write_new`` never replaces a file, so the loser reads
    the winner's id.
    """
    existing = read_install_id(path)
    if existing is not None:
        return existing
    write_new(path, secrets.token_hex(INSTALL_ID_BYTES).encode() + b"\n")
    created = read_install_id(path)
    assert created is not None
    return created
