"""The signing permit (issue 23): what the pipeline issues and every signer node checks itself.

A permit names one transaction request (``tx_request_id``, ``wallet_id``, ``keyset_id``) and the
digest it may sign (``tx_hash``), carries a snapshot of the controls that released it, the audit
chain head when it was issued (``audit_anchor_hash``), ``issued_at`` and ``ttl`` (seconds, 60 by
default) and a random ``nonce``. It is signed with the permit key (Ed25519, RFC 8032, through
``cryptography``) whose public half is pinned in cluster.json (``permit_key``).

The signature covers the canonical JSON of every field but ``signature`` (sorted keys, no
spaces, UTF-8), prefixed with a domain label so that no other signed object of the project can
be replayed as a permit. A node checks, in this order (:func:`check_permit`): shape, signature
under the pinned key, the key set it is asked to sign for, the TTL against its own clock, and
``tx_hash`` equal to the digest it recomputed from the transaction itself. Single use is the
node's own record (the caller's: :class:`mpcwallet.cosigner.node_state.NodeState`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mpcwallet.errors import (
    PermitExpired,
    PermitMismatch,
    PermitRefused,
    PermitTampered,
    PermitWrongDigest,
)

DEFAULT_TTL = 60
MAX_TTL = 600
CLOCK_SKEW = 5  # seconds a permit may appear to come from the future
_LABEL = b"mpcwallet/signing-permit/v1\x00"
_FIELDS = (
    "tx_request_id",
    "wallet_id",
    "keyset_id",
    "tx_hash",
    "controls",
    "audit_anchor_hash",
    "issued_at",
    "ttl",
    "nonce",
)


@dataclass(frozen=True)
class SigningPermit:
    tx_request_id: str
    wallet_id: str
    keyset_id: str
    tx_hash: str  # 0x + 64 hex: the transaction's signing digest
    controls: dict[str, Any] = field(default_factory=dict)
    audit_anchor_hash: str = ""
    issued_at: int = 0
    ttl: int = DEFAULT_TTL
    nonce: str = ""
    signature: str = ""  # hex Ed25519 signature over signed_bytes()

    def signed_bytes(self) -> bytes:
        doc = {k: v for k, v in asdict(self).items() if k != "signature"}
        return _LABEL + json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Any) -> SigningPermit:
        if not isinstance(doc, dict):
            raise PermitRefused("no signing permit came with the sign request", field="permit")
        extra = set(doc) - {*_FIELDS, "signature"}
        missing = {*_FIELDS, "signature"} - set(doc)
        if extra or missing:
            raise PermitRefused(
                f"the signing permit has unknown or missing fields: "
                f"{', '.join(sorted(extra | missing))}",
                field="permit",
            )
        for name in ("tx_request_id", "wallet_id", "keyset_id", "tx_hash", "nonce", "signature"):
            if not isinstance(doc[name], str) or not doc[name]:
                raise PermitRefused(f"permit.{name} must be a non-empty string", field="permit")
        if not isinstance(doc["audit_anchor_hash"], str):
            raise PermitRefused("permit.audit_anchor_hash must be a string", field="permit")
        if not isinstance(doc["controls"], dict):
            raise PermitRefused("permit.controls must be an object", field="permit")
        for name in ("issued_at", "ttl"):
            if type(doc[name]) is not int or doc[name] < 0:
                raise PermitRefused(f"permit.{name} must be a non-negative integer", field="permit")
        return cls(**doc)


def issue_permit(
    private_key: bytes,
    *,
    tx_request_id: str,
    wallet_id: str,
    keyset_id: str,
    tx_hash: bytes,
    controls: dict[str, Any] | None = None,
    audit_anchor_hash: str = "",
    ttl: int = DEFAULT_TTL,
    now: int | None = None,
) -> SigningPermit:
    """A permit signed with the 32-byte Ed25519 ``private_key`` (the orchestrator's)."""
    if not 1 <= ttl <= MAX_TTL:
        raise PermitRefused(f"a permit's ttl must be 1..{MAX_TTL} s", field="ttl")
    unsigned = SigningPermit(
        tx_request_id=tx_request_id,
        wallet_id=wallet_id,
        keyset_id=keyset_id,
        tx_hash="0x" + tx_hash.hex(),
        controls=dict(controls or {}),
        audit_anchor_hash=audit_anchor_hash,
        issued_at=int(time.time()) if now is None else now,
        ttl=ttl,
        nonce=os.urandom(16).hex(),
    )
    sig = Ed25519PrivateKey.from_private_bytes(private_key).sign(unsigned.signed_bytes())
    return SigningPermit(**{**asdict(unsigned), "signature": sig.hex()})


def check_permit(
    permit: SigningPermit,
    *,
    permit_key: bytes,
    keyset_id: str,
    digest: bytes,
    now: float | None = None,
) -> None:
    """Everything a node checks but single use; raises a PermitRefused subclass."""
    try:
        sig = bytes.fromhex(permit.signature)
        Ed25519PublicKey.from_public_bytes(permit_key).verify(sig, permit.signed_bytes())
    except (ValueError, InvalidSignature):
        raise PermitTampered(
            "the signing permit's signature does not verify under the pinned permit key",
            field="permit",
        ) from None
    if permit.keyset_id != keyset_id:
        raise PermitMismatch(
            f"the permit is for key set {permit.keyset_id}, not {keyset_id}", field="keyset_id"
        )
    clock = time.time() if now is None else now
    if permit.ttl > MAX_TTL or permit.issued_at > clock + CLOCK_SKEW:
        raise PermitExpired("the permit's validity window is not acceptable", field="permit")
    if clock > permit.issued_at + permit.ttl:
        raise PermitExpired(
            f"the signing permit expired {clock - permit.issued_at - permit.ttl:.0f} s ago",
            field="permit",
        )
    if permit.tx_hash.lower() != "0x" + digest.hex():
        raise PermitWrongDigest(
            "the permit's tx_hash is not the digest of the transaction sent to sign",
            field="tx_hash",
        )
