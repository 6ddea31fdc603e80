"""Both halves of the Noise handshake (formats: :mod:`mpcwallet.session.wire`; crypto:
:mod:`mpcwallet.session.secure`).

The client sends its clear hello and Noise message 1 together; the co-signer checks version and
engine (a mismatch is one clear line on both sides), resolves the PSK from the hello and reads
message 1. A wrong PSK, and an unknown key id (the co-signer then uses a dummy PSK), both fail
there with the same ``auth_failed`` answer; nothing the client sent is acted on before. The
co-signer's message 2 authenticates it to the client. One round trip in all.
"""

from __future__ import annotations

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
from mpcwallet.session.errors import error_from_code
from mpcwallet.session.wire import Hello

__all__ = ["Hello", "SecretResolver", "client_handshake", "server_handshake"]

_NOT_PROVEN = (
    "did not prove knowledge of the shared secret (wrong pairing token or per-key secret, "
    "unknown key, or a different co-signer)"
)


async def _receive(ws: WebSocketLike, timeout: float, peer: str) -> Any:
    try:
        return await ws.receive(timeout=timeout)
    except TimeoutError:
        raise PeerTimeout(f"{peer} sent nothing for {timeout:g} s during the handshake") from None


def _raise_refusal(obj: dict[str, Any], peer: str) -> None:
    """The peer's clear error message as our error (version/engine keep their field)."""
    if obj.get("type") != "error":
        raise AuthFailed(f"{peer} sent an unexpected handshake message {obj.get('type')!r}")
    code, message, fld = obj.get("code"), obj.get("message"), obj.get("field")
    text = message if isinstance(message, str) else "no reason given"
    cls = error_from_code(code if isinstance(code, str) else "")
    if cls is EngineMismatch:
        if fld not in ("version", "engine"):  # a v1 co-signer names no field
            fld = "version" if text.startswith("protocol version") else "engine"
        raise EngineMismatch(f"{peer} refused the session: {text[:500]}", field=fld)
    raise cls(f"{peer} refused the session: {text[:500]}")


async def client_handshake(
    ws: WebSocketLike,
    *,
    secret: bytes,
    engine: str,
    auth: wire.AuthMode,
    key_id: str | None,
    round_timeout: float,
    install_id: str | None = None,
) -> Channel:
    """Open a session as the client; ``install_id`` defaults to this MPC_HOME's."""
    from mpcwallet.session.install_id import client_install_id

    peer = "the co-signer"
    own_id = install_id or client_install_id()
    hello_text = wire.encode_hello(Hello(wire.PROTOCOL_VERSION, engine, auth, key_id))
    conn = secure.start_handshake(initiator=True, psk=secret, prologue=wire.prologue(hello_text))
    await ws.send_str(hello_text)
    await ws.send_bytes(bytes(conn.write_message(wire.identity_payload(own_id))))
    msg = await _receive(ws, round_timeout, peer)
    if msg.type == WS_TEXT:
        _raise_refusal(wire.parse_handshake(msg.data), peer)
    if msg.type != WS_BINARY:
        raise PeerUnreachable(f"{peer} closed the connection during the handshake")
    if len(msg.data) > wire.MAX_HANDSHAKE_BYTES:
        raise SessionViolation(f"{peer} sent an oversized handshake message")
    try:
        payload = bytes(conn.read_message(bytes(msg.data)))
    except secure.handshake_errors():
        raise AuthFailed(f"{peer} {_NOT_PROVEN}") from None
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
    on_round: RoundHook | None = None,
) -> tuple[Channel, Hello]:
    """Authenticate a client. On failure the client is told why and :class:`MpcError` raised.

    ``resolve_secret(hello)`` returns the 32-byte PSK for the hello's auth mode and key id; for
    a key id it does not know it must return a dummy PSK (never raise), so that an unknown key
    and a wrong secret fail identically at message 1.
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
            initiator=False, psk=secret, prologue=wire.prologue(hello_text)
        )
        try:
            payload = bytes(conn.read_message(bytes(msg.data)))
        except secure.handshake_errors():
            raise AuthFailed(f"the client {_NOT_PROVEN}") from None
        # The client holds the PSK (message 1 decrypted under it). Message 1 may still be a
        # replay: only the live client can read message 2 and send a frame after it.
        peer_id = wire.parse_identity(payload, peer=peer)
        if peer_id == install_id:
            raise SessionViolation("the client claims the co-signer's own install id")
        await ws.send_bytes(bytes(conn.write_message(wire.identity_payload(install_id))))
    except MpcError as err:
        if not ws.closed:
            try:
                await _refuse(ws, err)
            except (ConnectionError, RuntimeError):
                pass
        raise
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
