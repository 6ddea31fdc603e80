"""Zero-knowledge proofs of the portable engine.

* :class:`DLProof`: Schnorr proof of knowledge of a discrete log, Fiat-Shamir over a transcript
  bound to the session, both names and the step (role of cb-mpc ``zk::uc_dl_t``; Lindell 2017
  §3 uses a ZK proof of knowledge of x1 and x2, and of k1 and k2).
* :func:`valid_paillier_prove` / :func:`valid_paillier_verify`: N-th roots of challenges derived
  from P2's random ``kV`` (cb-mpc ``zk::valid_paillier_interactive_t``): proves gcd(N, phi(N)) = 1.
* PDL with slack (:func:`pdl_commit`, :func:`pdl_respond`, :func:`pdl_verify`): c_key encrypts
  the discrete log x1 of Q1, and |x1| < PDL_BOUND. This plays the part of Lindell 2017 §6's PDL
  proof with its range proof (cb-mpc ``zk::pdl_t`` with ``paillier_range_exp_slack``): a
  binary-challenge Σ-protocol repeated PDL_REPS times. From two accepting answers z0 = a and
  z1 = a + x to one commitment (A = Enc(a), R = a·G), both c = Enc(z1 - z0) and Q1 = (z1 - z0)·G
  with the same integer |z1 - z0| < PDL_BOUND, so the plaintext and the discrete log agree as
  integers, not just modulo N or q. The challenge bits are H(transcript, kV, commitments) with
  kV chosen by P2 after the commitments: sound against P1 (2^-PDL_REPS) and zero-knowledge
  towards a malicious P2 in the random-oracle model (the simulator programs H after kV).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import gmpy2
from coincurve import PublicKey
from gmpy2 import mpz

from mpcwallet.engine.portable import curve
from mpcwallet.engine.portable.modexp import pub_powmod
from mpcwallet.engine.portable.paillier import PaillierPrivate, PaillierPublic, random_unit
from mpcwallet.engine.portable.params import (
    PDL_BOUND,
    PDL_MASK_BOUND,
    PDL_REPS,
    VALID_PAILLIER_ROOTS,
    Q,
)
from mpcwallet.engine.portable.transcript import Transcript
from mpcwallet.errors import InvalidProof, MalformedMessage

# --- discrete log ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DLProof:
    A: PublicKey
    z: int


def _dl_challenge(t: Transcript, X: PublicKey, A: PublicKey) -> int:
    t = t.copy().add("X", curve.encode(X)).add("A", curve.encode(A))
    return t.scalar("dl")


def dl_prove(t: Transcript, X: PublicKey, x: int) -> DLProof:
    while True:
        k = curve.random_scalar()
        A = curve.mul_g(k)
        e = _dl_challenge(t, X, A)
        z = (k + e * x) % Q
        if z != 0 and e != 0:
            return DLProof(A, z)


def dl_verify(t: Transcript, X: PublicKey, proof: DLProof, what: str) -> None:
    e = _dl_challenge(t, X, proof.A)
    if e == 0 or not 0 < proof.z < Q:
        raise InvalidProof(f"{what}: the discrete-log proof is invalid")
    if not curve.equal(curve.mul_g(proof.z), curve.add(proof.A, curve.mul(X, e))):
        raise InvalidProof(f"{what}: the discrete-log proof is invalid")


# --- valid Paillier modulus -------------------------------------------------------------------


def _valid_paillier_challenges(t: Transcript, n: int, kv: bytes) -> list[int]:
    t = t.copy().add("kV", kv).add_int("N", n)
    rhos = t.ints_below("valid-paillier", n, VALID_PAILLIER_ROOTS)
    return rhos


def valid_paillier_prove(t: Transcript, key: PaillierPrivate, kv: bytes) -> list[int]:
    return [int(key.nth_root(rho)) for rho in _valid_paillier_challenges(t, int(key.n), kv)]


def valid_paillier_verify(t: Transcript, n: int, kv: bytes, sigmas: list[int], what: str) -> None:
    rhos = _valid_paillier_challenges(t, n, kv)
    big = mpz(n)
    prod = mpz(1)
    for rho, sigma in zip(rhos, sigmas, strict=True):
        prod = (prod * rho) % big
        # exponent N and modulus N public
        if not 0 < sigma < n or pub_powmod(mpz(sigma), big, big) != rho:
            raise InvalidProof(f"{what}: the Paillier modulus proof (N-th roots) is invalid")
    if gmpy2.gcd(prod, big) != 1:
        raise InvalidProof(f"{what}: the Paillier modulus proof challenges are not units")


# --- PDL with slack ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PDLCommit:
    A: list[int]  # Enc(alpha_i; s_i)
    R: list[PublicKey]  # alpha_i · G


class PDLProverState:
    """The prover's masks between commitment and response. ``repr`` hides them."""

    def __init__(self, alphas: list[int], units: list[Any]) -> None:
        self.alphas = alphas
        self.units = units

    def __repr__(self) -> str:
        return "PDLProverState(<secret>)"


