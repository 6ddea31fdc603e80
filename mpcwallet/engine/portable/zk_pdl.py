"""PDL: c_key encrypts the discrete log of Q1 (cb-mpc ``zk::pdl_t``,
``src/cbmpc/zk/zk_paillier.cpp``; Lindell 2017 §6's statement).

One Σ-round with a 256-bit Fiat-Shamir challenge e (mod q) over the session transcript:
c_r = Enc(r; r_rand) and R = r·G with r = r'·q + (r mod q), r' < q·2^STAT; z = r + e·x1 (an
integer), r_z = r_rand·r_key^e mod N. The verifier checks z·G = R + e·Q1,
0 <= z < (q^2 + 1)·2^STAT and Enc(z; r_z) = c_r·c_key^e. The large challenge is sound only
together with keygen's range proof (:mod:`zk_pedersen`): with the plaintext of c_key known to be
small, two answers give z - z' = (e - e')·x1 over the integers, so the plaintext and the
discrete log agree (cb-mpc runs ``pdl_t`` with ``paillier_range_exp_slack_proof`` skipped for the
same reason: ``paillier_gen_interactive_t`` proves the range itself).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import gmpy2
from coincurve import PublicKey
from gmpy2 import mpz

from mpcwallet.engine.portable import curve
from mpcwallet.engine.portable.modexp import sec_powmod
from mpcwallet.engine.portable.paillier import PaillierPrivate, PaillierPublic, random_unit
from mpcwallet.engine.portable.params import PDL_Z_BOUND, STAT, Q
from mpcwallet.engine.portable.transcript import Transcript
from mpcwallet.errors import InvalidProof, MalformedMessage


@dataclass(frozen=True)
class PDLProof:
    c_r: int
    R: PublicKey
    z: int
    r_z: int


def _challenge(t: Transcript, n: int, c_key: int, Q1: PublicKey, c_r: int, R: PublicKey) -> int:
    t = t.copy().add_int("N", n).add_int("c_key", c_key).add("Q1", curve.encode(Q1))
    return t.add_int("c_r", c_r).add("R", curve.encode(R)).scalar("pdl")


def prove(
    t: Transcript, key: PaillierPrivate, c_key: int, Q1: PublicKey, x1: int, r_key: Any
) -> PDLProof:
    while True:
        r_mod_q = secrets.randbelow(Q)
        if r_mod_q:  # R must be a point (cb-mpc allows infinity; we resample, p = 2^-256)
            break
    # r uniform below q^2·2^STAT, drawn so that r mod q is known without a reduction
    r = secrets.randbelow(Q << STAT) * Q + r_mod_q
    r_rand = random_unit(key.n)
    c_r = int(key.encrypt_fast(r, r_rand))
    R = curve.mul_g(r_mod_q)
    e = _challenge(t, int(key.n), c_key, Q1, c_r, R)
    # r_key^e: the base is secret (e is public)
    r_z = int(r_rand * sec_powmod(mpz(r_key), e, key.n) % key.n)
    return PDLProof(c_r, R, r + e * x1, r_z)


def verify(t: Transcript, pub: PaillierPublic, c_key: int, Q1: PublicKey, proof: PDLProof) -> None:
    """cb-mpc ``pdl_t::verify`` (c_key was checked as a ciphertext already)."""
    what = "P1's proof that c_key encrypts the discrete log of Q1"
    n = int(pub.n)
    e = _challenge(t, n, c_key, Q1, proof.c_r, proof.R)
    if not 0 < proof.c_r < pub.n2 or not 0 < proof.r_z < n:
        raise MalformedMessage(f"{what}: a value is out of range")
    if gmpy2.gcd(mpz(proof.c_r) * e * proof.r_z, pub.n) != 1:
        raise MalformedMessage(f"{what}: a value is not a unit modulo N")
    if not 0 <= proof.z < PDL_Z_BOUND:
        raise InvalidProof(f"{what}: the response is out of range")
    z_q = proof.z % Q
    expect = curve.add(proof.R, curve.mul(Q1, e))
    if not curve.equal(curve.mul_g(z_q) if z_q else None, expect):
        raise InvalidProof(f"{what}: the curve equation fails")
    # c_key^e: e is the public challenge
    if pub.encrypt(proof.z, mpz(proof.r_z)) != mpz(proof.c_r) * pub.mul_scalar(c_key, e) % pub.n2:
        raise InvalidProof(f"{what}: the Paillier equation fails")
