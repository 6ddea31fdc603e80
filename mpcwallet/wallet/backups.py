"""Client share backups: export, import, verify.

A backup is a share envelope whose header carries ``"purpose": "backup"`` and
``"backed_up_at"``, encrypted with the stronger :data:`BACKUP_KDF`. Results never carry the
body.

Passphrases are plain strings, or callables a front end answers when the passphrase is needed:
every refusal that needs no passphrase comes first, and the second passphrase is asked only once
the first one has opened its file (the CLI prompts in that order).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpcwallet.errors import (
    AlreadyExists,
    BadInput,
    EngineUnavailable,
    FileFormatError,
    InconsistentShare,
    MpcError,
)
from mpcwallet.storage.envelope import BACKUP_KDF, SHARE_KDF, KdfParams
from mpcwallet.storage.store import load_header, load_share, save_share

if TYPE_CHECKING:
    from mpcwallet.storage.body import ShareBody
    from mpcwallet.wallet.ports import Ui

BACKUP_PURPOSE = "backup"
_BACKUP_ONLY_FIELDS = ("purpose", "backed_up_at")

# A passphrase given, or asked for when it is needed.
Secret = str | Callable[[], str]


def _reveal(secret: Secret) -> str:
    return secret if isinstance(secret, str) else secret()


def refuse_existing_out(path: Path, force: bool) -> None:
    """Fail before any prompt or Argon2 run; the atomic write checks again."""
    if path.is_dir():
        raise BadInput(f"{path} is a directory; give a file name for --out", field="out")
    if not force and (path.exists() or path.is_symlink()):
        raise AlreadyExists(f"{path} already exists; pass --force to overwrite it", field="out")


def refuse_share_overwrite(path: Path) -> None:
    """An existing share is never replaced by an import, --force or not."""
    if not path.exists():
        return
    try:
        header = load_header(path)
    except MpcError:
        return  # not a share: --force decides
    if _is_backup(header):
        return  # replacing a backup file is what --force is for
    from mpcwallet.wallet.keygen import refuse_existing_share

    refuse_existing_share(path, "backup import", "--out")


def _refuse_stale_backup(
    path: Path, header: dict[str, Any], ui: Ui | None, what: str = "backup"
) -> None:
    """A share or backup older than the co-signer's generation of its key can never sign."""
    from mpcwallet.lifecycle.refresh import cosigner_generation, stale_error
    from mpcwallet.session.client import resolve_endpoint
    from mpcwallet.storage.generation import generation_of

    key_id, engine = header.get("key_id"), header.get("engine")
    if not isinstance(key_id, str) or not isinstance(engine, str):
        return
    mine = generation_of(header, where=f"{path}'s header")
    try:
        theirs = cosigner_generation(resolve_endpoint(), key_id, engine)
    except MpcError as exc:
        # Cannot ask (co-signer down, never started here, key unknown): restoring is still
        # safe, because a stale share never signs; `mpc keys` / `mpc sign` will say so.
        if ui is not None:
            ui.warn(
                f"could not compare the {what}'s generation with the co-signer's: {exc.message}"
            )
        return
    if theirs > mine:
        raise stale_error(path, mine, theirs, what=what)


def _refuse_same(a: Path, b: Path) -> None:
    if a.resolve() == b.resolve():
        raise BadInput(
            f"input and output are the same file ({a}); choose another --out", field="out"
        )


def _summary(header: dict[str, Any]) -> dict[str, Any]:
    summary = {key: header.get(key) for key in ("key_id", "address", "engine", "role")}
    return {**summary, "generation": header.get("generation", 0)}


def _kdf(params: KdfParams) -> dict[str, int]:
    return {"m_kib": params.m_kib, "t": params.t, "p": params.p}


def _is_backup(header: dict[str, Any]) -> bool:
    return header.get("purpose") == BACKUP_PURPOSE


def _refuse_cosigner_backup(path: Path, header: dict[str, Any]) -> None:
    if header.get("kind") == "cosigner-backup":
        raise BadInput(
            f"{path} is a co-signer backup; use `mpc cosigner backup import|verify --in {path}`",
            field="in",
        )


