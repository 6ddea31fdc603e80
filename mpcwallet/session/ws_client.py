"""The client's WebSocket to the co-signer, through the ``websockets`` library.

The co-signer (and ``mpc serve``) keep aiohttp; the client uses ``websockets`` because aiohttp's
client costs about 0.14 s of import on every ``mpc sign`` (its connector builds two TLS contexts
at import, though a session is ``ws://`` plus Noise), where ``websockets``' asyncio client costs
a third of that. :class:`ClientWebSocket` offers what :class:`~mpcwallet.session.channel.
WebSocketLike` asks (the shape of aiohttp's WebSockets), so the handshake and the channel are the
same code on both sides.

Settings, as aiohttp's client had them: no compression (frames are ciphertext), no proxy from the
environment, no keepalive pings of our own (pings from the co-signer are answered), the message
limit :data:`~mpcwallet.session.wire.WS_MAX_MSG_SIZE`, 10 s to connect and upgrade, 5 s to close,
the local address ``MPC_COSIGNER_SOURCE_ADDRESS`` when set. This home's own co-signer is
reached through its Unix socket (:func:`mpcwallet.session.endpoint.local_socket`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mpcwallet.errors import AuthFailed, PeerUnreachable
from mpcwallet.session import wire
from mpcwallet.session.channel import WS_BINARY, WS_CLOSE, WS_TEXT

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

CONNECT_TIMEOUT = 10.0
CLOSE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Message:
    """One received message, shaped like aiohttp's ``WSMessage`` (``type`` is an RFC 6455
    opcode, ``data`` is ``str`` for text, ``bytes`` for binary, ``None`` at close)."""

    type: int
    data: str | bytes | None = None


class ClientWebSocket:
    """A ``websockets`` client connection behind the ``WebSocketLike`` protocol.

    A send on a closed connection raises ``ConnectionResetError`` (what aiohttp raises), which the
    channel turns into :class:`~mpcwallet.errors.PeerUnreachable`; the close of the connection is
    a :data:`WS_CLOSE` message, its code in :attr:`close_code`.
    """

    def __init__(self, conn: ClientConnection) -> None:
        self._conn = conn

    def __repr__(self) -> str:
        return "ClientWebSocket()"

    async def send_bytes(self, data: bytes) -> None:
        await self._send(data)

    async def send_str(self, data: str) -> None:
        await self._send(data)

    async def _send(self, data: str | bytes) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await self._conn.send(data)
        except ConnectionClosed:
            raise ConnectionResetError("the WebSocket is closed") from None

    async def receive(self, timeout: float | None = None) -> Message:
        """The next message; :class:`TimeoutError` after ``timeout`` seconds (the wait is
        cancelled, which ``websockets`` documents as safe: nothing is lost)."""
        from websockets.exceptions import ConnectionClosed

        try:
            data = await asyncio.wait_for(self._conn.recv(), timeout)
        except ConnectionClosed:
            return Message(WS_CLOSE)
        return Message(WS_TEXT if isinstance(data, str) else WS_BINARY, data)

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        if self.closed:
            return False
        await self._conn.close(code, message.decode("utf-8", "replace"))
        return True

    @property
    def closed(self) -> bool:
        from websockets.protocol import State

        return self._conn.state in (State.CLOSING, State.CLOSED)

    @property
    def close_code(self) -> int | None:
        return self._conn.close_code


async def _connect(url: str, endpoint: str, source_address: str | None) -> ClientConnection:
    """One connection and upgrade: through this home's co-signer's Unix socket when ``endpoint``
    is that co-signer (:func:`~mpcwallet.session.endpoint.local_socket`), else TCP."""
    from websockets.asyncio.client import connect, unix_connect

    from mpcwallet.session.endpoint import local_socket

    options: dict[str, Any] = {
        "compression": None,
        "proxy": None,
        "ping_interval": None,
        "max_size": wire.WS_MAX_MSG_SIZE,
        "open_timeout": CONNECT_TIMEOUT,
        "close_timeout": CLOSE_TIMEOUT,
    }
    path = local_socket(endpoint)
    if path is not None:
        return await unix_connect(path, url, **options)
    local_addr = (source_address, 0) if source_address else None
    return await connect(url, local_addr=local_addr, **options)


@asynccontextmanager
async def open_websocket(
    url: str, *, endpoint: str, source_address: str | None = None
) -> AsyncIterator[ClientWebSocket]:
    """A WebSocket to ``url`` (the co-signer at ``endpoint``), closed on exit.

    Fails as :class:`AuthFailed` when the co-signer answers the upgrade with an HTTP status
    other than 101 (its front door refusing), :class:`PeerUnreachable` when nothing usable
    answers (refused, timed out, not HTTP). A connection closed before any answer (the front
    door evicting it) is tried once more after a short random pause.
    """
    from websockets.exceptions import InvalidHandshake, InvalidStatus

    from mpcwallet.session.endpoint import backoff, closed_at_accept, unreachable_message

    for attempt in (1, 2):
        try:
            conn = await _connect(url, endpoint, source_address)
            break
        except InvalidStatus as exc:
            raise AuthFailed(
                f"the co-signer at {endpoint} refused the WebSocket "
                f"(HTTP {exc.response.status_code})"
            ) from None
        except (InvalidHandshake, OSError, TimeoutError) as exc:
            if attempt == 1 and closed_at_accept(exc):
                await asyncio.sleep(backoff())  # evicted at the door: once more
                continue
            raise PeerUnreachable(unreachable_message(endpoint, exc)) from None
    ws = ClientWebSocket(conn)
    try:
        yield ws
    finally:
        if not ws.closed:
            await ws.close()
