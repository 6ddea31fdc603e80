"""Following a sent transaction: one poll moves its record by the rule in :mod:`.rules`.

Every poll reads the receipt again *and* the canonical block hash at the receipt's height: a
node may still answer a receipt from a block that a reorg replaced. A receipt that vanished or
whose block is no longer canonical means the transaction left the chain: the record goes back
to BROADCAST and the *same* signed transaction is sent again (no new signature; a node answers
"already known" if it kept it). A receipt in another block than recorded is a reorg too: the
depth is counted from the new block, so CONFIRMED may go back to CONFIRMING. FINALIZED is never
polled again, so it is never reverted.

A pending transaction whose nonce the account has used by another transaction is REPLACED (by
our own speed-up or cancel when the record has it, else by a transaction sent elsewhere).
Every state change is one event in the store and one ``on_event`` line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mpcwallet.chain.node import Node, quantity, receipt_summary
from mpcwallet.chain.rules import (
    BROADCAST,
    CONFIRMED,
    CONFIRMING,
    DONE,
    FINALIZED,
    ORDER,
    REPLACED,
    ChainRules,
)
from mpcwallet.chain.store import ChainStore, TxRecord
from mpcwallet.errors import ChainError, PeerTimeout

EventFn = Callable[[str], None]
MINED = (CONFIRMING, CONFIRMED, FINALIZED)


class Tracker:
    def __init__(
        self, node: Node, store: ChainStore, rules: ChainRules, on_event: EventFn | None = None
    ) -> None:
        self.node = node
        self.store = store
        self.rules = rules
        self.on_event = on_event or (lambda _msg: None)

    def _moved(self, old: TxRecord, new: TxRecord, why: str) -> TxRecord:
        if new.state != old.state:
            self.on_event(f"{new.hash}: {old.state} -> {new.state} ({why})")
        return new

    def poll(self, rec: TxRecord) -> tuple[TxRecord, dict[str, Any] | None]:
        """Read the chain once and move ``rec``; returns the record and, if it is mined, its
        receipt summary."""
        rec = self.store.get_tx(rec.hash) or rec
        if rec.state in DONE:
            return rec, None
        receipt = self.node.receipt(rec.hash)
        head = self.node.head()
        if receipt is not None:
            block = quantity(receipt["blockNumber"], "receipt blockNumber")
            if self.node.block_hash(block) != str(receipt["blockHash"]).lower():
                receipt = None  # a receipt from a block the chain no longer holds
        if receipt is None:
            return self._unmined(rec), None
        summary = receipt_summary(receipt, head)
        block, block_hash = summary["block"], summary["block_hash"]
        state = self.rules.state_at(block, head, self.node.finalized())
        moved = rec.block_hash is not None and rec.block_hash != block_hash
        if moved:
            why = f"reorg: now in block {block}, was in block {rec.block_number}"
        elif state == FINALIZED:
            why = f"block {block} is finalized"
        elif rec.state == BROADCAST:
            why = f"mined in block {block}, {summary['confirmations']} confirmation(s)"
        else:
            why = f"{summary['confirmations']} confirmation(s)"
        new = self.store.transition(
            rec,
            state,
            why,
            block_number=block,
            block_hash=block_hash,
            status=summary["status"],
        )
        self._moved(rec, new, why)
        self._replace_siblings(new)
        return new, summary

    def _replace_siblings(self, mined: TxRecord) -> None:
        """Other records at a mined transaction's nonce can never be mined now."""
        for other in self.store.at_nonce(mined.chain_id, mined.sender, mined.nonce):
            if other.hash != mined.hash and other.state == BROADCAST:
                why = f"replaced by {mined.hash} (mined at nonce {mined.nonce})"
                self._moved(other, self.store.transition(other, REPLACED, why), why)

    def _unmined(self, rec: TxRecord) -> TxRecord:
        if rec.state in (CONFIRMING, CONFIRMED):
            why = (
                f"reorg: no longer in block {rec.block_number}; re-broadcasting the same "
                "signed transaction"
            )
            rec = self._moved(
                rec,
                self.store.transition(
                    rec, BROADCAST, why, block_number=None, block_hash=None, status=None
                ),
                why,
            )
            self._rebroadcast(rec)
            return rec
        for other in self.store.at_nonce(rec.chain_id, rec.sender, rec.nonce):
            if other.hash != rec.hash and other.state in MINED:
                why = f"replaced by {other.hash} (mined at nonce {rec.nonce})"
                return self._moved(rec, self.store.transition(rec, REPLACED, why), why)
        if self.node.account_nonce(rec.sender) > rec.nonce:
            if self.node.receipt(rec.hash) is not None:
                return rec  # mined between the two reads: the next poll counts it
            why = f"nonce {rec.nonce} was used by a transaction not recorded here"
            return self._moved(rec, self.store.transition(rec, REPLACED, why), why)
        if not self.node.knows(bytes.fromhex(rec.hash[2:])):
            self._rebroadcast(rec)
        return rec

    def _rebroadcast(self, rec: TxRecord) -> None:
        try:
            self.node.client.send_raw(bytes.fromhex(rec.raw[2:]))
        except ChainError as exc:  # e.g. nonce too low: the next poll sees what took it
            self.store.event(rec.hash, rec.state, f"re-broadcast refused: {exc.message}")
            self.on_event(f"{rec.hash}: re-broadcast refused: {exc.message}")
            return
        self.store.event(rec.hash, rec.state, "re-broadcast (the same signed transaction)")
        self.on_event(f"{rec.hash}: re-broadcast (the same signed transaction)")

    def wait(
        self, rec: TxRecord, until: str = CONFIRMED, timeout: float = 300.0
    ) -> tuple[TxRecord, dict[str, Any] | None]:
        """Poll until ``rec`` reaches ``until`` (or REPLACED/FAILED); PeerTimeout after
        ``timeout`` seconds. The summary is that of the last poll that saw it mined."""
        deadline = time.monotonic() + timeout
        delay = 0.1
        summary: dict[str, Any] | None = None
        while True:
            rec, seen = self.poll(rec)
            summary = seen or (summary if rec.state in MINED else None)
            if rec.state not in ORDER or ORDER[rec.state] >= ORDER[until]:
                if summary is None and rec.state in MINED:
                    summary = self.summary(rec)
                return rec, summary
            left = deadline - time.monotonic()
            if left <= 0:
                raise PeerTimeout(f"{rec.hash} is {rec.state}, not {until}, after {timeout:g} s")
            time.sleep(min(delay, left))  # poll interval
            delay = min(delay * 1.5, 2.0)

    def summary(self, rec: TxRecord) -> dict[str, Any] | None:
        receipt = self.node.receipt(rec.hash)
        return None if receipt is None else receipt_summary(receipt, self.node.head())
