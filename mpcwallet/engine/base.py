"""The engine interface both engines implement (DESIGN.md, "Engines").

It mirrors cb-mpc's public API, ``coinbase::api::ecdsa_2p`` with its blocking
``data_transport_i`` (``send``/``receive``), so the cb-mpc adapter stays thin.
P1 is the client and is the only party that receives the signature; P2 is the co-signer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

# Upper bound on one protocol message. cb-mpc's largest dkg flight is ~38 KB; ours is of the
# same order. Anything larger is refused by the transports before it is parsed.
MAX_MESSAGE_BYTES = 1 << 20


# BIP-32: child indices >= 2^31 are hardened; accounts are the non-hardened ones.
MAX_ACCOUNT = (1 << 31) - 1


def check_account(account: object) -> int:
    """``account`` if it is an account index (an int in 0..2^31-1), else BadInput."""
    from mpcwallet.errors import BadInput

    if isinstance(account, bool) or not isinstance(account, int) or not 0 <= account <= MAX_ACCOUNT:
        raise BadInput(f"the account must be an integer in 0..{MAX_ACCOUNT}", field="account")
    return account


class Role(enum.IntEnum):
    P1 = 1  # client: holds x1 and the Paillier key, receives the signature
    P2 = 2  # co-signer: holds x2 and c_key = Enc(x1)


@runtime_checkable
class Transport(Protocol):
    """A blocking, ordered, reliable channel to the other party.

    ``receive`` raises :class:`mpcwallet.errors.PeerTimeout` when nothing arrives within the
    transport's timeout, and :class:`mpcwallet.errors.PeerUnreachable` when the peer is gone.
    Both raise :class:`mpcwallet.errors.ProtocolViolation` for a message over the size bound.
    """

    def send(self, data: bytes) -> None: ...

    def receive(self) -> bytes: ...


@dataclass(frozen=True)
class Job:
    """One party's view of one protocol run."""

    role: Role
    party_names: tuple[str, str]  # (P1's name, P2's name), identical on both sides
    session_id: bytes  # identical on both sides, fresh per run
    transport: Transport

    @property
    def my_name(self) -> str:
        return self.party_names[self.role - 1]

    @property
    def peer_name(self) -> str:
        return self.party_names[2 - self.role]

    def __repr__(self) -> str:
        return (
            f"Job(role={self.role.name}, party_names={self.party_names!r}, "
            f"session_id={self.session_id.hex()})"
        )


class Engine(Protocol):
    """Two-party ECDSA over secp256k1.

    Key blobs are opaque, versioned bytes owned by the engine that made them; they are
    secret and must never be logged. ``sign`` takes a 32-byte digest and returns a DER
    signature on P1 (already verified against the public key, low-s) and ``None`` on P2.

    Accounts: a key made by ``dkg`` is a key set (root public key + chain code); account ``i``
    (0 <= i < 2^31) derives from it deterministically and identically on both sides, with no
    protocol run (:mod:`mpcwallet.engine.derive`: account 0 is the root, i >= 1 BIP-32
    CKDpub). ``public_key`` is the root key; ``account_public_key`` the key of one account;
    ``sign`` signs with the account's key. ``chain_code`` is None for a key made before
    accounts existed (or by an engine without them): it has account 0 only and raises
    :class:`~mpcwallet.errors.AccountUnavailable` for any other.
    """

    name: ClassVar[str]
    protocol_version: ClassVar[int]

    def dkg(self, job: Job) -> bytes: ...

    def refresh(self, job: Job, blob: bytes) -> bytes: ...

    def sign(self, job: Job, blob: bytes, digest: bytes, account: int = 0) -> bytes | None: ...

    def public_key(self, blob: bytes) -> bytes: ...

    def account_public_key(self, blob: bytes, account: int) -> bytes: ...

    def chain_code(self, blob: bytes) -> bytes | None: ...
