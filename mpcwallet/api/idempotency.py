"""``Idempotency-Key``: a retried request returns the first answer and never signs twice, across
restarts and crashes of ``mpc serve``.

Entries live in ``MPC_HOME/api-idempotency.db`` (stdlib sqlite3, WAL, ``synchronous=FULL``, the
way :mod:`mpcwallet.cosigner.ledger` opens its database), keyed by the key; each row holds the
route, a SHA-256 of the body, when it was made and a state:

- ``running``: inserted (one committed transaction) before the handler runs, so a crash after
  this point cannot lose the fact that a request with this key may have signed;
- ``done``: the answer (status and JSON body: signatures and raw transactions, public) is stored
  and every later request with the key gets it back;
- ``unknown``: the process died (or stopped) while the request ran. At the next start every
  ``running`` row becomes ``unknown``; a retry is refused (409 ``idempotency_unknown``) and signs
  nothing, since the first request may or may not have produced a signature.

A concurrent duplicate in the same process waits for the first request's future and gets the same
status and body. The same key with another route or body is refused (409
``idempotency_conflict``). A first request that failed with a transient error is forgotten (its
row deleted), so a retry runs again (nothing was signed); any other answer is kept.
Rows expire ``ttl`` seconds after they were made (wall clock, so across restarts); at most
``max_entries`` are kept (oldest dropped first; a running request is never dropped).

The database is used only from the event loop's thread, so each statement is one short
transaction with no lock of our own; a commit costs one fsync (about a millisecond).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from mpcwallet.errors import (
    BadInput,
    Busy,
    FileFormatError,
    IdempotencyConflict,
    IdempotencyUnknown,
)

MAX_KEY_CHARS = 255
FILE_NAME = "api-idempotency.db"
Answer = tuple[int, bytes]  # status, JSON body

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
  key TEXT PRIMARY KEY, route TEXT NOT NULL, body_sha256 BLOB NOT NULL, created REAL NOT NULL,
  state TEXT NOT NULL, status INTEGER, answer BLOB
);
CREATE INDEX IF NOT EXISTS entries_created ON entries (created);
"""


@dataclass
class _Running:
    route: str
    body_hash: bytes
    done: asyncio.Future[Answer] = field(repr=False)


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_CHARS or not key.isascii() or not key.isprintable():
        raise BadInput(
            f"Idempotency-Key: give 1-{MAX_KEY_CHARS} printable ASCII characters",
            field="Idempotency-Key",
        )
    return key


def store_path() -> Path:
    from mpcwallet.config import mpc_home

    return mpc_home() / FILE_NAME


def _conflict(route: str, stored_route: str) -> IdempotencyConflict:
    return IdempotencyConflict(
        "Idempotency-Key was already used with another "
        f"{'route' if stored_route != route else 'body'}; use a new key for a new request",
        field="Idempotency-Key",
    )


def _unknown(route: str) -> IdempotencyUnknown:
    check = (
        "the chain (the sender's nonce and transactions) and `mpc cosigner sessions`"
        if route == "/tx/send"
        else "`mpc cosigner sessions` (a signing session at that time)"
    )
    return IdempotencyUnknown(
        "Idempotency-Key: the first request with this key was cut off by a restart of mpc "
        f"serve; whether it signed is unknown, and nothing was signed now. Check {check}; "
        "use a new key for a new request",
        field="Idempotency-Key",
    )


