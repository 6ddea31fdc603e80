"""The co-signer's front door: what a peer gets before it has authenticated.

Every accepted connection (TCP, or the daemon's Unix socket) is tracked from the moment of
accept until the session endpoint calls :func:`mark_authenticated`: when the client's first
transport frame after the handshake decrypts, which a replayed handshake message 1 never gets to
(it is not when message 1 verifies). Until then it

* counts against a cap (``max_unauthenticated`` in all, ``max_unauthenticated_per_peer`` per
  peer address; the Unix socket is one peer of its own): past either cap the door closes the
  OLDEST unauthenticated connection (of that peer, or of all) to admit the new one, as OpenSSH's
  MaxStartups drops early. Refusing the newest instead let anyone who holds a few idle sockets
  lock every client out; evicting the oldest means a flood must keep reconnecting to hold its
  slots, and a client that finishes its handshake quickly gets through (the client also retries
  once when it is closed at accept);
* must finish the whole handshake (HTTP request, WebSocket upgrade, session handshake, first
  frame) within ``handshake_deadline`` seconds counted from the accept, or it is aborted.
  aiohttp's own timers do not bound this: half-sent headers and WebSocket pings both keep its
  connection alive.

Authenticated connections are neither counted nor cut. ``/healthz`` requests never authenticate,
so their connections also close at the deadline (a keep-alive client simply reconnects).

Every byte a client sends passes :class:`~mpcwallet.cosigner.maskcheck.MaskCheck` first: a
WebSocket frame without a mask closes the connection with 1002 (RFC 6455 section 5.1).

The door wraps aiohttp's protocol factory (:class:`GuardedSite`), so aiohttp's request handler
only ever sees admitted connections; no aiohttp internals are patched.

Also here: aiohttp's own loggers are routed to one bounded line each (:func:`quiet_aiohttp_logs`),
so a malformed request never writes a traceback or its own bytes to ``cosigner.log`` or
``start.log``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from mpcwallet.cosigner import logs
from mpcwallet.cosigner.maskcheck import CLOSE_PROTOCOL_ERROR, MaskCheck


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
    evicted: int = 0  # the oldest unauthenticated connection, closed to admit a new one
    expired: int = 0
    wire_refused: int = 0  # closed for an unmasked frame or an oversized request head


@dataclass
class FrontDoor:
    max_unauthenticated: int
    max_per_peer: int
    handshake_deadline: float
    _conns: dict[asyncio.BaseTransport, _Conn] = field(default_factory=dict)
    _per_peer: dict[str, int] = field(default_factory=dict)
    stats: DoorStats = field(default_factory=DoorStats)
    _last_full_log: float = 0.0
    _last_violation_log: float = 0.0

    def factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: _Guard(self, inner)

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        peer = _peer_of(transport)
        if self._per_peer.get(peer, 0) >= self.max_per_peer:
            victim = self._oldest(peer)
        elif self.stats.unauthenticated >= self.max_unauthenticated:
            victim = self._oldest(None)
        else:
            victim = None
        if victim is not None:
            self.release(victim)
            self.stats.evicted += 1
            self._log_full()
            if isinstance(victim, asyncio.WriteTransport):
                victim.abort()
        if (
            self.stats.unauthenticated >= self.max_unauthenticated
            or self._per_peer.get(peer, 0) >= self.max_per_peer
        ):  # nothing to evict (not reached while the counts are right)
            self.stats.refused += 1
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

    def _oldest(self, peer: str | None) -> asyncio.BaseTransport | None:
        """The unauthenticated connection accepted first (of ``peer``, or of all)."""
        for transport, conn in self._conns.items():  # in order of accept
            if not conn.authenticated and (peer is None or conn.peer == peer):
                return transport
        return None

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
                "too many unauthenticated connections: closed the oldest to admit new ones",
                level=logging.WARNING,
                removed=self.stats.evicted,
            )

    def violation(self, why: str) -> None:
        """A connection broke the wire rules before aiohttp saw it (one line a second)."""
        self.stats.wire_refused += 1
        now = time.monotonic()
        if now - self._last_violation_log >= 1.0:
            self._last_violation_log = now
            logs.log(
                "wire_refused",
                f"closed a connection that sent {why}",
                level=logging.WARNING,
                removed=self.stats.wire_refused,
            )


def _peer_of(transport: asyncio.BaseTransport) -> str:
    """The peer's address; every client of the Unix socket is the one peer ``unix``."""
    peername = transport.get_extra_info("peername")
    if isinstance(peername, tuple) and peername:
        return str(peername[0])
    return "unix" if isinstance(transport.get_extra_info("sockname"), str) else "?"


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
        self._check = MaskCheck()
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._door.admit(transport):
            assert isinstance(transport, asyncio.WriteTransport)
            transport.abort()
            return
        self._transport = transport
        self._inner = self._inner_factory()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is None or self._refused:
            return
        why = self._check.feed(data)
        if why is None:
            self._inner.data_received(data)
            return
        # RFC 6455 section 5.1: close the connection (with 1002, section 7.4.1); aiohttp never
        # sees these bytes.
        self._refused = True
        self._door.violation(why)
        transport = self._transport
        if isinstance(transport, asyncio.WriteTransport):
            if self._check.frames:
                transport.write(CLOSE_PROTOCOL_ERROR)
            transport.abort()

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


class GuardedUnixSite(web.BaseSite):
    """The daemon's Unix socket (for clients of its own home), through the same door.

    The socket lives in the home's private ``cosigner/`` directory and is made 0600, so only
    the owner (and root) can connect; its clients are one peer of the door, ``unix``, so a flood
    of TCP connections never takes their slots."""

    def __init__(self, runner: web.BaseRunner, path: Path, door: FrontDoor) -> None:
        super().__init__(runner, backlog=LISTEN_BACKLOG)
        self._path = path
        self._door = door
        self._bound = False

    @property
    def name(self) -> str:
        return f"http://unix:{self._path}:"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        old = os.umask(0o177)  # never, even for a moment, a socket others may open
        try:
            self._server = await asyncio.get_running_loop().create_unix_server(
                self._door.factory(server), path=str(self._path), backlog=self._backlog
            )
        finally:
            os.umask(old)
        self._bound = True
        os.chmod(self._path, 0o600)

    async def stop(self) -> None:
        await super().stop()
        if self._bound:
            self._path.unlink(missing_ok=True)


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
