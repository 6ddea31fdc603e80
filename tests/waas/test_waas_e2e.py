"""WaaS end to end: the demo cluster (three node daemons and a coordinator, real processes) and
`mpc waas serve` as a real process, driven over HTTP with urllib; every answer is validated
against the served OpenAPI document (openapi-core), the document itself with
openapi-spec-validator. One cluster and one WaaS per store backend (SQLite, then PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
from support.waas import Approver, approver_key

from mpcwallet.evm.signature import raw_sender
from mpcwallet.waas.pipeline import approval_message

pytestmark = pytest.mark.cbmpc
GWEI = 10**9
TO = "0x" + "11" * 20
KYT_DENIED = "0x" + "99" * 20
POLICY_DENIED = "0x" + "33" * 20
POLICY = f"""
[default]
approval_above = "3 gwei"
approvals_required = 2
deny_to = ["{POLICY_DENIED}"]

[keys.limited]
max_value_24h = "10 gwei"
"""


@dataclass
class Waas:
    url: str
    keys: dict[str, str]  # principal name -> API key
    approvers: dict[str, Approver]
    spec: Any
    document: dict[str, Any]
    cluster: Cluster
    store: str  # the store's location (SQLite file or PostgreSQL URL)

    def call(
        self, method: str, path: str, body: Any = None, who: str | None = "bob", check: bool = True
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if who is not None:
            headers["Authorization"] = f"Bearer {self.keys[who]}"
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, method=method, data=data, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                status, out = r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            status, out = exc.code, json.loads(exc.read())
        if check:
            self._check(method, path, status, out, body)
        return status, out

    def _check(self, method: str, path: str, status: int, out: Any, sent: Any) -> None:
        from openapi_core.testing import MockRequest, MockResponse

        p, _, query = path.partition("?")
        request = MockRequest(
            self.url,
            method.lower(),
            p,
            args=dict(kv.split("=", 1) for kv in query.split("&") if kv),
            data=json.dumps(sent).encode() if sent is not None else None,
            headers={"Authorization": "Bearer x"},
        )
        self.spec.validate_response(
            request, MockResponse(json.dumps(out).encode(), status_code=status)
        )


def _mpc(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-P", "-m", "mpcwallet", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        **kw,
    )


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def waas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Waas]:
    from openapi_core import OpenAPI
    from openapi_spec_validator import validate

    d: Path = tmp_path_factory.mktemp("waas")
    store: str | None = None
    if request.param == "postgres":
        store = request.getfixturevalue("postgres_server").new_database()
    on_store = [] if store is None else ["--store", store]
    with running_cluster(d / "cluster", store) as cluster:
        cdir = cluster.dir
        keys: dict[str, str] = {}
        approvers: dict[str, Approver] = {}
        for name, role in (
            ("alice", "admin"),
            ("bob", "requester"),
            ("carol", "requester,approver"),
            ("dave", "approver"),
            ("erin", "approver"),
            ("mallory", "admin,requester"),
        ):
            extra: list[str] = []
            if "approver" in role:
                seed, pub = approver_key()
                extra = ["--approver-key", pub]
            tenant = "globex" if name == "mallory" else "acme"
            out = json.loads(
                _mpc(
                    "--json",
                    "waas",
                    "principal-add",
                    "--dir",
                    str(cdir),
                    "--tenant",
                    tenant,
                    "--name",
                    name,
                    "--role",
                    role,
                    *extra,
                    *on_store,
                ).stdout
            )["data"]
            keys[name] = out["api_key"]
            if extra:
                approvers[name] = Approver(out["principal_id"], name, seed)
        (d / "policy.toml").write_text(POLICY)
        (d / "deny.txt").write_text(f"# KYT deny list\n{KYT_DENIED}\n")
        log = open(d / "waas.log", "wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-P",
                "-m",
                "mpcwallet",
                "waas",
                "serve",
                "--dir",
                str(cdir),
                "--policy",
                str(d / "policy.toml"),
                "--kyt-deny",
                str(d / "deny.txt"),
                *on_store,
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        try:
            state = cdir / "waas.json"
            deadline = time.monotonic() + 60
            while not state.exists():  # written once the socket listens
                assert proc.poll() is None, (d / "waas.log").read_text()
                assert time.monotonic() < deadline, "mpc waas serve did not start"
                time.sleep(0.05)
            url = json.loads(state.read_text())["url"]
            with urllib.request.urlopen(url + "/openapi.json", timeout=10) as r:
                document = json.loads(r.read())
            validate(document)
            yield Waas(
                url,
                keys,
                approvers,
                OpenAPI.from_dict(document),
                document,
                cluster,
                store or str(cdir / "store.sqlite"),
            )
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
            log.close()
        assert not (cdir / "waas.json").exists()
        assert not any(k in (d / "waas.log").read_text() for k in keys.values())


@pytest.fixture(scope="module")
def wallet(waas: Waas) -> dict[str, Any]:
    body = {"name": "treasury", "custody_backend": "MPC_TECDSA", "request_id": "w-1"}
    status, w = waas.call("POST", "/v1/wallets", body, who="alice")
    assert status == 201, w
    return dict(w)


def _tx(waas: Waas, wallet: dict[str, Any], who: str = "bob", **body: Any) -> tuple[int, Any]:
    doc = {
        "wallet_id": wallet["wallet_id"],
        "request_id": os.urandom(6).hex(),
        "to": TO,
        "value": str(GWEI),
        **body,
    }
    return waas.call("POST", "/v1/tx-requests", doc, who=who)


def test_wallets_create_read_page_and_meta(waas: Waas, wallet: dict[str, Any]) -> None:
    assert wallet["status"] == "ACTIVE" and wallet["tags"] == {"mpc_t": "2", "mpc_n": "3"}
    assert wallet["key_ref"].startswith("mpc-tecdsa://demo/ks-")
    again = waas.call(
        "POST",
        "/v1/wallets",
        {"name": "treasury", "custody_backend": "MPC_TECDSA", "request_id": "w-1"},
        who="alice",
    )
    assert again == (200, wallet)
    assert waas.call("GET", f"/v1/wallets/{wallet['wallet_id']}") == (200, wallet)
    status, page = waas.call("GET", "/v1/wallets?limit=1")
    assert status == 200 and page["wallets"][0]["wallet_id"] == wallet["wallet_id"]
    status, meta = waas.call("GET", f"/v1/wallets/{wallet['wallet_id']}/mpc")
    assert (status, meta["parties"], meta["keyset_status"]) == (
        200,
        ["node-a", "node-b", "node-c"],
        "active",
    )
    # the error shape: code, field, what to do
    status, err = waas.call("POST", "/v1/wallets", {"name": "x"}, who="bob")
    assert (status, err["error"]["code"]) == (403, "forbidden")
    status, err = waas.call("POST", "/v1/wallets", {"name": "x", "mpc_t": "2"}, who="alice")
    assert (status, err["error"]["code"], err["error"]["field"]) == (
        422,
        "invalid_request",
        "mpc_t",
    )
    status, err = waas.call("GET", "/v1/wallets", who=None)
    assert (status, err["error"]["code"]) == (401, "unauthorized")
    status, err = waas.call("GET", "/v1/nothing-here", check=False)
    assert (status, err["error"]["code"]) == (404, "no_such_route")
    status, err = waas.call("GET", f"/v1/wallets/{wallet['wallet_id']}", who="mallory")
    assert (status, err["error"]["code"]) == (404, "not_found")  # another tenant


def test_a_request_below_the_threshold_is_signed(waas: Waas, wallet: dict[str, Any]) -> None:
    status, tx = _tx(waas, wallet)
    assert status == 201 and tx["state"] == "SIGN_PENDING", tx
    assert [h["state"] for h in tx["history"]] == ["KYT", "POLICY", "SIGN_PENDING"]
    decoded, sender = raw_sender(bytes.fromhex(tx["signed_tx"]["raw_tx"][2:]))
    assert sender == wallet["address"] and decoded.value == GWEI
    assert waas.call("GET", f"/v1/tx-requests/{tx['tx_request_id']}") == (200, tx)


def test_above_the_threshold_waits_for_two_other_approvers(
    waas: Waas, wallet: dict[str, Any]
) -> None:
    status, tx = _tx(waas, wallet, who="carol", value=str(4 * GWEI))
    assert (status, tx["state"], tx["approvals"]["required"]) == (201, "APPROVALS", 2)
    tid = tx["tx_request_id"]
    message = approval_message(tid, tx["body_hash"])
    path = f"/v1/tx-requests/{tid}/approvals"
    own = waas.approvers["carol"].sign(message)
    status, err = waas.call("POST", path, {"signature": own}, who="carol")
    assert (status, err["error"]["code"]) == (403, "approval_refused")
    assert "own request" in err["error"]["message"]
    for _ in range(2):
        status, tx = waas.call(
            "POST", path, {"signature": waas.approvers["dave"].sign(message)}, who="dave"
        )
        assert (status, tx["state"], len(tx["approvals"]["approvers"])) == (200, "APPROVALS", 1)
    status, tx = waas.call(
        "POST", path, {"signature": waas.approvers["erin"].sign(message)}, who="erin"
    )
    assert (status, tx["state"]) == (200, "SIGN_PENDING") and tx["signed_tx"] is not None
    assert raw_sender(bytes.fromhex(tx["signed_tx"]["raw_tx"][2:]))[1] == wallet["address"]


def test_kyt_and_policy_refusals(waas: Waas, wallet: dict[str, Any]) -> None:
    status, tx = _tx(waas, wallet, to=KYT_DENIED)
    assert (status, tx["state"], tx["reason_code"]) == (201, "REJECTED", "kyt_denied")
    status, tx = _tx(waas, wallet, to=POLICY_DENIED)
    assert (status, tx["state"], tx["reason_code"]) == (201, "REJECTED", "policy_refused")
    assert [h["state"] for h in tx["history"]] == ["KYT", "POLICY", "REJECTED"]


def test_the_same_request_id_makes_one_request(waas: Waas, wallet: dict[str, Any]) -> None:
    first = _tx(waas, wallet, request_id="once")
    second = _tx(waas, wallet, request_id="once")
    assert (first[0], second[0]) == (201, 200)
    assert first[1]["tx_request_id"] == second[1]["tx_request_id"]
    status, err = _tx(waas, wallet, request_id="once", value="7")
    assert (status, err["error"]["code"], err["error"]["field"]) == (
        409,
        "request_id_reused",
        "request_id",
    )


def test_signtx_without_the_pipeline_is_refused_by_the_nodes(
    waas: Waas, wallet: dict[str, Any]
) -> None:
    keyset_id = wallet["key_ref"].rsplit("/", 1)[1]
    cluster = waas.cluster
    before = {n: _refusals(cluster, n) for n in ("node-a", "node-b", "node-c")}
    code, out = cluster.call(
        "POST", f"/v1/keysets/{keyset_id}/sign", {"tx": cluster.tx(77), "permit": None}
    )
    assert code >= 400 and out["error"]["code"] == "permit_invalid", out
    after = {n: _refusals(cluster, n) for n in before}
    assert any(after[n] > before[n] for n in before), (before, after)


def _refusals(cluster: Cluster, node: str) -> int:
    path = cluster.dir / "nodes" / node / "cosigner" / "audit.log"
    return path.read_text().count('"event":"sign_permit_rejected"') if path.exists() else 0


def test_refresh_is_admin_only_and_keeps_the_address(waas: Waas, wallet: dict[str, Any]) -> None:
    path = f"/v1/wallets/{wallet['wallet_id']}/mpc/refresh"
    status, err = waas.call("POST", path, who="bob")
    assert (status, err["error"]["code"]) == (403, "forbidden")
    status, meta = waas.call("POST", path, who="alice")
    assert (status, meta["generation"]) == (200, 2)
    status, tx = _tx(waas, wallet)
    assert tx["state"] == "SIGN_PENDING"
    assert raw_sender(bytes.fromhex(tx["signed_tx"]["raw_tx"][2:]))[1] == wallet["address"]


def test_20_concurrent_requests_against_a_limit_of_10(waas: Waas) -> None:
    status, w = waas.call(
        "POST", "/v1/wallets", {"name": "limited", "custody_backend": "MPC_TECDSA"}, who="alice"
    )
    assert status == 201, w
    with ThreadPoolExecutor(20) as pool:
        out = list(pool.map(lambda i: _tx(waas, w, request_id=f"conc-{i}"), range(20)))
    states = sorted(tx["state"] for _, tx in out)
    assert states == ["REJECTED"] * 10 + ["SIGN_PENDING"] * 10, states
    nonces = sorted(int(tx["nonce"]) for _, tx in out if tx["state"] == "SIGN_PENDING")
    assert nonces == list(range(10))
    raws = [tx["signed_tx"]["raw_tx"] for _, tx in out if tx["signed_tx"]]
    assert sorted(raw_sender(bytes.fromhex(r[2:]))[0].nonce or 0 for r in raws) == nonces


def test_a_pipeline_permit_signs_its_own_tx_once_and_nothing_else(
    waas: Waas, wallet: dict[str, Any]
) -> None:
    """The pipeline's own permit, taken on its way to the real coordinator: sent again for the
    same transaction (another request id) or with another transaction, every node refuses it,
    nothing is signed. A replay reaches the nodes (each refusal in their audit trails); a
    permit for another digest is refused by the coordinator before any node is asked (the nodes'
    own check of that case is tests/cluster/test_cluster_e2e.py's)."""
    from mpcwallet.store import Store
    from mpcwallet.waas import pipeline
    from mpcwallet.waas.permit import PermitIssuer
    from mpcwallet.waas.remote import HttpCoordinator
    from mpcwallet.waas.service import Service

    taken: list[tuple[dict[str, Any], dict[str, Any]]] = []

    class Taking(HttpCoordinator):
        def sign_tx(self, keyset_id: str, tx: dict[str, Any], permit: Any) -> bytes:
            taken.append((tx, permit))
            return super().sign_tx(keyset_id, tx, permit)

    cluster = waas.cluster
    with Store.open(waas.store) as store:
        svc = Service(
            store,
            Taking(cluster.url, "demo", store),
            PermitIssuer.from_file(cluster.dir / "permit.key"),
        )
        bob = store.get_principal(store.get_tx(_tx(waas, wallet)[1]["tx_request_id"]).requester)
        row, _ = pipeline.submit(
            svc,
            bob,
            {"wallet_id": wallet["wallet_id"], "request_id": "taken", "to": TO, "value": "3"},
        )
    assert row.state == "SIGN_PENDING" and row.raw_tx is not None
    ((tx, permit),) = taken
    keyset_id = wallet["key_ref"].rsplit("/", 1)[1]
    other_tx = {**tx, "value": 10**18}
    for body, code, at_nodes in (
        ({"tx": tx, "permit": permit, "request_id": "replay"}, "permit_replayed", True),
        ({"tx": other_tx, "permit": permit}, "permit_wrong_digest", False),
    ):
        before = sum(_refusals(cluster, n) for n in ("node-a", "node-b", "node-c"))
        status, out = cluster.call("POST", f"/v1/keysets/{keyset_id}/sign", body)
        assert status >= 400 and out["error"]["code"] == code, out
        assert "raw_tx" not in out and "signature" not in out
        after = sum(_refusals(cluster, n) for n in ("node-a", "node-b", "node-c"))
        assert after > before if at_nodes else after == before
