"""Paillier encryption (g = N + 1) with gmpy2; the private side decrypts with CRT.

Mirrors cb-mpc ``crypto::paillier_t`` (``src/cbmpc/crypto/base_paillier.cpp``): ``enc``,
``decrypt``, ``verify_cipher`` (0 < c < N^2 and gcd(c, N) = 1) and the key generation with two
primes of ``PRIME_BITS`` bits whose top two bits are set, so N has exactly ``PAILLIER_BITS``.
"""

from __future__ import annotations

import secrets
from typing import Any

import gmpy2
from gmpy2 import mpz

from mpcwallet.engine.portable.params import ALPHA, PAILLIER_BITS, PRIME_BITS
from mpcwallet.errors import InvalidProof, MalformedMessage

_SMALL_PRIMES_PRODUCT = mpz(1)
_p = mpz(2)
while _p < ALPHA:
    _SMALL_PRIMES_PRODUCT *= _p
    _p = gmpy2.next_prime(_p)
del _p


def _random_prime(bits: int) -> Any:
    while True:
        start = mpz(secrets.randbits(bits)) | (mpz(3) << (bits - 2)) | 1
        p = gmpy2.next_prime(start)
        if p.bit_length() == bits:
            return p


def random_unit(n: Any) -> Any:
    """Uniform in Z*_n (resampled until coprime)."""
    while True:
        r = mpz(secrets.randbelow(int(n) - 1) + 1)
        if gmpy2.gcd(r, n) == 1:
            return r


class PaillierPublic:
    def __init__(self, n: int) -> None:
        self.n = mpz(n)
        self.n2 = self.n * self.n

    def encrypt(self, m: int, r: Any) -> Any:
        """(1 + m·N) · r^N mod N^2."""
        return ((1 + mpz(m) * self.n) * gmpy2.powmod(r, self.n, self.n2)) % self.n2

    def add(self, c1: Any, c2: Any) -> Any:
        return (mpz(c1) * mpz(c2)) % self.n2

    def mul_scalar(self, c: Any, k: int) -> Any:
        return gmpy2.powmod(mpz(c), mpz(k), self.n2)

    def add_plain(self, c: Any, m: int) -> Any:
        """Enc(x) ⊕ m without rerandomising: c · (1 + m·N) mod N^2."""
        return (mpz(c) * (1 + mpz(m) * self.n)) % self.n2

    def check_ciphertext(self, c: int, what: str) -> None:
        """cb-mpc ``paillier_t::verify_cipher``: c in Z*_{N^2}."""
        if not 0 < c < self.n2:
            raise MalformedMessage(f"{what} is not in the range (0, N^2)")
        if gmpy2.gcd(mpz(c), self.n) != 1:
            raise MalformedMessage(f"{what} is not coprime to N")


class PaillierPrivate(PaillierPublic):
    """The private key (p, q). Never printed: ``repr`` shows nothing secret."""

    def __init__(self, p: int, q: int) -> None:
        super().__init__(mpz(p) * mpz(q))
        self._p = mpz(p)
        self._q = mpz(q)
        self._p2 = self._p * self._p
        self._q2 = self._q * self._q
        self._phi = (self._p - 1) * (self._q - 1)
        # CRT constants for decryption: L_p(g^(p-1) mod p^2)^-1 mod p, likewise for q.
        self._hp = gmpy2.invert(
            self._l(gmpy2.powmod(self.n + 1, self._p - 1, self._p2), self._p), self._p
        )
        self._hq = gmpy2.invert(
            self._l(gmpy2.powmod(self.n + 1, self._q - 1, self._q2), self._q), self._q
        )
        self._p_inv_q = gmpy2.invert(self._p, self._q)
        self._p2_inv_q2 = gmpy2.invert(self._p2, self._q2)
        self._dp = gmpy2.invert(self.n % (self._p - 1), self._p - 1)
        self._dq = gmpy2.invert(self.n % (self._q - 1), self._q - 1)
        self._np = self.n % (self._p * (self._p - 1))
        self._nq = self.n % (self._q * (self._q - 1))

    @classmethod
    def generate(cls) -> PaillierPrivate:
        while True:
            p = _random_prime(PRIME_BITS)
            q = _random_prime(PRIME_BITS)
            if p != q and (p * q).bit_length() == PAILLIER_BITS:
                return cls(p, q)

    @property
    def primes(self) -> tuple[int, int]:
        return int(self._p), int(self._q)

    @staticmethod
    def _l(u: Any, p: Any) -> Any:
        return (u - 1) // p

    def encrypt_fast(self, m: int, r: Any) -> Any:
        """Same as :meth:`encrypt`, r^N computed with CRT modulo p^2 and q^2."""
        rp = gmpy2.powmod(r, self._np, self._p2)
        rq = gmpy2.powmod(r, self._nq, self._q2)
        rn = rp + self._p2 * (((rq - rp) * self._p2_inv_q2) % self._q2)
        return ((1 + mpz(m) * self.n) * rn) % self.n2

    def encrypt(self, m: int, r: Any) -> Any:
        """As :meth:`PaillierPublic.encrypt`; with CRT when r is a unit (it always is for our
        own randomness; a peer's r that is not a unit takes the plain path)."""
        if gmpy2.gcd(mpz(r), self.n) == 1:
            return self.encrypt_fast(m, r)
        return super().encrypt(m, r)

    def decrypt(self, c: Any) -> Any:
        c = mpz(c)
        mp = (self._l(gmpy2.powmod(c, self._p - 1, self._p2), self._p) * self._hp) % self._p
        mq = (self._l(gmpy2.powmod(c, self._q - 1, self._q2), self._q) * self._hq) % self._q
        return mp + self._p * (((mq - mp) * self._p_inv_q) % self._q)

    def nth_root(self, y: Any) -> Any:
        """y^(N^-1 mod phi(N)) mod N, with CRT (cb-mpc ``valid_paillier_t::prove``)."""
        y = mpz(y)
        xp = gmpy2.powmod(y % self._p, self._dp, self._p)
        xq = gmpy2.powmod(y % self._q, self._dq, self._q)
        return xp + self._p * (((xq - xp) * self._p_inv_q) % self._q)

    def __repr__(self) -> str:
        return f"PaillierPrivate(N={PAILLIER_BITS}-bit, <private>)"


def check_modulus(n: int, what: str = "P1's Paillier modulus") -> None:
    """Structural checks on a peer's modulus before its proof (cb-mpc ``step4_p2_output``,
    ``check_integer_with_small_primes``): exactly PAILLIER_BITS bits, no prime factor below ALPHA,
    not a prime, not a perfect square."""
    if n.bit_length() != PAILLIER_BITS:
        raise MalformedMessage(f"{what} has {n.bit_length()} bits, want {PAILLIER_BITS}")
    big = mpz(n)
    if gmpy2.gcd(big, _SMALL_PRIMES_PRODUCT) != 1:
        raise InvalidProof(f"{what} has a small prime factor (below {ALPHA})")
    if gmpy2.is_prime(big, 50):
        raise InvalidProof(f"{what} is a prime, not a product of two primes")
    if gmpy2.is_square(big):
        raise InvalidProof(f"{what} is a perfect square")
