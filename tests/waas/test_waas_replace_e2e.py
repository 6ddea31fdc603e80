"""Speed-up and cancel of a stuck WaaS transaction, real processes: `mpc waas serve
--local-cluster --rpc-url` on SQLite, anvil (chain id 11155111) with automine off so the
transaction stays pending. Each replacement is a new signature through its own permit at the
request's nonce; exactly one transaction is mined at that nonce; a mined cancel ends the request
FAILED (cancelled) and pays nothing, a speed-up's request ends FINALIZED and pays once."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

try:
    from mpcwallet import _cbmpc  # noqa: F401
except ImportError:
    pytest.skip(
        "WaaS wallets are t-of-n keys on cb-mpc only (mpcwallet._cbmpc missing); see README",
        allow_module_level=True,
    )

from support.anvil import running_anvil
from support.waas import Serve, call, mpc_json, until

from mpcwallet.store import Store

pytestmark = [pytest.mark.cbmpc, pytest.mark.anvil, pytest.mark.slow]
TO = "0x" + "46" * 20


def _mined_from(anvil: Any, address: str) -> list[str]:
    block = anvil.call("eth_getBlockByNumber", "latest", True)
    return [t["hash"] for t in block["transactions"] if t["from"].lower() == address.lower()]


def test_speed_up_and_cancel_leave_one_transaction_per_nonce(tmp_path: Path) -> None:
    d = tmp_path / "waas"
    d.mkdir()
    (d / "permit.key").write_text(secrets.token_hex(32))
    key = mpc_json("waas", "principal-add", "--dir", str(d), "--tenant", "t", "--name", "ops",
               "--role", "admin,requester")["api_key"]  # fmt: skip
    peer = mpc_json("waas", "principal-add", "--dir", str(d), "--tenant", "t", "--name", "bob",
                "--role", "requester")["api_key"]  # fmt: skip
    with running_anvil() as anvil:
        serve = Serve(d, anvil)
        serve.start()
        try:
            _, wallet = call(serve.url, key, "POST", "/v1/wallets", {"name": "hot"})
            address, wid = wallet["address"], wallet["wallet_id"]
            anvil.fund(address, 10**18)
            anvil.call("evm_setAutomine", False)

            def submit(request_id: str) -> dict[str, Any]:
                body = {"wallet_id": wid, "request_id": request_id, "to": TO, "value": "1000"}
                status, tx = call(serve.url, key, "POST", "/v1/tx-requests", body)
                assert (status, tx["state"]) == (201, "BROADCAST"), tx
                return dict(tx)

            def state(tid: str) -> dict[str, Any]:
                return dict(call(serve.url, key, "GET", f"/v1/tx-requests/{tid}")[1])

            # 1. cancel: speed-up, then cancel; the cancel is what gets mined
            first = submit("r1")
            tid = first["tx_request_id"]
            status, err = call(serve.url, peer, "POST", f"/v1/tx-requests/{tid}/speed-up")
            assert status == 403, err  # another requester's request
            status, fast = call(serve.url, key, "POST", f"/v1/tx-requests/{tid}/speed-up")
            assert (status, fast["state"], fast["nonce"]) == (200, "BROADCAST", "0"), fast
            status, cancel = call(serve.url, key, "POST", f"/v1/tx-requests/{tid}/cancel")
            assert status == 200, cancel
            hashes = [x["signed_tx"]["hash"] for x in (first, fast, cancel)]
            assert len(set(hashes)) == 3
            anvil.call("evm_mine")
            assert _mined_from(anvil, address) == [hashes[2]]  # one tx at nonce 0: the cancel
            anvil.call("anvil_mine", hex(70))
            done = until(
                "cancel final", lambda: state(tid)["state"] == "FAILED" and state(tid), serve
            )
            assert done["reason_code"] == "cancelled"
            assert anvil.balance(TO) == 0
            # a mined request is no longer replaceable
            assert call(serve.url, key, "POST", f"/v1/tx-requests/{tid}/cancel")[0] == 409

            # 2. speed-up: the faster one is mined at the next nonce and pays once
            second = submit("r2")
            tid2 = second["tx_request_id"]
            assert second["nonce"] == "1"
            _, fast2 = call(serve.url, key, "POST", f"/v1/tx-requests/{tid2}/speed-up")
            anvil.call("evm_mine")
            assert _mined_from(anvil, address) == [fast2["signed_tx"]["hash"]]
            anvil.call("anvil_mine", hex(70))
            until("speed-up final", lambda: state(tid2)["state"] == "FINALIZED", serve)
            assert anvil.balance(TO) == 1000
        finally:
            serve.stop()
    with Store.open(str(d / "store.sqlite")) as store:
        events = [e.event for e in store.audit_events(tenant="t")]
        store.verify_audit()
    assert events.count("TX_REPLACEMENT_PERMIT_ISSUED") == 3
    assert events.count("TX_REPLACEMENT_SIGNED") == 3
