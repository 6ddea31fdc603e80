"""`mpc tx transfer`: a tx.json that sends ETH, with the amount written as people write it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mpcwallet.cli import options


def register_transfer(tx_app: typer.Typer) -> None:
    @tx_app.command("transfer")
    def transfer(
        to: Annotated[str, typer.Option("--to", help="Recipient address (0x..., EIP-55).")],
        value: Annotated[
            str,
            typer.Option("--value", help='Amount: "0.01ether", "10 gwei", or an integer in wei.'),
        ],
        out_file: Annotated[
            Path | None, typer.Option("--out", help="Write tx.json here (else print it).")
        ] = None,
        chain_id: options.TxChainId = None,
        nonce: options.TxNonce = None,
        gas: options.TxGas = None,
        max_fee: Annotated[
            str | None,
            typer.Option("--max-fee-per-gas", help='e.g. "30 gwei"; else filled at signing.'),
        ] = None,
        priority_fee: Annotated[
            str | None,
            typer.Option("--max-priority-fee-per-gas", help='e.g. "1 gwei"; else filled.'),
        ] = None,
        force: options.ForceOut = False,
    ) -> None:
        """Write a tx.json sending ETH (sign it with `mpc sign --tx`, or `mpc send --tx`)."""
        from mpcwallet.cli.output import out
        from mpcwallet.evm.units import format_ether
        from mpcwallet.wallet.transfer import transfer_tx

        # the same validation (and unit conversion) `mpc sign` applies
        tx = transfer_tx(
            to,
            value,
            chain_id=chain_id,
            nonce=nonce,
            gas=gas,
            max_fee_per_gas=max_fee,
            max_priority_fee_per_gas=priority_fee,
        )
        chain_id = tx.chain_id
        doc = tx.to_json()
        doc["value"] = str(tx.value)  # a decimal string: exact in every JSON reader
        text = json.dumps(doc, indent=2) + "\n"
        data: dict[str, Any] = {"tx": doc, "value_eth": format_ether(tx.value)}
        if out_file is None:
            out().success(data, lambda console: console.print(text, end="", markup=False))
            return
        from mpcwallet.storage.files import write_atomic

        write_atomic(out_file, text.encode(), force=force)
        data["out"] = str(out_file)
        out().success(
            data,
            f"wrote {out_file}: send {format_ether(tx.value)} ETH to {doc['to']} on chain "
            f"{chain_id}\nsign it with: mpc sign --tx {out_file}  (or mpc send --tx {out_file})",
        )
