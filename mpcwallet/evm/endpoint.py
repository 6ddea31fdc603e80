"""Which JSON-RPC endpoint and retry bound to use: flags, then environment.

Separate from :mod:`mpcwallet.evm.rpc` so that ``mpc sign`` without an endpoint does not import
the HTTP stack at all.
"""

from __future__ import annotations

import os

from mpcwallet.errors import BadInput

DEFAULT_RETRY_SECONDS = 30.0


def resolve_rpc_url(flag: str | None) -> str | None:
    """--rpc-url, else MPC_RPC_URL, else ETH_RPC_URL (empty values count as unset)."""
    for value in (flag, os.environ.get("MPC_RPC_URL"), os.environ.get("ETH_RPC_URL")):
        if value:
            if not value.startswith(("http://", "https://")):
                raise BadInput(f"rpc-url: {value!r} is not an http(s) URL", field="rpc_url")
            return value
    return None


def retry_seconds_from_env(flag: float | None = None) -> float:
    """--timeout if given, else MPC_RPC_RETRY_SECONDS, else the default; checked either way."""
    from mpcwallet import numeric

    if flag is not None:
        return numeric.check(flag, "--timeout")
    return numeric.from_env("MPC_RPC_RETRY_SECONDS", DEFAULT_RETRY_SECONDS)
