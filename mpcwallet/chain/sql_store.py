"""The chain record (:class:`~mpcwallet.chain.store.ChainStore`) in the session store, for the
WaaS service: the same rows as the CLI's ``chain.db`` (tables ``chain_txs``/``chain_events``,
migration 101), on SQLite or PostgreSQL, so the one tracker (:mod:`.tracker`) follows the
service's transactions too; and the deposit listener's deposits and block cursor (migration
102: ``chain_deposits``/``chain_blocks``), so the one listener (:mod:`.deposits`) follows every
WaaS wallet's address. ``on_deposit(tx, deposit)``, when given, runs in the transaction that
finalizes or drops a deposit (the WaaS service appends its audit event there).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any

from mpcwallet.chain.rules import DROPPED, FINALIZED
from mpcwallet.chain.store import BLOCK_HISTORY, Deposit, TxQueries, TxRecord, next_record
from mpcwallet.errors import BadInput
from mpcwallet.store.backend import Database, IntegrityError, Tx

__all__ = ["SqlChainStore"]

_COLS = tuple(f.name for f in fields(TxRecord))
_SELECT = "SELECT " + ", ".join(_COLS) + " FROM chain_txs"


def _rec(row: tuple[Any, ...]) -> TxRecord:
    return TxRecord(**dict(zip(_COLS, row, strict=True)))


DepositHook = Callable[[Tx, Deposit], None]


class SqlChainStore(TxQueries):
    def __init__(self, db: Database, on_deposit: DepositHook | None = None) -> None:
        self.db = db
        self.on_deposit = on_deposit

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

    def transition(
        self, rec: TxRecord, state: str, detail: str | None = None, **changes: Any
    ) -> TxRecord:
        with self.db.transaction(write=True) as tx:
            if self.db.dialect == "postgres":
                tx.execute("SELECT hash FROM chain_txs WHERE hash = ? FOR UPDATE", (rec.hash,))
            current = self._get(tx, rec.hash) or rec
            new = next_record(current, state, detail, changes)
            if new is None:
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

    # -- the deposit listener (migration 102: chain_deposits, chain_blocks) -------------------

    def cursor(self, chain_id: int) -> tuple[int, str] | None:
        """The last block the listener processed (number, hash)."""
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT number, hash FROM chain_blocks WHERE chain_id = ?"
                " ORDER BY number DESC LIMIT 1",
                (chain_id,),
            )
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    def block_hash(self, chain_id: int, number: int) -> str | None:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT hash FROM chain_blocks WHERE chain_id = ? AND number = ?",
                (chain_id, number),
            )
        return str(rows[0][0]) if rows else None

    def lowest_block(self, chain_id: int) -> int | None:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT min(number) FROM chain_blocks WHERE chain_id = ?", (chain_id,)
            )
        return None if not rows or rows[0][0] is None else int(rows[0][0])

    def _lock_cursor(self, tx: Tx, chain_id: int) -> None:
        """Serialise listeners of one chain on PostgreSQL (SQLite's write lock already does)."""
        if self.db.dialect == "postgres":
            tx.execute("SELECT pg_advisory_xact_lock(?)", (_CURSOR_LOCK_KEY + chain_id,))

    def commit_blocks(
        self, chain_id: int, blocks: list[tuple[int, str]], deposits: list[Deposit]
    ) -> list[Deposit]:
        """Processed ``blocks`` and the deposits found in them, in one transaction; the deposits
        that are new (or back after a reorg dropped them). A block already recorded with the
        same hash (a second listener got there first) adds nothing."""
        now = time.time()
        fresh: list[Deposit] = []
        with self.db.transaction(write=True) as tx:
            self._lock_cursor(tx, chain_id)
            for d in deposits:
                rows = tx.execute(
                    "SELECT state, block_hash FROM chain_deposits WHERE chain_id = ?"
                    " AND tx_hash = ? AND log_index = ?",
                    (chain_id, d.tx_hash, d.log_index),
                )
                if rows and rows[0][0] != DROPPED and rows[0][1] == d.block_hash:
                    continue  # seen already
                d = replace(d, first_seen=now, updated=now)
                tx.execute(
                    f"INSERT INTO chain_deposits ({', '.join(_DEP_COLS)}) VALUES"
                    f" ({', '.join('?' * len(_DEP_COLS))}) ON CONFLICT (chain_id, tx_hash,"
                    " log_index) DO UPDATE SET token = excluded.token, sender = excluded.sender,"
                    " recipient = excluded.recipient, amount = excluded.amount,"
                    " block_number = excluded.block_number, block_hash = excluded.block_hash,"
                    " state = excluded.state, updated = excluded.updated",
                    _dep_row(d),
                )
                old = str(rows[0][0]) if rows else None
                self._event(tx, d.subject, old, d.state, d.block_number, "deposit seen")
                fresh.append(d)
            for number, block in blocks:
                tx.execute(
                    "INSERT INTO chain_blocks (chain_id, number, hash) VALUES (?, ?, ?)"
                    " ON CONFLICT (chain_id, number) DO UPDATE SET hash = excluded.hash",
                    (chain_id, number, block),
                )
            if blocks:
                tx.execute(
                    "DELETE FROM chain_blocks WHERE chain_id = ? AND number < ?",
                    (chain_id, blocks[-1][0] - BLOCK_HISTORY),
                )
        return fresh

    def roll_back(self, chain_id: int, above: int, detail: str) -> list[Deposit]:
        """A reorg replaced every block above ``above``: forget them, drop their deposits (an
        event each, and the ``on_deposit`` hook's audit record in the same transaction)."""
        with self.db.transaction(write=True) as tx:
            self._lock_cursor(tx, chain_id)
            gone = self._deposits(
                tx, "chain_id = ? AND block_number > ? AND state <> ?", (chain_id, above, DROPPED)
            )
            dropped = [replace(d, state=DROPPED) for d in gone]
            for old, d in zip(gone, dropped, strict=True):
                self._event(tx, d.subject, old.state, DROPPED, d.block_number, detail)
                if self.on_deposit is not None:
                    self.on_deposit(tx, d)
            tx.execute(
                "UPDATE chain_deposits SET state = ?, updated = ? WHERE chain_id = ?"
                " AND block_number > ? AND state <> ?",
                (DROPPED, time.time(), chain_id, above, DROPPED),
            )
            tx.execute(
                "DELETE FROM chain_blocks WHERE chain_id = ? AND number > ?", (chain_id, above)
            )
        return dropped

    def _deposits(self, tx: Tx, where: str, args: tuple[Any, ...]) -> list[Deposit]:
        rows = tx.execute(
            f"SELECT {', '.join(_DEP_COLS)} FROM chain_deposits WHERE {where}"
            " ORDER BY block_number, tx_hash, log_index",
            args,
        )
        return [_dep(r) for r in rows]

    def deposits(self, chain_id: int | None = None, *, live_only: bool = True) -> list[Deposit]:
        where = "(CAST(? AS BIGINT) IS NULL OR chain_id = ?)"
        args: tuple[Any, ...] = (chain_id, chain_id)
        if live_only:
            where, args = where + " AND state <> ?", (*args, DROPPED)
        with self.db.transaction(write=False) as tx:
            return self._deposits(tx, where, args)

    def deposits_to(
        self, address: str, *, limit: int, after: tuple[int, str, int] | None = None
    ) -> list[Deposit]:
        """A page of the deposits to ``address`` (any state), oldest block first; ``after`` is
        the (block, tx hash, log index) of the previous page's last one."""
        where = "lower(recipient) = ?"
        args: tuple[Any, ...] = (address.lower(),)
        if after is not None:
            where += (
                " AND (block_number > ? OR (block_number = ? AND (tx_hash > ?"
                " OR (tx_hash = ? AND log_index > ?))))"
            )
            n, h, i = after
            args = (*args, n, n, h, h, i)
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                f"SELECT {', '.join(_DEP_COLS)} FROM chain_deposits WHERE {where}"
                " ORDER BY block_number, tx_hash, log_index LIMIT ?",
                (*args, limit),
            )
        return [_dep(r) for r in rows]

    def set_deposit_state(self, d: Deposit, state: str) -> Deposit:
        """A confirmation change; FINALIZED also calls the ``on_deposit`` hook (the WaaS audit
        record) in the same transaction, once: a deposit already in ``state`` is left alone."""
        new = replace(d, state=state)
        with self.db.transaction(write=True) as tx:
            got = tx.execute(
                "UPDATE chain_deposits SET state = ?, updated = ? WHERE chain_id = ?"
                " AND tx_hash = ? AND log_index = ? AND state <> ? RETURNING state",
                (state, time.time(), d.chain_id, d.tx_hash, d.log_index, state),
            )
            if not got:
                return new
            self._event(tx, d.subject, d.state, state, d.block_number, None)
            if state == FINALIZED and self.on_deposit is not None:
                self.on_deposit(tx, new)
        return new


_CURSOR_LOCK_KEY = 0x6D70_6364_0000_0000  # "mpcd": one advisory lock per chain's cursor
_DEP_COLS = tuple(f.name for f in fields(Deposit))


def _dep_row(d: Deposit) -> tuple[Any, ...]:
    values = dict(zip(_DEP_COLS, (getattr(d, c) for c in _DEP_COLS), strict=True))
    values["amount"] = str(d.amount)
    return tuple(values.values())


def _dep(row: tuple[Any, ...]) -> Deposit:
    return Deposit.from_row(dict(zip(_DEP_COLS, row, strict=True)))
