"""The multi-party engine interface (DESIGN.md, "Engines"), beside the two-party one.

It mirrors cb-mpc's ``coinbase::api::ecdsa_mp`` (``include/cbmpc/api/ecdsa_mp.h``): a job names
every party of the key by a stable logical name, says which one this process is, and carries a
blocking transport that addresses parties by their index in that list and adds
``receive_all``. Keys are made under an explicit :class:`AccessStructure` (threshold t of n;
And/Or trees too): every party takes part in key generation and refresh, and ``quorum`` names the
parties that contribute fresh randomness; a signature needs only a quorum that satisfies the
access structure, and only the signature receiver gets it.

Only cb-mpc implements :class:`MpEngine` (:func:`mpcwallet.engine.get_mp_engine`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

from mpcwallet.errors import BadInput

# cb-mpc api/job_util.h validate_job_mp: 2..64 parties, names non-empty and distinct.
MIN_PARTIES = 2
MAX_PARTIES = 64
MAX_NAME_BYTES = 128  # ours: names are logical names (node ids), not free text


@runtime_checkable
class MpTransport(Protocol):
    """A blocking, ordered, reliable channel from this party to each other party.

    ``to`` and ``sender`` are indices into the job's party list. ``receive`` raises
    :class:`mpcwallet.errors.PeerTimeout` when nothing arrives within the transport's timeout,
    :class:`mpcwallet.errors.PeerUnreachable` when the session was cancelled or a peer is gone,
    and :class:`mpcwallet.errors.ProtocolViolation` for a message over the size bound.
    ``receive_all`` returns one message per sender, in the order given.

    The engine calls these from a protocol thread, one call at a time, with the GIL held only
    for the call. A transport must bound every wait (its timeout) and must let its owner cancel
    the session so that a pending receive returns at once (raising PeerUnreachable):
    :class:`mpcwallet.engine.memory_mp.MemoryNetwork` is the reference.
    """

    def send(self, to: int, data: bytes) -> None: ...

    def receive(self, sender: int) -> bytes: ...

    def receive_all(self, senders: Sequence[int]) -> list[bytes]: ...


def check_names(names: Sequence[str], what: str = "party_names") -> tuple[str, ...]:
    """``names`` as a tuple if they are 2..64 distinct, non-empty, printable; else BadInput."""
    out = tuple(names)
    if not MIN_PARTIES <= len(out) <= MAX_PARTIES:
        raise BadInput(f"{what} must name {MIN_PARTIES} to {MAX_PARTIES} parties", field=what)
    for name in out:
        _check_name(name, what)
    if len(set(out)) != len(out):
        raise BadInput(f"the names in {what} must be distinct", field=what)
    return out


def _check_name(name: object, what: str) -> None:
    if (
        not isinstance(name, str)
        or not name
        or not name.isprintable()
        or len(name.encode()) > MAX_NAME_BYTES
    ):
        raise BadInput(
            f"every name in {what} must be a non-empty printable string of at most "
            f"{MAX_NAME_BYTES} bytes",
            field=what,
        )


@dataclass(frozen=True)
class AccessStructure:
    """Who may sign: a tree of threshold / and / or nodes over party names (cb-mpc
    ``access_structure_t``). The root is never a leaf. Build with :meth:`threshold`,
    :meth:`all_of`, :meth:`any_of`; leaves are plain names."""

    kind: str  # "threshold" | "and" | "or"
    k: int
    children: tuple[AccessStructure | str, ...]

    @classmethod
    def threshold(cls, k: int, children: Iterable[AccessStructure | str]) -> AccessStructure:
        ch = tuple(children)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(ch):
            raise BadInput(
                f"the threshold must be an integer in 1..{len(ch)} (the number of children)",
                field="threshold",
            )
        return cls._checked("threshold", k, ch)

    @classmethod
    def all_of(cls, children: Iterable[AccessStructure | str]) -> AccessStructure:
        return cls._checked("and", 0, tuple(children))

    @classmethod
    def any_of(cls, children: Iterable[AccessStructure | str]) -> AccessStructure:
        return cls._checked("or", 0, tuple(children))

    @classmethod
    def _checked(cls, kind: str, k: int, ch: tuple[AccessStructure | str, ...]) -> AccessStructure:
        if not ch:
            raise BadInput("an access structure node needs children", field="access_structure")
        node = cls(kind, k, ch)
        leaves = node.leaves()
        for name in leaves:
            _check_name(name, "access_structure")
        if len(set(leaves)) != len(leaves):
            raise BadInput(
                "a party appears twice in the access structure", field="access_structure"
            )
        return node

    def leaves(self) -> list[str]:
        out: list[str] = []
        for c in self.children:
            out.extend([c] if isinstance(c, str) else c.leaves())
        return out

    def satisfied_by(self, names: Iterable[str]) -> bool:
        """Whether the parties ``names`` together form a quorum."""
        have = set(names)
        hits = sum(
            (c in have) if isinstance(c, str) else c.satisfied_by(have) for c in self.children
        )
        if self.kind == "and":
            return hits == len(self.children)
        if self.kind == "or":
            return hits >= 1
        return hits >= self.k

    def native(self) -> tuple[str, int, list[object]]:
        """The binding's form: ``(kind, k, children)``, leaves as str."""
        return (
            self.kind,
            self.k,
            [c if isinstance(c, str) else c.native() for c in self.children],
        )

    def describe(self) -> str:
        inner = ", ".join(c if isinstance(c, str) else c.describe() for c in self.children)
        if self.kind == "threshold":
            return f"{self.k}-of-{len(self.children)}({inner})"
        return f"{'all' if self.kind == 'and' else 'any'}-of({inner})"


