"""An authenticated session over a WebSocket, and the bridge to a blocking engine.

After the handshake (:mod:`mpcwallet.session.handshake`) both sides wrap their WebSocket in a
:class:`Channel`. One reader task decrypts every incoming Noise transport message (AEAD with
implicit nonces, so order and integrity are checked together; size; fragments reassembled) and
routes each payload:
engine messages to a thread-safe queue that the engine's blocking :class:`EngineTransport`
reads in a worker thread, control messages to an asyncio queue. Any failure (bad frame, peer
closed, peer aborted) is delivered to both queues, so a blocked engine thread wakes at once.
A silent peer becomes :class:`PeerTimeout` after the per-round timeout.

Both queues are bounded in count and bytes (:data:`MAX_QUEUED_ENGINE`, :data:`MAX_QUEUED_CONTROL`):
a peer that runs that far ahead of the protocol (e.g. engine messages before it named an op) ends
the session as a violation. With the frame codec's reassembly bound and aiohttp's or
``websockets``' own read limits, nothing a peer sends is held without bound.

The first transport message that decrypts is the peer's proof of liveness (a replayed handshake
message 1 cannot produce one); :attr:`Channel.on_proven` is called then, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from mpcwallet.engine.base import MAX_MESSAGE_BYTES, Job, Role
from mpcwallet.errors import (
    MpcError,
    PeerTimeout,
    PeerUnreachable,
    ProtocolViolation,
    SessionViolation,
)
from mpcwallet.session import secure, wire
from mpcwallet.session.errors import error_from_code
from mpcwallet.session.waiting import waiting

T = TypeVar("T")

DEFAULT_ROUND_TIMEOUT = 30.0
# WebSocket close codes (RFC 6455).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
# Message types (RFC 6455 section 5.2 opcodes). aiohttp's ``WSMsgType`` is an IntEnum of these
# same values (its CLOSING/CLOSED/ERROR pseudo-types count as a close), and the client's
# ``websockets`` adapter (:mod:`mpcwallet.session.ws_client`) reports them, so neither side needs
# aiohttp imported to read a message.
WS_TEXT = 0x1
WS_BINARY = 0x2
WS_CLOSE = 0x8
# (messages, bytes) a peer may have waiting unread. The two-party protocols alternate, so a
# peer is at most a message or two ahead; control messages are requests and acks, one at a time.
MAX_QUEUED_ENGINE = (16, 8 * MAX_MESSAGE_BYTES)
MAX_QUEUED_CONTROL = (16, 4 * wire.MAX_CONTROL_BYTES)


def round_timeout_from_env() -> float:
    """MPC_ROUND_TIMEOUT in seconds, (0, 3600]; the default if unset."""
    from mpcwallet import numeric

    return numeric.from_env("MPC_ROUND_TIMEOUT", DEFAULT_ROUND_TIMEOUT)


class WebSocketLike(Protocol):
    """What aiohttp's server WebSocket and the client's
    :class:`~mpcwallet.session.ws_client.ClientWebSocket` offer. ``receive`` returns a message
    with ``type`` (:data:`WS_TEXT`, :data:`WS_BINARY`, anything else: closed) and ``data``."""

    async def send_bytes(self, data: bytes) -> None: ...

    async def send_str(self, data: str) -> None: ...

    async def receive(self, timeout: float | None = None) -> Any: ...

    async def close(self, *, code: int = ..., message: bytes = ...) -> bool: ...

    @property
    def closed(self) -> bool: ...


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: MpcError) -> None:
        self.error = error


RoundHook = Callable[[str, int, int], None]  # (direction "in"/"out", round number, size)


class Channel:
    def __init__(
        self,
        ws: WebSocketLike,
        codec: secure.FrameCodec,
        *,
        round_timeout: float = DEFAULT_ROUND_TIMEOUT,
        peer_label: str = "the peer",
        on_round: RoundHook | None = None,
        party_names: tuple[str, str] = ("client", "cosigner"),
    ) -> None:
        self.ws = ws
        self.codec = codec
        # (client install id, co-signer install id), from the handshake: the engine's names.
        self.party_names = party_names
        self.round_timeout = round_timeout
        self.peer_label = peer_label
        self.on_round = on_round
        # Called once, when the peer's first transport message decrypts (it proved liveness).
        self.on_proven: Callable[[], None] | None = None
        self.error: MpcError | None = None
        self.rounds = 0
        self._engine_q: queue.Queue[bytes | _Failed] = queue.Queue()
        # (message, its size on the wire)
        self._control_q: asyncio.Queue[tuple[dict[str, Any], int] | _Failed] = asyncio.Queue()
        # Bytes waiting in each queue; the engine queue is read in a worker thread.
        self._engine_bytes = 0
        self._engine_lock = threading.Lock()
        self._control_bytes = 0
        self._send_lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"Channel(session_id={self.session_id.hex()})"

    @property
    def session_id(self) -> bytes:
        return self.codec.keys.session_id

    @property
    def keys(self) -> secure.SessionKeys:
        return self.codec.keys

    def start(self) -> None:
        self._reader = asyncio.get_running_loop().create_task(self._pump())

    async def aclose(self, code: int = CLOSE_NORMAL) -> None:
        if not self.ws.closed:
            await self.ws.close(code=code)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        # An engine thread still waiting on the peer (its caller was cancelled, e.g. by Ctrl-C)
        # wakes now rather than at its round timeout; asyncio.run waits for that thread. Not left
        # to the reader: it may be cancelled before it reads the close.
        self._fail(PeerUnreachable(f"the session with {self.peer_label} is closed"))

    # --- receiving ---------------------------------------------------------------------------

    def _fail(self, error: MpcError) -> None:
        if self.error is None:
            self.error = error
        failed = _Failed(self.error)
        self._engine_q.put(failed)
        self._control_q.put_nowait(failed)

    async def _pump(self) -> None:
        while True:
            msg = await self.ws.receive()
            if msg.type == WS_BINARY:
                try:
                    payload = self.codec.open(msg.data)
                    self._proven()
                    if payload is None:
                        continue  # a fragment; the rest follows
                    kind, body = wire.parse_payload(payload)
                    if kind == wire.ENGINE:
                        self._queue_engine(body)
                        continue
                    obj = wire.parse_control(body)
                    if obj.get("type") != "abort":
                        self._queue_control(obj, len(body))
                        continue
                except SessionViolation as exc:
                    self._fail(exc)
                    await self._abort_peer(exc)
                    return
                self._fail(self._peer_error(obj))
                return
            elif msg.type == WS_TEXT:
                violation = SessionViolation(
                    "an unauthenticated message arrived after the handshake"
                )
                self._fail(violation)
                await self._abort_peer(violation)
                return
            else:
                code = self.ws.close_code if hasattr(self.ws, "close_code") else None
                if code == CLOSE_GOING_AWAY:
                    self._fail(PeerUnreachable(f"{self.peer_label} is shutting down (going away)"))
                else:
                    self._fail(PeerUnreachable(f"{self.peer_label} closed the session"))
                return

    def _proven(self) -> None:
        hook, self.on_proven = self.on_proven, None
        if hook is not None:
            hook()

    def _queue_engine(self, body: bytes) -> None:
        count, size = MAX_QUEUED_ENGINE
        with self._engine_lock:
            if self._engine_q.qsize() >= count or self._engine_bytes + len(body) > size:
                raise SessionViolation(
                    f"{self.peer_label} sent engine messages far ahead of the protocol "
                    f"(the queue holds at most {count} messages, {size} bytes)"
                )
            self._engine_bytes += len(body)
        self.rounds += 1
        if self.on_round is not None:
            self.on_round("in", self.rounds, len(body))
        self._engine_q.put(body)

    def _queue_control(self, obj: dict[str, Any], size: int) -> None:
        count, limit = MAX_QUEUED_CONTROL
        if self._control_q.qsize() >= count or self._control_bytes + size > limit:
            raise SessionViolation(
                f"{self.peer_label} sent control messages far ahead of the protocol "
                f"(the queue holds at most {count} messages, {limit} bytes)"
            )
        self._control_bytes += size
        self._control_q.put_nowait((obj, size))

    def _peer_error(self, obj: dict[str, Any]) -> MpcError:
        code = obj.get("code")
        message = obj.get("message")
        text = message if isinstance(message, str) else "no reason given"
        cls = error_from_code(code if isinstance(code, str) else "")
        field = obj.get("field")  # e.g. the policy rule that refused
        field = field if isinstance(field, str) and len(field) <= 64 else None
        return cls(f"{self.peer_label} aborted the session: {text[:500]}", field=field)

    async def _abort_peer(self, exc: MpcError) -> None:
        try:
            abort: dict[str, Any] = {"type": "abort", "code": exc.code, "message": exc.message}
            if exc.field is not None:
                abort["field"] = exc.field
            await self._send_payload(wire.control_payload(abort), even_if_failed=True)
        except Exception:  # noqa: BLE001,S110 - best effort: the session is over anyway
            pass
        if not self.ws.closed:
            await self.ws.close(code=CLOSE_POLICY)

    async def abort(self, exc: MpcError) -> None:
        """Tell the peer why we stop (a control frame, no secrets), then close."""
        await self._abort_peer(exc)

    async def recv_control(self, timeout: float | None = None) -> dict[str, Any]:
        wait = self.round_timeout if timeout is None else timeout
        try:
            with waiting(self.peer_label, wait):
                item = await asyncio.wait_for(self._control_q.get(), wait)
        except TimeoutError:
            raise PeerTimeout(f"{self.peer_label} sent nothing for {wait:g} s") from None
        if isinstance(item, _Failed):
            self._control_q.put_nowait(item)
            raise item.error
        obj, size = item
        self._control_bytes -= size
        return obj

    # --- sending -----------------------------------------------------------------------------

    async def _send_payload(self, payload: bytes, *, even_if_failed: bool = False) -> None:
        if self.error is not None and not even_if_failed:
            raise self.error
        async with self._send_lock:
            try:
                for frame in self.codec.seal(payload):
                    await self.ws.send_bytes(frame)
            except (ConnectionError, RuntimeError) as exc:
                raise PeerUnreachable(f"{self.peer_label} is gone ({type(exc).__name__})") from None

    async def send_control(self, obj: dict[str, Any]) -> None:
        await self._send_payload(wire.control_payload(obj))

    async def send_engine(self, data: bytes) -> None:
        if len(data) > MAX_MESSAGE_BYTES:
            raise ProtocolViolation(
                f"refusing to send a {len(data)}-byte message (limit {MAX_MESSAGE_BYTES})"
            )
        await self._send_payload(wire.engine_payload(data))
        self.rounds += 1
        if self.on_round is not None:
            self.on_round("out", self.rounds, len(data))

    # --- the engine bridge ---------------------------------------------------------------------

    def transport(self, loop: asyncio.AbstractEventLoop) -> EngineTransport:
        return EngineTransport(self, loop)

    async def run_engine(
        self, role: Role, party_names: tuple[str, str], fn: Callable[[Job], T]
    ) -> T:
        """Run ``fn(job)`` in a worker thread, its transport bridged to this channel.

        If ``fn`` raises, the peer is told (a control ``abort`` with the error code) and the
        error is re-raised here.
        """
        loop = asyncio.get_running_loop()
        job = Job(role, party_names, self.session_id, self.transport(loop))
        try:
            return await asyncio.to_thread(fn, job)
        except MpcError as exc:
            if self.error is None:
                await self.abort(exc)
            raise


class EngineTransport:
    """The engine's blocking Transport, used from the worker thread only."""

    def __init__(self, channel: Channel, loop: asyncio.AbstractEventLoop) -> None:
        self._channel = channel
        self._loop = loop

    def __repr__(self) -> str:
        return "EngineTransport()"

    def send(self, data: bytes) -> None:
        fut = asyncio.run_coroutine_threadsafe(self._channel.send_engine(bytes(data)), self._loop)
        try:
            fut.result(timeout=self._channel.round_timeout)
        except TimeoutError:
            fut.cancel()
            raise PeerTimeout(
                f"sending to {self._channel.peer_label} took over {self._channel.round_timeout:g} s"
            ) from None

    def receive(self) -> bytes:
        try:
            with waiting(self._channel.peer_label, self._channel.round_timeout):
                item = self._channel._engine_q.get(timeout=self._channel.round_timeout)
        except queue.Empty:
            raise PeerTimeout(
                f"{self._channel.peer_label} sent nothing for {self._channel.round_timeout:g} s"
            ) from None
        if isinstance(item, _Failed):
            self._channel._engine_q.put(item)
            raise item.error
        with self._channel._engine_lock:
            self._channel._engine_bytes -= len(item)
        if len(item) > MAX_MESSAGE_BYTES:
            raise ProtocolViolation(
                f"received a {len(item)}-byte message (limit {MAX_MESSAGE_BYTES})"
            )
        return item
