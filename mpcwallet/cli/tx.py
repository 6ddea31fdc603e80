"""`mpc tx erc20-transfer`: prepare a tx.json that calls transfer(address,uint256) on a token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mpcwallet.cli import options


def register(app: typer.Typer) -> None:
    tx_app = typer.Typer(
        name="tx",
        help="Prepare unsigned transactions (tx.json); follow, speed up or cancel sent ones.",
    )
    app.add_typer(tx_app)
    from mpcwallet.cli.transfer import register_transfer

    register_transfer(tx_app)
    from mpcwallet.cli.txchain import register_chain

    register_chain(tx_app)

    @tx_app.command("erc20-transfer")
    def erc20_transfer(
        token: Annotated[str, typer.Option("--token", help="Token contract address.")],
        to: Annotated[str, typer.Option("--to", help="Recipient address.")],
        amount: Annotated[str, typer.Option("--amount", help="Amount in token units, e.g. 1.5.")],
        out_file: Annotated[Path, typer.Option("--out", help="Where to write tx.json.")],
        decimals: Annotated[
            int,
            typer.Option(
                "--decimals", help="The token's decimals().", callback=options.checked("--decimals")
            ),
        ] = 18,
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
        """Write a tx.json for an ERC-20 transfer (sign it with `mpc sign --tx`)."""
        from mpcwallet.cli.output import out
        from mpcwallet.evm.address import parse_address, to_checksum
        from mpcwallet.evm.erc20 import parse_amount, transfer_calldata
        from mpcwallet.evm.txjson import parse_tx
        from mpcwallet.storage.files import write_atomic

        token_addr = parse_address(token, "token")
        to_addr = parse_address(to, "to")
        units = parse_amount(amount, decimals)
        from mpcwallet.config import chain_id as wallet_chain

        obj: dict[str, Any] = {
            "type": 2,
            "chainId": wallet_chain() if chain_id is None else chain_id,
            "to": to_checksum(token_addr),
            "value": 0,
            "data": "0x" + transfer_calldata(to_addr, units).hex(),
        }
        for name, value in (
            ("nonce", nonce),
            ("gas", gas),
            ("maxFeePerGas", max_fee),
            ("maxPriorityFeePerGas", priority_fee),
        ):
            if value is not None:
                obj[name] = value
        tx = parse_tx(obj)  # the same validation `mpc sign` applies
        text = json.dumps(tx.to_json(), indent=2) + "\n"
        write_atomic(out_file, text.encode(), force=force)
        out().success(
            {
                "out": str(out_file),
                "token": to_checksum(token_addr),
                "to": to_checksum(to_addr),
                "amount_units": str(units),
                "tx": tx.to_json(),
            },
            f"wrote {out_file}: transfer {amount} (= {units} base units) of token "
            f"{to_checksum(token_addr)} to {to_checksum(to_addr)}\n"
            f"sign it with: mpc sign --tx {out_file}",
        )
