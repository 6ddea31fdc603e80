"""Keygen's proofs that c_key holds a small x1, through a Pedersen commitment Com = g^x1·h^rho.

Both are cb-mpc's interactive proofs (``src/cbmpc/zk/zk_pedersen.cpp``) in the safe-prime group
of :mod:`safe_prime_pedersen`, run inside keygen's three flights as cb-mpc's
``ecdsa2pc::paillier_gen_interactive_t`` runs them: P1 commits (hash commitment) to the first
messages in flight 1, P2's fresh ``kV`` in flight 2 fixes the challenges, P1 opens and answers in
flight 3.

* :class:`EqualProver` / :func:`equal_verify`: ``paillier_pedersen_equal_interactive_t``. c_key
  (Paillier) and Com (Pedersen) hide the same integer. ``EQ_REPS`` repetitions with 13-bit
  challenge chunks e_i: c~_i = Enc(r_i; R~_i), Com~ = g^(sum r_i·2^(13i))·h^mu; responses
  d_i = x·e_i + r_i, D_i = R^(e_i)·R~_i mod N, nu = e·rho + mu mod p'. Because N has no prime
  factor below 2^13 (valid-Paillier proof), every difference of two chunks is invertible mod N.
* :class:`RangeProver` / :func:`range_verify`: ``range_pedersen_interactive_t``. Com opens to
  an x with |x| < q·2^STAT. ``RANGE_REPS`` binary challenges; c~_j = sqrt_g^(x_j)·sqrt_h^(r_j)
  (the verifier squares it into the order-p' subgroup), responses d_j = x_j + e_j·x < q·2^STAT,
  f_j = r_j + e_j·rho mod p'. The verifier checks all repetitions at once with random 64-bit
  weights (cb-mpc's batch: prod (c~_j^2·Com^(e_j))^(w_j) = g^(sum d_j w_j)·h^(sum f_j w_j)), sound
  up to 2^-64 in the prime-order subgroup.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import gmpy2
from gmpy2 import mpz

from mpcwallet.engine.portable import safe_prime_pedersen as ped
from mpcwallet.engine.portable.modexp import parallel, pub_powmod, sec_powmod
from mpcwallet.engine.portable.paillier import PaillierPrivate, PaillierPublic, random_unit
from mpcwallet.engine.portable.params import (
    EQ_CHALLENGE_BITS,
    EQ_MASK_BOUND,
    EQ_REPS,
    LOG_ALPHA,
    PAILLIER_BITS,
    RANGE_BOUND,
    RANGE_REPS,
    STAT,
    Q,
)
from mpcwallet.errors import InvalidProof, MalformedMessage

# cb-mpc paillier_pedersen_equal_interactive_t::prover_msg1 / verify: the group and N are large
# enough that no response wraps.
assert ped.P > Q << (STAT + EQ_CHALLENGE_BITS + LOG_ALPHA + 2)
assert 1 << (PAILLIER_BITS - 1) > Q << (STAT + EQ_CHALLENGE_BITS + 2 * LOG_ALPHA + 1)
assert ped.P_TAG > RANGE_BOUND

_CHUNK = (1 << LOG_ALPHA) - 1


def commit_value(x: int, rho: int) -> int:
    """Com = g^x·h^rho mod p (P1; x and rho secret)."""
    return int(sec_powmod(ped.G, x, ped.P) * sec_powmod(ped.H, rho, ped.P) % ped.P)


def chunks(e: int) -> list[int]:
    """The 13-bit challenge chunks e_i of e (cb-mpc ``mod_t::mod(e_temp, alpha)``)."""
    return [(e >> (LOG_ALPHA * i)) & _CHUNK for i in range(EQ_REPS)]


def bits(e: int) -> list[int]:
    return [(e >> j) & 1 for j in range(RANGE_REPS)]


# --- c_key and Com hide the same value --------------------------------------------------------


@dataclass(frozen=True)
class EqualFirst:
    c_tilde: list[int]
    com_tilde: int


@dataclass(frozen=True)
class EqualResponse:
    d: list[int]
    D: list[int]
    nu: int


class EqualProver:
    """P1's side; ``repr`` hides the masks."""

    def __init__(self, key: PaillierPrivate) -> None:
        self._key = key
        self._mu = secrets.randbelow(int(ped.P_TAG))
        self._r = [secrets.randbelow(EQ_MASK_BOUND) for _ in range(EQ_REPS)]
        self._R = [random_unit(key.n) for _ in range(EQ_REPS)]
        r_all = sum(ri << (LOG_ALPHA * i) for i, ri in enumerate(self._r))
        c_tilde = parallel(key.encrypt_fast, zip(self._r, self._R, strict=True))
        self.first = EqualFirst([int(c) for c in c_tilde], commit_value(r_all, self._mu))

    def respond(self, x: int, r_key: Any, rho: int, e: int) -> EqualResponse:
        n = self._key.n
        d, D = [], []
        for ei, ri, Ri in zip(chunks(e), self._r, self._R, strict=True):
            d.append(x * ei + ri)
            D.append(int(sec_powmod(mpz(r_key), ei, n) * Ri % n))
        return EqualResponse(d, D, (e * rho + self._mu) % int(ped.P_TAG))

    def __repr__(self) -> str:
        return "EqualProver(<secret>)"


