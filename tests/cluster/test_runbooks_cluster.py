"""The cluster runbooks of docs/runbooks.md (issue 25) as tests: three node daemons and a
coordinator as real processes on loopback, one cluster for the module, the demo's recovery key
(ECIES P-256, pinned in cluster.json at ``mpc cluster init``).

Order matters (one cluster): keygen with verified backups; a node died; a share was lost; a node
was compromised (quarantine, restore on a clean host, refresh, the stolen share is dead).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
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

from mpcwallet.cli.main import main
from mpcwallet.cosigner.node_state import NodeState, PassphraseKek
from mpcwallet.engine import get_mp_engine
from mpcwallet.engine.base_mp import threshold
from mpcwallet.engine.memory_mp import make_mp_jobs, run_parties
from mpcwallet.evm.signature import raw_sender
from mpcwallet.homes.paths import CosignerPaths
from mpcwallet.store.repo import Store
from mpcwallet.wallet import cluster_demo as demo
from mpcwallet.wallet import cluster_recovery

pytestmark = [pytest.mark.cbmpc, pytest.mark.slow]
NAMES = ("node-a", "node-b", "node-c")
QUORUMS = (("node-a", "node-b"), ("node-a", "node-c"), ("node-b", "node-c"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("runbooks")) as c:
        yield c


@pytest.fixture(scope="module")
def anvil() -> Iterator[Any]:
    from support.anvil import running_anvil

    with running_anvil() as node:
        yield node


@pytest.fixture(scope="module")
def keyset(cluster: Cluster) -> dict[str, Any]:
    code, doc = cluster.call(
        "POST", "/v1/keysets", {"t": 2, "n": 3, "tenant": "t", "wallet_id": "w"}
    )
    assert code == 200, doc
    return doc


_nonce = iter(range(1000))


def _signed(cluster: Cluster, keyset: dict[str, Any], prefer: tuple[str, ...]) -> dict[str, Any]:
    code, doc = cluster.sign(keyset["keyset_id"], cluster.tx(next(_nonce)), prefer=list(prefer))
    assert code == 200, doc
    assert raw_sender(bytes.fromhex(doc["raw_tx"][2:]))[1] == keyset["address"]
    return doc


def mpc(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    capsys.readouterr()
    code = main(["--json", *args])
    out, err = capsys.readouterr()
    doc = json.loads(out) if out.strip() else {}
    return code, doc.get("data", doc), err


def _verify(
    capsys: pytest.CaptureFixture[str], cluster: Cluster
) -> tuple[int, dict[str, Any], str]:
    return mpc(capsys, "cluster", "backup", "verify", "--dir", str(cluster.dir))


def _restore(
    capsys: pytest.CaptureFixture[str], cluster: Cluster, node: str, *extra: str
) -> dict[str, Any]:
    code, doc, err = mpc(
        capsys,
        "cluster",
        "backup",
        "restore",
        "--dir",
        str(cluster.dir),
        "--node",
        node,
        "--recovery-key",
        str(cluster.dir / "recovery.key"),
        "--passphrase-file",
        str(cluster.dir / "recovery.passphrase"),
        *extra,
    )
    assert code == 0, (doc, err)
    return doc


def _restart_all(cluster: Cluster, down: tuple[str, ...] = ()) -> None:
    """Every node and the coordinator load the re-pinned configuration."""
    demo.stop_coordinator(cluster.dir)
    demo.stop_nodes(cluster.dir)
    demo.start_nodes(cluster.dir, [n for n in NAMES if n not in down])
    cluster.url = demo.start_coordinator(cluster.dir, retry_bound=20.0)["url"]


def _share(home: Path, keyset_id: str) -> bytes:
    paths = CosignerPaths.for_home(home)
    kek = PassphraseKek((home / "passphrase").read_text()).unlock(paths.keyring_file)
    return bytes(NodeState(paths.root, kek).load_share(keyset_id))


def test_keygen_is_not_ready_while_a_node_backup_does_not_verify(cluster: Cluster) -> None:
    """node-c encrypts its backup to a recovery key the cluster did not pin: no key set."""
    from mpcwallet.engine import pve
    from mpcwallet.topology.config import load_config, save_config
    from mpcwallet.topology.recovery import RecoveryKey, RecoverySet

    copy = cluster.dir / "nodes/node-c/cosigner/node/cluster.json"
    pinned = copy.read_bytes()
    rogue = RecoveryKey(
        "demo-recovery", "ecies-p256", pve.generate_base_key(pve.BaseKeyKind.ECIES_P256)[0]
    )
    save_config(
        copy, dataclasses.replace(load_config(copy), recovery=RecoverySet((rogue,), 1)), force=True
    )
    cluster.kill("node-c")
    cluster.restart("node-c")
    try:
        code, doc = cluster.call(
            "POST", "/v1/keysets", {"t": 2, "n": 3, "tenant": "t", "wallet_id": "w"}
        )
    finally:
        copy.write_bytes(pinned)
        cluster.kill("node-c")
        cluster.restart("node-c")
    assert code != 200 and doc["error"]["code"] == "backups_required", doc
    assert "node-c: invalid" in doc["error"]["message"] and "node-a" not in doc["error"]["message"]
    with Store.open(str(cluster.dir / "store.sqlite")) as s:
        assert [k.status for k in s.list_keysets()] == ["failed"]


def test_keygen_reports_ready_with_every_backup_verified(
    capsys: pytest.CaptureFixture[str], cluster: Cluster, keyset: dict[str, Any]
) -> None:
    assert [(r["node"], r["status"]) for r in keyset["backups"]] == [(n, "ok") for n in NAMES]
    code, doc, _ = _verify(capsys, cluster)
    assert code == 0 and all(r["status"] == "ok" for r in doc["keysets"][keyset["keyset_id"]])
    # a damaged backup in the store: exit 4, the node and the reason named
    with Store.open(str(cluster.dir / "store.sqlite")) as s:
        good = s.latest_backup(keyset["keyset_id"], "node-b")
        assert good is not None
        ct = bytearray(good.ciphertext)
        ct[len(ct) // 2] ^= 1
        s.put_backup(dataclasses.replace(good, ciphertext=bytes(ct)))
        try:
            code, doc, err = _verify(capsys, cluster)
        finally:
            s.put_backup(good)
    assert code == 4 and doc["error"]["code"] == "backup_unverified", doc
    assert "node-b: invalid" in doc["error"]["message"]
    assert "node-b: invalid" in err and "does not verify against node-b" in err, err
    assert "node-a" not in doc["error"]["message"]  # only the failing node is named


def test_runbook_a_node_died(
    capsys: pytest.CaptureFixture[str], cluster: Cluster, keyset: dict[str, Any], anvil: Any
) -> None:
    ks = keyset["keyset_id"]
    old_key = json.loads((cluster.dir / "cluster.json").read_text())["nodes"][0]["static_key"]
    cluster.kill("node-a")
    _signed(cluster, keyset, ("node-b", "node-c"))  # 2 of 3 keep signing, no action
    cluster_recovery.wipe_home(cluster.dir, "node-a")  # the disk is gone
    code, _, _ = _verify(capsys, cluster)  # backups check with node-a offline
    assert code == 0
    made = _restore(capsys, cluster, "node-a")
    assert made["restored"] == [{"keyset_id": ks, "generation": 0}]
    new_key = json.loads((cluster.dir / "cluster.json").read_text())["nodes"][0]
    assert new_key["name"] == "node-a" and new_key["static_key"] not in (old_key,)
    _restart_all(cluster)
    code, doc = cluster.call("POST", f"/v1/keysets/{ks}/refresh", {})
    assert code == 200 and doc["generation"] == 1, doc
    assert [r["status"] for r in doc["backups"]] == ["ok"] * 3
    for quorum in QUORUMS:
        _signed(cluster, keyset, quorum)
    code, report, _ = _verify(capsys, cluster)
    assert code == 0 and {r["generation"] for r in report["keysets"][ks]} == {1}
    # and the restored node's signature is mined (anvil, chain id 11155111)
    anvil.fund(keyset["address"], 10**18)
    tx = cluster.tx(anvil.nonce(keyset["address"]), value=10**15)
    tx["maxFeePerGas"] = 10 * 10**9
    code, doc = cluster.sign(ks, tx, prefer=["node-a", "node-b"])
    assert code == 200 and doc["quorum"] == ["node-a", "node-b"], doc
    receipt = anvil.receipt(anvil.call("eth_sendRawTransaction", doc["raw_tx"]))
    assert int(receipt["status"], 16) == 1 and int(anvil.call("eth_chainId"), 16) == 11155111


def test_runbook_a_share_was_lost(
    capsys: pytest.CaptureFixture[str], cluster: Cluster, keyset: dict[str, Any]
) -> None:
    ks = keyset["keyset_id"]
    cluster.kill("node-c")
    (cluster.dir / "nodes/node-c/cosigner/node/shares" / f"{ks}.enc").unlink()
    _restore(capsys, cluster, "node-c", "--no-new-home")
    cluster.restart("node-c")
    code, doc = cluster.call("POST", f"/v1/keysets/{ks}/refresh", {})
    assert code == 200 and doc["generation"] == 2, doc
    _signed(cluster, keyset, ("node-a", "node-c"))


def _sign_in_memory(blobs: dict[str, bytes], quorum: tuple[str, ...]) -> list[Any]:
    engine = get_mp_engine("cb-mpc")
    digest = hashlib.sha256(b"stolen").digest()
    network, jobs = make_mp_jobs(NAMES, threshold(2, NAMES), quorum, timeout=10.0)
    idx = [NAMES.index(n) for n in quorum]
    fns = [lambda j, n=n: engine.sign(j, blobs[n], digest, quorum[0]) for n in quorum]
    return run_parties(fns, [jobs[i] for i in idx], network)


def test_runbook_a_node_was_compromised(
    capsys: pytest.CaptureFixture[str],
    cluster: Cluster,
    keyset: dict[str, Any],
    tmp_path: Path,
) -> None:
    ks = keyset["keyset_id"]
    stolen = tmp_path / "stolen-node-b"
    # the attacker's copy of the files (a socket is not a file to copy)
    shutil.copytree(cluster.dir / "nodes/node-b", stolen, ignore=shutil.ignore_patterns("*.sock"))
    stolen_share = _share(stolen, ks)
    code, _, err = mpc(capsys, "cluster", "quarantine", "node-b", "--dir", str(cluster.dir))
    assert code == 0, err
    for other in ("node-a", "node-c"):  # the others refuse sessions with it (their own record)
        record = cluster.dir / "nodes" / other / "cosigner/node/quarantine.json"
        assert "node-b" in json.loads(record.read_text())
    doc = _signed(cluster, keyset, ("node-b", "node-a"))  # node-b is excluded at once
    assert "node-b" not in doc["quorum"]
    cluster.kill("node-b")
    cluster_recovery.wipe_home(cluster.dir, "node-b")  # rebuilt clean
    _restore(capsys, cluster, "node-b")
    _restart_all(cluster)
    code, cleared, _ = mpc(capsys, "cluster", "clear", "node-b", "--dir", str(cluster.dir))
    assert code == 0, cleared
    cleared_lines = [
        json.loads(line)
        for line in (cluster.dir / "coordinator.log").read_text().splitlines()
        if '"node_cleared"' in line
    ]
    assert any("operator_quarantine" in json.dumps(x) for x in cleared_lines), cleared_lines
    code, doc = cluster.call("POST", f"/v1/keysets/{ks}/refresh", {})
    assert code == 200 and doc["generation"] == 3, doc
    for quorum in QUORUMS:
        _signed(cluster, keyset, quorum)
    # The stolen share (generation 2) signs with no other node's current share.
    for other in ("node-a", "node-c"):
        current = _share(cluster.dir / "nodes" / other, ks)
        quorum = tuple(sorted(("node-b", other)))
        out = _sign_in_memory({"node-b": stolen_share, other: current}, quorum)
        assert all(isinstance(o, BaseException) for o in out), out
    with Store.open(str(cluster.dir / "store.sqlite")) as s:
        assert s.get_node("node-b").status != "quarantined"


def test_runbook_t_shares_exposed_sweep_to_a_new_keyset(
    capsys: pytest.CaptureFixture[str], cluster: Cluster, keyset: dict[str, Any], anvil: Any
) -> None:
    before = anvil.balance(keyset["address"])
    assert before > 0
    code, doc, err = mpc(
        capsys,
        "cluster",
        "sweep",
        keyset["keyset_id"],
        "--rpc",
        anvil.url,
        "--chain-id",
        "11155111",
        "--dir",
        str(cluster.dir),
    )
    assert code == 0, (doc, err)
    receipt = anvil.receipt(doc["tx_hash"])
    assert int(receipt["status"], 16) == 1
    assert anvil.balance(doc["to"]) == doc["value"] and doc["to"] != keyset["address"]
    assert anvil.balance(keyset["address"]) < before - doc["value"] + 1  # one tx took it all
    with Store.open(str(cluster.dir / "store.sqlite")) as s:
        assert s.get_keyset(keyset["keyset_id"]).status == "retired"
        assert s.get_keyset(doc["new_keyset_id"]).status == "active"
