"""P1's Paillier key, c_key = Enc(x1) and the proofs P2 checks (cb-mpc
``ecdsa2pc::paillier_gen_interactive_t``; Lindell 2017 Protocol 3.2 steps 3-4 with the §6
proofs). Used by keygen and by refresh (against the refreshed Q1).

Flights (cb-mpc ``step1_p1_to_p2`` .. ``step4_p2_output``):

* P1 -> P2 :class:`PaillierGenMsg1`: N, c_key, the Pedersen commitment Com to x1, and a hash
  commitment to the first messages of the equality and range proofs.
* P2 -> P1 a random ``kV``: it fixes every challenge (valid-Paillier, equality, range).
* P1 -> P2 :class:`PaillierGenMsg3`: the N-th roots, the opened first messages, the equality
  and range responses, and the PDL proof.

P2 checks, in cb-mpc's order: the modulus (size, small factors, prime, square), c_key in
Z*_{N^2}, the N-th roots, the opening, PDL, equality, range.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from coincurve import PublicKey

from mpcwallet.engine.portable import curve, zk, zk_pdl, zk_pedersen
from mpcwallet.engine.portable import safe_prime_pedersen as ped
from mpcwallet.engine.portable.codec import Reader, Writer
from mpcwallet.engine.portable.paillier import (
    PaillierPrivate,
    PaillierPublic,
    check_modulus,
    random_unit,
)
from mpcwallet.engine.portable.params import (
    EQ_CHALLENGE_BITS,
    EQ_MASK_BOUND,
    EQ_REPS,
    PAILLIER_BITS,
    PDL_Z_BOUND,
    RANGE_BOUND,
    RANGE_REPS,
    VALID_PAILLIER_ROOTS,
)
from mpcwallet.engine.portable.transcript import Session, Transcript, check_opening, commit

_PED_BITS = ped.P.bit_length()


@dataclass(frozen=True)
class PaillierGenMsg1:
    n: int
    c_key: int
    com: int  # Pedersen commitment to x1
    first: bytes  # hash commitment to the equality and range proofs' first messages


@dataclass(frozen=True)
class PaillierGenMsg3:
    sigmas: list[int]
    equal_first: zk_pedersen.EqualFirst
    range_first: list[int]
    first_rand: bytes
    equal: zk_pedersen.EqualResponse
    range: zk_pedersen.RangeResponse
    pdl: zk_pdl.PDLProof


def write_msg1(w: Writer, m: PaillierGenMsg1) -> None:
    w.num(m.n).num(m.c_key).num(m.com).raw(m.first)


def read_msg1(r: Reader) -> PaillierGenMsg1:
    n = r.num("N", PAILLIER_BITS)
    c_key = r.num("c_key", 2 * PAILLIER_BITS)
    com = r.num("Com", _PED_BITS)
    return PaillierGenMsg1(n, c_key, com, r.raw("first", 32, exact=32))


def _write_first(w: Writer, equal: zk_pedersen.EqualFirst, range_first: list[int]) -> Writer:
    return w.ints(equal.c_tilde).num(equal.com_tilde).ints(range_first)


def write_msg3(w: Writer, m: PaillierGenMsg3) -> None:
    w.ints(m.sigmas)
    _write_first(w, m.equal_first, m.range_first).raw(m.first_rand)
    w.ints(m.equal.d).ints(m.equal.D).num(m.equal.nu)
    w.ints(m.range.d).ints(m.range.f)
    w.num(m.pdl.c_r).point(m.pdl.R).num(m.pdl.z).num(m.pdl.r_z)


def read_msg3(r: Reader) -> PaillierGenMsg3:
    sigmas = r.ints("sigma", VALID_PAILLIER_ROOTS, PAILLIER_BITS)
    equal_first = zk_pedersen.EqualFirst(
        r.ints("eq_c_tilde", EQ_REPS, 2 * PAILLIER_BITS), r.num("eq_com_tilde", _PED_BITS)
    )
    range_first = r.ints("range_c_tilde", RANGE_REPS, _PED_BITS)
    rand = r.raw("first_rand", 32, exact=32)
    equal = zk_pedersen.EqualResponse(
        r.ints("eq_d", EQ_REPS, EQ_MASK_BOUND.bit_length()),
        r.ints("eq_D", EQ_REPS, PAILLIER_BITS),
        r.num("eq_nu", _PED_BITS),
    )
    rng = zk_pedersen.RangeResponse(
        r.ints("range_d", RANGE_REPS, RANGE_BOUND.bit_length()),
        r.ints("range_f", RANGE_REPS, _PED_BITS),
    )
    pdl = zk_pdl.PDLProof(
        r.num("pdl_c_r", 2 * PAILLIER_BITS),
        r.point("pdl_R"),
        r.num("pdl_z", PDL_Z_BOUND.bit_length()),
        r.num("pdl_r_z", PAILLIER_BITS),
    )
    return PaillierGenMsg3(sigmas, equal_first, range_first, rand, equal, rng, pdl)


def _first_bytes(equal: zk_pedersen.EqualFirst, range_first: list[int]) -> bytes:
    return _write_first(Writer(0), equal, range_first).getvalue()


def _challenges(t: Transcript, m1: PaillierGenMsg1, kv: bytes, Q1: PublicKey) -> tuple[int, int]:
    """The equality proof's EQ_CHALLENGE_BITS and the range proof's RANGE_REPS challenge bits,
    fixed by P2's kV after P1 committed (cb-mpc's ``verifier_challenge``)."""
    t = t.copy().add("kV", kv).add_int("N", m1.n).add_int("c_key", m1.c_key)
    t.add_int("Com", m1.com).add("first", m1.first).add("Q1", curve.encode(Q1))
    data = t.stream("equal/range", (EQ_CHALLENGE_BITS + RANGE_REPS + 7) // 8)
    e = int.from_bytes(data, "big")
    return e & ((1 << EQ_CHALLENGE_BITS) - 1), e >> EQ_CHALLENGE_BITS


class PaillierGenProver:
    """P1's side. Holds x1, the Paillier key and every mask; ``repr`` hides them."""

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
        self._rho = secrets.randbelow(int(ped.P_TAG))
        self._com = zk_pedersen.commit_value(self.witness(), self._rho)
        self._equal = zk_pedersen.EqualProver(self.paillier)
        self._range = zk_pedersen.RangeProver()
        self._first, self._first_rand = commit(
            session,
            session.names[0],
            step + "/paillier-first",
            _first_bytes(self._equal.first, self._range.c_tilde),
        )

    def plaintext(self) -> int:
        """What c_key encrypts: x1. (A test subclass plays a cheating P1 by overriding it.)"""
        return self._x1

    def witness(self) -> int:
        """The value Com and the responses are about: x1. (Overridden by a test's cheating P1
        that proves consistently about an out-of-range plaintext.)"""
        return self._x1

    def msg1(self) -> PaillierGenMsg1:
        return PaillierGenMsg1(int(self.paillier.n), self.c_key, self._com, self._first)

    def msg3(self, kv: bytes, Q1: PublicKey) -> PaillierGenMsg3:
        t = self.session.transcript(self.step + "/paillier")
        sigmas = zk.valid_paillier_prove(t, self.paillier, kv)
        e_eq, e_range = _challenges(t, self.msg1(), kv, Q1)
        x1 = self.witness()
        return PaillierGenMsg3(
            sigmas,
            self._equal.first,
            self._range.c_tilde,
            self._first_rand,
            self._equal.respond(x1, self._r, self._rho, e_eq),
            self._range.respond(x1, self._rho, e_range),
            zk_pdl.prove(t, self.paillier, self.c_key, Q1, x1, self._r),
        )

    def __repr__(self) -> str:
        return f"PaillierGenProver(step={self.step!r}, <secret>)"


