"""P1's Paillier key, c_key = Enc(x1) and the proofs P2 checks (cb-mpc
``ecdsa2pc::paillier_gen_interactive_t``; Lindell 2017 Protocol 3.2 steps 3-4 with the §6
proofs). Used by keygen and by refresh (against the refreshed Q1).

Flights: P1 -> P2 :class:`PaillierGenMsg1` (N, c_key, PDL commitments); P2 -> P1 a random
``kV``; P1 -> P2 :class:`PaillierGenMsg3` (N-th roots, PDL responses).
"""

from __future__ import annotations

from dataclasses import dataclass

from coincurve import PublicKey

from mpcwallet.engine.portable import zk
from mpcwallet.engine.portable.codec import Reader, Writer
from mpcwallet.engine.portable.paillier import (
    PaillierPrivate,
    PaillierPublic,
    check_modulus,
    random_unit,
)
from mpcwallet.engine.portable.params import (
    PAILLIER_BITS,
    PDL_BOUND,
    PDL_REPS,
    VALID_PAILLIER_ROOTS,
)
from mpcwallet.engine.portable.transcript import Session


@dataclass(frozen=True)
class PaillierGenMsg1:
    n: int
    c_key: int
    pdl: zk.PDLCommit


@dataclass(frozen=True)
class PaillierGenMsg3:
    sigmas: list[int]
    pdl: zk.PDLResponse


def write_msg1(w: Writer, m: PaillierGenMsg1) -> None:
    w.num(m.n).num(m.c_key).ints(m.pdl.A).points(m.pdl.R)


def read_msg1(r: Reader) -> PaillierGenMsg1:
    n = r.num("N", PAILLIER_BITS)
    c_key = r.num("c_key", 2 * PAILLIER_BITS)
    A = r.ints("pdl_A", PDL_REPS, 2 * PAILLIER_BITS)
    R = r.points("pdl_R", PDL_REPS)
    return PaillierGenMsg1(n, c_key, zk.PDLCommit(A, R))


def write_msg3(w: Writer, m: PaillierGenMsg3) -> None:
    w.ints(m.sigmas).ints(m.pdl.z).ints(m.pdl.t)


def read_msg3(r: Reader) -> PaillierGenMsg3:
    sigmas = r.ints("sigma", VALID_PAILLIER_ROOTS, PAILLIER_BITS)
    z = r.ints("pdl_z", PDL_REPS, PDL_BOUND.bit_length())
    t = r.ints("pdl_t", PDL_REPS, PAILLIER_BITS)
    return PaillierGenMsg3(sigmas, zk.PDLResponse(z, t))


class PaillierGenProver:
    """P1's side. Holds x1, the Paillier key and the encryption randomness; ``repr`` hides them."""

    def __init__(
        self,
        session: Session,
        step: str,
        x1: int,
        paillier: PaillierPrivate | None = None,
    ) -> None:
        self.session = session
        self.step = step
        self._x1 = x1
        self.paillier = paillier if paillier is not None else PaillierPrivate.generate()
        self._r = random_unit(self.paillier.n)
        self.c_key = int(self.paillier.encrypt_fast(self.plaintext(), self._r))
        self._pdl_com, self._pdl_state = zk.pdl_commit(self.paillier, x1)

    def plaintext(self) -> int:
        """What c_key encrypts: x1. (A test subclass plays a cheating P1 by overriding it.)"""
        return self._x1

    def msg1(self) -> PaillierGenMsg1:
        return PaillierGenMsg1(int(self.paillier.n), self.c_key, self._pdl_com)

    def msg3(self, kv: bytes, Q1: PublicKey) -> PaillierGenMsg3:
        t = self.session.transcript(self.step + "/paillier")
        sigmas = zk.valid_paillier_prove(t, self.paillier, kv)
        e = zk.pdl_challenge(t, int(self.paillier.n), self.c_key, Q1, self._pdl_com, kv)
        resp = zk.pdl_respond(self.paillier, self._x1, self._r, self._pdl_state, e)
        return PaillierGenMsg3(sigmas, resp)

    def __repr__(self) -> str:
        return f"PaillierGenProver(step={self.step!r}, <secret>)"


def check_msg1(m: PaillierGenMsg1) -> PaillierPublic:
    """P2's structural checks as soon as msg1 arrives (cb-mpc ``step4_p2_output`` order:
    modulus size, small factors / prime / square, then c_key in Z*_{N^2})."""
    check_modulus(m.n)
    pub = PaillierPublic(m.n)
    pub.check_ciphertext(m.c_key, "c_key")
    for a in m.pdl.A:
        pub.check_ciphertext(a, "a PDL commitment")
    return pub


def verify(
    session: Session, step: str, Q1: PublicKey, m1: PaillierGenMsg1, kv: bytes, m3: PaillierGenMsg3
) -> None:
    """P2: N is a valid Paillier modulus and c_key encrypts log_G(Q1) (|x1| < PDL_BOUND)."""
    pub = check_msg1(m1)
    t = session.transcript(step + "/paillier")
    zk.valid_paillier_verify(t, m1.n, kv, m3.sigmas, "P1's Paillier modulus")
    e = zk.pdl_challenge(t, m1.n, m1.c_key, Q1, m1.pdl, kv)
    zk.pdl_verify(pub, m1.c_key, Q1, m1.pdl, e, m3.pdl)
