"""``mpc backup export|import|verify``: a share re-encrypted under a separate backup passphrase.

A backup is a share envelope whose header carries ``"purpose": "backup"`` and
``"backed_up_at"``, encrypted with the stronger :data:`BACKUP_KDF`. Output never shows the body.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from mpcwallet.cli import options
from mpcwallet.cli.output import out
from mpcwallet.cli.passphrase import get_passphrase
from mpcwallet.config import default_share_path
from mpcwallet.errors import (
    AlreadyExists,
    BadInput,
    EngineUnavailable,
    FileFormatError,
    InconsistentShare,
    MpcError,
)
from mpcwallet.storage.body import ShareBody
from mpcwallet.storage.envelope import BACKUP_KDF, SHARE_KDF, KdfParams
from mpcwallet.storage.store import load_header, load_share, save_share

BACKUP_PURPOSE = "backup"
_BACKUP_ONLY_FIELDS = ("purpose", "backed_up_at")

_In = Annotated[Path, typer.Option("--in", help="Backup file to read.", show_default=False)]
_BackupPassFile = Annotated[
    Path | None,
    typer.Option(
        "--backup-passphrase-file",
        help="File with the backup passphrase (else MPC_BACKUP_PASSPHRASE).",
    ),
]


def _refuse_existing(path: Path, force: bool) -> None:
    """Fail before any prompt or Argon2 run; the atomic write checks again."""
    if path.is_dir():
        raise BadInput(f"{path} is a directory; give a file name for --out", field="out")
    if not force and (path.exists() or path.is_symlink()):
        raise AlreadyExists(f"{path} already exists; pass --force to overwrite it", field="out")


def _refuse_share_overwrite(path: Path) -> None:
    """An existing share is never replaced by an import, --force or not."""
    if not path.exists():
        return
    try:
        header = load_header(path)
    except MpcError:
        return  # not a share: --force decides
    if _is_backup(header):
        return  # replacing a backup file is what --force is for
    from mpcwallet.cli.keygen import refuse_existing_share

    refuse_existing_share(path, "backup import", "--out")


def _refuse_stale_backup(path: Path, header: dict[str, Any], what: str = "backup") -> None:
    """A share or backup older than the co-signer's generation of its key can never sign."""
    from mpcwallet.lifecycle.generation import generation_of
    from mpcwallet.lifecycle.refresh import cosigner_generation, stale_error
    from mpcwallet.session.client import resolve_endpoint

    key_id, engine = header.get("key_id"), header.get("engine")
    if not isinstance(key_id, str) or not isinstance(engine, str):
        return
    mine = generation_of(header, where=f"{path}'s header")
    try:
        theirs = cosigner_generation(resolve_endpoint(), key_id, engine)
    except MpcError as exc:
        # Cannot ask (co-signer down, never started here, key unknown): restoring is still
        # safe, because a stale share never signs; `mpc keys` / `mpc sign` will say so.
        out().warn(f"could not compare the {what}'s generation with the co-signer's: {exc.message}")
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


def _lines(*lines: str) -> Any:
    def draw(console: Console) -> None:
        for line in lines:
            console.print(line, markup=False)

    return draw


def _is_backup(header: dict[str, Any]) -> bool:
    return header.get("purpose") == BACKUP_PURPOSE


def _refuse_cosigner_backup(path: Path, header: dict[str, Any]) -> None:
    if header.get("kind") == "cosigner-backup":
        raise BadInput(
            f"{path} is a co-signer backup; use `mpc cosigner backup import|verify --in {path}`",
            field="in",
        )


