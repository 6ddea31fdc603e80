"""Which share a command means, and what its public header says (no passphrase needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mpcwallet.accounts import share_summary
from mpcwallet.errors import NotFound

__all__ = ["addresses", "find_share", "no_key_hint", "share_summary"]


def find_share(share: Path | None, key: str | None = None) -> Path:
    """The share ``--share``/``--key`` name (lifecycle's rules); in a home without any key,
    say to run keygen instead of naming a missing file."""
    from mpcwallet.lifecycle.names import resolve_share

    path = resolve_share(share, key)
    if share is None and key is None and not path.exists() and not path.is_symlink():
        raise NotFound(f"{no_key_hint()}, or pass --share FILE", field="share")
    return path


def no_key_hint() -> str:
    """Where no key was found, that MPC_HOME chooses another home, then keygen."""
    import os

    from mpcwallet.config import mpc_home

    where = "MPC_HOME" if os.environ.get("MPC_HOME") else "the default home; MPC_HOME unset"
    return (
        f"no key in {mpc_home()} ({where}). If your key is in another home, set MPC_HOME to "
        "that directory; else create one with `mpc keygen`"
    )


def addresses(path: Path, accounts: range) -> list[dict[str, Any]]:
    """``[{account, address}]`` for each account in ``accounts`` (public derivation)."""
    from mpcwallet import accounts as acc
    from mpcwallet.storage.store import load_header

    header = load_header(path)
    return [{"account": i, "address": acc.account_key(header, path, i)[1]} for i in accounts]
