"""Portable engine: one test per check, each playing a malicious party.

The protocols are round classes over message dataclasses, so a test runs the honest party's
real verifier and substitutes one message (or subclasses the honest party to cheat in one
place). Each check must raise the right ProtocolViolation subclass, and on P1 no signature
may come out.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import replace

import gmpy2
import pytest
from gmpy2 import mpz

from mpcwallet.engine.portable import keygen, keys, paillier_gen, refresh, signing, zk
from mpcwallet.engine.portable.paillier import PaillierPublic
from mpcwallet.engine.portable.params import Q
from mpcwallet.engine.portable.transcript import Session
from mpcwallet.errors import (
    InvalidProof,
    KeyVersionMismatch,
    MalformedMessage,
    SignatureVerificationFailed,
)

from .helpers import check_signature, digest_of


def new_session() -> Session:
    return Session(os.urandom(32), ("client", "cosigner"))


def prime_with_bits(bits: int) -> int:
    while True:
        p = gmpy2.next_prime(mpz(secrets.randbits(bits)) | (mpz(3) << (bits - 2)))
        if p.bit_length() == bits:
            return int(p)


@pytest.fixture(scope="module")
def honest_keygen() -> tuple[Session, keygen.KeygenP1, keygen.KeygenMsg1]:
    """An honest P1 after its first flight; tests replay it against fresh P2s."""
    s = new_session()
    p1 = keygen.KeygenP1(s)
    return s, p1, p1.msg1()


@pytest.fixture(scope="module")
def keypair() -> tuple[Session, keys.P1Key, keys.P2Key]:
    s = new_session()
    p1, p2 = keygen.KeygenP1(s), keygen.KeygenP2(s)
    m2 = p2.on_msg1(p1.msg1())
    k2 = p2.on_msg3(p1.on_msg2(m2))
    return s, p1.key(), k2


def with_n(m1: keygen.KeygenMsg1, n: int) -> keygen.KeygenMsg1:
    return replace(m1, paillier=replace(m1.paillier, n=n))


# --- malicious P1 during keygen: P2 rejects --------------------------------------------------


def test_honest_keygen_passes_all_checks(
    keypair: tuple[Session, keys.P1Key, keys.P2Key],
) -> None:
    _, k1, k2 = keypair
    assert k1.fingerprint == k2.fingerprint
    assert k1.Q.format() == k2.Q.format()


def test_p1_modulus_prime_is_rejected(honest_keygen: tuple) -> None:  # type: ignore[type-arg]
    s, _, m1 = honest_keygen
    with pytest.raises(InvalidProof, match="is a prime"):
        keygen.KeygenP2(s).on_msg1(with_n(m1, prime_with_bits(2048)))


def test_p1_modulus_square_is_rejected(honest_keygen: tuple) -> None:  # type: ignore[type-arg]
    s, _, m1 = honest_keygen
    p = prime_with_bits(1024)
    with pytest.raises(InvalidProof, match="perfect square"):
        keygen.KeygenP2(s).on_msg1(with_n(m1, p * p))


def test_p1_modulus_with_small_factor_is_rejected(honest_keygen: tuple) -> None:  # type: ignore[type-arg]
    s, _, m1 = honest_keygen
    n = 8191 * prime_with_bits(2035)
    assert n.bit_length() == 2048
    with pytest.raises(InvalidProof, match="small prime factor"):
        keygen.KeygenP2(s).on_msg1(with_n(m1, n))


def test_p1_modulus_of_wrong_size_is_rejected(honest_keygen: tuple) -> None:  # type: ignore[type-arg]
    s, _, m1 = honest_keygen
    with pytest.raises(MalformedMessage, match="bits"):
        keygen.KeygenP2(s).on_msg1(with_n(m1, prime_with_bits(1024) * prime_with_bits(1023)))


def test_p1_c_key_out_of_range_is_rejected(honest_keygen: tuple) -> None:  # type: ignore[type-arg]
    s, _, m1 = honest_keygen
    n = m1.paillier.n
    for bad in (0, n * n, n * 5):
        msg = replace(m1, paillier=replace(m1.paillier, c_key=bad))
        with pytest.raises(MalformedMessage, match="c_key"):
            keygen.KeygenP2(s).on_msg1(msg)


class _P1EncryptsOtherValue(keygen.KeygenP1):
    def make_prover(self, paillier):  # type: ignore[no-untyped-def]
        class Prover(paillier_gen.PaillierGenProver):
            def plaintext(self) -> int:
                return (self._x1 + 1) % Q

        return Prover(self.session, keygen.STEP, self._x1, paillier)


class _P1WrongDLProof(keygen.KeygenP1):
    def prove_share(self) -> zk.DLProof:
        good = super().prove_share()
        return zk.DLProof(good.A, (good.z + 1) % Q)


def _run_keygen_against_p2(p1: keygen.KeygenP1, s: Session) -> keys.P2Key:
    p2 = keygen.KeygenP2(s)
    m2 = p2.on_msg1(p1.msg1())
    return p2.on_msg3(p1.on_msg2(m2))


def test_p1_c_key_encrypting_another_value_is_rejected() -> None:
    s = new_session()
    with pytest.raises(InvalidProof, match="Paillier equation"):
        _run_keygen_against_p2(_P1EncryptsOtherValue(s), s)


def test_p1_wrong_dl_proof_is_rejected() -> None:
    s = new_session()
    with pytest.raises(InvalidProof, match="discrete-log proof"):
        _run_keygen_against_p2(_P1WrongDLProof(s), s)


def test_p1_changing_q1_after_commitment_is_rejected() -> None:
    s = new_session()
    p1, p2 = keygen.KeygenP1(s), keygen.KeygenP2(s)
    m3 = p1.on_msg2(p2.on_msg1(p1.msg1()))
    fake_q1 = zk.curve.mul_g(zk.curve.random_scalar())
    with pytest.raises(InvalidProof, match="commitment"):
        p2.on_msg3(replace(m3, Q1=fake_q1))


def test_p1_bad_paillier_roots_are_rejected() -> None:
    s = new_session()
    p1, p2 = keygen.KeygenP1(s), keygen.KeygenP2(s)
    m3 = p1.on_msg2(p2.on_msg1(p1.msg1()))
    sigmas = list(m3.paillier.sigmas)
    sigmas[3] = (sigmas[3] * 2) % p1.key().paillier.n
    with pytest.raises(InvalidProof, match="N-th roots"):
        p2.on_msg3(replace(m3, paillier=replace(m3.paillier, sigmas=sigmas)))


def test_p1_pdl_response_out_of_range_is_rejected() -> None:
    s = new_session()
    p1, p2 = keygen.KeygenP1(s), keygen.KeygenP2(s)
    m3 = p1.on_msg2(p2.on_msg1(p1.msg1()))
    pdl = m3.paillier.pdl
    # the range check must catch it
    bad = replace(m3.paillier, pdl=replace(pdl, z=pdl.z + (1 << 600)))
    with pytest.raises(InvalidProof, match="out of range"):
        p2.on_msg3(replace(m3, paillier=bad))


class _P1LargePlaintext(keygen.KeygenP1):
    """c_key, Com and every response use X = x1 + q·2^70: X·G = Q1, but X is far out of range."""

    def make_prover(self, paillier):  # type: ignore[no-untyped-def]
        big = self._x1 + (Q << 70)

        class Prover(paillier_gen.PaillierGenProver):
            def plaintext(self) -> int:
                return big

            def witness(self) -> int:
                return big

        return Prover(self.session, keygen.STEP, self._x1, paillier)


def test_p1_c_key_of_a_large_value_congruent_to_x1_is_rejected() -> None:
    s = new_session()
    with pytest.raises(InvalidProof, match="out of range"):
        _run_keygen_against_p2(_P1LargePlaintext(s), s)


def test_p1_reopening_its_first_messages_differently_is_rejected() -> None:
    s = new_session()
    p1, p2 = keygen.KeygenP1(s), keygen.KeygenP2(s)
    m3 = p1.on_msg2(p2.on_msg1(p1.msg1()))
    first = list(m3.paillier.range_first)
    first[0] = first[1]
    with pytest.raises(InvalidProof, match="commitment"):
        p2.on_msg3(replace(m3, paillier=replace(m3.paillier, range_first=first)))


def test_refresh_p1_c_key_encrypting_another_value_is_rejected(
    keypair: tuple[Session, keys.P1Key, keys.P2Key],
) -> None:
    _, k1, k2 = keypair
    s = new_session()

    class Cheat(refresh.RefreshP1):
        def on_msg2(self, m: refresh.RefreshMsg2) -> refresh.RefreshMsg3:
            out = super().on_msg2(m)
            assert self._pg is not None
            pg = self._pg
            cheat = pg.paillier.encrypt_fast(self._x1_new + 1, 7)
            pg.c_key = int(cheat)
            return replace(out, paillier=replace(out.paillier, c_key=int(cheat)))

    p1, p2 = Cheat(s, k1), refresh.RefreshP2(s, k2)
    m4 = p2.on_msg3(p1.on_msg2(p2.on_msg1(p1.msg1())))
    with pytest.raises(InvalidProof):
        p2.on_msg5(p1.on_msg4(m4))


# --- malicious P2 during signing: P1 rejects and releases nothing -----------------------------


def _sign_until_msg2(
    keypair: tuple[Session, keys.P1Key, keys.P2Key], digest: bytes
) -> tuple[signing.SignP1, signing.SignP2, signing.SignMsg2]:
    _, k1, k2 = keypair
    s = new_session()
    p1, p2 = signing.SignP1(s, k1, digest), signing.SignP2(s, k2, digest)
    return p1, p2, p2.on_msg1(p1.msg1())


def test_honest_round_functions_sign(keypair: tuple[Session, keys.P1Key, keys.P2Key]) -> None:
    d = digest_of("honest")
    p1, p2, m2 = _sign_until_msg2(keypair, d)
    der = p1.on_msg4(p2.on_msg3(p1.on_msg2(m2)))
    check_signature(keypair[1].Q.format(), d, der)


def _off_curve_point() -> bytes:
    x = 1
    while True:
        candidate = b"\x02" + x.to_bytes(32, "big")
        try:
            zk.curve.parse(candidate, "probe")
        except MalformedMessage:
            return candidate
        x += 1


def test_p2_off_curve_r2_is_rejected(keypair: tuple[Session, keys.P1Key, keys.P2Key]) -> None:
    _, _, m2 = _sign_until_msg2(keypair, digest_of("a"))
    data = signing.encode2(m2)
    r2 = m2.R2.format()
    assert data.count(r2) == 1
    with pytest.raises(MalformedMessage, match="R2"):
        signing.decode2(data.replace(r2, _off_curve_point()))


def test_p2_infinity_r2_is_rejected(keypair: tuple[Session, keys.P1Key, keys.P2Key]) -> None:
    _, _, m2 = _sign_until_msg2(keypair, digest_of("a"))
    data = signing.encode2(m2)
    r2 = m2.R2.format()
    # SEC1 infinity is the single byte 0x00; also try a 33-byte all-zero encoding.
    infinity_1 = (1).to_bytes(4, "big") + b"\x00"
    with pytest.raises(MalformedMessage, match="R2"):
        signing.decode2(data.replace((33).to_bytes(4, "big") + r2, infinity_1))
    with pytest.raises(MalformedMessage, match="R2"):
        signing.decode2(data.replace(r2, b"\x00" * 33))


def test_p2_wrong_dl_proof_is_rejected(keypair: tuple[Session, keys.P1Key, keys.P2Key]) -> None:
    p1, _, m2 = _sign_until_msg2(keypair, digest_of("b"))
    bad = replace(m2, pi2=zk.DLProof(m2.pi2.A, (m2.pi2.z + 1) % Q))
    with pytest.raises(InvalidProof, match="discrete-log proof"):
        p1.on_msg2(bad)


def test_p2_proof_for_another_point_is_rejected(
    keypair: tuple[Session, keys.P1Key, keys.P2Key],
) -> None:
    p1, _, m2 = _sign_until_msg2(keypair, digest_of("b2"))
    other = zk.curve.mul_g(zk.curve.random_scalar())
    with pytest.raises(InvalidProof, match="discrete-log proof"):
        p1.on_msg2(replace(m2, R2=other))


def _sign_until_msg4(
    keypair: tuple[Session, keys.P1Key, keys.P2Key], digest: bytes, p2_class: type = signing.SignP2
) -> tuple[signing.SignP1, signing.SignMsg4]:
    _, k1, k2 = keypair
    s = new_session()
    p1, p2 = signing.SignP1(s, k1, digest), p2_class(s, k2, digest)
    return p1, p2.on_msg3(p1.on_msg2(p2.on_msg1(p1.msg1())))


class _P1WithoutC3Proof(signing.SignP1):
    """Skips P2's proof, to test the last line of defence (the signature check) on its own."""

    def check_c3_proof(self, m: signing.SignMsg4, r: int) -> None:
        return None


