"""What every WaaS use case shares: the store, the coordinator port, KYT, the policy, the permit
issuer, the fee settings, and the principal making the call (with its role checks)."""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from mpcwallet.cosigner.policy import Policy
from mpcwallet.store import Store
from mpcwallet.store.waas_records import Principal
from mpcwallet.waas.errors import Forbidden
from mpcwallet.waas.kyt import DenyListKyt, KytAdapter
from mpcwallet.waas.permit import PermitIssuer
from mpcwallet.waas.ports import Coordinator

__all__ = ["ROLES", "Service", "Settings", "hash_api_key", "new_api_key", "require"]

ROLES = ("requester", "approver", "admin")
API_KEY_PREFIX = "mpcw_"


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """What the store keeps: SHA-256 of the key (a 256-bit random key needs no slow hash)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def roles_of(principal: Principal) -> set[str]:
    return set(principal.role.split(","))


def require(principal: Principal, *roles: str) -> None:
    if not roles_of(principal) & set(roles):
        raise Forbidden(
            f"this call needs the {' or '.join(roles)} role; principal {principal.name} is a "
            f"{principal.role}: use an API key of a principal with that role",
            field="Authorization",
        )


def add_principal(
    store: Store, tenant: str, name: str, role: str, approver_key: str | None = None
) -> tuple[Principal, str]:
    """A new principal and its API key (shown once; the store keeps only its hash). ``role``
    is one role or several, comma-separated (a requester may also approve others' requests)."""
    from mpcwallet.cosigner.permits import check_public_key
    from mpcwallet.errors import BadInput

    roles = sorted({r.strip() for r in role.split(",")})
    if not roles or not set(roles) <= set(ROLES):
        raise BadInput(
            f"role must be one or more of {', '.join(ROLES)} (comma-separated)", field="role"
        )
    role = ",".join(roles)
    if "approver" in roles:
        if approver_key is None:
            raise BadInput(
                "an approver needs its Ed25519 public key (64 hex)", field="approver_key"
            )
        approver_key = check_public_key(approver_key)
    elif approver_key is not None:
        raise BadInput("only approvers have an approver key", field="approver_key")
    key = new_api_key()
    principal = store.add_principal(
        new_id("pr"), tenant, name, role, hash_api_key(key), approver_key
    )
    return principal, key


@dataclass(frozen=True)
class Settings:
    chain_id: int = 11155111
    max_fee_per_gas: int = 30 * 10**9
    max_priority_fee_per_gas: int = 10**9
    gas_transfer: int = 21_000
    gas_call: int = 100_000
    dev_mode: bool = False  # DEV_SIGNER wallets allowed (never for MPC_TECDSA wallets)
    default_t: int = 2
    default_n: int = 3


@dataclass
class Service:
    store: Store
    coordinator: Coordinator
    issuer: PermitIssuer
    policy: Policy = field(default_factory=Policy.empty)
    kyt: KytAdapter = field(default_factory=DenyListKyt)
    settings: Settings = field(default_factory=Settings)
    chain: Any = None  # a mpcwallet.waas.chainlink.ChainLink when an RPC URL is configured
    dev_keys: dict[str, bytes] = field(default_factory=dict, repr=False)  # dev mode, memory only
    _sign_locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _locks_guard: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def sign_lock(self, wallet_id: str) -> threading.Lock:
        """One signature in flight per wallet (and so per nonce sequence) in this process."""
        with self._locks_guard:
            return self._sign_locks.setdefault(wallet_id, threading.Lock())

    def authenticate(self, api_key: str) -> Principal | None:
        return self.store.principal_by_key_hash(hash_api_key(api_key))

    def add_principal(
        self, tenant: str, name: str, role: str, approver_key: str | None = None
    ) -> tuple[Principal, str]:
        return add_principal(self.store, tenant, name, role, approver_key)

    def audit_fields(self, **fields: Any) -> dict[str, Any]:
        return {k: v for k, v in fields.items() if v is not None}
