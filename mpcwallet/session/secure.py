"""The Noise layer of a session: handshake state, session keys, encrypted frames.

We use the Noise Protocol Framework, revision 34, through the ``noiseprotocol`` package (a
maintained implementation on pyca/cryptography: X25519, ChaCha20-Poly1305 and SHA-256 all come
from ``cryptography``). Pattern ``Noise_NKpsk0_25519_ChaChaPoly_SHA256`` (spec section 7.4,
``NK``, with the ``psk0`` modifier of section 9.2)::

    <- s                 (the co-signer's static X25519 key, pinned by the client)
    ...
    -> psk, e, es        (client: its install id, encrypted under PSK + DH(e, s))
    <- e, ee             (co-signer: its install id, encrypted under PSK + es + ee)

Two things authenticate each session. The PSK is the client's own secret: the local client's
token (``MPC_HOME/cosigner/auth.token``) or a paired client's own secret (keygen, health), or
the key's per-key secret (sign, refresh). The co-signer's static key, which the client pins (a
local client reads it from its home, a paired client stores it at pairing), makes message 1
readable and message 2 writable only by the holder of the static private key: a peer that holds
some PSK (another paired client, a co-signer backup's reader) still cannot pass for the
co-signer.

Why NKpsk0 and not the others the issue names:

* ``NNpsk0`` (before): the PSK alone authenticated the co-signer, so every holder of a shared
  token could pass for it.
* ``KKpsk0`` would also pin a static key of each client. The client is already authenticated by
  its own PSK (which the co-signer can revoke), so that would add a second long-term secret to
  every client home and to the registry for no property we need.
* ``XKpsk3`` hides the client's static key and needs a third message: 1.5 round trips, and the
  co-signer would answer message 1 before the client has proved anything. Our hello names the
  key in clear anyway (the co-signer must pick the PSK before it can read message 1).
* ``NKpsk0`` keeps one round trip and keeps "a peer without the PSK fails at the first message it
  sends, before anything it sent is acted on" (``psk`` first, section 9.2), and adds ``es``:
  the co-signer proves its static key by being able to read message 1 and write message 2.
  Forward secrecy comes from ``ee`` (section 7.7); a low-order ephemeral makes ``es`` all zero,
  which ``cryptography`` refuses (RFC 7748 section 6.1), so such a message 1 fails to read.

After the handshake, ``Split()`` (section 5.2) gives one CipherState per direction; every frame
is one Noise transport message (section 5.1: implicit 64-bit nonces, so a replayed, reordered,
dropped or altered frame fails to decrypt).

The session id is the handshake hash ``h`` (section 11.2, channel binding). The per-key secret a
keygen or refresh establishes is HKDF-SHA256 of the two split keys (salt ``h``, info a label,
the key id and the public key): it depends on the ephemeral DH (``ee``), so an observer who holds
the PSK and a full capture cannot compute it, and a later theft of the PSK reveals nothing of
past sessions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mpcwallet.errors import SessionViolation

if TYPE_CHECKING:
    from noise.connection import NoiseConnection

PROTOCOL_NAME = b"Noise_NKpsk0_25519_ChaChaPoly_SHA256"
# Section 3: every Noise message is at most 65535 bytes; a transport message carries a 16-byte
# AEAD tag (section 5.1).
MAX_NOISE_MESSAGE = 65535
TAG_BYTES = 16
PSK_BYTES = 32
SECRET_BYTES = 32
STATIC_KEY_BYTES = 32

_PER_KEY_INFO = b"mpcwallet/session/v2 per-key secret\x00"


def start_handshake(
    *,
    initiator: bool,
    psk: bytes,
    prologue: bytes,
    static_key: bytes,
    ephemeral: bytes | None = None,
) -> NoiseConnection:
    """A NoiseConnection configured exactly as our sessions use it.

    ``prologue`` is the clear hello (section 6: both sides must agree on it, or the first
    message fails). ``static_key`` is the co-signer's static X25519 key: its public key for the
    initiator (the pinned ``rs``), its private key for the responder (``s``). ``ephemeral`` (a
    private X25519 key) is for the published test vectors only.
    """
    import warnings

    from noise.connection import Keypair, NoiseConnection

    if len(static_key) != STATIC_KEY_BYTES:
        raise ValueError("a static X25519 key is 32 bytes")
    conn = NoiseConnection.from_name(PROTOCOL_NAME)
    if initiator:
        conn.set_as_initiator()
        conn.set_keypair_from_public_bytes(Keypair.REMOTE_STATIC, bytes(static_key))
    else:
        conn.set_as_responder()
        conn.set_keypair_from_private_bytes(Keypair.STATIC, bytes(static_key))
    conn.set_psks(psk=bytes(psk))
    conn.set_prologue(bytes(prologue))
    if ephemeral is not None:
        conn.set_keypair_from_private_bytes(Keypair.EPHEMERAL, ephemeral)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # noiseprotocol warns about a fixed ephemeral
            conn.start_handshake()
    else:
        conn.start_handshake()
    return conn


def new_static_key() -> bytes:
    """A fresh static X25519 private key (32 bytes, from ``cryptography``)."""
    from cryptography.hazmat.primitives.asymmetric import x25519
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    return x25519.X25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )


def static_public(private: bytes) -> bytes:
    """The public X25519 key of a static private key."""
    from cryptography.hazmat.primitives.asymmetric import x25519
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = x25519.X25519PrivateKey.from_private_bytes(bytes(private))
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def handshake_errors() -> tuple[type[BaseException], ...]:
    """What ``noiseprotocol`` raises for a handshake message that does not verify or parse."""
    from cryptography.exceptions import InvalidTag
    from noise.exceptions import NoiseInvalidMessage, NoiseValueError

    # ValueError: a malformed or low-order X25519 key (cryptography refuses an all-zero DH).
    return (InvalidTag, NoiseInvalidMessage, NoiseValueError, ValueError, IndexError)


@dataclass(frozen=True, repr=False)
class SessionKeys:
    """The outputs of a finished handshake. ``repr`` shows the public session id only."""

    session_id: bytes  # the handshake hash h
    _split: bytes = field(repr=False)  # k(initiator->responder) || k(responder->initiator)

    def __repr__(self) -> str:
        return f"SessionKeys(session_id={self.session_id.hex()})"

    @classmethod
    def from_connection(cls, conn: NoiseConnection, *, initiator: bool) -> SessionKeys:
        proto: Any = conn.noise_protocol
        enc, dec = proto.cipher_state_encrypt.k, proto.cipher_state_decrypt.k
        i2r, r2i = (enc, dec) if initiator else (dec, enc)
        return cls(bytes(conn.get_handshake_hash()), bytes(i2r) + bytes(r2i))

    def per_key_secret(self, key_id: str, public_key: bytes) -> bytes:
        """The per-key secret both sides derive at the end of a keygen or refresh session."""
        return HKDF(
            algorithm=hashes.SHA256(),
            length=SECRET_BYTES,
            salt=self.session_id,
            info=_PER_KEY_INFO + key_id.encode() + b"\x00" + public_key,
        ).derive(self._split)


# Plaintext of one transport message: a flags byte, then a chunk of the payload. A payload
# longer than one message is cut into full chunks flagged MORE and a last chunk without it.
MORE = 0x01
MAX_CHUNK = MAX_NOISE_MESSAGE - TAG_BYTES - 1


@dataclass(repr=False)
class FrameCodec:
    """Encrypts outgoing and decrypts incoming frames of one session (fragmenting payloads)."""

    conn: NoiseConnection
    keys: SessionKeys
    side: str
    max_payload: int
    _parts: list[bytes] = field(default_factory=list)
    _size: int = 0

    def __repr__(self) -> str:
        return f"FrameCodec(side={self.side}, session_id={self.keys.session_id.hex()})"

    def seal(self, payload: bytes) -> list[bytes]:
        """The Noise transport messages carrying ``payload`` (one or more, in order)."""
        if len(payload) > self.max_payload:
            raise SessionViolation(
                f"refusing to send a {len(payload)}-byte frame (limit {self.max_payload})"
            )
        out = []
        for start in range(0, max(len(payload), 1), MAX_CHUNK):
            chunk = payload[start : start + MAX_CHUNK]
            more = start + MAX_CHUNK < len(payload)
            out.append(bytes(self.conn.encrypt(bytes([MORE if more else 0]) + chunk)))
        return out

    def open(self, message: bytes) -> bytes | None:
        """Decrypt one transport message; the whole payload once its last chunk arrived."""
        from cryptography.exceptions import InvalidTag
        from noise.exceptions import NoiseInvalidMessage

        if len(message) > MAX_NOISE_MESSAGE:
            raise SessionViolation(
                f"received an oversized frame ({len(message)} bytes, limit {MAX_NOISE_MESSAGE})"
            )
        if len(message) < TAG_BYTES + 1:
            raise SessionViolation("received a truncated frame")
        try:
            plain = bytes(self.conn.decrypt(bytes(message)))
        except (InvalidTag, NoiseInvalidMessage):
            raise SessionViolation(
                "a frame failed to decrypt (tampered, injected, replayed, reordered or dropped)"
            ) from None
        flags, chunk = plain[0], plain[1:]
        if flags & ~MORE:
            raise SessionViolation(f"a frame carries unknown flags {flags:#04x}")
        if flags & MORE and len(chunk) != MAX_CHUNK:
            raise SessionViolation("a frame's non-final fragment is not full size")
        self._size += len(chunk)
        if self._size > self.max_payload:
            raise SessionViolation(
                f"received an oversized frame (over {self.max_payload} bytes reassembled)"
            )
        self._parts.append(chunk)
        if flags & MORE:
            return None
        payload = b"".join(self._parts)
        self._parts, self._size = [], 0
        if not payload:
            raise SessionViolation("received an empty frame")
        return payload
