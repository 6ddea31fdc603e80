"""`mpc address`: the wallet's EVM addresses from the share's public header (no passphrase).

``--account N`` (default 0) prints one account's address, ``--accounts 0-9`` lists several
(:mod:`mpcwallet.accounts`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from mpcwallet.cli import options


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
        from mpcwallet.cli.home import find_share
        from mpcwallet.cli.output import out
        from mpcwallet.wallet.shares import addresses, share_summary

        path = find_share(share, key)
        data = share_summary(path, account)
        note = f" ({data['accounts_note']})" if "accounts_note" in data else ""
        if accounts_range is None:
            out().success(data, f"{data['address']}{note}")
            return
        listed = addresses(path, accounts.parse_range(accounts_range))
        data = {k: v for k, v in data.items() if k not in ("address", "account", "public_key")}
        data["addresses"] = listed
        text = "\n".join(f"{a['account']:>10}  {a['address']}" for a in listed)
        out().success(data, text + note)
