"""`mpc cosigner pairings list|remove CLIENT_ID`: the clients paired with this co-signer.

The work is in :mod:`mpcwallet.cosigner.clients`; removing one pairing refuses that client from
its next session on and touches no other (the local client needs no pairing).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer


def _paths() -> Any:
    from mpcwallet.config import mpc_home
    from mpcwallet.homes.paths import CosignerPaths

    return CosignerPaths.for_home(mpc_home())


def register(cosigner: typer.Typer) -> None:
    group = typer.Typer(
        name="pairings",
        help="List or remove the clients paired with this co-signer (`mpc cosigner pair`).",
        no_args_is_help=True,
    )

    @group.command("list")
    def list_() -> None:
        """Paired clients: id, label, created time (never a secret)."""
        from mpcwallet.cli.output import out
        from mpcwallet.cosigner.clients import list_clients

        rows = list_clients(_paths())
        lines = [f"{r['id']}  {r['created_at']}  {r['label']}" for r in rows]
        out().success({"clients": rows}, "\n".join(lines) or "no paired clients")

    @group.command("remove")
    def remove(
        client_id: Annotated[str, typer.Argument(help="The client id (`pairings list`).")],
    ) -> None:
        """Remove one pairing: that client is refused from its next session; others keep theirs."""
        from mpcwallet.cli.output import out
        from mpcwallet.cosigner import logs
        from mpcwallet.cosigner.audit import attach
        from mpcwallet.cosigner.clients import remove_client

        paths = _paths()
        gone = remove_client(paths, client_id)
        attach(paths.root.parent)
        logs.audit("pairing_removed", f"removed the pairing of client {gone['id']}")
        out().success(
            {"removed": gone}, f"removed the pairing of client {gone['id']} ({gone['label']})"
        )

    cosigner.add_typer(group)
