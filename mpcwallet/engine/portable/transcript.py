"""Fiat-Shamir transcripts and hash commitments (SHA-256 / SHAKE-256 from hashlib).

Every challenge hashes a domain label, the protocol step, the session id and both party names
(Lindell 2017 §2 / cb-mpc binds ``sid`` and the prover's ``pid`` into each ``ro::hash``), then
every statement and first message of the proof, each length-prefixed so that no two different
transcripts share an encoding.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from mpcwallet.engine.portable.params import Q
from mpcwallet.errors import InvalidProof

DOMAIN = b"mpcwallet/portable/v1"


@dataclass(frozen=True)
class Session:
    """What binds a run: session id and (P1's name, P2's name)."""

    sid: bytes
    names: tuple[str, str]

    def transcript(self, step: str) -> Transcript:
        return Transcript(self, step)


class Transcript:
    def __init__(self, session: Session, step: str) -> None:
        self._h = hashlib.sha256()
        for part in (
            DOMAIN,
            step.encode(),
            session.sid,
            session.names[0].encode(),
            session.names[1].encode(),
        ):
            self._absorb(part)

    def _absorb(self, data: bytes) -> None:
        self._h.update(len(data).to_bytes(4, "big"))
        self._h.update(data)

    def add(self, label: str, data: bytes) -> Transcript:
        self._absorb(label.encode())
        self._absorb(data)
        return self

    def add_int(self, label: str, value: int) -> Transcript:
        return self.add(label, value.to_bytes((value.bit_length() + 7) // 8, "big"))

    def copy(self) -> Transcript:
        new = Transcript.__new__(Transcript)
        new._h = self._h.copy()
        return new

    def digest(self, label: str) -> bytes:
        h = self._h.copy()
        h.update(b"\x00challenge:" + label.encode())
        return h.digest()

    def scalar(self, label: str) -> int:
        """A challenge in Z_q (bias below 2^-128 since q > 2^256 - 2^129)."""
        return int.from_bytes(self.digest(label), "big") % Q

    def stream(self, label: str, nbytes: int) -> bytes:
        """``nbytes`` pseudo-random bytes: SHAKE-256 keyed by the transcript digest."""
        return hashlib.shake_256(self.digest(label)).digest(nbytes)

    def ints_below(self, label: str, bound: int, count: int) -> list[int]:
        """``count`` values in [0, bound), each from bound.bit_length() + 128 bits."""
        width = (bound.bit_length() + 128 + 7) // 8
        data = self.stream(label, width * count)
        return [
            int.from_bytes(data[i * width : (i + 1) * width], "big") % bound for i in range(count)
        ]


def commit(session: Session, party: str, label: str, message: bytes) -> tuple[bytes, bytes]:
    """Hash commitment (cb-mpc ``crypto::commitment_t``: H(sid, pid, rand, msg)): (com, rand)."""
    rand = secrets.token_bytes(32)
    return _com(session, party, label, rand, message), rand


def check_opening(
    session: Session, party: str, label: str, com: bytes, rand: bytes, message: bytes
) -> None:
    if not hmac.compare_digest(com, _com(session, party, label, rand, message)):
        raise InvalidProof(f"{label}: the commitment does not open to the values sent")


def _com(session: Session, party: str, label: str, rand: bytes, message: bytes) -> bytes:
    t = session.transcript("commit/" + label).add("party", party.encode()).add("rand", rand)
    return t.add("message", message).digest("commitment")