@pytest.mark.parametrize("which", ["zero", "n_squared", "above", "not_coprime"])
def test_p2_ciphertext_out_of_range_is_rejected(
    keypair: tuple[Session, keys.P1Key, keys.P2Key], which: str
) -> None:
    p1, m4 = _sign_until_msg4(keypair, digest_of("c"))
    n = int(keypair[1].paillier.n)
    bad = {"zero": 0, "n_squared": n * n, "above": n * n + 12345, "not_coprime": n * 77}[which]
    with pytest.raises(MalformedMessage, match="c3"):
        p1.on_msg4(replace(m4, c3=bad))


def test_p2_malformed_ciphertext_encoding_is_rejected(
    keypair: tuple[Session, keys.P1Key, keys.P2Key],
) -> None:
    _, m4 = _sign_until_msg4(keypair, digest_of("c2"))
    data = signing.encode4(m4)
    assert signing.decode4(data) == m4
    with pytest.raises(MalformedMessage):
        signing.decode4(data[:-1])  # truncated
    with pytest.raises(MalformedMessage):
        signing.decode4(data + b"\x01")  # trailing
    from mpcwallet.engine.portable.codec import Reader

    with pytest.raises(MalformedMessage, match="minimally"):
        Reader(b"\x07" + (2).to_bytes(4, "big") + b"\x00\x05", 7, "x").num("v", 64)
    with pytest.raises(MalformedMessage, match=r"too large|bad length"):
        signing.decode4(signing.encode4(replace(m4, c3=1 << 4096)))
    with pytest.raises(MalformedMessage, match="message type"):
        signing.decode4(signing.encode1(signing.SignMsg1(b"\x00" * 32, b"\x00" * 32)))


