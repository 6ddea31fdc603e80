"""`mpc keygen`: a new 2-of-2 key with the local co-signer (started for you if needed).

The use case, its two-phase commit and the recovery of an interrupted keygen are in
:mod:`mpcwallet.wallet.keygen`; this module parses, asks the passphrase and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mpcwallet.cli import options


def register(app: typer.Typer) -> None:
    @app.command("keygen")
    def keygen(
        out_path: Annotated[
            Path | None,
            typer.Option(
                "--out", help="Where to write the client share (default MPC_HOME/shares/NAME.enc)."
            ),
        ] = None,
        name: Annotated[str, typer.Option("--name", help="A name for the key.")] = "default",
        force: Annotated[
            bool,
            typer.Option(
                "--force",
                help="Has no effect on shares: keygen never replaces one (see `mpc key retire`).",
            ),
        ] = False,
        passphrase_file: Annotated[
            Path | None,
            typer.Option(
                "--passphrase-file", help="File holding the passphrase for the new share."
            ),
        ] = None,
        engine: Annotated[str | None, typer.Option("--engine", help="cb-mpc or portable.")] = None,
        allow_weak: options.AllowWeakPassphrase = False,
    ) -> None:
        """Create a new key with the co-signer; prints its address and key id."""
        from mpcwallet.cli.cosigner import start_passphrase
        from mpcwallet.cli.engine_note import engine_facts, tell
        from mpcwallet.cli.frontend import CliUi
        from mpcwallet.cli.home import tell_home
        from mpcwallet.cli.output import out
        from mpcwallet.cli.passphrase import get_passphrase
        from mpcwallet.wallet.keygen import check_keygen
        from mpcwallet.wallet.keygen import keygen as run

        tell_home()
        del force  # accepted for old scripts; an existing share is refused regardless
        target, _ = check_keygen(name=name, out=out_path, engine=engine)
        passphrase = get_passphrase(
            "share", passphrase_file=passphrase_file, confirm=True, allow_weak=allow_weak
        )
        data = run(
            name=name,
            out=target,
            engine=engine,
            passphrase=passphrase,
            ui=CliUi(),
            cosigner_passphrase=lambda first: start_passphrase(first, allow_weak=allow_weak),
        )
        del passphrase
        if data.get("recovered"):
            out().success(
                data,
                f"address {data['address']}\nkey id  {data['key_id']}\n"
                f"share   {target} (recovered)",
            )
            return
        out().success(
            {**data, **engine_facts(data["engine"])},
            f"address {data['address']}\nkey id  {data['key_id']}\nshare   {target}\n"
            f"engine  {data['engine']}",
        )
        tell(data["engine"])