def check_msg1(m: PaillierGenMsg1) -> PaillierPublic:
    """P2's structural checks as soon as msg1 arrives (cb-mpc ``step4_p2_output`` order:
    modulus size, small factors / prime / square, then c_key in Z*_{N^2})."""
    check_modulus(m.n)
    pub = PaillierPublic(m.n)
    pub.check_ciphertext(m.c_key, "c_key")
    return pub


def verify(
    session: Session, step: str, Q1: PublicKey, m1: PaillierGenMsg1, kv: bytes, m3: PaillierGenMsg3
) -> None:
    """P2: N is a valid Paillier modulus and c_key encrypts log_G(Q1) with |x1| < q·2^STAT."""
    pub = check_msg1(m1)
    t = session.transcript(step + "/paillier")
    zk.valid_paillier_verify(t, m1.n, kv, m3.sigmas, "P1's Paillier modulus")
    check_opening(
        session,
        session.names[0],
        step + "/paillier-first",
        m1.first,
        m3.first_rand,
        _first_bytes(m3.equal_first, m3.range_first),
    )
    e_eq, e_range = _challenges(t, m1, kv, Q1)
    zk_pdl.verify(t, pub, m1.c_key, Q1, m3.pdl)
    zk_pedersen.equal_verify(pub, m1.c_key, m1.com, m3.equal_first, e_eq, m3.equal)
    zk_pedersen.range_verify(m1.com, m3.range_first, e_range, m3.range)
