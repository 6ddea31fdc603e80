"""The chain record (:class:`~mpcwallet.chain.store.ChainStore`) in the session store, for the
WaaS service: the same rows as the CLI's ``chain.db`` (tables ``chain_txs``/``chain_events``,
migration 101), on SQLite or PostgreSQL, so the one tracker (:mod:`.tracker`) follows the
service's transactions too. The deposit listener's tables are not here yet: those calls are
refused with a clear error.
"""

from __future__ import annotations

import time
from dataclasses import fields, replace
from typing import Any

from mpcwallet.chain.rules import PENDING
from mpcwallet.chain.store import Deposit, TxRecord
from mpcwallet.errors import BadInput
from mpcwallet.store.backend import Database, IntegrityError, Tx

__all__ = ["SqlChainStore"]

_COLS = tuple(f.name for f in fields(TxRecord))
_SELECT = "SELECT " + ", ".join(_COLS) + " FROM chain_txs"


def _rec(row: tuple[Any, ...]) -> TxRecord:
    return TxRecord(**dict(zip(_COLS, row, strict=True)))


class SqlChainStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _event(
        self, tx: Tx, subject: str, old: str | None, new: str, block: int | None, detail: str | None
    ) -> None:
        tx.execute(
            "INSERT INTO chain_events (subject, at, from_state, to_state, block_number, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (subject, time.time(), old, new, block, detail),
        )

    def _get(self, tx: Tx, tx_hash: str) -> TxRecord | None:
        rows = tx.execute(_SELECT + " WHERE hash = ?", (tx_hash.lower(),))
        return _rec(rows[0]) if rows else None

    def record_tx(self, rec: TxRecord) -> TxRecord:
        row = rec.to_json()
        row["hash"] = rec.hash.lower()
        marks = ", ".join("?" * len(row))
        try:
            with self.db.transaction(write=True) as tx:
                got = tx.execute(
                    f"INSERT INTO chain_txs ({', '.join(row)}) VALUES ({marks})"
                    " ON CONFLICT (hash) DO NOTHING RETURNING hash",
                    tuple(row.values()),
                )
                if not got:
                    found = self._get(tx, rec.hash)
                    assert found is not None
                    return found
                self._event(
                    tx, row["hash"], None, rec.state, rec.block_number, f"recorded ({rec.kind})"
                )
        except IntegrityError:
            raise BadInput(f"cannot record {rec.hash}", field="hash") from None
        return replace(rec, hash=row["hash"])

    def get_tx(self, tx_hash: str) -> TxRecord | None:
        with self.db.transaction(write=False) as tx:
            return self._get(tx, tx_hash)

    def _select(self, where: str, args: tuple[Any, ...]) -> list[TxRecord]:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(f"{_SELECT} WHERE {where} ORDER BY created", args)
        return [_rec(r) for r in rows]

    def txs(self, *, chain_id: int | None = None, sender: str | None = None) -> list[TxRecord]:
        return self._select(
            "(CAST(? AS BIGINT) IS NULL OR chain_id = ?)"
            " AND (CAST(? AS TEXT) IS NULL OR sender = ?)",
            (chain_id, chain_id, sender, sender),
        )

    def pending(self, chain_id: int, sender: str) -> list[TxRecord]:
        marks = ", ".join("?" * len(PENDING))
        return self._select(
            f"chain_id = ? AND sender = ? AND state IN ({marks})", (chain_id, sender, *PENDING)
        )

    def pending_content(self, chain_id: int, sender: str, content: str) -> list[TxRecord]:
        return [r for r in self.pending(chain_id, sender) if r.content == content]

    def at_nonce(self, chain_id: int, sender: str, nonce: int) -> list[TxRecord]:
        return self._select("chain_id = ? AND sender = ? AND nonce = ?", (chain_id, sender, nonce))

    def transition(
        self, rec: TxRecord, state: str, detail: str | None = None, **changes: Any
    ) -> TxRecord:
        with self.db.transaction(write=True) as tx:
            if self.db.dialect == "postgres":
                tx.execute("SELECT hash FROM chain_txs WHERE hash = ? FOR UPDATE", (rec.hash,))
            current = self._get(tx, rec.hash) or rec
            new = replace(current, state=state, updated=time.time(), **changes)
            if detail is not None:
                new = replace(new, detail=detail)
            if (new.state, new.block_hash) == (current.state, current.block_hash):
                return current
            tx.execute(
                "UPDATE chain_txs SET state = ?, block_number = ?, block_hash = ?, status = ?,"
                " updated = ?, detail = ? WHERE hash = ?",
                (
                    new.state,
                    new.block_number,
                    new.block_hash,
                    new.status,
                    new.updated,
                    new.detail,
                    rec.hash,
                ),
            )
            self._event(tx, rec.hash, current.state, state, new.block_number, detail)
        return new

    def event(self, subject: str, state: str, detail: str, block: int | None = None) -> None:
        with self.db.transaction(write=True) as tx:
            self._event(tx, subject, state, state, block, detail)

    def events(self, subject: str) -> list[dict[str, Any]]:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT at, from_state, to_state, block_number, detail FROM chain_events"
                " WHERE subject = ? ORDER BY at",
                (subject,),
            )
        keys = ("at", "from_state", "to_state", "block_number", "detail")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    # -- the deposit listener: not in the session store yet -------------------------------------

    def _no_deposits(self) -> BadInput:
        return BadInput(
            "the WaaS store does not keep deposits yet; run `mpc deposits watch` "
            "with a home's chain.db",
            field="deposits",
        )

    def cursor(self, chain_id: int) -> tuple[int, str] | None:
        raise self._no_deposits()

    def block_hash(self, chain_id: int, number: int) -> str | None:
        raise self._no_deposits()

    def lowest_block(self, chain_id: int) -> int | None:
        raise self._no_deposits()

    def commit_blocks(
        self, chain_id: int, blocks: list[tuple[int, str]], deposits: list[Deposit]
    ) -> list[Deposit]:
        raise self._no_deposits()

    def roll_back(self, chain_id: int, above: int, detail: str) -> list[Deposit]:
        raise self._no_deposits()

    def deposits(self, chain_id: int | None = None, *, live_only: bool = True) -> list[Deposit]:
        raise self._no_deposits()

    def set_deposit_state(self, d: Deposit, state: str) -> Deposit:
        raise self._no_deposits()