class _P2WrongPlaintext(signing.SignP2):
    def plaintext(self, value: int) -> int:
        return value + 1  # s off by one: the abort attack's kind of probe


def test_p2_ciphertext_decrypting_to_wrong_s_fails_its_proof(
    keypair: tuple[Session, keys.P1Key, keys.P2Key],
) -> None:
    p1, m4 = _sign_until_msg4(keypair, digest_of("d"), _P2WrongPlaintext)
    with pytest.raises(InvalidProof, match="well formed"):
        p1.on_msg4(m4)


def test_p2_ciphertext_decrypting_to_wrong_s_fails_the_signature_check(
    keypair: tuple[Session, keys.P1Key, keys.P2Key],
) -> None:
    _, k1, k2 = keypair
    d = digest_of("d2")
    s = new_session()
    p1, p2 = _P1WithoutC3Proof(s, k1, d), _P2WrongPlaintext(s, k2, d)
    m4 = p2.on_msg3(p1.on_msg2(p2.on_msg1(p1.msg1())))
    with pytest.raises(SignatureVerificationFailed, match="quarantine"):
        p1.on_msg4(m4)


def test_p2_valid_ciphertext_of_garbage_is_rejected(
    keypair: tuple[Session, keys.P1Key, keys.P2Key],
) -> None:
    p1, m4 = _sign_until_msg4(keypair, digest_of("e"))
    pub = PaillierPublic(int(keypair[1].paillier.n))
    c = int(pub.encrypt(secrets.randbelow(Q), mpz(3)))
    with pytest.raises(InvalidProof, match="well formed"):
        p1.on_msg4(replace(m4, c3=c))
    _, k1, k2 = keypair
    s = new_session()
    d = digest_of("e2")
    p1b, p2b = _P1WithoutC3Proof(s, k1, d), signing.SignP2(s, k2, d)
    m4b = p2b.on_msg3(p1b.on_msg2(p2b.on_msg1(p1b.msg1())))
    with pytest.raises(SignatureVerificationFailed):
        p1b.on_msg4(replace(m4b, c3=c))


