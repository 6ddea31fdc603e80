"""The co-signer's guard database: ``MPC_HOME/cosigner/guard.db`` (stdlib sqlite3, WAL mode).

Tables: ``spend`` (reservations and spending per key, account and asset), ``permits_used``
(one-time permit ids), ``sessions`` (one record per signing session) and ``approvers``.

The decision to sign and the spending it implies are one ``BEGIN IMMEDIATE`` transaction
(:meth:`Ledger.admit`): the write lock is taken before the totals are read, so two concurrent
signs serialise and never together exceed a limit each alone respects; it holds across
processes too. ``synchronous=FULL`` makes a committed reservation survive a crash.

A reservation is made before the engine runs. If the engine never started it is released; once
the engine has run, it is kept even if the session then fails, because the co-signer may already
have sent its last message and the client may hold a valid signature. A co-signer killed
mid-sign leaves ``reserved`` rows; at the next start they become ``spent`` for the same reason.
Amounts are stored as decimal text (a uint256 does not fit SQLite's 64-bit integers).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mpcwallet.cosigner.decide import Spend, check_totals
from mpcwallet.cosigner.permits import AcceptedPermit
from mpcwallet.cosigner.policy import Rules
from mpcwallet.errors import AlreadyExists, NotFound, PermitReplayed

WINDOW_S = 24 * 3600

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spend (
  id INTEGER PRIMARY KEY, session TEXT NOT NULL, key_id TEXT NOT NULL, account INTEGER NOT NULL,
  asset TEXT NOT NULL, amount TEXT NOT NULL, at REAL NOT NULL, state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS spend_scope ON spend (key_id, account, asset, at);
CREATE TABLE IF NOT EXISTS permits_used (
  id TEXT PRIMARY KEY, approver TEXT NOT NULL, key_id TEXT NOT NULL, session TEXT NOT NULL,
  used_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
  session TEXT PRIMARY KEY, key_id TEXT, account INTEGER, op TEXT NOT NULL, digest TEXT,
  status TEXT NOT NULL, started REAL NOT NULL, ended REAL, code TEXT
);
CREATE TABLE IF NOT EXISTS approvers (
  name TEXT PRIMARY KEY, public_key TEXT NOT NULL UNIQUE, added_at REAL NOT NULL
);
"""


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        from mpcwallet.storage.files import ensure_dir

        ensure_dir(path.parent)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(fd)
        # One long-lived connection, used by one thread at a time: opening and closing a
        # connection per call would checkpoint the WAL at every close (measured: ~40 ms per
        # commit instead of ~1 ms). Other processes serialise through SQLite's own locks.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=60000")
        self._db.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"Ledger({self.path})"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.row_factory = None
            yield self._db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._conn() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # --- spending ------------------------------------------------------------------------

    def spent_24h(self, key_id: str, account: int, asset: str, now: float | None = None) -> int:
        with self._conn() as db:
            return self._spent(db, key_id, account, asset, now or time.time())

    @staticmethod
    def _spent(db: sqlite3.Connection, key_id: str, account: int, asset: str, now: float) -> int:
        rows = db.execute(
            "SELECT amount FROM spend WHERE key_id=? AND account=? AND asset=? AND at>? "
            "AND state IN ('reserved', 'spent')",
            (key_id, account, asset, now - WINDOW_S),
        )
        return sum(int(r[0]) for r in rows)

    def admit(
        self,
        *,
        session: str,
        op: str,
        key_id: str,
        account: int,
        digest: str,
        rules: Rules,
        spends: Sequence[Spend],
        permits: Sequence[AcceptedPermit],
        now: float | None = None,
    ) -> None:
        """Atomically: refuse a used permit id or a crossed 24 h limit, else consume the
        permits, reserve the spending and open the session record (status ``signing``).
        Raises the refusal; nothing is written then. One commit."""
        t = now or time.time()
        with self._tx() as db:
            for p in permits:
                if db.execute("SELECT 1 FROM permits_used WHERE id=?", (p.id,)).fetchone():
                    err = PermitReplayed(
                        f"permit {p.id} was already used; a permit is good for one signature",
                        field="permit",
                    )
                    err.permit_id = p.id  # type: ignore[attr-defined]
                    raise err
            for s in spends:
                check_totals(rules, s, self._spent(db, key_id, account, s.asset, t))
            for p in permits:
                db.execute(
                    "INSERT INTO permits_used VALUES (?, ?, ?, ?, ?)",
                    (p.id, p.approver, key_id, session, t),
                )
            for s in spends:
                db.execute(
                    "INSERT INTO spend (session, key_id, account, asset, amount, at, state) "
                    "VALUES (?, ?, ?, ?, ?, ?, 'reserved')",
                    (session, key_id, account, s.asset, str(s.amount), t),
                )
            self._open_session(db, session, op, key_id, account, digest, "signing", t)

    @staticmethod
    def _open_session(
        db: sqlite3.Connection,
        session: str,
        op: str,
        key_id: str | None,
        account: int | None,
        digest: str | None,
        status: str,
        t: float,
        code: str | None = None,
    ) -> None:
        ended = t if status not in ("started", "signing") else None
        db.execute(
            "INSERT OR REPLACE INTO sessions (session, key_id, account, op, digest, status, "
            "started, ended, code) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (session, key_id, account, op, digest, status, t, ended, code),
        )

    def refused(
        self, session: str, *, op: str, key_id: str, account: int, digest: str, code: str
    ) -> None:
        """The session record of a request refused before anything was reserved."""
        with self._tx() as db:
            self._open_session(db, session, op, key_id, account, digest, "refused", time.time(),
                               code)  # fmt: skip

    def settle(self, session: str, *, keep: bool, code: str | None = None) -> None:
        """The outcome of an admitted session: its reservation kept (``spent``) or
        ``released``, and its record closed as completed or failed. One commit."""
        with self._tx() as db:
            db.execute(
                "UPDATE spend SET state=? WHERE session=? AND state='reserved'",
                ("spent" if keep else "released", session),
            )
            db.execute(
                "UPDATE sessions SET status=?, code=?, ended=? WHERE session=?",
                ("failed" if code else "completed", code, time.time(), session),
            )

    def recover(self) -> tuple[int, int]:
        """After a restart: in-flight reservations count as spent (a signature may exist);
        open sessions are marked interrupted. Returns (reservations kept, sessions closed)."""
        with self._tx() as db:
            kept = db.execute("UPDATE spend SET state='spent' WHERE state='reserved'").rowcount
            closed = db.execute(
                "UPDATE sessions SET status='interrupted', ended=?, code='cosigner_restarted' "
                "WHERE status IN ('started', 'signing')",
                (time.time(),),
            ).rowcount
        return kept, closed

    def spend_rows(self, key_id: str | None = None) -> list[dict[str, Any]]:
        with self._conn() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT * FROM spend WHERE ? IS NULL OR key_id=? ORDER BY id", (key_id, key_id)
            )
            return [dict(r) for r in rows]

    # --- sessions ------------------------------------------------------------------------

    def session_started(
        self, session: str, *, op: str, key_id: str | None, account: int | None, digest: str | None
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO sessions (session, key_id, account, op, digest, status, "
                "started) VALUES (?, ?, ?, ?, ?, 'started', ?)",
                (session, key_id, account, op, digest, time.time()),
            )

    def session_status(
        self, session: str, status: str, code: str | None = None, *, key_id: str | None = None
    ) -> None:
        ended = None if status in ("started", "signing") else time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE sessions SET status=?, code=?, ended=?, key_id=coalesce(?, key_id) "
                "WHERE session=?",
                (status, code, ended, key_id, session),
            )

    def sessions(self, *, key_id: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        with self._conn() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT * FROM sessions WHERE ? IS NULL OR key_id=? ORDER BY started DESC LIMIT ?",
                (key_id, key_id, limit),
            )
            return [dict(r) for r in rows]

    # --- approvers -----------------------------------------------------------------------

    def add_approver(self, name: str, public_key: str) -> None:
        with self._tx() as db:
            row = db.execute(
                "SELECT name FROM approvers WHERE name=? OR public_key=?", (name, public_key)
            ).fetchone()
            if row:
                raise AlreadyExists(
                    f"approver {row[0]!r} already has that name or key; remove it first",
                    field="name",
                )
            db.execute("INSERT INTO approvers VALUES (?, ?, ?)", (name, public_key, time.time()))

    def remove_approver(self, name: str) -> str:
        with self._tx() as db:
            row = db.execute("SELECT public_key FROM approvers WHERE name=?", (name,)).fetchone()
            if row is None:
                raise NotFound(f"no approver named {name!r}", field="name")
            db.execute("DELETE FROM approvers WHERE name=?", (name,))
            return str(row[0])

    def approvers(self) -> list[dict[str, Any]]:
        with self._conn() as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM approvers ORDER BY name")]

    def approvers_by_key(self) -> dict[str, str]:
        return {a["public_key"]: a["name"] for a in self.approvers()}
