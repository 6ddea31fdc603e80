"""The session store's repository: typed functions over the tables, one transaction each.

Uniqueness is always the database's: a key set id, a session id and a request id are primary
keys, "one running session per key set" is a partial unique index, and a request claim is one
``INSERT ... ON CONFLICT DO NOTHING RETURNING`` that exactly one caller wins (on PostgreSQL a
concurrent second insert waits for the first to commit, then does nothing). State changes are
``UPDATE ... WHERE status = <expected>``, so two coordinators cannot both move a record.

``now`` (milliseconds since the epoch) may be given for tests; it defaults to the clock.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from mpcwallet.store.backend import connect
from mpcwallet.store.backups import BackupsRepo
from mpcwallet.store.keysets import KeysetsAndSessions
from mpcwallet.store.nodes import NodesAndRequests
from mpcwallet.store.schema import migrate
from mpcwallet.store.waas_replacements import WaasReplacements

__all__ = ["Store"]


class Store(KeysetsAndSessions, NodesAndRequests, BackupsRepo, WaasReplacements):
    """One connection to the session store; thread-safe (one transaction at a time)."""

    @classmethod
    def open(cls, location: str | Path) -> Store:
        """Connect (a SQLite file path, or a ``postgresql://`` URL) and apply migrations."""
        db = connect(location)
        try:
            migrate(db)
        except BaseException:
            db.close()
            raise
        return cls(db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.db.dialect}: {self.db.where})"