def equal_verify(
    pub: PaillierPublic, c: int, com: int, first: EqualFirst, e: int, resp: EqualResponse
) -> None:
    """cb-mpc ``paillier_pedersen_equal_interactive_t::verify`` (after the commitment opened)."""
    what = "P1's proof that c_key and its commitment hold the same value"
    if not (ped.in_subgroup(com) and ped.in_subgroup(first.com_tilde)):
        raise InvalidProof(f"{what}: a commitment is not in the Pedersen group")
    if not 0 <= resp.nu < ped.P_TAG:
        raise MalformedMessage(f"{what}: nu is out of range")
    n, n2 = pub.n, pub.n2
    cd = mpz(c)
    for d, D, ct in zip(resp.d, resp.D, first.c_tilde, strict=True):
        if not 0 <= d < EQ_MASK_BOUND:
            raise InvalidProof(f"{what}: a response is out of range")
        if not 0 < D < n or not 0 < ct < n2:
            raise MalformedMessage(f"{what}: a value is out of range")
        cd = cd * D * ct % n
    # one gcd for c, every D_i and every c~_i (cb-mpc: "we do not verify the ciphertext here and
    # include it in CD")
    if cd == 0 or gmpy2.gcd(cd, n) != 1:
        raise MalformedMessage(f"{what}: a value is not a unit modulo N")
    es = chunks(e)
    encs = parallel(pub.encrypt, zip(resp.d, (mpz(D) for D in resp.D), strict=True))
    for ei, ct, enc in zip(es, first.c_tilde, encs, strict=True):
        # c^(e_i): e_i is the public challenge chunk
        if mpz(ct) * pub.mul_scalar(c, ei) % n2 != enc:
            raise InvalidProof(f"{what}: the Paillier equation fails")
    d_all = sum(d << (LOG_ALPHA * i) for i, d in enumerate(resp.d))
    # Com^e: public commitment and challenge
    lhs = pub_powmod(mpz(com), e, ped.P) * first.com_tilde % ped.P
    if lhs != ped.G_TABLE.pow(d_all) * ped.H_TABLE.pow(resp.nu) % ped.P:
        raise InvalidProof(f"{what}: the Pedersen equation fails")


# --- the committed value is small -------------------------------------------------------------


@dataclass(frozen=True)
class RangeResponse:
    d: list[int]
    f: list[int]


def _range_commitment(x: int, r: int) -> int:
    return int(sec_powmod(ped.SQRT_G, x, ped.P) * sec_powmod(ped.SQRT_H, r, ped.P) % ped.P)


class RangeProver:
    """P1's side; ``repr`` hides the masks."""

    def __init__(self) -> None:
        self._x = [secrets.randbelow(RANGE_BOUND) for _ in range(RANGE_REPS)]
        self._r = [secrets.randbelow(int(ped.P_TAG)) for _ in range(RANGE_REPS)]
        self.c_tilde: list[int] = parallel(_range_commitment, zip(self._x, self._r, strict=True))

    def respond(self, x: int, rho: int, e: int) -> RangeResponse:
        p_tag = int(ped.P_TAG)
        challenge = bits(e)
        d = [xj + bit * x for xj, bit in zip(self._x, challenge, strict=True)]
        f = [(rj + bit * rho) % p_tag for rj, bit in zip(self._r, challenge, strict=True)]
        return RangeResponse(d, f)

    def __repr__(self) -> str:
        return "RangeProver(<secret>)"


def range_verify(com: int, c_tilde: list[int], e: int, resp: RangeResponse) -> None:
    """cb-mpc ``range_pedersen_interactive_t::verify`` (after the commitment opened)."""
    what = "P1's proof that its key share is in range"
    if not ped.in_subgroup(com):
        raise InvalidProof(f"{what}: the commitment is not in the Pedersen group")
    p, p_tag = ped.P, int(ped.P_TAG)
    weights = [secrets.randbits(STAT) for _ in range(RANGE_REPS)]
    D = F = 0
    for d, f, ct, w in zip(resp.d, resp.f, c_tilde, weights, strict=True):
        if not 0 <= d < RANGE_BOUND:
            raise InvalidProof(f"{what}: a response is out of range")
        if not 0 <= f < p_tag or not 0 < ct < p:
            raise MalformedMessage(f"{what}: a value is out of range")
        D += d * w
        F += f * w
    bases = [
        mpz(ct) * ct % p * (com if bit else 1) % p for ct, bit in zip(c_tilde, bits(e), strict=True)
    ]
    # (c~_j^2·Com^(e_j))^(w_j): the verifier's own batching weights, public values
    powers = parallel(pub_powmod, ((b, w, p) for b, w in zip(bases, weights, strict=True)))
    acc = mpz(1)
    for x in powers:
        acc = acc * x % p
    if acc != ped.G_TABLE.pow(D % p_tag) * ped.H_TABLE.pow(F % p_tag) % p:
        raise InvalidProof(f"{what}: the Pedersen equation fails")
