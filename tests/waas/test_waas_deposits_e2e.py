"""The seed's integration test (issue 24), real processes: `mpc waas serve --local-cluster
--rpc-url` (cb-mpc in-process signing) on SQLite against a real anvil (chain id 11155111).

A WaaS wallet is created; ETH and an ERC-20 (tests/evm/token.asm) are deposited to it; the
service's listener records both and they reach FINALIZED (one DEPOSIT_FINALIZED audit event
each); a deposit whose block ``anvil_reorg`` removed is DROPPED (audited); a deposit made while
the service was stopped is found after the restart, and nothing is recorded twice; a withdrawal
through the pipeline reaches FINALIZED. Slow: runs once."""

from __future__ import annotations

import json
import secrets
import urllib.request
from collections.abc import Iterator
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

from evm.evmasm import token_initcode
from support.anvil import DEV_KEY_0, Anvil, running_anvil
from support.waas import Serve, call, mpc_json, until

from mpcwallet.store import Store

pytestmark = [pytest.mark.cbmpc, pytest.mark.anvil, pytest.mark.slow]
GWEI = 10**9
TO = "0x" + "45" * 20


@pytest.fixture
def anvil() -> Iterator[Anvil]:
    with running_anvil() as node:
        yield node


def test_deposits_reorg_restart_and_a_withdrawal_to_finalized(anvil: Anvil, tmp_path: Path) -> None:
    d = tmp_path / "waas"
    d.mkdir()
    (d / "permit.key").write_text(secrets.token_hex(32))
    key = mpc_json("waas", "principal-add", "--dir", str(d), "--tenant", "t", "--name", "ops",
               "--role", "admin,requester")["api_key"]  # fmt: skip
    other = mpc_json("waas", "principal-add", "--dir", str(d), "--tenant", "u", "--name", "eve",
                 "--role", "admin,requester")["api_key"]  # fmt: skip
    token = anvil.send_signed(DEV_KEY_0, {"data": "0x" + token_initcode(10**24).hex()})
    token_address = token["contractAddress"]
    serve = Serve(d, anvil)
    serve.start()
    try:
        status, wallet = call(serve.url, key, "POST", "/v1/wallets", {"name": "hot"})
        assert status == 201, wallet
        address, wid = wallet["address"], wallet["wallet_id"]

        def deposits() -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            after = ""
            while True:
                status, page = call(
                    serve.url, key, "GET", f"/v1/wallets/{wid}/deposits?limit=2{after}"
                )
                assert status == 200, page
                out += page["deposits"]
                if page["next_after"] is None:
                    return out
                after = "&after=" + page["next_after"]

        def by_tx(tx_hash: str) -> list[dict[str, Any]]:
            return [x for x in deposits() if x["tx_hash"] == tx_hash]

        eth = anvil.fund(address, 10**18)
        calldata = "0xa9059cbb" + "00" * 12 + address[2:].lower() + f"{1234:064x}"
        erc20 = anvil.send_signed(DEV_KEY_0, {"to": token_address, "data": calldata})
        until("both deposits recorded", lambda: by_tx(erc20["transactionHash"]), serve)
        got = {(x["asset"].lower(), x["amount"], x["log_index"] >= 0) for x in deposits()}
        assert got == {("eth", str(10**18), False), (token_address.lower(), "1234", True)}
        assert len(by_tx(eth["transactionHash"])) == 1
        status, bad = call(serve.url, key, "GET", f"/v1/wallets/{wid}/deposits?after=x")
        assert (status, bad["error"]["field"]) == (422, "after")
        with urllib.request.urlopen(serve.url + "/openapi.json", timeout=30) as r:
            paths = json.loads(r.read())["paths"]
        assert "get" in paths["/v1/wallets/{wallet_id}/deposits"]
        assert "post" in paths["/v1/tx-requests/{tx_request_id}/speed-up"]
        # another tenant sees no such wallet
        assert call(serve.url, other, "GET", f"/v1/wallets/{wid}/deposits")[0] == 404

        # a reorg removes a recorded deposit's block: DROPPED
        late = anvil.send_signed(DEV_KEY_0, {"to": address, "value": 8 * GWEI, "gas": 21000})
        until("late deposit recorded", lambda: by_tx(late["transactionHash"]), serve)
        anvil.call("anvil_reorg", 1, [])
        until(
            "late deposit dropped",
            lambda: [x for x in by_tx(late["transactionHash"]) if x["state"] == "DROPPED"],
            serve,
        )

        # a withdrawal through the pipeline (signed before the restart: --local-cluster keeps
        # its key shares in memory), followed to FINALIZED by the restarted service
        body = {"wallet_id": wid, "request_id": "w1", "to": TO, "value": "1000"}
        status, tx = call(serve.url, key, "POST", "/v1/tx-requests", body)
        assert (status, tx["state"]) == (201, "BROADCAST"), tx
        tid = tx["tx_request_id"]
        until(
            "withdrawal mined",
            lambda: call(serve.url, key, "GET", f"/v1/tx-requests/{tid}")[1]["state"] == "CONFIRM",
            serve,
        )
        # stopped, a deposit arrives; the restarted service finds it, and nothing twice
        serve.stop()
        missed = anvil.send_signed(DEV_KEY_0, {"to": address, "value": 9 * GWEI, "gas": 21000})
        anvil.call("anvil_mine", hex(5))
        serve.start()
        until("deposit made while stopped", lambda: by_tx(missed["transactionHash"]), serve)
        keys = [(x["tx_hash"], x["log_index"]) for x in deposits()]
        assert len(keys) == len(set(keys)) == 4

        anvil.call("anvil_mine", hex(70))  # past the finality depth (64) and the finalized tag
        until(
            "withdrawal finalized",
            lambda: (
                call(serve.url, key, "GET", f"/v1/tx-requests/{tid}")[1]["state"] == "FINALIZED"
            ),
            serve,
        )
        until(
            "deposits finalized",
            lambda: (
                sorted(x["state"] for x in deposits())
                == ["DROPPED", "FINALIZED", "FINALIZED", "FINALIZED"]
            ),
            serve,
        )
        assert anvil.balance(TO) == 1000
    finally:
        serve.stop()
    with Store.open(str(d / "store.sqlite")) as store:
        events = store.audit_events(tenant="t")
        store.verify_audit()
    finals = sorted(e.fields["tx_hash"] for e in events if e.event == "DEPOSIT_FINALIZED")
    assert finals == sorted(
        [eth["transactionHash"], erc20["transactionHash"], missed["transactionHash"]]
    )
    drops = [e.fields["tx_hash"] for e in events if e.event == "DEPOSIT_DROPPED"]
    assert drops == [late["transactionHash"]]
    assert all(e.subject == wid for e in events if e.event.startswith("DEPOSIT"))
