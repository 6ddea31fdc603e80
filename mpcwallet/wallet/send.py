"""Broadcast a signed transaction, and send (sign + broadcast) in one step, through the chain
layer (:mod:`mpcwallet.chain`): recorded in ``MPC_HOME/chain.db`` before it is sent, followed to
CONFIRMED (or FINALIZED) across reorgs, never paid twice by a second ``send`` of the same
tx.json while the first is pending."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpcwallet.errors import (
    BadInput,
    ChainError,
    NotYetMined,
    SentNotConfirmed,
    TransientError,
    TxReverted,
)

if TYPE_CHECKING:
    from mpcwallet.chain.store import TxRecord
    from mpcwallet.chain.tracker import Tracker
    from mpcwallet.evm.signature import SignedTx
    from mpcwallet.evm.txjson import UnsignedTx
    from mpcwallet.wallet.ports import Keyring, Ui


def not_yet_confirmed(reason: str, rec: TxRecord) -> NotYetMined:
    """The wait ended (time, or the node went away) after the transaction was sent: never
    "not broadcast"; the hash, and the command that goes on following it."""
    return NotYetMined(
        f"sent, not yet confirmed: {rec.hash} ({reason}). It may still be mined; follow it "
        f"with: mpc tx status {rec.hash} --wait (it sends the same signed transaction again if "
        "the node lost it)",
        field="receipt",
        tx_hash=rec.hash,
    )


def interrupted(rec: TxRecord) -> SentNotConfirmed:
    return SentNotConfirmed(
        f"interrupted: sent, not yet confirmed: {rec.hash} (nonce {rec.nonce} of "
        f"{rec.sender}). It was signed and recorded before it was sent and may still be "
        f"mined; follow it with: mpc tx status {rec.hash} --wait (which sends it again if the "
        "node does not have it). Sending the same tx.json again shows it instead of paying "
        "twice",
        tx_hash=rec.hash,
    )


def follow(
    tracker: Tracker, rec: TxRecord, *, until: str, timeout: float, ui: Ui
) -> dict[str, Any]:
    """Wait for ``rec`` to reach ``until``: its state and receipt, or the error that says it
    was sent (Ctrl-C, timeout, the node gone)."""
    from mpcwallet.chain.rules import FAILED, REPLACED

    with ui.step(f"waiting for {rec.hash[:14]} to be {until}"):
        try:
            rec, summary = tracker.wait(rec, until, timeout)
        except TransientError as exc:
            raise not_yet_confirmed(exc.message.split(";")[0], rec) from None
    if rec.state in (REPLACED, FAILED):
        raise ChainError(f"{rec.hash} is {rec.state}: {rec.detail}")
    if summary is not None and summary["status"] != 1:
        raise TxReverted(
            f"transaction {rec.hash} was mined in block {summary['block']} but reverted (gas "
            f"used {summary['gas_used']}); the fee is spent, the transfer did not happen. "
            "Check the call (balance, allowance, recipient)."
        )
    return {"state": rec.state, "receipt": summary}


def chain_for(
    url: str, chain_id: int, retry_seconds: float | None, confirmations: int | None, ui: Ui
) -> Tracker:
    """The tracker of ``chain_id`` over the node at ``url`` and the home's record."""
    from mpcwallet.chain.node import Node
    from mpcwallet.chain.rules import rules_for
    from mpcwallet.chain.store import open_store
    from mpcwallet.chain.tracker import Tracker
    from mpcwallet.wallet.rpc import rpc_client

    if confirmations is not None and confirmations < 1:
        raise BadInput("confirmations: must be at least 1", field="confirmations")
    client = rpc_client(url, retry_seconds, ui)
    client.check_chain_id(chain_id)
    rules = rules_for(chain_id).with_confirmations(confirmations)
    return Tracker(Node(client), open_store(), rules, on_event=ui.info)


