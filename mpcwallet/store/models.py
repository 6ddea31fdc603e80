"""The session store's records and the checks on every value that goes into it.

Every field is public by construction: ids, party names, a compressed public key, an address,
a transaction hash, a stable error code, a JSON result of public values. The checks keep it so
(a free-form string has no column to land in), and make the two backends store byte-identical
values (addresses lowercased, so a checksummed and a plain spelling cannot both be unique).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mpcwallet.errors import BadInput

__all__ = [
    "Claim",
    "ErrorClass",
    "Keyset",
    "Node",
    "Request",
    "Session",
]

ErrorClass = Literal["transient", "permanent", "violation"]
KeysetStatus = Literal["pending", "active", "failed", "retired"]
SessionStatus = Literal["running", "succeeded", "failed", "abandoned"]
SessionOp = Literal["keygen", "sign", "refresh"]
NodeStatus = Literal["healthy", "unreachable", "quarantined"]
RequestStatus = Literal["pending", "succeeded", "failed"]

MAX_RESULT_BYTES = 64 * 1024
MAX_PARTIES = 64
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_PUBKEY_RE = re.compile(r"^0[23][0-9a-f]{64}$")
_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HASH_RE = re.compile(r"^0x[0-9a-f]{64}$")
_HEX32_RE = re.compile(r"^[0-9a-f]{64}$")
_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def check_id(value: Any, what: str) -> str:
    """An id (key set, wallet, session, request): 1..128 of ``A-Z a-z 0-9 . _ : -``."""
    if not isinstance(value, str) or _ID_RE.fullmatch(value) is None:
        raise BadInput(
            f"{what} must be 1 to 128 letters, digits, '.', '_', ':' or '-', not starting with "
            "a symbol",
            field=what,
        )
    return value


def check_party(value: Any, what: str = "node_id") -> str:
    if not isinstance(value, str) or _NAME_RE.fullmatch(value) is None:
        raise BadInput(
            f"{what} must be a party name: 1 to 64 letters, digits, '.', '_' or '-'", field=what
        )
    return value


def check_parties(values: Sequence[str], what: str) -> str:
    if isinstance(values, str) or not 1 <= len(values) <= MAX_PARTIES:
        raise BadInput(f"{what} must list 1 to {MAX_PARTIES} party names", field=what)
    names = [check_party(v, what) for v in values]
    if len(set(names)) != len(names):
        raise BadInput(f"{what} names a party twice", field=what)
    return ",".join(names)


def check_pubkey(value: Any) -> str:
    if not isinstance(value, str) or _PUBKEY_RE.fullmatch(value) is None:
        raise BadInput(
            "pubkey must be a compressed SEC1 public key in lowercase hex (66 digits)",
            field="pubkey",
        )
    return value


def check_address(value: Any) -> str:
    if not isinstance(value, str) or _ADDRESS_RE.fullmatch(value) is None:
        raise BadInput("address must be 0x and 40 hex digits", field="address")
    return value.lower()


def check_tx_hash(value: Any) -> str:
    if not isinstance(value, str) or _HASH_RE.fullmatch(value) is None:
        raise BadInput("tx_hash must be 0x and 64 lowercase hex digits", field="tx_hash")
    return value


def check_body_hash(value: Any) -> str:
    if not isinstance(value, str) or _HEX32_RE.fullmatch(value) is None:
        raise BadInput(
            "body_hash must be 64 lowercase hex digits (SHA-256 of the request)", field="body_hash"
        )
    return value


def check_code(value: Any, what: str = "error_code") -> str:
    if not isinstance(value, str) or _CODE_RE.fullmatch(value) is None:
        raise BadInput(f"{what} must be a stable error code (a-z, 0-9, _)", field=what)
    return value


def check_zone(value: Any) -> str:
    return check_party(value, "zone")


def encode_result(result: Mapping[str, Any]) -> str:
    """Canonical JSON of a request's public result (a signature, a raw tx, a key set id)."""
    if not isinstance(result, Mapping):
        raise BadInput("a request result must be a JSON object", field="result")
    try:
        text = json.dumps(
            dict(result), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
        )
    except (TypeError, ValueError):
        raise BadInput("a request result must hold JSON values only", field="result") from None
    if len(text) > MAX_RESULT_BYTES:
        raise BadInput(f"a request result is over {MAX_RESULT_BYTES} bytes", field="result")
    return text


def split_parties(text: str) -> tuple[str, ...]:
    return tuple(text.split(","))


@dataclass(frozen=True)
class Keyset:
    keyset_id: str
    wallet_id: str
    t: int
    n: int
    parties: tuple[str, ...]
    pubkey: str | None
    address: str | None
    status: KeysetStatus
    created_at: int
    updated_at: int

    COLUMNS = "keyset_id, wallet_id, t, n, parties, pubkey, address, status, created_at, updated_at"

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Keyset:
        k, w, t, n, parties, pub, addr, status, created, updated = row
        return cls(
            k, w, int(t), int(n), split_parties(parties), pub, addr, status, created, updated
        )


@dataclass(frozen=True)
class Session:
    session_id: str
    keyset_id: str
    op: SessionOp
    tx_request_id: str | None
    tx_hash: str | None
    quorum: tuple[str, ...]
    attempt: int
    status: SessionStatus
    started_at: int
    ended_at: int | None
    error_code: str | None
    error_class: ErrorClass | None
    error_node: str | None

    COLUMNS = (
        "session_id, keyset_id, op, tx_request_id, tx_hash, quorum, attempt, status, "
        "started_at, ended_at, error_code, error_class, error_node"
    )

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Session:
        values = list(row)
        values[5] = split_parties(values[5])
        values[6] = int(values[6])
        return cls(*values)


@dataclass(frozen=True)
class Node:
    node_id: str
    zone: str
    status: NodeStatus
    last_seen_at: int | None
    quarantined_at: int | None
    quarantine_code: str | None
    quarantine_session: str | None

    COLUMNS = (
        "node_id, zone, status, last_seen_at, quarantined_at, quarantine_code, quarantine_session"
    )

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Node:
        return cls(*row)


@dataclass(frozen=True)
class Request:
    request_id: str
    op: str
    body_hash: str
    owner: str
    status: RequestStatus
    result: dict[str, Any] | None
    error_code: str | None
    created_at: int
    updated_at: int

    COLUMNS = "request_id, op, body_hash, owner, status, result, error_code, created_at, updated_at"

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Request:
        rid, op, body_hash, owner, status, result, code, created, updated = row
        doc = json.loads(result) if result is not None else None
        return cls(rid, op, body_hash, owner, status, doc, code, created, updated)


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a request id: ``won`` is True for exactly one claimant (one
    ``owner`` token), however often that claimant asks."""

    won: bool
    request: Request
    owner: str
