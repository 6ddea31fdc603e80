"""Remembered start options of a co-signer home (``MPC_HOME/cosigner/config.json``).

A port given with ``mpc cosigner start --port N`` is remembered, so later starts (including the
automatic start by ``mpc keygen``) listen there again; without one, the daemon tries the default
port and falls back to a free one, recording the port it got in its state file.
"""

from __future__ import annotations

from typing import Any

from mpcwallet.homes.paths import CosignerPaths
from mpcwallet.storage.settings import port_of, read_settings, remember


def _read(paths: CosignerPaths) -> dict[str, Any]:
    return read_settings(
        paths.settings_file,
        what="the co-signer settings",
        fix="start the co-signer with --port again",
        field="config",
    )


def remembered_port(paths: CosignerPaths) -> int | None:
    return port_of(_read(paths), paths.settings_file)


def remember_port(paths: CosignerPaths, port: int) -> None:
    remember(paths.settings_file, _read(paths), port=port)
