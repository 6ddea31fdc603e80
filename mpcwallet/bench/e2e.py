"""End-to-end benchmark for ``mpc bench``: wall time of one ``mpc sign`` as a user runs it.

Each run is a fresh ``mpc sign --tx tx.json`` process against a running co-signer: interpreter
start, imports, Argon2id decryption of the client share, the authenticated WebSocket session,
the two-party signature and the raw-transaction checks. Target: median <= 0.5 s.

Setup (outside the timed runs): a throwaway MPC_HOME in a temporary directory with random
passphrases, a co-signer daemon on a kernel-chosen loopback port, one ``mpc keygen`` and one
untimed ``mpc sign`` (so Python's bytecode cache is warm, as after a user's first run). Torn
down at interpreter exit. The user's own MPC_HOME is never touched.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

NAME = "mpc sign (end to end, subprocess)"
_EXAMPLE_TX = {
    "type": 2,
    "chainId": 11155111,
    "nonce": 0,
    "to": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "value": "10000000000000000",
    "data": "0x",
    "gas": 21000,
    "maxFeePerGas": "30000000000",
    "maxPriorityFeePerGas": "1000000000",
}


def _mpc() -> list[str]:
    script = Path(sys.executable).parent / "mpc"
    return [str(script)] if script.exists() else [sys.executable, "-P", "-m", "mpcwallet"]


class _Setup:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="mpc-bench-"))
        # As a user runs it: bytecode cached after the first run (pip compiles it at install; an
        # environment with PYTHONDONTWRITEBYTECODE would otherwise compile every module of the
        # source tree in every timed run). The cache goes to the throwaway directory.
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("MPC_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        self.env["PYTHONPYCACHEPREFIX"] = str(self.tmp / "pycache")
        if os.environ.get("MPC_ENGINE"):
            self.env["MPC_ENGINE"] = os.environ["MPC_ENGINE"]
        self.engine = "?"
        self.env.update(
            MPC_HOME=str(self.tmp / "home"),
            MPC_PASSPHRASE=secrets.token_urlsafe(24),
            MPC_COSIGNER_PASSPHRASE=secrets.token_urlsafe(24),
        )
        self.tx = self.tmp / "tx.json"
        self.tx.write_text(json.dumps(_EXAMPLE_TX))
        self.daemon: subprocess.Popen[bytes] | None = None
        atexit.register(self.close)

    def start(self, deadline_s: float = 60.0) -> None:
        state_file = self.tmp / "home" / "cosigner" / "state.json"
        self.daemon = subprocess.Popen(
            [*_mpc(), "cosigner", "start", "--foreground", "--port", "0"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        end = time.monotonic() + deadline_s
        while True:
            if self.daemon.poll() is not None:
                raise RuntimeError("the benchmark co-signer exited during start")
            try:
                state = json.loads(state_file.read_text())
                if state.get("pid") == self.daemon.pid:
                    port = int(state["port"])
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/healthz", timeout=2
                    ) as resp:
                        if resp.status == 200:
                            self.env["MPC_COSIGNER_URL"] = str(state["url"])
                            break
            except (OSError, ValueError, KeyError):
                pass
            if time.monotonic() > end:
                raise RuntimeError("the benchmark co-signer did not become healthy in time")
            time.sleep(0.05)
        keygen = self._run(["--json", "keygen"], "keygen")
        self.engine = str(json.loads(keygen)["data"]["engine"])
        self.sign_once()  # untimed: fills the bytecode cache of the signing path

    def _run(self, args: list[str], what: str) -> bytes:
        cp = subprocess.run(
            [*_mpc(), *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        if cp.returncode != 0:
            raise RuntimeError(f"benchmark {what} failed with exit code {cp.returncode}")
        return cp.stdout

    def sign_once(self) -> None:
        self._run(["sign", "--tx", str(self.tx)], "mpc sign")

    def close(self) -> None:
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait(timeout=15)
        shutil.rmtree(self.tmp, ignore_errors=True)


_shared: _Setup | None = None


def shared_setup() -> _Setup:
    """The one throwaway home + co-signer + key of this process (other benchmarks reuse it)."""
    global _shared
    if _shared is None or _shared.daemon is None or _shared.daemon.poll() is not None:
        setup = _Setup()
        try:
            setup.start()
        except BaseException:
            setup.close()
            raise
        _shared = setup
    return _shared


def register_benchmarks() -> None:
    """Called by :func:`mpcwallet.bench.extra_benchmarks`; sets up once, then times runs."""
    from mpcwallet.bench import register_benchmark

    setup = shared_setup()

    def run() -> None:
        setup.sign_once()

    run.setup = setup  # type: ignore[attr-defined]  # for tests: the throwaway home

    register_benchmark(f"{NAME} [{setup.engine}]", run)
