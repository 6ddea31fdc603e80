"""The session store's schema: numbered migrations, applied in one transaction at open.

``schema_version`` holds one row per applied migration. :func:`migrate` runs in a single write
transaction: on PostgreSQL it first takes a transaction-scoped advisory lock (so coordinators
starting together migrate one after the other, and the second finds nothing to do); on SQLite
``BEGIN IMMEDIATE`` takes the write lock. Every pending migration's statements and its version
row commit together, or nothing does (DDL is transactional on both). Running it again is a
no-op. A store whose version is newer than this code is refused, not written to.

Times are integer milliseconds since the Unix epoch (UTC), the same on both backends. Lists of
party names are stored comma-separated (names never contain a comma). No column holds a secret:
ids, party names, public keys, addresses, hashes, stable error codes and public results only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from mpcwallet.errors import StoreSchemaError
from mpcwallet.store.backend import Database, Tx

__all__ = ["MIGRATIONS", "Migration", "all_migrations", "current_version", "migrate"]

# A fixed key for pg_advisory_xact_lock: "mpcw" "schm" as two int32 halves.
_PG_LOCK_KEY = 0x6D70_6377_7363_686D

_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " applied_at BIGINT NOT NULL)"
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


_V1 = (
    """CREATE TABLE mpc_keysets (
        keyset_id TEXT PRIMARY KEY,
        wallet_id TEXT NOT NULL,
        t INTEGER NOT NULL,
        n INTEGER NOT NULL,
        parties TEXT NOT NULL,
        pubkey TEXT,
        address TEXT UNIQUE,
        status TEXT NOT NULL
            CHECK (status IN ('pending', 'active', 'failed', 'retired')),
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        CHECK (1 <= t AND t <= n),
        CHECK (status IN ('pending', 'failed') OR (pubkey IS NOT NULL AND address IS NOT NULL))
    )""",
    "CREATE INDEX mpc_keysets_wallet ON mpc_keysets (wallet_id)",
    """CREATE TABLE mpc_sessions (
        session_id TEXT PRIMARY KEY,
        keyset_id TEXT NOT NULL REFERENCES mpc_keysets (keyset_id),
        op TEXT NOT NULL CHECK (op IN ('keygen', 'sign', 'refresh')),
        tx_request_id TEXT,
        tx_hash TEXT,
        quorum TEXT NOT NULL,
        attempt INTEGER NOT NULL CHECK (attempt >= 1),
        status TEXT NOT NULL
            CHECK (status IN ('running', 'succeeded', 'failed', 'abandoned')),
        started_at BIGINT NOT NULL,
        ended_at BIGINT,
        error_code TEXT,
        error_class TEXT
            CHECK (error_class IS NULL OR error_class IN ('transient', 'permanent', 'violation')),
        error_node TEXT,
        CHECK ((status = 'running') = (ended_at IS NULL))
    )""",
    # At most one session in flight per key set (and so per address): nonce safety, and no
    # refresh under a running signature. The database enforces it, for every coordinator.
    "CREATE UNIQUE INDEX mpc_sessions_one_running ON mpc_sessions (keyset_id)"
    " WHERE status = 'running'",
    "CREATE INDEX mpc_sessions_request ON mpc_sessions (tx_request_id)",
    """CREATE TABLE mpc_nodes (
        node_id TEXT PRIMARY KEY,
        zone TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('healthy', 'unreachable', 'quarantined')),
        last_seen_at BIGINT,
        quarantined_at BIGINT,
        quarantine_code TEXT,
        quarantine_session TEXT,
        CHECK ((status = 'quarantined') = (quarantined_at IS NOT NULL))
    )""",
    # Idempotency: the request id is the primary key, so a claim is one INSERT that exactly
    # one caller wins, whatever the number of coordinators.
    """CREATE TABLE mpc_requests (
        request_id TEXT PRIMARY KEY,
        op TEXT NOT NULL,
        body_hash TEXT NOT NULL,
        owner TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
        result TEXT,
        error_code TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
    )""",
)

# Node backups (issue 25). Numbered from 50 so that migrations added on other branches at the
# same time keep their numbers; versions only need to increase.
_V50 = (
    """CREATE TABLE mpc_share_points (
        keyset_id TEXT NOT NULL REFERENCES mpc_keysets (keyset_id),
        generation BIGINT NOT NULL CHECK (generation >= 0),
        party TEXT NOT NULL,
        public_share TEXT NOT NULL,
        recorded_at BIGINT NOT NULL,
        PRIMARY KEY (keyset_id, generation, party)
    )""",
    """CREATE TABLE mpc_node_backups (
        keyset_id TEXT NOT NULL REFERENCES mpc_keysets (keyset_id),
        party TEXT NOT NULL,
        generation BIGINT NOT NULL CHECK (generation >= 0),
        recovery TEXT NOT NULL,
        label TEXT NOT NULL,
        ciphertext TEXT NOT NULL,
        public_blob TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (keyset_id, party, generation)
    )""",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "cluster: keysets, sessions, nodes, requests", _V1),
    Migration(50, "cluster: share points and node backups (PVE)", _V50),
)


def current_version(db: Database) -> int:
    with db.transaction(write=False) as tx:
        tables = _table_names(db, tx)
        if "schema_version" not in tables:
            return 0
        return int(tx.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0][0])


def _table_names(db: Database, tx: Tx) -> set[str]:
    run = tx.execute
    if db.dialect == "sqlite":
        rows = run("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = run("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return {str(r[0]) for r in rows}


def all_migrations() -> tuple[Migration, ...]:
    """The cluster's migrations (below 100; the node backups' from 50) and then the WaaS
    service's (100 upwards)."""
    from mpcwallet.store.waas_schema import WAAS_MIGRATIONS

    return MIGRATIONS + WAAS_MIGRATIONS


def migrate(db: Database, migrations: tuple[Migration, ...] | None = None) -> int:
    """Apply every pending migration in one transaction; the resulting (highest) version.

    Numbers go upwards with gaps (the cluster's from 1, node backups' from 50, WaaS's from
    100), so a migration merged later with a lower number than one already applied is still
    applied; a version this code does not know is refused."""
    if migrations is None:
        migrations = all_migrations()
    versions = [m.version for m in migrations]
    if not versions or versions[0] < 1 or versions != sorted(set(versions)):
        raise ValueError("migrations must be numbered upwards from 1, each number once")
    latest = versions[-1]
    with db.transaction(write=True) as tx:
        if db.dialect == "postgres":
            tx.execute("SELECT pg_advisory_xact_lock(?)", (_PG_LOCK_KEY,))
        tx.execute(_VERSION_TABLE)
        applied = {int(r[0]) for r in tx.execute("SELECT version FROM schema_version")}
        unknown = sorted(applied - set(versions))
        if unknown:
            raise StoreSchemaError(
                f"the session store {db.where} has schema versions {unknown} this mpcwallet "
                "does not know: upgrade mpcwallet (never downgrade a store)"
            )
        for migration in [m for m in migrations if m.version not in applied]:
            for statement in migration.statements:
                tx.execute(statement)
            tx.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, int(time.time() * 1000)),
            )
    return latest