def send_recorded(
    tracker: Tracker,
    rec: TxRecord,
    *,
    wait: bool,
    until: str,
    timeout: float,
    ui: Ui,
) -> dict[str, Any]:
    """Record, send and (with ``wait``) follow ``rec``. From the record on, Ctrl-C says
    "sent, not yet confirmed" with the hash."""
    from mpcwallet.chain.outgoing import record_and_send

    try:
        with ui.step(f"broadcasting to {tracker.node.display_url}"):
            rec = record_and_send(tracker.store, tracker.node, rec)
        data = describe(rec)
        if wait:
            ui.info(f"sent {rec.hash}; waiting until it is {until}")
            data.update(follow(tracker, rec, until=until, timeout=timeout, ui=ui))
    except KeyboardInterrupt:
        raise interrupted(rec) from None
    return data


def describe(rec: TxRecord) -> dict[str, Any]:
    from mpcwallet.evm.address import to_checksum
    from mpcwallet.evm.signature import raw_sender

    tx, _ = raw_sender(bytes.fromhex(rec.raw[2:]))
    return {
        "hash": rec.hash,
        "from": rec.sender,
        "to": to_checksum(tx.to) if tx.to is not None else None,
        "value": tx.value,
        "chain_id": rec.chain_id,
        "nonce": rec.nonce,
        "state": rec.state,
    }


def broadcast(
    raw: bytes,
    *,
    rpc_url: str | None,
    wait: bool,
    confirmations: int | None,
    retry_seconds: float | None,
    receipt_timeout: float,
    ui: Ui,
    until: str = "CONFIRMED",
) -> dict[str, Any]:
    """Send a signed raw transaction to the node (its chain id must match the transaction's),
    recorded first; with ``wait``, follow it to ``until``."""
    from mpcwallet.chain.outgoing import new_record
    from mpcwallet.evm.address import keccak
    from mpcwallet.evm.signature import raw_sender
    from mpcwallet.wallet.rpc import required_rpc_url

    tx, sender = raw_sender(raw)  # refuses anything that is not a decodable, recoverable tx
    url = required_rpc_url(rpc_url)
    tracker = chain_for(url, tx.chain_id, retry_seconds, confirmations, ui)
    assert tx.nonce is not None
    rec = new_record(
        tx_hash=keccak(raw),
        raw=raw,
        chain_id=tx.chain_id,
        sender=sender,
        nonce=tx.nonce,
        kind="broadcast",
    )
    return send_recorded(tracker, rec, wait=wait, until=until, timeout=receipt_timeout, ui=ui)


def require_rpc_for_send(rpc_url: str | None) -> None:
    from mpcwallet.evm.endpoint import resolve_rpc_url

    if resolve_rpc_url(rpc_url) is None:
        raise BadInput(
            "mpc send needs an RPC endpoint: pass --rpc-url or set MPC_RPC_URL "
            "(or use `mpc sign` offline and `mpc broadcast` later)",
            field="rpc_url",
        )


def sender_lock(chain_id: int, sender: str) -> AbstractContextManager[None]:
    """One signature at a time per sender and chain in this home, from the nonce check to the
    committed record, so two concurrent sends never sign one nonce twice (:class:`Busy`)."""
    from mpcwallet.errors import Busy
    from mpcwallet.lifecycle.locks import home_lock

    return home_lock(
        f"send-{chain_id}-{sender.lower()}",
        lambda: Busy(
            f"another mpc process is signing a transaction from {sender} right now; nothing "
            "was signed. Retry when it is done (its nonce is then taken into account).",
            field="from",
        ),
    )


def guard_pending_nonce(tx: UnsignedTx, sender: str) -> None:
    """A signature (``mpc sign``, ``mpc serve``) whose nonce belongs to a pending transaction of
    this home is refused: it would replace that one silently (no node needed)."""
    from mpcwallet.chain.outgoing import check_nonce
    from mpcwallet.chain.store import open_store, store_path

    if tx.nonce is None or not store_path().exists():
        return
    store = open_store()
    try:
        check_nonce(
            store, None, chain_id=tx.chain_id, sender=sender, nonce=tx.nonce, broadcasting=False
        )
    finally:
        store.close()


