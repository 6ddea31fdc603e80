"""Is the cb-mpc engine here, and if not, why: one line for ``mpc health`` and ``mpc keys``.

The build (CMakeLists.txt) writes ``mpcwallet/_cbmpc_build.py`` whether or not it found cb-mpc:
the prefixes it looked in, what was missing, the OpenSSL version it found. This module reads it
beside the outcome of importing ``mpcwallet._cbmpc``; it never raises.
"""

from __future__ import annotations

import importlib
from typing import Any

_README = "see the README's engines section (README.md#engines-cb-mpc-and-portable)"


def _build_info() -> Any:
    try:
        return importlib.import_module("mpcwallet._cbmpc_build")
    except ImportError:
        return None


def _import_error() -> str | None:
    """None if ``mpcwallet._cbmpc`` imports, else why not (one line)."""
    try:
        importlib.import_module("mpcwallet._cbmpc")
    except ImportError as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return text[:200]
    return None


def cbmpc_status() -> dict[str, Any]:
    """``{"installed": bool, "line": str}`` plus, when known, what the build found
    (``cbmpc_root``, ``openssl_root``, ``openssl_version``)."""
    error = _import_error()
    info = _build_info()
    out: dict[str, Any] = {"installed": error is None}
    if info is not None:
        out.update(
            cbmpc_root=info.CBMPC_ROOT or None,
            openssl_root=info.OPENSSL_ROOT or None,
            openssl_version=info.OPENSSL_VERSION or None,
        )
    ossl = ""
    if info is not None and info.OPENSSL_VERSION:
        ossl = f"OpenSSL {info.OPENSSL_VERSION} at {info.OPENSSL_ROOT}"
        if info.OPENSSL_VERSION != info.OPENSSL_VERSION_WANTED:
            ossl += f", cb-mpc wants {info.OPENSSL_VERSION_WANTED}"
    if error is None:
        where = f" (built against {info.CBMPC_ROOT}, {ossl})" if info is not None else ""
        out["line"] = f"cb-mpc engine: installed{where}"
    elif info is None:
        out["line"] = (
            "cb-mpc engine: not installed (this mpcwallet was not installed through its build, "
            f"so it has no mpcwallet._cbmpc); {_README}"
        )
    elif info.FOUND:
        out["line"] = (
            f"cb-mpc engine: not usable: the build found cb-mpc at {info.CBMPC_ROOT} ({ossl}) "
            f"but mpcwallet._cbmpc does not import ({error}); rebuild, {_README}"
        )
    else:
        looked = info.CBMPC_ROOT or info.CBMPC_ROOTS_TRIED
        looked_ossl = info.OPENSSL_ROOT or info.OPENSSL_ROOTS_TRIED
        out["line"] = (
            f"cb-mpc engine: not installed: the build looked in {looked} and OpenSSL in "
            f"{looked_ossl} ({info.MISSING}); {_README}"
        )
    return out
