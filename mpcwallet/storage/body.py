"""The share body: the plaintext inside an envelope. Deterministic bytes, never pickle.

Encoding (version 1)::

    b"MPCS" | u8 version=1 | u32be len(key_blob) | key_blob | u16be len(auth_secret) | auth_secret

``key_blob`` is the engine's key blob (``mpcwallet.engine.blob``), ``auth_secret`` the per-key
secret the session layer authenticates with. Both are secret; the repr shows neither.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass

from mpcwallet.errors import FileFormatError

__all__ = ["BODY_VERSION", "MAX_AUTH_SECRET_BYTES", "MAX_KEY_BLOB_BYTES", "ShareBody"]

MAGIC = b"MPCS"
BODY_VERSION = 1
MAX_KEY_BLOB_BYTES = 8 * 1024 * 1024
MAX_AUTH_SECRET_BYTES = 1024
_HEAD = struct.Struct(">4sBI")
_SECRET_LEN = struct.Struct(">H")


@dataclass(frozen=True, repr=False, eq=False)
class ShareBody:
    key_blob: bytes
    auth_secret: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.key_blob, bytes) or not isinstance(self.auth_secret, bytes):
            raise TypeError("ShareBody fields must be bytes")
        if not 0 < len(self.key_blob) <= MAX_KEY_BLOB_BYTES:
            raise ValueError(f"key_blob must be 1..{MAX_KEY_BLOB_BYTES} bytes")
        if len(self.auth_secret) > MAX_AUTH_SECRET_BYTES:
            raise ValueError(f"auth_secret must be at most {MAX_AUTH_SECRET_BYTES} bytes")

    def __repr__(self) -> str:
        return (
            f"ShareBody(key_blob=<{len(self.key_blob)} bytes>, "
            f"auth_secret=<{len(self.auth_secret)} bytes>)"
        )

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ShareBody):
            return NotImplemented
        return hmac.compare_digest(self.encode(), other.encode())

    __hash__ = None  # type: ignore[assignment]

    def encode(self) -> bytes:
        return (
            _HEAD.pack(MAGIC, BODY_VERSION, len(self.key_blob))
            + self.key_blob
            + _SECRET_LEN.pack(len(self.auth_secret))
            + self.auth_secret
        )

    @classmethod
    def decode(cls, data: bytes) -> ShareBody:
        """Strict inverse of :meth:`encode`; FileFormatError (no contents shown) otherwise."""
        data = bytes(data)
        if len(data) < _HEAD.size or data[:4] != MAGIC:
            raise FileFormatError("the share body is not in a format this mpcwallet reads")
        _, version, blob_len = _HEAD.unpack_from(data)
        if version != BODY_VERSION:
            raise FileFormatError(
                f"share body version {version}; this mpcwallet reads {BODY_VERSION}"
            )
        pos = _HEAD.size
        end_blob = pos + blob_len
        if not 0 < blob_len <= MAX_KEY_BLOB_BYTES or len(data) < end_blob + _SECRET_LEN.size:
            raise FileFormatError("the share body is truncated or malformed")
        key_blob = data[pos:end_blob]
        (secret_len,) = _SECRET_LEN.unpack_from(data, end_blob)
        start = end_blob + _SECRET_LEN.size
        if secret_len > MAX_AUTH_SECRET_BYTES or len(data) != start + secret_len:
            raise FileFormatError("the share body is truncated or malformed")
        return cls(key_blob=key_blob, auth_secret=data[start:])
