"""No secret reaches the session store: the SQLite files and a pg_dump are scanned for them.

The flow hands the store everything a coordinator has at hand when a session fails, including
errors whose messages carry secret bytes; only ids, public values and stable codes may land.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest
from support.postgres import PgServer

from mpcwallet.errors import SessionViolation
from mpcwallet.session.node_channel import StaticKeypair
from mpcwallet.store import Store

PASSPHRASE = "store test passphrase: amber kettle 7"


def _forms(secret: bytes) -> list[bytes]:
    return [
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        base64.b64encode(secret),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
    ]


def _dump(location: str, request: pytest.FixtureRequest) -> bytes:
    if location.startswith("postgresql://"):
        server: PgServer = request.getfixturevalue("postgres_server")
        return server.run("pg_dump", "--no-owner", location).stdout.encode()
    db = Path(location)
    return b"".join(
        p.read_bytes() for p in sorted(db.parent.iterdir()) if p.name.startswith(db.name)
    )


def test_no_secret_in_the_store(location: str, request: pytest.FixtureRequest) -> None:
    static = StaticKeypair.generate()
    share = os.urandom(48)
    secrets = [static.private_bytes(), share, PASSPHRASE.encode()]
    store = Store.open(location)
    try:
        store.create_keyset("ks-secret", "wallet-9", 2, 3, ["n1", "n2", "n3"])
        store.activate_keyset("ks-secret", "03" + "42" * 32, "0x" + "c3" * 20)
        store.heartbeat("n1", "zone-a")
        body = b"sign " + share  # the request body may hold anything; only its hash is kept
        claim = store.claim_request("req-secret", "sign", hashlib.sha256(body).hexdigest())
        assert claim.won
        store.start_session(
            "s-secret", "ks-secret", "sign", ["n1", "n2"], tx_request_id="req-secret"
        )
        leak = SessionViolation(f"frame {share.hex()} under key {static.private_bytes().hex()}")
        store.end_session("s-secret", "failed", error=leak, error_node="n2")
        store.quarantine_node("n1", leak.code, session_id="s-secret")
        store.finish_request("req-secret", error_code=leak.code)
        dump = _dump(location, request)
    finally:
        store.close()
    dump += _dump(location, request)  # after close: SQLite has checkpointed its WAL
    # the dump is a real one: the public values are in it
    assert b"ks-secret" in dump and b"session_violation" in dump and b"c3c3c3" in dump
    for secret in secrets:
        for form in _forms(secret):
            assert form not in dump, "a secret reached the session store"
    assert static.public.hex().encode() not in dump  # not even the node's public key is kept
