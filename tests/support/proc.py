"""Run the real ``mpc`` entry point in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def mpc_cmd() -> list[str]:
    """The installed ``mpc`` script next to this interpreter, else ``python -m mpcwallet``."""
    script = Path(sys.executable).parent / "mpc"
    if script.exists():
        return [str(script)]
    found = shutil.which("mpc")
    return [found] if found else [sys.executable, "-P", "-m", "mpcwallet"]


def run_mpc(
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    input: str | None = None,
    timeout: float = 120,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*mpc_cmd(), *args],
        env=dict(env),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )


def json_result(cp: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The single JSON object a ``--json`` command printed on stdout."""
    lines = [line for line in cp.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one JSON line on stdout, got {cp.stdout!r} / {cp.stderr!r}"
    obj = json.loads(lines[0])
    assert isinstance(obj, dict)
    assert obj.get("ok") in (True, False)
    return obj


def ok_data(cp: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The ``data`` of a ``--json`` command that must have succeeded."""
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    data = json_result(cp)["data"]
    assert isinstance(data, dict)
    return data


def error_of(
    cp: subprocess.CompletedProcess[str], exit_code: int, code: str | None = None
) -> dict[str, Any]:
    """The ``error`` of a ``--json`` command that must have failed with ``exit_code`` (and
    ``code``, when given)."""
    assert cp.returncode == exit_code, (cp.stdout, cp.stderr)
    obj = json_result(cp)
    assert obj["ok"] is False
    error = obj["error"]
    assert isinstance(error, dict)
    if code is not None:
        assert error["code"] == code, error
    return error


def terminate(proc: subprocess.Popen[Any], timeout: float = 30.0) -> int:
    """SIGTERM (a graceful stop), SIGKILL if it has not exited after ``timeout``; exit code."""
    import signal

    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
    return int(proc.returncode)
