"""`mpc address`: the wallet's EVM addresses from the share's public header (no passphrase).

``--account N`` (default 0) prints one account's address, ``--accounts 0-9`` lists several
(:mod:`mpcwallet.accounts`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mpcwallet.cli import options
from mpcwallet.errors import TamperedFile


def share_summary(path: Path, account: int = 0) -> dict[str, Any]:
    """Public facts of a share file; checks the header's address against its public key.

    ``address`` and ``public_key`` are those of ``account``; ``root_public_key`` is the key
    set's root (account 0's key)."""
    from mpcwallet import accounts
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
    account_pub, account_address = accounts.account_key(header, path, account)
    return {
        "address": account_address,
        "account": account,
        "key_id": header.get("key_id"),
        "public_key": account_pub.hex(),
        "root_public_key": public_key.hex(),
        "engine": header.get("engine"),
        "name": header.get("name"),
        "share": str(path),
        **accounts.summary(header, path),
        "generation": header.get("generation", 0),
    }


def register(app: typer.Typer) -> None:
    @app.command("address")
    def address(
        share: options.Share = None,
        key: options.Key = None,
        account: options.Account = 0,
        accounts_range: Annotated[
            str | None,
            typer.Option(
                "--accounts",
                metavar="A-B",
                help="List the addresses of accounts A..B (inclusive), e.g. 0-9.",
            ),
        ] = None,
    ) -> None:
        """Print the wallet's EIP-55 address (from the share header; no passphrase)."""
        from mpcwallet import accounts
        from mpcwallet.cli.hints import share_or_hint
        from mpcwallet.cli.output import out
        from mpcwallet.storage.store import load_header

        path = share_or_hint(share, key)
        data = share_summary(path, account)
        note = f" ({data['accounts_note']})" if "accounts_note" in data else ""
        if accounts_range is None:
            out().success(data, f"{data['address']}{note}")
            return
        header = load_header(path)
        listed = [
            {"account": i, "address": accounts.account_key(header, path, i)[1]}
            for i in accounts.parse_range(accounts_range)
        ]
        data = {k: v for k, v in data.items() if k not in ("address", "account", "public_key")}
        data["addresses"] = listed
        text = "\n".join(f"{a['account']:>10}  {a['address']}" for a in listed)
        out().success(data, text + note)
