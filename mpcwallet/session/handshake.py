"""Both halves of the Noise handshake (formats: :mod:`mpcwallet.session.wire`; crypto and the
choice of pattern, NKpsk0: :mod:`mpcwallet.session.secure`).

The client sends its clear hello and Noise message 1 together; the co-signer checks version and
engine (a mismatch is one clear line on both sides), resolves the PSK from the hello and reads
message 1 with its static key. A wrong PSK, an unknown key or client id (the co-signer then uses
a dummy PSK), and a client that pinned another co-signer's static key all fail there with the
same ``auth_failed`` answer; nothing the client sent is acted on before. The co-signer's message
2 authenticates it (PSK and static key) to the client. One round trip in all.

Nothing the client receives before message 2 has verified is authenticated: a clear refusal, a
malformed or oversized answer, or a message 2 that does not verify is at most ``auth_failed``
(an engine or version mismatch keeps its own permanent error), never a protocol violation, so
it cannot make the client quarantine a key (issue 20, item 4). On the co-signer every failure
of the handshake, whatever raised it, becomes one clean refusal (issue 20, item 13).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from mpcwallet.errors import (
    AuthFailed,
    EngineMismatch,
    MpcError,
    PeerTimeout,
    PeerUnreachable,
    SessionViolation,
)
from mpcwallet.session import secure, wire
from mpcwallet.session.channel import (
    CLOSE_POLICY,
    WS_BINARY,
    WS_TEXT,
    Channel,
    RoundHook,
    WebSocketLike,
)
from mpcwallet.session.wire import Hello

__all__ = ["Hello", "SecretResolver", "client_handshake", "server_handshake"]

_NOT_PROVEN = (
    "did not prove knowledge of the shared secret (wrong pairing secret or per-key secret, "
    "unknown key, a removed pairing, or a different co-signer)"
)
# What a client that fails message 1 is told, by the auth mode it named (public: its own hello).
# A wrong, unknown, used and expired pairing code all get this same line (issue 20, item 11).
_NOT_PROVEN_BY_MODE = {
    "code": "did not present a valid pairing code (wrong, unknown, expired or already used); run "
    "`mpc cosigner pair` on the co-signer's machine for a new one",
}


async def _receive(ws: WebSocketLike, timeout: float, peer: str) -> Any:
    try:
        return await ws.receive(timeout=timeout)
    except TimeoutError:
        raise PeerTimeout(f"{peer} sent nothing for {timeout:g} s during the handshake") from None


def _printable(text: str, limit: int = 300) -> str:
    """A peer's text for our message: bounded, control characters replaced."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


def _raise_refusal(text: str, peer: str) -> None:
    """A clear answer to the hello, as our error. It is unauthenticated (anyone on the path can
    send it), so it is at most :class:`AuthFailed`; a version or engine mismatch keeps its
    :class:`EngineMismatch` (and field) so that the user gets the one clear line."""
    try:
        obj = wire.parse_handshake(text)
    except SessionViolation:
        raise AuthFailed(f"{peer} answered the handshake with a malformed message") from None
    if obj.get("type") != "error":
        raise AuthFailed(f"{peer} sent an unexpected handshake message")
    code, message, fld = obj.get("code"), obj.get("message"), obj.get("field")
    reason = _printable(message) if isinstance(message, str) else "no reason given"
    if code == EngineMismatch.code:
        if fld not in ("version", "engine"):  # a v1 co-signer names no field
            fld = "version" if reason.startswith("protocol version") else "engine"
        raise EngineMismatch(f"{peer} refused the session: {reason}", field=fld)
    if code != AuthFailed.code:
        shown = _printable(code, 40) if isinstance(code, str) else "?"
        reason = f"{reason} (code {shown!r}, before the session was authenticated)"
    raise AuthFailed(f"{peer} refused the session: {reason}")