class IdempotencyStore:
    def __init__(self, path: Path, ttl: float = 24 * 3600, max_entries: int = 10_000) -> None:
        self.path = path
        self.ttl = ttl
        self.max_entries = max_entries
        self._running: dict[str, _Running] = {}
        from mpcwallet.storage.files import ensure_dir

        ensure_dir(path.parent)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(fd)
        self._closed = False
        self._db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=60000")
            self._db.executescript(_SCHEMA)
            # A previous process died (or stopped) while these ran: whether they signed is
            # unknown.
            self.cut_off: int = self._db.execute(
                "UPDATE entries SET state = 'unknown' WHERE state = 'running'"
            ).rowcount
            self._expire(time.time())
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise FileFormatError(
                f"{path}: not a usable SQLite database ({type(exc).__name__}); move it aside to "
                "start without remembered Idempotency-Keys",
                field=str(path),
            ) from None

    def __repr__(self) -> str:
        return f"IdempotencyStore({self.path})"

    def close(self) -> None:
        # A request still running stays 'running' in the file and becomes 'unknown' at the next
        # start: it may yet sign in a worker thread before the process exits.
        self._closed = True
        self._db.close()

    def _expire(self, now: float) -> None:
        self._db.execute(
            "DELETE FROM entries WHERE created <= ? AND state != 'running'", (now - self.ttl,)
        )
        (count,) = self._db.execute("SELECT count(*) FROM entries").fetchone()
        if count >= self.max_entries:
            self._db.execute(
                "DELETE FROM entries WHERE key IN (SELECT key FROM entries WHERE state != "
                "'running' ORDER BY created LIMIT ?)",
                (count - self.max_entries + 1,),
            )

    def state(self, key: str) -> str | None:
        """The stored state of ``key`` (``running``, ``done``, ``unknown``) or None."""
        row = self._db.execute("SELECT state FROM entries WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _settle(
        self, key: str, task: asyncio.Future[Answer], keep: Callable[[Answer], bool]
    ) -> None:
        if self._running.get(key) is not None and self._running[key].done is task:
            del self._running[key]
        if self._closed:
            return
        if task.cancelled() or task.exception() is not None:
            # stopped mid-request (shutdown): it may have signed, so never run it again
            self._db.execute("UPDATE entries SET state = 'unknown' WHERE key = ?", (key,))
            return
        status, body = task.result()
        if keep((status, body)):
            self._db.execute(
                "UPDATE entries SET state = 'done', status = ?, answer = ? WHERE key = ?",
                (status, body, key),
            )
        else:
            self._db.execute("DELETE FROM entries WHERE key = ?", (key,))

    async def run(
        self,
        key: str,
        route: str,
        body: bytes,
        handler: Callable[[], Awaitable[Answer]],
        *,
        keep: Callable[[Answer], bool],
    ) -> tuple[Answer, bool]:
        """The answer for ``key`` and whether it was replayed (not computed by this call)."""
        body_hash = hashlib.sha256(body).digest()
        running = self._running.get(key)
        if running is not None:
            if running.route != route or running.body_hash != body_hash:
                raise _conflict(route, running.route)
            return await asyncio.shield(running.done), True
        now = time.time()
        self._expire(now)
        row = self._db.execute(
            "SELECT route, body_sha256, state, status, answer FROM entries WHERE key = ?", (key,)
        ).fetchone()
        if row is not None:
            stored_route, stored_hash, state, status, answer = row
            if stored_route != route or bytes(stored_hash) != body_hash:
                raise _conflict(route, stored_route)
            if state == "done":
                return (int(status), bytes(answer)), True
            if state == "unknown":
                raise _unknown(route)
            raise Busy(
                "Idempotency-Key: a request with this key is running in another mpc serve on "
                "this MPC_HOME; retry when it has answered",
                field="Idempotency-Key",
            )
        # Committed before the handler runs: a crash from here on leaves a row that the next
        # start turns into 'unknown', never a key that a retry would sign again.
        try:
            self._db.execute(
                "INSERT INTO entries (key, route, body_sha256, created, state) "
                "VALUES (?, ?, ?, ?, 'running')",
                (key, route, body_hash, now),
            )
        except sqlite3.IntegrityError:
            raise Busy(
                "Idempotency-Key: a request with this key was just started by another mpc serve "
                "on this MPC_HOME; retry when it has answered",
                field="Idempotency-Key",
            ) from None
        # The handler runs as its own task: a caller that disconnects does not lose an answer
        # already being made (the signature is stored for the retry that will come).
        task = asyncio.ensure_future(handler())
        self._running[key] = _Running(route, body_hash, task)
        task.add_done_callback(lambda t: self._settle(key, t, keep))
        return await asyncio.shield(task), False
