"""`mpc keys`: what the client holds, and what the co-signer says about each key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mpcwallet.errors import MpcError, PeerUnreachable
from mpcwallet.lifecycle.names import key_name, list_shares
from mpcwallet.lifecycle.quarantine import read_quarantine
from mpcwallet.storage.generation import generation_of


def describe_key(path: Path, endpoint: str, passphrase: str | None) -> dict[str, Any]:
    """One row; settles an interrupted refresh first (see :func:`settle_for_use`)."""
    from mpcwallet.accounts import share_summary
    from mpcwallet.lifecycle.refresh import cosigner_generation, pending_files, settle_for_use
    from mpcwallet.storage.store import load_header

    row: dict[str, Any] = {"name": key_name(path), "share": str(path)}
    try:
        summary = share_summary(path)
        header = load_header(path)
        generation = generation_of(header)
    except MpcError as exc:
        row.update(error=exc.code, message=exc.message)
        return row
    key_id = str(summary["key_id"])
    row.update(
        key_id=key_id,
        address=summary["address"],
        engine=summary["engine"],
        generation=generation,
    )
    try:
        settled = settle_for_use(path, endpoint, passphrase)
        if settled is not None:
            row["settled"] = {"outcome": settled.outcome, "message": settled.message}
            generation = generation_of(load_header(path))
            row["generation"] = generation
        theirs = cosigner_generation(endpoint, key_id, str(summary["engine"]))
        row["cosigner"] = "holds" if theirs == generation else "holds_other_generation"
        row["cosigner_generation"] = theirs
        if theirs > generation:
            row["stale"] = True
    except PeerUnreachable:
        row["cosigner"] = "unreachable"
    except MpcError as exc:
        row["cosigner"] = "not_held" if exc.code == "not_found" else "error"
        row["cosigner_message"] = exc.message
    record = read_quarantine(path, key_id)
    row["quarantined"] = record is not None
    if record is not None:
        row["quarantine"] = {k: record.get(k) for k in ("quarantined_at", "error_code")}
    row["refresh_pending"] = bool(pending_files(path))
    return row


def list_keys(endpoint: str, passphrase: str | None) -> list[dict[str, Any]]:
    return [describe_key(path, endpoint, passphrase) for path in list_shares()]
