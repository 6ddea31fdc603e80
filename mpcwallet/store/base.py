"""What every part of the session store's repository shares: the connection, one-row queries,
column lists, the clock, the refusal of a state change from an unexpected state."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NoReturn

from mpcwallet.errors import BadInput, NotFound
from mpcwallet.store.backend import Database
from mpcwallet.store.models import Keyset, Node, Request, Session

__all__ = ["Repo", "now_ms", "sql"]


def sql(template: str) -> str:
    """A query with its column lists filled in: ``{K}``, ``{S}``, ``{N}``, ``{R}`` are the
    record classes' COLUMNS (module constants). Values are always bound parameters (``?``)."""
    return template.format(K=Keyset.COLUMNS, S=Session.COLUMNS, N=Node.COLUMNS, R=Request.COLUMNS)


def now_ms(now: int | None) -> int:
    return int(time.time() * 1000) if now is None else int(now)


class Repo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _one(self, query: str, params: Sequence[Any], *, write: bool = False) -> Any:
        with self.db.transaction(write=write) as tx:
            rows = tx.execute(sql(query), params)
        return rows[0] if rows else None

    def _found(
        self, query: str, params: Sequence[Any], missing: NotFound, *, tenant: str | None = None
    ) -> Any:
        """The one row ``query`` finds, else raise ``missing``; with ``tenant``, a row of
        another tenant (its second column) is missing too."""
        row = self._one(query, params)
        if row is None or (tenant is not None and row[1] != tenant):
            raise missing
        return row

    @staticmethod
    def _refuse_transition(what: str, ident: str, status: str) -> NoReturn:
        raise BadInput(f"{what} {ident} is {status}; refusing the change", field="status")
