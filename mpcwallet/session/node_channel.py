"""Node-to-node channel through an untrusted relay: Noise KK with pinned static keys.

Two signer nodes of a cluster exchange protocol messages through the coordinator, which is not
trusted. Each pair of nodes runs its own Noise handshake, pattern ``KK`` (Noise Protocol
Framework revision 34, section 7.4: both static keys known in advance, here pinned in the
cluster configuration), ``Noise_KK_25519_ChaChaPoly_SHA256``, through the ``noiseprotocol``
package::

    -> s                 (pre-message: the responder knows the initiator's static key)
    <- s                 (pre-message: the initiator knows the responder's static key)
    ...
    -> e, es, ss         HELLO frame
    <- e, ee, se         REPLY frame

The prologue (section 6) binds the cluster id, the session id and both party names (initiator
first); both sides compute it from their own view, so a handshake message moved to another
session, cluster or pair of parties fails to authenticate. Section 7.7 gives KK's payload
properties: the hello has source 1 / destination 2 (authenticated by ``ss``, but open to
key-compromise impersonation and replay: so it carries no payload), the reply 2 / 4, every
transport message 2 / 5 (both static keys and ``ee``: forward secrecy). ``Split()``
(section 5.2) then gives one
CipherState per direction, whose implicit 64-bit nonces (section 5.1) make every transport
message decrypt only once, in order, in its own direction.

Frames are opaque to the relay except for a clear route header it needs (cluster, session,
sender, recipient). The receiver checks the header against its own binding and every frame
against its Noise state, so the relay can delay or drop frames and nothing else: a tampered,
injected, replayed, reordered, reflected or cross-spliced frame raises
:class:`ChannelViolation` naming the peer, and the channel refuses every later call. A dropped
frame is seen as a violation as soon as a later frame arrives (its nonce is ahead); the channel
cannot tell which of the peer and the relay lost it, so a violation on this layer says "the
frames from node X did not authenticate", not "node X cheated". The relay must therefore deliver
each direction in order (one FIFO per sender and recipient). A hello replayed into a fresh
channel of the same session id gets a reply, but the replayer cannot read it or send a frame
the responder accepts (KK message 1 is replayable, section 7.7); the cluster never reuses a
session id.

Frame layout (all lengths big-endian)::

    b"MPCN" | u8 version=1 | u8 kind | u8 len | cluster_id | u8 len | session_id
            | u8 len | sender | u8 len | recipient | body

``kind`` 1 (HELLO) and 2 (REPLY) carry one Noise handshake message as ``body``; kind 3 (DATA)
carries one payload as a sequence of ``u16 len | Noise transport message``, whose plaintexts are
``flags | chunk`` with flag ``MORE`` (0x01) on every chunk but the last, so a relay cannot cut a
payload short: the last chunk's missing ``MORE`` is encrypted.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mpcwallet.errors import BadInput, SessionViolation
from mpcwallet.session.node_keys import (
    NAME_RE,
    StaticKeypair,
    check_name,
    check_public_key,
)

if TYPE_CHECKING:
    from noise.connection import NoiseConnection

__all__ = [
    "DEFAULT_MAX_PAYLOAD",
    "PROTOCOL_NAME",
    "Binding",
    "ChannelViolation",
    "NodeChannel",
    "Route",
    "StaticKeypair",
    "check_name",
    "check_public_key",
    "parse_route",
    "start_kk_handshake",
]

PROTOCOL_NAME = b"Noise_KK_25519_ChaChaPoly_SHA256"
MAGIC = b"MPCN"
VERSION = 1
HELLO, REPLY, DATA = 1, 2, 3
_KIND_NAMES = {HELLO: "hello", REPLY: "reply", DATA: "data"}
MAX_NOISE_MESSAGE = 65535  # section 3
TAG_BYTES = 16
MORE = 0x01
MAX_CHUNK = MAX_NOISE_MESSAGE - TAG_BYTES - 1
# A cb-mpc protocol message is far below this; a larger frame is refused before decryption.
DEFAULT_MAX_PAYLOAD = 8 * 1024 * 1024
_PROLOGUE_LABEL = b"mpcwallet/node-channel/v1\x00"
_U16 = struct.Struct(">H")


class ChannelViolation(SessionViolation):
    """A frame on a node-to-node channel failed a check; ``peer`` names the other node."""

    def __init__(self, message: str, *, field: str | None = None, peer: str = "") -> None:
        super().__init__(message, field=field)
        self.peer = peer

    @classmethod
    def about(cls, peer: str, what: str) -> ChannelViolation:
        return cls(f"protocol violation on the channel with node {peer!r}: {what}", peer=peer)


def start_kk_handshake(
    *,
    initiator: bool,
    static_private: bytes,
    remote_static: bytes,
    prologue: bytes,
    ephemeral: bytes | None = None,
) -> NoiseConnection:
    """A NoiseConnection for KK as our channels use it; ``ephemeral`` is for test vectors."""
    from noise.connection import Keypair, NoiseConnection

    conn = NoiseConnection.from_name(PROTOCOL_NAME)
    if initiator:
        conn.set_as_initiator()
    else:
        conn.set_as_responder()
    conn.set_keypair_from_private_bytes(Keypair.STATIC, bytes(static_private))
    conn.set_keypair_from_public_bytes(Keypair.REMOTE_STATIC, bytes(remote_static))
    conn.set_prologue(bytes(prologue))
    if ephemeral is not None:
        conn.set_keypair_from_private_bytes(Keypair.EPHEMERAL, bytes(ephemeral))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # noiseprotocol warns about a fixed ephemeral
            conn.start_handshake()
    else:
        conn.start_handshake()
    return conn


def _lp(data: bytes) -> bytes:
    return bytes([len(data)]) + data


@dataclass(frozen=True)
class Binding:
    """What a channel is for: one session of one cluster, between ``local`` and ``peer``."""

    cluster_id: str
    session_id: str
    local: str
    peer: str

    def __post_init__(self) -> None:
        check_name(self.cluster_id, "cluster_id")
        check_name(self.session_id, "session_id")
        check_name(self.local, "local party name")
        check_name(self.peer, "peer party name")
        if self.local == self.peer:
            raise BadInput("a channel needs two different party names", field="peer")

    @property
    def initiator(self) -> bool:
        """The party whose name sorts first initiates; both sides agree without a message."""
        return self.local < self.peer

    def prologue(self) -> bytes:
        first, second = sorted((self.local, self.peer))
        parts = (self.cluster_id, self.session_id, first, second)
        return _PROLOGUE_LABEL + b"".join(_lp(p.encode()) for p in parts)


@dataclass(frozen=True)
class Route:
    """The clear header of a frame: all a relay needs (and may read) to pass it along."""

    kind: str
    cluster_id: str
    session_id: str
    sender: str
    recipient: str


def _read_field(frame: bytes, pos: int) -> tuple[str, int]:
    if pos >= len(frame):
        raise ValueError("truncated header")
    size = frame[pos]
    end = pos + 1 + size
    if end > len(frame):
        raise ValueError("truncated header")
    value = frame[pos + 1 : end].decode("ascii")
    if NAME_RE.fullmatch(value) is None:
        raise ValueError("malformed name")
    return value, end


def _parse(frame: bytes) -> tuple[Route, bytes]:
    """The route header and the body; ValueError for anything that is not one of our frames."""
    if not isinstance(frame, bytes | bytearray) or len(frame) < 6 or frame[:4] != MAGIC:
        raise ValueError("not a node-channel frame")
    if frame[4] != VERSION:
        raise ValueError(f"frame version {frame[4]}, this mpcwallet speaks {VERSION}")
    kind = _KIND_NAMES.get(frame[5])
    if kind is None:
        raise ValueError(f"unknown frame kind {frame[5]}")
    pos = 6
    names = []
    for _ in range(4):
        value, pos = _read_field(bytes(frame), pos)
        names.append(value)
    return Route(kind, *names), bytes(frame[pos:])


def parse_route(frame: bytes) -> Route:
    """The clear route of a frame, for the relay. BadInput if it is not one of our frames."""
    try:
        return _parse(frame)[0]
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"not a node-channel frame: {exc}", field="frame") from None


class NodeChannel:
    """One end of a KK channel between two nodes (sans I/O: frames in, frames out).

    The initiator (``binding.initiator``) calls :meth:`hello`, sends the frame, and passes the
    answer to :meth:`complete`; the responder passes the hello to :meth:`accept` and sends back
    what it returns. Then both :meth:`seal` payloads into frames and :meth:`open` frames.
    After the first violation every call raises again (the channel is dead).
    """

    def __init__(
        self,
        binding: Binding,
        local_key: StaticKeypair,
        peer_public: bytes,
        *,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
    ) -> None:
        self.binding = binding
        self.max_payload = max_payload
        peer_public = check_public_key(peer_public, "peer static key")
        if peer_public == local_key.public:
            raise BadInput("the peer's pinned static key is this node's own", field="peer")
        self._conn = start_kk_handshake(
            initiator=binding.initiator,
            static_private=local_key.private_bytes(),
            remote_static=peer_public,
            prologue=binding.prologue(),
        )
        self._state = "start"
        self._dead: ChannelViolation | None = None

    def __repr__(self) -> str:
        b = self.binding
        return f"NodeChannel({b.local}->{b.peer}, session={b.session_id}, state={self._state})"

    @property
    def established(self) -> bool:
        return self._state == "open"

    # --- frames ------------------------------------------------------------------------------

    def _header(self, kind: int) -> bytes:
        b = self.binding
        return (
            MAGIC
            + bytes([VERSION, kind])
            + b"".join(_lp(x.encode()) for x in (b.cluster_id, b.session_id, b.local, b.peer))
        )

    def _violation(self, message: str) -> ChannelViolation:
        err = ChannelViolation.about(
            self.binding.peer, f"{message} (session {self.binding.session_id})"
        )
        self._dead = err
        self._state = "dead"
        return err

    def _check_alive(self) -> None:
        if self._dead is not None:
            raise ChannelViolation.about(
                self.binding.peer,
                f"the channel was closed by an earlier violation: {self._dead.message}",
            )

    def _receive(self, frame: bytes, kind: str) -> bytes:
        """Parse a frame and check its route against this channel's binding."""
        self._check_alive()
        if len(frame) > self.max_payload + self.max_payload // 32 + 1024:
            raise self._violation(f"an oversized frame ({len(frame)} bytes) arrived")
        try:
            route, body = _parse(frame)
        except (ValueError, UnicodeDecodeError, TypeError) as exc:
            raise self._violation(f"a malformed frame arrived ({exc})") from None
        b = self.binding
        if route.cluster_id != b.cluster_id or route.session_id != b.session_id:
            raise self._violation(
                f"a frame of another cluster or session ({route.cluster_id}/{route.session_id})"
                " was relayed into this one"
            )
        if route.sender != b.peer or route.recipient != b.local:
            raise self._violation(
                f"a frame from {route.sender!r} to {route.recipient!r} was relayed to this "
                f"channel ({b.peer!r} to {b.local!r})"
            )
        if route.kind != kind:
            raise self._violation(f"a {route.kind} frame arrived where a {kind} was expected")
        return body

    def _handshake_failed(self) -> tuple[type[BaseException], ...]:
        from cryptography.exceptions import InvalidTag
        from noise.exceptions import NoiseInvalidMessage, NoiseValueError

        return (InvalidTag, NoiseInvalidMessage, NoiseValueError, ValueError, IndexError)

    # --- handshake ---------------------------------------------------------------------------

    def hello(self) -> bytes:
        """Initiator: the first handshake frame."""
        self._check_alive()
        if not self.binding.initiator or self._state != "start":
            raise BadInput("hello() is the initiator's first call, once", field="state")
        self._state = "sent_hello"
        return self._header(HELLO) + bytes(self._conn.write_message(b""))

    def accept(self, frame: bytes) -> bytes:
        """Responder: read the hello frame, answer with the reply frame; the channel is open."""
        self._check_alive()
        if self.binding.initiator or self._state != "start":
            raise self._violation("a hello arrived where none was expected")
        body = self._receive(frame, "hello")
        try:
            payload = self._conn.read_message(body)
        except self._handshake_failed():
            raise self._violation(
                "the hello did not authenticate (not the pinned key of this node, or made for "
                "another session, cluster or pair of parties)"
            ) from None
        if payload:
            raise self._violation("the hello carries an unexpected payload")
        reply = self._header(REPLY) + bytes(self._conn.write_message(b""))
        self._state = "open"
        return reply

    def complete(self, frame: bytes) -> None:
        """Initiator: read the reply frame; the channel is open."""
        self._check_alive()
        if self._state != "sent_hello":
            raise self._violation("a reply arrived where none was expected")
        body = self._receive(frame, "reply")
        try:
            payload = self._conn.read_message(body)
        except self._handshake_failed():
            raise self._violation(
                "the reply did not authenticate (not the pinned key of this node, or made for "
                "another session, cluster or pair of parties)"
            ) from None
        if payload:
            raise self._violation("the reply carries an unexpected payload")
        self._state = "open"

    # --- transport ---------------------------------------------------------------------------

    def seal(self, payload: bytes) -> bytes:
        """One DATA frame carrying ``payload`` (any length up to ``max_payload``)."""
        self._check_alive()
        if self._state != "open":
            raise BadInput("the channel's handshake has not finished", field="state")
        if len(payload) > self.max_payload:
            raise BadInput(
                f"refusing to send a {len(payload)}-byte message (limit {self.max_payload})",
                field="payload",
            )
        out = [self._header(DATA)]
        for start in range(0, max(len(payload), 1), MAX_CHUNK):
            chunk = bytes(payload[start : start + MAX_CHUNK])
            more = start + MAX_CHUNK < len(payload)
            message = bytes(self._conn.encrypt(bytes([MORE if more else 0]) + chunk))
            out.append(_U16.pack(len(message)) + message)
        return b"".join(out)

    def open(self, frame: bytes) -> bytes:
        """The payload of one DATA frame from the peer, or :class:`ChannelViolation`."""
        from cryptography.exceptions import InvalidTag
        from noise.exceptions import NoiseInvalidMessage

        if self._state != "open" and self._dead is None:
            raise self._violation("a data frame arrived before the handshake finished")
        body = self._receive(frame, "data")
        parts: list[bytes] = []
        pos, size, final = 0, 0, False
        while pos < len(body):
            if final:
                raise self._violation("a data frame carries bytes after its last chunk")
            if pos + _U16.size > len(body):
                raise self._violation("a data frame is truncated")
            (length,) = _U16.unpack_from(body, pos)
            message = body[pos + _U16.size : pos + _U16.size + length]
            pos += _U16.size + length
            if len(message) != length or length < TAG_BYTES + 1:
                raise self._violation("a data frame is truncated")
            try:
                plain = bytes(self._conn.decrypt(message))
            except (InvalidTag, NoiseInvalidMessage):
                raise self._violation(
                    "a data frame did not authenticate: tampered, injected, replayed, "
                    "reordered, reflected or spliced from another session, or an earlier "
                    "frame was dropped on the way"
                ) from None
            flags, chunk = plain[0], plain[1:]
            if flags & ~MORE:
                raise self._violation(f"a data frame carries unknown flags {flags:#04x}")
            if flags & MORE and len(chunk) != MAX_CHUNK:
                raise self._violation("a data frame's non-final chunk is not full size")
            size += len(chunk)
            if size > self.max_payload:
                raise self._violation(f"a message over {self.max_payload} bytes arrived")
            parts.append(chunk)
            final = not flags & MORE
        if not final:
            raise self._violation("a data frame ends before its last chunk")
        return b"".join(parts)