def export_backup(
    share: Path,
    out: Path,
    *,
    share_passphrase: Secret,
    backup_passphrase: Secret,
    force: bool = False,
    ui: Ui | None = None,
) -> dict[str, Any]:
    """Re-encrypt the share at ``share`` under a separate backup passphrase (stronger
    Argon2id) into ``out``. ``ui`` hears that the generation could not be compared."""
    _refuse_same(share, out)
    refuse_share_overwrite(out)
    refuse_existing_out(out, force)
    share_header = load_header(share)
    if _is_backup(share_header):
        raise BadInput(
            f"{share} is already a backup; restore it with `mpc backup import`",
            field="share",
        )
    _refuse_stale_backup(share, share_header, ui, what="share")
    share_pw = _reveal(share_passphrase)
    header, body = load_share(share, share_pw)
    backup_pw = _reveal(backup_passphrase)
    if backup_pw == share_pw:
        raise BadInput(
            "the backup passphrase must differ from the share passphrase", field="backup_passphrase"
        )
    backup_header = {
        **header,
        "purpose": BACKUP_PURPOSE,
        "backed_up_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    save_share(out, body, backup_header, backup_pw, params=BACKUP_KDF, force=force)
    data = {"path": str(out), "share": str(share), **_summary(header)}
    data["kdf"] = _kdf(BACKUP_KDF)
    return data


def import_backup(
    backup: Path,
    out: Path | None = None,
    *,
    backup_passphrase: Secret,
    share_passphrase: Secret,
    force: bool = False,
    ui: Ui | None = None,
) -> dict[str, Any]:
    """Restore a share from ``backup`` to ``out`` (default MPC_HOME/shares/default.enc),
    encrypted under ``share_passphrase``.

    Refused when the backup is older than the key's generation at the co-signer (stale), and
    over an existing share even with ``force`` (retire it first with `mpc key retire`)."""
    from mpcwallet.config import default_share_path

    share_path = out or default_share_path()
    _refuse_same(backup, share_path)
    refuse_share_overwrite(share_path)
    refuse_existing_out(share_path, force)
    backup_header = load_header(backup, what="backup file")
    _refuse_cosigner_backup(backup, backup_header)
    if not _is_backup(backup_header):
        raise BadInput(
            f"{backup} is a share, not a backup; back it up with `mpc backup export`",
            field="in",
        )
    _refuse_stale_backup(backup, backup_header, ui)
    header, body = load_share(backup, _reveal(backup_passphrase), what="backup file")
    share_pw = _reveal(share_passphrase)
    share_header = {k: v for k, v in header.items() if k not in _BACKUP_ONLY_FIELDS}
    save_share(share_path, body, share_header, share_pw, params=SHARE_KDF, force=force)
    return {"path": str(share_path), "backup": str(backup), **_summary(share_header)}


def _public_key_check(header: dict[str, Any], body: ShareBody, path: Path) -> str:
    """Compare the key blob's public key with the header's, if the header's engine loads."""
    engine_name = header.get("engine")
    expected = header.get("public_key")
    if not isinstance(engine_name, str) or not isinstance(expected, str):
        return "skipped: the header names no engine or public key"
    from mpcwallet.engine import get_engine

    try:
        engine = get_engine(engine_name)
    except (EngineUnavailable, BadInput):
        return f"skipped: engine {engine_name!r} is not available here"
    try:
        actual = engine.public_key(body.key_blob).hex()
    except (MpcError, ValueError):
        raise InconsistentShare(
            f"{path}: the key blob is not a valid {engine_name} key blob"
        ) from None
    if actual != expected.lower().removeprefix("0x"):
        raise InconsistentShare(f"{path}: the key blob does not match the header's public key")
    return "passed"


def verify_backup(backup: Path, *, backup_passphrase: Secret) -> dict[str, Any]:
    """Decrypt a backup and check it: structure, AEAD, body, public key (if its engine loads),
    generation against the co-signer's (:class:`StaleShare` when the key was refreshed since).

    The result's ``checks`` maps each check to ``"passed"`` or why it was skipped."""
    header = load_header(backup, what="backup file")
    _refuse_cosigner_backup(backup, header)
    if not _is_backup(header):
        raise FileFormatError(f"{backup} is a share, not a backup", field="in")
    header, body = load_share(backup, _reveal(backup_passphrase), what="backup file")
    checks = {
        "structure": "passed",
        "aead": "passed",
        "body": "passed",
        "public_key": _public_key_check(header, body, backup),
        "generation": _generation_check(backup, header),
    }
    return {"path": str(backup), **_summary(header), "checks": checks}


def _generation_check(path: Path, header: dict[str, Any]) -> str:
    """``current`` when the co-signer holds the backup's generation; :class:`StaleShare` when
    the key has moved on (a stale backup is not sound: import refuses it); else why not known."""
    from mpcwallet.lifecycle.refresh import cosigner_generation, stale_error
    from mpcwallet.session.client import resolve_endpoint
    from mpcwallet.storage.generation import generation_of

    key_id, engine = header.get("key_id"), header.get("engine")
    if not isinstance(key_id, str) or not isinstance(engine, str):
        return "skipped: the header names no key id or engine"
    mine = generation_of(header, where=f"{path}'s header")
    try:
        theirs = cosigner_generation(resolve_endpoint(), key_id, engine)
    except MpcError as exc:
        return f"skipped: the co-signer could not say ({exc.code})"
    if theirs > mine:
        raise stale_error(path, mine, theirs, what="backup")
    if theirs < mine:
        return f"newer than the co-signer's generation {theirs} (restore the co-signer)"
    return "current"
