"""The API's bearer token: ``MPC_HOME/api.token`` (0600), made at the first start.

32 random bytes, URL-safe base64. Compared in constant time (:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import base64
import hmac
import secrets
from pathlib import Path

from mpcwallet.errors import FileFormatError
from mpcwallet.storage.files import write_new

TOKEN_FILE = "api.token"  # noqa: S105 - a file name, not a secret


def token_path() -> Path:
    from mpcwallet.config import mpc_home

    return mpc_home() / TOKEN_FILE


def load_or_create(path: Path | None = None) -> tuple[str, bool]:
    """The token and whether it was created now (never replaced once written)."""
    path = path or token_path()
    if not path.exists():
        token = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        if write_new(path, (token + "\n").encode()):
            return token, True
    from mpcwallet.storage.files import read_share_file

    text = read_share_file(path, what="API token file").decode("ascii", "replace").strip()
    if len(text) < 32 or not text.isascii():
        raise FileFormatError(
            f"{path} is not an API token; delete it and start `mpc serve` again for a new one",
            field="token",
        )
    return text, False


def matches(presented: str | None, token: str) -> bool:
    if presented is None:
        return False
    return hmac.compare_digest(presented.encode(), token.encode())
