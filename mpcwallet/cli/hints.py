"""What a newcomer should run next, where a bare "file not found" would leave them guessing."""

from __future__ import annotations

from pathlib import Path

from mpcwallet.errors import NotFound

__all__ = ["share_or_hint"]


def share_or_hint(share: Path | None, key: str | None = None) -> Path:
    """The share ``--share``/``--key`` name (lifecycle's rules); in a home without any key,
    say to run keygen instead of naming a missing file."""
    from mpcwallet.lifecycle.names import resolve_share

    path = resolve_share(share, key)
    if share is None and key is None and not path.exists() and not path.is_symlink():
        from mpcwallet.config import mpc_home

        raise NotFound(
            f"no key yet in {mpc_home()} ({path} does not exist): create one with "
            "`mpc keygen`, or pass --share FILE",
            field="share",
        )
    return path
