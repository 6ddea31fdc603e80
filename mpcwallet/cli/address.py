"""`mpc address`: the wallet's EVM addresses from the share's public header (no passphrase).

``--account N`` (default 0) prints one account's address, ``--accounts 0-9`` lists several
(:mod:`mpcwallet.accounts`), ``--qr`` draws it as a QR code a phone wallet can scan (segno's
own terminal rendering: two modules a character, light modules drawn, so it reads on a dark
terminal).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

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
        qr: Annotated[
            bool, typer.Option("--qr", help="Also draw the address as a QR code (to fund it).")
        ] = False,
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
            text = f"{data['address']}{note}"
            out().success(data, _with_qr(data["address"], text) if qr else text)
            return
        listed = addresses(path, accounts.parse_range(accounts_range))
        data = {k: v for k, v in data.items() if k not in ("address", "account", "public_key")}
        data["addresses"] = listed
        text = "\n".join(f"{a['account']:>10}  {a['address']}" for a in listed)
        out().success(data, text + note)


def _with_qr(address: str, text: str) -> Any:
    def draw(console: Console) -> None:
        import io

        import segno

        buf = io.StringIO()
        segno.make(address, micro=False).terminal(out=buf, compact=True, border=2)
        console.file.write(buf.getvalue())  # as segno drew it: rich would restyle the blocks
        console.file.flush()
        console.print(text, markup=False)

    return draw
