"""`mpc sign --tx tx.json` (or `--to ADDR --value 0.01ETH`): a two-party signature over an EVM
transaction.

The use case is :func:`mpcwallet.wallet.sign.sign_transaction`; this module reads tx.json and
the permit files, writes sig.json (atomic) and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mpcwallet.cli import options

if TYPE_CHECKING:
    from mpcwallet.evm.signature import SignedTx


def human_signed(signed: SignedTx, out_file: Path | None) -> str:
    lines = [
        f"[bold]signed[/bold] by {signed.sender}",
        f"tx hash:      0x{signed.tx_hash.hex()}",
        f"signing hash: 0x{signed.signing_hash.hex()}",
        f"raw tx:       0x{signed.raw.hex()}",
    ]
    if out_file is not None:
        lines.append(f"written to {out_file}; broadcast with: mpc broadcast --sig {out_file}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command("sign")
    def sign(
        tx: options.TxFileOrTransfer = None,
        to: options.To = None,
        value: options.Value = None,
        share: options.Share = None,
        key: options.Key = None,
        out_file: Annotated[
            Path | None,
            typer.Option("--out", help="Write the signature and raw tx here (sig.json)."),
        ] = None,
        rpc_url: options.RpcUrl = None,
        force: options.ForceOut = False,
        passphrase_file: options.SharePassphraseFile = None,
        timeout: options.RpcTimeout = None,
        account: options.Account = 0,
        permit: options.Permits = None,
        yes: options.Yes = False,
    ) -> None:
        """Sign a transaction with the co-signer; prints {from, hash, r, s, v, raw_tx, account}.

        The transaction is a tx.json (--tx FILE, - for stdin) or an ETH transfer
        (--to ADDRESS --value "0.01 ETH") on the wallet's chain (MPC_CHAIN_ID, default Sepolia).

        With an RPC endpoint, a missing nonce, gas or fee is filled from the node (and shown),
        and the node's chain id must equal chainId. Before signing it shows what is signed
        (chain, from, to, value, token transfer, fees, worst-case cost) and, at a terminal,
        asks for confirmation (--yes skips it; without a terminal nothing is asked).
        """
        from mpcwallet.cli.frontend import CliUi, keyring
        from mpcwallet.cli.home import find_share
        from mpcwallet.cli.output import out
        from mpcwallet.wallet.sign import sign_transaction
        from mpcwallet.wallet.transfer import tx_source

        load, source = tx_source(tx, to, value)
        path = find_share(share, key)
        options.refuse_existing_out(out_file, force)
        result = sign_transaction(
            load,
            share=path,
            account=account,
            permits=options.read_permits(permit or []),
            rpc_url=rpc_url,
            retry_seconds=timeout,
            yes=yes,
            source=source,
            keys=keyring(passphrase_file),
            ui=CliUi(),
        )
        data = result.to_json()
        if out_file is not None:
            options.write_out(out_file, result.signed.to_json(), force=force)
            data["out"] = str(out_file)
        out().success(data, human_signed(result.signed, out_file))
