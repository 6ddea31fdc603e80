"""Keys by name: ``MPC_HOME/shares/<name>.enc``, and which share a command means.

``--share PATH`` names a file; ``--key NAME`` a key in ``MPC_HOME/shares``. With neither, the
default key is the only key, else the one named ``default``, else an error listing the names.
"""

from __future__ import annotations

from pathlib import Path

from mpcwallet.config import default_share_path, shares_dir
from mpcwallet.errors import BadInput, NotFound

SHARE_SUFFIX = ".enc"


def list_shares() -> list[Path]:
    """The key files in ``MPC_HOME/shares`` (no pending, temp or hidden files), by name."""
    directory = shares_dir()
    if not directory.is_dir():
        return []
    return sorted(
        p for p in directory.glob(f"*{SHARE_SUFFIX}") if not p.name.startswith(".") and p.is_file()
    )


def key_name(path: Path) -> str:
    return path.name.removesuffix(SHARE_SUFFIX)


def resolve_share(share: Path | None, key: str | None) -> Path:
    if share is not None and key is not None:
        raise BadInput("give --share or --key, not both", field="key")
    if share is not None:
        return share
    names = [key_name(p) for p in list_shares()]
    if key is not None:
        path = default_share_path(key)
        if key_name(path) != key or path.parent != shares_dir():
            raise BadInput(f"--key: {key!r} is not a key name", field="key")
        if not path.exists():
            known = ", ".join(names) if names else "none yet (create one with `mpc keygen`)"
            raise NotFound(f"--key: there is no key named {key!r}; keys: {known}", field="key")
        return path
    if len(names) == 1:
        return list_shares()[0]
    if not names or "default" in names:
        return default_share_path()
    raise BadInput(
        f"there are {len(names)} keys and none is named 'default'; choose one with --key NAME "
        f"({', '.join(names)})",
        field="key",
    )
