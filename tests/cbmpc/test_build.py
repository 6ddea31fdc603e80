"""The package builds with and without an installed cb-mpc (CMakeLists.txt).

These build real wheels with the dev environment's scikit-build-core (no build isolation, so
no download) into a temporary directory and look inside them.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import in_ci

REPO = Path(__file__).resolve().parents[2]
REASON = "cb-mpc engine not installed (mpcwallet._cbmpc missing); see README"


def _first_existing(env: str, defaults: tuple[str, ...]) -> Path | None:
    chosen = os.environ.get(env)
    for cand in (chosen,) if chosen else defaults:
        if cand and Path(cand).exists():
            return Path(cand)
    return None


def cbmpc_prefix() -> tuple[Path, Path] | None:
    """cb-mpc and its OpenSSL where CMakeLists.txt would find them, or None."""
    root = _first_existing("CBMPC_ROOT", ("/opt/cbmpc", "/usr/local/opt/cbmpc"))
    ossl = _first_existing(
        "CBMPC_OPENSSL_ROOT", ("/opt/cbmpc-openssl", "/usr/local/opt/openssl@3.6.3")
    )
    if root is None or ossl is None:
        return None
    if not (root / "lib" / "libcbmpc.a").exists():
        return None
    if not any((ossl / d / "libcrypto.a").exists() for d in ("lib64", "lib")):
        return None
    return root, ossl


def build_wheel(tmp_path: Path, env_extra: dict[str, str]) -> list[str]:
    env = dict(os.environ, **env_extra)
    out = tmp_path / "wheel"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheels = list(out.glob("mpcwallet-*.whl"))
    assert len(wheels) == 1
    with zipfile.ZipFile(wheels[0]) as zf:
        return zf.namelist()


def test_wheel_without_cbmpc_is_pure_python_and_complete(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    names = build_wheel(tmp_path, {"CBMPC_ROOT": str(empty), "CBMPC_OPENSSL_ROOT": str(empty)})
    assert "mpcwallet/engine/cbmpc.py" in names
    assert "mpcwallet/_cbmpc.pyi" in names
    assert not [n for n in names if n.startswith("mpcwallet/_cbmpc") and n.endswith(".so")]
    # what the build looked for, for `mpc health` (issue 21)
    assert "mpcwallet/_cbmpc_build.py" in names


@pytest.mark.slow
def test_wheel_with_cbmpc_contains_the_native_module(tmp_path: Path) -> None:
    found = cbmpc_prefix()
    if found is None:
        pytest.skip("cb-mpc is not installed under /opt or CBMPC_ROOT; see README")
    names = build_wheel(tmp_path, {})
    assert [n for n in names if n.startswith("mpcwallet/_cbmpc") and n.endswith(".so")]


def test_installed_cbmpc_means_the_engine_is_built() -> None:
    """In CI on a machine with cb-mpc installed, the cb-mpc tests must run, not skip."""
    built = importlib.util.find_spec("mpcwallet._cbmpc") is not None
    if cbmpc_prefix() is not None and in_ci():
        assert built, "cb-mpc is installed here but mpcwallet._cbmpc was not built"
    if not built:
        pytest.skip(REASON)


def test_bundled_openssl_symbols_stay_private(tmp_path: Path) -> None:
    """The module links cb-mpc's static OpenSSL with --exclude-libs,ALL: it exports none of
    its symbols, and Python's ssl/hashlib keep the system libcrypto in the same process."""
    spec = importlib.util.find_spec("mpcwallet._cbmpc")
    if spec is None or spec.origin is None:
        pytest.skip(REASON)
    lib = ctypes.CDLL(spec.origin)
    assert hasattr(lib, "PyInit__cbmpc")
    for sym in ("OPENSSL_init_crypto", "EVP_MD_fetch", "BN_new"):
        assert not hasattr(lib, sym), f"{sym} is exported"
    code = (
        "import mpcwallet._cbmpc, ssl, hashlib;"
        "ssl.create_default_context();"
        "assert hashlib.sha256(b'abc').hexdigest().startswith('ba7816bf');"
        "print(ssl.OPENSSL_VERSION)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=tmp_path,  # not the repo root: its mpcwallet/ has no built module
    )
    assert "3.6.3" not in proc.stdout


def test_without_the_native_module_the_registry_falls_back_to_portable(tmp_path: Path) -> None:
    """Simulates a machine without cb-mpc: importing the adapter raises ImportError, the
    registry reports cb-mpc unavailable with a pointer to the README, portable is the default,
    and asking for a t-of-n engine (cb-mpc's, or the portable one) is an error naming cb-mpc."""
    code = (
        "import sys; sys.modules['mpcwallet._cbmpc'] = None\n"
        "try:\n"
        "    import mpcwallet.engine.cbmpc\n"
        "except ImportError:\n"
        "    pass\n"
        "else:\n"
        "    raise SystemExit('adapter imported without the native module')\n"
        "from mpcwallet.engine import available_engines, default_engine_name, get_engine\n"
        "from mpcwallet.errors import EngineUnavailable\n"
        "assert available_engines() == ['portable'], available_engines()\n"
        "assert default_engine_name() == 'portable'\n"
        "try:\n"
        "    get_engine('cb-mpc')\n"
        "except EngineUnavailable as exc:\n"
        "    assert 'README' in exc.message, exc.message\n"
        "else:\n"
        "    raise SystemExit('cb-mpc loaded')\n"
        "from mpcwallet.engine import get_mp_engine\n"
        "from mpcwallet.errors import BadInput\n"
        "for name, err in (('cb-mpc', EngineUnavailable), ('portable', BadInput)):\n"
        "    try:\n"
        "        get_mp_engine(name)\n"
        "    except err as exc:\n"
        "        assert 'cb-mpc' in exc.message, exc.message\n"
        "    else:\n"
        "        raise SystemExit(f'a t-of-n engine {name} loaded')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MPC_ENGINE"}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
