"""The share passphrase in the OS secret store (the PRD's "OS keyring where available").

Opt-in per key: `mpc key remember` stores a key's share passphrase with the ``keyring``
package (macOS Keychain, Windows Credential Locker, the Secret Service or KWallet on Linux,
or whatever ``PYTHON_KEYRING_BACKEND`` names) and lists the key in ``MPC_HOME/os-keyring.json``
(key ids and backend names only, never a secret), so commands ask the OS store only for keys
that were remembered (and ``keyring`` is not imported otherwise). `mpc key forget` removes both.
A machine without a backend (headless, no D-Bus session) is told so in one line.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from mpcwallet.errors import KeyringUnavailable, NotFound, TamperedFile

SERVICE = "mpcwallet share passphrase"


def _index_file() -> Path:
    from mpcwallet.config import mpc_home

    return mpc_home() / "os-keyring.json"


def _index() -> dict[str, Any]:
    path = _index_file()
    if not path.exists():
        return {}
    from mpcwallet.jsonio import load_file

    data = load_file(path, what="OS keyring index", max_bytes=1024 * 1024, field="os_keyring")
    if not isinstance(data, dict):
        raise TamperedFile(f"{path}: expected a JSON object")
    return data


def _write_index(data: dict[str, Any]) -> None:
    from mpcwallet.storage.files import write_atomic

    path = _index_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode(), force=True)


def backend() -> Any:
    """The OS keyring backend, or :class:`KeyringUnavailable` (one line) when there is none."""
    import keyring
    from keyring.backends import fail

    found = keyring.get_keyring()
    if isinstance(found, fail.Keyring):
        raise KeyringUnavailable(
            "no OS keyring on this machine (the keyring package found no backend: headless, "
            "or no Secret Service/KWallet session); keep using MPC_PASSPHRASE, "
            "--passphrase-file or the prompt",
            field="keyring",
        )
    return found


def backend_name(found: Any) -> str:
    cls = type(found)
    return f"{cls.__module__}.{cls.__qualname__}"


def _key_id(share: Path) -> str:
    from mpcwallet.storage.store import load_header

    key_id = load_header(share).get("key_id")
    if not isinstance(key_id, str) or not key_id:
        raise TamperedFile(f"{share}: the header has no key id")
    return key_id


def remember(share: Path, passphrase: str) -> dict[str, Any]:
    """Store ``passphrase`` (already checked against ``share``) for this key."""
    found = backend()
    key_id = _key_id(share)
    found.set_password(SERVICE, key_id, passphrase)
    name = backend_name(found)
    index = _index()
    index[key_id] = {"backend": name, "share": str(share), "remembered_at": int(time.time())}
    _write_index(index)
    return {"key_id": key_id, "share": str(share), "backend": name, "remembered": True}


def forget(share: Path) -> dict[str, Any]:
    """Remove this key's passphrase from the OS keyring (and from the index)."""
    key_id = _key_id(share)
    index = _index()
    if key_id not in index:
        raise NotFound(
            f"{share}: its passphrase is not remembered in the OS keyring (see `mpc key remember`)",
            field="key",
        )
    found = backend()
    import keyring.errors

    try:
        found.delete_password(SERVICE, key_id)
    except keyring.errors.PasswordDeleteError:
        pass  # gone from the OS store already; the index entry goes too
    del index[key_id]
    _write_index(index)
    return {
        "key_id": key_id,
        "share": str(share),
        "backend": backend_name(found),
        "forgotten": True,
    }


def recall(share: Path) -> tuple[str, str] | None:
    """``(passphrase, backend name)`` when this key was remembered and the store has it."""
    try:
        key_id = _key_id(share)
    except Exception:  # noqa: BLE001 - an unreadable share is reported by whoever opens it
        return None
    if key_id not in _index():
        return None
    found = backend()
    value = found.get_password(SERVICE, key_id)
    if not value:
        return None
    return value, backend_name(found)
