"""The envelope around every engine's key blob.

``MPCK | u8 format version | u8 len(engine) | engine | u8 role | payload``. The payload is the
engine's own deterministic encoding (never pickle). :func:`unwrap` refuses a blob from another
engine, role or format version with :class:`KeyBlobMismatch`; the message says which differs
and never shows the payload.
"""

from __future__ import annotations

from mpcwallet.engine.base import Role
from mpcwallet.errors import KeyBlobMismatch

MAGIC = b"MPCK"
FORMAT_VERSION = 1


def wrap(engine: str, role: Role, payload: bytes) -> bytes:
    name = engine.encode("ascii")
    return MAGIC + bytes([FORMAT_VERSION, len(name)]) + name + bytes([int(role)]) + payload


def unwrap(blob: bytes, engine: str, role: Role) -> bytes:
    if len(blob) < 7 or blob[:4] != MAGIC:
        raise KeyBlobMismatch("the key blob is not an mpcwallet key blob")
    if blob[4] != FORMAT_VERSION:
        raise KeyBlobMismatch(
            f"the key blob has format version {blob[4]}, this mpcwallet reads {FORMAT_VERSION}"
        )
    n = blob[5]
    name_end = 6 + n
    if len(blob) < name_end + 1:
        raise KeyBlobMismatch("the key blob is truncated")
    got_engine = blob[6:name_end].decode("ascii", errors="replace")
    if got_engine != engine:
        raise KeyBlobMismatch(
            f"the key blob was made by engine {got_engine!r}, not {engine!r}", field="engine"
        )
    got_role = blob[name_end]
    if got_role != int(role):
        raise KeyBlobMismatch(
            f"the key blob belongs to party P{got_role}, not {role.name}", field="role"
        )
    return blob[name_end + 1 :]


def peek(blob: bytes) -> tuple[str, Role]:
    """Engine name and role of a blob, without checking them against anything."""
    if len(blob) < 7 or blob[:4] != MAGIC or blob[4] != FORMAT_VERSION:
        raise KeyBlobMismatch("the key blob is not an mpcwallet key blob")
    n = blob[5]
    if len(blob) < 7 + n or blob[6 + n] not in (1, 2):
        raise KeyBlobMismatch("the key blob is truncated")
    return blob[6 : 6 + n].decode("ascii", errors="replace"), Role(blob[6 + n])
