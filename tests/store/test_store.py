"""The session store, the same tests on SQLite and on a real PostgreSQL (see conftest.py)."""

from __future__ import annotations

import stat
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from support.postgres import PgServer

from mpcwallet.errors import (
    AlreadyExists,
    BadInput,
    Busy,
    IdempotencyConflict,
    NotFound,
    PeerTimeout,
    StoreSchemaError,
    StoreUnavailable,
)
from mpcwallet.store import Store
from mpcwallet.store.schema import MIGRATIONS, Migration, all_migrations, current_version, migrate

ALL = all_migrations()
LATEST = max(m.version for m in ALL)

PUB = "02" + "11" * 32
ADDR = "0x" + "Ab" * 20
H1, H2 = "aa" * 32, "bb" * 32


def keyset(store: Store, keyset_id: str = "ks1", *, active: bool = True) -> None:
    store.create_keyset(keyset_id, "wallet-1", 2, 3, ["n1", "n2", "n3"])
    if active:
        suffix = f"{abs(hash(keyset_id)) % 10**8:08d}"
        store.activate_keyset(keyset_id, PUB, "0x" + "ab" * 16 + suffix)


# --- schema --------------------------------------------------------------------------------

# versions increase, with gaps (the cluster's from 1, node backups' from 50, WaaS's from 100)
LATEST = ALL[-1].version
CORE_LATEST = MIGRATIONS[-1].version


def test_migrations_apply_once_and_are_idempotent(open_store: Callable[[], Store]) -> None:
    first = open_store()
    assert current_version(first.db) == LATEST
    keyset(first)
    second = open_store()  # a second coordinator starting on the same store
    assert migrate(second.db) == LATEST
    with second.db.transaction(write=False) as tx:
        assert tx.execute("SELECT COUNT(*) FROM schema_version")[0][0] == len(ALL)
    assert second.get_keyset("ks1").status == "active"


def test_a_failing_migration_leaves_nothing_behind(store: Store) -> None:
    broken = (
        *MIGRATIONS,
        Migration(
            CORE_LATEST + 1,
            "half a migration",
            ("CREATE TABLE half_done (x INTEGER)", "THIS IS NOT SQL"),
        ),
        *ALL[len(MIGRATIONS) :],
    )
    with pytest.raises(Exception):  # noqa: B017 - the backend's own syntax error
        migrate(store.db, broken)
    assert current_version(store.db) == LATEST
    with pytest.raises(Exception):  # noqa: B017
        with store.db.transaction(write=False) as tx:
            tx.execute("SELECT * FROM half_done")
    # and the store still works
    keyset(store)
    assert store.get_keyset("ks1").t == 2


def test_a_store_from_a_newer_mpcwallet_is_refused(open_store: Callable[[], Store]) -> None:
    store = open_store()
    with store.db.transaction(write=True) as tx:
        tx.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
            (LATEST + 1, "from the future", 0),
        )
    with pytest.raises(StoreSchemaError, match="upgrade mpcwallet"):
        open_store()


def test_a_store_with_an_unknown_version_is_refused_and_gaps_are_applied(
    open_store: Callable[[], Store],
) -> None:
    store = open_store()
    with store.db.transaction(write=True) as tx:  # a version no migration of ours has
        tx.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
            (CORE_LATEST - 1, "someone else's", 0),
        )
    with pytest.raises(StoreSchemaError, match="does not know"):
        open_store()
    extra = (
        MIGRATIONS[0],
        Migration(7, "a lower number merged later", ("CREATE TABLE merged_later (x INTEGER)",)),
        *ALL[1:],
    )
    with store.db.transaction(write=True) as tx:
        tx.execute("DELETE FROM schema_version WHERE version = ?", (CORE_LATEST - 1,))
    assert migrate(store.db, extra) == LATEST  # 7 was not applied yet: it is, now
    with store.db.transaction(write=False) as tx:
        tx.execute("SELECT * FROM merged_later")


# --- key sets ------------------------------------------------------------------------------


def test_keysets(store: Store) -> None:
    ks = store.create_keyset("ks1", "wallet-1", 2, 3, ["n1", "n2", "n3"])
    assert (ks.status, ks.pubkey, ks.parties) == ("pending", None, ("n1", "n2", "n3"))
    with pytest.raises(AlreadyExists):
        store.create_keyset("ks1", "wallet-2", 2, 3, ["n1", "n2", "n3"])
    active = store.activate_keyset("ks1", PUB, ADDR)
    assert (active.status, active.address) == ("active", ADDR.lower())
    with pytest.raises(BadInput, match="is active"):
        store.activate_keyset("ks1", PUB, ADDR)
    store.create_keyset("ks2", "wallet-1", 2, 3, ["n1", "n2", "n3"])
    with pytest.raises(AlreadyExists, match="address"):  # the same address, spelled otherwise
        store.activate_keyset("ks2", PUB, ADDR.upper().replace("0X", "0x"))
    assert store.get_keyset("ks2").status == "pending"
    assert store.set_keyset_status("ks2", "failed", expect="pending").status == "failed"
    assert [k.keyset_id for k in store.list_keysets("wallet-1")] == ["ks1", "ks2"]
    assert store.list_keysets("nobody") == []
    with pytest.raises(NotFound):
        store.get_keyset("missing")


