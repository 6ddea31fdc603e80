"""Remembered start options of a co-signer home (``MPC_HOME/cosigner/config.json``).

A port given with ``mpc cosigner start --port N`` is remembered, so later starts (including the
automatic start by ``mpc keygen``) listen there again; without one, the daemon tries the default
port and falls back to a free one, recording the port it got in its state file.
"""

from __future__ import annotations

import json
from typing import Any

from mpcwallet.cosigner.paths import CosignerPaths
from mpcwallet.errors import BadInput, FileFormatError, NotFound
from mpcwallet.jsonio import load_file
from mpcwallet.storage.files import write_atomic


def _read(paths: CosignerPaths) -> dict[str, Any]:
    try:
        doc = load_file(paths.settings_file, what="the co-signer settings", max_bytes=64 * 1024)
    except NotFound:
        return {}
    except BadInput:
        doc = None
    if not isinstance(doc, dict):
        raise FileFormatError(
            f"{paths.settings_file} is not a co-signer settings file; delete it and start the "
            "co-signer with --port again",
            field="config",
        )
    return doc


def remembered_port(paths: CosignerPaths) -> int | None:
    port = _read(paths).get("port")
    if port is None:
        return None
    if not isinstance(port, int) or not 0 < port <= 65535:
        raise FileFormatError(f"{paths.settings_file}: port must be 1..65535", field="port")
    return port


def remember_port(paths: CosignerPaths, port: int) -> None:
    doc = _read(paths)
    if doc.get("port") == port:
        return
    doc["port"] = port
    write_atomic(paths.settings_file, (json.dumps(doc, indent=2) + "\n").encode(), force=True)
