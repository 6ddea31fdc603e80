"""The 2-of-3 cluster end to end: three node daemons and a coordinator as real processes on
loopback, one cluster for the module (SQLite store). Faults use real signals (SIGKILL) and the
one test-hook module (mpcwallet/testhooks.py), set only on the process that misbehaves.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from mpcwallet import _cbmpc  # noqa: F401
except ImportError:
    pytest.skip(
        "the cluster runs on cb-mpc only (mpcwallet._cbmpc missing); see README",
        allow_module_level=True,
    )

from support.cluster import Cluster, running_cluster

from mpcwallet.errors import MpcError
from mpcwallet.evm.signature import raw_sender
from mpcwallet.storage import envelope
from mpcwallet.store.repo import Store
from mpcwallet.wallet import cluster_demo as demo

pytestmark = pytest.mark.cbmpc
NAMES = ("node-a", "node-b", "node-c")
RETRY_BOUND = 20.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("cluster")) as c:
        yield c


@pytest.fixture(scope="module")
def keyset(cluster: Cluster) -> dict[str, Any]:
    code, doc = cluster.call(
        "POST", "/v1/keysets", {"t": 2, "n": 3, "tenant": "t1", "wallet_id": "w1"}
    )
    assert code == 200, doc
    return doc


_nonce = iter(range(1000))


def _signed(cluster: Cluster, keyset: dict[str, Any], **kw: Any) -> dict[str, Any]:
    tx = cluster.tx(next(_nonce))
    code, doc = cluster.sign(keyset["keyset_id"], tx, **kw)
    assert code == 200, doc
    _, sender = raw_sender(bytes.fromhex(doc["raw_tx"][2:]))
    assert sender == keyset["address"]
    return doc


def _store(cluster: Cluster) -> Store:
    return Store.open(str(cluster.dir / "store.sqlite"))


def test_keygen_puts_one_encrypted_share_on_every_node(
    cluster: Cluster, keyset: dict[str, Any]
) -> None:
    assert keyset["key_ref"] == f"mpc-tecdsa://demo/{keyset['keyset_id']}"
    assert keyset["address"].startswith("0x") and len(keyset["public_key"]) == 66
    for name in NAMES:
        share = (
            cluster.dir
            / "nodes"
            / name
            / "cosigner"
            / "node"
            / "shares"
            / (keyset["keyset_id"] + ".enc")
        )
        data = share.read_bytes()
        header = envelope.read_header(data)
        assert (header["keyset_id"], header["node"]) == (keyset["keyset_id"], name)
        with pytest.raises(MpcError):  # ciphertext under the node's KEK, not a passphrase
            envelope.decrypt_share(data, "")
        assert oct(share.stat().st_mode & 0o777) == "0o600"
    with _store(cluster) as s:
        assert s.get_keyset(keyset["keyset_id"]).status == "active"


@pytest.mark.parametrize(
    "quorum", [("node-a", "node-b"), ("node-a", "node-c"), ("node-b", "node-c")]
)
def test_every_quorum_signs_for_the_address(
    cluster: Cluster, keyset: dict[str, Any], quorum: tuple[str, str]
) -> None:
    doc = _signed(cluster, keyset, prefer=list(quorum))
    assert tuple(doc["quorum"]) == quorum


def test_same_request_id_signs_once(cluster: Cluster, keyset: dict[str, Any]) -> None:
    tx = cluster.tx(next(_nonce))
    permit = cluster.permit(keyset["keyset_id"], tx)
    first = cluster.sign(keyset["keyset_id"], tx, permit=permit, request_id="req-once")
    second = cluster.sign(keyset["keyset_id"], tx, permit=permit, request_id="req-once")
    assert first[0] == second[0] == 200
    assert first[1]["raw_tx"] == second[1]["raw_tx"] and second[1]["replayed"] is True
    with _store(cluster) as s:
        sessions = [
            x
            for x in s.list_sessions(keyset_id=keyset["keyset_id"])
            if x.tx_request_id == "req-once"
        ]
    assert len(sessions) == 1


def _direct(
    cluster: Cluster, node: str, start: dict[str, Any], key: bytes | None = None
) -> dict[str, Any]:
    """Talk to a node's session endpoint ourselves, as the coordinator (its pinned key, or
    ``key``), bypassing the coordinator process."""
    import asyncio

    import aiohttp

    from mpcwallet.session.coordinator_link import COORDINATOR, handshake, link
    from mpcwallet.session.node_keys import StaticKeypair
    from mpcwallet.topology.config import load_config

    config = load_config(cluster.dir / "cluster.json")
    keypair = StaticKeypair(key or bytes.fromhex((cluster.dir / "coordinator.key").read_text()))
    sid = start["session_id"]

    async def go() -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(config.node(node).url + "/v1/node/session") as ws,
        ):

            async def receive() -> bytes:
                msg = await ws.receive(timeout=10)
                if msg.type == aiohttp.WSMsgType.TEXT:
                    raise RefusedEarly(msg.data)
                return bytes(msg.data)

            await ws.send_str(json.dumps({"session_id": sid}))
            ch = link(
                config.cluster_id, sid, COORDINATOR, keypair, node, config.node(node).static_key
            )
            try:
                await handshake(ch, ws.send_bytes, receive)
                await ws.send_bytes(ch.seal(json.dumps(start).encode()))
                msg = await ws.receive(timeout=10)
            except RefusedEarly as early:
                return dict(json.loads(str(early)))
            return dict(json.loads(msg.data))

    return asyncio.run(go())


class RefusedEarly(Exception):
    pass


def test_a_node_runs_nothing_for_a_coordinator_with_another_key(
    cluster: Cluster, keyset: dict[str, Any]
) -> None:
    """Only the pinned coordinator key opens a session on a node (session/coordinator_link.py)."""
    from mpcwallet.session.node_keys import StaticKeypair

    start = {"op": "refresh", "session_id": "s-impostor", "keyset_id": keyset["keyset_id"],
             "t": 2, "parties": list(NAMES), "quorum": list(NAMES)}  # fmt: skip
    reply = _direct(cluster, "node-a", start, key=StaticKeypair.generate().private_bytes())
    assert (reply["type"], reply["code"]) == ("error", "session_violation")
    audit = (cluster.dir / "nodes/node-a/cosigner/audit.log").read_text()
    assert '"event":"coordinator_refused"' in audit and "s-impostor" in audit


def test_a_node_refuses_a_sign_without_a_valid_permit(
    cluster: Cluster, keyset: dict[str, Any]
) -> None:
    ks = keyset["keyset_id"]
    tx = cluster.tx(next(_nonce))
    base = {
        "op": "sign",
        "session_id": "s-direct",
        "keyset_id": ks,
        "t": 2,
        "parties": list(NAMES),
        "quorum": ["node-a", "node-b"],
        "tx": tx,
    }
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from mpcwallet.evm.txjson import parse_tx, signing_digest
    from mpcwallet.topology.permit import issue_permit

    digest = signing_digest(parse_tx(tx))
    key = bytes.fromhex((cluster.dir / "permit.key").read_text())
    other_key = Ed25519PrivateKey.generate().private_bytes_raw()
    cases = {
        "no permit": (None, "permit_invalid"),
        "edited after signing": (cluster.permit(ks, tx) | {"ttl": 600}, "permit_tampered"),
        "expired": (
            issue_permit(
                key,
                tx_request_id="r",
                wallet_id="w",
                keyset_id=ks,
                tx_hash=digest,
                now=int(time.time()) - 120,
            ).to_json(),
            "permit_expired",
        ),
        "another tx": (cluster.permit(ks, cluster.tx(999)), "permit_wrong_digest"),
        "another key": (
            issue_permit(
                other_key, tx_request_id="r", wallet_id="w", keyset_id=ks, tx_hash=digest
            ).to_json(),
            "permit_tampered",
        ),
    }
    for what, (permit, code) in cases.items():
        reply = _direct(cluster, "node-a", {**base, "permit": permit})
        assert (reply["type"], reply["code"]) == ("error", code), (what, reply)
    # A permit that completed a signature is refused by the node when sent again.
    replay_tx = cluster.tx(next(_nonce))
    permit = cluster.permit(ks, replay_tx)
    code, _ = cluster.sign(ks, replay_tx, permit=permit, prefer=["node-a", "node-b"])
    assert code == 200
    reply = _direct(cluster, "node-a", {**base, "tx": replay_tx, "permit": permit})
    assert (reply["type"], reply["code"]) == ("error", "permit_replayed")
    audit = (cluster.dir / "nodes/node-a/cosigner/audit.log").read_text()
    assert audit.count('"event":"sign_permit_rejected"') >= len(cases) + 1


def test_a_node_killed_before_a_sign_is_replaced(cluster: Cluster, keyset: dict[str, Any]) -> None:
    cluster.kill("node-b")
    try:
        t0 = time.monotonic()
        doc = _signed(cluster, keyset, prefer=["node-a", "node-b"])
        assert time.monotonic() - t0 < RETRY_BOUND
        assert "node-b" not in doc["quorum"]
    finally:
        cluster.restart("node-b")
    cluster.call("GET", "/v1/status")


def test_a_node_killed_during_a_sign_is_replaced(
    cluster: Cluster, keyset: dict[str, Any], tmp_path: Path
) -> None:
    cluster.kill("node-b")
    cluster.restart(
        "node-b",
        {"MPC_TEST_PAUSE_AT": "node_sign_before_send", "MPC_TEST_PAUSE_DIR": str(tmp_path)},
    )
    cluster.call("GET", "/v1/status")
    result: dict[str, Any] = {}

    def sign() -> None:
        result["doc"] = _signed(cluster, keyset, prefer=["node-a", "node-b"])

    worker = threading.Thread(target=sign)
    t0 = time.monotonic()
    worker.start()
    reached = tmp_path / "node_sign_before_send.reached"
    while not reached.exists() and worker.is_alive():
        worker.join(0.02)
    assert reached.exists(), "node-b never reached its first sign message"
    cluster.kill("node-b")
    worker.join(RETRY_BOUND + 5)
    assert not worker.is_alive() and time.monotonic() - t0 < RETRY_BOUND
    assert result["doc"]["quorum"] == ["node-a", "node-c"]
    assert result["doc"]["attempts"] == 2
    cluster.restart("node-b")
    cluster.call("GET", "/v1/status")


def test_two_nodes_down_fails_fast_naming_them(cluster: Cluster, keyset: dict[str, Any]) -> None:
    cluster.kill("node-b")
    cluster.kill("node-c")
    try:
        t0 = time.monotonic()
        code, doc = cluster.sign(keyset["keyset_id"], cluster.tx(next(_nonce)))
        assert time.monotonic() - t0 < 5.0
        assert code == 503 and doc["error"]["code"] == "not_enough_nodes"
        assert "node-b" in doc["error"]["message"] and "node-c" in doc["error"]["message"]
    finally:
        cluster.restart("node-b")
        cluster.restart("node-c")
    cluster.call("GET", "/v1/status")


def test_a_tampering_node_is_quarantined_and_avoided(
    cluster: Cluster, keyset: dict[str, Any]
) -> None:
    cluster.kill("node-c")
    cluster.restart("node-c", {"MPC_TEST_TAMPER": "node_sign"})
    cluster.call("GET", "/v1/status")
    log = (cluster.dir / "nodes/node-c/cosigner/cosigner.log").read_text()
    assert "TEST HOOKS ACTIVE" in log
    doc = _signed(cluster, keyset, prefer=["node-a", "node-c"])
    assert doc["quorum"] == ["node-a", "node-b"] and doc["attempts"] == 2
    with _store(cluster) as s:
        node = s.get_node("node-c")
        assert node.status == "quarantined"
        failed = [
            x
            for x in s.list_sessions(keyset_id=keyset["keyset_id"])
            if x.error_class == "violation"
        ]
        assert any(x.error_node == "node-c" for x in failed)
    # the next signature avoids it without trying
    assert _signed(cluster, keyset, prefer=["node-c", "node-a"])["attempts"] == 1
    metrics = urllib_get(cluster.url + "/metrics")
    assert 'mpc_cluster_quarantines_total{node="node-c"} 1.0' in metrics
    cluster.kill("node-c")
    cluster.restart("node-c")
    demo.clear_node(cluster.dir, "node-c")
    code, cleared = cluster.call("POST", "/v1/nodes/node-c/clear", {})
    assert code == 200 and cleared["status"] != "quarantined"
    assert _signed(cluster, keyset, prefer=["node-a", "node-c"])["quorum"] == ["node-a", "node-c"]


def urllib_get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as r:
        return str(r.read().decode())


def test_a_tampering_relay_fails_the_session_and_no_signature(
    cluster: Cluster, keyset: dict[str, Any]
) -> None:
    env = {**os.environ, "MPC_TEST_TAMPER": "relay"}
    url = demo.start_coordinator(cluster.dir, env=env, state="tamper.json")["url"]
    try:
        code, doc = cluster.sign(
            keyset["keyset_id"], cluster.tx(next(_nonce)), url=url, request_id="req-relay"
        )
    finally:
        demo.stop_coordinator(cluster.dir, state="tamper.json")
    assert code == 502 and doc["error"]["code"] == "session_violation", doc
    with _store(cluster) as s:
        sessions = [
            x
            for x in s.list_sessions(keyset_id=keyset["keyset_id"])
            if x.tx_request_id == "req-relay"
        ]
        assert sessions and all(x.status == "failed" for x in sessions)
        assert all(x.error_class == "violation" for x in sessions)
        assert s.get_request("req-relay").status == "failed"
        # a channel failure is not pinned on a node: nobody is quarantined for it
        assert all(n.status != "quarantined" for n in s.list_nodes())


def test_refresh_keeps_the_address(cluster: Cluster, keyset: dict[str, Any]) -> None:
    share = cluster.dir / "nodes/node-a/cosigner/node/shares" / (keyset["keyset_id"] + ".enc")
    before = share.read_bytes()
    code, doc = cluster.call("POST", f"/v1/keysets/{keyset['keyset_id']}/refresh", {})
    assert code == 200, doc
    assert doc["address"] == keyset["address"]
    assert share.read_bytes() != before
    _signed(cluster, keyset, prefer=["node-b", "node-c"])


def test_a_cluster_signed_transaction_is_mined_on_anvil(
    cluster: Cluster, keyset: dict[str, Any]
) -> None:
    from support.anvil import running_anvil

    with running_anvil() as node:
        node.fund(keyset["address"], 10**18)
        tx = cluster.tx(node.nonce(keyset["address"]), value=10**15)
        tx["maxFeePerGas"] = 10 * 10**9
        code, doc = cluster.sign(keyset["keyset_id"], tx)
        assert code == 200, doc
        receipt = node.receipt(node.call("eth_sendRawTransaction", doc["raw_tx"]))
        assert int(receipt["status"], 16) == 1
        assert receipt["from"].lower() == keyset["address"].lower()
        assert int(node.call("eth_chainId"), 16) == 11155111


def test_a_hung_node_is_replaced_within_the_bound(cluster: Cluster, keyset: dict[str, Any]) -> None:
    import signal

    pid = cluster.node_pid("node-b")
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        doc = _signed(cluster, keyset, prefer=["node-a", "node-b"])
        assert time.monotonic() - t0 < RETRY_BOUND
        assert doc["quorum"] == ["node-a", "node-c"]
    finally:
        os.kill(pid, signal.SIGCONT)
    cluster.call("GET", "/v1/status")
