"""A small JSON file of remembered start options (today: a port), for the co-signer
(``MPC_HOME/cosigner/config.json``) and ``mpc serve`` (``MPC_HOME/api.json``).

Read through the one bounded JSON loader; a file that is not a JSON object is an error that
says to delete it and how to set the option again. Written atomically, and only when it changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mpcwallet.errors import BadInput, FileFormatError, NotFound
from mpcwallet.jsonio import load_file
from mpcwallet.storage.files import write_atomic


def read_settings(path: Path, *, what: str, fix: str, field: str) -> dict[str, Any]:
    """The settings in ``path`` ({} if there is none); ``what`` names the file in messages
    ("the co-signer settings") and ``fix`` says how to set the option again."""
    try:
        doc = load_file(path, what=what, max_bytes=64 * 1024)
    except NotFound:
        return {}
    except BadInput:
        doc = None
    if not isinstance(doc, dict):
        raise FileFormatError(f"{path} is not valid as {what}; delete it and {fix}", field=field)
    return doc


def port_of(doc: dict[str, Any], path: Path) -> int | None:
    """The remembered port, or None; a value that is not a TCP port names the file."""
    port = doc.get("port")
    if port is None:
        return None
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port <= 65535:
        raise FileFormatError(f"{path}: port must be 1..65535", field="port")
    return port


def remember(path: Path, doc: dict[str, Any], **changes: Any) -> None:
    """Write ``doc`` with ``changes`` applied, unless nothing changes."""
    if all(doc.get(k) == v for k, v in changes.items()):
        return
    write_atomic(path, (json.dumps({**doc, **changes}, indent=2) + "\n").encode(), force=True)