async def client_handshake(
    ws: WebSocketLike,
    *,
    secret: bytes,
    engine: str,
    auth: wire.AuthMode,
    key_id: str | None,
    round_timeout: float,
    install_id: str | None = None,
    cosigner_static: bytes | None = None,
) -> Channel:
    """Open a session as the client. ``install_id`` defaults to this MPC_HOME's, and
    ``cosigner_static`` (the co-signer's static public key) to the one this home pins."""
    from mpcwallet.session.install_id import client_install_id
    from mpcwallet.session.peer import pinned_static_key

    peer = "the co-signer"
    own_id = install_id or client_install_id()
    static = cosigner_static if cosigner_static is not None else pinned_static_key()
    hello_text = wire.encode_hello(Hello(wire.PROTOCOL_VERSION, engine, auth, key_id))
    conn = secure.start_handshake(
        initiator=True, psk=secret, prologue=wire.prologue(hello_text), static_key=static
    )
    await ws.send_str(hello_text)
    await ws.send_bytes(bytes(conn.write_message(wire.identity_payload(own_id))))
    # Until message 2 verifies, the peer is unauthenticated: nothing it sends is a violation.
    msg = await _receive(ws, round_timeout, peer)
    if msg.type == WS_TEXT:
        _raise_refusal(msg.data, peer)
    if msg.type != WS_BINARY:
        raise PeerUnreachable(f"{peer} closed the connection during the handshake")
    if len(msg.data) > wire.MAX_HANDSHAKE_BYTES:
        raise AuthFailed(f"{peer} answered the handshake with an oversized message")
    try:
        payload = bytes(conn.read_message(bytes(msg.data)))
    except Exception:  # noqa: BLE001 - whatever noiseprotocol raises, the peer is not proven
        raise AuthFailed(f"{peer} {_NOT_PROVEN}") from None
    # Authenticated from here: the peer holds the PSK and the pinned static key.
    peer_id = wire.parse_identity(payload, peer=peer)
    if peer_id == own_id:
        raise SessionViolation(f"{peer} claims this client's own install id")
    keys = secure.SessionKeys.from_connection(conn, initiator=True)
    codec = secure.FrameCodec(conn, keys, "client", wire.MAX_PAYLOAD_BYTES)
    channel = Channel(
        ws, codec, round_timeout=round_timeout, peer_label=peer, party_names=(own_id, peer_id)
    )
    channel.start()
    return channel


SecretResolver = Callable[[Hello], Awaitable[bytes]]


async def _refuse(ws: WebSocketLike, err: MpcError) -> None:
    doc: dict[str, Any] = {"type": "error", "code": err.code, "message": err.message}
    if isinstance(err, EngineMismatch) and err.field:
        doc["field"] = err.field
    await ws.send_str(json.dumps(doc))
    await ws.close(code=CLOSE_POLICY)


async def server_handshake(
    ws: WebSocketLike,
    *,
    engine: str,
    resolve_secret: SecretResolver,
    round_timeout: float,
    install_id: str,
    static_key: bytes,
    on_round: RoundHook | None = None,
) -> tuple[Channel, Hello]:
    """Authenticate a client. On failure the client is told why and :class:`MpcError` raised.

    ``resolve_secret(hello)`` returns the 32-byte PSK for the hello's auth mode and key id; for
    a key id it does not know it must return a dummy PSK (never raise), so that an unknown key
    and a wrong secret fail identically at message 1. ``static_key`` is the co-signer's static
    X25519 private key. Any exception while handling the handshake becomes one refusal
    (:class:`AuthFailed` unless it already was an :class:`MpcError`); only a broken connection
    or a cancellation passes through unchanged.
    """
    peer = "the client"
    try:
        msg = await _receive(ws, round_timeout, peer)
        if msg.type != WS_TEXT:
            raise AuthFailed("the session must open with a hello")
        hello_text = msg.data
        hello = wire.parse_hello(hello_text, engine=engine)
        secret = await resolve_secret(hello)
        msg = await _receive(ws, round_timeout, peer)
        if msg.type != WS_BINARY:
            raise AuthFailed("the client sent no handshake message after its hello")
        if len(msg.data) > wire.MAX_HANDSHAKE_BYTES:
            raise SessionViolation("the client sent an oversized handshake message")
        conn = secure.start_handshake(
            initiator=False, psk=secret, prologue=wire.prologue(hello_text), static_key=static_key
        )
        try:
            payload = bytes(conn.read_message(bytes(msg.data)))
        except Exception:  # noqa: BLE001 - a bad tag, a malformed or low-order key, ...
            reason = _NOT_PROVEN_BY_MODE.get(hello.auth, _NOT_PROVEN)
            raise AuthFailed(f"the client {reason}") from None
        # The client holds the PSK (message 1 decrypted under it). Message 1 may still be a
        # replay: only the live client can read message 2 and send a frame after it.
        peer_id = wire.parse_identity(payload, peer=peer)
        if peer_id == install_id:
            raise SessionViolation("the client claims the co-signer's own install id")
        await ws.send_bytes(bytes(conn.write_message(wire.identity_payload(install_id))))
    except MpcError as err:
        await _refuse_quietly(ws, err)
        raise
    except (ConnectionError, asyncio.CancelledError):
        raise
    except Exception as exc:  # noqa: BLE001 - reported by type only, never its arguments
        failed = AuthFailed(f"the handshake could not be completed ({type(exc).__name__})")
        await _refuse_quietly(ws, failed)
        raise failed from None
    keys = secure.SessionKeys.from_connection(conn, initiator=False)
    codec = secure.FrameCodec(conn, keys, "server", wire.MAX_PAYLOAD_BYTES)
    channel = Channel(
        ws,
        codec,
        round_timeout=round_timeout,
        peer_label=peer,
        on_round=on_round,
        party_names=(peer_id, install_id),
    )
    channel.start()
    return channel, hello


async def _refuse_quietly(ws: WebSocketLike, err: MpcError) -> None:
    if not ws.closed:
        try:
            await _refuse(ws, err)
        except (ConnectionError, RuntimeError):
            pass
