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