def export_backup(
    out_path: Annotated[
        Path, typer.Option("--out", help="Backup file to write (mode 0600).", show_default=False)
    ],
    share: options.Share = None,
    key: options.Key = None,
    force: options.ForceOut = False,
    passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--passphrase-file", help="File with the share passphrase (else MPC_PASSPHRASE)."
        ),
    ] = None,
    backup_passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--backup-passphrase-file",
            help="File with the new backup passphrase (else MPC_BACKUP_PASSPHRASE).",
        ),
    ] = None,
) -> None:
    """Re-encrypt a share under a separate backup passphrase (stronger Argon2id)."""
    from mpcwallet.lifecycle.names import resolve_share

    share_path = resolve_share(share, key)
    _refuse_same(share_path, out_path)
    _refuse_share_overwrite(out_path)
    _refuse_existing(out_path, force)
    share_header = load_header(share_path)
    if _is_backup(share_header):
        raise BadInput(
            f"{share_path} is already a backup; restore it with `mpc backup import`",
            field="share",
        )
    _refuse_stale_backup(share_path, share_header, what="share")
    share_pw = get_passphrase("share", passphrase_file=passphrase_file, confirm=False)
    header, body = load_share(share_path, share_pw)
    backup_pw = get_passphrase("backup", passphrase_file=backup_passphrase_file, confirm=True)
    if backup_pw == share_pw:
        raise BadInput(
            "the backup passphrase must differ from the share passphrase", field="backup_passphrase"
        )
    backup_header = {
        **header,
        "purpose": BACKUP_PURPOSE,
        "backed_up_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    save_share(out_path, body, backup_header, backup_pw, params=BACKUP_KDF, force=force)
    data = {"path": str(out_path), "share": str(share_path), **_summary(header)}
    data["kdf"] = _kdf(BACKUP_KDF)
    out().success(
        data,
        _lines(
            f"Backup of key {header.get('key_id')} ({header.get('address')}) "
            f"written to {out_path}.",
            "Keep it and its passphrase apart; either alone cannot restore the share.",
        ),
    )


def import_backup(
    in_path: _In,
    out_path: Annotated[
        Path | None,
        typer.Option("--out", help="Share file to write (default: MPC_HOME/shares/default.enc)."),
    ] = None,
    force: options.ForceOut = False,
    passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--passphrase-file", help="File with the new share passphrase (else MPC_PASSPHRASE)."
        ),
    ] = None,
    backup_passphrase_file: _BackupPassFile = None,
) -> None:
    """Restore a share from a backup, encrypted under a share passphrase.

    Refused when the backup is older than the key's generation at the co-signer (stale), and
    over an existing share even with --force (retire it first with `mpc key retire`).
    """
    share_path = out_path or default_share_path()
    _refuse_same(in_path, share_path)
    _refuse_share_overwrite(share_path)
    _refuse_existing(share_path, force)
    backup_header = load_header(in_path, what="backup file")
    _refuse_cosigner_backup(in_path, backup_header)
    if not _is_backup(backup_header):
        raise BadInput(
            f"{in_path} is a share, not a backup; back it up with `mpc backup export`",
            field="in",
        )
    _refuse_stale_backup(in_path, backup_header)
    backup_pw = get_passphrase("backup", passphrase_file=backup_passphrase_file, confirm=False)
    header, body = load_share(in_path, backup_pw, what="backup file")
    share_pw = get_passphrase("share", passphrase_file=passphrase_file, confirm=True)
    share_header = {k: v for k, v in header.items() if k not in _BACKUP_ONLY_FIELDS}
    save_share(share_path, body, share_header, share_pw, params=SHARE_KDF, force=force)
    data = {"path": str(share_path), "backup": str(in_path), **_summary(share_header)}
    out().success(
        data,
        _lines(
            f"Key {header.get('key_id')} ({header.get('address')}) restored to {share_path}.",
        ),
    )


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


def verify_backup(
    in_path: _In,
    backup_passphrase_file: _BackupPassFile = None,
) -> None:
    """Decrypt a backup and check it: structure, AEAD, body, public key (if its engine loads)."""
    header = load_header(in_path, what="backup file")
    _refuse_cosigner_backup(in_path, header)
    if not _is_backup(header):
        raise FileFormatError(f"{in_path} is a share, not a backup", field="in")
    backup_pw = get_passphrase("backup", passphrase_file=backup_passphrase_file, confirm=False)
    header, body = load_share(in_path, backup_pw, what="backup file")
    checks = {
        "structure": "passed",
        "aead": "passed",
        "body": "passed",
        "public_key": _public_key_check(header, body, in_path),
    }
    data = {"path": str(in_path), **_summary(header), "checks": checks}
    out().success(
        data,
        _lines(
            f"Backup {in_path} of key {header.get('key_id')} ({header.get('address')}), "
            f"generation {header.get('generation', 0)}, is sound.",
            *(f"  {name}: {result}" for name, result in checks.items()),
        ),
    )


def register(app: typer.Typer) -> None:
    backup = typer.Typer(
        help="Export, import and verify encrypted share backups.", no_args_is_help=True
    )
    backup.command("export")(export_backup)
    backup.command("import")(import_backup)
    backup.command("verify")(verify_backup)
    app.add_typer(backup, name="backup")
