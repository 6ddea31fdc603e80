"""The SigningPermit the orchestrator issues before any node signs (issue 23).

Fields: ``tx_request_id``, ``wallet_id``, ``keyset_id``, ``tx_hash`` (the EIP-155/1559 signing
digest of the canonical transaction, hex), ``controls`` (snapshot: KYT result, policy result,
approvals: who, how many, how many required), ``audit_anchor_hash`` (the audit chain head when
issued), ``issued_at`` (ms), ``ttl_s`` (60 by default) and a random ``nonce``. Signed with
Ed25519 (RFC 8032, ``cryptography``) over a domain-separated canonical JSON of those fields.

A verifier (every signer node) checks, in this order: the signature under the pinned permit key,
the expiry, the keyset, ``tx_hash`` against the digest it recomputed itself from the transaction
it is asked to sign, then single use against its own record (checked last so that a refused
permit is not burned). The node side lives with the nodes; this module holds the one format.

NOTE: the cluster branch owns the node-side permit module; when it lands, this issuer switches
to its format and the verifier here goes.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mpcwallet.errors import (
    PermitExpired,
    PermitMismatch,
    PermitRefused,
    PermitReplayed,
    PermitTampered,
    PermitWrongDigest,
)

__all__ = ["DEFAULT_TTL_S", "PermitIssuer", "SigningPermit", "verify_permit"]

DEFAULT_TTL_S = 60
_DOMAIN = b"mpcwallet signing permit v1\x00"
_FIELDS = (
    "tx_request_id",
    "wallet_id",
    "keyset_id",
    "tx_hash",
    "controls",
    "audit_anchor_hash",
    "issued_at",
    "ttl_s",
    "nonce",
)


@dataclass(frozen=True)
class SigningPermit:
    tx_request_id: str
    wallet_id: str
    keyset_id: str
    tx_hash: str
    controls: dict[str, Any]
    audit_anchor_hash: str
    issued_at: int  # ms since the epoch
    ttl_s: int
    nonce: str

    @property
    def expires_at(self) -> int:
        return self.issued_at + self.ttl_s * 1000

    def body(self) -> dict[str, Any]:
        return asdict(self)

    def message(self) -> bytes:
        return _DOMAIN + json.dumps(self.body(), sort_keys=True, separators=(",", ":")).encode()


class PermitIssuer:
    """Holds the orchestrator's Ed25519 permit key (a seed from its key file)."""

    def __init__(self, seed: bytes, ttl_s: int = DEFAULT_TTL_S) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.ttl_s = ttl_s

    def __repr__(self) -> str:
        return f"PermitIssuer(public_key={self.public_key.hex()})"

    @property
    def public_key(self) -> bytes:
        from cryptography.hazmat.primitives import serialization as ser

        return self._key.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)

    def issue(
        self,
        *,
        tx_request_id: str,
        wallet_id: str,
        keyset_id: str,
        tx_hash: str,
        controls: dict[str, Any],
        audit_anchor_hash: str,
        now_ms: int | None = None,
    ) -> SigningPermit:
        return SigningPermit(
            tx_request_id,
            wallet_id,
            keyset_id,
            tx_hash,
            controls,
            audit_anchor_hash,
            int(time.time() * 1000) if now_ms is None else now_ms,
            self.ttl_s,
            secrets.token_hex(16),
        )

    def sign(self, permit: SigningPermit) -> dict[str, Any]:
        """The wire form: ``{"permit": {...}, "signature": hex}``."""
        return {"permit": permit.body(), "signature": self._key.sign(permit.message()).hex()}


def _parse(doc: Any) -> tuple[SigningPermit, bytes]:
    if not isinstance(doc, dict) or set(doc) != {"permit", "signature"}:
        raise PermitTampered("a signing permit is {permit, signature}; refusing to sign")
    body, sig = doc["permit"], doc["signature"]
    if not isinstance(body, dict) or set(body) != set(_FIELDS) or not isinstance(sig, str):
        raise PermitTampered("the signing permit's fields are not the permit format")
    try:
        permit = SigningPermit(**body)
        raw = bytes.fromhex(sig)
    except (TypeError, ValueError):
        raise PermitTampered("the signing permit does not parse") from None
    return permit, raw


def verify_permit(
    doc: Any,
    permit_key: bytes,
    *,
    digest: bytes,
    keyset_id: str,
    used: set[str],
    now_ms: int | None = None,
) -> SigningPermit:
    """The checked permit; a :class:`PermitRefused` subclass naming the failed check. On
    success the permit's nonce is added to ``used`` (the node's own single-use record)."""
    if doc is None:
        raise PermitRefused(
            "no signing permit: a signature happens only through the WaaS "
            "pipeline; refusing to sign"
        )
    permit, sig = _parse(doc)
    try:  # RFC 8032 Ed25519 verification
        Ed25519PublicKey.from_public_bytes(permit_key).verify(sig, permit.message())
    except (InvalidSignature, ValueError):
        raise PermitTampered("the signing permit is not signed by the pinned permit key") from None
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if not permit.issued_at - 5_000 <= now < permit.expires_at:
        raise PermitExpired(f"the signing permit expired (ttl {permit.ttl_s} s)")
    if permit.keyset_id != keyset_id:
        raise PermitMismatch(f"the signing permit is for key set {permit.keyset_id}")
    if permit.tx_hash != digest.hex():
        raise PermitWrongDigest("the signing permit's tx_hash is not the digest of this tx")
    if permit.nonce in used:
        raise PermitReplayed("this signing permit was used already")
    used.add(permit.nonce)
    return permit
