"""Remembered start options of ``mpc serve`` (``MPC_HOME/api.json``): the port.

``mpc serve --port N`` is remembered, so a later ``mpc serve`` (and ``mpc bench --api``) finds
the server there again; without one the default port is used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mpcwallet.errors import BadInput, FileFormatError, NotFound
from mpcwallet.jsonio import load_file
from mpcwallet.storage.files import write_atomic

DEFAULT_PORT = 7448


def settings_path() -> Path:
    from mpcwallet.config import mpc_home

    return mpc_home() / "api.json"


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = load_file(path, what="the API settings", max_bytes=64 * 1024)
    except NotFound:
        return {}
    except BadInput:
        doc = None
    if not isinstance(doc, dict):
        raise FileFormatError(
            f"{path} is not an API settings file; delete it and start `mpc serve --port N` again",
            field="port",
        )
    return doc


def remembered_port() -> int:
    path = settings_path()
    port = _read(path).get("port", DEFAULT_PORT)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port <= 65535:
        raise FileFormatError(f"{path}: port must be 1..65535", field="port")
    return port


def remember_port(port: int) -> None:
    path = settings_path()
    doc = _read(path)
    if doc.get("port") == port:
        return
    doc["port"] = port
    write_atomic(path, (json.dumps(doc, indent=2) + "\n").encode(), force=True)
