"""The record of sent transactions: status (following one, which re-broadcasts it if the node
lost it), the list, and replacing a stuck one (speed-up, cancel).

A replacement is a new transaction at the same nonce with both fee fields raised by at least
10 % (the node's replacement rule) and enough for the current base fee. It is signed like any
other transaction: previewed, checked by the co-signer's policy, permits if the policy asks for
them. A cancel is a zero-value transfer from the account to itself (21000 gas, no data), as
wallets do it. Whichever transaction at that nonce is mined, the others become REPLACED.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mpcwallet.errors import BadInput, NotFound, NotPending

if TYPE_CHECKING:
    from mpcwallet.chain.store import TxRecord
    from mpcwallet.chain.tracker import Tracker
    from mpcwallet.wallet.ports import Keyring, Ui


def _hash(text: str) -> str:
    from mpcwallet.evm.address import is_hex

    value = text.strip().lower()
    if not (value.startswith("0x") and len(value) == 66 and is_hex(value[2:])):
        raise BadInput(f"{text!r}: a transaction hash is 0x and 64 hex digits", field="hash")
    return value


def find_record(tx_hash: str) -> TxRecord:
    from mpcwallet.chain.store import open_store, store_path

    value = _hash(tx_hash)
    rec = open_store().get_tx(value) if store_path().exists() else None
    if rec is None:
        raise NotFound(
            f"{value} is not in this home's record ({store_path()}): only transactions sent "
            "with `mpc send`, `mpc broadcast` or `mpc serve` from this MPC_HOME are followed",
            field="hash",
        )
    return rec


def _tracker(rec: TxRecord, rpc_url: str | None, retry: float | None, n: int | None,
             ui: Ui) -> Tracker:  # fmt: skip
    from mpcwallet.wallet.rpc import required_rpc_url
    from mpcwallet.wallet.send import chain_for

    return chain_for(required_rpc_url(rpc_url), rec.chain_id, retry, n, ui)


def status(
    tx_hash: str,
    *,
    rpc_url: str | None,
    retry_seconds: float | None,
    confirmations: int | None,
    wait: bool,
    until: str,
    timeout: float,
    ui: Ui,
) -> dict[str, Any]:
    """Look at the chain once (or, with ``wait``, until ``until``) and report the record."""
    from mpcwallet.wallet.send import describe, follow, interrupted

    rec = find_record(tx_hash)
    tracker = _tracker(rec, rpc_url, retry_seconds, confirmations, ui)
    try:
        if wait:
            data = follow(tracker, rec, until=until, timeout=timeout, ui=ui)
        else:
            rec, summary = tracker.poll(rec)
            data = {"receipt": summary}
    except KeyboardInterrupt:
        raise interrupted(rec) from None
    rec = tracker.store.get_tx(rec.hash) or rec
    return {**describe(rec), **data, **record_facts(rec, tracker)}


def record_facts(rec: TxRecord, tracker: Tracker | None = None) -> dict[str, Any]:
    from mpcwallet.chain.store import open_store

    store = tracker.store if tracker is not None else open_store()
    return {
        "state": rec.state,
        "kind": rec.kind,
        "replaces": rec.replaces,
        "detail": rec.detail,
        "block": rec.block_number,
        "events": store.events(rec.hash),
    }


def list_records() -> list[dict[str, Any]]:
    from mpcwallet.chain.store import open_store, store_path

    if not store_path().exists():
        return []
    return [{k: v for k, v in rec.to_json().items() if k != "raw"} for rec in open_store().txs()]


def replace_transaction(
    tx_hash: str,
    *,
    cancel: bool,
    share: Path,
    permits: list[dict[str, Any]] | None,
    rpc_url: str | None,
    retry_seconds: float | None,
    wait: bool,
    receipt_timeout: float,
    yes: bool,
    keys: Keyring,
    ui: Ui,
) -> dict[str, Any]:
    """Sign and send a speed-up (``cancel`` False) or a cancel of the pending ``tx_hash``."""
    from mpcwallet.chain.outgoing import new_record, replacement_fees
    from mpcwallet.chain.rules import BROADCAST
    from mpcwallet.evm.address import parse_address
    from mpcwallet.evm.signature import raw_sender
    from mpcwallet.wallet.send import send_recorded, sender_lock
    from mpcwallet.wallet.sign import sign_transaction

    rec = find_record(tx_hash)
    tracker = _tracker(rec, rpc_url, retry_seconds, None, ui)
    rec, _ = tracker.poll(rec)
    if rec.state != BROADCAST:
        raise NotPending(
            f"{rec.hash} is {rec.state} ({rec.detail}); only a transaction not yet mined can be "
            "replaced",
            field="hash",
        )
    old, _ = raw_sender(bytes.fromhex(rec.raw[2:]))
    fees = replacement_fees(old, tracker.node)
    if cancel:
        new = old.with_fields(
            to=parse_address(rec.sender, "from"), value=0, data=b"", gas=21000, access_list=(),
            **fees,
        )  # fmt: skip
    else:
        new = old.with_fields(**fees)
    account = _account_of(rec, share)
    what = "cancel" if cancel else "speed-up"
    ui.info(f"{what} of {rec.hash}: same nonce {rec.nonce}, fees raised {_fees(old, new)}")

    def guard(tx: Any, sender: str) -> None:
        from mpcwallet.chain.outgoing import check_nonce

        check_nonce(tracker.store, tracker.node, chain_id=tx.chain_id, sender=sender,
                    nonce=tx.nonce, replacing=rec.hash)  # fmt: skip

    with sender_lock(rec.chain_id, rec.sender):
        result = sign_transaction(
            new,
            share=share,
            account=account,
            permits=permits,
            rpc_url=rpc_url,
            retry_seconds=retry_seconds,
            yes=yes,
            source=what,
            keys=keys,
            ui=ui,
            guard=guard,
        )
        signed = result.signed
        replacement = new_record(
            tx_hash=signed.tx_hash,
            raw=signed.raw,
            chain_id=rec.chain_id,
            sender=signed.sender,
            nonce=rec.nonce,
            kind=what,
            content=None if cancel else rec.content,
            replaces=rec.hash,
            account=account,
            key_id=rec.key_id,
        )
        replacement = tracker.store.record_tx(replacement)
    data = send_recorded(
        tracker, replacement, wait=wait, until="CONFIRMED", timeout=receipt_timeout, ui=ui
    )
    data.update(replaces=rec.hash, kind=what, preview=result.preview)
    data["raw_tx"] = "0x" + signed.raw.hex()
    return data


def _account_of(rec: TxRecord, share: Path) -> int:
    """The account of ``share`` that sent ``rec`` (as recorded, checked against the share)."""
    from mpcwallet.accounts import account_key
    from mpcwallet.storage.store import load_header

    header = load_header(share)
    candidates = [rec.account] if rec.account is not None else list(range(20))
    for account in candidates:
        if account is not None and account_key(header, share, account)[1] == rec.sender:
            return account
    raise BadInput(
        f"{rec.hash} was sent by {rec.sender}, which is not an account of {share}; pass the "
        "key that sent it with --key or --share",
        field="share",
    )


def _fees(old: Any, new: Any) -> str:
    from mpcwallet.evm.units import format_gwei

    if new.gas_price is not None:
        return f"gasPrice {format_gwei(old.gas_price)} -> {format_gwei(new.gas_price)} gwei"
    return (
        f"maxFeePerGas {format_gwei(old.max_fee_per_gas)} -> "
        f"{format_gwei(new.max_fee_per_gas)} gwei, maxPriorityFeePerGas "
        f"{format_gwei(old.max_priority_fee_per_gas)} -> "
        f"{format_gwei(new.max_priority_fee_per_gas)} gwei"
    )
