"""Remembered start options of ``mpc serve`` (``MPC_HOME/api.json``): the port.

``mpc serve --port N`` is remembered, so a later ``mpc serve`` (and ``mpc bench --api``) finds
the server there again; without one the default port is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mpcwallet.storage.settings import port_of, read_settings, remember

DEFAULT_PORT = 7448


def settings_path() -> Path:
    from mpcwallet.config import mpc_home

    return mpc_home() / "api.json"


def _read(path: Path) -> dict[str, Any]:
    return read_settings(
        path, what="the API settings", fix="start `mpc serve --port N` again", field="port"
    )


def remembered_port() -> int:
    path = settings_path()
    port = port_of(_read(path), path)
    return DEFAULT_PORT if port is None else port


def remember_port(port: int) -> None:
    path = settings_path()
    remember(path, _read(path), port=port)
