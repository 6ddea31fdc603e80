"""WaaS tests: a fresh store on SQLite and on a real PostgreSQL, principals, approver keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.postgres import PgServer, postgres_server

__all__ = ["postgres_server"]


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "store" / "waas.db")
    server: PgServer = request.getfixturevalue("postgres_server")
    return server.new_database()
