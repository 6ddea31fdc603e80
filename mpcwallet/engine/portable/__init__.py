"""The portable engine: pure-Python two-party ECDSA (Lindell 2017, as cb-mpc's ECDSA-2PC).

Not constant-time as a whole (see the README); its modular exponentiations with secret exponents
or moduli use GMP's ``mpz_powm_sec`` (:mod:`modexp`). cb-mpc is the engine for production keys.
Each protocol is a pair of round classes over message dataclasses (``keygen``, ``signing``,
``refresh``); this module only drives them over a :class:`~mpcwallet.engine.base.Transport`,
decoding every received message with its bounded codec before any round function sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar

from mpcwallet.engine.base import Job, Role
from mpcwallet.engine.portable import keygen, keys, presign, refresh, signing
from mpcwallet.engine.portable.transcript import Session
from mpcwallet.errors import BadInput

M = TypeVar("M")

__all__ = ["PortableEngine"]


def _session(job: Job) -> Session:
    if not job.session_id:
        raise BadInput("the session id must not be empty", field="session_id")
    return Session(bytes(job.session_id), job.party_names)


def _recv(job: Job, decode: Callable[[bytes], M]) -> M:
    return decode(job.transport.receive())


class PortableEngine:
    name: ClassVar[str] = "portable"
    protocol_version: ClassVar[int] = 1

    def dkg(self, job: Job) -> bytes:
        s = _session(job)
        t = job.transport
        if job.role is Role.P1:
            p1 = keygen.KeygenP1(s)
            t.send(keygen.encode1(p1.msg1()))
            t.send(keygen.encode3(p1.on_msg2(_recv(job, keygen.decode2))))
            return keys.encode_p1(p1.key())
        p2 = keygen.KeygenP2(s)
        t.send(keygen.encode2(p2.on_msg1(_recv(job, keygen.decode1))))
        return keys.encode_p2(p2.on_msg3(_recv(job, keygen.decode3)))

    def refresh(self, job: Job, blob: bytes) -> bytes:
        s = _session(job)
        t = job.transport
        if job.role is Role.P1:
            p1 = refresh.RefreshP1(s, keys.decode_p1(blob))
            t.send(refresh.encode1(p1.msg1()))
            t.send(refresh.encode3(p1.on_msg2(_recv(job, refresh.decode2))))
            t.send(refresh.encode5(p1.on_msg4(_recv(job, refresh.decode4))))
            return keys.encode_p1(p1.new_key())
        old = keys.decode_p2(blob)
        p2 = refresh.RefreshP2(s, old)
        t.send(refresh.encode2(p2.on_msg1(_recv(job, refresh.decode1))))
        t.send(refresh.encode4(p2.on_msg3(_recv(job, refresh.decode3))))
        new = p2.on_msg5(_recv(job, refresh.decode5))
        presign.POOL.drop(old.n)  # elements for the old Paillier modulus are useless now
        return keys.encode_p2(new)

    def sign(self, job: Job, blob: bytes, digest: bytes) -> bytes | None:
        s = _session(job)
        t = job.transport
        if job.role is Role.P1:
            p1 = signing.SignP1(s, keys.decode_p1(blob), digest)
            t.send(signing.encode1(p1.msg1()))
            t.send(signing.encode3(p1.on_msg2(_recv(job, signing.decode2))))
            return p1.on_msg4(_recv(job, signing.decode4))
        key2 = keys.decode_p2(blob)
        # a warm pool element if there is one (removed from the pool, never reused)
        p2 = signing.SignP2(s, key2, digest, presign.POOL.take(key2.n))
        t.send(signing.encode2(p2.on_msg1(_recv(job, signing.decode1))))
        t.send(signing.encode4(p2.on_msg3(_recv(job, signing.decode3))))
        return None

    def presign(self, blob: bytes, count: int | None = None) -> int:
        """Fill this process's in-memory presign pool for P2's key ``blob`` (idle-time work;
        see :mod:`presign`). Returns how many elements were added."""
        key = keys.decode_p2(blob)
        return presign.POOL.fill(key.n, count)

    def public_key(self, blob: bytes) -> bytes:
        return keys.public_key(blob)

    def __repr__(self) -> str:
        return "PortableEngine()"
