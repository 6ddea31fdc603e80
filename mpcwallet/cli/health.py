"""`mpc health`: is the co-signer up, authenticated and on our engine; does it hold our key.

The checks are :func:`mpcwallet.wallet.health.health`; this module parses and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("health")
    def health(
        share: Annotated[Path | None, typer.Option("--share", help="Also check this key.")] = None,
        key: Annotated[
            str | None, typer.Option("--key", help="Also check the key with this name.")
        ] = None,
        verify_key_secret: Annotated[
            bool,
            typer.Option(
                "--verify-key-secret",
                help="With --share: authenticate with the key's secret (asks the passphrase).",
            ),
        ] = False,
        passphrase_file: Annotated[
            Path | None,
            typer.Option(
                "--passphrase-file", help="Share passphrase file (for --verify-key-secret)."
            ),
        ] = None,
    ) -> None:
        """Check the co-signer: healthz, authenticated handshake, engine, and (--share) key."""
        from mpcwallet.cli.frontend import keyring
        from mpcwallet.cli.home import tell_home
        from mpcwallet.cli.output import out
        from mpcwallet.wallet.health import health as check

        tell_home()  # which home's co-signer and keys
        result = check(
            share=share,
            key=key,
            verify_key_secret=verify_key_secret,
            keys=keyring(passphrase_file),
        )
        checks = ", ".join(f"{k} ok" for k in result["checks"])
        from mpcwallet.cli.engine_note import cbmpc_status, engine_facts, tell

        cbmpc = cbmpc_status()
        out().success(
            {**result, **engine_facts(result.get("engine")), "cbmpc": cbmpc},
            f"co-signer healthy at {result['endpoint']} (engine {result['engine']}, "
            f"{result['keys']} keys): {checks}\n{cbmpc['line']}",
        )
        tell(result.get("engine"))
