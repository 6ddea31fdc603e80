"""`mpc approver new NAME`: an Ed25519 approver key, encrypted like a share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mpcwallet.cli import options


def default_key_path(name: str) -> Path:
    from mpcwallet.config import mpc_home

    return mpc_home() / "approvers" / f"{name}.enc"


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="approver", help="Approver keys that sign permits for the co-signer.",
        no_args_is_help=True,
    )  # fmt: skip

    @group.command("new")
    def new(
        name: Annotated[str, typer.Argument(help="Approver name (as registered).")],
        out_file: Annotated[
            Path | None,
            typer.Option("--out", help="Key file (default MPC_HOME/approvers/NAME.enc)."),
        ] = None,
        force: options.ForceOut = False,
        passphrase_file: options.ApproverPassphraseFile = None,
    ) -> None:
        """Make an approver key; register its public key with `mpc cosigner approvers add`."""
        from mpcwallet.cli.output import out
        from mpcwallet.cli.passphrase import get_passphrase
        from mpcwallet.cosigner.approvers import check_name, create_key_file
        from mpcwallet.errors import AlreadyExists

        path = out_file or default_key_path(check_name(name))
        if path.exists() and not force:
            raise AlreadyExists(f"{path} already exists; pass --force to overwrite it", field="out")
        passphrase = get_passphrase("approver", passphrase_file=passphrase_file, confirm=True)
        public_key = create_key_file(path, name, passphrase, force=force)
        out().success(
            {"name": name, "public_key": public_key, "path": str(path)},
            f"approver {name}: public key {public_key}\nwritten to {path}; on the co-signer: "
            f"mpc cosigner approvers add {name} {public_key}",
        )

    app.add_typer(group)
