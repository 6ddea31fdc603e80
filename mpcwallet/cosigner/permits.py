"""Signing permits: an approver's Ed25519 signature over exactly one signing request.

A permit is a JSON object::

    {"v": 1, "approver": "<Ed25519 public key, hex>", "key_id": "...", "account": 0,
     "kind": "tx" | "message" | "typed_data", "digest": "<32 bytes hex>",
     "chain_id": 11155111 | null, "issued_at": <unix s>, "expires_at": <unix s>,
     "id": "<16 random bytes hex>", "sig": "<64 bytes hex>"}

``sig`` is Ed25519 (RFC 8032, via ``cryptography``) over ``DOMAIN`` followed by the canonical
JSON (sorted keys, no spaces) of every other field. ``digest`` is the digest the co-signer
itself computes (the transaction's signing hash, the EIP-191 or EIP-712 hash), so a permit
approves one exact request. ``id`` makes it single-use (enforced by the ledger).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mpcwallet.cosigner.facts import SignFacts
from mpcwallet.errors import (
    PermitExpired,
    PermitMismatch,
    PermitTampered,
    PermitUnknownApprover,
    PermitWrongDigest,
)

DOMAIN = b"mpcwallet signing permit v1\n"
DEFAULT_TTL_S = 60
MAX_TTL_S = 600
CLOCK_SKEW_S = 30
_HEX32 = re.compile(r"^[0-9a-f]{64}$")
_FIELDS = {
    "v",
    "approver",
    "key_id",
    "account",
    "kind",
    "digest",
    "chain_id",
    "issued_at",
    "expires_at",
    "id",
    "sig",
}


def _canonical(doc: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in doc.items() if k != "sig"}
    return DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def make_permit(
    private_key: bytes,
    *,
    key_id: str,
    account: int,
    kind: str,
    digest: bytes,
    chain_id: int | None,
    ttl_s: int = DEFAULT_TTL_S,
    now: float | None = None,
) -> dict[str, Any]:
    """A signed permit. ``private_key`` is the approver's raw 32-byte Ed25519 seed."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    if not 0 < ttl_s <= MAX_TTL_S:
        from mpcwallet.errors import BadInput

        raise BadInput(f"ttl: must be 1..{MAX_TTL_S} seconds", field="ttl")
    key = Ed25519PrivateKey.from_private_bytes(private_key)
    issued = int(now if now is not None else time.time())
    doc: dict[str, Any] = {
        "v": 1,
        "approver": key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex(),
        "key_id": key_id,
        "account": account,
        "kind": kind,
        "digest": digest.hex(),
        "chain_id": chain_id,
        "issued_at": issued,
        "expires_at": issued + ttl_s,
        "id": os.urandom(16).hex(),
    }
    doc["sig"] = key.sign(_canonical(doc)).hex()
    return doc


@dataclass(frozen=True)
class AcceptedPermit:
    id: str
    approver: str  # registered name
    public_key: str  # hex


def _int(doc: Mapping[str, Any], name: str) -> int:
    v = doc.get(name)
    if isinstance(v, bool) or not isinstance(v, int):
        raise PermitTampered(f"permit: {name} is missing or not an integer", field="permit")
    return v


def verify_permit(
    doc: Mapping[str, Any],
    facts: SignFacts,
    approvers: Mapping[str, str],
    *,
    now: float | None = None,
) -> AcceptedPermit:
    """Check one permit against the request; ``approvers`` maps public key hex -> name.

    Raises the specific refusal: tampered (malformed or bad signature), unknown approver,
    expired (or lifetime over :data:`MAX_TTL_S`, or issued in the future), mismatch (key,
    account, kind, chain) or wrong digest. Single use is the ledger's job.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if set(doc) != _FIELDS or doc.get("v") != 1:
        raise PermitTampered(
            "permit: not a version 1 permit (fields missing or extra)", field="permit"
        )
    pub, sig, pid = doc.get("approver"), doc.get("sig"), doc.get("id")
    if not (isinstance(pub, str) and _HEX32.match(pub)):
        raise PermitTampered("permit: approver is not an Ed25519 public key", field="permit")
    if not (isinstance(sig, str) and re.fullmatch(r"[0-9a-f]{128}", sig)):
        raise PermitTampered("permit: sig is not an Ed25519 signature", field="permit")
    if not (isinstance(pid, str) and re.fullmatch(r"[0-9a-f]{32}", pid)):
        raise PermitTampered("permit: id is not 16 bytes of hex", field="permit")
    name = approvers.get(pub)
    if name is None:
        raise PermitUnknownApprover(
            f"permit {pid}: approver {pub} is not registered with this co-signer "
            "(`mpc cosigner approvers add`)",
            field="permit",
        )
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(pub)).verify(
            bytes.fromhex(sig), _canonical(doc)
        )
    except InvalidSignature:
        raise PermitTampered(
            f"permit {pid}: the approver's signature does not verify (the permit was altered)",
            field="permit",
        ) from None
    issued, expires = _int(doc, "issued_at"), _int(doc, "expires_at")
    t = now if now is not None else time.time()
    if expires - issued > MAX_TTL_S or expires <= issued:
        raise PermitExpired(
            f"permit {pid}: lifetime {expires - issued} s is over the cap of {MAX_TTL_S} s",
            field="permit",
        )
    if issued > t + CLOCK_SKEW_S:
        raise PermitExpired(f"permit {pid}: issued in the future", field="permit")
    if t >= expires:
        raise PermitExpired(
            f"permit {pid}: expired {int(t - expires)} s ago; ask the approver for a new one",
            field="permit",
        )
    account = _int(doc, "account")
    chain = doc.get("chain_id")
    if doc.get("key_id") != facts.key_id or account != facts.account:
        raise PermitMismatch(f"permit {pid}: for another key or account", field="permit")
    if doc.get("kind") != facts.kind or chain != facts.chain_id:
        raise PermitMismatch(
            f"permit {pid}: for a {doc.get('kind')} on chain {chain}, not a {facts.kind} on "
            f"chain {facts.chain_id}",
            field="permit",
        )
    if doc.get("digest") != facts.digest.hex():
        raise PermitWrongDigest(
            f"permit {pid}: approves another digest than the one the co-signer computed",
            field="permit",
        )
    return AcceptedPermit(id=pid, approver=name, public_key=pub)


def new_approver_key() -> tuple[bytes, str]:
    """``(private seed, public key hex)`` of a fresh Ed25519 approver key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return seed, key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def check_public_key(value: str) -> str:
    from mpcwallet.errors import BadInput

    v = value.strip().lower().removeprefix("0x")
    if not _HEX32.match(v):
        raise BadInput(
            "an approver public key is 32 bytes of hex (from `mpc approver new`)",
            field="public_key",
        )
    return v
