"""The local client's token and the co-signer's static key, in ``MPC_HOME/cosigner/`` (0600).

The token (32 random bytes, hex, ``auth.token``) is created by the daemon at its first start;
the client on the same machine reads it to authenticate keygen and health sessions. It is the
Noise PSK of those sessions and never leaves this file (paired clients on other machines get
secrets of their own: :mod:`mpcwallet.cosigner.clients`).
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


# --- the co-signer's static Noise key ------------------------------------------------------------
# ``MPC_HOME/cosigner/static.key`` (0600): its X25519 private key, hex. The local client reads
# it to know (pin) the public half; the daemon makes it
# (mpcwallet.cosigner.clients.ensure_static_key).


def read_static_key(path: Path) -> bytes:
    """The co-signer's static X25519 private key."""
    from mpcwallet.jsonio import read_bounded

    try:
        data = read_bounded(path, what="co-signer static key", max_bytes=1024, field="static_key")
    except NotFound:
        raise CosignerNotRunning(
            f"no co-signer static key at {path}: the co-signer has not started on this MPC_HOME "
            "with this release; run `mpc cosigner start` (if an older one is running: `mpc "
            "cosigner stop` first)"
        ) from None
    try:
        raw = bytes.fromhex(data.decode("ascii", errors="replace").strip())
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise FileFormatError(
            f"{path} is not a co-signer static key; restore it from a co-signer backup (paired "
            "clients pinned it)",
            field="static_key",
        )
    return raw
