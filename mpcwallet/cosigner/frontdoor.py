"""The co-signer's front door: what a peer gets before it has authenticated.

Every accepted TCP connection is tracked from the moment of accept until the session endpoint
calls :func:`mark_authenticated` (the session handshake succeeded). Until then it

* counts against a cap (``max_unauthenticated`` in all, ``max_unauthenticated_per_peer`` per
  peer address): past either cap a new connection is closed at once, before any byte is read;
* must finish the whole handshake (HTTP request, WebSocket upgrade, session handshake) within
  ``handshake_deadline`` seconds counted from the accept, or it is aborted. aiohttp's own timers
  do not bound this: half-sent headers and WebSocket pings both keep its connection alive.

Authenticated connections are neither counted nor cut. ``/healthz`` requests never authenticate,
so their connections also close at the deadline (a keep-alive client simply reconnects).

The door wraps aiohttp's protocol factory (:class:`GuardedSite`), so aiohttp's request handler
only ever sees admitted connections; no aiohttp internals are patched.

Also here: aiohttp's own loggers are routed to one bounded line each (:func:`quiet_aiohttp_logs`),
so a malformed request never writes a traceback or its own bytes to ``cosigner.log`` or
``start.log``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from mpcwallet.cosigner import logs


@dataclass
class _Conn:
    peer: str
    accepted_at: float
    timer: asyncio.TimerHandle | None
    authenticated: bool = False


@dataclass
class DoorStats:
    """Counters reported by ``/healthz`` (no addresses, no bytes)."""

    unauthenticated: int = 0
    authenticated: int = 0
    peak_unauthenticated: int = 0
    refused: int = 0
    expired: int = 0


@dataclass
class FrontDoor:
    max_unauthenticated: int
    max_per_peer: int
    handshake_deadline: float
    _conns: dict[asyncio.BaseTransport, _Conn] = field(default_factory=dict)
    _per_peer: dict[str, int] = field(default_factory=dict)
    stats: DoorStats = field(default_factory=DoorStats)
    _last_full_log: float = 0.0

    def factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: _Guard(self, inner)

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        peername = transport.get_extra_info("peername")
        peer = str(peername[0]) if isinstance(peername, tuple) and peername else "?"
        if (
            self.stats.unauthenticated >= self.max_unauthenticated
            or self._per_peer.get(peer, 0) >= self.max_per_peer
        ):
            self.stats.refused += 1
            self._log_full()
            return False
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.handshake_deadline, self._expire, transport)
        self._conns[transport] = _Conn(peer, time.monotonic(), timer)
        self._per_peer[peer] = self._per_peer.get(peer, 0) + 1
        self.stats.unauthenticated += 1
        self.stats.peak_unauthenticated = max(
            self.stats.peak_unauthenticated, self.stats.unauthenticated
        )
        return True

    def authenticate(self, transport: asyncio.BaseTransport | None) -> None:
        conn = self._conns.get(transport) if transport is not None else None
        if conn is None or conn.authenticated:
            return
        conn.authenticated = True
        if conn.timer is not None:
            conn.timer.cancel()
            conn.timer = None
        self._uncount(conn)
        self.stats.authenticated += 1

    def release(self, transport: asyncio.BaseTransport) -> None:
        conn = self._conns.pop(transport, None)
        if conn is None:
            return
        if conn.timer is not None:
            conn.timer.cancel()
        if conn.authenticated:
            self.stats.authenticated -= 1
        else:
            self._uncount(conn)

    def _uncount(self, conn: _Conn) -> None:
        self.stats.unauthenticated -= 1
        left = self._per_peer.get(conn.peer, 1) - 1
        if left > 0:
            self._per_peer[conn.peer] = left
        else:
            self._per_peer.pop(conn.peer, None)

    def _expire(self, transport: asyncio.BaseTransport) -> None:
        conn = self._conns.get(transport)
        if conn is None or conn.authenticated:
            return
        conn.timer = None
        self.stats.expired += 1
        if isinstance(transport, asyncio.WriteTransport):
            transport.abort()  # connection_lost follows and releases the slot

    def _log_full(self) -> None:
        # At most one line a second however hard the door is knocked on.
        now = time.monotonic()
        if now - self._last_full_log >= 1.0:
            self._last_full_log = now
            logs.log(
                "front_door_full",
                "refused new connections: too many unauthenticated connections",
                level=logging.WARNING,
                refused=self.stats.refused,
            )


FRONT_DOOR = web.AppKey("front_door", FrontDoor)

# The kernel's accept queue in front of the door. With a short queue, a burst of connections
# overflows it and Linux silently drops the last ACK of their TCP handshakes: the peers believe
# they are connected while the daemon has not seen them, and the door can neither refuse them at
# once nor start their deadline until a SYN-ACK retransmission (1 s, 3 s, 7 s later) lands them in
# the queue. A long queue lets every connection of a burst reach the door, which refuses or times
# it out itself. (The kernel caps it at net.core.somaxconn.)
LISTEN_BACKLOG = 1024


class _Guard(asyncio.Protocol):
    """Admits or refuses a connection, then hands every event to aiohttp's handler."""

    def __init__(self, door: FrontDoor, inner_factory: Callable[[], asyncio.Protocol]) -> None:
        self._door = door
        self._inner_factory = inner_factory
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._door.admit(transport):
            assert isinstance(transport, asyncio.WriteTransport)
            transport.abort()
            return
        self._transport = transport
        self._inner = self._inner_factory()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._door.release(self._transport)
        if self._inner is not None:
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()


