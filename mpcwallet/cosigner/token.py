"""The pairing token: 32 random bytes, hex, in ``MPC_HOME/cosigner/auth.token`` (0600).

Created by the daemon at its first start; the client on the same machine reads it to
authenticate keygen and health sessions. It is the Noise PSK of those sessions and never
leaves this file.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from mpcwallet.errors import CosignerNotRunning, FileFormatError, NotFound
from mpcwallet.storage.files import write_new

TOKEN_BYTES = 32


def ensure_token(path: Path) -> None:
    if path.exists():
        read_token(path)
        return
    # write_new: a token another process wrote meanwhile wins, and is never replaced.
    write_new(path, secrets.token_hex(TOKEN_BYTES).encode() + b"\n")


def read_token(path: Path) -> bytes:
    from mpcwallet.jsonio import read_bounded

    try:
        # bounded, regular files only: a token is 64 hex digits
        data = read_bounded(path, what="pairing token", max_bytes=1024, field="token")
        text = data.decode("ascii", errors="replace").strip()
    except NotFound:
        raise CosignerNotRunning(
            f"no pairing token at {path}: the co-signer has never started on this MPC_HOME; "
            "run `mpc cosigner start`"
        ) from None
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != TOKEN_BYTES:
        raise FileFormatError(
            f"{path} is not a pairing token; delete it and restart the co-signer", field="token"
        )
    return raw
