"""`mpc broadcast` (a signed raw tx to a node) and `mpc send` (sign + broadcast in one step)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mpcwallet.cli import chainopts, options
from mpcwallet.errors import BadInput, FileFormatError, TransientError

MAX_RAW_FILE_BYTES = 1024 * 1024  # a raw tx is at most ~128 KiB (geth's txMaxSize), hex doubles it


def read_raw(raw: str | None, sig: Path | None) -> bytes:
    """The raw signed transaction from --raw HEX, --raw @file or --sig sig.json."""
    if (raw is None) == (sig is None):
        raise BadInput("give exactly one of --raw HEX|@file and --sig sig.json", field="raw")
    from mpcwallet import jsonio

    if sig is not None:
        # a file that cannot be read is field "path" (as for shares); bad content is "sig"
        data = jsonio.read_bounded(
            sig, what="signature file", max_bytes=MAX_RAW_FILE_BYTES, field="path"
        )
        obj = jsonio.loads(data, what=f"signature file {sig}", field="sig")
        if not isinstance(obj, dict) or not isinstance(obj.get("raw_tx"), str):
            raise FileFormatError(
                f"{sig}: no raw_tx field; pass the file `mpc sign --out` wrote", field="sig"
            )
        text, where = obj["raw_tx"], f"{sig}: raw_tx"
    else:
        assert raw is not None
        if raw.startswith("@"):
            source = Path(raw[1:])
            text = jsonio.read_bounded(
                source, what="raw transaction file", max_bytes=MAX_RAW_FILE_BYTES, field="path"
            ).decode("ascii", errors="replace")
            where = f"{source}"
        else:
            text, where = raw, "--raw"
    text = text.strip()
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    from mpcwallet.evm.address import is_hex

    if not is_hex(text) or len(text) % 2:
        raise BadInput(
            f"{where}: not a hex string (0x and an even number of hex digits)", field="raw"
        )
    data = bytes.fromhex(text)
    if not data:
        raise BadInput(f"{where}: empty", field="raw")
    return data


def human_broadcast(data: dict[str, Any]) -> str:
    lines = [f"tx hash: {data['hash']}"]
    if data.get("already_pending"):
        lines.append("(sent earlier with the same content; no second payment was signed)")
    receipt = data.get("receipt")
    if receipt:
        lines.append(
            f"mined: status {receipt['status']} in block {receipt['block']}, "
            f"gas used {receipt['gas_used']}, {receipt['confirmations']} confirmation(s)"
        )
        if receipt.get("contract_address"):
            lines.append(f"contract created at {receipt['contract_address']}")
    if data.get("state"):
        lines.append(f"state: {data['state']}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command("broadcast")
    def broadcast(
        raw: Annotated[
            str | None, typer.Option("--raw", help="Signed raw tx as hex, or @file.")
        ] = None,
        sig: Annotated[
            Path | None, typer.Option("--sig", help="sig.json written by `mpc sign`.")
        ] = None,
        wait: Annotated[bool, typer.Option("--wait", help="Wait for the receipt.")] = False,
        confirmations: chainopts.Confirmations = None,
        finalized: chainopts.Finalized = False,
        rpc_url: options.RpcUrl = None,
        timeout: options.RpcTimeout = None,
        receipt_timeout: options.ReceiptTimeout = 300.0,
    ) -> None:
        """Send a signed transaction to the node (recorded in MPC_HOME first); with --wait
        follow it to CONFIRMED (or --finalized) and print its receipt."""
        from mpcwallet.cli.frontend import CliUi
        from mpcwallet.cli.output import out
        from mpcwallet.wallet.send import broadcast as run

        data = run(
            read_raw(raw, sig),
            rpc_url=rpc_url,
            wait=wait,
            confirmations=confirmations,
            retry_seconds=timeout,
            receipt_timeout=receipt_timeout,
            ui=CliUi(),
            until=chainopts.until(finalized),
        )
        out().success(data, human_broadcast(data))

    @app.command("send")
    def send(
        tx: options.TxFileOrTransfer = None,
        to: options.To = None,
        value: options.Value = None,
        share: options.Share = None,
        key: options.Key = None,
        out_file: Annotated[
            Path | None,
            typer.Option("--out", help="Also write the signature and raw tx here (sig.json)."),
        ] = None,
        rpc_url: options.RpcUrl = None,
        wait: Annotated[
            bool, typer.Option("--wait/--no-wait", help="Wait for the receipt.")
        ] = True,
        confirmations: chainopts.Confirmations = None,
        finalized: chainopts.Finalized = False,
        again: Annotated[
            bool,
            typer.Option(
                "--again",
                help="Sign and send even though a transaction with the same content is still "
                "pending (a second payment).",
            ),
        ] = False,
        force: options.ForceOut = False,
        passphrase_file: options.SharePassphraseFile = None,
        timeout: options.RpcTimeout = None,
        account: options.Account = 0,
        receipt_timeout: options.ReceiptTimeout = 300.0,
        permit: options.Permits = None,
        yes: options.Yes = False,
    ) -> None:
        """Sign with the co-signer and broadcast in one step (needs an RPC endpoint).

        The transaction is a tx.json (--tx FILE, - for stdin) or an ETH transfer
        (--to ADDRESS --value 0.01ether) on the wallet's chain (MPC_CHAIN_ID, default Sepolia).

        Shows what is signed first and, at a terminal, asks for confirmation (--yes skips it).
        Recorded in MPC_HOME before it is sent; waits until CONFIRMED (or --finalized). The same
        tx.json while the first is pending shows that one instead of paying twice (--again).
        """
        from mpcwallet.cli.frontend import CliUi, keyring
        from mpcwallet.cli.home import find_share
        from mpcwallet.cli.output import out
        from mpcwallet.evm.signature import SignedTx
        from mpcwallet.wallet.send import require_rpc_for_send, send_transaction
        from mpcwallet.wallet.transfer import tx_source

        load, source = tx_source(tx, to, value)
        require_rpc_for_send(rpc_url)
        path = find_share(share, key)
        options.refuse_existing_out(out_file, force)
        signed: list[SignedTx] = []

        def on_signed(sig: SignedTx) -> None:
            signed.append(sig)
            if out_file is not None:
                options.write_out(out_file, sig.to_json(), force=force)

        try:
            data = send_transaction(
                load,
                share=path,
                account=account,
                permits=options.read_permits(permit or []),
                rpc_url=rpc_url,
                wait=wait,
                confirmations=confirmations,
                retry_seconds=timeout,
                receipt_timeout=receipt_timeout,
                yes=yes,
                source=source,
                keys=keyring(passphrase_file),
                ui=CliUi(),
                on_signed=on_signed,
                again=again,
                until=chainopts.until(finalized),
            )
        except TransientError as exc:
            from mpcwallet.errors import NotYetMined

            if signed and not isinstance(exc, NotYetMined):
                # recorded before the attempt: it may or may not have reached the node
                tx_hash = "0x" + signed[0].tx_hash.hex()
                out().info(
                    f"signed and recorded {tx_hash}, but the node did not confirm receiving it; "
                    f"send it again with: mpc tx status {tx_hash} --wait (or mpc broadcast "
                    f"--raw 0x{signed[0].raw.hex()})"
                )
            raise
        out().success(data, human_broadcast(data))
