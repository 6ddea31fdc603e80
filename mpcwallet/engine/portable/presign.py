"""P2's message-independent signing work, done ahead: one :class:`P2Presign` per signature.

In P2's proof that c3 is well formed (:mod:`zk_sign`, cb-mpc
``zk_ecdsa_sign_2pc_integer_commit_t::prove``) and in c3 itself, everything that depends on
neither the digest, nor the nonces, nor x2 can be computed before a request arrives: the mask
rho and its commitment, the Paillier randomness rc and r_enc with their N-th powers, the
Pedersen randomness h^r, and the masks w', r' with their commitments W'. This is the
offline/online split of Σ-protocol provers (the first message's randomness is independent of the
statement; Even, Goldreich, Micali, "On-line/off-line digital signatures", CRYPTO '89, applied
to the prover) and of Paillier encryption (r^N is message-independent).
The nonce k2 is NOT precomputed: it stays fresh per signature.

Every element is used at most once:

* :class:`PresignPool` is in memory only. Nothing here is ever serialised, so nothing survives
  a crash or a restart: after one, the pool starts empty (``test_presign_pool.py`` kills a
  process holding a warm pool and checks that the new one starts empty and no file holds an
  element).
* :meth:`PresignPool.take` removes the element under a lock before returning it, and
  :meth:`P2Presign.consume` refuses a second use of the same object, so two signatures can never
  share one (reusing w' for two different k2 would reveal k2^-1 through the responses).
* Elements are bound to the Paillier modulus N they were made for; a refresh changes N, and
  :meth:`PresignPool.take` never returns an element made for another N.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from typing import Any

from gmpy2 import mpz

from mpcwallet.engine.portable import pedersen_params
from mpcwallet.engine.portable.modexp import parallel_calls, pub_powmod, sec_powmod
from mpcwallet.engine.portable.paillier import random_unit
from mpcwallet.engine.portable.params import COM, SIGN_MASK_BOUND, STAT, Q

N_PED = mpz(pedersen_params.N)
G_PED = mpz(pedersen_params.G)
H_PED = mpz(pedersen_params.H)

# cb-mpc's sizes (zk_ecdsa_sign_2pc_integer_commit_t::prove)
R_BOUND = int(N_PED) << STAT
R_TAG_BOUND = int(N_PED) << (2 * STAT + COM)
W12_TAG_BOUND = Q << (STAT + COM)
W3_TAG_BOUND = (Q * Q) << (3 * STAT + COM)


class P2Presign:
    """One signature's worth of P2's precomputation for Paillier modulus ``n``. ``repr`` hides
    it; :meth:`consume` may be called once."""

    def __init__(self, n: int) -> None:
        big_n = mpz(n)
        n2 = big_n * big_n
        self.n = int(n)
        # c3 = Enc(...; rc): the mask rho·q and the randomness rc (Lindell 2017 Protocol 4 step 3)
        self.rho = secrets.randbelow(SIGN_MASK_BOUND)
        self.rc = random_unit(big_n)
        # the proof's Paillier mask randomness
        self.r_enc = random_unit(big_n)
        # W_i = g^(w_i)·h^(r_i): h^(r_i) now, g^(w_i) online for w1, w2 (they depend on k2);
        # w3 = rho is known now, so W_3 is complete.
        self.rs = [secrets.randbelow(R_BOUND) for _ in range(3)]
        while True:
            self.w_tag = [
                secrets.randbelow(W12_TAG_BOUND),
                secrets.randbelow(W12_TAG_BOUND),
                secrets.randbelow(W3_TAG_BOUND),
            ]
            if self.w_tag[0] % Q and self.w_tag[1] % Q:
                break
        self.r_tag = [secrets.randbelow(R_TAG_BOUND) for _ in range(3)]
        # twelve independent exponentiations, spread over the cores
        powers = parallel_calls(
            [
                # exponent N public (P1 can recover rc and r_enc)
                (pub_powmod, self.rc, big_n, n2),
                (pub_powmod, self.r_enc, big_n, n2),
                (sec_powmod, G_PED, self.rho, N_PED),
                *((sec_powmod, H_PED, r, N_PED) for r in self.rs),
                *((sec_powmod, G_PED, w, N_PED) for w in self.w_tag),
                *((sec_powmod, H_PED, r, N_PED) for r in self.r_tag),
            ],
        )
        self.rc_n, self.r_enc_n, g_rho = powers[:3]
        self.h_rs = powers[3:6]
        self.W3 = g_rho * self.h_rs[2] % N_PED
        self.W_tag = [int(g * h % N_PED) for g, h in zip(powers[6:9], powers[9:12], strict=True)]
        self._used = False
        self._lock = threading.Lock()

    def consume(self) -> P2Presign:
        """Mark used; a second call raises (an element must never serve two signatures)."""
        with self._lock:
            if self._used:
                raise RuntimeError("a presign element was offered twice; refusing to reuse it")
            self._used = True
        return self

    @property
    def used(self) -> bool:
        return self._used

    def __repr__(self) -> str:
        return f"P2Presign(used={self._used}, <secret>)"

    def __reduce__(self) -> Any:  # never pickled: an element must not outlive its process
        raise TypeError("presign elements are never serialised")


class PresignAhead:
    """One element computed in a background thread from the start of a cold signature, while
    the first flights run (nothing in it depends on them). :meth:`get` waits for it; it is
    consumed already and belongs to that one signature."""

    def __init__(self, n: int) -> None:
        self._element: P2Presign | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(n,), name="mpc-presign-ahead", daemon=True
        )
        self._thread.start()

    def _run(self, n: int) -> None:
        try:
            self._element = P2Presign(n).consume()
        except BaseException as exc:  # noqa: BLE001 (re-raised in the signature's thread by get())
            self._error = exc

    def get(self) -> P2Presign:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._element is not None
        return self._element

    def __repr__(self) -> str:
        return "PresignAhead(<secret>)"


class PresignPool:
    """A bounded in-memory pool of :class:`P2Presign` per Paillier modulus."""

    def __init__(self, capacity: int = 4) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._items: dict[int, deque[P2Presign]] = {}
        self.used = 0  # elements handed to a signature (counts only; for /healthz and tests)

    def fill(self, n: int, count: int | None = None) -> int:
        """Compute elements for modulus ``n`` until the pool holds ``capacity`` (or ``count``
        more); returns how many were added. Meant for idle time (computed outside the lock)."""
        added = 0
        want = self.capacity if count is None else count
        while added < want:
            with self._lock:
                if len(self._items.get(int(n), ())) >= self.capacity:
                    break
            element = P2Presign(n)
            with self._lock:
                queue = self._items.setdefault(int(n), deque())
                if len(queue) >= self.capacity:
                    break
                queue.append(element)
            added += 1
        return added

    def take(self, n: int) -> P2Presign | None:
        """Remove and return an unused element for ``n``, or None (the caller computes cold)."""
        with self._lock:
            queue = self._items.get(int(n))
            if not queue:
                return None
            element = queue.popleft()
            self.used += 1
        return element.consume()

    def size(self, n: int) -> int:
        with self._lock:
            return len(self._items.get(int(n), ()))

    def held(self) -> int:
        """Elements held for every modulus."""
        with self._lock:
            return sum(len(q) for q in self._items.values())

    def drop(self, n: int) -> None:
        """Forget every element for ``n`` (after a refresh replaced the key)."""
        with self._lock:
            self._items.pop(int(n), None)

    def __repr__(self) -> str:
        return f"PresignPool(capacity={self.capacity})"


# The process's pool (the co-signer fills it while idle; ``mpc bench`` measures it warm).
POOL = PresignPool()
