"""`mpc cosigner approvers add|list|remove`: which Ed25519 keys may sign permits."""

from __future__ import annotations

from typing import Annotated

import typer


def register(cosigner: typer.Typer) -> None:
    group = typer.Typer(
        name="approvers", help="Approvers registered with the co-signer.", no_args_is_help=True
    )

    @group.command("add")
    def add(
        name: Annotated[str, typer.Argument(help="Approver name.")],
        public_key: Annotated[str, typer.Argument(help="Public key from `mpc approver new`.")],
    ) -> None:
        """Register an approver's public key."""
        from mpcwallet.cli.output import out
        from mpcwallet.config import mpc_home
        from mpcwallet.cosigner.approvers import register as reg

        key = reg(mpc_home(), name, public_key)
        out().success({"name": name, "public_key": key}, f"approver {name} registered")

    @group.command("remove")
    def remove(name: Annotated[str, typer.Argument(help="Approver name.")]) -> None:
        """Unregister an approver (its permits are refused from now on)."""
        from mpcwallet.cli.output import out
        from mpcwallet.config import mpc_home
        from mpcwallet.cosigner.approvers import unregister

        key = unregister(mpc_home(), name)
        out().success({"name": name, "public_key": key}, f"approver {name} removed")

    @group.command("list")
    def list_() -> None:
        """The registered approvers."""
        from mpcwallet.cli.output import out
        from mpcwallet.config import mpc_home
        from mpcwallet.cosigner.approvers import registered

        rows = registered(mpc_home())
        lines = [f"{r['name']:20} {r['public_key']}" for r in rows] or ["no approvers"]
        out().success({"approvers": rows}, "\n".join(lines))

    cosigner.add_typer(group)