@pytest.mark.parametrize(
    "field",
    ["W", "W_tag", "G_tag", "Q2_tag", "C_enc_tag", "e", "w_tt", "w_tt_range", "r_tt", "r_enc_tt"],
)
def test_p2_c3_proof_tampering_is_rejected(
    keypair: tuple[Session, keys.P1Key, keys.P2Key], field: str
) -> None:
    p1, m4 = _sign_until_msg4(keypair, digest_of("p"))
    pr = m4.proof
    other_point = zk.curve.mul_g(zk.curve.random_scalar())
    changes: dict[str, object] = {
        "W": {"W": [pr.W[0] + 1, *pr.W[1:]]},
        "W_tag": {"W_tag": [pr.W_tag[0], pr.W_tag[1] + 1, pr.W_tag[2]]},
        "G_tag": {"G_tag": other_point},
        "Q2_tag": {"Q2_tag": other_point},
        "C_enc_tag": {"C_enc_tag": pr.C_enc_tag + 1},
        "e": {"e": pr.e ^ 1},
        "w_tt": {"w_tt": [pr.w_tt[0] + 1, *pr.w_tt[1:]]},
        "w_tt_range": {"w_tt": [*pr.w_tt[:2], pr.w_tt[2] + (Q * Q << 400)]},
        "r_tt": {"r_tt": [*pr.r_tt[:2], pr.r_tt[2] + 1]},
        "r_enc_tt": {"r_enc_tt": pr.r_enc_tt + 1},
    }[field]
    bad = replace(m4, proof=replace(pr, **changes))  # type: ignore[arg-type]
    with pytest.raises(InvalidProof):
        p1.on_msg4(bad)
    assert p1.on_msg4(m4)  # the untouched proof still passes


