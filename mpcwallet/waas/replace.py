"""Speed-up and cancel of a stuck WaaS transaction (``POST /v1/tx-requests/{id}/speed-up`` and
``/cancel``): the WaaS equivalents of ``mpc tx speed-up``/``mpc tx cancel``.

Only a request in BROADCAST (signed and sent, not mined) is replaced, by its requester or an
admin of its tenant. A replacement uses the request's own nonce (never a new one: the request
keeps its place in the wallet's nonce sequence, whose (wallet, nonce) uniqueness the store
enforces) with both fee fields raised at least 10 % over the newest signature at that nonce
(:func:`mpcwallet.chain.outgoing.replacement_fees`, the node's replacement rule). It is a new
signature through the pipeline's permit: a fresh SigningPermit naming the new transaction's
digest, recorded with its audit events before signing, which every node checks. A cancel is a
zero-value self-transfer with no data (as wallets do it); it spends nothing, so the policy's
totals are not charged again. The chain record keeps every signature at the nonce; the tracker
marks the ones not mined REPLACED, and :func:`mpcwallet.waas.chainlink.follow` moves the request
by whichever was mined (a mined cancel ends the request FAILED with ``cancelled``).
"""

from __future__ import annotations

from typing import Any

from mpcwallet.chain.outgoing import check_nonce, new_record, record_and_send, replacement_fees
from mpcwallet.errors import ChainError, TransientError
from mpcwallet.evm.address import parse_address
from mpcwallet.evm.txjson import parse_tx, signing_digest
from mpcwallet.store.waas_records import Principal, TxRow
from mpcwallet.store.waas_replacements import Replacement
from mpcwallet.store.waas_txs import Lost
from mpcwallet.waas.errors import Forbidden, WrongState
from mpcwallet.waas.service import Service, require, roles_of

__all__ = ["KINDS", "replace_tx"]

KINDS = ("speed-up", "cancel")


def _stuck(svc: Service, who: Principal, tx_request_id: str) -> TxRow:
    require(who, "requester", "admin")
    row = svc.store.get_tx(tx_request_id, who.tenant)
    if "admin" not in roles_of(who) and row.requester != who.principal_id:
        raise Forbidden(
            "only the request's requester or an admin of its tenant may replace it",
            field="Authorization",
        )
    if svc.chain is None:
        raise WrongState(
            "this service sends nothing (no --rpc-url), so nothing can be stuck",
            field="tx_request_id",
        )
    if row.state != "BROADCAST" or row.nonce is None or row.tx_json is None:
        raise WrongState(
            f"request {tx_request_id} is {row.state}; only a BROADCAST (sent, not mined) "
            "request can be sped up or cancelled",
            field="tx_request_id",
        )
    return row


def replace_tx(svc: Service, who: Principal, tx_request_id: str, kind: str) -> TxRow:
    """Sign and send a ``kind`` replacement of the request's pending transaction."""
    assert kind in KINDS
    row = _stuck(svc, who, tx_request_id)
    assert row.nonce is not None and row.tx_json is not None and row.signed_hash is not None
    store, chain = svc.store, svc.chain
    wallet = store.get_wallet(row.wallet_id)
    assert wallet.address is not None
    prev = chain.records.get_tx(row.signed_hash)
    if prev is None or prev.state != "BROADCAST":
        raise WrongState(
            f"request {tx_request_id}'s transaction is {prev.state if prev else 'unknown'} "
            "on the chain; nothing to replace",
            field="tx_request_id",
        )
    signed = [r for r in store.replacements(tx_request_id) if r.signed_hash]
    newest = parse_tx(signed[-1].tx_json if signed else row.tx_json)
    fees = replacement_fees(newest, chain.node)
    if kind == "speed-up":
        tx = newest.with_fields(**fees)
    else:
        own = parse_address(wallet.address, "address")
        tx = newest.with_fields(to=own, value=0, data=b"", gas=svc.settings.gas_transfer, **fees)
    tx_json, digest = tx.to_json(), signing_digest(tx)
    controls = dict(row.controls or {})
    controls["replacement"] = {"kind": kind, "replaces": prev.hash, "by": who.principal_id}
    permit = svc.issuer.issue(
        tx_request_id=tx_request_id,
        wallet_id=wallet.wallet_id,
        keyset_id=wallet.keyset_id or "",
        tx_hash=digest,
        controls=controls,
        audit_anchor_hash=store.audit_head(),
    )
    public = {k: v for k, v in permit.to_json().items() if k != "signature"}
    rep = Replacement(
        permit_nonce=permit.nonce,
        tx_request_id=tx_request_id,
        kind=kind,
        nonce=row.nonce,
        replaces=prev.hash,
        tx_hash=digest.hex(),
        tx_json=tx_json,
        requester=who.principal_id,
        issued_at=permit.issued_at * 1000,
        expires_at=(permit.issued_at + permit.ttl) * 1000,
        body=public,
        raw_tx=None,
        signed_hash=None,
    )
    fields: dict[str, Any] = {
        "kind": kind,
        "replaces": prev.hash,
        "tx_hash": "0x" + digest.hex(),
        "permit_nonce": permit.nonce,
        "nonce": row.nonce,
    }
    try:
        store.add_replacement(
            rep, [("TX_REPLACEMENT_PERMIT_ISSUED", row.tenant, row.tx_request_id, fields)]
        )
    except Lost:
        raise WrongState(
            f"request {tx_request_id} left BROADCAST meanwhile; nothing replaced",
            field="tx_request_id",
        ) from None
    from mpcwallet.waas.pipeline import _signature

    raw = _signature(svc, wallet, tx_json, permit.to_json())
    new_hash = "0x" + raw.tx_hash.hex()
    check_nonce(
        chain.records, chain.node, chain_id=prev.chain_id, sender=prev.sender,
        nonce=row.nonce, replacing=prev.hash,
    )  # fmt: skip
    rec = new_record(
        tx_hash=raw.tx_hash, raw=raw.raw, chain_id=prev.chain_id, sender=prev.sender,
        nonce=row.nonce, kind=kind, replaces=prev.hash, key_id=wallet.wallet_id,
    )  # fmt: skip
    store.replacement_signed(
        rep,
        "0x" + raw.raw.hex(),
        new_hash,
        [("TX_REPLACEMENT_SIGNED", row.tenant, tx_request_id, {"kind": kind, "hash": new_hash})],
    )
    try:
        record_and_send(chain.records, chain.node, rec)
    except TransientError:
        pass  # recorded: the tracker sends it again
    except ChainError as exc:
        store.audit([("TX_REPLACEMENT_REFUSED", row.tenant, tx_request_id,
                      {"hash": new_hash, "code": exc.code})])  # fmt: skip
        raise
    return store.get_tx(tx_request_id)
