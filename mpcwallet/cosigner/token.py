"""The pairing token: 32 random bytes, hex, in ``MPC_HOME/cosigner/auth.token`` (0600).

Created by the daemon at its first start; the client on the same machine reads it to
authenticate keygen and health sessions. It never leaves this file except as HMAC proofs.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from mpcwallet.errors import CosignerNotRunning, FileFormatError
from mpcwallet.storage.files import ensure_dir

TOKEN_BYTES = 32


def ensure_token(path: Path) -> None:
    if path.exists():
        read_token(path)
        return
    ensure_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, secrets.token_hex(TOKEN_BYTES).encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_token(path: Path) -> bytes:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
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
