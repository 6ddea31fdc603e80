"""The transaction pipeline: KYT -> POLICY -> APPROVALS -> SIGN_PENDING (-> BROADCAST -> CONFIRM
-> FINALIZED, the chain layer's), with REJECTED and FAILED terminal and carrying a reason code.

* KYT: the adapter screens the ``to`` and a decoded token recipient.
* POLICY: the co-signer's policy language (:mod:`mpcwallet.cosigner.policy`, decisions from
  :mod:`mpcwallet.cosigner.decide`), rules looked up by wallet id then wallet name; static rules
  first, then the 24 h totals checked and reserved in one store transaction.
* APPROVALS: as many as the rules ask (``approval_above``, token ``approval_above``,
  ``approvals_required``, ``approvers``); an approval is an Ed25519 signature by a registered
  approver over ``approval_message``; the requester never approves their own request, each
  approver counts once (primary key).
* SIGN_PENDING: the canonical transaction gets the wallet's next nonce (one store UPDATE) and
  the fees, its signing digest is ``tx_hash``; a SigningPermit with the controls snapshot and the
  audit head is issued and recorded, then ``SignTx`` runs. The signed raw transaction is kept
  on the request.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mpcwallet.cosigner import decide
from mpcwallet.cosigner.facts import tx_facts
from mpcwallet.errors import BadInput, MpcError, PermitRefused, PolicyRefused
from mpcwallet.evm.address import parse_address, to_checksum
from mpcwallet.evm.txjson import UnsignedTx, parse_tx, signing_digest
from mpcwallet.store.waas_records import Principal, TxRow, WalletRow
from mpcwallet.store.waas_txs import Lost
from mpcwallet.waas.errors import ApprovalRefused, RequestIdReused, WrongState
from mpcwallet.waas.service import Service, new_id, require

__all__ = ["approval_message", "approve", "submit"]

_APPROVAL_DOMAIN = b"mpcwallet waas approval v1\x00"


def approval_message(tx_request_id: str, body_hash: str) -> bytes:
    """What an approver signs (Ed25519): the request id and the hash of the request body."""
    return _APPROVAL_DOMAIN + f"{tx_request_id}:{body_hash}".encode()


def body_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def _base_tx(svc: Service, wallet: WalletRow, body: dict[str, Any]) -> UnsignedTx:
    """The canonical transaction without its nonce: to/value/data or an ERC-20 transfer."""
    from mpcwallet.evm.erc20 import transfer_calldata

    chain_id = body.get("chain_id") or svc.settings.chain_id
    erc20 = body.get("erc20")
    if erc20 is not None:
        to = parse_address(erc20["token"], "erc20.token")
        data = transfer_calldata(parse_address(erc20["to"], "erc20.to"), int(erc20["amount"]))
        value = 0
    else:
        if body.get("to") is None:
            raise BadInput("give to (and value/data) or erc20", field="to")
        to = parse_address(body["to"], "to")
        value = int(body.get("value") or "0")
        data = bytes.fromhex((body.get("data") or "0x")[2:])
    s = svc.settings
    gas = s.gas_transfer if not data else s.gas_call
    return parse_tx(
        {
            "type": 2,
            "chainId": chain_id,
            "to": to_checksum(to),
            "value": value,
            "data": "0x" + data.hex(),
            "gas": gas,
            "maxFeePerGas": s.max_fee_per_gas,
            "maxPriorityFeePerGas": s.max_priority_fee_per_gas,
            "from": wallet.address,
        }
    )


def submit(svc: Service, who: Principal, body: dict[str, Any]) -> tuple[TxRow, bool]:
    """Record the request (or find the tenant's earlier one with this ``request_id``) and run
    it as far as it goes now; ``(request, created)``."""
    require(who, "requester")
    wallet = svc.store.get_wallet(body["wallet_id"], who.tenant)
    if wallet.status != "ACTIVE":
        raise WrongState(f"wallet {wallet.wallet_id} is {wallet.status}", field="wallet_id")
    _base_tx(svc, wallet, body)  # bad input refused before anything is recorded
    digest = body_hash(body)
    row, created = svc.store.create_tx_request(
        new_id("txr"),
        who.tenant,
        wallet.wallet_id,
        body["request_id"],
        digest,
        who.principal_id,
        body,
    )
    if not created:
        if row.body_hash != digest:
            raise RequestIdReused(
                f"request_id {body['request_id']} was used for request {row.tx_request_id} with "
                "another body; use a new request_id",
                field="request_id",
            )
        return _resume(svc, row), False
    return _advance(svc, row), True


def _resume(svc: Service, row: TxRow) -> TxRow:
    """A retry of a request cut off before it reached a waiting or final state (a restart
    between two steps) carries it on; every step is guarded by the state it expects, so a retry
    racing the first run moves nothing twice. A request whose signing started (nonce taken,
    permit issued) is never signed again here."""
    if row.state in ("KYT", "POLICY"):
        return _advance(svc, row)
    if row.state == "SIGN_PENDING" and row.nonce is None:
        return _sign(svc, svc.store.get_wallet(row.wallet_id), row)
    return row


def _facts_and_rules(svc: Service, wallet: WalletRow, row: TxRow) -> tuple[Any, Any]:
    tx = _base_tx(svc, wallet, row.body)
    rules = svc.policy.rules_for(wallet.wallet_id, wallet.name, 0)
    return tx_facts(tx, key_id=wallet.wallet_id, digest=b"\0" * 32, key_name=wallet.name), rules


def _advance(svc: Service, row: TxRow) -> TxRow:
    store = svc.store
    wallet = store.get_wallet(row.wallet_id)
    tx = _base_tx(svc, wallet, row.body)
    screened = [to_checksum(tx.to)] if tx.to is not None else []
    facts, rules = _facts_and_rules(svc, wallet, row)
    if facts.token_to is not None:
        screened.append(to_checksum(facts.token_to))
    if row.state == "POLICY":  # resumed after KYT passed
        return _policy(svc, wallet, row, facts, rules, dict(row.controls or {}))
    kyt = svc.kyt.screen(tx.chain_id, screened)
    if not kyt.allowed:
        moved = store.move_tx(
            row.tx_request_id,
            ("KYT",),
            "REJECTED",
            reason_code="kyt_denied",
            reason=f"KYT ({kyt.provider}) denied {kyt.address}: {kyt.code}",
            values={"controls": json.dumps({"kyt": kyt.snapshot()})},
        )
        return moved or store.get_tx(row.tx_request_id)
    controls: dict[str, Any] = {"kyt": kyt.snapshot()}
    row = (
        store.move_tx(
            row.tx_request_id, ("KYT",), "POLICY", values={"controls": json.dumps(controls)}
        )
        or row
    )
    return _policy(svc, wallet, row, facts, rules, controls)


def _policy(
    svc: Service, wallet: WalletRow, row: TxRow, facts: Any, rules: Any, controls: dict[str, Any]
) -> TxRow:
    """POLICY -> APPROVALS or SIGN_PENDING (reserved atomically), or REJECTED."""
    store = svc.store
    try:
        decide.check_static(rules, facts)
        spends = decide.spends(rules, facts)
        by_asset = {s.asset: s for s in spends}

        def check(asset: str, amount: int, spent: int) -> None:
            decide.check_totals(rules, by_asset[asset], spent)

        required = decide.approvals_needed(rules, facts)
        controls["policy"] = {
            "result": "allowed",
            "scope": rules.scope,
            "approvals_required": required,
        }
        new = "APPROVALS" if required else "SIGN_PENDING"
        moved = store.reserve_and_move(
            row,
            [(s.asset, s.amount) for s in spends],
            check,
            new,
            {"approvals_required": required, "controls": json.dumps(controls)},
            [
                (
                    "POLICY_ALLOWED",
                    row.tenant,
                    row.tx_request_id,
                    {"scope": rules.scope, "approvals_required": required},
                )
            ],
        )
    except PolicyRefused as exc:
        rejected = store.move_tx(
            row.tx_request_id,
            ("POLICY",),
            "REJECTED",
            reason_code="policy_refused",
            reason=exc.message,
            events=[("POLICY_REFUSED", row.tenant, row.tx_request_id, {"rule": exc.field})],
        )
        return rejected or store.get_tx(row.tx_request_id)
    except Lost:
        return store.get_tx(row.tx_request_id)
    assert moved is not None
    if moved.state == "SIGN_PENDING":
        return _sign(svc, wallet, moved)
    return moved


def approve(svc: Service, who: Principal, tx_request_id: str, signature: str) -> TxRow:
    """Count ``who``'s signed approval; releases the request to signing at the threshold."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    require(who, "approver")
    store = svc.store
    row = store.get_tx(tx_request_id, who.tenant)

    def refuse(why: str, code: str) -> ApprovalRefused:
        store.audit(
            [
                (
                    "TX_APPROVAL_REFUSED",
                    row.tenant,
                    tx_request_id,
                    {"approver": who.principal_id, "code": code},
                )
            ]
        )
        return ApprovalRefused(why, field="signature")

    if who.principal_id == row.requester:
        raise refuse(
            "the requester can never approve their own request; another approver must sign",
            "own_request",
        )
    if row.state != "APPROVALS":
        raise WrongState(
            f"request {tx_request_id} is {row.state}, not waiting for approvals",
            field="tx_request_id",
        )
    wallet = store.get_wallet(row.wallet_id)
    _, rules = _facts_and_rules(svc, wallet, row)
    if rules.approvers and who.name not in rules.approvers:
        raise refuse(f"the policy ({rules.scope}.approvers) does not list {who.name}", "not_listed")
    try:
        assert who.approver_key is not None
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(who.approver_key)).verify(
            bytes.fromhex(signature), approval_message(tx_request_id, row.body_hash)
        )
    except (InvalidSignature, ValueError):
        raise refuse(
            "the approval signature does not verify under this approver's registered "
            "key; sign approval_message(tx_request_id, body_hash)",
            "bad_signature",
        ) from None
    _, approvers = store.add_approval(row, who.principal_id, signature)
    if len(approvers) < row.approvals_required:
        return store.get_tx(tx_request_id)
    moved = store.move_tx(tx_request_id, ("APPROVALS",), "SIGN_PENDING")
    if moved is None:  # another approval released it first
        return store.get_tx(tx_request_id)
    return _sign(svc, wallet, moved)


