"""The CLI frame: help/version, lazy heavy imports, global --json, usage and internal errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from support.proc import json_result, run_mpc

from mpcwallet import __version__
from mpcwallet.cli import app as app_module
from mpcwallet.cli import main as main_module

# what a command loads when it runs, never for --help (it must stay fast)
HEAVY = ("web3", "eth_account", "aiohttp", "cryptography", "mpcwallet.wallet")


def test_help_lists_commands(mpc_env: dict[str, str]) -> None:
    cp = run_mpc(["--help"], mpc_env)
    assert cp.returncode == 0, cp.stderr
    assert "Usage: mpc" in cp.stdout
    assert "backup" in cp.stdout
    assert "Traceback" not in cp.stderr


def test_version(mpc_env: dict[str, str]) -> None:
    cp = run_mpc(["--version"], mpc_env)
    assert cp.returncode == 0
    assert cp.stdout.strip() == f"mpc {__version__}"


def test_python_dash_m(mpc_env: dict[str, str]) -> None:
    cp = subprocess.run(
        [sys.executable, "-P", "-m", "mpcwallet", "--version"],
        env=mpc_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.strip() == f"mpc {__version__}"


def test_help_and_version_do_not_import_heavy_modules(mpc_env: dict[str, str]) -> None:
    """Every command module is imported by --help; none may pull in web3/eth_account/aiohttp."""
    script = (
        "import io, json, sys, contextlib\n"
        "from mpcwallet.cli.main import main\n"
        "codes = []\n"
        "for args in (['--help'], ['--version'], ['backup', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        codes.append(main(args))\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(json.dumps({'codes': codes, 'heavy': heavy}))\n"
    )
    cp = subprocess.run(
        [sys.executable, "-c", script],
        env=mpc_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert cp.returncode == 0, cp.stderr
    result = json.loads(cp.stdout.strip().splitlines()[-1])
    assert result["codes"] == [0, 0, 0]
    assert result["heavy"] == []


def test_command_table_names_what_each_module_registers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`mpc NAME` registers only NAME's module (app.COMMAND_MODULES), so the table must be
    exact; help, completion and unknown names get every command."""
    for module, names in app_module.COMMAND_MODULES.items():
        group = typer.main.get_command(app_module.build_app((module,)))
        assert tuple(group.commands) == names, module  # type: ignore[attr-defined]
        for name in names:
            assert app_module.modules_for(["--version", name, "--help"]) == (module,)
    every = tuple(app_module.COMMAND_MODULES)
    for args in ([], ["--help"], ["nosuchcommand"], ["--install-completion"]):
        assert app_module.modules_for(args) == every
    monkeypatch.setenv("_MPC_COMPLETE", "complete_bash")
    assert app_module.modules_for(["sign"]) == every


@pytest.mark.parametrize(
    "args",
    [
        ["--json", "backup", "verify", "--in", "missing.enc"],
        ["backup", "--json", "verify", "--in", "missing.enc"],
        ["backup", "verify", "--in", "missing.enc", "--json"],
    ],
    ids=["first", "middle", "last"],
)
def test_json_anywhere_on_the_line(
    mpc_env: dict[str, str], tmp_path: Path, args: list[str]
) -> None:
    cp = run_mpc(args, mpc_env, cwd=tmp_path)
    assert cp.returncode == 5
    obj = json_result(cp)
    assert obj["ok"] is False
    assert obj["error"]["code"] == "not_found"
    assert "missing.enc" in obj["error"]["message"]
    assert set(obj["error"]) >= {"code", "message", "kind"}


def test_human_error_goes_to_stderr(mpc_env: dict[str, str], tmp_path: Path) -> None:
    cp = run_mpc(["backup", "verify", "--in", "missing.enc"], mpc_env, cwd=tmp_path)
    assert cp.returncode == 5
    assert cp.stdout == ""
    assert "not_found" in cp.stderr and "missing.enc" in cp.stderr
    assert "Traceback" not in cp.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["nosuchcommand"],
        [],
        ["backup"],
        ["backup", "verify"],
        ["backup", "export", "--bogus-flag"],
    ],
    ids=["unknown-command", "no-command", "no-subcommand", "missing-option", "unknown-option"],
)
def test_usage_errors(mpc_env: dict[str, str], args: list[str]) -> None:
    cp = run_mpc([*args, "--json"], mpc_env)
    assert cp.returncode == 2
    obj = json_result(cp)
    assert obj["ok"] is False
    assert obj["error"]["code"] == "usage"
    assert obj["error"]["message"]


def test_passphrase_is_never_a_flag_value(mpc_env: dict[str, str]) -> None:
    cp = run_mpc(["backup", "export", "--out", "x", "--passphrase", "hunter2", "--json"], mpc_env)
    assert cp.returncode == 2
    assert json_result(cp)["error"]["code"] == "usage"


# --- an unexpected exception, in-process (the failing command is our boundary) -----------------

LOCAL_SECRET = "local-secret-3f9a"
ARG_SECRET = "arg-secret-77c1"


def _failing_app(modules: object = None) -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.command()
    def explode() -> None:
        passphrase = LOCAL_SECRET  # a local that must never be printed
        assert passphrase
        raise RuntimeError(ARG_SECRET)

    @app.command()
    def other() -> None:
        """A second command so Typer keeps the subcommand name."""

    return app


@pytest.mark.parametrize("json_mode", [False, True])
def test_unexpected_exception_prints_no_traceback_or_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], json_mode: bool
) -> None:
    monkeypatch.delenv("MPC_DEBUG", raising=False)
    monkeypatch.setattr(app_module, "build_app", _failing_app)
    rc = main_module.main(["explode", *(["--json"] if json_mode else [])])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert rc == 1
    assert "Traceback" not in text
    assert LOCAL_SECRET not in text
    assert ARG_SECRET not in text
    assert "RuntimeError" in text
    if json_mode:
        obj: dict[str, Any] = json.loads(captured.out)
        assert obj["ok"] is False
        assert obj["error"]["code"] == "internal"
    else:
        assert captured.out == ""


def test_debug_traceback_has_no_locals(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MPC_DEBUG", "1")
    monkeypatch.setattr(app_module, "build_app", _failing_app)
    rc = main_module.main(["explode"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "Traceback" in err
    assert LOCAL_SECRET not in err
