"""Where state lives. Everything is under ``MPC_HOME`` (default ``~/.mpcwallet``)."""

from __future__ import annotations

import os
from pathlib import Path


def mpc_home() -> Path:
    return Path(os.environ.get("MPC_HOME") or "~/.mpcwallet").expanduser()


def shares_dir() -> Path:
    """Client shares: ``MPC_HOME/shares/<name>.enc``."""
    return mpc_home() / "shares"


def cosigner_dir() -> Path:
    """The co-signer's state: pid file, auth token, logs, ``shares/<key_id>.enc``."""
    return mpc_home() / "cosigner"


def default_share_path(name: str = "default") -> Path:
    return shares_dir() / f"{name}.enc"


SEPOLIA = 11155111


def chain_id() -> int:
    """The chain this wallet is set up for: ``MPC_CHAIN_ID``, default 11155111 (Sepolia).

    New tx.json files get it (`mpc tx transfer`, `mpc send --to`), and typed data whose domain
    names another chain is refused unless the command names that chain on purpose."""
    from mpcwallet.errors import BadInput

    text = os.environ.get("MPC_CHAIN_ID", "").strip()
    if not text:
        return SEPOLIA
    if not text.isdigit() or not 0 < int(text) < 2**64 or len(text) > 20:
        raise BadInput(
            f"MPC_CHAIN_ID: {text[:30]!r} is not a chain id (a positive integer, e.g. 1 for "
            "mainnet, 11155111 for Sepolia)",
            field="MPC_CHAIN_ID",
        )
    return int(text)