@pytest.mark.parametrize(
    ("t", "n", "parties"),
    [(0, 3, ["a", "b", "c"]), (4, 3, ["a", "b", "c"]), (2, 3, ["a", "b"]), (2, 2, ["a", "a"])],
)
def test_keyset_shape_is_checked(store: Store, t: int, n: int, parties: list[str]) -> None:
    with pytest.raises(BadInput):
        store.create_keyset("ks1", "w", t, n, parties)
    assert store.list_keysets() == []


# --- sessions ------------------------------------------------------------------------------


def test_session_start_and_end_with_error_class(store: Store) -> None:
    keyset(store)
    s = store.start_session(
        "s1", "ks1", "sign", ["n1", "n2"], tx_request_id="r1", tx_hash="0x" + H1
    )
    assert (s.status, s.quorum, s.ended_at) == ("running", ("n1", "n2"), None)
    with pytest.raises(Busy, match="s1"):  # one signature in flight per key set
        store.start_session("s2", "ks1", "sign", ["n1", "n3"])
    ended = store.end_session("s1", "failed", error=PeerTimeout("n2 timed out"), error_node="n2")
    assert (ended.error_code, ended.error_class, ended.error_node) == ("timeout", "transient", "n2")
    assert ended.ended_at is not None
    with pytest.raises(BadInput, match="is failed"):
        store.end_session("s1", "succeeded")
    retry = store.start_session("s2", "ks1", "sign", ["n1", "n3"], tx_request_id="r1", attempt=2)
    store.end_session(retry.session_id, "succeeded")
    assert [x.session_id for x in store.list_sessions(tx_request_id="r1")] == ["s1", "s2"]
    assert len(store.list_sessions(keyset_id="ks1")) == 2
    with pytest.raises(AlreadyExists):
        store.start_session("s1", "ks1", "sign", ["n1", "n2"])
    with pytest.raises(BadInput, match="n9"):
        store.start_session("s3", "ks1", "sign", ["n1", "n9"])
    with pytest.raises(NotFound):
        store.start_session("s3", "nope", "sign", ["n1", "n2"])
    with pytest.raises(BadInput):
        store.end_session("s2", "succeeded", error_code="timeout")


def test_abandoned_sessions_free_the_keyset(store: Store) -> None:
    keyset(store)
    store.start_session("s1", "ks1", "refresh", ["n1", "n2", "n3"], now=1_000)
    assert store.abandon_stale_sessions(started_before=500) == 0
    assert store.abandon_stale_sessions(started_before=2_000) == 1
    s = store.get_session("s1")
    assert (s.status, s.error_class) == ("abandoned", "transient")
    store.start_session("s2", "ks1", "sign", ["n2", "n3"])


# --- nodes ---------------------------------------------------------------------------------


def test_node_heartbeat_quarantine_and_clear(store: Store) -> None:
    assert store.register_node("n1", "zone-a").status == "unreachable"
    assert store.heartbeat("n1", "zone-a", now=10).status == "healthy"
    assert store.mark_unreachable("n1").status == "unreachable"
    assert store.heartbeat("n1", "zone-a", now=20).last_seen_at == 20
    q = store.quarantine_node("n1", "invalid_proof", session_id="s1", now=30)
    assert (q.status, q.quarantine_code, q.quarantine_session) == (
        "quarantined",
        "invalid_proof",
        "s1",
    )
    # neither an answer nor a second violation lifts or rewrites it: only an operator
    assert store.heartbeat("n1", "zone-a", now=40).status == "quarantined"
    assert store.mark_unreachable("n1").status == "quarantined"
    again = store.quarantine_node("n1", "malformed_message", now=50)
    assert (again.quarantined_at, again.quarantine_code) == (30, "invalid_proof")
    cleared = store.clear_node("n1")
    assert (cleared.status, cleared.quarantine_code) == ("unreachable", None)
    with pytest.raises(BadInput):
        store.clear_node("n1")
    store.heartbeat("n2", "zone-b")
    assert [(n.node_id, n.status) for n in store.list_nodes()] == [
        ("n1", "unreachable"),
        ("n2", "healthy"),
    ]
    with pytest.raises(NotFound):
        store.quarantine_node("n9", "invalid_proof")


# --- idempotent requests -------------------------------------------------------------------


