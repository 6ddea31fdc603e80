"""`mpc cosigner backup ...` and `mpc cosigner keys ...`: the co-signer's own key material.

Registered on the `cosigner` group by :mod:`mpcwallet.cli.cosigner`; the work is in
:mod:`mpcwallet.cosigner.backup` and :mod:`mpcwallet.cosigner.keystore`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from mpcwallet.cli import options

_CosignerPassFile = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file", help="Co-signer passphrase file (else MPC_COSIGNER_PASSPHRASE)."
    ),
]
_BackupPassFile = Annotated[
    Path | None,
    typer.Option(
        "--backup-passphrase-file", help="Backup passphrase file (else MPC_BACKUP_PASSPHRASE)."
    ),
]


def _paths() -> Any:
    from mpcwallet.config import mpc_home
    from mpcwallet.homes.paths import CosignerPaths

    return CosignerPaths.for_home(mpc_home())


def _key_lines(keys: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"  {k['key_id']}  {k.get('address')}  {k.get('engine')}  generation {k.get('generation')}"
        for k in keys
    )


def register(group: typer.Typer) -> None:
    backup = typer.Typer(
        name="backup",
        help="Back up / restore every share the co-signer holds (under a backup passphrase).",
        no_args_is_help=True,
    )
    group.add_typer(backup)

    @backup.command("export")
    def export(
        out_path: Annotated[Path, typer.Option("--out", help="Backup file to write (0600).")],
        force: options.ForceOut = False,
        passphrase_file: _CosignerPassFile = None,
        backup_passphrase_file: _BackupPassFile = None,
    ) -> None:
        """Write all co-signer shares and its pairing token to one encrypted backup file."""
        from mpcwallet.cli.output import out
        from mpcwallet.cli.passphrase import get_passphrase
        from mpcwallet.cosigner.backup import export_backup
        from mpcwallet.errors import BadInput
        from mpcwallet.wallet.backups import refuse_existing_out, refuse_share_overwrite

        refuse_share_overwrite(out_path)
        refuse_existing_out(out_path, force)
        cosigner_pw = get_passphrase("cosigner", passphrase_file=passphrase_file, confirm=False)
        backup_pw = get_passphrase("backup", passphrase_file=backup_passphrase_file, confirm=True)
        if backup_pw == cosigner_pw:
            raise BadInput(
                "the backup passphrase must differ from the co-signer passphrase",
                field="backup_passphrase",
            )
        data = export_backup(_paths(), cosigner_pw, backup_pw, out_path, force)
        out().success(
            data,
            f"co-signer backup of {len(data['keys'])} key(s) written to {out_path}:\n"
            f"{_key_lines(data['keys'])}\nA refresh makes it stale: export again after each.",
        )

    @backup.command("import")
    def import_(
        in_path: Annotated[Path, typer.Option("--in", help="Co-signer backup to restore.")],
        expect_generation: Annotated[
            list[str] | None,
            typer.Option(
                "--expect-generation",
                help="KEY_ID=N: the key's latest generation, as the client's `mpc keys` shows "
                "it (repeat per key). Needed for keys no client share in this MPC_HOME names.",
            ),
        ] = None,
        allow_older: Annotated[
            bool,
            typer.Option(
                "--allow-older",
                help="Restore keys older than, or not checked against, their latest generation "
                "(prints each one): pre-refresh client shares sign again.",
            ),
        ] = False,
        passphrase_file: _CosignerPassFile = None,
        backup_passphrase_file: _BackupPassFile = None,
    ) -> None:
        """Restore a co-signer backup into this MPC_HOME (refused if it predates a refresh)."""
        from mpcwallet.cli.output import out
        from mpcwallet.cli.passphrase import get_passphrase
        from mpcwallet.cosigner.backup import import_backup
        from mpcwallet.cosigner.restore_check import parse_expected

        expected = parse_expected(expect_generation or [])
        paths = _paths()
        backup_pw = get_passphrase("backup", passphrase_file=backup_passphrase_file, confirm=False)
        cosigner_pw = get_passphrase(
            "cosigner", passphrase_file=passphrase_file, confirm=not paths.keyring_file.exists()
        )
        data = import_backup(
            paths, cosigner_pw, backup_pw, in_path, expected=expected, allow_older=allow_older
        )
        for key in data["unchecked"]:
            latest = key["latest"]
            how = "not checked against its latest one"
            if latest is not None:
                how = f"older than its latest one ({latest})"
            out().warn(
                f"key {key['key_id']} came back at generation {key['generation']}, {how}"
                ": client shares from before any later refresh sign again, and newer ones "
                "cannot. Refresh it now (`mpc refresh`) if a client share of this generation "
                "is the one you hold."
            )
        out().success(
            data,
            f"restored {len(data['restored'])} key(s) into {paths.root}"
            + (
                f" ({len(data['already_present'])} already present)"
                if data["already_present"]
                else ""
            )
            + f":\n{_key_lines(data['restored'])}\nStart it with `mpc cosigner start`.",
        )

    @backup.command("verify")
    def verify(
        in_path: Annotated[Path, typer.Option("--in", help="Co-signer backup to check.")],
        backup_passphrase_file: _BackupPassFile = None,
    ) -> None:
        """Decrypt a co-signer backup and check every share in it."""
        from mpcwallet.cli.output import out
        from mpcwallet.cli.passphrase import get_passphrase
        from mpcwallet.cosigner.backup import verify_backup

        backup_pw = get_passphrase("backup", passphrase_file=backup_passphrase_file, confirm=False)
        data = verify_backup(in_path, backup_pw)
        out().success(
            data,
            f"co-signer backup {in_path} is sound ({len(data['keys'])} key(s)):\n"
            + "\n".join(
                f"  {k['key_id']} generation {k['generation']}: public key {k['public_key']}"
                for k in data["keys"]
            ),
        )

    keys = typer.Typer(
        name="keys",
        help="What the co-signer holds (orphans marked); remove one.",
        invoke_without_command=True,
    )
    group.add_typer(keys)

    @keys.callback()
    def list_keys(ctx: typer.Context) -> None:
        """List the co-signer's keys; an orphan is one no client asked about since its commit."""
        if ctx.invoked_subcommand is not None:
            return
        from mpcwallet.cli.output import out
        from mpcwallet.cosigner.keystore import KeyStore

        paths = _paths()
        rows = []
        for key_id in KeyStore.list_ids(paths):
            row: dict[str, Any] = {"key_id": key_id}
            try:
                from mpcwallet.storage.store import load_header

                header = load_header(paths.share_file(key_id))
                row.update(
                    address=header.get("address"),
                    engine=header.get("engine"),
                    generation=header.get("generation", 0),
                    name=header.get("name"),
                )
            except Exception:  # noqa: BLE001 - a damaged file is listed, not fatal
                row["error"] = "unreadable header"
            row["orphan"] = paths.unconfirmed_file(key_id).exists()
            rows.append(row)
        human = (
            "\n".join(
                f"{r['key_id']}  {r.get('address')}  gen {r.get('generation')}"
                + ("  ORPHAN? (commit not confirmed by a client)" if r["orphan"] else "")
                for r in rows
            )
            or "the co-signer holds no keys"
        )
        out().success({"keys": rows}, human)

    @keys.command("remove")
    def remove(
        key_id: Annotated[str, typer.Argument(help="Key id (see `mpc cosigner keys`).")],
        yes: Annotated[
            bool,
            typer.Option("--yes-i-understand", help="Confirm: no client can sign with it after."),
        ] = False,
    ) -> None:
        """Take a key out of the co-signer (its file is kept in cosigner/removed/)."""
        from mpcwallet.cli.output import out
        from mpcwallet.errors import BadInput, NotFound
        from mpcwallet.homes.paths import check_key_id
        from mpcwallet.storage.files import ensure_dir, publish

        paths = _paths()
        check_key_id(key_id)
        src = paths.share_file(key_id)
        if not src.exists():
            raise NotFound(f"the co-signer holds no key {key_id}", field="key_id")
        if not yes:
            raise BadInput(
                "removing a key from the co-signer stops every client share of it from signing: "
                "pass --yes-i-understand",
                field="yes_i_understand",
            )
        ensure_dir(paths.removed_dir)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = paths.removed_dir / f"{key_id}.{stamp}.enc"
        publish(src, target, force=False)
        paths.unconfirmed_file(key_id).unlink(missing_ok=True)
        paths.psk_file(key_id).unlink(missing_ok=True)  # derived from the share; rebuilt if needed
        out().success(
            {"key_id": key_id, "removed_to": str(target)},
            f"key {key_id} removed from the co-signer; its encrypted share is kept at {target}",
        )
