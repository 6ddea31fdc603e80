"""The portable engine: pure-Python two-party ECDSA (Lindell 2017, as cb-mpc's ECDSA-2PC).

Not constant-time as a whole (docs/engines.md); its modular exponentiations with secret exponents
or moduli use GMP's ``mpz_powm_sec`` (:mod:`modexp`). cb-mpc is the engine for production keys.
Each protocol is a pair of round classes over message dataclasses (``keygen``, ``signing``,
``refresh``); this module only drives them over a :class:`~mpcwallet.engine.base.Transport`,
decoding every received message with its bounded codec before any round function sees it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import ClassVar, TypeVar

from mpcwallet.engine import derive
from mpcwallet.engine.base import Job, Role
from mpcwallet.engine.portable import hd, keygen, keys, presign, refresh, signing
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
    # 2: P1 sends the verified signature to P2 as a last message (issue 20.9), as on cb-mpc.
    protocol_version: ClassVar[int] = 2

    def dkg(self, job: Job) -> bytes:
        s = _session(job)
        t = job.transport
        if job.role is Role.P1:
            p1 = keygen.KeygenP1(s)
            t.send(keygen.encode1(p1.msg1()))
            t.send(keygen.encode3(p1.on_msg2(_recv(job, keygen.decode2))))
            # the chain code's coin toss (hd.py), after keygen's own flights
            c1 = hd.ChainCodeP1(s)
            t.send(hd.encode1(c1.msg1()))
            t.send(hd.encode3(c1.on_msg2(_recv(job, hd.decode2))))
            assert c1.chain_code is not None
            return keys.encode_p1(dataclasses.replace(p1.key(), chain_code=c1.chain_code))
        p2 = keygen.KeygenP2(s)
        t.send(keygen.encode2(p2.on_msg1(_recv(job, keygen.decode1))))
        key2 = p2.on_msg3(_recv(job, keygen.decode3))
        c2 = hd.ChainCodeP2(s)
        t.send(hd.encode2(c2.on_msg1(_recv(job, hd.decode1))))
        chain_code = c2.on_msg3(_recv(job, hd.decode3))
        return keys.encode_p2(dataclasses.replace(key2, chain_code=chain_code))

    def refresh(self, job: Job, blob: bytes) -> bytes:
        s = _session(job)
        t = job.transport
        if job.role is Role.P1:
            p1 = refresh.RefreshP1(s, keys.decode_p1(blob))
            t.send(refresh.encode1(p1.msg1()))
            t.send(refresh.encode3(p1.on_msg2(_recv(job, refresh.decode2))))
            t.send(refresh.encode5(p1.on_msg4(_recv(job, refresh.decode4))))
            # Refresh moves the shares, not Q: the chain code (and so every account) stays.
            new1 = dataclasses.replace(p1.new_key(), chain_code=p1.key.chain_code)
            return keys.encode_p1(new1)
        old = keys.decode_p2(blob)
        p2 = refresh.RefreshP2(s, old)
        t.send(refresh.encode2(p2.on_msg1(_recv(job, refresh.decode1))))
        t.send(refresh.encode4(p2.on_msg3(_recv(job, refresh.decode3))))
        new = p2.on_msg5(_recv(job, refresh.decode5))
        presign.POOL.drop(old.n)  # elements for the old Paillier modulus are useless now
        return keys.encode_p2(dataclasses.replace(new, chain_code=old.chain_code))

    def sign(self, job: Job, blob: bytes, digest: bytes, account: int = 0) -> bytes | None:
        s = _session(job)
        t = job.transport
        if job.role is Role.P1:
            p1 = signing.SignP1(s, hd.derive_p1(keys.decode_p1(blob), account), digest)
            t.send(signing.encode1(p1.msg1()))
            t.send(signing.encode3(p1.on_msg2(_recv(job, signing.decode2))))
            der = p1.on_msg4(_recv(job, signing.decode4))  # verified against Q before release
            # The outcome for P2, as the cb-mpc engine does (cbmpc.py, after ecdsa_2p_sign): the
            # signature only once it verified; a rejection aborts the session instead.
            t.send(der)
            return der
        # the account's key: x2 + tweak, same Paillier modulus (hd.py), so the pool applies
        key2 = hd.derive_p2(keys.decode_p2(blob), account)
        # a warm pool element if there is one (removed from the pool, never reused)
        p2 = signing.SignP2(s, key2, digest, presign.POOL.take(key2.n))
        t.send(signing.encode2(p2.on_msg1(_recv(job, signing.decode1))))
        t.send(signing.encode4(p2.on_msg3(_recv(job, signing.decode3))))
        # P2 learns the outcome from P1: the signature, which it checks itself, or an abort.
        signing.check_confirmation(key2.Q, job.transport.receive(), digest)
        return None

    def presign(self, blob: bytes, count: int | None = None) -> int:
        """Fill this process's in-memory presign pool for P2's key ``blob`` (idle-time work;
        see :mod:`presign`). Returns how many elements were added."""
        return self.presign_fill(self.presign_handle(blob), count)

    # The co-signer's idle-time filling (mpcwallet.cosigner.presigner) keeps only the handle:
    # P1's Paillier modulus N, public, so no share stays decrypted between signatures.
    def presign_handle(self, blob: bytes) -> int:
        return keys.decode_p2(blob).n

    def presign_fill(self, handle: int, count: int | None = None) -> int:
        return presign.POOL.fill(handle, count)

    def presign_wanted(self, handle: int) -> bool:
        return presign.POOL.size(handle) < presign.POOL.capacity

    def presign_stats(self) -> dict[str, int]:
        return {"held": presign.POOL.held(), "used": presign.POOL.used}

    def public_key(self, blob: bytes) -> bytes:
        return keys.public_key(blob)

    def account_public_key(self, blob: bytes, account: int) -> bytes:
        root, chain_code = keys.public_parts(blob)
        return derive.account_public_key(root, chain_code, account)

    def chain_code(self, blob: bytes) -> bytes | None:
        return keys.public_parts(blob)[1]

    def __repr__(self) -> str:
        return "PortableEngine()"
