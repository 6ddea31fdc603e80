"""Reaching the co-signer: endpoint URLs, ``/healthz``, the local Unix socket, one retry.

* :func:`parse_endpoint`, :func:`source_address`, :func:`unreachable_message` - the URL
  (``ws://host:port``), ``MPC_COSIGNER_SOURCE_ADDRESS``, and the one clear line when nothing
  answers.
* :func:`local_socket` - when the endpoint is the URL this home's own co-signer recorded in
  ``cosigner/state.json``, the Unix socket it listens on beside it (``cosigner/cosigner.sock``, in
  the home's private directory). The client then goes through the socket, where no other user
  can open a connection, so a flood of TCP connections to the port cannot keep it out.
* :func:`fetch_healthz` - ``/healthz`` over the socket or TCP.
* :func:`closed_at_accept` and :data:`RETRY_BACKOFF` - a connection the co-signer closed before
  it answered (its front door evicted it to admit a newer one, see
  :mod:`mpcwallet.cosigner.frontdoor`) is tried once more after a short random pause.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mpcwallet.errors import BadInput, PeerUnreachable
from mpcwallet.homes.paths import DEFAULT_PORT, CosignerPaths

if TYPE_CHECKING:
    import http.client

# Seconds before the one retry of a connection closed at accept, times 1..2 (random), so that
# clients evicted together do not come back together.
RETRY_BACKOFF = 0.2


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    parts = urlsplit(endpoint)
    if parts.scheme != "ws" or not parts.hostname:
        raise BadInput(
            f"co-signer endpoint {endpoint!r} must look like ws://127.0.0.1:7447",
            field="MPC_COSIGNER_URL",
        )
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise BadInput(
            f"co-signer endpoint {endpoint!r} has a bad port", field="MPC_COSIGNER_URL"
        ) from None
    return parts.hostname, port


def source_address() -> str | None:
    """``MPC_COSIGNER_SOURCE_ADDRESS``: the local address outgoing co-signer connections use
    (for a machine with several addresses), else None (the kernel chooses)."""
    value = os.environ.get("MPC_COSIGNER_SOURCE_ADDRESS") or None
    if value is not None:
        import ipaddress

        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise BadInput(
                f"MPC_COSIGNER_SOURCE_ADDRESS {value!r} is not an IP address",
                field="MPC_COSIGNER_SOURCE_ADDRESS",
            ) from None
    return value


def unreachable_message(endpoint: str, exc: BaseException) -> str:
    """Why the co-signer does not answer, and the fix: a URL the user set, or a daemon to start."""
    reason = type(exc).__name__
    env = os.environ.get("MPC_COSIGNER_URL")
    if env and env.rstrip("/") == endpoint.rstrip("/"):
        return (
            f"nothing answers at MPC_COSIGNER_URL={env} ({reason}); check that URL "
            "(host and port of a running co-signer), or unset it to use the local co-signer"
        )
    return f"the co-signer at {endpoint} is not answering ({reason}); start it with " + (
        "`mpc cosigner start`"
    )


def local_socket(endpoint: str, home: Path | None = None) -> str | None:
    """This home's co-signer's Unix socket, if ``endpoint`` is the URL that co-signer recorded
    and the socket is there (a socket, ours); else None (use TCP)."""
    from mpcwallet import jsonio
    from mpcwallet.config import mpc_home
    from mpcwallet.errors import MpcError

    paths = CosignerPaths.for_home(home or mpc_home())
    try:
        state = jsonio.load_file(paths.state_file, what="co-signer state file", max_bytes=64 * 1024)
        info = os.stat(paths.socket_file)
    except (MpcError, OSError):
        return None
    if not (
        isinstance(state, dict)
        and state.get("url") == endpoint.rstrip("/")
        and state.get("socket") == str(paths.socket_file)
        and stat.S_ISSOCK(info.st_mode)
        and info.st_uid == os.getuid()
    ):
        return None
    return str(paths.socket_file)


def closed_at_accept(exc: BaseException) -> bool:
    """The co-signer took the connection and closed it before answering (not: nothing listens,
    a timeout, or an answer we did not like)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
            return True
        if isinstance(seen, EOFError):  # websockets: no HTTP response before the close
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def backoff() -> float:
    import secrets

    return RETRY_BACKOFF * (1 + secrets.randbelow(1000) / 1000)


def fetch_healthz(endpoint: str, timeout: float = 3.0) -> tuple[int, dict[str, Any]]:
    """``(HTTP status, JSON body)`` of ``/healthz``; :class:`PeerUnreachable` if no answer."""
    import http.client
    import time

    for attempt in (1, 2):
        try:
            return _fetch_healthz(endpoint, timeout)
        except (http.client.HTTPException, OSError) as exc:
            if attempt == 1 and closed_at_accept(exc):
                time.sleep(backoff())
                continue
            raise PeerUnreachable(unreachable_message(endpoint, exc)) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _fetch_healthz(endpoint: str, timeout: float) -> tuple[int, dict[str, Any]]:
    import http.client

    host, port = parse_endpoint(endpoint)
    path = local_socket(endpoint)
    conn: http.client.HTTPConnection
    if path is not None:
        conn = _unix_connection(host, port, path, timeout)
    else:
        src = source_address()
        conn = http.client.HTTPConnection(
            host, port, timeout=timeout, source_address=(src, 0) if src else None
        )
    try:
        conn.request("GET", "/healthz", headers={"Connection": "close"})
        resp = conn.getresponse()
        status, raw = resp.status, resp.read(1 << 20)
    finally:
        conn.close()
    return status, _healthz_body(raw)


def _unix_connection(host: str, port: int, path: str, timeout: float) -> http.client.HTTPConnection:
    """An HTTP connection through the Unix socket ``path``; its Host header still names
    ``host:port`` (the co-signer checks it)."""
    import http.client

    class UnixHTTPConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(path)
            except OSError:
                sock.close()
                raise
            self.sock = sock

    return UnixHTTPConnection(host, port, timeout=timeout)


def _healthz_body(raw: bytes) -> dict[str, Any]:
    from mpcwallet.jsonio import loads

    try:
        body = loads(raw, what="the co-signer's /healthz answer", max_bytes=64 * 1024)
    except BadInput:
        body = None
    return body if isinstance(body, dict) else {}
