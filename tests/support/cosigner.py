"""A REAL co-signer daemon subprocess for tests, on a free loopback port with its own MPC_HOME.

    with running_cosigner(mpc_env) as cs:
        run_mpc(["keygen"], cs.env)

``cs.env`` is the given environment plus ``MPC_COSIGNER_URL`` pointing at the daemon and
``MPC_ENGINE`` set to the daemon's engine (by default the test run's MPC_ENGINE, else the
default engine).
The daemon runs ``mpc cosigner start --foreground --port 0`` (the kernel picks the port; the
daemon records it in ``MPC_HOME/cosigner/state.json``). Readiness is polled (state file, then
``/healthz``) with a deadline; no sleeps as synchronisation. On exit the daemon gets SIGTERM
(graceful stop) and is killed if it does not exit in time.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.proc import mpc_cmd, terminate

START_DEADLINE_S = 60.0


@dataclass
class Cosigner:
    proc: subprocess.Popen[bytes]
    home: Path
    url: str
    port: int
    engine: str
    env: dict[str, str] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def dir(self) -> Path:
        return self.home / "cosigner"

    @property
    def log_file(self) -> Path:
        return self.dir / "cosigner.log"

    @property
    def static_public(self) -> bytes:
        """The daemon's static X25519 public key (what its clients pin)."""
        from mpcwallet.session.secure import static_public

        return static_public(bytes.fromhex((self.dir / "static.key").read_text().strip()))

    def healthz(self) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=3) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def log_lines(self) -> list[dict[str, Any]]:
        if not self.log_file.exists():
            return []
        return [json.loads(line) for line in self.log_file.read_text().splitlines() if line]

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown (for crash tests)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self, timeout: float = 30.0) -> int:
        return terminate(self.proc, timeout)


def wait_for(predicate: Any, deadline_s: float, what: str, interval: float = 0.02) -> Any:
    """Poll ``predicate()`` until it returns a truthy value or the deadline passes."""
    end = time.monotonic() + deadline_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s:g} s waiting for {what}")
        time.sleep(interval)


def start_cosigner(
    env: Mapping[str, str], *, engine: str | None = None, extra_args: tuple[str, ...] = ()
) -> Cosigner:
    home = Path(env["MPC_HOME"])
    if engine is None:
        # The test run's MPC_ENGINE (``mpc_env`` strips MPC_* from the subprocess env).
        engine = env.get("MPC_ENGINE") or os.environ.get("MPC_ENGINE") or None
    args = [*mpc_cmd(), "cosigner", "start", "--foreground", "--port", "0", *extra_args]
    if engine is not None:
        args += ["--engine", engine]
    state_file = home / "cosigner" / "state.json"
    state_file.unlink(missing_ok=True)
    log = open(home.parent / f"cosigner-{os.getpid()}-{time.monotonic_ns()}.out", "wb")
    proc = subprocess.Popen(args, env=dict(env), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    log.close()

    def ready() -> dict[str, Any] | None:
        if proc.poll() is not None:
            raise AssertionError(f"co-signer exited early with {proc.returncode}")
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            return None
        if state.get("pid") != proc.pid:
            return None
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{state['port']}/healthz", timeout=2
            ) as r:
                return state if r.status == 200 else None
        except OSError:
            return None

    try:
        state = wait_for(ready, START_DEADLINE_S, "the co-signer's /healthz")
    except BaseException:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        raise
    run_env = dict(env)
    run_env["MPC_COSIGNER_URL"] = str(state["url"])
    run_env["MPC_ENGINE"] = str(state["engine"])  # clients default to the daemon's engine
    return Cosigner(
        proc=proc,
        home=home,
        url=str(state["url"]),
        port=int(state["port"]),
        engine=str(state["engine"]),
        env=run_env,
    )


@contextmanager
def running_cosigner(
    env: Mapping[str, str], *, engine: str | None = None, extra_args: tuple[str, ...] = ()
) -> Iterator[Cosigner]:
    cs = start_cosigner(env, engine=engine, extra_args=extra_args)
    try:
        yield cs
    finally:
        cs.stop()


def secret_forms(secret: bytes) -> list[bytes]:
    """How a secret could appear in a file: raw, hex (both cases), base64."""
    import base64

    forms = [secret, secret.hex().encode(), secret.hex().upper().encode()]
    forms.append(base64.b64encode(secret))
    return forms


def files_under(*roots: Path) -> list[Path]:
    out: list[Path] = []
    for root in roots:
        if root.is_file():
            out.append(root)
        elif root.exists():
            out.extend(p for p in root.rglob("*") if p.is_file())
    return out


def assert_no_secrets(
    roots: list[Path], secrets: Mapping[str, bytes], allowed: Mapping[str, set[Path]] | None = None
) -> int:
    """Fail if any file under ``roots`` holds any of ``secrets`` (in any of its usual forms),
    except in the files ``allowed[name]``. Returns the number of files scanned."""
    allowed = allowed or {}
    files = files_under(*roots)
    for path in files:
        data = path.read_bytes()
        for name, secret in secrets.items():
            if path in allowed.get(name, set()):
                continue
            for form in secret_forms(secret):
                assert form not in data, f"{name} found in {path}"
    return len(files)
