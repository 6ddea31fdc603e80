"""The deposit listener's record in the WaaS store (migration 102), on SQLite and PostgreSQL:
the cursor survives a new connection (a restarted service), a block range committed twice adds
nothing, a roll-back drops what a reorg removed and puts it back when the new chain holds it
again, FINALIZED and DROPPED each append one audit event to the owning tenant's trail, and the
API's page reads only the wallet's own deposits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mpcwallet.chain.sql_store import SqlChainStore
from mpcwallet.chain.store import Deposit
from mpcwallet.store import Store
from mpcwallet.waas.deposits import audit_hook, watched_addresses

CHAIN = 11155111
ALICE = "0x" + "aA" * 20
BOB = "0x" + "bB" * 20
TOKEN = "0x" + "cC" * 20


def _h(n: int, fork: str = "0") -> str:
    return "0x" + fork * 2 + f"{n:062x}"


def _dep(tx: int, to: str, block: int, *, log: int = -1, fork: str = "0") -> Deposit:
    return Deposit(
        chain_id=CHAIN,
        tx_hash="0x" + f"{tx:064x}",
        log_index=log,
        token=None if log < 0 else TOKEN,
        sender="0x" + "11" * 20,
        recipient=to,
        amount=10**30 + tx,  # beyond a BIGINT and a JSON number: kept as a decimal string
        block_number=block,
        block_hash=_h(block, fork),
        state="CONFIRMING",
    )


@pytest.fixture
def stores(location: str) -> Iterator[list[Store]]:
    opened: list[Store] = []
    yield opened
    for s in opened:
        s.close()


def _open(location: str, opened: list[Store]) -> tuple[Store, SqlChainStore]:
    store = Store.open(location)
    opened.append(store)
    return store, SqlChainStore(store.db, on_deposit=audit_hook(store))


def _wallet(store: Store, wallet_id: str, tenant: str, address: str) -> None:
    store.create_wallet(wallet_id, tenant, wallet_id, None, "DEV_SIGNER", None, None, "pr_x")
    store.finish_wallet(wallet_id, [], status="ACTIVE", address=address, key_ref="dev:" + wallet_id)


def test_cursor_restart_reorg_and_audit(location: str, stores: list[Store]) -> None:
    store, rec = _open(location, stores)
    _wallet(store, "w_alice", "acme", ALICE)
    _wallet(store, "w_bob", "other", BOB)
    assert sorted(watched_addresses(store)) == sorted([ALICE, BOB])
    assert rec.cursor(CHAIN) is None
    blocks = [(n, _h(n)) for n in range(10, 14)]
    first = [_dep(1, ALICE, 11), _dep(2, ALICE, 12, log=0), _dep(3, BOB, 13)]
    assert rec.commit_blocks(CHAIN, blocks, first) == rec.deposits(CHAIN) != []
    # a restarted service: a new connection resumes after block 13; the same range again
    # (a second listener, or a step retried) adds nothing
    store2, rec2 = _open(location, stores)
    assert rec2.cursor(CHAIN) == (13, _h(13)) and rec2.lowest_block(CHAIN) == 10
    assert rec2.commit_blocks(CHAIN, blocks, first) == []
    assert len(rec2.deposits(CHAIN)) == 3
    got = rec2.deposits(CHAIN)[0]
    assert got.amount == 10**30 + 1 and isinstance(got.amount, int)

    # FINALIZED: one audit event in the owner's tenant, not twice
    fin = rec2.set_deposit_state(got, "CONFIRMED")
    rec2.set_deposit_state(fin, "FINALIZED")
    rec2.set_deposit_state(fin, "FINALIZED")
    events = store2.audit_events(tenant="acme")
    finals = [e for e in events if e.event == "DEPOSIT_FINALIZED"]
    assert len(finals) == 1 and finals[0].subject == "w_alice"
    assert finals[0].fields["amount"] == str(10**30 + 1) and finals[0].fields["asset"] == "ETH"
    assert not [e for e in store2.audit_events(tenant="other") if e.event.startswith("DEPOSIT")]

    # a reorg replaced blocks 12 and 13: their deposits are DROPPED (audited), the cursor is 11
    dropped = rec2.roll_back(CHAIN, 11, "reorg: blocks 12..13 were replaced")
    assert sorted(d.tx_hash[-1] for d in dropped) == ["2", "3"]
    assert rec2.cursor(CHAIN) == (11, _h(11)) and rec2.block_hash(CHAIN, 12) is None
    assert [d.tx_hash[-1] for d in rec2.deposits(CHAIN)] == ["1"]
    assert {d.state for d in rec2.deposits(CHAIN, live_only=False)} == {"FINALIZED", "DROPPED"}
    drops = [(e.tenant, e.subject) for e in store2.audit_events() if e.event == "DEPOSIT_DROPPED"]
    assert sorted(drops) == [("acme", "w_alice"), ("other", "w_bob")]
    assert rec2.roll_back(CHAIN, 11, "again") == []  # nothing left above 11: no new event
    # the new chain holds tx 3 again in another block 12: it comes back, once
    again = rec2.commit_blocks(CHAIN, [(12, _h(12, "f"))], [_dep(3, BOB, 12, fork="f")])
    assert [(d.block_number, d.state) for d in again] == [(12, "CONFIRMING")]
    assert [d.tx_hash[-1] for d in rec2.deposits(CHAIN)] == ["1", "3"]
    assert store2.verify_audit() == len(store2.audit_events())
    kinds = [e["to_state"] for e in rec2.events(again[0].subject)]
    assert kinds == ["CONFIRMING", "DROPPED", "CONFIRMING"]


def test_deposit_pages(location: str, stores: list[Store]) -> None:
    _, rec = _open(location, stores)
    deps = [_dep(i, ALICE, 20 + i // 3, log=i % 3 - 1) for i in range(7)] + [_dep(99, BOB, 21)]
    rec.commit_blocks(CHAIN, [(n, _h(n)) for n in range(20, 24)], deps)
    seen: list[Deposit] = []
    after = None
    while True:
        page = rec.deposits_to(ALICE.upper().replace("0X", "0x"), limit=3, after=after)
        seen += page
        if len(page) < 3:
            break
        last = page[-1]
        after = (last.block_number, last.tx_hash, last.log_index)
    assert [d.tx_hash for d in seen] == [d.tx_hash for d in deps[:7]]
    assert all(d.recipient == ALICE for d in seen)
