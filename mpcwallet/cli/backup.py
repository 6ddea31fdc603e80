"""``mpc backup export|import|verify``: a share re-encrypted under a separate backup passphrase.

The work (what a backup is, every refusal, the order passphrases are needed in) is in
:mod:`mpcwallet.wallet.backups`; this module parses, prompts and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from mpcwallet.cli import options
from mpcwallet.cli.output import out
from mpcwallet.cli.passphrase import get_passphrase

_In = Annotated[Path, typer.Option("--in", help="Backup file to read.", show_default=False)]
_BackupPassFile = Annotated[
    Path | None,
    typer.Option(
        "--backup-passphrase-file",
        help="File with the backup passphrase (else MPC_BACKUP_PASSPHRASE).",
    ),
]


def _lines(*lines: str) -> Any:
    def draw(console: Console) -> None:
        for line in lines:
            console.print(line, markup=False)

    return draw


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
    from mpcwallet.cli.frontend import CliUi
    from mpcwallet.cli.home import resolve_share
    from mpcwallet.wallet import backups

    data = backups.export_backup(
        resolve_share(share, key),
        out_path,
        share_passphrase=lambda: get_passphrase(
            "share", passphrase_file=passphrase_file, confirm=False
        ),
        backup_passphrase=lambda: get_passphrase(
            "backup", passphrase_file=backup_passphrase_file, confirm=True
        ),
        force=force,
        ui=CliUi(),
    )
    out().success(
        data,
        _lines(
            f"Backup of key {data['key_id']} ({data['address']}) written to {out_path}.",
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
    from mpcwallet.cli.frontend import CliUi
    from mpcwallet.cli.home import tell_home
    from mpcwallet.wallet import backups

    tell_home()
    data = backups.import_backup(
        in_path,
        out_path,
        backup_passphrase=lambda: get_passphrase(
            "backup", passphrase_file=backup_passphrase_file, confirm=False
        ),
        share_passphrase=lambda: get_passphrase(
            "share", passphrase_file=passphrase_file, confirm=True
        ),
        force=force,
        ui=CliUi(),
    )
    out().success(
        data,
        _lines(
            f"Key {data['key_id']} ({data['address']}) restored to {data['path']}.",
        ),
    )


def verify_backup(
    in_path: _In,
    backup_passphrase_file: _BackupPassFile = None,
) -> None:
    """Decrypt a backup and check it: structure, AEAD, body, public key (if its engine loads),
    generation (exit 11, stale_share, when the key was refreshed after the backup)."""
    from mpcwallet.wallet import backups

    data = backups.verify_backup(
        in_path,
        backup_passphrase=lambda: get_passphrase(
            "backup", passphrase_file=backup_passphrase_file, confirm=False
        ),
    )
    checks = data["checks"]
    out().success(
        data,
        _lines(
            f"Backup {in_path} of key {data['key_id']} ({data['address']}), "
            f"generation {data['generation']}, is sound.",
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
