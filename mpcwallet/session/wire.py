"""The session wire format: the authenticated handshake and the MAC'd frames (pure functions).

Handshake (WebSocket TEXT messages, JSON, at most ``MAX_HANDSHAKE_BYTES`` each)::

    C -> S  {"type": "hello", "v": 1, "engine": E, "auth": "pairing"|"key", "key_id": K|null,
             "nonce": hex(32 random bytes)}
    S -> C  {"type": "challenge", "v": 1, "engine": E, "nonce": hex(32), "proof": hex(32)}
            or {"type": "error", "code": ..., "message": ...} and close
    C -> S  {"type": "proof", "proof": hex(32)}
    S -> C  first frame (BINARY), a control message {"type": "ready"}; or a TEXT error and close

Both sides hold the same 32-byte secret (the pairing token, or the per-key auth secret) and
never send it. From it they derive, with HKDF-SHA256 (salt = client nonce || server nonce,
info = label || SHA-256 of the transcript), three keys: ``confirm`` (for the two proofs, each an
HMAC-SHA256 over a direction label and the transcript hash), ``mac`` (the frame MAC) and
``export`` (for secrets the session hands out, i.e. the per-key auth secret at keygen). The
transcript binds the protocol version, the engine name, the auth mode, the key id and both
nonces, so a mismatch in any of them makes the proofs differ.

Frames after the handshake (BINARY)::

    seq (u64, big endian) || payload || HMAC-SHA256(mac key, session id || direction || seq ||
    payload)

with ``direction`` one byte (1 client->server, 2 server->client) and ``seq`` counting from 0
in each direction. ``payload`` = one type byte (``CONTROL`` JSON or ``ENGINE`` opaque bytes) +
body. A frame whose MAC fails, whose seq is not the next expected one (replayed, reordered,
dropped), or which exceeds the size bound raises :class:`SessionViolation`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mpcwallet.engine.base import MAX_MESSAGE_BYTES
from mpcwallet.errors import AuthFailed, SessionViolation

PROTOCOL_VERSION = 1
NONCE_BYTES = 32
SECRET_BYTES = 32
TAG_BYTES = 32
SEQ_BYTES = 8
MAX_HANDSHAKE_BYTES = 4096
# One engine message plus the frame's own overhead and a type byte.
MAX_PAYLOAD_BYTES = MAX_MESSAGE_BYTES + 1
MAX_FRAME_BYTES = SEQ_BYTES + MAX_PAYLOAD_BYTES + TAG_BYTES
# aiohttp's own limit sits above ours so that we, not aiohttp, judge (and name) an oversize.
WS_MAX_MSG_SIZE = 4 * MAX_FRAME_BYTES

CONTROL = 0x01
ENGINE = 0x02

CLIENT_TO_SERVER = b"\x01"
SERVER_TO_CLIENT = b"\x02"

AuthMode = Literal["pairing", "key"]
Side = Literal["client", "server"]

_HKDF_INFO = b"mpcwallet/session/v1 keys"
_PER_KEY_INFO = b"mpcwallet/session/v1 per-key auth secret"


def new_nonce() -> bytes:
    return os.urandom(NONCE_BYTES)


def transcript_hash(
    *, version: int, engine: str, auth: AuthMode, key_id: str | None, nc: bytes, ns: bytes
) -> bytes:
    """SHA-256 of a canonical encoding of everything the handshake agreed on."""
    doc = json.dumps(
        ["mpcwallet-session", version, engine, auth, key_id, nc.hex(), ns.hex()],
        separators=(",", ":"),
    ).encode()
    return hashlib.sha256(doc).digest()


@dataclass(frozen=True, repr=False)
class SessionKeys:
    """Keys of one session. ``repr`` shows the public session id only."""

    session_id: bytes
    transcript: bytes
    confirm: bytes
    mac: bytes
    export: bytes

    def __repr__(self) -> str:
        return f"SessionKeys(session_id={self.session_id.hex()})"

    def proof(self, side: Side) -> bytes:
        return hmac.new(self.confirm, side.encode() + self.transcript, hashlib.sha256).digest()

    def check_proof(self, side: Side, proof: bytes) -> None:
        if not hmac.compare_digest(self.proof(side), proof):
            who = "the client" if side == "client" else "the co-signer"
            raise AuthFailed(
                f"{who} did not prove knowledge of the shared secret (wrong pairing token or "
                "per-key secret, or a different co-signer)"
            )

    def per_key_secret(self, key_id: str, public_key: bytes) -> bytes:
        """The per-key auth secret both sides derive at the end of a keygen session."""
        return HKDF(
            algorithm=hashes.SHA256(),
            length=SECRET_BYTES,
            salt=self.session_id,
            info=_PER_KEY_INFO + key_id.encode() + public_key,
        ).derive(self.export)


def derive_session_keys(secret: bytes, transcript: bytes, nc: bytes, ns: bytes) -> SessionKeys:
    okm = HKDF(
        algorithm=hashes.SHA256(), length=96, salt=nc + ns, info=_HKDF_INFO + transcript
    ).derive(secret)
    session_id = hashlib.sha256(b"mpcwallet session id" + transcript).digest()
    return SessionKeys(session_id, transcript, okm[:32], okm[32:64], okm[64:96])


@dataclass(repr=False)
class FrameCodec:
    """Seals outgoing and opens incoming frames of one session, tracking both sequences."""

    keys: SessionKeys
    side: Side
    send_seq: int = field(default=0)
    recv_seq: int = field(default=0)

    def __repr__(self) -> str:
        return f"FrameCodec(side={self.side}, session_id={self.keys.session_id.hex()})"

    @property
    def _out_dir(self) -> bytes:
        return CLIENT_TO_SERVER if self.side == "client" else SERVER_TO_CLIENT

    @property
    def _in_dir(self) -> bytes:
        return SERVER_TO_CLIENT if self.side == "client" else CLIENT_TO_SERVER

    def _tag(self, direction: bytes, seq: bytes, payload: bytes) -> bytes:
        mac = hmac.new(self.keys.mac, digestmod=hashlib.sha256)
        mac.update(self.keys.session_id)
        mac.update(direction)
        mac.update(seq)
        mac.update(payload)
        return mac.digest()

    def seal(self, payload: bytes) -> bytes:
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise SessionViolation(
                f"refusing to send a {len(payload)}-byte frame (limit {MAX_PAYLOAD_BYTES})"
            )
        seq = self.send_seq.to_bytes(SEQ_BYTES, "big")
        self.send_seq += 1
        return seq + payload + self._tag(self._out_dir, seq, payload)

    def open(self, frame: bytes) -> bytes:
        if len(frame) > MAX_FRAME_BYTES:
            raise SessionViolation(
                f"received an oversized frame ({len(frame)} bytes, limit {MAX_FRAME_BYTES})"
            )
        if len(frame) < SEQ_BYTES + 1 + TAG_BYTES:
            raise SessionViolation("received a truncated frame")
        seq = frame[:SEQ_BYTES]
        payload = frame[SEQ_BYTES:-TAG_BYTES]
        tag = frame[-TAG_BYTES:]
        if not hmac.compare_digest(self._tag(self._in_dir, seq, payload), tag):
            raise SessionViolation("a frame failed its MAC check (injected or tampered)")
        got = int.from_bytes(seq, "big")
        if got != self.recv_seq:
            raise SessionViolation(
                f"frame out of sequence (got {got}, expected {self.recv_seq}): "
                "replayed, reordered or dropped"
            )
        self.recv_seq += 1
        return payload


def control_payload(obj: dict[str, Any]) -> bytes:
    return bytes([CONTROL]) + json.dumps(obj, separators=(",", ":")).encode()


def engine_payload(data: bytes) -> bytes:
    return bytes([ENGINE]) + data


def parse_payload(payload: bytes) -> tuple[int, bytes]:
    kind = payload[0]
    if kind not in (CONTROL, ENGINE):
        raise SessionViolation(f"unknown frame type {kind}")
    return kind, payload[1:]


def parse_control(body: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(body)
    except ValueError:
        raise SessionViolation("a control frame is not JSON") from None
    if not isinstance(obj, dict):
        raise SessionViolation("a control frame is not a JSON object")
    return obj


def parse_handshake(text: str) -> dict[str, Any]:
    """A handshake message; :class:`SessionViolation` if it is not a bounded JSON object."""
    if len(text) > MAX_HANDSHAKE_BYTES:
        raise SessionViolation("an oversized handshake message")
    try:
        obj = json.loads(text)
    except ValueError:
        raise SessionViolation("a handshake message is not JSON") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise SessionViolation("a handshake message is not a typed JSON object")
    return obj


def hex_field(obj: dict[str, Any], name: str, size: int) -> bytes:
    value = obj.get(name)
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != size:
        raise SessionViolation(f"handshake field {name!r} is not {size} hex-encoded bytes")
    return raw
