"""P2's proof that its signing ciphertext c3 is well formed.

Mirrors cb-mpc ``ecdsa2pc::zk_ecdsa_sign_2pc_integer_commit_t::prove/verify``
(``src/cbmpc/protocol/ecdsa_2p.cpp``; cb-mpc spec "ZK Proof of Correctness for Message 4 from
P2 to P1"). Statement, for public N, c_key' (c_key ⊕ C_KEY_SHIFT), c, Q2, R2, m, r:
there are w1, w2, w3, w4 with

    w1·R2 = G,  w2·R2 = Q2,
    c = Enc(w1·m + w2·r + w3·q; w4) ⊕ (r ⊙ c_key')^w1,

i.e. w1 = k2^-1, w2 = k2^-1·x2, w3 = rho (the q-multiple mask) and w4 the fresh randomness.
The integer witnesses are bound by integer (Pedersen, unknown-order group) commitments so the
responses cannot wrap; sizes and ranges follow cb-mpc exactly. With it, P1 rejects a bad c3
*before* decrypting, so whether P1 aborts no longer depends on x1 (the Lindell 2017 abort
attack needs such a dependence). The challenge is 128 bits (SEC_P_COM).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from coincurve import PublicKey
from gmpy2 import mpz

from mpcwallet.engine.portable import curve, pedersen_params
from mpcwallet.engine.portable.codec import Reader, Writer
from mpcwallet.engine.portable.modexp import (
    FixedBase,
    parallel_calls,
    pub_powmod,
    sec_inverse_mod_prime,
    sec_powmod,
)
from mpcwallet.engine.portable.paillier import PaillierPublic
from mpcwallet.engine.portable.params import COM, PAILLIER_BITS, STAT, Q
from mpcwallet.engine.portable.presign import P2Presign
from mpcwallet.engine.portable.transcript import Transcript
from mpcwallet.errors import InvalidProof, MalformedMessage

N_PED = mpz(pedersen_params.N)
G_PED = mpz(pedersen_params.G)
H_PED = mpz(pedersen_params.H)

# Verifier bounds on the responses (cb-mpc ``check_right_open_range``).
_R_TT_BOUND = int(N_PED) << (2 * STAT + COM + 1)
_W12_TT_BOUND = Q << (STAT + COM + 1)
_W3_TT_BOUND = (Q * Q) << (3 * STAT + COM + 1)


@dataclass(frozen=True)
class SignProof:
    W: list[int]  # Pedersen commitments to w1, w2, w3
    W_tag: list[int]
    G_tag: PublicKey
    Q2_tag: PublicKey
    C_enc_tag: int
    e: int
    w_tt: list[int]
    r_tt: list[int]
    r_enc_tt: int


def write(w: Writer, p: SignProof) -> None:
    w.ints(p.W).ints(p.W_tag).point(p.G_tag).point(p.Q2_tag).num(p.C_enc_tag).num(p.e)
    w.ints(p.w_tt).ints(p.r_tt).num(p.r_enc_tt)


def read(r: Reader) -> SignProof:
    nbits = int(N_PED).bit_length()
    W = r.ints("W", 3, nbits)
    W_tag = r.ints("W'", 3, nbits)
    G_tag, Q2_tag = r.point("G'"), r.point("Q2'")
    C_enc_tag = r.num("C_enc'", 2 * PAILLIER_BITS)
    e = r.num("e", COM)
    r.count("w''", 3)
    w_tt = [
        r.num("w''", _W12_TT_BOUND.bit_length()),
        r.num("w''", _W12_TT_BOUND.bit_length()),
        r.num("w''", _W3_TT_BOUND.bit_length()),
    ]
    r_tt = r.ints("r''", 3, _R_TT_BOUND.bit_length())
    r_enc_tt = r.num("r_enc''", PAILLIER_BITS)
    return SignProof(W, W_tag, G_tag, Q2_tag, C_enc_tag, e, w_tt, r_tt, r_enc_tt)


# Verifier side: the responses are public, so the fixed bases g and h use precomputed powers
# (:class:`modexp.FixedBase`, Brickell-Gordon-McCurley-Wilson), tables built on first use.
_G_FIXED = FixedBase(G_PED, N_PED, _W3_TT_BOUND.bit_length())
_H_FIXED = FixedBase(H_PED, N_PED, _R_TT_BOUND.bit_length())


def _ped_public(w: int, r: int) -> Any:
    """Verifier: g^w·h^r mod N~ with public responses w and r."""
    return (_G_FIXED.pow(w) * _H_FIXED.pow(r)) % N_PED


def _commitment_sides(W: int, W_tag: int, w_tt: int, r_tt: int, e: int) -> tuple[Any, Any]:
    """Verifier: both sides of g^w''·h^r'' = W'·W^e (W^e: public commitment, public e)."""
    return _ped_public(w_tt, r_tt), (mpz(W_tag) * pub_powmod(mpz(W), e, N_PED)) % N_PED


