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
* Keygen's proofs about c_key (:mod:`zk_pedersen`, :mod:`zk_pdl`) are cb-mpc's
  ``paillier_gen_interactive_t``: a Pedersen commitment Com to x1 in a safe-prime group, a proof
  that c_key and Com hold the same x1 (``paillier_pedersen_equal_interactive_t``: ``EQ_REPS``
  repetitions of 13-bit challenges, invertible modulo N because N has no factor below ALPHA),
  a range proof for Com (``range_pedersen_interactive_t``: ``RANGE_REPS`` binary challenges,
  responses below ``q·2^STAT``) and the PDL proof with a 256-bit challenge (``pdl_t``). cb-mpc's
  interactive proofs use ``SEC_P_STAT_SHORT = 50`` (4 x 13 bits, 50 repetitions); we keep this
  engine's earlier 2^-64: ``EQ_REPS = ceil(64 / 13) = 5`` and ``RANGE_REPS = 64``, with the
  challenges chosen by P2 (its fresh ``kV``) after P1 committed to its first messages.
  An extracted x1 lies in ``(-q·2^STAT, q·2^STAT)``; the range Lindell 2017 §6 needs so that
  P2's homomorphic evaluation never wraps modulo N, and below ``C_KEY_SHIFT``.
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

LOG_ALPHA = 13
EQ_REPS = -(-STAT // LOG_ALPHA)
EQ_CHALLENGE_BITS = EQ_REPS * LOG_ALPHA
RANGE_REPS = STAT
# Bounds on the responses (cb-mpc's ``q_with_slack`` of each proof).
EQ_MASK_BOUND = Q << (LOG_ALPHA + STAT)  # paillier_pedersen_equal: r_i and d_i
RANGE_BOUND = Q << STAT  # range_pedersen: x_i and d_i
PDL_Z_BOUND = (Q * Q + 1) << STAT  # pdl_t: z
# An extracted x1 is below RANGE_BOUND in absolute value. A multiple of q larger than that is
# added to the plaintext of c_key before P2 uses it, so the plaintext is positive even if a
# (proven) x1 is negative (cb-mpc adds q << SEC_P_STAT; we keep this engine's q << (STAT + 1)).
C_KEY_SHIFT = Q << (STAT + 1)
assert C_KEY_SHIFT > RANGE_BOUND

SIGN_MASK_BOUND = (Q * Q) << (2 * STAT)

# Sizes for parsing.
POINT_BYTES = 33
NONCE_BYTES = 32
DIGEST_BYTES = 32
