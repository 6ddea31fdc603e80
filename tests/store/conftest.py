"""Every store test runs twice: on a SQLite file and on a real PostgreSQL (one server for the
whole test session, one fresh database per test)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.postgres import PgServer, postgres_server

from mpcwallet.store import Store

__all__ = ["postgres_server"]


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh store lives: a SQLite file path or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "store" / "cluster.db")
    server: PgServer = request.getfixturevalue("postgres_server")
    return server.new_database()


@pytest.fixture
def open_store(location: str) -> Iterator[Callable[[], Store]]:
    """Opens connections to the test's store (each call a new one); closes them all after."""
    opened: list[Store] = []

    def opener() -> Store:
        store = Store.open(location)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[[], Store]) -> Store:
    return open_store()
