"""`mpc tx status|list|speed-up|cancel`: the home's record of sent transactions."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mpcwallet.cli import chainopts, options

TxHash = Annotated[str, typer.Argument(help="The transaction's hash (0x and 64 hex digits).")]


def _human(data: dict[str, Any]) -> str:
    lines = [f"{data['hash']}: {data['state']}" + (f" ({data['detail']})" if data.get("detail")
                                                    else "")]  # fmt: skip
    lines.append(f"  nonce {data['nonce']} from {data['from']} on chain {data['chain_id']}")
    if data.get("replaces"):
        lines.append(f"  {data.get('kind')} of {data['replaces']}")
    receipt = data.get("receipt")
    if receipt:
        lines.append(
            f"  mined: status {receipt['status']} in block {receipt['block']}, "
            f"{receipt['confirmations']} confirmation(s)"
        )
    for ev in data.get("events", []):
        lines.append(f"  {ev['from_state'] or '-'} -> {ev['to_state']}: {ev['detail'] or ''}")
    return "\n".join(lines)


def register_chain(tx_app: typer.Typer) -> None:
    @tx_app.command("status")
    def status(
        tx_hash: TxHash,
        wait: Annotated[
            bool, typer.Option("--wait", help="Follow it until CONFIRMED (or --finalized).")
        ] = False,
        finalized: chainopts.Finalized = False,
        confirmations: chainopts.Confirmations = None,
        rpc_url: options.RpcUrl = None,
        timeout: options.RpcTimeout = None,
        receipt_timeout: options.ReceiptTimeout = 300.0,
    ) -> None:
        """A sent transaction's state read from the chain now, and its events.

        Reorgs are followed; the same signed transaction is sent again if the node lost it."""
        from mpcwallet.cli.frontend import CliUi
        from mpcwallet.cli.output import out
        from mpcwallet.wallet.replace import status as run

        data = run(
            tx_hash,
            rpc_url=rpc_url,
            retry_seconds=timeout,
            confirmations=confirmations,
            wait=wait,
            until=chainopts.until(finalized),
            timeout=receipt_timeout,
            ui=CliUi(),
        )
        out().success(data, _human(data))

    @tx_app.command("list")
    def list_() -> None:
        """The transactions this home sent, oldest first, with their last known state."""
        from mpcwallet.cli.output import out
        from mpcwallet.wallet.replace import list_records

        rows = list_records()

        def human(console: Any) -> None:
            for r in rows:
                console.print(
                    f"{r['hash']}  {r['state']:<10} nonce {r['nonce']:<4} {r['sender']} "
                    f"chain {r['chain_id']} {r['kind']}",
                    markup=False,
                )

        out().success({"transactions": rows}, human)

    def _replace(cancel: bool) -> Any:
        def command(
            tx_hash: TxHash,
            share: options.Share = None,
            key: options.Key = None,
            rpc_url: options.RpcUrl = None,
            wait: Annotated[
                bool, typer.Option("--wait/--no-wait", help="Wait until CONFIRMED.")
            ] = True,
            passphrase_file: options.SharePassphraseFile = None,
            timeout: options.RpcTimeout = None,
            receipt_timeout: options.ReceiptTimeout = 300.0,
            permit: options.Permits = None,
            yes: options.Yes = False,
        ) -> None:
            from mpcwallet.cli.frontend import CliUi, keyring
            from mpcwallet.cli.output import out
            from mpcwallet.wallet.replace import replace_transaction
            from mpcwallet.wallet.shares import find_share

            data = replace_transaction(
                tx_hash,
                cancel=cancel,
                share=find_share(share, key),
                permits=options.read_permits(permit or []),
                rpc_url=rpc_url,
                retry_seconds=timeout,
                wait=wait,
                receipt_timeout=receipt_timeout,
                yes=yes,
                keys=keyring(passphrase_file),
                ui=CliUi(),
            )
            out().success(
                data, f"{data['kind']} {data['hash']} replaces {data['replaces']}: {data['state']}"
            )

        return command

    tx_app.command(
        "speed-up",
        help="Replace a pending transaction by the same one with fees raised at least 10 % "
        "(a new signature through the co-signer).",
    )(_replace(cancel=False))
    tx_app.command(
        "cancel",
        help="Replace a pending transaction by a zero-value transfer to yourself at its nonce, "
        "fees raised at least 10 % (a new signature through the co-signer).",
    )(_replace(cancel=True))
