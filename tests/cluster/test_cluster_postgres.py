"""The cluster's store-facing path against a real PostgreSQL (tests/support/postgres.py): a
2-of-3 cluster of real processes whose coordinator keeps its store in PostgreSQL signs, and the
key set, sessions, request claim and node rows land there. The fault cases run once, on SQLite
(test_cluster_e2e.py); this module runs the slow end to end once on this backend."""

from __future__ import annotations

from pathlib import Path

import pytest

try:
    from mpcwallet import _cbmpc  # noqa: F401
except ImportError:
    pytest.skip(
        "the cluster runs on cb-mpc only (mpcwallet._cbmpc missing); see README",
        allow_module_level=True,
    )

from support.cluster import running_cluster
from support.postgres import PgServer, postgres_server

from mpcwallet.evm.signature import raw_sender
from mpcwallet.store.repo import Store

pytestmark = pytest.mark.cbmpc
__all__ = ["postgres_server"]


def test_keygen_and_sign_with_the_store_in_postgres(
    tmp_path: Path, postgres_server: PgServer
) -> None:
    url = postgres_server.new_database()
    with running_cluster(tmp_path / "cluster", store=url) as cluster:
        code, keyset = cluster.call("POST", "/v1/keysets", {"wallet_id": "w-pg"})
        assert code == 200, keyset
        tx = cluster.tx(0)
        permit = cluster.permit(keyset["keyset_id"], tx)
        code, doc = cluster.sign(keyset["keyset_id"], tx, permit=permit, request_id="pg-1")
        assert code == 200, doc
        assert raw_sender(bytes.fromhex(doc["raw_tx"][2:]))[1] == keyset["address"]
        code, again = cluster.sign(keyset["keyset_id"], tx, permit=permit, request_id="pg-1")
        assert code == 200 and again["replayed"] is True and again["raw_tx"] == doc["raw_tx"]
    assert not (tmp_path / "cluster" / "store.sqlite").exists()
    with Store.open(url) as store:
        ks = store.get_keyset(keyset["keyset_id"])
        assert (ks.status, ks.address) == ("active", keyset["address"].lower())
        ops = sorted(s.op for s in store.list_sessions(keyset_id=keyset["keyset_id"]))
        assert ops == ["keygen", "sign"]
        assert store.get_request("pg-1").status == "succeeded"
        assert {n.node_id for n in store.list_nodes()} == {"node-a", "node-b", "node-c"}
