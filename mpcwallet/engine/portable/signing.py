"""Two-party signing (Lindell 2017 Protocol 4 with additive shares, as cb-mpc
``ecdsa2pc::sign_batch_impl`` for one message).

Flights::

    P1 -> P2  SignMsg1: key fingerprint, commitment to (digest, R1, proof of k1)
    P2 -> P1  SignMsg2: key fingerprint, R2, proof of k2
    P1 -> P2  SignMsg3: opening (R1, proof of k1)
    P2 -> P1  SignMsg4: c3 = Enc(k2^-1·m + (k2^-1·x2 mod q)·r + rho·q) ⊕ (c_key ⊕ SHIFT)^(k2^-1·r),
              and the proof that c3 is so formed
    P1 -> P2  the DER signature, once it verified (P2 learns the outcome, as on cb-mpc: our
              cbmpc.py engine sends the same confirmation after ``ecdsa_2p_sign``)

P1 decrypts, s = k1^-1 · Dec(c3) mod q, takes the low s, and verifies (r, s) against Q before it
returns the signature. A failed check raises :class:`SignatureVerificationFailed`: the key must
then be quarantined (Lindell 2017 §1.2/§4: a P2 that learns whether P1 aborted can extract x1
bit by bit, so P1 never retries). P2 also proves c3 well formed (cb-mpc
``zk_ecdsa_sign_2pc_integer_commit_t``, :mod:`zk_sign`), which P1 checks before decrypting.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from coincurve import PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from gmpy2 import mpz

from mpcwallet.engine.portable import curve, zk, zk_sign
from mpcwallet.engine.portable.codec import Reader, Writer
from mpcwallet.engine.portable.keys import P1Key, P2Key
from mpcwallet.engine.portable.modexp import sec_inverse_mod_prime
from mpcwallet.engine.portable.paillier import PaillierPublic
from mpcwallet.engine.portable.params import C_KEY_SHIFT, PAILLIER_BITS, Q
from mpcwallet.engine.portable.presign import P2Presign, PresignAhead
from mpcwallet.engine.portable.transcript import Session, Transcript, check_opening, commit
from mpcwallet.errors import (
    BadInput,
    InvalidProof,
    KeyVersionMismatch,
    ProtocolViolation,
    SignatureVerificationFailed,
)

TAG1, TAG2, TAG3, TAG4 = 0x21, 0x22, 0x23, 0x24
MAX_DER = 72  # a DER secp256k1 signature: 2 + (2 + 33) + (2 + 33)
STEP = "sign"


@dataclass(frozen=True)
class SignMsg1:
    fingerprint: bytes
    com: bytes


@dataclass(frozen=True)
class SignMsg2:
    fingerprint: bytes
    R2: PublicKey
    pi2: zk.DLProof


@dataclass(frozen=True)
class SignMsg3:
    com_rand: bytes
    R1: PublicKey
    pi1: zk.DLProof


@dataclass(frozen=True)
class SignMsg4:
    c3: int
    proof: zk_sign.SignProof


def encode1(m: SignMsg1) -> bytes:
    return Writer(TAG1).raw(m.fingerprint).raw(m.com).getvalue()


def decode1(data: bytes) -> SignMsg1:
    r = Reader(data, TAG1, "sign message 1")
    m = SignMsg1(r.raw("fingerprint", 32, exact=32), r.raw("com", 32, exact=32))
    r.done()
    return m


def encode2(m: SignMsg2) -> bytes:
    return Writer(TAG2).raw(m.fingerprint).point(m.R2).point(m.pi2.A).num(m.pi2.z).getvalue()


def decode2(data: bytes) -> SignMsg2:
    r = Reader(data, TAG2, "sign message 2")
    fp = r.raw("fingerprint", 32, exact=32)
    m = SignMsg2(fp, r.point("R2"), zk.DLProof(r.point("pi2.A"), r.num("pi2.z", 256)))
    r.done()
    return m


def encode3(m: SignMsg3) -> bytes:
    return Writer(TAG3).raw(m.com_rand).point(m.R1).point(m.pi1.A).num(m.pi1.z).getvalue()


def decode3(data: bytes) -> SignMsg3:
    r = Reader(data, TAG3, "sign message 3")
    rand = r.raw("com_rand", 32, exact=32)
    m = SignMsg3(rand, r.point("R1"), zk.DLProof(r.point("pi1.A"), r.num("pi1.z", 256)))
    r.done()
    return m


def encode4(m: SignMsg4) -> bytes:
    w = Writer(TAG4).num(m.c3)
    zk_sign.write(w, m.proof)
    return w.getvalue()


def decode4(data: bytes) -> SignMsg4:
    r = Reader(data, TAG4, "sign message 4")
    m = SignMsg4(r.num("c3", 2 * PAILLIER_BITS), zk_sign.read(r))
    r.done()
    return m


def digest_to_int(digest: bytes) -> int:
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise BadInput("the digest to sign must be exactly 32 bytes", field="digest")
    return int.from_bytes(digest, "big") % Q


def _dl_transcript(session: Session, party: int) -> Transcript:
    return session.transcript(f"{STEP}/dl/P{party}")


def _opening(digest: bytes, R1: PublicKey, pi1: zk.DLProof) -> bytes:
    return Writer(0).raw(digest).point(R1).point(pi1.A).num(pi1.z).getvalue()


def _check_fingerprint(mine: bytes, theirs: bytes) -> None:
    if not hmac.compare_digest(mine, theirs):
        raise KeyVersionMismatch(
            "the two parties hold shares of different key versions (one side was refreshed "
            "or restored from an older backup); use the matching shares"
        )


class SignP1:
    def __init__(self, session: Session, key: P1Key, digest: bytes) -> None:
        self.session = session
        self.key = key
        self.digest = digest
        self._m = digest_to_int(digest)
        self._k1 = curve.random_scalar()
        self.R1 = curve.mul_g(self._k1)
        self._pi1 = self.prove_nonce()
        self._com, self._rand = commit(
            session, session.names[0], STEP + "/R1", _opening(digest, self.R1, self._pi1)
        )
        self._R: PublicKey | None = None
        self._R2: PublicKey | None = None

    def prove_nonce(self) -> zk.DLProof:
        return zk.dl_prove(_dl_transcript(self.session, 1), self.R1, self._k1)

    def msg1(self) -> SignMsg1:
        return SignMsg1(self.key.fingerprint, self._com)

    def on_msg2(self, m: SignMsg2) -> SignMsg3:
        _check_fingerprint(self.key.fingerprint, m.fingerprint)
        zk.dl_verify(_dl_transcript(self.session, 2), m.R2, m.pi2, "P2's nonce share")
        self._R = curve.mul(m.R2, self._k1)
        self._R2 = m.R2
        return SignMsg3(self._rand, self.R1, self._pi1)

    def on_msg4(self, m: SignMsg4) -> bytes:
        """The DER signature, verified against Q, low s."""
        assert self._R is not None
        paillier = self.key.paillier
        paillier.check_ciphertext(m.c3, "P2's ciphertext c3")
        r = curve.x_coord(self._R) % Q
        self.check_c3_proof(m, r)
        plain = int(paillier.decrypt(m.c3))
        # cb-mpc sign_batch_impl: a plaintext in the upper half of [0, N) stands for a negative
        # integer (the proof bounds the witnesses' size, not their sign).
        if plain >= (int(paillier.n) + 1) // 2:
            plain -= int(paillier.n)
        s = plain % Q
        s = s * int(sec_inverse_mod_prime(self._k1, Q)) % Q
        if s > Q // 2:
            s = Q - s
        if r == 0 or s == 0:
            raise SignatureVerificationFailed(
                "the joint signature is degenerate; not released. Quarantine this key."
            )
        der = encode_dss_signature(r, s)
        if not self.key.Q.verify(der, self.digest, hasher=None):
            raise SignatureVerificationFailed(
                "the joint signature does not verify against the public key; it is not "
                "released. The co-signer misbehaved or is broken: quarantine this key."
            )
        return der

    def check_c3_proof(self, m: SignMsg4, r: int) -> None:
        """cb-mpc ``zk_ecdsa_sign_2pc_integer_commit_t::verify`` against Q2 = Q - x1·G."""
        assert self._R2 is not None
        key = self.key
        Q2 = curve.add(key.Q, curve.mul_g(Q - key.x1))
        if Q2 is None:
            raise InvalidProof("P2's public share is the point at infinity")
        c_key_shifted = int(key.paillier.add_plain(key.c_key, C_KEY_SHIFT))
        t = self.session.transcript(STEP + "/zk-c3")
        zk_sign.verify(t, key.paillier, c_key_shifted, m.c3, Q2, self._R2, self._m, r, m.proof)

    def __repr__(self) -> str:
        return "SignP1(<secret>)"


class SignP2:
    def __init__(
        self, session: Session, key: P2Key, digest: bytes, presign: P2Presign | None = None
    ) -> None:
        """``presign``: an element taken from a :class:`presign.PresignPool` for this key's N
        (already consumed), or None to compute it during the signature."""
        if presign is not None and (presign.n != key.n or not presign.used):
            raise ValueError("the presign element is for another key or was not taken")
        self.session = session
        self.key = key
        self._presign = presign
        # no pool element: compute one now, during the first flights
        self._ahead = PresignAhead(key.n) if presign is None else None
        self.digest = digest
        self._m = digest_to_int(digest)
        self._k2 = curve.random_scalar()
        self.R2 = curve.mul_g(self._k2)
        self._m1: SignMsg1 | None = None

    def on_msg1(self, m: SignMsg1) -> SignMsg2:
        _check_fingerprint(self.key.fingerprint, m.fingerprint)
        self._m1 = m
        pi2 = zk.dl_prove(_dl_transcript(self.session, 2), self.R2, self._k2)
        return SignMsg2(self.key.fingerprint, self.R2, pi2)

    def on_msg3(self, m: SignMsg3) -> SignMsg4:
        assert self._m1 is not None
        s = self.session
        check_opening(
            s,
            s.names[0],
            STEP + "/R1",
            self._m1.com,
            m.com_rand,
            _opening(self.digest, m.R1, m.pi1),
        )
        zk.dl_verify(_dl_transcript(s, 1), m.R1, m.pi1, "P1's nonce share")
        R = curve.mul(m.R1, self._k2)
        r = curve.x_coord(R) % Q
        if r == 0:
            raise InvalidProof("the joint nonce has r = 0")
        pub = PaillierPublic(self.key.n)
        k2_inv = int(sec_inverse_mod_prime(self._k2, Q))
        c_key_shifted = int(pub.add_plain(mpz(self.key.c_key), C_KEY_SHIFT))
        # (c_key')^(k2^-1·r) as ((r ⊙ c_key')^w1), the form of the proof's statement (cb-mpc
        # sign_batch_impl uses the integer exponent k2^-1·r: the same value). r ⊙ c_key' has a
        # public exponent and is reused by the proof; only the k2^-1 step is secret.
        c_key_tag = pub.mul_scalar(c_key_shifted, r)
        key_term = pub.mul_secret(c_key_tag, k2_inv)
        pre = self._take_presign()
        plain = self.plaintext(k2_inv * self._m + (k2_inv * self.key.x2 % Q) * r + pre.rho * Q)
        c_tag = pub.encrypt_with_rn(plain, pre.rc_n)
        c3 = int(pub.add(key_term, c_tag))
        Q2 = curve.mul_g(self.key.x2)
        t = s.transcript(STEP + "/zk-c3")
        proof = zk_sign.prove(
            t,
            pub,
            c_key_shifted,
            c3,
            Q2,
            self.R2,
            self._m,
            r,
            self._k2,
            self.key.x2,
            pre,
            c_key_tag=c_key_tag,
        )
        return SignMsg4(c3, proof)

    def _take_presign(self) -> P2Presign:
        """This signature's element: from the pool, or the one computed since the start."""
        pre = self._presign
        if pre is None:
            assert self._ahead is not None
            pre = self._ahead.get()
        self._presign = self._ahead = None
        return pre

    def plaintext(self, value: int) -> int:
        """What c_tag encrypts (a test subclass plays a cheating P2 by overriding it)."""
        return value

    def __repr__(self) -> str:
        return "SignP2(<secret>)"


def check_confirmation(Q_account: PublicKey, der: bytes, digest: bytes) -> None:
    """P2's check of P1's last message: a valid low-s signature of ``digest`` under the
    account's key (libsecp256k1 rejects high s), else :class:`ProtocolViolation`."""
    try:
        ok = len(der) <= MAX_DER and Q_account.verify(der, digest, hasher=None)
    except (ValueError, TypeError):
        ok = False
    if not ok:
        raise ProtocolViolation(
            "P1's confirmation is not a valid signature for this digest and key"
        )
