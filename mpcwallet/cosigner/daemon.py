"""Running the co-signer: foreground serve loop, background start, stop, status.

One daemon per MPC_HOME: it holds an ``flock`` on ``cosigner/cosigner.lock`` for its whole life
(a crashed daemon's lock is released by the kernel, so no stale-pid guessing) and records
``cosigner.pid`` and ``state.json`` (host, port, url, pid, engine). SIGTERM and SIGINT stop it
gracefully: the listener closes, open sessions get a going-away close (1001), then it exits.

The background start spawns ``python -P -m mpcwallet cosigner start --foreground --detached`` in a
new session and hands it the passphrase over a pipe on stdin (never argv or environment), then
polls ``/healthz`` with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mpcwallet.cosigner import keyring, logs
from mpcwallet.cosigner.config import CosignerConfig
from mpcwallet.errors import (
    CosignerError,
    CosignerNotRunning,
    CosignerRunning,
    MpcError,
    PeerUnreachable,
    PortInUse,
)
from mpcwallet.homes.paths import CosignerPaths
from mpcwallet.session.errors import error_from_code
from mpcwallet.storage.files import ensure_dir, write_atomic
from mpcwallet.testhooks import active_test_hooks

ENGINE_THREADS = 32


def _write_private(path: Path, data: bytes) -> None:
    write_atomic(path, data, force=True)


def running_pid(paths: CosignerPaths) -> int | None:
    """The pid of the daemon holding this home's lock, or None."""
    try:
        fd = os.open(paths.lock_file, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return int(paths.pid_file.read_text().strip())
            except (OSError, ValueError):
                return -1  # locked but the pid file is not written yet
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@contextlib.contextmanager
def _daemon_lock(paths: CosignerPaths) -> Iterator[None]:
    ensure_dir(paths.root)
    fd = os.open(paths.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = running_pid(paths)
            raise CosignerRunning(
                f"a co-signer is already running for this MPC_HOME (pid {pid}); "
                "stop it with `mpc cosigner stop` first"
            ) from None
        yield
    finally:
        for path in (paths.state_file, paths.pid_file):
            path.unlink(missing_ok=True)
        os.close(fd)  # releases the lock


def check_port_free(host: str, port: int) -> None:
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(
                    f"port {port} on {host} is already in use; choose another with --port"
                ) from None
            raise CosignerError(f"cannot listen on {host}:{port} ({exc.strerror})") from None


def run_foreground(config: CosignerConfig, passphrase: str, *, text_logs: bool) -> None:
    """Unlock, serve until SIGTERM/SIGINT, stop gracefully. Blocks."""
    paths = config.paths
    with _daemon_lock(paths):
        logs.setup(paths.log_file, foreground_text=text_logs)
        kek = keyring.unlock(paths.keyring_file, passphrase)
        asyncio.run(_serve(config, kek))


async def _serve(config: CosignerConfig, kek: Any) -> None:
    from aiohttp import web

    paths = config.paths
    # Engine calls run in worker threads (asyncio.to_thread); size the pool for concurrent
    # sessions rather than cores, since most of a session's time is spent waiting for the peer.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=ENGINE_THREADS, thread_name_prefix="mpc-engine")
    )
    from mpcwallet.cosigner.app import create_app, serve_addresses
    from mpcwallet.cosigner.frontdoor import (
        FRONT_DOOR,
        GuardedSite,
        GuardedUnixSite,
        bind_socket,
        quiet_aiohttp_logs,
    )

    quiet_aiohttp_logs()
    try:
        sock = bind_socket(config.host, config.port, fallback=config.port_fallback)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"port {config.port} on {config.host} is already in use; choose another with --port"
            ) from None
        raise CosignerError(
            f"cannot listen on {config.host}:{config.port} ({exc.strerror})"
        ) from None
    app = create_app(config, kek=kek)
    host, port = str(sock.getsockname()[0]), int(sock.getsockname()[1])
    serve_addresses(app, host)
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=None,
        shutdown_timeout=config.shutdown_timeout,
        # No traceback ever goes back to a client, whatever aiohttp's debug mode says.
        debug=False,
    )
    await runner.setup()
    site = GuardedSite(runner, sock, app[FRONT_DOOR])
    await site.start()
    local = await _start_local_socket(GuardedUnixSite(runner, paths.socket_file, app[FRONT_DOOR]))
    if config.remember_port and port != 0:
        from mpcwallet.homes.settings import remember_port

        remember_port(paths, port)
    url = f"ws://{host}:{port}" if ":" not in host else f"ws://[{host}]:{port}"
    state = {
        "pid": os.getpid(),
        "host": host,
        "port": port,
        "url": url,
        "engine": config.engine_name,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if local:
        state["socket"] = str(paths.socket_file)
    _write_private(paths.pid_file, f"{os.getpid()}\n".encode())
    _write_private(paths.state_file, json.dumps(state).encode())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logs.log(
        "started",
        f"co-signer listening on {url}",
        host=host,
        port=port,
        pid=os.getpid(),
        engine=config.engine_name,
    )
    hooks = active_test_hooks()
    if hooks:
        # A co-signer with a fault-injection hook set misbehaves on purpose; say so loudly.
        logs.log(
            "test_hooks_active",
            f"TEST HOOKS ACTIVE ({', '.join(hooks)}): this co-signer injects faults; "
            "never run it like this for real keys",
            level=logging.WARNING,
            hooks=hooks,
        )
    try:
        await stop.wait()
    finally:
        logs.log("stopping", "co-signer stopping (going away)", pid=os.getpid())
        paths.state_file.unlink(missing_ok=True)
        await runner.cleanup()
        logs.log("stopped", "co-signer stopped", pid=os.getpid())


async def _start_local_socket(site: Any) -> bool:
    """Listen on the home's Unix socket too (clients of this home use it); a home whose path
    is too long for a socket address (about 107 bytes) serves TCP only, and says so."""
    try:
        await site.start()
    except OSError as exc:
        logs.log(
            "local_socket_off",
            f"no Unix socket for local clients ({exc.strerror or type(exc).__name__}); "
            "they connect over TCP",
            level=logging.WARNING,
        )
        return False
    return True


def start_background(
    config: CosignerConfig, passphrase: str, *, timeout: float = 60.0
) -> dict[str, Any]:
    """Spawn a detached daemon and wait until its /healthz answers; its state on return."""
    from mpcwallet.session.endpoint import fetch_healthz

    paths = config.paths
    pid = running_pid(paths)
    if pid is not None:
        raise CosignerRunning(
            f"a co-signer is already running for this MPC_HOME (pid {pid}); "
            "stop it with `mpc cosigner stop` first"
        )
    if not config.port_fallback:
        check_port_free(config.host, config.port)
    ensure_dir(paths.root)
    args = [
        sys.executable,
        "-P",  # never import an `mpcwallet/` folder from the current directory
        "-m",
        "mpcwallet",
        "--json",
        "cosigner",
        "start",
        "--foreground",
        "--detached",
        "--passphrase-stdin",
        "--host",
        config.host,
        "--engine",
        config.engine_name,
    ]
    if not config.port_fallback:
        args += ["--port", str(config.port)]
        if not config.remember_port:
            args.append("--no-remember-port")
    env = {k: v for k, v in os.environ.items() if k != "MPC_COSIGNER_PASSPHRASE"}
    env["MPC_HOME"] = str(config.home)
    fd = os.open(paths.start_log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=fd,
            stderr=fd,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(fd)
    assert proc.stdin is not None
    try:
        proc.stdin.write(passphrase.encode("utf-8") + b"\n")
        proc.stdin.close()
    except BrokenPipeError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise _child_error(paths, code)
        state = _read_state(paths)
        if state is not None and state.get("pid") == proc.pid:
            try:
                status, doc = fetch_healthz(str(state["url"]), timeout=2.0)
            except PeerUnreachable:
                status, doc = 0, {}
            if status == 200 and doc.get("status") == "ok":
                return state
        time.sleep(0.05)
    proc.terminate()
    raise CosignerError(
        f"the co-signer did not become healthy within {timeout:g} s; see {paths.log_file}"
    )


def _child_error(paths: CosignerPaths, code: int) -> MpcError:
    from mpcwallet import jsonio

    try:
        data = jsonio.read_bounded(paths.start_log, what="start log", max_bytes=1024 * 1024)
        lines = data.decode("utf-8", errors="replace").splitlines()
    except MpcError:
        lines = []
    for line in reversed(lines):
        try:
            obj = jsonio.loads(line, what="start log line")
        except MpcError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("error"), dict):
            err = obj["error"]
            cls = error_from_code(str(err.get("code", "")))
            return cls(str(err.get("message", "the co-signer failed to start")))
    return CosignerError(f"the co-signer exited with status {code} at start; see {paths.start_log}")


def _read_state(paths: CosignerPaths) -> dict[str, Any] | None:
    from mpcwallet import jsonio

    try:
        obj = jsonio.load_file(paths.state_file, what="co-signer state file", max_bytes=64 * 1024)
    except MpcError:
        return None
    return obj if isinstance(obj, dict) else None


def stop(paths: CosignerPaths, *, timeout: float = 30.0) -> int:
    """SIGTERM the running daemon and wait until it released its lock; its pid."""
    pid = running_pid(paths)
    if pid is None:
        raise CosignerNotRunning("no co-signer is running for this MPC_HOME")
    if pid <= 0:
        raise CosignerError("the co-signer is starting up; try again in a moment")
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return pid
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_pid(paths) is None:
            return pid
        time.sleep(0.05)
    raise CosignerError(f"the co-signer (pid {pid}) did not stop within {timeout:g} s")


def status(paths: CosignerPaths) -> dict[str, Any]:
    from mpcwallet.session.endpoint import fetch_healthz

    pid = running_pid(paths)
    if pid is None:
        return {"running": False}
    state = _read_state(paths) or {}
    out: dict[str, Any] = {
        "running": True,
        "pid": pid,
        **{k: state[k] for k in ("url", "host", "port", "engine", "started_at") if k in state},
    }
    if "url" in state:
        try:
            code, doc = fetch_healthz(str(state["url"]))
            out["healthz"] = doc if code == 200 else {"status": "fail", **doc}
        except PeerUnreachable:
            out["healthz"] = {"status": "unreachable"}
    return out
