"""`mpc pair --url URL --code CODE`: pair this MPC_HOME with a co-signer on another machine."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("pair")
    def pair(
        url: Annotated[
            str, typer.Option("--url", help="The co-signer's URL, as `mpc cosigner pair` prints.")
        ],
        code: Annotated[
            str,
            typer.Option("--code", help="The one-time code from `mpc cosigner pair` (single use)."),
        ],
    ) -> None:
        """Pair with a remote co-signer; later keygen, sign and health of this home use it."""
        from mpcwallet.cli.output import out
        from mpcwallet.config import mpc_home
        from mpcwallet.cosigner.pairing import pairing_file
        from mpcwallet.session.client import run_pair

        record = run_pair(url, code)
        out().success(
            {
                "url": record.url,
                "install_id": record.install_id,
                "engine": record.engine,
                "pairing": str(pairing_file(mpc_home())),
            },
            f"paired with the co-signer at {record.url} (engine {record.engine}); "
            f"keygen, sign and health of this MPC_HOME now use it",
        )
