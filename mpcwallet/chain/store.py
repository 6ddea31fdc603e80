"""The chain record: sent transactions, their events, deposits and the listener's blocks.

The CLI keeps it in ``MPC_HOME/chain.db``: SQLite (stdlib ``sqlite3``) in WAL mode with
``synchronous=FULL``, as :mod:`mpcwallet.api.idempotency` opens its database. Why SQLite and not
a JSON file: a transaction is recorded *before* it is sent, and that record must survive a crash
the moment the commit returns (one fsync with ``synchronous=FULL``); ``mpc send``, ``mpc watch``
and ``mpc serve`` may run at the same time on one home (WAL: readers never block the writer,
writers wait on ``busy_timeout``); and every question asked of it is a query (the pending
transactions of an address, a nonce, the same content, deposits above a block), with the state
change and its event written in one transaction. The tables are plain SQL (no SQLite-only
types), so the WaaS service's store can hold the same rows in PostgreSQL behind the
:class:`ChainStore` protocol.

Only public data is stored: signed raw transactions, hashes, addresses, amounts.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from mpcwallet.chain.rules import PENDING
from mpcwallet.errors import FileFormatError

FILE_NAME = "chain.db"
BLOCK_HISTORY = 512  # listener block hashes kept for reorg detection

_SCHEMA = """
CREATE TABLE IF NOT EXISTS txs (
  hash TEXT PRIMARY KEY, chain_id INTEGER NOT NULL, sender TEXT NOT NULL, nonce INTEGER NOT NULL,
  raw TEXT NOT NULL, content TEXT, kind TEXT NOT NULL, replaces TEXT, account INTEGER,
  key_id TEXT, state TEXT NOT NULL, block_number INTEGER, block_hash TEXT, status INTEGER,
  created REAL NOT NULL, updated REAL NOT NULL, detail TEXT
);
CREATE INDEX IF NOT EXISTS txs_by_sender ON txs (chain_id, sender, nonce);
CREATE INDEX IF NOT EXISTS txs_by_content ON txs (content);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, subject TEXT NOT NULL, at REAL NOT NULL,
  from_state TEXT, to_state TEXT NOT NULL, block_number INTEGER, detail TEXT
);
CREATE INDEX IF NOT EXISTS events_by_subject ON events (subject);
CREATE TABLE IF NOT EXISTS deposits (
  chain_id INTEGER NOT NULL, tx_hash TEXT NOT NULL, log_index INTEGER NOT NULL, token TEXT,
  sender TEXT, recipient TEXT NOT NULL, amount TEXT NOT NULL, block_number INTEGER NOT NULL,
  block_hash TEXT NOT NULL, state TEXT NOT NULL, first_seen REAL NOT NULL, updated REAL NOT NULL,
  PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE TABLE IF NOT EXISTS blocks (
  chain_id INTEGER NOT NULL, number INTEGER NOT NULL, hash TEXT NOT NULL,
  PRIMARY KEY (chain_id, number)
);
"""


@dataclass(frozen=True)
class TxRecord:
    """A signed transaction handed to the network (hashes and addresses as 0x strings)."""

    hash: str
    chain_id: int
    sender: str  # EIP-55
    nonce: int
    raw: str
    kind: str  # send | broadcast | speed-up | cancel
    state: str
    created: float
    updated: float
    content: str | None = None  # SHA-256 of what was asked for (tx.json as given, sender)
    replaces: str | None = None  # the hash a speed-up or cancel replaces
    account: int | None = None
    key_id: str | None = None
    block_number: int | None = None
    block_hash: str | None = None
    status: int | None = None  # the receipt's status (1 success, 0 reverted)
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Deposit:
    chain_id: int
    tx_hash: str
    log_index: int  # -1: a plain ETH transfer
    token: str | None  # None: ETH
    sender: str | None
    recipient: str
    amount: int
    block_number: int
    block_hash: str
    state: str
    first_seen: float = 0.0
    updated: float = 0.0

    @property
    def subject(self) -> str:
        return f"{self.tx_hash}:{self.log_index}"

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["amount"] = str(self.amount)
        return out

    @classmethod
    def from_row(cls, values: dict[str, Any]) -> Deposit:
        """A stored row (column name to value; the amount kept as text) as a deposit."""
        return cls(**{**values, "amount": int(values["amount"])})


class ChainStore(Protocol):
    """What the chain layer needs from a store (SQLite here; the WaaS SQL store later)."""

    def record_tx(self, rec: TxRecord) -> TxRecord: ...
    def get_tx(self, tx_hash: str) -> TxRecord | None: ...
    def txs(self, *, chain_id: int | None = None, sender: str | None = None) -> list[TxRecord]: ...
    def pending(self, chain_id: int, sender: str) -> list[TxRecord]: ...
    def pending_content(self, chain_id: int, sender: str, content: str) -> list[TxRecord]: ...
    def at_nonce(self, chain_id: int, sender: str, nonce: int) -> list[TxRecord]: ...
    def transition(self, rec: TxRecord, state: str, detail: str | None = None,
                   **fields: Any) -> TxRecord: ...  # fmt: skip
    def event(self, subject: str, state: str, detail: str, block: int | None = None) -> None: ...
    def events(self, subject: str) -> list[dict[str, Any]]: ...
    # the deposit listener
    def cursor(self, chain_id: int) -> tuple[int, str] | None: ...
    def block_hash(self, chain_id: int, number: int) -> str | None: ...
    def lowest_block(self, chain_id: int) -> int | None: ...
    def commit_blocks(self, chain_id: int, blocks: list[tuple[int, str]],
                      deposits: list[Deposit]) -> list[Deposit]: ...  # fmt: skip
    def roll_back(self, chain_id: int, above: int, detail: str) -> list[Deposit]: ...
    def deposits(self, chain_id: int | None = None, *, live_only: bool = True) -> list[Deposit]: ...
    def set_deposit_state(self, d: Deposit, state: str) -> Deposit: ...


class TxQueries:
    """The outgoing-transaction logic both stores share (this one and the WaaS
    :class:`~mpcwallet.chain.sql_store.SqlChainStore`); each supplies ``_select``, a ``WHERE``
    clause over its transactions table ordered by ``created``."""

    def _select(self, where: str, args: tuple[Any, ...]) -> list[TxRecord]:
        raise NotImplementedError

    def pending(self, chain_id: int, sender: str) -> list[TxRecord]:
        marks = ", ".join("?" * len(PENDING))
        return self._select(
            f"chain_id = ? AND sender = ? AND state IN ({marks})", (chain_id, sender, *PENDING)
        )

    def pending_content(self, chain_id: int, sender: str, content: str) -> list[TxRecord]:
        return [r for r in self.pending(chain_id, sender) if r.content == content]

    def at_nonce(self, chain_id: int, sender: str, nonce: int) -> list[TxRecord]:
        return self._select("chain_id = ? AND sender = ? AND nonce = ?", (chain_id, sender, nonce))


def next_record(
    current: TxRecord, state: str, detail: str | None, changes: dict[str, Any]
) -> TxRecord | None:
    """What :meth:`ChainStore.transition` stores: ``current`` in ``state`` with ``changes``
    (and ``detail`` when given), or None when neither the state nor the block hash changes (no
    update, no event)."""
    new = replace(current, state=state, updated=time.time(), **changes)
    if detail is not None:
        new = replace(new, detail=detail)
    if (new.state, new.block_hash) == (current.state, current.block_hash):
        return None
    return new


class SqliteChainStore(TxQueries):
    def __init__(self, path: Path) -> None:
        from mpcwallet.storage.files import ensure_dir

        self.path = path
        ensure_dir(path.parent)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self._db = sqlite3.connect(path, timeout=60, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=60000")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise FileFormatError(
                f"{path}: not a usable SQLite database ({type(exc).__name__}); move it aside "
                "(the chain's own state is unaffected, only this record of it)",
                field=str(path),
            ) from None

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken before reading (no lost update between processes)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- outgoing ------------------------------------------------------------------------------

    def record_tx(self, rec: TxRecord) -> TxRecord:
        """Insert ``rec`` (committed, fsynced) with its first event; an existing record of the
        same hash is returned unchanged (the same raw tx sent again)."""
        with self._tx() as db:
            found = self._get(db, rec.hash)
            if found is not None:
                return found
            row = rec.to_json()
            columns, marks = ", ".join(row), ", ".join("?" * len(row))  # the dataclass's fields
            db.execute(f"INSERT INTO txs ({columns}) VALUES ({marks})", tuple(row.values()))  # noqa: S608
            self._event(db, rec.hash, None, rec.state, rec.block_number, f"recorded ({rec.kind})")
        return rec

    def _get(self, db: sqlite3.Connection, tx_hash: str) -> TxRecord | None:
        cur = db.execute("SELECT * FROM txs WHERE hash = ?", (tx_hash.lower(),))
        row = cur.fetchone()
        return None if row is None else _tx_from(cur, row)

    def get_tx(self, tx_hash: str) -> TxRecord | None:
        return self._get(self._db, tx_hash)

    def _select(self, where: str, args: tuple[Any, ...]) -> list[TxRecord]:
        cur = self._db.execute(f"SELECT * FROM txs WHERE {where} ORDER BY created", args)  # noqa: S608 - fixed clauses
        return [_tx_from(cur, row) for row in cur.fetchall()]

    def txs(self, *, chain_id: int | None = None, sender: str | None = None) -> list[TxRecord]:
        return self._select(
            "(? IS NULL OR chain_id = ?) AND (? IS NULL OR sender = ?)",
            (chain_id, chain_id, sender, sender),
        )

    def transition(
        self, rec: TxRecord, state: str, detail: str | None = None, **fields: Any
    ) -> TxRecord:
        """Set ``state`` (and block fields) with an event, in one transaction; the record as
        stored now. No event when nothing changed."""
        with self._tx() as db:
            current = self._get(db, rec.hash) or rec
            new = next_record(current, state, detail, fields)
            if new is None:
                return current
            db.execute(
                "UPDATE txs SET state = ?, block_number = ?, block_hash = ?, status = ?, "
                "updated = ?, detail = ? WHERE hash = ?",
                (new.state, new.block_number, new.block_hash, new.status, new.updated,
                 new.detail, rec.hash),
            )  # fmt: skip
            self._event(db, rec.hash, current.state, state, new.block_number, detail)
        return new

    def _event(
        self,
        db: sqlite3.Connection,
        subject: str,
        old: str | None,
        new: str,
        block: int | None,
        detail: str | None,
    ) -> None:
        db.execute(
            "INSERT INTO events (subject, at, from_state, to_state, block_number, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (subject, time.time(), old, new, block, detail),
        )

    def event(self, subject: str, state: str, detail: str, block: int | None = None) -> None:
        """An event that changes no state (a re-broadcast, say)."""
        with self._tx() as db:
            self._event(db, subject, state, state, block, detail)

    def events(self, subject: str) -> list[dict[str, Any]]:
        cur = self._db.execute(
            "SELECT at, from_state, to_state, block_number, detail FROM events "
            "WHERE subject = ? ORDER BY id",
            (subject,),
        )
        names = [c[0] for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    # -- the deposit listener --------------------------------------------------------------------

    def cursor(self, chain_id: int) -> tuple[int, str] | None:
        """The last block the listener processed (number, hash)."""
        row = self._db.execute(
            "SELECT number, hash FROM blocks WHERE chain_id = ? ORDER BY number DESC LIMIT 1",
            (chain_id,),
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def block_hash(self, chain_id: int, number: int) -> str | None:
        row = self._db.execute(
            "SELECT hash FROM blocks WHERE chain_id = ? AND number = ?", (chain_id, number)
        ).fetchone()
        return None if row is None else str(row[0])

    def lowest_block(self, chain_id: int) -> int | None:
        row = self._db.execute(
            "SELECT min(number) FROM blocks WHERE chain_id = ?", (chain_id,)
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def commit_blocks(
        self, chain_id: int, blocks: list[tuple[int, str]], deposits: list[Deposit]
    ) -> list[Deposit]:
        """Processed ``blocks`` and the deposits found in them, in one transaction; returns the
        deposits that are new (or back after a reorg dropped them)."""
        now = time.time()
        fresh: list[Deposit] = []
        with self._tx() as db:
            for d in deposits:
                row = db.execute(
                    "SELECT state, block_hash FROM deposits WHERE chain_id = ? AND tx_hash = ? "
                    "AND log_index = ?",
                    (chain_id, d.tx_hash, d.log_index),
                ).fetchone()
                if row is not None and row[0] != "DROPPED" and row[1] == d.block_hash:
                    continue  # seen already (a restart between commit and cursor cannot happen)
                d = replace(d, first_seen=now, updated=now)
                db.execute(
                    "INSERT OR REPLACE INTO deposits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (d.chain_id, d.tx_hash, d.log_index, d.token, d.sender, d.recipient,
                     str(d.amount), d.block_number, d.block_hash, d.state, now, now),
                )  # fmt: skip
                self._event(db, d.subject, None if row is None else str(row[0]), d.state,
                            d.block_number, "deposit seen")  # fmt: skip
                fresh.append(d)
            db.executemany(
                "INSERT OR REPLACE INTO blocks (chain_id, number, hash) VALUES (?, ?, ?)",
                [(chain_id, n, h) for n, h in blocks],
            )
            if blocks:
                db.execute(
                    "DELETE FROM blocks WHERE chain_id = ? AND number < ?",
                    (chain_id, blocks[-1][0] - BLOCK_HISTORY),
                )
        return fresh

    def roll_back(self, chain_id: int, above: int, detail: str) -> list[Deposit]:
        """A reorg replaced every block above ``above``: forget them, drop their deposits."""
        with self._tx() as db:
            dropped = self._deposits(
                db, "chain_id = ? AND block_number > ? AND state != 'DROPPED'", (chain_id, above)
            )
            for d in dropped:
                self._event(db, d.subject, d.state, "DROPPED", d.block_number, detail)
            db.execute(
                "UPDATE deposits SET state = 'DROPPED', updated = ? WHERE chain_id = ? AND "
                "block_number > ? AND state != 'DROPPED'",
                (time.time(), chain_id, above),
            )
            db.execute("DELETE FROM blocks WHERE chain_id = ? AND number > ?", (chain_id, above))
        return [replace(d, state="DROPPED") for d in dropped]

    def _deposits(self, db: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> list[Deposit]:
        cur = db.execute(
            f"SELECT * FROM deposits WHERE {where} ORDER BY block_number, log_index",  # noqa: S608
            args,
        )
        names = [c[0] for c in cur.description]
        return [Deposit.from_row(dict(zip(names, row, strict=True))) for row in cur.fetchall()]

    def deposits(self, chain_id: int | None = None, *, live_only: bool = True) -> list[Deposit]:
        where = "(? IS NULL OR chain_id = ?)" + (" AND state != 'DROPPED'" if live_only else "")
        return self._deposits(self._db, where, (chain_id, chain_id))

    def set_deposit_state(self, d: Deposit, state: str) -> Deposit:
        with self._tx() as db:
            db.execute(
                "UPDATE deposits SET state = ?, updated = ? WHERE chain_id = ? AND tx_hash = ? "
                "AND log_index = ?",
                (state, time.time(), d.chain_id, d.tx_hash, d.log_index),
            )
            self._event(db, d.subject, d.state, state, d.block_number, None)
        return replace(d, state=state)


def _tx_from(cur: sqlite3.Cursor, row: tuple[Any, ...]) -> TxRecord:
    names = [c[0] for c in cur.description]
    return TxRecord(**dict(zip(names, row, strict=True)))


def store_path() -> Path:
    from mpcwallet.config import mpc_home

    return mpc_home() / FILE_NAME


def open_store(path: Path | None = None) -> SqliteChainStore:
    """The home's record (created on first use, mode 0600)."""
    return SqliteChainStore(path or store_path())