@dataclass(frozen=True)
class PDLResponse:
    z: list[int]
    t: list[int]


def pdl_commit(key: PaillierPrivate, x: int) -> tuple[PDLCommit, PDLProverState]:
    alphas: list[int] = []
    units: list[Any] = []
    A: list[int] = []
    R: list[PublicKey] = []
    while len(alphas) < PDL_REPS:
        a = secrets.randbelow(PDL_MASK_BOUND)
        if a % Q == 0 or (a + x) % Q == 0:
            continue  # keep a·G and (a + x)·G off the point at infinity
        s = random_unit(key.n)
        alphas.append(a)
        units.append(s)
        A.append(int(key.encrypt_fast(a, s)))
        R.append(curve.mul_g(a))
    return PDLCommit(A, R), PDLProverState(alphas, units)


def pdl_challenge(
    t: Transcript, n: int, c: int, Q1: PublicKey, com: PDLCommit, kv: bytes
) -> list[int]:
    t = t.copy().add("kV", kv).add_int("N", n).add_int("c", c).add("Q1", curve.encode(Q1))
    for a, r in zip(com.A, com.R, strict=True):
        t.add_int("A", a).add("R", curve.encode(r))
    bits = int.from_bytes(t.stream("pdl", PDL_REPS // 8), "big")
    return [(bits >> i) & 1 for i in range(PDL_REPS)]


def pdl_respond(
    key: PaillierPrivate, x: int, r: Any, state: PDLProverState, e: list[int]
) -> PDLResponse:
    z = [a + ei * x for a, ei in zip(state.alphas, e, strict=True)]
    t = [int((s * (r if ei else 1)) % key.n) for s, ei in zip(state.units, e, strict=True)]
    return PDLResponse(z, t)


def pdl_verify(
    pub: PaillierPublic, c: int, Q1: PublicKey, com: PDLCommit, e: list[int], resp: PDLResponse
) -> None:
    what = "P1's proof that c_key encrypts the discrete log of Q1"
    n = int(pub.n)
    for a in com.A:
        pub.check_ciphertext(a, "a PDL commitment")
    for i in range(PDL_REPS):
        z, t, ei = resp.z[i], resp.t[i], e[i]
        if not 0 <= z < PDL_BOUND:
            raise InvalidProof(f"{what}: a response is out of range")
        if not 0 < t < n or gmpy2.gcd(mpz(t), pub.n) != 1:
            raise MalformedMessage(f"{what}: a response is not in Z*_N")
        rhs = (mpz(com.A[i]) * (mpz(c) if ei else 1)) % pub.n2
        if pub.encrypt(z, mpz(t)) != rhs:
            raise InvalidProof(f"{what}: the Paillier equation fails")
        expect = curve.add(com.R[i], Q1) if ei else com.R[i]
        got = curve.mul_g(z) if z % Q else None
        if not curve.equal(got, expect):
            raise InvalidProof(f"{what}: the curve equation fails")
