"""Start ``mpc serve``: token, unlock, bind 127.0.0.1, serve until SIGTERM/SIGINT.

While it runs, ``MPC_HOME/api.state.json`` (0600) says where: ``{pid, port, url}`` (read by
``mpc bench --api`` and tests); it is removed at a clean stop.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import signal
import socket
from pathlib import Path
from typing import Any

from mpcwallet.api import logs
from mpcwallet.errors import CosignerError, PortInUse

HOST = "127.0.0.1"


def state_path() -> Path:
    from mpcwallet.config import mpc_home

    return mpc_home() / "api.state.json"


def read_state() -> dict[str, Any] | None:
    from mpcwallet.errors import MpcError
    from mpcwallet.jsonio import load_file

    try:
        doc = load_file(state_path(), what="the API state file", max_bytes=64 * 1024)
    except MpcError:
        return None
    return doc if isinstance(doc, dict) else None


class _TypeOnly(logging.Handler):
    """aiohttp's own log records as one JSON line with the exception type, no traceback."""

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        logs.log(
            "aiohttp",
            level=record.levelname.lower(),
            logger=record.name,
            exception=type(exc).__name__ if exc is not None else None,
        )


def quiet_aiohttp() -> None:
    for name in ("aiohttp", "aiohttp.server", "aiohttp.web", "aiohttp.access"):
        logger = logging.getLogger(name)
        logger.handlers = [_TypeOnly()]
        logger.propagate = False
        logger.setLevel(logging.WARNING)


def bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"port {port} on {HOST} is already in use; choose another with --port", field="port"
            ) from None
        raise CosignerError(f"cannot listen on {HOST}:{port} ({exc.strerror})") from None
    sock.listen(512)
    sock.setblocking(False)
    return sock


def serve(*, passphrase: str, port: int, remember: bool, allow_origins: frozenset[str]) -> None:
    """Unlock every share in MPC_HOME/shares, then serve until a signal. Blocks."""
    from mpcwallet.api.app import Server
    from mpcwallet.api.ports import MemoryKeyring, unlock_all
    from mpcwallet.api.routes import Context
    from mpcwallet.api.token import load_or_create, token_path
    from mpcwallet.lifecycle.names import list_shares

    token, created = load_or_create()
    if created:
        logs.log("token_created", file=str(token_path()))
    keyring = MemoryKeyring(passphrase)
    unlocked = unlock_all(keyring, list_shares())
    logs.log("unlocked", keys=unlocked)
    sock = bind(port)
    from mpcwallet.api.idempotency import IdempotencyStore, store_path

    server = Server(
        token=token,
        context=Context(keyring),
        idempotency=IdempotencyStore(store_path()),
        allow_origins=allow_origins,
    )
    if server.idempotency.cut_off:
        # requests a previous process never answered: their keys now get idempotency_unknown
        logs.log("idempotency_cut_off", level="warning", keys=server.idempotency.cut_off)
    server.port = int(sock.getsockname()[1])
    if remember:
        from mpcwallet.api.settings import remember_port

        remember_port(server.port)
    asyncio.run(_run(server, sock))


async def _run(server: Any, sock: socket.socket) -> None:
    from aiohttp import web

    from mpcwallet.api.app import build_app
    from mpcwallet.storage.files import write_atomic

    quiet_aiohttp()
    runner = web.AppRunner(build_app(server), handle_signals=False, access_log=None)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    url = f"http://{HOST}:{server.port}"
    state = {"pid": os.getpid(), "port": server.port, "url": url}
    write_atomic(state_path(), json.dumps(state).encode(), force=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    from mpcwallet.config import mpc_home

    logs.log(
        "started",
        url=url,
        pid=os.getpid(),
        keys=len(server.context.keyring.paths),
        home=str(mpc_home()),  # which MPC_HOME this server signs from
    )
    try:
        await stop.wait()
    finally:
        logs.log("stopping")
        await runner.cleanup()
        server.pool.shutdown(wait=False, cancel_futures=True)
        server.idempotency.close()
        current = read_state()
        if current is not None and current.get("pid") == os.getpid():
            state_path().unlink(missing_ok=True)
        logs.log("stopped")