def threshold(t: int, names: Sequence[str]) -> AccessStructure:
    """t of the parties ``names`` (the cluster's default: 2 of 3)."""
    return AccessStructure.threshold(t, check_names(names))


@dataclass(frozen=True)
class MpJob:
    """One party's view of one multi-party protocol run.

    ``party_names`` lists every party of the key in one order, identical on every side (the
    transport's indices are positions in it); ``index`` is this party's position. For a
    signature, ``quorum`` names the signing parties (they alone take part); for key generation
    and refresh every party takes part and ``quorum`` names those that contribute. Empty
    ``session_id`` lets cb-mpc agree a fresh one among the parties (one more round); otherwise
    it must be identical on every side and fresh per run.
    """

    party_names: tuple[str, ...]
    index: int
    access: AccessStructure
    quorum: tuple[str, ...]
    transport: MpTransport
    session_id: bytes = b""

    @property
    def my_name(self) -> str:
        return self.party_names[self.index]

    def __repr__(self) -> str:
        return (
            f"MpJob(party={self.my_name!r}, party_names={self.party_names!r}, "
            f"quorum={self.quorum!r}, access={self.access.describe()}, "
            f"session_id={self.session_id.hex()})"
        )


class MpEngine(Protocol):
    """Multi-party ECDSA over secp256k1 under an access structure.

    Key blobs are opaque, versioned bytes owned by the engine; they are secret and must never
    be logged. ``sign`` takes a 32-byte digest, runs among ``job.quorum`` only (this party must
    be in it), and returns the DER signature on ``receiver`` (a quorum name; verified against
    the public key, low-s) and ``None`` on the others. ``public_share`` is this party's share
    point; ``detach_private_scalar`` splits a blob into a public-only blob and the 32-byte scalar
    (for a PVE backup verified against ``public_share``), ``attach_private_scalar`` joins them
    again after checking the scalar against the share point.
    """

    name: ClassVar[str]
    protocol_version: ClassVar[int]

    def dkg(self, job: MpJob) -> bytes: ...

    def refresh(self, job: MpJob, blob: bytes) -> bytes: ...

    def sign(self, job: MpJob, blob: bytes, digest: bytes, receiver: str) -> bytes | None: ...

    def public_key(self, blob: bytes) -> bytes: ...

    def public_share(self, blob: bytes) -> bytes: ...

    def detach_private_scalar(self, blob: bytes) -> tuple[bytes, bytes]: ...

    def attach_private_scalar(
        self, public_blob: bytes, scalar: bytes, public_share: bytes
    ) -> bytes: ...
