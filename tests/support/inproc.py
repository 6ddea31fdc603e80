"""Run the real ``mpc`` entry point in this process, and check what hostile input must never do.

In-process keeps property tests fast (no interpreter start per example); the code path is the
same ``mpcwallet.cli.main.main`` a subprocess runs. Each check is what issue 11 asks of every
input surface: a documented exit code (never 1, ``internal``), one JSON object with --json, no
traceback, input files unchanged and no new files.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, settings

from mpcwallet import errors
from mpcwallet.cli import app as app_module
from mpcwallet.cli.main import main


def _all_error_classes() -> list[type[errors.MpcError]]:
    out: list[type[errors.MpcError]] = []
    todo: list[type[errors.MpcError]] = [errors.MpcError]
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo.extend(cls.__subclasses__())
    return out


# Every exit code the error tree (and so the README's table) documents, and success; not 1.
DOCUMENTED_EXIT_CODES = frozenset(
    {0} | {c.exit_code for c in _all_error_classes() if c.exit_code != 1}
)


def fuzz_settings(examples: int = 60) -> settings:
    """``examples`` per property test in CI; 10 000 with HYPOTHESIS_PROFILE=thorough."""
    thorough = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
    return settings(
        max_examples=10_000 if thorough else examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


def closed_port_url() -> str:
    """A ws:// URL nothing listens on: a command that gets that far fails as transient."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"ws://127.0.0.1:{port}"


class _BuiltOnce:
    """The app as ``cli.main`` calls it, with Typer's click command built once, not per call.

    Typer rebuilds the whole click command tree on every call (~80 ms, most of an example's
    cost); a process running ``mpc`` once does not notice, a property test does.
    """

    def __init__(self) -> None:
        import typer

        self.command = typer.main.get_command(app_module.build_app())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.command(*args, **kwargs)


_built: list[_BuiltOnce] = []


def _app() -> _BuiltOnce:
    if not _built:
        _built.append(_BuiltOnce())
    return _built[0]


def run_inproc(args: Sequence[str], env: Mapping[str, str]) -> Result:
    """``mpc ARGS`` in this process with exactly ``env`` as the environment."""
    out, err = io.StringIO(), io.StringIO()
    app = _app()
    with (
        mock.patch.object(app_module, "build_app", lambda *_: app),
        mock.patch.dict(os.environ, dict(env), clear=True),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = main(list(args))
    return Result(code, out.getvalue(), err.getvalue())


def check_clean(result: Result, *, json_mode: bool = True) -> dict[str, Any] | None:
    """Assert the hostile-input contract on one run; the --json object if json_mode."""
    where = f"exit {result.code}; stdout {result.stdout[:500]!r}; stderr {result.stderr[:500]!r}"
    assert result.code in DOCUMENTED_EXIT_CODES, where
    assert "Traceback" not in result.stdout and "Traceback" not in result.stderr, where
    if not json_mode:
        return None
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, where
    obj = json.loads(lines[0])
    assert isinstance(obj, dict) and obj.get("ok") in (True, False), where
    if obj["ok"] is False:
        assert obj["error"]["code"] != "internal", where
        assert (result.code == 0) is False, where
    return obj


def snapshot(dirs: Iterable[Path]) -> dict[str, str]:
    """Every entry under ``dirs`` -> a digest of its content (or its link target)."""
    state: dict[str, str] = {}
    for top in dirs:
        if not top.exists():
            continue
        for root, subdirs, files in os.walk(top):
            for name in subdirs + files:
                p = Path(root) / name
                if p.is_symlink():
                    state[str(p)] = "-> " + os.readlink(p)
                elif p.is_dir():
                    state[str(p)] = "dir"
                elif p.is_file():
                    state[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
                else:
                    state[str(p)] = "special"
    return state
