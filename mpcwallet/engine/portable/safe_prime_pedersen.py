"""The fixed Pedersen group of keygen's range proofs (cb-mpc ``zk::pedersen_commitment_params_t``).

cb-mpc (``src/cbmpc/zk/zk_pedersen.cpp``, commit 2369813b8b0507ce20febd1d81ef1708cdbb42d7) fixes a
2048-bit safe prime p = 2p' + 1 (``PED_P_BIN``, made with OpenSSL's ``BN_generate_prime_ex`` with
``safe = 1``; copied here verbatim), sqrt_g = 2, g = sqrt_g^2 = 4, and sqrt_h derived from a hash
so that nobody knows log_g(h); h = sqrt_h^2. Commitments g^x·h^r live in the subgroup of squares,
of prime order p'. cb-mpc hashes with its own ``ro::hash_number``; we derive sqrt_h the same way
in spirit (SHAKE-256 of a label and p, p', g, reduced mod p), so only the hash differs: a value
nobody chose. ``tests/engine/test_keygen_proofs.py`` checks that p and p' are prime and that g and h
lie in the order-p' subgroup.

Exponentiations of the fixed bases by PUBLIC exponents (the verifier's side) use precomputed
tables (:class:`~mpcwallet.engine.portable.modexp.FixedBase`); a prover's secret exponents use
``sec_powmod``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from gmpy2 import mpz

from mpcwallet.engine.portable.modexp import FixedBase, pub_powmod

P = mpz(
    int(
        "d8f79b66d2cf0446a77b038deccf863211e429e71829772c47d7e392134b92972210566d7defdc884dcef334"
        "9c671d4981c59d5e07758056470f17d0a3bf0bf95f6dc5c52c9f5255dc5211504061b65030c07e75cf3786ae"
        "1c7c4b87c5d8e922b6a4a9371410a79dd25e9fa3f2d7b8c1f3040775e2b5acb73f9247aa634ea61a784a0f25"
        "53d516419e3f167f82944f9d1add101bc6a39c631de14f3ca4ccb685bff12e920d013cf0978a464ab5ba5982"
        "7a121b011f4575479e88a9c7943125bfd52e489720c70165a502aab7d59b4d17dec405b069fa8f62a41de3ab"
        "bad5f60bcae746e64a52cbc1033a24d3095aef0e17b50e23f2c57d8ad97b7caca9dcb93f",
        16,
    )
)
P_TAG = (P - 1) // 2
SQRT_G = mpz(2)
G = SQRT_G * SQRT_G


def _hash_to_zp(label: bytes) -> Any:
    data = b"".join(len(x).to_bytes(4, "big") + x for x in (label, *map(_be, (P, P_TAG, G))))
    width = (P.bit_length() + 128 + 7) // 8  # 128 extra bits: the reduction's bias is 2^-128
    return mpz(int.from_bytes(hashlib.shake_256(data).digest(width), "big")) % P


def _be(x: Any) -> bytes:
    return int(x).to_bytes((int(x).bit_length() + 7) // 8, "big")


SQRT_H = _hash_to_zp(b"mpcwallet/portable/v1 Pedersen commitment parameter h")
H = SQRT_H * SQRT_H % P

# That p and p' are prime, and that g and h lie in the order-p' subgroup and are not 1, is
# checked by tests/engine/test_keygen_proofs.py, not at import: the Miller-Rabin rounds would
# cost every portable `mpc sign` about 0.16 s for constants that never change.

# g^e and h^e for public e below p' (verifiers only).
G_TABLE = FixedBase(G, P, P_TAG.bit_length() + 1)
H_TABLE = FixedBase(H, P, P_TAG.bit_length() + 1)


def in_subgroup(x: int) -> bool:
    """cb-mpc ``check_safe_prime_subgroup``: 0 < x < p and x^p' = 1 mod p (x is a square)."""
    return bool(0 < x < P and pub_powmod(mpz(x), P_TAG, P) == 1)