# --- malicious P1 during signing: P2 rejects ------------------------------------------------


def test_p1_wrong_nonce_proof_is_rejected(
    keypair: tuple[Session, keys.P1Key, keys.P2Key],
) -> None:
    _, k1, k2 = keypair
    d = digest_of("f")
    s = new_session()

    class Cheat(signing.SignP1):
        def prove_nonce(self) -> zk.DLProof:
            good = super().prove_nonce()
            return zk.DLProof(good.A, (good.z + 1) % Q)

    p1, p2 = Cheat(s, k1, d), signing.SignP2(s, k2, d)
    m3 = p1.on_msg2(p2.on_msg1(p1.msg1()))
    with pytest.raises(InvalidProof, match="discrete-log proof"):
        p2.on_msg3(m3)


def test_p1_committed_to_another_digest_is_rejected(
    keypair: tuple[Session, keys.P1Key, keys.P2Key],
) -> None:
    _, k1, k2 = keypair
    s = new_session()
    p1, p2 = signing.SignP1(s, k1, digest_of("one")), signing.SignP2(s, k2, digest_of("two"))
    m3 = p1.on_msg2(p2.on_msg1(p1.msg1()))
    with pytest.raises(InvalidProof, match="commitment"):
        p2.on_msg3(m3)


def test_other_key_version_is_refused_before_any_secret_moves(
    keypair: tuple[Session, keys.P1Key, keys.P2Key],
) -> None:
    _, k1, k2 = keypair
    s = new_session()
    p1 = signing.SignP1(s, k1, digest_of("g"))
    m1 = replace(p1.msg1(), fingerprint=b"\x01" * 32)
    with pytest.raises(KeyVersionMismatch):
        signing.SignP2(s, k2, digest_of("g")).on_msg1(m1)


