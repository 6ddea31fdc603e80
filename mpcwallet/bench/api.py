"""``mpc bench --api``: signatures per second through a running ``mpc serve``, beside ``mpc
sign`` end to end.

Setup (untimed): the throwaway home, co-signer and key of :mod:`mpcwallet.bench.e2e`, and
an ``mpc serve --port 0`` in that home (shares unlocked once). Timed: ``POST /tx/sign`` of the
example transaction over HTTP, first one after another, then from ``concurrency`` client
threads at once; and ``mpc sign`` as a fresh process (interpreter start, imports, Argon2id,
session). Each figure: signatures per second (count / wall time) and the median latency.
"""

from __future__ import annotations

import http.client
import json
import signal
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

START_DEADLINE_S = 60.0


class _Server:
    def __init__(self, env: dict[str, str], mpc: list[str]) -> None:
        home = Path(env["MPC_HOME"])
        state_file = home / "api.state.json"
        self.proc = subprocess.Popen(
            [*mpc, "serve", "--port", "0"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        end = time.monotonic() + START_DEADLINE_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mpc serve exited during start ({self.proc.returncode})")
            try:
                state = json.loads(state_file.read_text())
                if state.get("pid") == self.proc.pid:
                    self.port = int(state["port"])
                    break
            except (OSError, ValueError, KeyError):
                pass
            if time.monotonic() > end:
                raise RuntimeError("mpc serve did not start in time")
            time.sleep(0.05)  # poll interval, not synchronisation
        self.token = (home / "api.token").read_text().strip()

    def sign(self, body: bytes) -> float:
        """One POST /tx/sign; its latency in seconds."""
        start = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(
                "POST",
                "/tx/sign",
                body=body,
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "Host": f"127.0.0.1:{self.port}",
                    "Content-Type": "application/json",
                },
            )
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            code = json.loads(data).get("error", {}).get("code", "?") if data else "?"
            raise RuntimeError(f"POST /tx/sign answered {resp.status} ({code})")
        return time.perf_counter() - start

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


def _figure(latencies: list[float], wall: float, **extra: Any) -> dict[str, Any]:
    return {
        **extra,
        "signatures": len(latencies),
        "seconds": round(wall, 3),
        "per_second": round(len(latencies) / wall, 2),
        "median_ms": round(statistics.median(latencies) * 1000, 1),
    }


def run(
    signatures: int, *, concurrency: int = 8, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """The three figures (see the module doc); ``signatures`` per API figure, a quarter of it
    (at least 3) for ``mpc sign``."""
    from mpcwallet.bench.e2e import _EXAMPLE_TX, _mpc, shared_setup

    say = progress or (lambda _: None)
    say("setting up a throwaway home, co-signer and key...")
    setup = shared_setup()
    server = _Server(setup.env, _mpc())
    body = json.dumps({"tx": _EXAMPLE_TX}).encode()
    try:
        server.sign(body)  # warm-up (first session, imports)
        say(f"{signatures} signatures through the API, one after another...")
        start = time.perf_counter()
        seq = [server.sign(body) for _ in range(signatures)]
        sequential = _figure(seq, time.perf_counter() - start, concurrency=1)
        say(f"{signatures} signatures through the API, {concurrency} at a time...")
        lock = threading.Lock()
        conc: list[float] = []

        def one(_: int) -> None:
            latency = server.sign(body)
            with lock:
                conc.append(latency)

        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(signatures)))
        concurrent = _figure(conc, time.perf_counter() - start, concurrency=concurrency)
    finally:
        server.close()
    cli_rounds = max(3, signatures // 4)
    say(f"{cli_rounds} x mpc sign (a process each)...")
    cli: list[float] = []
    for _ in range(cli_rounds):
        start = time.perf_counter()
        setup.sign_once()
        cli.append(time.perf_counter() - start)
    return {
        "engine": setup.engine,
        "api_sequential": sequential,
        "api_concurrent": concurrent,
        "cli_end_to_end": _figure(cli, sum(cli), concurrency=1),
    }
