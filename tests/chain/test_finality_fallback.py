"""A node without the ``finalized`` block tag: FINALIZED at the rule's depth (real anvil behind a
proxy that answers that tag with the JSON-RPC error older nodes give)."""

from __future__ import annotations

import http.server
import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from support.anvil import DEV_ADDR_1, DEV_KEY_0, Anvil

from mpcwallet.chain.node import Node
from mpcwallet.chain.outgoing import new_record, record_and_send
from mpcwallet.chain.rules import ChainRules
from mpcwallet.chain.store import SqliteChainStore
from mpcwallet.chain.tracker import Tracker
from mpcwallet.evm.address import keccak
from mpcwallet.evm.rpc import RpcClient

pytestmark = pytest.mark.anvil


class _NoFinalityTag(http.server.BaseHTTPRequestHandler):
    upstream = ""
    refused: list[str]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        req = json.loads(body)
        if req["method"] == "eth_getBlockByNumber" and req["params"][0] in ("finalized", "safe"):
            type(self).refused.append(req["params"][0])
            answer = {"jsonrpc": "2.0", "id": req["id"],
                      "error": {"code": -32602, "message": "invalid block tag"}}  # fmt: skip
            payload = json.dumps(answer).encode()
        else:
            fwd = urllib.request.Request(
                type(self).upstream, data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(fwd, timeout=5) as resp:
                payload = resp.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def old_node(anvil: Anvil) -> Iterator[tuple[str, type[_NoFinalityTag]]]:
    handler = type("NoTag", (_NoFinalityTag,), {"upstream": anvil.url, "refused": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_finalized_by_depth_when_the_node_has_no_tag(
    anvil: Anvil, old_node: tuple[str, type[_NoFinalityTag]], tmp_path: Path
) -> None:
    url, handler = old_node
    acct = Account.from_key(DEV_KEY_0)
    tx = {"chainId": anvil.chain_id, "nonce": anvil.nonce(acct.address), "to": DEV_ADDR_1,
          "value": 1, "gas": 21000, "maxFeePerGas": 10**10,
          "maxPriorityFeePerGas": 10**9}  # fmt: skip
    raw = bytes(acct.sign_transaction(tx).raw_transaction)
    node = Node(RpcClient(url))
    events: list[str] = []
    tracker = Tracker(node, SqliteChainStore(tmp_path / "chain.db"), ChainRules(1, 3),
                      on_event=events.append)  # fmt: skip
    rec = new_record(tx_hash=keccak(raw), raw=raw, chain_id=anvil.chain_id,
                     sender=acct.address, nonce=tx["nonce"], kind="broadcast")  # fmt: skip
    rec = record_and_send(tracker.store, node, rec)
    rec, _ = tracker.poll(rec)
    assert rec.state == "CONFIRMED" and handler.refused == ["finalized"]
    anvil.call("evm_mine")
    assert tracker.poll(rec)[0].state == "CONFIRMED"  # 2 deep of 3
    anvil.call("evm_mine")
    assert tracker.poll(rec)[0].state == "FINALIZED"  # 3 deep
    assert handler.refused == ["finalized"]  # asked once, then the depth stands in
    assert any("BROADCAST -> CONFIRMED" in e for e in events)
    assert any("CONFIRMED -> FINALIZED" in e for e in events)
