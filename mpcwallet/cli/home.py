"""Which MPC_HOME a command uses, said once on stderr (human mode only; never in --json).

Every command that touches keys goes through :func:`find_share` / :func:`resolve_share` here
(or calls :func:`tell_home`), so a forgotten ``MPC_HOME`` shows before anything else does.
"""

from __future__ import annotations

import os
from pathlib import Path

_told = False


def home_line() -> str:
    from mpcwallet.config import mpc_home

    why = "MPC_HOME" if os.environ.get("MPC_HOME") else "default; set MPC_HOME for another"
    return f"home: {mpc_home()} ({why})"


def tell_home() -> None:
    global _told
    from mpcwallet.cli.output import out

    if _told or out().json_mode:
        return
    _told = True
    out().info(home_line())


def find_share(share: Path | None, key: str | None = None) -> Path:
    from mpcwallet.wallet.shares import find_share as find

    tell_home()
    return find(share, key)


def resolve_share(share: Path | None, key: str | None) -> Path:
    from mpcwallet.lifecycle.names import resolve_share as resolve

    tell_home()
    return resolve(share, key)