def mark_authenticated(request: web.BaseRequest) -> None:
    """The session handshake on ``request``'s connection succeeded: lift the deadline and free
    its unauthenticated slot. Call it once, right after the handshake returns."""
    door = request.app[FRONT_DOOR] if isinstance(request, web.Request) else None
    if door is not None:
        door.authenticate(request.transport)


class GuardedSite(web.BaseSite):
    """A TCP site on an already bound socket whose connections pass through a :class:`FrontDoor`."""

    def __init__(self, runner: web.BaseRunner, sock: socket.socket, door: FrontDoor) -> None:
        super().__init__(runner, backlog=LISTEN_BACKLOG)
        self._sock = sock
        self._door = door

    @property
    def name(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._door.factory(server), sock=self._sock, backlog=self._backlog
        )


def bind_socket(host: str, port: int, *, fallback: bool) -> socket.socket:
    """A listening socket on ``host:port``; if the port is taken and ``fallback``, on a free
    port the kernel picks. Raises :class:`OSError` otherwise."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for candidate in (port, 0) if fallback and port != 0 else (port,):
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, candidate))
            sock.listen(LISTEN_BACKLOG)
            sock.setblocking(False)
            return sock
        except OSError:
            sock.close()
            if candidate == 0 or not fallback:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


class _BoundedAiohttpLines(logging.Handler):
    """One short line per aiohttp log record: its logger, level and the exception's type only.

    aiohttp logs a malformed request as "Error handling request" with a traceback whose
    message quotes the request's bytes; none of that reaches our log. Rate-limited so a flood
    of garbage writes at most a few lines a second.
    """

    MAX_PER_SECOND = 5

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self._window = 0.0
        self._count = 0
        self._suppressed = 0

    def emit(self, record: logging.LogRecord) -> None:
        now = time.monotonic()
        if now - self._window >= 1.0:
            self._window, self._count = now, 0
        self._count += 1
        if self._count > self.MAX_PER_SECOND:
            self._suppressed += 1
            return
        exc = record.exc_info[1] if record.exc_info else None
        kind = type(exc).__name__ if exc is not None else "no exception"
        status = getattr(exc, "code", None) if exc is not None else None
        bad_request = exc is not None and (
            (isinstance(status, int) and 400 <= status < 500) or "Http" in kind
        )
        if exc is not None and bad_request:
            msg = f"refused a malformed HTTP request ({kind})"
            event = "http_malformed"
        else:
            msg = f"aiohttp reported a problem ({kind})"
            event = "http_error"
        suppressed, self._suppressed = self._suppressed, 0
        ctx: dict[str, Any] = {"code": kind}
        if suppressed:
            ctx["removed"] = suppressed  # lines dropped by the rate limit since the last one
        logs.log(event, msg, level=logging.WARNING, **ctx)


def quiet_aiohttp_logs() -> None:
    """Route every ``aiohttp.*`` logger through :class:`_BoundedAiohttpLines` only."""
    root = logging.getLogger("aiohttp")
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(_BoundedAiohttpLines())
    root.setLevel(logging.DEBUG)  # BadHttpMethod is logged at debug: still one line for it
    root.propagate = False
    # The access log would add one line per request with its path; keep it off.
    logging.getLogger("aiohttp.access").disabled = True
