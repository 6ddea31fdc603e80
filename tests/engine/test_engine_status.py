"""``mpc health`` / ``mpc keys``: whether cb-mpc is installed here and, if not, why (one line)."""

from __future__ import annotations

import importlib.util
import types

import pytest
from support.proc import json_result, run_mpc

from mpcwallet.engine import status


def fake_build(**overrides: object) -> types.ModuleType:
    mod = types.ModuleType("mpcwallet._cbmpc_build")
    values: dict[str, object] = {
        "FOUND": True,
        "MISSING": "",
        "CBMPC_ROOT": "/prefix/cbmpc",
        "CBMPC_ROOTS_TRIED": "/opt/cbmpc, /usr/local/opt/cbmpc",
        "OPENSSL_ROOT": "/prefix/openssl",
        "OPENSSL_ROOTS_TRIED": "/opt/cbmpc-openssl, /usr/local/opt/openssl@3.6.3",
        "OPENSSL_VERSION": "3.6.3",
        "OPENSSL_VERSION_WANTED": "3.6.3",
    }
    values.update(overrides)
    for k, v in values.items():
        setattr(mod, k, v)
    return mod


def test_found_by_the_build_but_the_module_does_not_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(status, "_build_info", lambda: fake_build(OPENSSL_VERSION="3.0.2"))
    monkeypatch.setattr(status, "_import_error", lambda: "undefined symbol: EVP_MD_fetch")
    got = status.cbmpc_status()
    assert got["installed"] is False
    line = got["line"]
    assert "\n" not in line
    assert "/prefix/cbmpc" in line and "OpenSSL 3.0.2 at /prefix/openssl" in line
    assert "wants 3.6.3" in line and "undefined symbol" in line and "README" in line


def test_not_found_by_the_build_names_the_prefixes_and_what_was_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    build = fake_build(
        FOUND=False, MISSING="no lib/libcbmpc.a under the cb-mpc prefix", CBMPC_ROOT=""
    )
    monkeypatch.setattr(status, "_build_info", lambda: build)
    monkeypatch.setattr(status, "_import_error", lambda: "No module named 'mpcwallet._cbmpc'")
    line = status.cbmpc_status()["line"]
    assert "not installed" in line and "/opt/cbmpc, /usr/local/opt/cbmpc" in line
    assert "no lib/libcbmpc.a" in line and "\n" not in line


def test_no_build_information(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status, "_build_info", lambda: None)
    monkeypatch.setattr(status, "_import_error", lambda: "No module named 'mpcwallet._cbmpc'")
    got = status.cbmpc_status()
    assert got["installed"] is False and "not installed" in got["line"]


def test_the_real_status_matches_this_install() -> None:
    got = status.cbmpc_status()
    built = importlib.util.find_spec("mpcwallet._cbmpc") is not None
    assert got["installed"] is built
    if built:
        assert got["line"].startswith("cb-mpc engine: installed")


def test_mpc_keys_reports_the_engine_status(mpc_env: dict[str, str]) -> None:
    cp = run_mpc(["--json", "keys"], mpc_env)
    assert cp.returncode == 0, cp.stderr
    data = json_result(cp)["data"]
    assert data["keys"] == []
    built = importlib.util.find_spec("mpcwallet._cbmpc") is not None
    assert data["cbmpc"]["installed"] is built
    human = run_mpc(["keys"], mpc_env)
    assert human.returncode == 0, human.stderr
    assert data["cbmpc"]["line"] in human.stdout.splitlines()


def test_a_module_that_does_not_import_is_reported_with_the_build_facts() -> None:
    """In a fresh process whose ``mpcwallet._cbmpc`` cannot import: on a machine where the build
    found cb-mpc, the line says so and names the prefix and OpenSSL version."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['mpcwallet._cbmpc'] = None\n"
        "from mpcwallet.engine.status import cbmpc_status\n"
        "print(cbmpc_status()['line'])\n"
    )
    # -P: the installed package, not the source tree in the working directory (a non-editable
    # install, as .ci/run makes, has _cbmpc_build.py only in site-packages)
    cp = subprocess.run(
        [sys.executable, "-P", "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    line = cp.stdout.strip()
    assert "\n" not in line
    info = status._build_info()
    if info is not None and info.FOUND:
        assert "not usable" in line and "does not import" in line
        assert info.CBMPC_ROOT in line and f"OpenSSL {info.OPENSSL_VERSION}" in line
    else:
        assert "not installed" in line
