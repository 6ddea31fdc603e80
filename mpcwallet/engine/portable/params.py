"""Security parameters of the portable engine, with where each comes from.

* ``STAT = 64`` and ``COM = 128`` are cb-mpc's ``SEC_P_STAT`` and ``SEC_P_COM``
  (``include-internal/cbmpc/internal/crypto/base.h``).
* The Paillier modulus has exactly ``PAILLIER_BITS = 2048`` bits, as cb-mpc's
  ``paillier_t::bit_size``; it must also be at least ``3·log q + 3·STAT + COM + 1`` bits
  (cb-mpc ``paillier_gen_interactive_t::step4_p2_output``).
* Valid-Paillier proof (cb-mpc ``zk::valid_paillier_interactive_t``, after Goldberg, Reyzin,
  Sagga, Baldimtsi 2019): no prime factor below ``ALPHA = 2**13`` and ``VALID_PAILLIER_ROOTS =
  ceil(128 / 13) = 10`` N-th roots, each passing with probability at most 1/ALPHA when
  gcd(N, phi(N)) != 1, so soundness 2^-130 (cb-mpc ``paillier_non_interactive_param_t``).
* PDL proof (c_key encrypts the discrete log of Q1, with range slack): binary challenges, one
  bit per repetition, ``PDL_REPS = STAT = 64`` repetitions with the challenge chosen by P2 after
  P1's commitments (interactive, as cb-mpc's keygen proofs), so soundness 2^-64. Masks are drawn
  from ``[0, 2^(256 + PDL_SLACK_BITS))`` with ``PDL_SLACK_BITS = STAT``, so each response hides
  x1 up to 2^-64 (2^-58 over all 64), and the shifted c_key plaintext stays as small as cb-mpc's
  (x1 + q·2^65 against cb-mpc's x1 + q·2^64), which keeps the signing mask's statistical
  hiding at cb-mpc's level (about 2^-62).
  An extracted x1 lies in ``(-PDL_BOUND, PDL_BOUND)``; the range Lindell 2017 §6 needs so that
  P2's homomorphic evaluation never wraps modulo N.
* Signing mask: ``rho`` uniform below ``q^2 · 2^(2·STAT)`` (cb-mpc ``ecdsa2pc::sign_batch_impl``).
* P2's proof that c3 is well formed (:mod:`zk_sign`): cb-mpc's sizes verbatim (128-bit
  challenge, masks with STAT + COM bits of slack, cb-mpc's fixed unknown-order Pedersen group).
"""

from __future__ import annotations

# secp256k1 group order
Q = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

STAT = 64
COM = 128

PAILLIER_BITS = 2048
PRIME_BITS = PAILLIER_BITS // 2
MIN_PAILLIER_BITS = 3 * Q.bit_length() + 3 * STAT + COM + 1
assert PAILLIER_BITS >= MIN_PAILLIER_BITS

ALPHA = 1 << 13
VALID_PAILLIER_ROOTS = -(-COM // 13)

PDL_REPS = STAT
PDL_SLACK_BITS = STAT
PDL_MASK_BOUND = 1 << (Q.bit_length() + PDL_SLACK_BITS)
# An honest response is alpha + x1 < PDL_MASK_BOUND + Q.
PDL_BOUND = PDL_MASK_BOUND + Q
# A multiple of q larger than PDL_BOUND: added to the plaintext of c_key before P2 uses it, so
# the plaintext is positive even if a (proven) x1 is negative (cb-mpc adds q << SEC_P_STAT).
C_KEY_SHIFT = Q << (PDL_SLACK_BITS + 1)
assert C_KEY_SHIFT > PDL_BOUND

SIGN_MASK_BOUND = (Q * Q) << (2 * STAT)

# Sizes for parsing.
POINT_BYTES = 33
NONCE_BYTES = 32
DIGEST_BYTES = 32
