"""WaaS test helpers: approver keys and their signatures; a `mpc waas serve` process and calls
to its API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.anvil import Anvil


@dataclass
class Approver:
    principal_id: str
    name: str
    seed: bytes

    def sign(self, message: bytes) -> str:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message).hex()


def approver_key() -> tuple[bytes, str]:
    from mpcwallet.cosigner.permits import new_approver_key

    return new_approver_key()


def mpc_json(*args: str) -> dict[str, Any]:
    cp = subprocess.run(
        [sys.executable, "-P", "-m", "mpcwallet", "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(json.loads(cp.stdout)["data"])


def call(url: str, key: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    req = urllib.request.Request(
        url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class Serve:
    """One `mpc waas serve` process; start() waits for waas.json (written once listening, after
    the deposit listener's cursor is set)."""

    def __init__(self, d: Path, anvil: Anvil) -> None:
        self.d, self.anvil = d, anvil
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        log = open(self.d / "waas.log", "ab")  # the child keeps its copy
        self.proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "mpcwallet", "waas", "serve", "--dir", str(self.d),
             "--local-cluster", "--rpc-url", self.anvil.url, "--deposit-window", "2"],
            stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 60
        while not (self.d / "waas.json").exists():
            assert self.proc.poll() is None, self.log()
            assert time.monotonic() < deadline, self.log()
            time.sleep(0.05)  # poll interval
        self.url = json.loads((self.d / "waas.json").read_text())["url"]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.proc = None

    def log(self) -> str:
        return (self.d / "waas.log").read_text()[-3000:]


def until(what: str, check: Callable[[], Any], serve: Serve, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)  # poll interval
    raise AssertionError(f"{what}: not within {timeout} s\n{serve.log()}")
