""" "Never two transactions with one nonce" (issue 24), on SQLite and PostgreSQL: the nonce a
WaaS request signs with is taken by one UPDATE of the wallet's counter inside the transaction
that records the permit, and (wallet_id, nonce) is unique. Concurrent signers through separate
connections get distinct nonces; a counter forced back (a bug, a restored backup) makes the
second request's preparation fail before any permit exists, so nothing is signed with a nonce
already used."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from mpcwallet.store import Store
from mpcwallet.store.waas_records import TxRow
from mpcwallet.store.waas_txs import Lost

N = 8


@pytest.fixture
def stores(location: str) -> Iterator[list[Store]]:
    opened = [Store.open(location) for _ in range(4)]
    yield opened
    for s in opened:
        s.close()


def _pending(store: Store, i: int) -> TxRow:
    row, _ = store.create_tx_request(f"txr_{i}", "t", "w1", f"r{i}", "h", "pr_x", {"i": i})
    moved = store.move_tx(row.tx_request_id, ("KYT",), "SIGN_PENDING")
    assert moved is not None
    return moved


def _prepare(store: Store, row: TxRow) -> TxRow:
    def build(nonce: int) -> tuple[dict[str, Any], str]:
        return {"nonce": nonce}, f"{nonce:064x}"

    def permit(tx_hash: str) -> tuple[str, int, int, dict[str, Any]]:
        return "p_" + row.tx_request_id, 0, 1, {"tx_hash": tx_hash}

    return store.prepare_signing(row, build, permit, lambda _b: [])


def test_concurrent_signers_get_distinct_nonces_and_a_reused_one_is_refused(
    stores: list[Store],
) -> None:
    store = stores[0]
    store.create_wallet("w1", "t", "hot", None, "DEV_SIGNER", None, None, "pr_x")
    store.finish_wallet("w1", [], status="ACTIVE", address="0x" + "ab" * 20, key_ref="dev:w1")
    rows = [_pending(store, i) for i in range(N)]
    with ThreadPoolExecutor(N) as pool:
        done = list(pool.map(lambda i: _prepare(stores[i % 4], rows[i]), range(N)))
    assert sorted(r.nonce for r in done if r.nonce is not None) == list(range(N))
    # the counter forced back: the next request cannot take nonce 0 again
    with store.db.transaction(write=True) as tx:
        tx.execute("UPDATE waas_wallets SET next_nonce = 0 WHERE wallet_id = 'w1'")
    late = _pending(store, N)
    with pytest.raises(Lost):
        _prepare(stores[1], late)
    again = store.get_tx(late.tx_request_id)
    assert again.nonce is None and again.tx_hash is None and again.state == "SIGN_PENDING"
    with store.db.transaction(write=False) as tx:
        permits = tx.execute(
            "SELECT count(*) FROM waas_permits WHERE tx_request_id = ?", (late.tx_request_id,)
        )
        nonces = tx.execute("SELECT nonce FROM waas_tx_requests WHERE nonce IS NOT NULL")
    assert permits[0][0] == 0
    assert sorted(int(n[0]) for n in nonces) == list(range(N))