# --- blobs and reprs ---------------------------------------------------------------------------


def test_blob_round_trip_and_damage(keypair: tuple[Session, keys.P1Key, keys.P2Key]) -> None:
    _, k1, k2 = keypair
    b1, b2 = keys.encode_p1(k1), keys.encode_p2(k2)
    assert keys.decode_p1(b1).fingerprint == k1.fingerprint
    assert keys.decode_p2(b2).fingerprint == k2.fingerprint
    assert keys.public_key(b1) == keys.public_key(b2) == k1.Q.format()
    from mpcwallet.errors import KeyBlobMismatch

    for bad in (b1[:-1], b1 + b"\x00", b1[:20]):
        with pytest.raises(KeyBlobMismatch):
            keys.decode_p1(bad)
    from mpcwallet.engine import blob
    from mpcwallet.engine.base import Role
    from mpcwallet.engine.portable.codec import Writer

    w = Writer(keys.P1_PAYLOAD_V1).num(5).num(4).num(4).num(3)  # p = q = 4: not a key
    payload = w.point(k1.Q).point(k1.Q1).num(0).getvalue()
    with pytest.raises(KeyBlobMismatch, match="damaged"):
        keys.decode_p1(blob.wrap("portable", Role.P1, payload))
    with pytest.raises(KeyBlobMismatch, match="payload version"):
        keys.decode_p2(blob.wrap("portable", Role.P2, b"\x99" + payload[1:]))


def test_reprs_hide_secrets(keypair: tuple[Session, keys.P1Key, keys.P2Key]) -> None:
    _, k1, k2 = keypair
    p, q = k1.paillier.primes
    secrets_text = [str(k1.x1), hex(k1.x1)[2:], str(k2.x2), hex(k2.x2)[2:], str(p), hex(q)[2:]]
    s = new_session()
    texts = [
        repr(k1),
        repr(k2),
        repr(k1.paillier),
        repr(signing.SignP1(s, k1, digest_of("h"))),
        repr(signing.SignP2(s, k2, digest_of("h"))),
    ]
    for text in texts:
        for secret in secrets_text:
            assert secret not in text


def test_negative_plaintext_is_decoded_as_cb_mpc_does(
    keypair: tuple[Session, keys.P1Key, keys.P2Key],
) -> None:
    """A c3 whose plaintext is a negative integer ≡ the right value mod q still decodes."""
    _, k1, k2 = keypair
    d = digest_of("negative")
    s = new_session()

    class NegativeP2(signing.SignP2):
        def plaintext(self, value: int) -> int:
            return value - (Q << 1200)

    p1, p2 = _P1WithoutC3Proof(s, k1, d), NegativeP2(s, k2, d)
    m4 = p2.on_msg3(p1.on_msg2(p2.on_msg1(p1.msg1())))
    check_signature(k1.Q.format(), d, p1.on_msg4(m4))
