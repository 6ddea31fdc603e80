"""The confirmation rule, chains.toml, and the record's transitions (no node needed)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mpcwallet.chain.outgoing import bumped, content_key, new_record
from mpcwallet.chain.rules import ChainRules, rules_for
from mpcwallet.chain.store import Deposit, SqliteChainStore
from mpcwallet.errors import FileFormatError
from mpcwallet.evm.txjson import parse_tx


def test_state_at_counts_depth_and_prefers_the_nodes_finality() -> None:
    rules = ChainRules(confirmations=3, finality_depth=10)
    assert rules.state_at(100, 100, finalized=None) == "CONFIRMING"
    assert rules.state_at(100, 102, finalized=None) == "CONFIRMED"  # 3 blocks, itself included
    assert rules.state_at(100, 102, finalized=100) == "FINALIZED"  # the node's tag decides
    assert rules.state_at(100, 200, finalized=99) == "CONFIRMED"  # deep, but not final yet
    # no finality tag: a depth of 10 blocks
    assert rules.state_at(100, 108, finalized=None) == "CONFIRMED"
    assert rules.state_at(100, 109, finalized=None) == "FINALIZED"


def test_chains_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPC_HOME", str(tmp_path))
    assert rules_for(1) == ChainRules(1, 64)
    (tmp_path / "chains.toml").write_text("[1]\nconfirmations = 12\n[5]\nfinality_depth = 3\n")
    assert rules_for(1) == ChainRules(12, 64) and rules_for(5) == ChainRules(1, 3)
    assert rules_for(1).with_confirmations(2) == ChainRules(2, 64)
    for bad in ("[1]\nconfirmations = 0\n", "[1]\nconfirmation = 2\n", "[1\n"):
        (tmp_path / "chains.toml").write_text(bad)
        with pytest.raises(FileFormatError) as info:
            rules_for(1)
        assert "chains.toml" in info.value.message


def test_record_is_durable_idempotent_and_every_change_is_an_event(tmp_path: Path) -> None:
    path = tmp_path / "chain.db"
    store = SqliteChainStore(path)
    rec = new_record(tx_hash=b"\x11" * 32, raw=b"\x02raw", chain_id=1,
                     sender="0x" + "Ab" * 20, nonce=7, kind="send", content="c")  # fmt: skip
    store.record_tx(rec)
    # committed: another connection (another process) sees it at once
    other = sqlite3.connect(path)
    assert other.execute("SELECT nonce, state FROM txs").fetchall() == [(7, "BROADCAST")]
    assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    other.close()
    assert store.record_tx(rec) == rec and len(store.txs()) == 1  # the same raw tx again
    assert [r.hash for r in store.pending(1, rec.sender)] == [rec.hash]
    mined = store.transition(rec, "CONFIRMED", "mined", block_number=5, block_hash="0xaa")
    assert store.transition(mined, "CONFIRMED") == mined  # nothing changed: no event
    back = store.transition(mined, "BROADCAST", "reorg", block_number=None, block_hash=None)
    assert back.block_number is None and store.pending_content(1, rec.sender, "c") == [back]
    states = [(e["from_state"], e["to_state"]) for e in store.events(rec.hash)]
    assert states == [(None, "BROADCAST"), ("BROADCAST", "CONFIRMED"), ("CONFIRMED", "BROADCAST")]
    assert (path.stat().st_mode & 0o777) == 0o600


def test_deposits_commit_once_and_roll_back(tmp_path: Path) -> None:
    store = SqliteChainStore(tmp_path / "chain.db")
    d = Deposit(1, "0x" + "22" * 32, -1, None, None, "0x" + "33" * 20, 5, 10, "0xb10", "CONFIRMING")
    assert store.commit_blocks(1, [(9, "0xb9"), (10, "0xb10")], [d]) == [store.deposits(1)[0]]
    assert store.commit_blocks(1, [(10, "0xb10")], [d]) == []  # seen already
    assert store.cursor(1) == (10, "0xb10")
    assert [x.tx_hash for x in store.roll_back(1, 9, "reorg")] == [d.tx_hash]
    assert store.cursor(1) == (9, "0xb9") and store.deposits(1) == []
    assert store.deposits(1, live_only=False)[0].state == "DROPPED"
    moved = Deposit(1, d.tx_hash, -1, None, None, d.recipient, 5, 11, "0xb11x", "CONFIRMING")
    assert len(store.commit_blocks(1, [(11, "0xb11x")], [moved])) == 1  # back, in a new block


def test_content_key_and_fee_bump() -> None:
    a = parse_tx({"chainId": 1, "to": "0x" + "44" * 20, "value": "1 gwei"})
    b = parse_tx({"chainId": 1, "to": "0x" + "44" * 20, "value": 10**9})
    sender = "0x" + "55" * 20
    assert content_key(a, sender) == content_key(b, sender)  # the same payment
    assert content_key(a, sender) != content_key(a, "0x" + "66" * 20)
    assert content_key(a, sender) != content_key(a.with_fields(nonce=3), sender)
    assert bumped(100) == 110 and bumped(101) == 112 and bumped(0) == 1 and bumped(5, 50) == 50
