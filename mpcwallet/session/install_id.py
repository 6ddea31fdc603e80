"""Install ids: a random name per install, the party name each side gives the engine.

cb-mpc's usage rules want party ids that name parties, not roles. Each side draws 16 random
bytes (hex) once: the client in ``MPC_HOME/install.id``, the co-signer in
``MPC_HOME/cosigner/install.id``. Both are sent inside the encrypted Noise handshake payloads,
so they are bound into the handshake hash (the session id), and the engine runs with
``(client install id, co-signer install id)`` as its party names on both sides.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from mpcwallet.errors import FileFormatError
from mpcwallet.storage.files import ensure_dir, write_new

INSTALL_ID_FILE = "install.id"
_ID_RE = re.compile(r"[0-9a-f]{32}")


def ensure_install_id(path: Path) -> str:
    """The install id in ``path``, created (0600, atomically, never replaced) on first use."""
    if not path.exists():
        ensure_dir(path.parent)
        # write_new: an id another process wrote meanwhile wins, and is never replaced.
        write_new(path, secrets.token_hex(16).encode() + b"\n")
    text = path.read_text().strip()
    if not _ID_RE.fullmatch(text):
        raise FileFormatError(
            f"{path} is not an install id (32 hex characters); delete it to draw a new one",
            field="install_id",
        )
    return text


def client_install_id(home: Path | None = None) -> str:
    from mpcwallet.config import mpc_home

    return ensure_install_id((home or mpc_home()) / INSTALL_ID_FILE)


def cosigner_install_id(cosigner_root: Path) -> str:
    """``cosigner_root`` is ``CosignerPaths.root`` (``MPC_HOME/cosigner``)."""
    return ensure_install_id(cosigner_root / INSTALL_ID_FILE)
