"""Before and at the moment a signed transaction leaves: the nonce guard, the duplicate check,
record-then-send, and the fees of a replacement.

Order of ``send``: nonce guard (before signing) -> sign -> :func:`record_and_send`: the record
is committed (fsynced) *before* ``eth_sendRawTransaction``, so whatever happens next (Ctrl-C, a
crash, a lost connection) the home knows a transaction with this hash and nonce may be on its
way, and the next ``send`` neither pays twice nor reuses the nonce.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from typing import TYPE_CHECKING, Any

from mpcwallet.chain.rules import BROADCAST, FAILED, UNMINED
from mpcwallet.chain.store import ChainStore, TxRecord
from mpcwallet.errors import ChainError, NonceGap, NonceInUse, NonceTooLow, TransientError

if TYPE_CHECKING:
    from mpcwallet.chain.node import Node
    from mpcwallet.evm.txjson import UnsignedTx

# The node's replacement rule: geth's txpool.pricebump (10 %) on both fee fields.
PRICE_BUMP_PERCENT = 10


def content_key(tx: UnsignedTx, sender: str) -> str:
    """What was asked for: the transaction as given (before the node filled nonce, gas, fees)
    and its sender. Two sends of the same tx.json have the same key."""
    doc = {"from": sender, "tx": tx.to_json()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _age(rec: TxRecord) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(rec.created))


def check_nonce(
    store: ChainStore,
    node: Node | None,
    *,
    chain_id: int,
    sender: str,
    nonce: int,
    replacing: str | None = None,
    broadcasting: bool = True,
) -> None:
    """Refuse a nonce that would silently replace a pending transaction of ours, or (when the
    signature is for broadcasting now) one that was used already or skips unused nonces.

    ``replacing``: the hash a speed-up or cancel replaces; its nonce is then the one to use."""
    pending = [r for r in store.pending(chain_id, sender) if r.state in UNMINED]
    if replacing is not None:
        target = next((r for r in pending if r.hash == replacing), None)
        if target is None or target.nonce != nonce:
            raise NonceInUse(f"a replacement must use the nonce of pending {replacing}")
        return
    for rec in pending:
        if rec.nonce == nonce:
            raise NonceInUse(
                f"nonce {nonce} of {sender} belongs to {rec.hash} (sent {_age(rec)}), which is "
                f"still pending; a second signature would replace it. Wait for it "
                f"(`mpc tx status {rec.hash} --wait`; it re-broadcasts it if the node lost it), "
                f"or replace it on purpose: `mpc tx speed-up {rec.hash}` / `mpc tx cancel "
                f"{rec.hash}`",
                field="nonce",
            )
    if not broadcasting or node is None:
        return
    used = node.account_nonce(sender, "latest")
    if nonce < used:
        raise NonceTooLow(
            f"nonce {nonce} of {sender} was used already (the account has sent {used} "
            "transactions); nothing was signed. Remove 'nonce' from tx.json to use the next one",
            field="nonce",
        )
    following = max([used, node.account_nonce(sender, "pending")] + [r.nonce + 1 for r in pending])
    if nonce > following:
        raise NonceGap(
            f"nonce {nonce} of {sender} would skip nonce(s) {following}..{nonce - 1}: the "
            "transaction would wait in the node's queue until they are used; nothing was "
            "signed. Remove 'nonce' from tx.json to use the next one",
            field="nonce",
        )


def record_and_send(
    store: ChainStore,
    node: Node,
    rec: TxRecord,
) -> TxRecord:
    """Commit ``rec`` (BROADCAST), then hand the raw transaction to the node.

    A node that refuses it for good (nonce too low, funds, fee) marks it FAILED and raises; a
    transient failure leaves it BROADCAST (it may have arrived; ``mpc tx status`` sends it
    again) and raises."""
    rec = store.record_tx(rec)
    if rec.state == FAILED:  # refused before (funds, fee); the same raw tx offered again
        rec = store.transition(rec, BROADCAST, "sent again")
    try:
        node.client.send_raw(bytes.fromhex(rec.raw[2:]))
    except TransientError:
        raise
    except ChainError as exc:
        store.transition(rec, FAILED, f"the node refused it: {exc.code}")
        raise
    return rec


def new_record(
    *,
    tx_hash: bytes,
    raw: bytes,
    chain_id: int,
    sender: str,
    nonce: int,
    kind: str,
    content: str | None = None,
    replaces: str | None = None,
    account: int | None = None,
    key_id: str | None = None,
) -> TxRecord:
    now = time.time()
    return TxRecord(
        hash="0x" + tx_hash.hex(),
        chain_id=chain_id,
        sender=sender,
        nonce=nonce,
        raw="0x" + raw.hex(),
        kind=kind,
        state=BROADCAST,
        created=now,
        updated=now,
        content=content,
        replaces=replaces,
        account=account,
        key_id=key_id,
    )


def bumped(old: int, floor: int = 0) -> int:
    """``old`` raised by at least PRICE_BUMP_PERCENT (and by 1 wei at least), not below
    ``floor``."""
    return max(math.ceil(old * (100 + PRICE_BUMP_PERCENT) / 100), old + 1, floor)


def replacement_fees(tx: UnsignedTx, node: Node) -> dict[str, Any]:
    """Fee fields for a replacement of ``tx``: each raised by at least 10 %, and enough for
    the current base fee (2x base + tip, as a fresh transaction would be filled)."""
    from mpcwallet.evm.txjson import TYPE_1559

    if tx.type == TYPE_1559:
        assert tx.max_fee_per_gas is not None and tx.max_priority_fee_per_gas is not None
        tip = bumped(tx.max_priority_fee_per_gas)
        latest = node.client.call("eth_getBlockByNumber", "latest", False)
        base_hex = latest.get("baseFeePerGas") if isinstance(latest, dict) else None
        base = int(base_hex, 16) if isinstance(base_hex, str) else 0
        return {
            "max_priority_fee_per_gas": tip,
            "max_fee_per_gas": bumped(tx.max_fee_per_gas, 2 * base + tip),
        }
    assert tx.gas_price is not None
    return {"gas_price": bumped(tx.gas_price)}
