"""The co-signer daemon's lifecycle through `mpc cosigner ...`: a real process each time."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path
from typing import Any

import aiohttp
from support.cosigner import Cosigner, wait_for
from support.proc import json_result, run_mpc

from mpcwallet.errors import PeerUnreachable
from mpcwallet.session.handshake import client_handshake


def test_background_start_status_stop(mpc_env: dict[str, str], mpc_home: Path) -> None:
    env = dict(mpc_env)
    started = run_mpc(["--json", "cosigner", "start", "--port", "0"], env)
    assert started.returncode == 0, started.stdout + started.stderr
    info = json_result(started)["data"]
    try:
        status = json_result(run_mpc(["--json", "cosigner", "status"], env))["data"]
        assert status["running"] is True and status["pid"] == info["pid"]
        assert status["healthz"]["status"] == "ok"
        assert set(status["healthz"]) >= {"engine", "version", "uptime_s", "keys"}
        token = mpc_home / "cosigner" / "auth.token"
        assert (token.stat().st_mode & 0o777) == 0o600
        # The passphrase went over a pipe: not in the daemon's command line or environment.
        cmdline = Path(f"/proc/{info['pid']}/cmdline").read_bytes()
        environ = Path(f"/proc/{info['pid']}/environ").read_bytes()
        assert mpc_env["MPC_COSIGNER_PASSPHRASE"].encode() not in cmdline + environ
        second = run_mpc(["--json", "cosigner", "start", "--port", "0"], env)
        assert second.returncode == 12
        assert json_result(second)["error"]["code"] == "cosigner_running"
    finally:
        stopped = run_mpc(["--json", "cosigner", "stop"], env)
    assert stopped.returncode == 0, stopped.stdout
    down = run_mpc(["--json", "cosigner", "status"], env)
    assert down.returncode == 12
    assert json_result(down)["error"]["code"] == "cosigner_not_running"
    again = run_mpc(["--json", "cosigner", "stop"], env)
    assert json_result(again)["error"]["code"] == "cosigner_not_running"
    # A wrong passphrase at the next start is refused (the keyring exists now).
    env["MPC_COSIGNER_PASSPHRASE"] = "not the passphrase"
    wrong = run_mpc(["--json", "cosigner", "start", "--port", "0"], env)
    assert wrong.returncode == 3
    assert json_result(wrong)["error"]["code"] == "wrong_passphrase"


def test_second_foreground_daemon_is_refused(cosigner: Cosigner) -> None:
    cp = run_mpc(["--json", "cosigner", "start", "--foreground", "--port", "0"], cosigner.env)
    assert cp.returncode == 12
    assert json_result(cp)["error"]["code"] == "cosigner_running"
    assert cosigner.proc.poll() is None


def test_port_in_use(mpc_env: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        for extra in ([], ["--foreground"]):
            cp = run_mpc(["--json", "cosigner", "start", "--port", str(port), *extra], mpc_env)
            assert cp.returncode == 12, cp.stdout
            err = json_result(cp)["error"]
            assert err["code"] == "port_in_use" and str(port) in err["message"]


def test_a_wildcard_listen_address_is_refused(mpc_env: dict[str, str]) -> None:
    # A non-loopback bind needs its one address spelled out with --host (the Host check needs
    # it); wildcards and names are refused before anything starts.
    for host in ("0.0.0.0", "::", "example.com"):
        cp = run_mpc(["--json", "cosigner", "start", "--host", host], mpc_env)
        assert cp.returncode == 2, cp.stdout
        err = json_result(cp)["error"]
        assert err["field"] == "host" and host in err["message"]
    assert not (Path(mpc_env["MPC_HOME"]) / "cosigner" / "state.json").exists()


def test_passphrase_never_from_argv(mpc_env: dict[str, str]) -> None:
    cp = run_mpc(["cosigner", "start", "--passphrase", "x"], mpc_env)
    assert cp.returncode != 0


def test_stop_sends_going_away_to_open_sessions(cosigner: Cosigner) -> None:
    token = bytes.fromhex((cosigner.dir / "auth.token").read_text().strip())
    errors: list[BaseException] = []

    async def hold_session() -> Any:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(cosigner.url + "/v1/session")
            ch = await client_handshake(
                ws,
                secret=token,
                engine=cosigner.engine,
                auth="pairing",
                key_id=None,
                round_timeout=60,
            )
            ready.set()
            try:
                await ch.recv_control(timeout=60)
            except PeerUnreachable as exc:
                errors.append(exc)
            return ws.close_code

    ready = threading.Event()
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(code=asyncio.run(hold_session())))
    thread.start()
    wait_for(ready.is_set, 30, "the session to open")
    stopped = run_mpc(["--json", "cosigner", "stop"], cosigner.env)
    thread.join(60)
    assert stopped.returncode == 0, stopped.stdout
    assert result.get("code") == 1001
    assert errors and "going away" in str(errors[0])
    assert cosigner.proc.wait(timeout=30) == 0
    assert not (cosigner.dir / "state.json").exists()
    events = [line.get("event") for line in cosigner.log_lines()]
    assert "stopping" in events and "stopped" in events


def test_sigint_is_a_graceful_stop(cosigner: Cosigner) -> None:
    import signal

    cosigner.proc.send_signal(signal.SIGINT)
    assert cosigner.proc.wait(timeout=30) == 0
    assert "stopped" in [line.get("event") for line in cosigner.log_lines()]


def test_healthz_fails_with_the_check(cosigner: Cosigner) -> None:
    status, doc = cosigner.healthz()
    assert status == 200 and doc["status"] == "ok" and doc["engine"] == cosigner.engine
    (cosigner.dir / "auth.token").rename(cosigner.dir / "auth.token.moved")
    status, doc = cosigner.healthz()
    assert status == 503 and doc["check"] == "token"
