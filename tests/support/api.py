"""A REAL ``mpc serve`` subprocess for tests, and a plain HTTP client for it (http.client).

    with running_api(cs.env) as api:
        status, body, headers = api.call("POST", "/address", {})

The server runs ``mpc serve --port 0``; readiness is polled (``MPC_HOME/api.state.json`` with
its pid, then an authenticated ``/healthz``) with a deadline. Its JSON log (stderr) is kept in
``api.log_file``. On exit it gets SIGTERM and is killed if it does not stop in time.
"""

from __future__ import annotations

import http.client
import json
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.cosigner import wait_for
from support.proc import mpc_cmd, terminate

START_DEADLINE_S = 60.0


@dataclass
class Api:
    proc: subprocess.Popen[bytes]
    home: Path
    port: int
    token: str
    log_file: Path
    # every response body this client saw (tests scan them for secrets)
    seen: list[bytes] = field(default_factory=list, repr=False)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def raw(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 120,
    ) -> tuple[int, bytes, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            resp = conn.getresponse()
            data = resp.read()
            self.seen.append(data)
            return resp.status, data, {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()

    def call(
        self,
        method: str,
        path: str,
        obj: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 120,
    ) -> tuple[int, Any, dict[str, str]]:
        """A well-formed request with the token; ``headers`` add to or replace its headers."""
        hdrs = {"Authorization": f"Bearer {self.token}", "Host": self.host}
        body = None
        if obj is not None:
            body = json.dumps(obj).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        status, data, got = self.raw(method, path, body, hdrs, timeout)
        return status, json.loads(data) if data else None, got

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_file.read_text().splitlines() if line]

    def stop(self, timeout: float = 30.0) -> int:
        return terminate(self.proc, timeout)


def start_api(env: Mapping[str, str], *, extra_args: tuple[str, ...] = ()) -> Api:
    home = Path(env["MPC_HOME"])
    state_file = home / "api.state.json"
    log_file = home.parent / "serve.log"
    log = open(log_file, "wb")
    proc = subprocess.Popen(
        [*mpc_cmd(), "serve", "--port", "0", *extra_args],
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    log.close()

    def ready() -> int | None:
        if proc.poll() is not None:
            raise AssertionError(
                f"mpc serve exited early with {proc.returncode}: {log_file.read_text()[-2000:]}"
            )
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            return None
        return int(state["port"]) if state.get("pid") == proc.pid else None

    try:
        port = wait_for(ready, START_DEADLINE_S, "mpc serve's state file")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    token = (home / "api.token").read_text().strip()
    return Api(proc=proc, home=home, port=port, token=token, log_file=log_file)


@contextmanager
def running_api(env: Mapping[str, str], *, extra_args: tuple[str, ...] = ()) -> Iterator[Api]:
    api = start_api(env, extra_args=extra_args)
    try:
        yield api
    finally:
        api.stop()
