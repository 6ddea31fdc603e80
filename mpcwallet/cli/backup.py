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


def _refuse_same(a: Path, b: Path) -> None:
    if a.resolve() == b.resolve():
        raise BadInput(
            f"input and output are the same file ({a}); choose another --out", field="out"
        )


def _summary(header: dict[str, Any]) -> dict[str, Any]:
    return {key: header.get(key) for key in ("key_id", "address", "engine", "role")}


def _kdf(params: KdfParams) -> dict[str, int]:
    return {"m_kib": params.m_kib, "t": params.t, "p": params.p}


def _lines(*lines: str) -> Any:
    def draw(console: Console) -> None:
        for line in lines:
            console.print(line, markup=False)

    return draw


def _is_backup(header: dict[str, Any]) -> bool:
    return header.get("purpose") == BACKUP_PURPOSE


def export_backup(
    out_path: Annotated[
        Path, typer.Option("--out", help="Backup file to write (mode 0600).", show_default=False)
    ],
    share: options.Share = None,
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
    share_path = share or default_share_path()
    _refuse_same(share_path, out_path)
    _refuse_existing(out_path, force)
    if _is_backup(load_header(share_path)):
        raise BadInput(
            f"{share_path} is already a backup; restore it with `mpc backup import`",
            field="share",
        )
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
    """Restore a share from a backup, encrypted under a share passphrase."""
    share_path = out_path or default_share_path()
    _refuse_same(in_path, share_path)
    _refuse_existing(share_path, force)
    if not _is_backup(load_header(in_path, what="backup file")):
        raise BadInput(
            f"{in_path} is a share, not a backup; back it up with `mpc backup export`",
            field="in",
        )
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
    if not _is_backup(load_header(in_path, what="backup file")):
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
            f"Backup {in_path} of key {header.get('key_id')} ({header.get('address')}) is sound.",
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