def _sign(svc: Service, wallet: WalletRow, row: TxRow) -> TxRow:
    store, tid, tenant = svc.store, row.tx_request_id, row.tenant
    base = _base_tx(svc, wallet, row.body)
    approvers = store.approvers_of(tid)
    controls = dict(row.controls or {})
    controls["approvals"] = {
        "approvers": approvers,
        "count": len(approvers),
        "required": row.approvals_required,
    }
    anchor = store.audit_head()
    issued: dict[str, Any] = {}

    def build(nonce: int) -> tuple[dict[str, Any], str]:
        tx = base.with_fields(nonce=nonce)
        return tx.to_json(), signing_digest(tx).hex()

    def permit(tx_hash: str) -> tuple[str, int, int, dict[str, Any]]:
        p = svc.issuer.issue(
            tx_request_id=tid,
            wallet_id=wallet.wallet_id,
            keyset_id=wallet.keyset_id or "",
            tx_hash=bytes.fromhex(tx_hash),
            controls=controls,
            audit_anchor_hash=anchor,
        )
        issued["doc"] = p.to_json()
        public = {k: v for k, v in p.to_json().items() if k != "signature"}
        return p.nonce, p.issued_at * 1000, (p.issued_at + p.ttl) * 1000, public

    def events(body: dict[str, Any]) -> list[Any]:
        fields = {
            "tx_hash": body["tx_hash"],
            "permit_nonce": body["nonce"],
            "audit_anchor_hash": body["audit_anchor_hash"],
        }
        return [
            ("SIGN_PERMIT_ISSUED", tenant, tid, fields),
            ("MPC_SIGN_STARTED", tenant, tid, {"tx_hash": body["tx_hash"]}),
        ]

    if svc.chain is not None and wallet.address is not None:  # start from the chain's nonce
        store.set_next_nonce_at_least(wallet.wallet_id, svc.chain.nonce_floor(wallet.address))
    try:
        row = store.prepare_signing(row, build, permit, events)
    except Lost:
        return store.get_tx(tid)
    assert row.tx_json is not None
    try:
        raw = _signature(svc, wallet, row.tx_json, issued["doc"])
    except MpcError as exc:
        event = "SIGN_PERMIT_REJECTED" if isinstance(exc, PermitRefused) else "MPC_SIGN_FAILED"
        failed = store.move_tx(
            tid,
            ("SIGN_PENDING",),
            "FAILED",
            reason_code=exc.code,
            reason=exc.message,
            events=[(event, tenant, tid, {"code": exc.code})],
        )
        return failed or store.get_tx(tid)
    signed_hash = "0x" + raw.tx_hash.hex()
    done = store.set_signed(
        row,
        "0x" + raw.raw.hex(),
        signed_hash,
        [
            ("MPC_SIGN_COMPLETED", tenant, tid, {"tx_hash": row.tx_hash, "hash": signed_hash}),
        ],
    )
    if done is not None and svc.chain is not None:
        return svc.chain.send(store, done, raw)  # type: ignore[no-any-return]
    return done or store.get_tx(tid)


def _signature(svc: Service, wallet: WalletRow, tx_json: dict[str, Any], permit: Any) -> Any:
    """Sign through the coordinator: one signature in flight per wallet from this process (a
    lock), and a ``busy`` answer (another orchestrator's session on the key set) retried with
    backoff while the permit is valid."""
    import time

    from mpcwallet.errors import Busy
    from mpcwallet.evm.signature import assemble

    tx = parse_tx(tx_json)
    assert wallet.pubkey is not None
    pub = bytes.fromhex(wallet.pubkey)
    if wallet.custody_backend != "MPC_TECDSA":  # DEV_SIGNER: dev mode only (see wallets.py)
        import coincurve

        key = coincurve.PrivateKey(svc.dev_keys[wallet.wallet_id])
        return assemble(tx, key.sign(signing_digest(tx), hasher=None), pub)
    assert wallet.keyset_id is not None
    deadline = time.monotonic() + max(1, int(permit["ttl"]) - 5)
    delay = 0.05
    with svc.sign_lock(wallet.wallet_id):
        while True:
            try:
                der = svc.coordinator.sign_tx(wallet.keyset_id, tx_json, permit)
                break
            except Busy:
                if time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
    return assemble(tx, der, pub)
