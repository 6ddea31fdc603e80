"""BROADCAST -> CONFIRM -> FINALIZED: the signed transaction handed to the chain layer.

With an RPC URL the service records each signed transaction in the chain record
(:class:`~mpcwallet.chain.sql_store.SqlChainStore`, in the session store) *before* sending it
(:func:`mpcwallet.chain.outgoing.record_and_send`) and :func:`follow` moves the requests by what
the one tracker (:class:`~mpcwallet.chain.tracker.Tracker`: receipts, canonical hashes, reorgs,
re-broadcast, finality) reports: CONFIRMING/CONFIRMED -> CONFIRM, FINALIZED -> FINALIZED,
REPLACED/FAILED -> FAILED; a reorg back to BROADCAST is a state change too. A request with
replacements (:mod:`.replace`) follows whichever signature at its nonce was mined; a mined
cancel ends it FAILED (``cancelled``) once final. Nonces start from
the chain's pending count for the address, never below the store's counter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mpcwallet.chain import rules as r
from mpcwallet.chain.node import Node
from mpcwallet.chain.sql_store import SqlChainStore
from mpcwallet.chain.store import TxRecord
from mpcwallet.chain.tracker import Tracker
from mpcwallet.errors import ChainError, TransientError
from mpcwallet.store import Store
from mpcwallet.store.waas_records import TxRow

__all__ = ["ChainLink", "follow"]

_STATE = {
    r.BROADCAST: "BROADCAST",
    r.CONFIRMING: "CONFIRM",
    r.CONFIRMED: "CONFIRM",
    r.FINALIZED: "FINALIZED",
    r.REPLACED: "FAILED",
    r.FAILED: "FAILED",
}


@dataclass
class ChainLink:
    node: Node
    records: SqlChainStore
    tracker: Tracker

    @classmethod
    def connect(cls, rpc_url: str, store: Store, chain_id: int) -> ChainLink:
        from mpcwallet.chain.rules import rules_for
        from mpcwallet.evm.rpc import RpcClient
        from mpcwallet.waas.deposits import audit_hook

        node = Node(RpcClient(rpc_url))
        records = SqlChainStore(store.db, on_deposit=audit_hook(store))
        return cls(node, records, Tracker(node, records, rules_for(chain_id)))

    def nonce_floor(self, address: str) -> int:
        return self.node.account_nonce(address, "pending")

    def send(self, store: Store, row: TxRow, signed: Any) -> TxRow:
        """Record and send; SIGN_PENDING -> BROADCAST (or FAILED when the node refuses it)."""
        from mpcwallet.chain.outgoing import new_record, record_and_send

        assert row.tx_json is not None and row.nonce is not None
        rec = new_record(
            tx_hash=signed.tx_hash,
            raw=signed.raw,
            chain_id=row.tx_json["chainId"],
            sender=signed.sender,
            nonce=row.nonce,
            kind="send",
            key_id=row.wallet_id,
        )
        try:
            record_and_send(self.records, self.node, rec)
        except TransientError:
            pass  # recorded: the tracker sends it again
        except ChainError as exc:
            return (
                store.move_tx(
                    row.tx_request_id,
                    ("SIGN_PENDING",),
                    "FAILED",
                    reason_code=exc.code,
                    reason=exc.message,
                )
                or row
            )
        return (
            store.move_tx(
                row.tx_request_id,
                ("SIGN_PENDING",),
                "BROADCAST",
                events=[("TX_BROADCAST", row.tenant, row.tx_request_id, {"hash": rec.hash})],
            )
            or row
        )


def _followed(link: ChainLink, row: TxRow) -> TxRecord | None:
    """The record that decides the request's state: of the signatures at its nonce (the
    original and any speed-up or cancel), the one mined, else one still pending, else the
    newest (REPLACED or FAILED)."""
    newest = link.records.get_tx(row.signed_hash or "")
    if newest is None or row.nonce is None:
        return newest
    polled = []
    for rec in link.records.at_nonce(newest.chain_id, newest.sender, row.nonce):
        try:
            polled.append(link.tracker.poll(rec)[0])
        except TransientError:
            polled.append(rec)
    for states in ((r.CONFIRMING, r.CONFIRMED, r.FINALIZED), (r.BROADCAST,)):
        for rec in polled:
            if rec.state in states:
                return rec
    return link.records.get_tx(newest.hash)


def follow(store: Store, link: ChainLink) -> int:
    """One pass over the requests in BROADCAST or CONFIRM; the number that changed state."""
    moved = 0
    for row in store.txs_in_states(("BROADCAST", "CONFIRM")):
        rec = _followed(link, row)
        if rec is None:
            continue
        new = _STATE.get(rec.state, row.state)
        code = f"chain_{rec.state.lower()}" if new == "FAILED" else None
        if rec.kind == "cancel" and new == "FINALIZED":
            new, code = "FAILED", "cancelled"
        if new == row.state:
            continue
        got = store.move_tx(
            row.tx_request_id,
            (row.state,),
            new,
            reason_code=code,
            reason=(rec.detail or code) if code else None,
            events=[
                (
                    "TX_CHAIN_STATE",
                    row.tenant,
                    row.tx_request_id,
                    {"chain_state": rec.state, "block": rec.block_number, "hash": rec.hash},
                )
            ],
        )
        moved += got is not None
    return moved
