"""The keys this home holds and their state: the listing (`mpc keys`), whether a key may sign
(quarantine after a protocol violation), lifting a quarantine, and retiring a key.

Quarantine records are kept by :mod:`mpcwallet.lifecycle.quarantine`, retirement by
:mod:`mpcwallet.lifecycle.retire`, the listing's rows by :mod:`mpcwallet.lifecycle.listing`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpcwallet.errors import KeyQuarantined

if TYPE_CHECKING:
    from mpcwallet.wallet.ports import Ui


def list_keys(*, passphrase: str | None = None, ui: Ui | None = None) -> list[dict[str, Any]]:
    """One row per share in MPC_HOME/shares: name, address, engine, generation, what the
    co-signer holds, quarantine, refresh state.

    An interrupted refresh is settled on the way (``passphrase`` lets a new share prove itself);
    each settlement is in its row's ``settled`` and told through ``ui.warn``."""
    from mpcwallet.lifecycle.listing import list_keys as rows_of
    from mpcwallet.session.client import resolve_endpoint

    rows = rows_of(resolve_endpoint(), passphrase)
    if ui is not None:
        for row in rows:
            if "settled" in row:
                ui.warn(f"{row['name']}: {row['settled']['message']}")
    return rows


def _quarantine(path: Path) -> tuple[str | None, dict[str, Any] | None]:
    from mpcwallet.lifecycle.quarantine import read_quarantine
    from mpcwallet.storage.store import load_header

    header = load_header(path)
    value = header.get("key_id")
    key_id = value if isinstance(value, str) else None
    return key_id, read_quarantine(path, key_id)


def quarantine_record(path: Path) -> dict[str, Any] | None:
    """The record quarantining the share at ``path`` (or its key id), None if it may sign."""
    return _quarantine(path)[1]


def key_status(path: Path) -> dict[str, Any]:
    """``{share, key_id, address, quarantined: False}`` when signing with the share at
    ``path`` is allowed; :class:`KeyQuarantined` (with how to lift it) when it is not."""
    from mpcwallet.storage.store import load_header

    header = load_header(path)
    key_id, record = _quarantine(path)
    if record is not None:
        raise KeyQuarantined(
            f"key {key_id} ({path}) is quarantined since {record.get('quarantined_at', '?')} "
            f"({record.get('error_code', '?')}): signing with it is refused. Lift with: "
            f"mpc key unquarantine --share {path} --yes-i-understand",
            field="share",
        )
    return {
        "share": str(path),
        "key_id": key_id,
        "address": header.get("address"),
        "quarantined": False,
    }


def unquarantine(path: Path) -> dict[str, Any]:
    """Allow signing again with the key at ``path``. The front end has confirmed already (a
    co-signer that fails on purpose can learn bits of the share from repeated attempts).

    ``lifted`` says whether there was a quarantine; ``was`` is its record."""
    from mpcwallet.lifecycle.quarantine import lift_quarantine

    key_id, record = _quarantine(path)
    if record is None:
        return {"share": str(path), "quarantined": False, "lifted": False}
    lift_quarantine(path, key_id)
    return {"share": str(path), "quarantined": False, "lifted": True, "was": record}


def retire(path: Path) -> dict[str, Any]:
    """Move the share at ``path`` to MPC_HOME/retired/ (never deleted); the result names the
    address it held and ``retired_to``, so funds can still be moved with it."""
    from mpcwallet.lifecycle.retire import retire as run

    return run(path)
