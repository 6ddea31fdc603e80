"""Broadcast a signed transaction, and send (sign + broadcast) in one step."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpcwallet.errors import BadInput, NotYetMined, PeerTimeout

if TYPE_CHECKING:
    from mpcwallet.evm.signature import SignedTx
    from mpcwallet.evm.txjson import UnsignedTx
    from mpcwallet.wallet.ports import Keyring, Ui


def not_yet_mined(exc: PeerTimeout, tx_hash: bytes, raw: bytes) -> NotYetMined:
    """After a receipt wait times out the transaction was sent: never "not broadcast"; the
    hash, and the command that checks it.

    Re-sending the same raw transaction is harmless (the node answers "already known") and
    ``--wait`` then prints the receipt once it is mined.
    """
    return NotYetMined(
        f"sent, not yet mined: 0x{tx_hash.hex()} ({exc.message.split(';')[0]}). It may still be "
        f"mined; check it with: mpc broadcast --raw 0x{raw.hex()} --wait",
        field="receipt",
    )


def broadcast(
    raw: bytes,
    *,
    rpc_url: str | None,
    wait: bool,
    confirmations: int,
    retry_seconds: float | None,
    receipt_timeout: float,
    ui: Ui,
) -> dict[str, Any]:
    """Send a signed raw transaction to the node (its chain id must match the transaction's);
    with ``wait``, also its receipt after ``confirmations`` blocks."""
    from mpcwallet.evm.address import to_checksum
    from mpcwallet.evm.signature import raw_sender
    from mpcwallet.wallet.rpc import required_rpc_url, rpc_client

    tx, sender = raw_sender(raw)  # refuses anything that is not a decodable, recoverable tx
    url = required_rpc_url(rpc_url)
    if confirmations < 1:
        raise BadInput("confirmations: must be at least 1", field="confirmations")
    client = rpc_client(url, retry_seconds, ui)
    client.check_chain_id(tx.chain_id)
    with ui.step(f"broadcasting to {client.display_url}"):
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
        ui.info(f"sent 0x{tx_hash.hex()}; waiting for {confirmations} confirmation(s)")
        try:
            with ui.step(f"waiting for {confirmations} confirmation(s) of 0x{tx_hash.hex()}"):
                receipt = client.wait_receipt(
                    tx_hash, confirmations=confirmations, timeout=receipt_timeout
                )
        except PeerTimeout as exc:
            raise not_yet_mined(exc, tx_hash, raw) from None
        created = receipt.get("contract_address")
        if isinstance(created, str):  # a contract creation: where the contract now lives
            from mpcwallet.evm.address import parse_address

            receipt["contract_address"] = to_checksum(parse_address(created, "contractAddress"))
        data["receipt"] = receipt
    return data


def require_rpc_for_send(rpc_url: str | None) -> None:
    from mpcwallet.evm.endpoint import resolve_rpc_url

    if resolve_rpc_url(rpc_url) is None:
        raise BadInput(
            "mpc send needs an RPC endpoint: pass --rpc-url or set MPC_RPC_URL "
            "(or use `mpc sign` offline and `mpc broadcast` later)",
            field="rpc_url",
        )


def send_transaction(
    tx: UnsignedTx | Callable[[], UnsignedTx],
    *,
    share: Path,
    account: int = 0,
    permits: list[dict[str, Any]] | None = None,
    rpc_url: str | None = None,
    wait: bool = True,
    confirmations: int = 1,
    retry_seconds: float | None = None,
    receipt_timeout: float = 300.0,
    yes: bool = False,
    source: str = "tx",
    keys: Keyring,
    ui: Ui,
    on_signed: Callable[[SignedTx], None] | None = None,
) -> dict[str, Any]:
    """Sign ``tx`` with the co-signer and broadcast it (an RPC endpoint is required).

    ``on_signed`` sees the signature before it is broadcast (the CLI writes ``--out`` there).
    A transient broadcast failure raises with the signature already made: the raw transaction
    is public, so the caller may keep it and broadcast later."""
    from mpcwallet.wallet.sign import sign_transaction

    require_rpc_for_send(rpc_url)
    result = sign_transaction(
        tx,
        share=share,
        account=account,
        permits=permits,
        rpc_url=rpc_url,
        retry_seconds=retry_seconds,
        yes=yes,
        source=source,
        keys=keys,
        ui=ui,
    )
    signed = result.signed
    if on_signed is not None:
        on_signed(signed)
    ui.info(f"signed 0x{signed.tx_hash.hex()} by {signed.sender}; broadcasting")
    data = broadcast(
        signed.raw,
        rpc_url=rpc_url,
        wait=wait,
        confirmations=confirmations,
        retry_seconds=retry_seconds,
        receipt_timeout=receipt_timeout,
        ui=ui,
    )
    data["signing_hash"] = "0x" + signed.signing_hash.hex()
    data["raw_tx"] = "0x" + signed.raw.hex()
    data["account"] = account
    data["preview"] = result.preview
    return data
