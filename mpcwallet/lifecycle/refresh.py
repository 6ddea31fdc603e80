"""`mpc refresh` and settling an interrupted one (client side).

Steps, under the key's lock (:mod:`mpcwallet.lifecycle.locks`):

1. settle any refresh a killed process left behind (below);
2. ask the co-signer (pairing session) for the key's generation; a lower one here is stale;
3. refresh with the co-signer: the new share goes to ``<share>.<random>.refresh-pending`` (this
   session's own file) before ``commit``; the co-signer commits only if it still holds the
   generation it loaded;
4. the new pair signs the self-test digest (:mod:`mpcwallet.storage.generation`);
5. only then does the pending file replace the old share (atomic rename).

A process killed at any step leaves the old share, and maybe a pending one; the co-signer holds
exactly one generation. Settling asks which: the same as the share's, so the pending file was
never committed and is removed; one more, so the pending file is the new share, which proves
itself with the self-test and replaces the old one. Either way one working pair remains.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpcwallet.errors import (
    AuthFailed,
    MpcError,
    NotFound,
    ProtocolViolation,
    StaleShare,
)
from mpcwallet.lifecycle.quarantine import ensure_can_quarantine, quarantine_violation
from mpcwallet.storage.body import ShareBody
from mpcwallet.storage.files import publish
from mpcwallet.storage.generation import generation_of
from mpcwallet.storage.store import load_header, load_share, save_share
from mpcwallet.testhooks import pause_point

PENDING_SUFFIX = ".refresh-pending"


@dataclass
class Settled:
    outcome: str  # "completed", "rolled_back" or "needs_passphrase"
    message: str
    generation: int
    removed: list[str] = field(default_factory=list)


def pending_files(share: Path) -> list[Path]:
    return sorted(share.parent.glob(f"{share.name}.*{PENDING_SUFFIX}"))


def new_pending_path(share: Path) -> Path:
    return share.with_name(f"{share.name}.{secrets.token_hex(8)}{PENDING_SUFFIX}")


def _key_facts(header: dict[str, Any], path: Path) -> tuple[str, str, int]:
    key_id = header.get("key_id")
    engine = header.get("engine")
    if not isinstance(key_id, str) or not isinstance(engine, str):
        raise NotFound(f"{path}: the share header names no key id or engine", field="share")
    return key_id, engine, generation_of(header, where=f"{path}'s header")


def cosigner_generation(endpoint: str, key_id: str, engine: str) -> int:
    from mpcwallet.session.client import key_info

    info = key_info(endpoint, key_id, engine_name=engine)
    if not info["present"]:
        raise NotFound(
            f"the co-signer at {endpoint} does not hold key {key_id}; restore the co-signer "
            "(docs/runbooks.md, lost co-signer machine) or check MPC_HOME",
            field="key",
        )
    generation: int = info["generation"]
    return generation


def stale_error(path: Path, mine: int, theirs: int, what: str = "share") -> StaleShare:
    return StaleShare(
        f"{path} is a stale {what}: generation {mine}, but the co-signer holds generation "
        f"{theirs} (the key was refreshed since). It can never sign again. Use the current "
        "share, or a backup made after the last refresh (`mpc keys` shows generations; "
        "docs/runbooks.md, stale backup after a refresh).",
        field="share" if what == "share" else "in",
    )


def stale_cosigner(key_id: str, share: Path, mine: int, theirs: int) -> StaleShare:
    return StaleShare(
        f"the co-signer holds generation {theirs} of key {key_id}, older than {share} "
        f"(generation {mine}): it was restored from a backup made before a refresh. "
        "Restore a co-signer backup made after the last refresh (docs/runbooks.md).",
        field="key",
    )


def _selftest(endpoint: str, path: Path, header: dict[str, Any], body: ShareBody, gen: int) -> None:
    from mpcwallet.session.client import run_selftest

    key_id = header.get("key_id")
    ensure_can_quarantine(path, key_id if isinstance(key_id, str) else None)
    try:
        run_selftest(endpoint, share_header=header, body=body, generation=gen)
    except ProtocolViolation as err:
        raise quarantine_violation(
            path, err, key_id=key_id if isinstance(key_id, str) else None
        ) from None


def settle(share: Path, endpoint: str, passphrase: str | None) -> Settled | None:
    """Finish or roll back a refresh a killed process left behind (caller holds the key lock).

    None when there is nothing to settle. Pending files are removed only once the co-signer
    said which generation it holds; when it cannot answer, the error is raised and they stay.
    """
    pendings = pending_files(share)
    if not pendings:
        return None
    header = load_header(share)
    key_id, engine, mine = _key_facts(header, share)
    theirs = cosigner_generation(endpoint, key_id, engine)
    removed: list[str] = []

    def drop(path: Path) -> None:
        path.unlink(missing_ok=True)
        removed.append(path.name)

    if theirs == mine:
        for p in pendings:
            drop(p)
        return Settled(
            "rolled_back",
            f"an interrupted refresh of {share} had not been committed by the co-signer; the "
            f"share (generation {mine}) is unchanged and the unfinished new share was removed",
            mine,
            removed,
        )
    candidates = []
    for p in pendings:
        try:
            pg = generation_of(load_header(p), where=f"{p}'s header")
        except MpcError:
            drop(p)  # unreadable: never a usable share
            continue
        if pg == theirs == mine + 1:
            candidates.append(p)
        elif pg < theirs:
            drop(p)  # older than the co-signer's: can never sign
    if not candidates:
        if theirs > mine:
            raise stale_error(share, mine, theirs)
        return None
    if passphrase is None:
        return Settled(
            "needs_passphrase",
            f"an interrupted refresh of {share} was committed by the co-signer; give the share "
            "passphrase (MPC_PASSPHRASE) or run `mpc refresh` to finish it",
            mine,
            removed,
        )
    for p in candidates:
        new_header, new_body = load_share(p, passphrase)
        try:
            _selftest(endpoint, p, new_header, new_body, theirs)
        except AuthFailed:
            drop(p)  # another session's share: the co-signer committed a different one
            continue
        pause_point("client_settle_before_replace")
        publish(p, share, force=True)
        for other in candidates:
            if other != p and other.exists():
                drop(other)
        return Settled(
            "completed",
            f"an interrupted refresh of {share} had been committed by the co-signer; the new "
            f"share passed the self-test and replaced the old one (generation {theirs})",
            theirs,
            removed,
        )
    raise stale_error(share, mine, theirs)


def refresh(
    share: Path,
    endpoint: str,
    passphrase: str,
    *,
    on_settled: Callable[[Settled], None] | None = None,
) -> dict[str, Any]:
    """The whole flow of the module doc; returns the public facts of the new share."""
    from mpcwallet.lifecycle.locks import key_lock
    from mpcwallet.session.client import run_refresh

    header = load_header(share)
    key_id, engine, _ = _key_facts(header, share)
    with key_lock(key_id):
        settled = settle(share, endpoint, passphrase)
        if settled is not None and on_settled is not None:
            on_settled(settled)
        header, body = load_share(share, passphrase)
        key_id, engine, mine = _key_facts(header, share)
        theirs = cosigner_generation(endpoint, key_id, engine)
        if theirs > mine:
            raise stale_error(share, mine, theirs)
        if theirs < mine:
            raise stale_cosigner(key_id, share, mine, theirs)
        ensure_can_quarantine(share, key_id)  # no session unless a violation can be recorded
        pending = new_pending_path(share)

        def write_pending(new_body: ShareBody, generation: int) -> None:
            new_header = {
                **header,
                "generation": generation,
                "refreshed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            save_share(pending, new_body, new_header, passphrase)

        try:
            new_body, generation = run_refresh(
                endpoint, share_header=header, body=body, write_pending=write_pending
            )
        except MpcError as exc:
            if getattr(exc, "commit_uncertain", False) and pending.exists():
                raise type(exc)(
                    f"{exc.message}. The connection broke after the co-signer was asked to "
                    f"commit, so which share it holds is unknown; both {share} and {pending} "
                    "are kept. The next `mpc refresh`, `mpc sign` or `mpc keys` settles it.",
                    field=exc.field,
                ) from None
            pending.unlink(missing_ok=True)
            if isinstance(exc, ProtocolViolation):
                raise quarantine_violation(share, exc, key_id=key_id) from None
            raise
        except BaseException:
            pending.unlink(missing_ok=True)
            raise
        new_header = load_header(pending)
        pause_point("client_refresh_before_selftest")
        try:
            _selftest(endpoint, pending, new_header, new_body, generation)
        except MpcError as exc:
            raise type(exc)(
                f"the co-signer committed the refresh, but the self-test of the new shares "
                f"failed: {exc.message}. Both {share} and {pending} are kept; the next "
                "`mpc refresh`, `mpc sign` or `mpc keys` retries it.",
                field=exc.field,
            ) from None
        pause_point("client_refresh_before_replace")
        publish(pending, share, force=True)
    return {
        "share": str(share),
        "key_id": key_id,
        "address": header.get("address"),
        "engine": engine,
        "generation": generation,
        "previous_generation": mine,
        "self_test": "passed",
    }


def settle_for_use(share: Path, endpoint: str, passphrase: str | None) -> Settled | None:
    """Before sign and `mpc keys`: settle under the key lock if a refresh was interrupted."""
    if not pending_files(share):
        return None
    from mpcwallet.lifecycle.locks import key_lock

    header = load_header(share)
    key_id, _, _ = _key_facts(header, share)
    with key_lock(key_id):
        return settle(share, endpoint, passphrase)


def check_not_stale(share: Path, header: dict[str, Any], endpoint: str) -> None:
    """After an auth failure: :class:`StaleShare` if the co-signer holds a newer generation."""
    try:
        key_id, engine, mine = _key_facts(header, share)
        theirs = cosigner_generation(endpoint, key_id, engine)
    except MpcError:
        return  # the original error says more
    if theirs > mine:
        raise stale_error(share, mine, theirs)
    if theirs < mine:
        raise stale_cosigner(key_id, share, mine, theirs)
