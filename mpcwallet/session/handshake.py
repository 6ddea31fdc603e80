"""Both halves of the mutually authenticated handshake (format: :mod:`mpcwallet.session.wire`).

The server proves first, the client checks that proof before proving itself, and the server
checks the client's proof before any request is read. Neither side ever sends the secret.
Version and engine are compared before any key is derived, and the error says which differs.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mpcwallet.errors import AuthFailed, EngineMismatch, MpcError, PeerTimeout, PeerUnreachable
from mpcwallet.session import wire
from mpcwallet.session.channel import CLOSE_POLICY, Channel, RoundHook, WebSocketLike
from mpcwallet.session.errors import error_from_code


@dataclass(frozen=True)
class Hello:
    version: int
    engine: str
    auth: wire.AuthMode
    key_id: str | None


async def _recv_text(ws: WebSocketLike, timeout: float, peer: str) -> dict[str, Any]:
    from aiohttp import WSMsgType

    try:
        msg = await ws.receive(timeout=timeout)
    except TimeoutError:
        raise PeerTimeout(f"{peer} sent nothing for {timeout:g} s during the handshake") from None
    if msg.type == WSMsgType.TEXT:
        return wire.parse_handshake(msg.data)
    if msg.type == WSMsgType.BINARY:
        raise AuthFailed(f"{peer} sent a frame before the handshake finished")
    raise PeerUnreachable(f"{peer} closed the connection during the handshake")


def _raise_if_error(obj: dict[str, Any], peer: str) -> None:
    if obj.get("type") == "error":
        code = obj.get("code")
        message = obj.get("message")
        cls = error_from_code(code if isinstance(code, str) else "")
        text = message if isinstance(message, str) else "no reason given"
        raise cls(f"{peer} refused the session: {text[:500]}")


async def client_handshake(
    ws: WebSocketLike,
    *,
    secret: bytes,
    engine: str,
    auth: wire.AuthMode,
    key_id: str | None,
    round_timeout: float,
) -> Channel:
    peer = "the co-signer"
    nc = wire.new_nonce()
    hello = {
        "type": "hello",
        "v": wire.PROTOCOL_VERSION,
        "engine": engine,
        "auth": auth,
        "key_id": key_id,
        "nonce": nc.hex(),
    }
    await ws.send_str(json.dumps(hello))
    challenge = await _recv_text(ws, round_timeout, peer)
    _raise_if_error(challenge, peer)
    if challenge.get("type") != "challenge":
        raise AuthFailed(f"{peer} answered the hello with {challenge.get('type')!r}")
    if challenge.get("v") != wire.PROTOCOL_VERSION:
        raise EngineMismatch(
            f"protocol version differs: client {wire.PROTOCOL_VERSION}, "
            f"co-signer {challenge.get('v')!r}",
            field="version",
        )
    if challenge.get("engine") != engine:
        raise EngineMismatch(
            f"engine differs: client {engine!r}, co-signer {challenge.get('engine')!r}",
            field="engine",
        )
    ns = wire.hex_field(challenge, "nonce", wire.NONCE_BYTES)
    transcript = wire.transcript_hash(
        version=wire.PROTOCOL_VERSION, engine=engine, auth=auth, key_id=key_id, nc=nc, ns=ns
    )
    keys = wire.derive_session_keys(secret, transcript, nc, ns)
    keys.check_proof("server", wire.hex_field(challenge, "proof", 32))
    await ws.send_str(json.dumps({"type": "proof", "proof": keys.proof("client").hex()}))
    channel = Channel(
        ws, wire.FrameCodec(keys, "client"), round_timeout=round_timeout, peer_label=peer
    )
    # The server's verdict on our proof: a MAC'd "ready" frame, or a TEXT error.
    from aiohttp import WSMsgType

    try:
        msg = await ws.receive(timeout=round_timeout)
    except TimeoutError:
        raise PeerTimeout(f"{peer} sent nothing for {round_timeout:g} s") from None
    if msg.type == WSMsgType.TEXT:
        _raise_if_error(wire.parse_handshake(msg.data), peer)
        raise AuthFailed(f"{peer} sent an unexpected handshake message")
    if msg.type != WSMsgType.BINARY:
        raise PeerUnreachable(f"{peer} closed the connection during the handshake")
    ready = wire.parse_control(wire.parse_payload(channel.codec.open(msg.data))[1])
    if ready.get("type") != "ready":
        raise AuthFailed(f"{peer} did not confirm the session")
    channel.start()
    return channel


SecretResolver = Callable[[Hello], Awaitable[bytes]]


async def _refuse(ws: WebSocketLike, err: MpcError) -> None:
    await ws.send_str(json.dumps({"type": "error", "code": err.code, "message": err.message}))
    await ws.close(code=CLOSE_POLICY)


async def server_handshake(
    ws: WebSocketLike,
    *,
    engine: str,
    resolve_secret: SecretResolver,
    round_timeout: float,
    on_round: RoundHook | None = None,
) -> tuple[Channel, Hello]:
    """Authenticate a client. On failure the client is told why and :class:`MpcError` raised."""
    peer = "the client"
    try:
        obj = await _recv_text(ws, round_timeout, peer)
        if obj.get("type") != "hello":
            raise AuthFailed("the session must open with a hello")
        version = obj.get("v")
        if version != wire.PROTOCOL_VERSION:
            raise EngineMismatch(
                f"protocol version differs: client {version!r}, co-signer {wire.PROTOCOL_VERSION}",
                field="version",
            )
        if obj.get("engine") != engine:
            raise EngineMismatch(
                f"engine differs: client {obj.get('engine')!r}, co-signer {engine!r}",
                field="engine",
            )
        auth = obj.get("auth")
        key_id = obj.get("key_id")
        if auth not in ("pairing", "key"):
            raise AuthFailed("unknown auth mode in the hello")
        if auth == "key" and not (isinstance(key_id, str) and 0 < len(key_id) <= 128):
            raise AuthFailed("auth mode 'key' needs a key id")
        if auth == "pairing" and key_id is not None:
            raise AuthFailed("auth mode 'pairing' takes no key id")
        hello = Hello(wire.PROTOCOL_VERSION, engine, auth, key_id)
        nc = wire.hex_field(obj, "nonce", wire.NONCE_BYTES)
        secret = await resolve_secret(hello)
        ns = wire.new_nonce()
        transcript = wire.transcript_hash(
            version=hello.version, engine=engine, auth=auth, key_id=key_id, nc=nc, ns=ns
        )
        keys = wire.derive_session_keys(secret, transcript, nc, ns)
        await ws.send_str(
            json.dumps(
                {
                    "type": "challenge",
                    "v": wire.PROTOCOL_VERSION,
                    "engine": engine,
                    "nonce": ns.hex(),
                    "proof": keys.proof("server").hex(),
                }
            )
        )
        reply = await _recv_text(ws, round_timeout, peer)
        if reply.get("type") != "proof":
            raise AuthFailed("the client did not send its proof")
        keys.check_proof("client", wire.hex_field(reply, "proof", 32))
    except MpcError as err:
        if not ws.closed:
            try:
                await _refuse(ws, err)
            except (ConnectionError, RuntimeError):
                pass
        raise
    channel = Channel(
        ws,
        wire.FrameCodec(keys, "server"),
        round_timeout=round_timeout,
        peer_label=peer,
        on_round=on_round,
    )
    await channel.send_control({"type": "ready"})
    channel.start()
    return channel, hello
