"""`mpc sign-message` (EIP-191 personal_sign) and `mpc sign-typed-data` (EIP-712 v4).

The use cases are in :mod:`mpcwallet.wallet.messages`; both show what is about to be signed and
ask as `mpc sign` does (the same review, --yes and terminal rules), print
``{signature (r||s||v, 65 bytes), r, s, v (27/28), hash, address, account, preview}`` and write
it to ``--out`` atomically when asked.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mpcwallet.cli import options

if TYPE_CHECKING:
    from mpcwallet.wallet.ports import Keyring, Ui


def _human(data: dict[str, Any]) -> str:
    lines = [
        f"[bold]signed[/bold] by {data['address']} (account {data['account']})",
        f"hash:      {data['hash']}",
        f"signature: {data['signature']}",
    ]
    if "out" in data:
        lines.append(f"written to {data['out']}")
    return "\n".join(lines)


def _signed_to_output(
    share: Path | None,
    key: str | None,
    out_file: Path | None,
    force: bool,
    passphrase_file: Path | None,
    sign: Callable[[Path, Keyring, Ui], dict[str, Any]],
) -> None:
    """Which share, --out refused before anything is signed, the signature, --out, stdout."""
    from mpcwallet.cli.frontend import CliUi, keyring
    from mpcwallet.cli.home import find_share
    from mpcwallet.cli.output import out

    path = find_share(share, key)
    options.refuse_existing_out(out_file, force)
    data = sign(path, keyring(passphrase_file), CliUi())
    if out_file is not None:
        options.write_out(out_file, data, force=force)
        data["out"] = str(out_file)
    out().success(data, _human(data))


OutFile = Annotated[
    Path | None, typer.Option("--out", help="Also write the signature JSON here (atomic).")
]


def register(app: typer.Typer) -> None:
    @app.command("sign-message")
    def sign_message(
        message: Annotated[
            str | None, typer.Option("--message", help="Text to sign (UTF-8).")
        ] = None,
        message_file: Annotated[
            Path | None, typer.Option("--message-file", help="Sign this file's bytes.")
        ] = None,
        hex_message: Annotated[
            str | None, typer.Option("--hex", help="Sign these bytes (0x-prefixed hex).")
        ] = None,
        share: options.Share = None,
        key: options.Key = None,
        account: options.Account = 0,
        out_file: OutFile = None,
        force: options.ForceOut = False,
        passphrase_file: options.SharePassphraseFile = None,
        permit: options.Permits = None,
        yes: options.Yes = False,
    ) -> None:
        """Sign a message as personal_sign does (EIP-191 version 0x45).

        Shows the message first and, at a terminal, asks (--yes skips it; without a terminal
        nothing is asked). --message-file - reads the message from stdin.
        """
        from mpcwallet.wallet.messages import sign_message as run

        raw = options.read_message(message, message_file, hex_message)
        permits = options.read_permits(permit or [])
        _signed_to_output(
            share,
            key,
            out_file,
            force,
            passphrase_file,
            lambda path, keys, ui: run(
                raw,
                share=path,
                account=account,
                permits=permits,
                yes=yes,
                keys=keys,
                ui=ui,
            ),
        )

    @app.command("sign-typed-data")
    def sign_typed_data(
        data_file: Annotated[
            Path, typer.Option("--data", help="EIP-712 typed data (eth_signTypedData_v4 JSON).")
        ],
        chain_id: Annotated[
            int | None,
            typer.Option(
                "--chain-id",
                min=1,
                help="Refuse the document unless its domain has this chainId; also how to sign "
                "for a chain other than the wallet's (MPC_CHAIN_ID, default Sepolia) on purpose.",
            ),
        ] = None,
        share: options.Share = None,
        key: options.Key = None,
        account: options.Account = 0,
        out_file: OutFile = None,
        force: options.ForceOut = False,
        passphrase_file: options.SharePassphraseFile = None,
        permit: options.Permits = None,
        yes: options.Yes = False,
    ) -> None:
        """Sign EIP-712 typed data as eth_signTypedData_v4 does.

        Shows the domain, primary type, fields and chain first and, at a terminal, asks (--yes
        skips it). A domain chainId other than the wallet's chain is refused unless --chain-id
        names it. --data - reads the document from stdin.
        """
        from mpcwallet.evm import eip712
        from mpcwallet.wallet.messages import sign_typed_data as run

        td = eip712.load(data_file, expected_chain_id=chain_id)
        permits = options.read_permits(permit or [])
        _signed_to_output(
            share,
            key,
            out_file,
            force,
            passphrase_file,
            lambda path, keys, ui: run(
                td,
                chain_id=chain_id,
                share=path,
                account=account,
                permits=permits,
                yes=yes,
                keys=keys,
                ui=ui,
            ),
        )
