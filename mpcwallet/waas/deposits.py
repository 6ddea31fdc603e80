"""Deposits to WaaS wallets: the one deposit listener (:class:`mpcwallet.chain.deposits.Listener`)
on the service's store, and what the API shows of it.

:class:`DepositWatch` runs one bounded listener step per pass (at most ``window`` blocks) over
the addresses of every ACTIVE wallet, read afresh each pass so a new wallet is watched from the
next block on. The cursor and the deposits live in the store (migration 102), so a restarted
service resumes after the last block it committed, and a reorg rolls back what it removed. A
deposit that reaches FINALIZED, and one a reorg dropped, appends ``DEPOSIT_FINALIZED`` /
``DEPOSIT_DROPPED`` to the hash-chained audit trail in the same transaction as the state change
(:func:`audit_hook`), once per change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mpcwallet.chain.deposits import DEFAULT_WINDOW, Listener, StepResult
from mpcwallet.chain.rules import FINALIZED
from mpcwallet.chain.sql_store import DepositHook, SqlChainStore
from mpcwallet.chain.store import Deposit
from mpcwallet.errors import BadInput
from mpcwallet.store import Store
from mpcwallet.store.backend import Tx
from mpcwallet.store.base import now_ms
from mpcwallet.store.waas_records import Principal

if TYPE_CHECKING:
    from mpcwallet.waas.chainlink import ChainLink
    from mpcwallet.waas.service import Service

__all__ = ["DepositWatch", "audit_hook", "deposits_page"]


def audit_hook(store: Store) -> DepositHook:
    """Appends the audit event of a finalized or dropped deposit, for each wallet it went to."""

    def hook(tx: Tx, d: Deposit) -> None:
        event = "DEPOSIT_FINALIZED" if d.state == FINALIZED else "DEPOSIT_DROPPED"
        rows = tx.execute(
            "SELECT tenant, wallet_id FROM waas_wallets WHERE lower(address) = ?",
            (d.recipient.lower(),),
        )
        fields = {
            "chain_id": d.chain_id,
            "tx_hash": d.tx_hash,
            "log_index": d.log_index,
            "asset": d.token or "ETH",
            "amount": str(d.amount),
            "block": d.block_number,
            "block_hash": d.block_hash,
        }
        store._append_audit(  # the store's own append, inside this transaction
            tx, [(event, str(t), str(w), fields) for t, w in rows], now_ms(None)
        )

    return hook


def watched_addresses(store: Store) -> list[str]:
    with store.db.transaction(write=False) as tx:
        rows = tx.execute(
            "SELECT address FROM waas_wallets WHERE status = 'ACTIVE' AND address IS NOT NULL"
            " ORDER BY created_at"
        )
    return [str(r[0]) for r in rows]


@dataclass
class DepositWatch:
    store: Store
    link: ChainLink
    chain_id: int
    window: int = DEFAULT_WINDOW

    def begin(self) -> tuple[int, str]:
        """The cursor, set at the node's head on the very first start (so once the service is
        listening, every later block is scanned); a restart keeps the stored one."""
        cursor = self.link.records.cursor(self.chain_id)
        if cursor is None:
            self._listener().start_at(self.link.node.head())
            cursor = self.link.records.cursor(self.chain_id)
        assert cursor is not None
        return cursor

    def step(self) -> StepResult:
        """One listener step (a reorg check, at most ``window`` new blocks, confirmations)."""
        return self._listener().step()

    def _listener(self) -> Listener:
        return Listener(
            self.link.node,
            self.link.records,
            chain_id=self.chain_id,
            addresses=watched_addresses(self.store),
            rules=self.link.tracker.rules,
            window=self.window,
        )


def _records(svc: Service) -> SqlChainStore:
    if svc.chain is not None:
        records: SqlChainStore = svc.chain.records
        return records
    return SqlChainStore(svc.store.db)


def deposits_page(
    svc: Service, who: Principal, wallet_id: str, limit: int, after: str | None
) -> tuple[list[Deposit], str | None]:
    """A page of the deposits to one of ``who``'s tenant's wallets (every state, DROPPED
    included), oldest block first; the cursor is ``block:tx_hash:log_index``."""
    wallet = svc.store.get_wallet(wallet_id, who.tenant)
    if wallet.address is None:
        return [], None
    key = None
    if after is not None:
        try:
            n, h, i = after.split(":")
            key = (int(n), h.lower(), int(i))
        except ValueError:
            raise BadInput(
                "after must be the next_after of the previous page", field="after"
            ) from None
    rows = _records(svc).deposits_to(wallet.address, limit=limit + 1, after=key)
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more and rows else None
    return rows, (f"{last.block_number}:{last.tx_hash}:{last.log_index}" if last else None)