def test_request_claims(store: Store) -> None:
    first = store.claim_request("req-1", "sign", H1)
    assert first.won and first.request.status == "pending"
    again = store.claim_request("req-1", "sign", H1)
    assert not again.won and again.request.status == "pending"
    with pytest.raises(IdempotencyConflict):
        store.claim_request("req-1", "sign", H2)
    with pytest.raises(IdempotencyConflict):
        store.claim_request("req-1", "refresh", H1)
    # the first claimant asking again (its first answer lost with the connection) still wins
    assert store.claim_request("req-1", "sign", H1, owner=first.owner).won
    assert not store.claim_request("req-1", "sign", H1, owner="someone-else").won
    done = store.finish_request("req-1", result={"r": "0x01", "raw_tx": "0x02"})
    assert not store.claim_request("req-1", "sign", H1, owner=first.owner).won  # done: replay
    assert done.status == "succeeded"
    replay = store.claim_request("req-1", "sign", H1)
    assert not replay.won and replay.request.result == {"r": "0x01", "raw_tx": "0x02"}
    with pytest.raises(BadInput, match="is succeeded"):
        store.finish_request("req-1", error_code="timeout")
    store.claim_request("req-2", "sign", H2)
    assert store.finish_request("req-2", error_code="policy_refused").status == "failed"


def test_values_are_checked(store: Store) -> None:
    for call in (
        lambda: store.claim_request("has space", "sign", H1),
        lambda: store.claim_request("r", "sign", "XYZ"),
        lambda: store.heartbeat("n,1", "zone"),
        lambda: store.create_keyset("k", "w", 1, 1, ["a,b"]),
    ):
        with pytest.raises(BadInput):
            call()


# --- concurrency: two connections, racing ---------------------------------------------------


def _race(fns: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at once, one thread each (released together); their results or errors."""
    barrier = threading.Barrier(len(fns))
    results: list[Any] = [None] * len(fns)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fns[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results


def test_racing_claims_exactly_one_wins(open_store: Callable[[], Store]) -> None:
    a, b = open_store(), open_store()
    for i in range(15):
        rid = f"race-{i}"
        out = _race(
            [partial(a.claim_request, rid, "sign", H1), partial(b.claim_request, rid, "sign", H1)]
        )
        assert all(not isinstance(x, Exception) for x in out), out
        assert sorted(x.won for x in out) == [False, True], out


def test_racing_sessions_one_in_flight_per_keyset(open_store: Callable[[], Store]) -> None:
    a, b = open_store(), open_store()
    keyset(a)
    for i in range(8):
        out = _race(
            [
                partial(a.start_session, f"a{i}", "ks1", "sign", ["n1", "n2"]),
                partial(b.start_session, f"b{i}", "ks1", "sign", ["n2", "n3"]),
            ]
        )
        winners = [x for x in out if not isinstance(x, Exception)]
        assert len(winners) == 1, out
        assert all(isinstance(x, Busy) for x in out if isinstance(x, Exception)), out
        a.end_session(winners[0].session_id, "succeeded")


# --- opening -------------------------------------------------------------------------------


def test_open_errors_name_the_store_but_never_the_password(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable) as info:
        Store.open("postgresql://postgres:hunter2-store-pw@127.0.0.1:1/cluster")
    assert "127.0.0.1:1/cluster" in info.value.message
    assert "hunter2" not in info.value.message and "hunter2" not in repr(info.value)
    with pytest.raises(BadInput, match="mysql"):
        Store.open("mysql://db/cluster")
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("not a database, " * 100)
    with pytest.raises(StoreUnavailable, match=r"notes\.txt"):
        Store.open(not_sqlite)


def test_sqlite_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "cluster.db"
    with Store.open(path) as store:
        keyset(store)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_coordinators_starting_together_migrate_once(location: str) -> None:
    """Three coordinators open a fresh store at once: each gets a working store, the schema is
    applied once (PostgreSQL: the advisory lock; SQLite: BEGIN IMMEDIATE)."""
    out = _race([partial(Store.open, location) for _ in range(3)])
    try:
        assert all(isinstance(x, Store) for x in out), out
        with out[0].db.transaction(write=False) as tx:
            assert tx.execute("SELECT COUNT(*) FROM schema_version")[0][0] == len(ALL)
        keyset(out[1])
        assert out[2].get_keyset("ks1").status == "active"
    finally:
        for x in out:
            if isinstance(x, Store):
                x.close()


def test_a_lost_postgres_connection_is_transient_then_reconnects(
    postgres_server: PgServer,
) -> None:
    url = postgres_server.new_database()
    with Store.open(url) as store, Store.open(url) as admin:
        _lose_connection(store, admin)


def _lose_connection(store: Store, admin: Store) -> None:
    with store.db.transaction(write=False) as tx:
        pid = tx.execute("SELECT pg_backend_pid()")[0][0]
    with admin.db.transaction(write=True) as tx:
        assert tx.execute("SELECT pg_terminate_backend(?)", (pid,))[0][0] is True
    with pytest.raises(StoreUnavailable) as info:
        store.claim_request("after-loss", "sign", H1)
    assert info.value.kind == "transient"
    # the claim did not happen; the next call reconnects and makes it
    assert store.claim_request("after-loss", "sign", H1).won
