"""`mpc broadcast` (a signed raw tx to a node) and `mpc send` (sign + broadcast in one step)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mpcwallet.cli import options
from mpcwallet.errors import BadInput, FileFormatError, NotYetMined, PeerTimeout, TransientError

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


def broadcast_raw(
    raw: bytes,
    *,
    rpc_url: str | None,
    wait: bool,
    confirmations: int,
    retry_seconds: float | None,
    receipt_timeout: float,
) -> dict[str, Any]:
    from mpcwallet.cli.output import out
    from mpcwallet.cli.sign import rpc_client
    from mpcwallet.evm.address import to_checksum
    from mpcwallet.evm.endpoint import resolve_rpc_url
    from mpcwallet.evm.signature import raw_sender

    tx, sender = raw_sender(raw)  # refuses anything that is not a decodable, recoverable tx
    url = resolve_rpc_url(rpc_url)
    if url is None:
        raise BadInput(
            "no RPC endpoint: pass --rpc-url or set MPC_RPC_URL (or ETH_RPC_URL)", field="rpc_url"
        )
    if confirmations < 1:
        raise BadInput("confirmations: must be at least 1", field="confirmations")
    client = rpc_client(url, retry_seconds)
    client.check_chain_id(tx.chain_id)
    from mpcwallet.cli.progress import step

    with step(f"broadcasting to {client.display_url}"):
        tx_hash = client.send_raw(raw)
    data: dict[str, Any] = {
        "hash": "0x" + tx_hash.hex(),
        "from": sender,
        "to": to_checksum(tx.to) if tx.to is not None else None,
        "value": tx.value,
        "chain_id": tx.chain_id,
        "nonce": tx.nonce,
    }
    if wait:
        from mpcwallet.cli.receipt import not_yet_mined

        out().info(f"sent 0x{tx_hash.hex()}; waiting for {confirmations} confirmation(s)")
        try:
            with step(f"waiting for {confirmations} confirmation(s) of 0x{tx_hash.hex()[:12]}"):
                receipt = client.wait_receipt(
                    tx_hash, confirmations=confirmations, timeout=receipt_timeout
                )
        except PeerTimeout as exc:
            raise not_yet_mined(exc, tx_hash, raw) from None
        data["receipt"] = receipt
    return data


def human_broadcast(data: dict[str, Any]) -> str:
    lines = [f"tx hash: {data['hash']}"]
    receipt = data.get("receipt")
    if receipt:
        lines.append(
            f"mined: status {receipt['status']} in block {receipt['block']}, "
            f"gas used {receipt['gas_used']}, {receipt['confirmations']} confirmation(s)"
        )
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
        confirmations: options.Confirmations = 1,
        rpc_url: options.RpcUrl = None,
        timeout: options.RpcTimeout = None,
        receipt_timeout: options.ReceiptTimeout = 300.0,
    ) -> None:
        """Send a signed transaction to the node; with --wait print its receipt."""
        from mpcwallet.cli.output import out

        data = broadcast_raw(
            read_raw(raw, sig),
            rpc_url=rpc_url,
            wait=wait,
            confirmations=confirmations,
            retry_seconds=timeout,
            receipt_timeout=receipt_timeout,
        )
        out().success(data, human_broadcast(data))

    @app.command("send")
    def send(
        tx: options.TxFile,
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
        confirmations: options.Confirmations = 1,
        force: options.ForceOut = False,
        passphrase_file: options.SharePassphraseFile = None,
        timeout: options.RpcTimeout = None,
        account: options.Account = 0,
        receipt_timeout: options.ReceiptTimeout = 300.0,
        permit: options.Permits = None,
        yes: options.Yes = False,
    ) -> None:
        """Sign with the co-signer and broadcast in one step (needs an RPC endpoint).

        Shows what is signed first and, at a terminal, asks for confirmation (--yes skips it).
        """
        from mpcwallet.cli.output import out
        from mpcwallet.cli.sign import sign_transaction
        from mpcwallet.evm.endpoint import resolve_rpc_url

        if resolve_rpc_url(rpc_url) is None:
            raise BadInput(
                "mpc send needs an RPC endpoint: pass --rpc-url or set MPC_RPC_URL "
                "(or use `mpc sign` offline and `mpc broadcast` later)",
                field="rpc_url",
            )
        report: dict[str, Any] = {}
        _, signed = sign_transaction(
            tx_file=tx,
            share=share,
            out_file=out_file,
            rpc_url=rpc_url,
            force=force,
            passphrase_file=passphrase_file,
            retry_seconds=timeout,
            account=account,
            permits=permit,
            key=key,
            yes=yes,
            report=report,
        )
        out().info(f"signed 0x{signed.tx_hash.hex()} by {signed.sender}; broadcasting")
        try:
            data = broadcast_raw(
                signed.raw,
                rpc_url=rpc_url,
                wait=wait,
                confirmations=confirmations,
                retry_seconds=timeout,
                receipt_timeout=receipt_timeout,
            )
        except NotYetMined:
            raise  # sent: the message says how to check it
        except TransientError:
            if out_file is None:  # keep the signature usable: a raw tx is public, not a secret
                out().info(
                    f"not broadcast; retry later with: mpc broadcast --raw 0x{signed.raw.hex()}"
                )
            raise
        data["signing_hash"] = "0x" + signed.signing_hash.hex()
        data["raw_tx"] = "0x" + signed.raw.hex()
        data["account"] = account
        data.update(report)
        out().success(data, human_broadcast(data))
