"""Typed rows of the WaaS tables (:mod:`mpcwallet.store.waas_schema`) and the audit chain's hash.

The audit chain: each event's ``hash`` is SHA-256 over the canonical JSON (sorted keys, no
spaces) of ``{seq, at, tenant, event, subject, fields, prev}``, ``prev`` being the previous
event's hash (64 zeros for the first), the same construction as the co-signer's trail
(:mod:`mpcwallet.cosigner.audit`). Fields are public values only (ids, addresses, amounts as
decimal strings, hashes, codes).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64

PRINCIPAL_COLUMNS = "principal_id, tenant, name, role, approver_key, created_at"
WALLET_COLUMNS = (
    "wallet_id, tenant, name, request_id, custody_backend, status, mpc_t, mpc_n, keyset_id,"
    " key_ref, address, pubkey, error_code, error_message, next_nonce, created_by, created_at,"
    " updated_at"
)
TX_COLUMNS = (
    "tx_request_id, tenant, wallet_id, request_id, body_hash, requester, body, state,"
    " reason_code, reason, approvals_required, controls, nonce, tx_hash, tx_json, raw_tx,"
    " signed_hash, created_at, updated_at"
)
AUDIT_COLUMNS = "seq, at, tenant, event, subject, fields, prev, hash"


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def audit_hash(
    seq: int,
    at: int,
    tenant: str | None,
    event: str,
    subject: str | None,
    fields: dict[str, Any],
    prev: str,
) -> str:
    body = {
        "seq": seq,
        "at": at,
        "tenant": tenant,
        "event": event,
        "subject": subject,
        "fields": fields,
        "prev": prev,
    }
    return hashlib.sha256(canonical(body)).hexdigest()


@dataclass(frozen=True)
class Principal:
    principal_id: str
    tenant: str
    name: str
    role: str
    approver_key: str | None
    created_at: int

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Principal:
        return cls(row[0], row[1], row[2], row[3], row[4], int(row[5]))


@dataclass(frozen=True)
class WalletRow:
    wallet_id: str
    tenant: str
    name: str
    request_id: str | None
    custody_backend: str
    status: str
    mpc_t: int | None
    mpc_n: int | None
    keyset_id: str | None
    key_ref: str | None
    address: str | None
    pubkey: str | None
    error_code: str | None
    error_message: str | None
    next_nonce: int
    created_by: str
    created_at: int
    updated_at: int

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> WalletRow:
        vals = list(row)
        for i in (14, 16, 17):
            vals[i] = int(vals[i])
        return cls(*vals)


@dataclass(frozen=True)
class TxRow:
    tx_request_id: str
    tenant: str
    wallet_id: str
    request_id: str
    body_hash: str
    requester: str
    body: dict[str, Any]
    state: str
    reason_code: str | None
    reason: str | None
    approvals_required: int
    controls: dict[str, Any] | None
    nonce: int | None
    tx_hash: str | None
    tx_json: dict[str, Any] | None
    raw_tx: str | None
    signed_hash: str | None
    created_at: int
    updated_at: int

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> TxRow:
        v = list(row)
        v[6] = json.loads(v[6])
        v[10] = int(v[10])
        v[11] = json.loads(v[11]) if v[11] else None
        v[12] = None if v[12] is None else int(v[12])
        v[14] = json.loads(v[14]) if v[14] else None
        v[17], v[18] = int(v[17]), int(v[18])
        return cls(*v)


@dataclass(frozen=True)
class HistoryRow:
    seq: int
    state: str
    at: int
    reason_code: str | None


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    at: int
    tenant: str | None
    event: str
    subject: str | None
    fields: dict[str, Any]
    prev: str
    hash: str

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> AuditEvent:
        return cls(
            int(row[0]), int(row[1]), row[2], row[3], row[4], json.loads(row[5]), row[6], row[7]
        )

    def recomputed(self) -> str:
        return audit_hash(
            self.seq, self.at, self.tenant, self.event, self.subject, self.fields, self.prev
        )
