"""Two-party key generation (Lindell 2017 Protocol 3.2 with additive shares, as cb-mpc
``ecdsa2pc::dkg``: ``eckey::dkg_2p_t`` for Q = Q1 + Q2 and ``paillier_gen_interactive_t``).

Flights::

    P1 -> P2  KeygenMsg1: commitment to (Q1, proof of x1), PaillierGenMsg1
    P2 -> P1  KeygenMsg2: Q2, proof of x2, kV (P2's challenge seed)
    P1 -> P2  KeygenMsg3: opening (Q1, proof of x1), PaillierGenMsg3

P1 commits to Q1 before it sees Q2, so it cannot choose Q1 as a function of Q2. P2 checks
every value and proof before it returns a key.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from coincurve import PublicKey

from mpcwallet.engine.portable import curve, paillier_gen, zk
from mpcwallet.engine.portable.codec import Reader, Writer
from mpcwallet.engine.portable.keys import P1Key, P2Key
from mpcwallet.engine.portable.paillier import PaillierPrivate
from mpcwallet.engine.portable.transcript import Session, Transcript, check_opening, commit
from mpcwallet.errors import InvalidProof

# 0x01-0x03 were the flights of the binary-challenge PDL proof (before the cb-mpc range proofs):
# a peer of that version now fails at the first message with "unexpected message type".
TAG1, TAG2, TAG3 = 0x04, 0x05, 0x06
STEP = "keygen"


@dataclass(frozen=True)
class KeygenMsg1:
    com: bytes
    paillier: paillier_gen.PaillierGenMsg1


@dataclass(frozen=True)
class KeygenMsg2:
    Q2: PublicKey
    pi2: zk.DLProof
    kv: bytes


@dataclass(frozen=True)
class KeygenMsg3:
    Q1: PublicKey
    pi1: zk.DLProof
    com_rand: bytes
    paillier: paillier_gen.PaillierGenMsg3


def _q1_opening(Q1: PublicKey, pi1: zk.DLProof) -> bytes:
    return Writer(0).point(Q1).point(pi1.A).num(pi1.z).getvalue()


def encode1(m: KeygenMsg1) -> bytes:
    w = Writer(TAG1).raw(m.com)
    paillier_gen.write_msg1(w, m.paillier)
    return w.getvalue()


def decode1(data: bytes) -> KeygenMsg1:
    r = Reader(data, TAG1, "keygen message 1")
    com = r.raw("com", 32, exact=32)
    m = KeygenMsg1(com, paillier_gen.read_msg1(r))
    r.done()
    return m


def encode2(m: KeygenMsg2) -> bytes:
    return Writer(TAG2).point(m.Q2).point(m.pi2.A).num(m.pi2.z).raw(m.kv).getvalue()


def decode2(data: bytes) -> KeygenMsg2:
    r = Reader(data, TAG2, "keygen message 2")
    m = KeygenMsg2(
        r.point("Q2"), zk.DLProof(r.point("pi2.A"), r.num("pi2.z", 256)), r.raw("kV", 32, exact=32)
    )
    r.done()
    return m


def encode3(m: KeygenMsg3) -> bytes:
    w = Writer(TAG3).point(m.Q1).point(m.pi1.A).num(m.pi1.z).raw(m.com_rand)
    paillier_gen.write_msg3(w, m.paillier)
    return w.getvalue()


def decode3(data: bytes) -> KeygenMsg3:
    r = Reader(data, TAG3, "keygen message 3")
    Q1 = r.point("Q1")
    pi1 = zk.DLProof(r.point("pi1.A"), r.num("pi1.z", 256))
    rand = r.raw("com_rand", 32, exact=32)
    m = KeygenMsg3(Q1, pi1, rand, paillier_gen.read_msg3(r))
    r.done()
    return m


def _dl_transcript(session: Session, step: str, party: int) -> Transcript:
    return session.transcript(f"{step}/dl/P{party}")


class KeygenP1:
    def __init__(self, session: Session, paillier: PaillierPrivate | None = None) -> None:
        self.session = session
        self._x1 = curve.random_scalar()
        self.Q1 = curve.mul_g(self._x1)
        self._pi1 = self.prove_share()
        self._com, self._rand = commit(
            session, session.names[0], STEP + "/Q1", _q1_opening(self.Q1, self._pi1)
        )
        self._pg = self.make_prover(paillier)
        self._key: P1Key | None = None

    def prove_share(self) -> zk.DLProof:
        """The proof of knowledge of x1 (a test subclass plays a cheating P1 by overriding it)."""
        return zk.dl_prove(_dl_transcript(self.session, STEP, 1), self.Q1, self._x1)

    def make_prover(self, paillier: PaillierPrivate | None) -> paillier_gen.PaillierGenProver:
        return paillier_gen.PaillierGenProver(self.session, STEP, self._x1, paillier)

    def msg1(self) -> KeygenMsg1:
        return KeygenMsg1(self._com, self._pg.msg1())

    def on_msg2(self, m: KeygenMsg2) -> KeygenMsg3:
        zk.dl_verify(_dl_transcript(self.session, STEP, 2), m.Q2, m.pi2, "P2's key share")
        Q = curve.add(self.Q1, m.Q2)
        if Q is None:
            raise InvalidProof("P2's key share cancels P1's (Q is the point at infinity)")
        self._key = P1Key(self._x1, self._pg.paillier, self._pg.c_key, Q, self.Q1, 0)
        return KeygenMsg3(self.Q1, self._pi1, self._rand, self._pg.msg3(m.kv, self.Q1))

    def key(self) -> P1Key:
        assert self._key is not None
        return self._key

    def __repr__(self) -> str:
        return "KeygenP1(<secret>)"


class KeygenP2:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._x2 = curve.random_scalar()
        self.Q2 = curve.mul_g(self._x2)
        self._kv = secrets.token_bytes(32)
        self._m1: KeygenMsg1 | None = None

    def on_msg1(self, m: KeygenMsg1) -> KeygenMsg2:
        paillier_gen.check_msg1(m.paillier)
        self._m1 = m
        pi2 = zk.dl_prove(_dl_transcript(self.session, STEP, 2), self.Q2, self._x2)
        return KeygenMsg2(self.Q2, pi2, self._kv)

    def on_msg3(self, m: KeygenMsg3) -> P2Key:
        assert self._m1 is not None
        s = self.session
        check_opening(
            s, s.names[0], STEP + "/Q1", self._m1.com, m.com_rand, _q1_opening(m.Q1, m.pi1)
        )
        zk.dl_verify(_dl_transcript(s, STEP, 1), m.Q1, m.pi1, "P1's key share")
        Q = curve.add(m.Q1, self.Q2)
        if Q is None:
            raise InvalidProof("P1's key share cancels P2's (Q is the point at infinity)")
        paillier_gen.verify(s, STEP, m.Q1, self._m1.paillier, self._kv, m.paillier)
        p = self._m1.paillier
        return P2Key(self._x2, p.n, p.c_key, Q, m.Q1, 0)

    def __repr__(self) -> str:
        return "KeygenP2(<secret>)"