def _key_term(pub: PaillierPublic, c_key: int, r: int, w_tt0: int) -> Any:
    """Verifier: (r ⊙ c_key')^w1'' (r and the response w1'' are public)."""
    return pub.mul_scalar(pub.mul_scalar(c_key, r), w_tt0)


def _challenge(
    t: Transcript,
    n: int,
    c_key: int,
    c: int,
    Q2: PublicKey,
    R2: PublicKey,
    m: int,
    r: int,
    W: list[int],
    W_tag: list[int],
    G_tag: PublicKey,
    Q2_tag: PublicKey,
    C_enc_tag: int,
) -> int:
    t = t.copy().add_int("N", n).add_int("c_key", c_key).add_int("c", c)
    t.add("Q2", curve.encode(Q2)).add("R2", curve.encode(R2)).add_int("m", m).add_int("r", r)
    for v in (*W, *W_tag):
        t.add_int("W", v)
    t.add("G'", curve.encode(G_tag)).add("Q2'", curve.encode(Q2_tag)).add_int("C_enc'", C_enc_tag)
    return int.from_bytes(t.digest("zk-ecdsa-sign")[: COM // 8], "big")


def prove(
    t: Transcript,
    pub: PaillierPublic,
    c_key: int,
    c: int,
    Q2: PublicKey,
    R2: PublicKey,
    m: int,
    r: int,
    k2: int,
    x2: int,
    pre: P2Presign,
    c_key_tag: Any = None,
) -> SignProof:
    """cb-mpc ``zk_ecdsa_sign_2pc_integer_commit_t::prove``. ``c_key`` is already shifted;
    ``c_key_tag`` is r ⊙ c_key if the caller has it already. ``pre`` holds the masks and
    randomness (w3 = pre.rho, c's randomness pre.rc), computed ahead or just now, used once."""
    if c_key_tag is None:
        c_key_tag = pub.mul_scalar(c_key, r)
    w1 = int(sec_inverse_mod_prime(k2, Q))
    w = [w1, w1 * x2 % Q, pre.rho]
    rs = pre.rs
    w_tag, r_tag, W_tag = pre.w_tag, pre.r_tag, pre.W_tag
    # the online exponentiations at once: g^(w1), g^(w2) and (r ⊙ c_key')^(w1')
    g_w1, g_w2, key_term = parallel_calls(
        [
            (sec_powmod, G_PED, w[0], N_PED),
            (sec_powmod, G_PED, w[1], N_PED),
            (pub.mul_secret, c_key_tag, w_tag[0]),
        ]
    )
    W = [int(g * hr % N_PED) for g, hr in zip((g_w1, g_w2), pre.h_rs[:2], strict=True)]
    W.append(int(pre.W3))
    G_tag = curve.mul(R2, w_tag[0])
    Q2_tag = curve.mul(R2, w_tag[1])
    plain = w_tag[0] * m + w_tag[1] * r + w_tag[2] * Q
    enc = pub.encrypt_with_rn(plain, pre.r_enc_n)
    C_enc_tag = int(pub.add(enc, key_term))
    e = _challenge(t, int(pub.n), c_key, c, Q2, R2, m, r, W, W_tag, G_tag, Q2_tag, C_enc_tag)
    w_tt = [wt + e * wi for wt, wi in zip(w_tag, w, strict=True)]
    r_tt = [rt + e * ri for rt, ri in zip(r_tag, rs, strict=True)]
    r_enc_tt = int((pre.r_enc * pub_powmod(mpz(pre.rc), e, pub.n)) % pub.n)  # public exponent e
    return SignProof(W, W_tag, G_tag, Q2_tag, C_enc_tag, e, w_tt, r_tt, r_enc_tt)


def verify(
    t: Transcript,
    pub: PaillierPublic,
    c_key: int,
    c: int,
    Q2: PublicKey,
    R2: PublicKey,
    m: int,
    r: int,
    p: SignProof,
) -> None:
    """cb-mpc ``zk_ecdsa_sign_2pc_integer_commit_t::verify``, same checks in the same order."""
    what = "P2's proof that its signing ciphertext is well formed"
    e = _challenge(
        t, int(pub.n), c_key, c, Q2, R2, m, r, p.W, p.W_tag, p.G_tag, p.Q2_tag, p.C_enc_tag
    )
    if e != p.e:
        raise InvalidProof(f"{what}: the challenge does not match")
    n_ped = int(N_PED)
    if not all(0 <= x < _R_TT_BOUND for x in p.r_tt):
        raise InvalidProof(f"{what}: a commitment response is out of range")
    if not (0 <= m < Q and 0 <= r < Q):
        raise MalformedMessage(f"{what}: m or r out of range")
    if not all(0 < x < n_ped for x in (*p.W, *p.W_tag)):
        raise MalformedMessage(f"{what}: a commitment is out of range")
    for x, label in ((p.C_enc_tag, "C_enc'"), (c_key, "c_key"), (c, "c")):
        if not 0 < x < pub.n2:
            raise MalformedMessage(f"{what}: {label} is out of range")
    bounds = (_W12_TT_BOUND, _W12_TT_BOUND, _W3_TT_BOUND)
    if not all(0 <= x < b for x, b in zip(p.w_tt, bounds, strict=True)):
        raise InvalidProof(f"{what}: a response is out of range")
    if not 0 < p.r_enc_tt < pub.n:
        raise MalformedMessage(f"{what}: r_enc'' is out of range")

    def mul_or_none(point: PublicKey, k: int) -> PublicKey | None:
        return curve.mul(point, k) if k % Q else None

    if not curve.equal(mul_or_none(R2, p.w_tt[0]), curve.add(curve.mul_g(e), p.G_tag)):
        raise InvalidProof(f"{what}: the nonce equation fails")
    if not curve.equal(mul_or_none(R2, p.w_tt[1]), curve.add(curve.mul(Q2, e), p.Q2_tag)):
        raise InvalidProof(f"{what}: the key-share equation fails")
    plain = p.w_tt[0] * m + p.w_tt[1] * r + p.w_tt[2] * Q
    # the independent exponentiations at once (their checks follow in cb-mpc's order)
    results = parallel_calls(
        [
            # the longest first, so that the pool's threads finish together
            (pub.encrypt, plain, mpz(p.r_enc_tt)),
            (_key_term, pub, c_key, r, p.w_tt[0]),
            (pub.mul_scalar, mpz(c), e),
            *(
                (_commitment_sides, W, W_tag, w_tt, r_tt, e)
                for W, W_tag, w_tt, r_tt in zip(p.W, p.W_tag, p.w_tt, p.r_tt, strict=True)
            ),
        ]
    )
    enc, key_term, c_e = results[:3]
    if any(lhs != rhs for lhs, rhs in results[3:]):
        raise InvalidProof(f"{what}: an integer-commitment equation fails")
    left = pub.add(enc, key_term)
    right = pub.add(mpz(p.C_enc_tag), c_e)
    if left != right:
        raise InvalidProof(f"{what}: the Paillier equation fails")
