"""Zero-knowledge proofs of the portable engine.

* :class:`DLProof`: Schnorr proof of knowledge of a discrete log, Fiat-Shamir over a transcript
  bound to the session, both names and the step (role of cb-mpc ``zk::uc_dl_t``; Lindell 2017
  §3 uses a ZK proof of knowledge of x1 and x2, and of k1 and k2).
* :func:`valid_paillier_prove` / :func:`valid_paillier_verify`: N-th roots of challenges derived
  from P2's random ``kV`` (cb-mpc ``zk::valid_paillier_interactive_t``): proves gcd(N, phi(N)) = 1.

The proofs about c_key (range and PDL) are in :mod:`zk_pedersen` and :mod:`zk_pdl`.
"""

from __future__ import annotations

from dataclasses import dataclass

import gmpy2
from coincurve import PublicKey
from gmpy2 import mpz

from mpcwallet.engine.portable import curve
from mpcwallet.engine.portable.modexp import parallel, pub_powmod
from mpcwallet.engine.portable.paillier import PaillierPrivate
from mpcwallet.engine.portable.params import VALID_PAILLIER_ROOTS, Q
from mpcwallet.engine.portable.transcript import Transcript
from mpcwallet.errors import InvalidProof

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
    rhos = _valid_paillier_challenges(t, int(key.n), kv)
    return [int(root) for root in parallel(key.nth_root, ((rho,) for rho in rhos))]


def valid_paillier_verify(t: Transcript, n: int, kv: bytes, sigmas: list[int], what: str) -> None:
    rhos = _valid_paillier_challenges(t, n, kv)
    big = mpz(n)
    prod = mpz(1)
    for rho, sigma in zip(rhos, sigmas, strict=True):
        prod = (prod * rho) % big
        if not 0 < sigma < n:
            raise InvalidProof(f"{what}: the Paillier modulus proof (N-th roots) is invalid")
    # sigma^N mod N: exponent N and modulus N public
    powers = parallel(pub_powmod, ((mpz(sigma), big, big) for sigma in sigmas))
    if any(power != rho for power, rho in zip(powers, rhos, strict=True)):
        raise InvalidProof(f"{what}: the Paillier modulus proof (N-th roots) is invalid")
    if gmpy2.gcd(prod, big) != 1:
        raise InvalidProof(f"{what}: the Paillier modulus proof challenges are not units")
