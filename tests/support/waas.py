"""WaaS test helpers: approver keys and their signatures."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Approver:
    principal_id: str
    name: str
    seed: bytes

    def sign(self, message: bytes) -> str:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message).hex()


def approver_key() -> tuple[bytes, str]:
    from mpcwallet.cosigner.permits import new_approver_key

    return new_approver_key()
