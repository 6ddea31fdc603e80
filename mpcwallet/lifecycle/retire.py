"""Retiring a key: its share moves to ``MPC_HOME/retired/`` (0600); the tool never deletes it.

This is the only way to free a key's name for a new keygen; the address it held is reported so
funds can still be moved (the retired share still signs with `mpc sign --share`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mpcwallet.config import mpc_home
from mpcwallet.errors import BadInput
from mpcwallet.lifecycle.names import key_name
from mpcwallet.storage.files import ensure_dir, publish


def retired_dir() -> Path:
    return mpc_home() / "retired"


def retire(share: Path) -> dict[str, Any]:
    from mpcwallet.accounts import share_summary
    from mpcwallet.lifecycle.refresh import pending_files

    summary = share_summary(share)
    if pending_files(share):
        raise BadInput(
            f"{share} has an unfinished refresh; run `mpc keys` (or `mpc refresh`) to settle it "
            "before retiring the key",
            field="key",
        )
    directory = retired_dir()
    ensure_dir(directory)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = directory / f"{key_name(share)}.{stamp}.{summary['key_id']}.enc"
    share.chmod(0o600)
    # os.link + unlink: never replaces a file already in retired/.
    publish(share, target, force=False)
    return {**summary, "retired_to": str(target), "share": str(share)}
