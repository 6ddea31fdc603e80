"""The two SQL backends of the session store: a SQLite file, or PostgreSQL by URL.

Both expose the same small surface, :class:`Database`: ``transaction(write=...)`` yields a
:class:`Tx` whose ``execute(sql, params)`` returns the rows. SQL is written once with ``?``
placeholders (the PostgreSQL side rewrites them to psycopg's ``%s``) in the subset both speak:
``TEXT``, ``BIGINT``, ``CHECK``, partial unique indexes, ``INSERT ... ON CONFLICT ... DO
NOTHING/UPDATE`` and ``RETURNING`` (SQLite 3.35 or later).

* SQLite: the file is created 0600 in a 0700 directory; WAL journal, ``synchronous=FULL``
  (a claimed request id survives a power cut), foreign keys on, a busy timeout so a second
  writer waits instead of failing. A write transaction is ``BEGIN IMMEDIATE``: it takes the
  database's write lock first, so two writers are serialised, never interleaved.
* PostgreSQL (psycopg 3): autocommit connection with explicit transactions at READ COMMITTED;
  uniqueness is the database's (unique constraints and ``ON CONFLICT``), never a
  check-then-insert. Several coordinators can share one server.

A connection that fails becomes :class:`~mpcwallet.errors.StoreUnavailable` (transient); the
URL's password never appears in an error or a ``repr``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from mpcwallet.errors import BadInput, StoreUnavailable
from mpcwallet.storage.files import ensure_dir

__all__ = ["Database", "Dialect", "IntegrityError", "Tx", "connect", "redact_url"]

Dialect = Literal["sqlite", "postgres"]
Row = tuple[Any, ...]
MIN_SQLITE = (3, 35, 0)
SQLITE_BUSY_MS = 30_000
PG_CONNECT_TIMEOUT_S = 10


class IntegrityError(Exception):
    """A unique, check or foreign-key constraint refused a write (the transaction rolled back)."""


class Tx(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...


class Database(Protocol):
    dialect: Dialect
    where: str

    def transaction(self, *, write: bool) -> contextlib.AbstractContextManager[Tx]: ...

    def close(self) -> None: ...


def redact_url(url: str) -> str:
    """``scheme://host:port/dbname`` without user, password or query (for messages)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "postgresql://<unparsable URL>"
    return f"{parts.scheme}://{host}{port}{parts.path}"


# --- SQLite --------------------------------------------------------------------------------


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._conn.execute(sql, tuple(params)).fetchall()


def _sqlite_unavailable(exc: sqlite3.OperationalError) -> bool:
    """Locked, busy, out of disk or I/O: the store is unavailable, not our SQL wrong."""
    text = str(exc).lower()
    return any(w in text for w in ("locked", "busy", "disk", "i/o", "unable to open"))


def _set_wal(conn: sqlite3.Connection) -> None:
    """WAL mode, waiting for other openers: switching the journal mode needs an exclusive lock,
    and SQLite answers "database is locked" at once (without its busy handler) while another
    connection opening the same new file holds one. Retried until the busy timeout."""
    deadline = time.monotonic() + SQLITE_BUSY_MS / 1000
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() >= deadline:
                raise
        time.sleep(delay)  # a bounded backoff, not a synchronisation point
        delay = min(delay * 2, 0.1)


class SqliteDatabase:
    dialect: Dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StoreUnavailable(
                f"SQLite {sqlite3.sqlite_version} is too old for the session store (needs "
                f"{'.'.join(map(str, MIN_SQLITE))} or later)"
            )
        ensure_dir(self.path.parent)
        if self.path.is_dir():
            raise BadInput(f"{self.path} is a directory; give a database file", field="store")
        if not self.path.exists():
            # Created 0600 before SQLite opens it: its -wal and -shm files copy this mode.
            with contextlib.suppress(FileExistsError):
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(
                str(self.path),
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                timeout=SQLITE_BUSY_MS / 1000,
                check_same_thread=False,  # guarded by self._lock
            )
            self._conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
            _set_wal(self._conn)
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            raise StoreUnavailable(
                f"cannot open the session store {self.path}: {exc}; is it a SQLite database?"
            ) from None

    def __repr__(self) -> str:
        return f"SqliteDatabase({self.path})"

    @contextlib.contextmanager
    def transaction(self, *, write: bool) -> Iterator[Tx]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"the session store {self.path} is busy: {exc}") from None
            try:
                yield _SqliteTx(self._conn)
            except sqlite3.IntegrityError as exc:
                self._conn.execute("ROLLBACK")
                raise IntegrityError(str(exc)) from None
            except sqlite3.OperationalError as exc:
                self._conn.execute("ROLLBACK")
                if _sqlite_unavailable(exc):
                    raise StoreUnavailable(f"the session store {self.path} failed: {exc}") from None
                raise
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


# --- PostgreSQL ----------------------------------------------------------------------------


class _PgTx:
    def __init__(self, cur: Any) -> None:
        self._cur = cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._cur.execute(sql.replace("?", "%s"), tuple(params))
        if self._cur.description is None:
            return []
        return [tuple(r) for r in self._cur.fetchall()]


class PostgresDatabase:
    dialect: Dialect = "postgres"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise StoreUnavailable(
                "a PostgreSQL store needs psycopg 3: pip install 'psycopg[binary]'"
            ) from None
        self._psycopg = psycopg
        self._url = url
        self.where = redact_url(url)
        self._lock = threading.Lock()
        self._conn: Any = None
        self._connect()

    def __repr__(self) -> str:
        return f"PostgresDatabase({self.where})"

    def _connect(self) -> None:
        try:
            self._conn = self._psycopg.connect(
                self._url, autocommit=True, connect_timeout=PG_CONNECT_TIMEOUT_S
            )
        except self._psycopg.Error as exc:
            raise StoreUnavailable(
                f"cannot connect to the session store {self.where}: "
                f"{type(exc).__name__}; check that the server runs and the URL is right"
            ) from None

    @contextlib.contextmanager
    def transaction(self, *, write: bool) -> Iterator[Tx]:
        psycopg = self._psycopg
        with self._lock:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._connect()
            try:
                with self._conn.transaction(), self._conn.cursor() as cur:
                    yield _PgTx(cur)
            except psycopg.errors.IntegrityError as exc:
                raise IntegrityError(type(exc).__name__) from None
            except psycopg.OperationalError as exc:
                raise StoreUnavailable(
                    f"the session store {self.where} failed: {type(exc).__name__}"
                ) from None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()


def connect(location: str | Path) -> Database:
    """A PostgreSQL URL (``postgresql://`` or ``postgres://``), else a SQLite file path."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(text)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise BadInput(
            f"unknown session store scheme {scheme!r}: give a file path (SQLite) or a "
            "postgresql:// URL",
            field="store",
        )
    return SqliteDatabase(Path(text).expanduser())
