"""The WaaS pipeline on the real store, SQLite and PostgreSQL: KYT -> POLICY -> APPROVALS ->
SIGN_PENDING with real cb-mpc signatures (the in-process cluster, whose nodes check each permit
themselves), idempotent request ids, and 20 concurrent requests against a 24 h limit that allows
10, through four store connections (four orchestrators)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

try:
    from mpcwallet import _cbmpc  # noqa: F401
except ImportError:
    pytest.skip(
        "WaaS wallets are t-of-n keys on cb-mpc only (mpcwallet._cbmpc missing); see README",
        allow_module_level=True,
    )

from support.waas import Approver, approver_key

from mpcwallet.cosigner.policy import parse_policy
from mpcwallet.errors import BadInput, NotFound
from mpcwallet.evm.signature import raw_sender
from mpcwallet.store import Store
from mpcwallet.store.waas_records import Principal, WalletRow
from mpcwallet.waas import pipeline, wallets
from mpcwallet.waas.errors import ApprovalRefused, Forbidden, RequestIdReused
from mpcwallet.waas.kyt import DenyListKyt
from mpcwallet.waas.localcluster import LocalCluster
from mpcwallet.waas.permit import PermitIssuer
from mpcwallet.waas.service import Service

pytestmark = pytest.mark.cbmpc
GWEI = 10**9
TO = "0x" + "11" * 20
KYT_DENIED = "0x" + "99" * 20
POLICY_DENIED = "0x" + "33" * 20
POLICY = f"""
[default]
max_value_24h = "10 gwei"
approval_above = "3 gwei"
approvals_required = 2
deny_to = ["{POLICY_DENIED}"]
"""


@dataclass
class World:
    location: str
    svc: Service
    cluster: LocalCluster
    admin: Principal
    requester: Principal
    carol: Principal  # requester and approver
    approvers: list[Approver]
    wallet: WalletRow
    stores: list[Store] = field(default_factory=list)

    def submit(self, who: Principal | None = None, **body: Any) -> Any:
        doc = {
            "wallet_id": self.wallet.wallet_id,
            "request_id": secrets.token_hex(6),
            "to": TO,
            "value": str(GWEI),
            **body,
        }
        return pipeline.submit(self.svc, who or self.requester, doc)

    def service(self) -> Service:
        """Another orchestrator: its own store connection, the same cluster and permit key."""
        store = Store.open(self.location)
        self.stores.append(store)
        return Service(
            store, self.cluster, self.svc.issuer, policy=self.svc.policy, kyt=self.svc.kyt
        )

    def signed(self) -> int:
        return sum(n.signed for n in self.cluster.nodes)


@pytest.fixture
def world(location: str) -> Iterator[World]:
    store = Store.open(location)
    issuer = PermitIssuer(secrets.token_bytes(32))
    cluster = LocalCluster(issuer.public_key)
    svc = Service(
        store, cluster, issuer, policy=parse_policy(POLICY), kyt=DenyListKyt([KYT_DENIED])
    )
    admin, _ = svc.add_principal("acme", "admin", "admin")
    requester, _ = svc.add_principal("acme", "req", "requester")
    seed, pub = approver_key()
    carol, _ = svc.add_principal("acme", "carol", "requester,approver", pub)
    approvers = [Approver(carol.principal_id, "carol", seed)]
    for name in ("dave", "erin"):
        seed, pub = approver_key()
        p, _ = svc.add_principal("acme", name, "approver", pub)
        approvers.append(Approver(p.principal_id, name, seed))
    wallet, created = wallets.create_wallet(
        svc, admin, {"name": "treasury", "custody_backend": "MPC_TECDSA", "request_id": "w1"}
    )
    assert created and wallet.status == "ACTIVE"
    w = World(location, svc, cluster, admin, requester, carol, approvers, wallet)
    yield w
    for s in [store, *w.stores]:
        s.close()


def _states(w: World, tx_request_id: str) -> list[str]:
    return [h.state for h in w.svc.store.history(tx_request_id)]


def test_a_wallet_is_a_2_of_3_key_with_its_address_and_ref(world: World) -> None:
    w = world.wallet
    info = world.cluster.keyset(w.keyset_id or "")
    assert (w.mpc_t, w.mpc_n, info.t, info.n) == (2, 3, 2, 3)
    assert w.key_ref == f"mpc-tecdsa://local/{w.keyset_id}"
    again, created = wallets.create_wallet(
        world.svc,
        world.admin,
        {"name": "treasury", "custody_backend": "MPC_TECDSA", "request_id": "w1"},
    )
    assert (created, again.wallet_id) == (False, w.wallet_id)
    events = [e.event for e in world.svc.store.audit_events(subject=w.wallet_id)]
    assert events == [
        "WALLET_STATE_PENDING_KEYGEN",
        "MPC_KEYGEN_STARTED",
        "MPC_KEYGEN_COMPLETED",
        "WALLET_CREATED",
    ]


def test_a_failed_keygen_leaves_a_failed_wallet_and_dev_signer_needs_dev_mode(
    world: World,
) -> None:
    failed, _ = wallets.create_wallet(
        world.svc,
        world.admin,
        {"name": "w4", "custody_backend": "MPC_TECDSA", "mpc_t": 3, "mpc_n": 4},
    )
    assert (failed.status, failed.error_code, failed.address) == ("FAILED", "bad_input", None)
    assert "mpc_n must be 3" in (failed.error_message or "")
    events = [e.event for e in world.svc.store.audit_events(subject=failed.wallet_id)]
    assert "MPC_KEYGEN_FAILED" in events and "WALLET_CREATED" not in events
    with pytest.raises(BadInput, match="dev mode"):
        wallets.create_wallet(
            world.svc, world.admin, {"name": "d", "custody_backend": "DEV_SIGNER"}
        )
    with pytest.raises(Forbidden):
        wallets.create_wallet(
            world.svc, world.requester, {"name": "x", "custody_backend": "MPC_TECDSA"}
        )


def test_below_the_threshold_a_request_is_signed_under_a_permit(world: World) -> None:
    row, created = world.submit()
    assert created and row.state == "SIGN_PENDING" and row.raw_tx is not None
    assert _states(world, row.tx_request_id) == ["KYT", "POLICY", "SIGN_PENDING"]
    tx, sender = raw_sender(bytes.fromhex(row.raw_tx[2:]))
    assert sender == world.wallet.address and tx.nonce == 0 and tx.value == GWEI
    events = [e.event for e in world.svc.store.audit_events(subject=row.tx_request_id)]
    assert events == [
        "TX_REQUEST_CREATED",
        "TX_STATE_KYT",
        "TX_STATE_POLICY",
        "POLICY_ALLOWED",
        "TX_STATE_SIGN_PENDING",
        "SIGN_PERMIT_ISSUED",
        "MPC_SIGN_STARTED",
        "MPC_SIGN_COMPLETED",
    ]
    issued = next(
        e
        for e in world.svc.store.audit_events(subject=row.tx_request_id)
        if e.event == "SIGN_PERMIT_ISSUED"
    )
    assert issued.fields["tx_hash"] == "0x" + (row.tx_hash or "")
    assert world.svc.store.verify_audit() > 10
    assert [n.refusals for n in world.cluster.nodes] == [[], [], []]


def test_above_the_threshold_two_other_approvers_release_it(world: World) -> None:
    carol, dave, erin = world.approvers
    row, _ = world.submit(who=world.carol, value=str(4 * GWEI))
    assert (row.state, row.approvals_required, row.raw_tx) == ("APPROVALS", 2, None)
    tid, message = row.tx_request_id, pipeline.approval_message(row.tx_request_id, row.body_hash)
    with pytest.raises(ApprovalRefused, match="own request"):
        pipeline.approve(world.svc, world.carol, tid, carol.sign(message))
    with pytest.raises(ApprovalRefused, match="does not verify"):
        pipeline.approve(
            world.svc, world.svc.store.get_principal(dave.principal_id), tid, erin.sign(message)
        )
    with pytest.raises(Forbidden):
        pipeline.approve(world.svc, world.requester, tid, dave.sign(message))
    d = world.svc.store.get_principal(dave.principal_id)
    for _ in range(2):  # each approver counts once
        assert pipeline.approve(world.svc, d, tid, dave.sign(message)).state == "APPROVALS"
    assert world.signed() == 0
    e = world.svc.store.get_principal(erin.principal_id)
    done = pipeline.approve(world.svc, e, tid, erin.sign(message))
    assert done.state == "SIGN_PENDING" and done.raw_tx is not None and world.signed() == 2
    assert world.svc.store.approvers_of(tid) == [dave.principal_id, erin.principal_id]
    refused = [
        ev for ev in world.svc.store.audit_events(subject=tid) if ev.event == "TX_APPROVAL_REFUSED"
    ]
    assert [ev.fields["code"] for ev in refused] == ["own_request", "bad_signature"]


def test_kyt_and_policy_refusals_are_terminal_with_their_reason(world: World) -> None:
    kyt, _ = world.submit(to=KYT_DENIED)
    assert (kyt.state, kyt.reason_code) == ("REJECTED", "kyt_denied")
    assert _states(world, kyt.tx_request_id) == ["KYT", "REJECTED"]
    pol, _ = world.submit(to=POLICY_DENIED)
    assert (pol.state, pol.reason_code) == ("REJECTED", "policy_refused")
    assert "deny_to" in (pol.reason or "")
    assert _states(world, pol.tx_request_id) == ["KYT", "POLICY", "REJECTED"]
    assert world.signed() == 0
    assert world.svc.store.spent_24h(world.wallet.wallet_id, "ETH") == 0


def test_the_same_request_id_makes_one_request(world: World) -> None:
    body = {"request_id": "same", "value": str(GWEI)}
    with ThreadPoolExecutor(6) as pool:
        out = list(
            pool.map(
                lambda s: pipeline.submit(
                    s, world.requester, {"wallet_id": world.wallet.wallet_id, "to": TO, **body}
                ),
                [world.service() for _ in range(6)],
            )
        )
    assert len({r.tx_request_id for r, _ in out}) == 1
    assert sum(created for _, created in out) == 1
    assert len(world.svc.store.list_txs(world.wallet.wallet_id)) == 1
    with pytest.raises(RequestIdReused):
        world.submit(request_id="same", value=str(2 * GWEI))


def test_tenants_do_not_see_each_other(world: World) -> None:
    other, _ = world.svc.add_principal("globex", "mallory", "requester,admin")
    row, _ = world.submit()
    with pytest.raises(NotFound):
        wallets.get_wallet(world.svc, other, world.wallet.wallet_id)
    with pytest.raises(NotFound):
        world.svc.store.get_tx(row.tx_request_id, other.tenant)
    with pytest.raises(NotFound):
        pipeline.submit(
            world.svc,
            other,
            {"wallet_id": world.wallet.wallet_id, "request_id": "x", "to": TO, "value": "1"},
        )
    assert wallets.list_wallets(world.svc, other, 10, None) == ([], None)


def test_20_concurrent_requests_against_a_limit_of_10_sign_exactly_10(world: World) -> None:
    services = [world.service() for _ in range(4)]
    with ThreadPoolExecutor(20) as pool:
        out = list(
            pool.map(
                lambda i: pipeline.submit(
                    services[i % 4],
                    world.requester,
                    {
                        "wallet_id": world.wallet.wallet_id,
                        "request_id": f"c{i}",
                        "to": TO,
                        "value": str(GWEI),
                    },
                ),
                range(20),
            )
        )
    states = sorted(r.state for r, _ in out)
    assert states == ["REJECTED"] * 10 + ["SIGN_PENDING"] * 10, states
    signed = [r for r, _ in out if r.raw_tx is not None]
    assert len(signed) == 10 and world.signed() == 20  # 10 signatures, 2 nodes each
    nonces = sorted(raw_sender(bytes.fromhex(r.raw_tx[2:]))[0].nonce or 0 for r in signed)
    assert nonces == list(range(10))
    assert {r.reason_code for r, _ in out if r.state == "REJECTED"} == {"policy_refused"}
    assert world.svc.store.spent_24h(world.wallet.wallet_id, "ETH") == 10 * GWEI
    assert world.svc.store.verify_audit() > 100


def test_a_permit_from_another_key_is_refused_by_every_node_and_nothing_is_signed(
    world: World,
) -> None:
    """The orchestrator's permit key is what the nodes pin: an orchestrator holding any other
    key gets every node's refusal, the request FAILED with the code, and the refusal audited."""
    rogue = Service(
        world.svc.store,
        world.cluster,
        PermitIssuer(secrets.token_bytes(32)),
        policy=world.svc.policy,
        kyt=world.svc.kyt,
    )
    row, _ = pipeline.submit(
        rogue,
        world.requester,
        {"wallet_id": world.wallet.wallet_id, "request_id": "rogue", "to": TO, "value": "1"},
    )
    assert (row.state, row.reason_code, row.raw_tx) == ("FAILED", "permit_tampered", None)
    assert world.signed() == 0
    assert world.cluster.nodes[0].refusals == ["permit_tampered"]
    events = [e.event for e in world.svc.store.audit_events(subject=row.tx_request_id)]
    assert events[-2:] == ["TX_STATE_FAILED", "SIGN_PERMIT_REJECTED"]
    assert world.svc.store.spent_24h(world.wallet.wallet_id, "ETH") == 0


def test_a_retry_carries_on_a_request_cut_off_between_steps(world: World) -> None:
    """A request recorded but not run on (the orchestrator restarted after the INSERT): the
    client's retry with the same request_id runs it to its signature, once."""
    body = {"wallet_id": world.wallet.wallet_id, "request_id": "cut", "to": TO, "value": "5"}
    row, created = world.svc.store.create_tx_request(
        "txr_cut",
        "acme",
        world.wallet.wallet_id,
        "cut",
        pipeline.body_hash(body),
        world.requester.principal_id,
        body,
    )
    assert created and row.state == "KYT"
    again, created = pipeline.submit(world.svc, world.requester, body)
    assert (again.tx_request_id, created, again.state) == ("txr_cut", False, "SIGN_PENDING")
    assert again.raw_tx is not None and world.signed() == 2
    third, _ = pipeline.submit(world.svc, world.requester, body)
    assert third.raw_tx == again.raw_tx and world.signed() == 2
