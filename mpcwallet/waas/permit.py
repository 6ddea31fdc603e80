"""The orchestrator's side of the SigningPermit: the permit key and issuing.

The format and the node-side checks are :mod:`mpcwallet.topology.permit` (one format, shared
with the cluster nodes); this only holds the orchestrator's Ed25519 private key (a 32-byte seed,
hex, in a 0600 file: the demo cluster's ``permit.key``) and issues permits with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mpcwallet.errors import FileFormatError
from mpcwallet.topology.permit import DEFAULT_TTL, SigningPermit, issue_permit

__all__ = ["PermitIssuer"]


class PermitIssuer:
    def __init__(self, seed: bytes, ttl: int = DEFAULT_TTL) -> None:
        if len(seed) != 32:
            raise FileFormatError("a permit key is a 32-byte Ed25519 seed (64 hex)")
        self._seed = seed
        self.ttl = ttl

    @classmethod
    def from_file(cls, path: Path, ttl: int = DEFAULT_TTL) -> PermitIssuer:
        try:
            return cls(bytes.fromhex(Path(path).read_text().strip()), ttl)
        except (OSError, ValueError):
            raise FileFormatError(
                f"cannot read the permit key {path}: 64 hex characters expected "
                "(`mpc cluster init` writes one)"
            ) from None

    def __repr__(self) -> str:
        return f"PermitIssuer(public_key={self.public_key.hex()})"

    @property
    def public_key(self) -> bytes:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return Ed25519PrivateKey.from_private_bytes(self._seed).public_key().public_bytes_raw()

    def issue(
        self,
        *,
        tx_request_id: str,
        wallet_id: str,
        keyset_id: str,
        tx_hash: bytes,
        controls: dict[str, Any],
        audit_anchor_hash: str,
    ) -> SigningPermit:
        return issue_permit(
            self._seed,
            tx_request_id=tx_request_id,
            wallet_id=wallet_id,
            keyset_id=keyset_id,
            tx_hash=tx_hash,
            controls=controls,
            audit_anchor_hash=audit_anchor_hash,
            ttl=self.ttl,
        )
