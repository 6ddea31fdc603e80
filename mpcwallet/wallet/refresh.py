"""Refresh: new shares on both sides, same key and address.

The flow and its crash safety live in :mod:`mpcwallet.lifecycle.refresh`; this is the use case
around it (quarantine first, then the passphrase, then the protocol).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mpcwallet.lifecycle.refresh import Settled
    from mpcwallet.wallet.ports import Keyring, Ui


def refresh(path: Path, *, keys: Keyring, ui: Ui) -> dict[str, Any]:
    """Re-randomise both shares of the key at ``path``; the new pair signs a self-test digest
    before the old share is replaced.

    An interrupted earlier refresh settled on the way is told through ``ui.warn`` and listed
    in the result's ``settled``."""
    from mpcwallet.lifecycle.quarantine import ensure_not_quarantined
    from mpcwallet.lifecycle.refresh import refresh as run
    from mpcwallet.session.client import resolve_endpoint

    ensure_not_quarantined(path)
    passphrase = keys.passphrase(path)
    notes: list[str] = []

    def on_settled(settled: Settled) -> None:
        notes.append(settled.message)
        ui.warn(settled.message)

    data = run(path, resolve_endpoint(), passphrase, on_settled=on_settled)
    del passphrase
    if notes:
        data["settled"] = notes
    return data
