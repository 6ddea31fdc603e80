"""The envelope around a multi-party key blob.

``MPCM | u8 format version | u8 len(engine) | engine | u16 len(meta) | meta | payload``, where
``meta`` is canonical JSON (sorted keys, no spaces) naming what the share belongs to: every
party's name in order, this party's name, the access structure. The payload is the engine's own
blob. A two-party blob (``MPCK``, :mod:`mpcwallet.engine.blob`) is refused here and vice versa.
"""

from __future__ import annotations

import json
from typing import Any

from mpcwallet.errors import KeyBlobMismatch

MAGIC = b"MPCM"
FORMAT_VERSION = 1
_MAX_META = 0xFFFF


def wrap(engine: str, meta: dict[str, Any], payload: bytes) -> bytes:
    name = engine.encode("ascii")
    body = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    if len(body) > _MAX_META:
        raise KeyBlobMismatch("the key's description is too large for a key blob")
    return (
        MAGIC
        + bytes([FORMAT_VERSION, len(name)])
        + name
        + len(body).to_bytes(2, "big")
        + body
        + payload
    )


def unwrap(blob: bytes, engine: str) -> tuple[dict[str, Any], bytes]:
    """(meta, payload) of a multi-party blob made by ``engine``; KeyBlobMismatch otherwise."""
    if not isinstance(blob, bytes) or len(blob) < 8 or blob[:4] != MAGIC:
        raise KeyBlobMismatch("the key blob is not an mpcwallet multi-party key blob")
    if blob[4] != FORMAT_VERSION:
        raise KeyBlobMismatch(
            f"the key blob has format version {blob[4]}, this mpcwallet reads {FORMAT_VERSION}"
        )
    n = blob[5]
    got = blob[6 : 6 + n].decode("ascii", errors="replace")
    if got != engine:
        raise KeyBlobMismatch(
            f"the key blob was made by engine {got!r}, not {engine!r}", field="engine"
        )
    at = 6 + n
    if len(blob) < at + 2:
        raise KeyBlobMismatch("the key blob is truncated")
    size = int.from_bytes(blob[at : at + 2], "big")
    body = blob[at + 2 : at + 2 + size]
    payload = blob[at + 2 + size :]
    try:
        meta = json.loads(body)
    except ValueError:
        meta = None
    if len(body) != size or not isinstance(meta, dict) or not payload:
        raise KeyBlobMismatch("the key blob is truncated or its description does not parse")
    return meta, payload
