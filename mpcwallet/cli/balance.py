"""`mpc balance [ADDRESS] [--token T]`: what the wallet (or any address) holds, in ETH or in a
token's own units."""

from __future__ import annotations

from typing import Annotated

import typer

from mpcwallet.cli import options


def register(app: typer.Typer) -> None:
    @app.command("balance")
    def balance(
        address: Annotated[
            str | None,
            typer.Argument(help="Any address (default: the wallet's; no key needed then)."),
        ] = None,
        share: options.Share = None,
        key: options.Key = None,
        token: Annotated[
            str | None, typer.Option("--token", help="An ERC-20 token address (else ETH).")
        ] = None,
        rpc_url: options.RpcUrl = None,
        timeout: options.RpcTimeout = None,
        account: options.Account = 0,
    ) -> None:
        """The wallet's balance, or ADDRESS's, from the node (ETH, or with --token an ERC-20)."""
        from mpcwallet.cli.frontend import CliUi
        from mpcwallet.cli.home import find_share
        from mpcwallet.cli.output import out
        from mpcwallet.wallet.balance import balance as run

        data = run(
            share=None if address is not None else find_share(share, key),
            address=address,
            account=account,
            token=token,
            rpc_url=rpc_url,
            retry_seconds=timeout,
            ui=CliUi(),
        )
        if token is None:
            out().success(data, f"{data['balance_eth']} ETH  ({data['address']})")
            return
        shown = data["balance"] + (f" {data['symbol']}" if data["symbol"] else "")
        out().success(data, f"{shown}  (token {data['token']}, holder {data['address']})")
