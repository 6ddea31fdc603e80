"""Key refresh (cb-mpc ``ecdsa2pc::refresh``): new shares of the same Q and a fresh Paillier key.

Flights::

    P1 -> P2  RefreshMsg1: key fingerprint, commitment to rho1
    P2 -> P1  RefreshMsg2: key fingerprint, rho2
    P1 -> P2  RefreshMsg3: opening of rho1, PaillierGenMsg1 for the new key and x1'
    P2 -> P1  RefreshMsg4: kV
    P1 -> P2  RefreshMsg5: PaillierGenMsg3

delta = rho1 + rho2 mod q (commit-then-reveal coin toss bound to the session), x1' = x1 + delta,
x2' = x2 - delta, Q1' = Q1 + delta·G, Q2' = Q2 - delta·G. P1 makes a fresh Paillier key and
proves, as in keygen, that its modulus is valid and that c_key' encrypts log_G(Q1'). P2 checks
Q1' + Q2' = Q. The new blobs carry a new fingerprint, so an old share never signs with a new one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from coincurve import PublicKey

from mpcwallet.engine.portable import curve, paillier_gen
from mpcwallet.engine.portable.codec import Reader, Writer
from mpcwallet.engine.portable.keys import P1Key, P2Key
from mpcwallet.engine.portable.paillier import PaillierPrivate
from mpcwallet.engine.portable.params import Q
from mpcwallet.engine.portable.signing import _check_fingerprint
from mpcwallet.engine.portable.transcript import Session, check_opening, commit
from mpcwallet.errors import InvalidProof

# TAG3 and TAG5 carry the Paillier proofs; 0x33 and 0x35 were their binary-challenge PDL form.
TAG1, TAG2, TAG3, TAG4, TAG5 = 0x31, 0x32, 0x36, 0x34, 0x37
STEP = "refresh"


@dataclass(frozen=True)
class RefreshMsg1:
    fingerprint: bytes
    com: bytes


@dataclass(frozen=True)
class RefreshMsg2:
    fingerprint: bytes
    rho2: int


@dataclass(frozen=True)
class RefreshMsg3:
    rho1: int
    com_rand: bytes
    paillier: paillier_gen.PaillierGenMsg1


@dataclass(frozen=True)
class RefreshMsg4:
    kv: bytes


@dataclass(frozen=True)
class RefreshMsg5:
    paillier: paillier_gen.PaillierGenMsg3


def encode1(m: RefreshMsg1) -> bytes:
    return Writer(TAG1).raw(m.fingerprint).raw(m.com).getvalue()


def decode1(data: bytes) -> RefreshMsg1:
    r = Reader(data, TAG1, "refresh message 1")
    m = RefreshMsg1(r.raw("fingerprint", 32, exact=32), r.raw("com", 32, exact=32))
    r.done()
    return m


def encode2(m: RefreshMsg2) -> bytes:
    return Writer(TAG2).raw(m.fingerprint).num(m.rho2).getvalue()


def decode2(data: bytes) -> RefreshMsg2:
    r = Reader(data, TAG2, "refresh message 2")
    m = RefreshMsg2(r.raw("fingerprint", 32, exact=32), r.scalar("rho2"))
    r.done()
    return m


def encode3(m: RefreshMsg3) -> bytes:
    w = Writer(TAG3).num(m.rho1).raw(m.com_rand)
    paillier_gen.write_msg1(w, m.paillier)
    return w.getvalue()


def decode3(data: bytes) -> RefreshMsg3:
    r = Reader(data, TAG3, "refresh message 3")
    rho1 = r.scalar("rho1")
    rand = r.raw("com_rand", 32, exact=32)
    m = RefreshMsg3(rho1, rand, paillier_gen.read_msg1(r))
    r.done()
    return m


def encode4(m: RefreshMsg4) -> bytes:
    return Writer(TAG4).raw(m.kv).getvalue()


def decode4(data: bytes) -> RefreshMsg4:
    r = Reader(data, TAG4, "refresh message 4")
    m = RefreshMsg4(r.raw("kV", 32, exact=32))
    r.done()
    return m


def encode5(m: RefreshMsg5) -> bytes:
    w = Writer(TAG5)
    paillier_gen.write_msg3(w, m.paillier)
    return w.getvalue()


def decode5(data: bytes) -> RefreshMsg5:
    r = Reader(data, TAG5, "refresh message 5")
    m = RefreshMsg5(paillier_gen.read_msg3(r))
    r.done()
    return m


def _rho_bytes(rho: int) -> bytes:
    return rho.to_bytes(32, "big")


def _shares(delta: int, Q1: PublicKey) -> PublicKey:
    if delta == 0:
        return Q1
    Q1_new = curve.add(Q1, curve.mul_g(delta))
    if Q1_new is None:
        raise InvalidProof("the refresh coin toss cancels P1's share")
    return Q1_new


class RefreshP1:
    def __init__(
        self, session: Session, key: P1Key, paillier: PaillierPrivate | None = None
    ) -> None:
        self.session = session
        self.key = key
        self._paillier = paillier
        self._rho1 = curve.random_scalar()
        self._com, self._rand = commit(
            session, session.names[0], STEP + "/rho1", _rho_bytes(self._rho1)
        )
        self._pg: paillier_gen.PaillierGenProver | None = None
        self._x1_new = 0
        self._Q1_new: PublicKey | None = None

    def msg1(self) -> RefreshMsg1:
        return RefreshMsg1(self.key.fingerprint, self._com)

    def on_msg2(self, m: RefreshMsg2) -> RefreshMsg3:
        _check_fingerprint(self.key.fingerprint, m.fingerprint)
        delta = (self._rho1 + m.rho2) % Q
        self._x1_new = (self.key.x1 + delta) % Q
        if self._x1_new == 0:
            raise InvalidProof("the refresh coin toss makes P1's share zero")
        self._Q1_new = _shares(delta, self.key.Q1)
        self._pg = paillier_gen.PaillierGenProver(self.session, STEP, self._x1_new, self._paillier)
        return RefreshMsg3(self._rho1, self._rand, self._pg.msg1())

    def on_msg4(self, m: RefreshMsg4) -> RefreshMsg5:
        assert self._pg is not None and self._Q1_new is not None
        return RefreshMsg5(self._pg.msg3(m.kv, self._Q1_new))

    def new_key(self) -> P1Key:
        assert self._pg is not None and self._Q1_new is not None
        k = self.key
        return P1Key(
            self._x1_new, self._pg.paillier, self._pg.c_key, k.Q, self._Q1_new, k.generation + 1
        )

    def __repr__(self) -> str:
        return "RefreshP1(<secret>)"


class RefreshP2:
    def __init__(self, session: Session, key: P2Key) -> None:
        self.session = session
        self.key = key
        self._rho2 = curve.random_scalar()
        self._kv = secrets.token_bytes(32)
        self._m1: RefreshMsg1 | None = None
        self._m3: RefreshMsg3 | None = None
        self._x2_new = 0
        self._Q1_new: PublicKey | None = None

    def on_msg1(self, m: RefreshMsg1) -> RefreshMsg2:
        _check_fingerprint(self.key.fingerprint, m.fingerprint)
        self._m1 = m
        return RefreshMsg2(self.key.fingerprint, self._rho2)

    def on_msg3(self, m: RefreshMsg3) -> RefreshMsg4:
        assert self._m1 is not None
        s = self.session
        check_opening(s, s.names[0], STEP + "/rho1", self._m1.com, m.com_rand, _rho_bytes(m.rho1))
        paillier_gen.check_msg1(m.paillier)
        delta = (m.rho1 + self._rho2) % Q
        self._x2_new = (self.key.x2 - delta) % Q
        if self._x2_new == 0:
            raise InvalidProof("the refresh coin toss makes P2's share zero")
        self._Q1_new = _shares(delta, self.key.Q1)
        self._m3 = m
        return RefreshMsg4(self._kv)

    def on_msg5(self, m: RefreshMsg5) -> P2Key:
        assert self._m3 is not None and self._Q1_new is not None
        paillier_gen.verify(
            self.session, STEP, self._Q1_new, self._m3.paillier, self._kv, m.paillier
        )
        Q2_new = curve.mul_g(self._x2_new)
        if not curve.equal(curve.add(self._Q1_new, Q2_new), self.key.Q):
            raise InvalidProof("the refreshed shares do not add up to the public key")
        p = self._m3.paillier
        return P2Key(self._x2_new, p.n, p.c_key, self.key.Q, self._Q1_new, self.key.generation + 1)

    def __repr__(self) -> str:
        return "RefreshP2(<secret>)"
