"""`mpc cosigner policy check FILE | reload`.

Reload is a control request (``policy_reload``) over a session authenticated with the pairing
token, so only a holder of this MPC_HOME's token can make the running daemon re-read its policy,
and the answer (or the file's error, with its line) comes back to the caller.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(cosigner: typer.Typer) -> None:
    group = typer.Typer(name="policy", help="The co-signer's signing policy.", no_args_is_help=True)

    @group.command("check")
    def check(file: Annotated[Path, typer.Argument(help="A policy TOML file.")]) -> None:
        """Validate a policy file; an error names its line and key."""
        from mpcwallet.cli.output import out
        from mpcwallet.cosigner.policy import load_policy
        from mpcwallet.errors import NotFound

        if not file.is_file():
            raise NotFound(f"{file}: no such policy file", field="file")
        policy = load_policy(file)
        data = {
            "ok": True,
            "file": str(file),
            "sha256": policy.sha256,
            "keys": sorted(policy.keys),
            "accounts": sorted(f"{k}.{a}" for k, a in policy.accounts),
        }
        out().success(data, f"{file}: valid policy")

    @group.command("reload")
    def reload() -> None:
        """Make the running co-signer re-read MPC_HOME/cosigner/policy.toml."""
        from mpcwallet.cli.output import out
        from mpcwallet.session.client import pairing_request, resolve_endpoint

        answer = pairing_request(resolve_endpoint(), {"op": "policy_reload"})
        data = {"present": answer.get("present"), "sha256": answer.get("sha256")}
        human = (
            f"policy reloaded (sha256 {data['sha256']})"
            if data["present"]
            else "no policy file: the co-signer signs every valid request"
        )
        out().success(data, human)

    cosigner.add_typer(group)
