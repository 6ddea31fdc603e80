"""The session wire format (pure functions); the crypto is :mod:`mpcwallet.session.secure`.

Handshake, over one WebSocket (the client sends its two messages without waiting)::

    C -> S  TEXT   hello: {"type": "hello", "v": 3, "engine": E, "auth": A, "key_id": K|null}
    C -> S  BINARY Noise message 1 (-> psk, e, es), payload {"install_id": client install id}
    S -> C  BINARY Noise message 2 (<- e, ee), payload {"install_id": co-signer install id}
            or TEXT {"type": "error", "code": C, "message": M[, "field": F]} and close

The hello is the only clear text. It tells the co-signer which PSK to use (``auth`` and
``key_id``) and lets both sides report a version or engine mismatch in one clear line. Its exact
bytes are the Noise prologue (:func:`prologue`), so a hello altered in transit makes the
handshake fail. ``auth`` is a mode name (today ``pairing``, ``key`` and ``code``) and ``key_id``
names the secret within it (a paired client's id or null for the local client, a key id, a
pairing code's id); the co-signer's ``resolve_secret(hello)`` maps them to a PSK, so a new mode
needs no change here. Version 3 (NKpsk0, per-client secrets) replaced version 2 (NNpsk0, one
token shared by every client); a mismatch is one clear line.

Every BINARY message after the handshake is one Noise transport message whose plaintext is a
flags byte and a chunk of a payload (see :class:`mpcwallet.session.secure.FrameCodec`); a payload
is one type byte (``CONTROL`` JSON or ``ENGINE`` opaque bytes) and the body. Control messages
are bounded in size (:data:`MAX_CONTROL_BYTES`) and JSON depth (:data:`MAX_CONTROL_DEPTH`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from mpcwallet.engine.base import MAX_MESSAGE_BYTES
from mpcwallet.errors import AuthFailed, BadInput, EngineMismatch, SessionViolation

PROTOCOL_VERSION = 3
MAX_HANDSHAKE_BYTES = 4096
# One engine message and its type byte.
MAX_PAYLOAD_BYTES = MAX_MESSAGE_BYTES + 1
# A sign request carries the transaction (its data field up to 128 KiB, hex-encoded).
MAX_CONTROL_BYTES = 512 * 1024
MAX_CONTROL_DEPTH = 32
# aiohttp's own limit sits above a Noise message so that we, not aiohttp, judge an oversize.
WS_MAX_MSG_SIZE = 4 * 65535

CONTROL = 0x01
ENGINE = 0x02

AUTH_PAIRING = "pairing"
AUTH_KEY = "key"
AuthMode = str  # a mode name, e.g. AUTH_PAIRING, AUTH_KEY; resolve_secret decides which exist
Side = Literal["client", "server"]

_PROLOGUE_LABEL = b"mpcwallet/session/v2 hello\x00"
_AUTH_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_KEY_ID_RE = re.compile(r"[\x21-\x7e]{1,128}")
_INSTALL_ID_RE = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Hello:
    version: int
    engine: str
    auth: AuthMode
    key_id: str | None


def encode_hello(hello: Hello) -> str:
    return json.dumps(
        {
            "type": "hello",
            "v": hello.version,
            "engine": hello.engine,
            "auth": hello.auth,
            "key_id": hello.key_id,
        },
        separators=(",", ":"),
    )


def prologue(hello_text: str) -> bytes:
    """The Noise prologue (spec rev 34, section 6): the hello exactly as sent."""
    return _PROLOGUE_LABEL + hello_text.encode()


def parse_hello(text: str, *, engine: str) -> Hello:
    """The client's hello, checked against our version and ``engine`` (one clear line if not)."""
    obj = parse_handshake(text)
    if obj.get("type") != "hello":
        raise AuthFailed("the session must open with a hello")
    version = obj.get("v")
    if version != PROTOCOL_VERSION:
        raise EngineMismatch(
            f"protocol version differs: client {version!r}, co-signer {PROTOCOL_VERSION}; "
            "run the same mpcwallet release on both sides",
            field="version",
        )
    if obj.get("engine") != engine:
        raise EngineMismatch(
            f"engine differs: client {obj.get('engine')!r}, co-signer {engine!r}",
            field="engine",
        )
    auth, key_id = obj.get("auth"), obj.get("key_id")
    if not (isinstance(auth, str) and _AUTH_RE.fullmatch(auth)):
        raise AuthFailed("the hello names no valid auth mode")
    if key_id is not None and not (isinstance(key_id, str) and _KEY_ID_RE.fullmatch(key_id)):
        raise AuthFailed("the key id in the hello is malformed")
    return Hello(version, engine, auth, key_id)


def parse_handshake(text: str) -> dict[str, Any]:
    """A clear handshake message; :class:`SessionViolation` if it is not a bounded JSON object."""
    if len(text) > MAX_HANDSHAKE_BYTES:
        raise SessionViolation("an oversized handshake message")
    obj = _loads_bounded(text.encode(), what="a handshake message", depth=2)
    if not isinstance(obj.get("type"), str):
        raise SessionViolation("a handshake message is not a typed JSON object")
    return obj


def identity_payload(install_id: str) -> bytes:
    """The payload each side puts in its (encrypted) handshake message."""
    return json.dumps({"install_id": install_id}, separators=(",", ":")).encode()


def parse_identity(payload: bytes, *, peer: str) -> str:
    try:
        obj = _loads_bounded(payload, what=f"{peer}'s handshake payload", depth=2)
    except SessionViolation:
        obj = {}
    value = obj.get("install_id")
    if not (isinstance(value, str) and _INSTALL_ID_RE.fullmatch(value)):
        raise SessionViolation(f"{peer} sent no valid install id in the handshake")
    return value


# --- frames after the handshake ---------------------------------------------------------------


def control_payload(obj: dict[str, Any]) -> bytes:
    body = json.dumps(obj, separators=(",", ":")).encode()
    if len(body) > MAX_CONTROL_BYTES:
        raise SessionViolation(
            f"refusing to send a {len(body)}-byte control message (limit {MAX_CONTROL_BYTES})"
        )
    return bytes([CONTROL]) + body


def engine_payload(data: bytes) -> bytes:
    return bytes([ENGINE]) + data


def parse_payload(payload: bytes) -> tuple[int, bytes]:
    kind = payload[0]
    if kind not in (CONTROL, ENGINE):
        raise SessionViolation(f"unknown frame type {kind}")
    return kind, payload[1:]


def parse_control(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_CONTROL_BYTES:
        raise SessionViolation(
            f"a control message of {len(body)} bytes is over the limit ({MAX_CONTROL_BYTES})"
        )
    return _loads_bounded(body, what="a control message", depth=MAX_CONTROL_DEPTH)


def _loads_bounded(raw: bytes, *, what: str, depth: int) -> dict[str, Any]:
    """A JSON object through the one strict loader (:func:`mpcwallet.jsonio.loads`).

    Its depth check runs before the recursive parser, so a deeply nested message is a clear
    violation at once (no RecursionError, no long parse); duplicate keys, NaN and over-long
    numbers are refused too. Any refusal here ends the session as a violation.
    """
    from mpcwallet import jsonio

    try:
        obj = jsonio.loads(raw, what=what, max_bytes=MAX_CONTROL_BYTES, max_depth=depth)
    except BadInput as exc:
        raise SessionViolation(exc.message) from None
    if not isinstance(obj, dict):
        raise SessionViolation(f"{what} is not a JSON object")
    return obj
