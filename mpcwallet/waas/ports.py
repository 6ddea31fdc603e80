"""What the WaaS orchestrator needs from the signer cluster's coordinator (issue 22's API).

``create_keyset`` runs a t-of-n DKG across the nodes; ``sign_tx`` asks the nodes to sign the
transaction (each recomputes its digest and checks the permit itself) and returns the DER
signature; ``refresh`` re-shares a key set. The coordinator holds no share and is not trusted
for the controls: the permit is what every node checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Coordinator", "KeysetInfo"]


@dataclass(frozen=True)
class KeysetInfo:
    keyset_id: str
    public_key: bytes  # SEC1 compressed
    t: int
    n: int
    parties: tuple[str, ...]
    status: str = "active"
    meta: dict[str, Any] = field(default_factory=dict)


class Coordinator(Protocol):
    cluster_id: str

    def create_keyset(self, t: int, n: int, tenant: str, wallet_id: str) -> KeysetInfo: ...

    def sign_tx(
        self, keyset_id: str, tx: dict[str, Any], permit: dict[str, Any] | None
    ) -> bytes: ...

    def refresh(self, keyset_id: str) -> KeysetInfo: ...

    def keyset(self, keyset_id: str) -> KeysetInfo: ...