def pending_duplicate(
    tracker: Tracker, chain_id: int, sender: str, content: str
) -> TxRecord | None:
    """A transaction of the same content still pending (after one fresh look at the chain)."""
    from mpcwallet.chain.rules import PENDING

    for rec in tracker.store.pending_content(chain_id, sender, content):
        rec, _ = tracker.poll(rec)
        if rec.state in PENDING:
            return rec
    return None


def send_transaction(
    tx: UnsignedTx | Callable[[], UnsignedTx],
    *,
    share: Path,
    account: int = 0,
    permits: list[dict[str, Any]] | None = None,
    rpc_url: str | None = None,
    wait: bool = True,
    confirmations: int | None = None,
    retry_seconds: float | None = None,
    receipt_timeout: float = 300.0,
    yes: bool = False,
    source: str = "tx",
    keys: Keyring,
    ui: Ui,
    on_signed: Callable[[SignedTx], None] | None = None,
    again: bool = False,
    until: str = "CONFIRMED",
) -> dict[str, Any]:
    """Sign ``tx`` with the co-signer and broadcast it (an RPC endpoint is required).

    A pending transaction with the same content (the same tx.json, same sender) is shown and
    followed instead of signing a second payment, unless ``again``. The nonce may neither
    replace a pending transaction of ours nor skip one. ``on_signed`` sees the signature
    before it is broadcast (the CLI writes ``--out`` there)."""
    from mpcwallet.accounts import account_key
    from mpcwallet.chain.outgoing import check_nonce, content_key, new_record
    from mpcwallet.lifecycle.quarantine import ensure_not_quarantined
    from mpcwallet.storage.store import load_header
    from mpcwallet.wallet.rpc import required_rpc_url
    from mpcwallet.wallet.sign import sign_transaction

    require_rpc_for_send(rpc_url)
    ensure_not_quarantined(share)
    header = load_header(share)
    _, sender = account_key(header, share, account)
    if callable(tx):
        tx = tx()
    tracker = chain_for(required_rpc_url(rpc_url), tx.chain_id, retry_seconds, confirmations, ui)
    content = content_key(tx, sender)
    if not again:
        dup = pending_duplicate(tracker, tx.chain_id, sender, content)
        if dup is not None:
            ui.warn(
                f"the same transaction was sent already and is still {dup.state}: {dup.hash} "
                f"(nonce {dup.nonce}); not signing a second payment (--again sends another one)"
            )
            try:
                data = describe(dup)
                data["already_pending"] = True
                if wait:
                    data.update(follow(tracker, dup, until=until, timeout=receipt_timeout, ui=ui))
            except KeyboardInterrupt:
                raise interrupted(dup) from None
            return data

    def guard(prepared: UnsignedTx, address: str) -> None:
        assert prepared.nonce is not None
        for rec in tracker.store.pending(prepared.chain_id, address):
            tracker.poll(rec)  # what the chain says of them now (mined, replaced, lost)
        check_nonce(
            tracker.store, tracker.node, chain_id=prepared.chain_id, sender=address,
            nonce=prepared.nonce,
        )  # fmt: skip

    with sender_lock(tx.chain_id, sender):  # the nonce check and the record, one at a time
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
            guard=guard,
        )
        signed = result.signed
        assert result.tx.nonce is not None
        key_id = header.get("key_id")
        rec = new_record(
            tx_hash=signed.tx_hash,
            raw=signed.raw,
            chain_id=result.tx.chain_id,
            sender=signed.sender,
            nonce=result.tx.nonce,
            kind="send",
            content=content,
            account=account,
            key_id=key_id if isinstance(key_id, str) else None,
        )
        try:
            rec = tracker.store.record_tx(rec)
        except KeyboardInterrupt:
            raise interrupted(rec) from None
    try:
        if on_signed is not None:
            on_signed(signed)
        ui.info(f"signed {rec.hash} by {signed.sender}; broadcasting")
    except KeyboardInterrupt:
        raise interrupted(rec) from None
    data = send_recorded(tracker, rec, wait=wait, until=until, timeout=receipt_timeout, ui=ui)
    data["signing_hash"] = "0x" + signed.signing_hash.hex()
    data["raw_tx"] = "0x" + signed.raw.hex()
    data["account"] = account
    data["preview"] = result.preview
    return data
