"""The only place the portable engine exponentiates or inverts modulo an integer.

Every modular exponentiation of the engine goes through one of these, named for what is secret:

* :func:`sec_powmod`: the exponent or the modulus is secret (a share, a nonce, a mask, Paillier
  randomness exponent, p, q, p^2, q^2 or anything derived from them). GMP's ``mpz_powm_sec``
  through gmpy2's ``powmod_sec``: its running time and memory access pattern depend only on the
  sizes of base, exponent and modulus, not on their values (GMP manual, "Integer Exponentiation").
  ``mpz_powm_sec`` needs an odd modulus and a positive exponent: every modulus here is odd (p, q,
  their squares, N, N^2, the Pedersen modulus, the curve order), so an even one is a bug and
  raises; an exponent of zero (a random secret that happens to be zero, probability 2^-200 and
  below) is answered 1 without calling GMP.
* :func:`pub_powmod`: exponent and modulus are public (N, a challenge, a public response). GMP's
  ``mpz_powm`` (sliding window, variable time in the exponent). The base may be secret only where
  its owner's peer can compute it anyway (P2's Paillier randomness, which P1 recovers with its
  decryption key).
* :func:`sec_inverse_mod_prime`: a^-1 mod a prime, as a^(p-2) (Fermat) with ``powmod_sec``.
* :func:`invert_var_time`: a variable-time extended-Euclid inverse (gmpy2 ``invert``), allowed at
  exactly the call sites listed in ``tests/engine/test_side_channels.py``.
* :class:`FixedBase`: fixed-base exponentiation with precomputed powers for a public base and a
  PUBLIC exponent (verification only).
* :func:`parallel`: independent exponentiations (a proof's repetitions) spread over the cores.
  gmpy2 releases the GIL inside ``powmod``/``powmod_sec`` when its context allows it
  (``allow_release_gil``, set in each worker thread), so the workers run at once.

``tests/engine/test_side_channels.py`` walks the engine's source and fails on any other
``powmod``/``pow``/``invert``, and on a :func:`pub_powmod` call outside its allow-list.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import gmpy2
from gmpy2 import mpz

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

T = TypeVar("T")


def sec_powmod(base: Any, exp: Any, mod: Any) -> Any:
    """base^exp mod mod, constant-time in base, exp and mod (GMP ``mpz_powm_sec``)."""
    if not mod & 1:
        raise ValueError("sec_powmod needs an odd modulus")
    if exp < 0:
        raise ValueError("sec_powmod needs a non-negative exponent")
    if exp == 0:
        return mpz(1) % mod
    return gmpy2.powmod_sec(base, exp, mod)


def pub_powmod(base: Any, exp: Any, mod: Any) -> Any:
    """base^exp mod mod for a PUBLIC exponent and modulus (GMP ``mpz_powm``, variable time)."""
    return gmpy2.powmod(base, exp, mod)


def sec_inverse_mod_prime(a: Any, p: Any) -> Any:
    """a^-1 mod the odd prime p, as a^(p-2) mod p (Fermat) in constant time. a must be a unit."""
    return sec_powmod(mpz(a) % p, mpz(p) - 2, p)


def invert_var_time(a: Any, m: Any) -> Any:
    """a^-1 mod m by extended Euclid (variable time): only at the allow-listed call sites."""
    return gmpy2.invert(a, m)


class FixedBase:
    """g^e mod m for a fixed public g and a public exponent e >= 0.

    Brickell, Gordon, McCurley, Wilson, "Fast exponentiation with precomputation" (EUROCRYPT '92,
    §3, the "BGMW" method; Handbook of Applied Cryptography Algorithm 14.109): with
    g_i = g^(2^(w·i)) precomputed, write e = sum d_i 2^(w·i) with digits d_i < 2^w; then
    g^e = prod_{d=2^w-1..1} (prod_{i: d_i >= d} g_i), about (bits/w) + 2^(w+1) multiplications
    and no squarings. The table is built on first use (``bits`` squarings). The digit scan
    branches on the exponent, so this is for public exponents only (verifiers' responses).
    """

    def __init__(self, g: Any, m: Any, bits: int, window: int = 5) -> None:
        self._g = mpz(g)
        self._m = mpz(m)
        self._bits = bits
        self._w = window
        self._powers: list[Any] | None = None

    def _table(self) -> list[Any]:
        if self._powers is None:
            powers = [self._g % self._m]
            for _ in range(-(-self._bits // self._w) - 1):
                x = powers[-1]
                for _ in range(self._w):
                    x = x * x % self._m
                powers.append(x)
            self._powers = powers
        return self._powers

    def pow(self, e: int) -> Any:
        if e < 0 or e.bit_length() > self._bits:
            return pub_powmod(self._g, e, self._m)
        powers, m, w = self._table(), self._m, self._w
        mask = (1 << w) - 1
        buckets: list[Any] = [mpz(1)] * (mask + 1)
        i = 0
        while e:
            d = e & mask
            if d:
                buckets[d] = buckets[d] * powers[i] % m
            e >>= w
            i += 1
        result = acc = mpz(1)
        for d in range(mask, 0, -1):
            acc = acc * buckets[d] % m
            result = result * acc % m
        return result


_PREFIX = "mpc-modexp"
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def workers() -> int:
    """Threads for :func:`parallel`: ``MPC_ENGINE_THREADS`` if set (1 turns it off), else the
    cores this process may use, at most 8."""
    value = os.environ.get("MPC_ENGINE_THREADS", "")
    if value.isdigit() and int(value) > 0:
        return min(int(value), 64)
    affinity = getattr(os, "sched_getaffinity", None)
    cores = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    return max(1, min(8, cores))


def _release_gil() -> None:
    gmpy2.get_context().allow_release_gil = True


def parallel(fn: Callable[..., T], args: Iterable[tuple[Any, ...]]) -> list[T]:
    """``[fn(*a) for a in args]``, computed by a shared pool of threads (results in order).

    For independent, CPU-heavy steps only (each an exponentiation of a millisecond or more); an
    exception in one call is raised here. With one worker, or one item, it runs inline."""
    items = list(args)
    n = workers()
    # inline when there is nothing to share, or when called from a worker (no nested waits)
    if n == 1 or len(items) < 2 or threading.current_thread().name.startswith(_PREFIX):
        return [fn(*a) for a in items]
    global _pool
    with _pool_lock:
        if _pool is None:
            from concurrent.futures import ThreadPoolExecutor  # not on the import path of --help

            _pool = ThreadPoolExecutor(n, thread_name_prefix=_PREFIX, initializer=_release_gil)
        pool = _pool
    return list(pool.map(lambda a: fn(*a), items))


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def parallel_calls(calls: Iterable[tuple[Any, ...]]) -> list[Any]:
    """:func:`parallel` for different functions: each item is ``(fn, *args)``."""
    return parallel(_call, calls)
