"""`mpc address`: the wallet's EVM address from the share's public header (no passphrase)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mpcwallet.errors import TamperedFile


def share_summary(path: Path) -> dict[str, Any]:
    """Public facts of a share file; checks the header's address against its public key."""
    from mpcwallet.evm.address import address_from_public_key
    from mpcwallet.storage.store import load_header

    header = load_header(path)
    try:
        public_key = bytes.fromhex(str(header.get("public_key")))
        derived = address_from_public_key(public_key)
    except (ValueError, TypeError):
        raise TamperedFile(f"{path}: the header's public key is not a secp256k1 point") from None
    if derived != header.get("address"):
        raise TamperedFile(f"{path}: the header's address does not match its public key")
    return {
        "address": derived,
        "key_id": header.get("key_id"),
        "public_key": public_key.hex(),
        "engine": header.get("engine"),
        "name": header.get("name"),
        "share": str(path),
    }


def register(app: typer.Typer) -> None:
    @app.command("address")
    def address(
        share: Annotated[
            Path | None,
            typer.Option(
                "--share", help="Client share file (default MPC_HOME/shares/default.enc)."
            ),
        ] = None,
    ) -> None:
        """Print the wallet's EIP-55 address (from the share header; no passphrase)."""
        from mpcwallet.cli.output import out
        from mpcwallet.config import default_share_path

        data = share_summary(share or default_share_path())
        out().success(data, str(data["address"]))
