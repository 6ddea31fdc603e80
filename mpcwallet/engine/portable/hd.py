"""Accounts: one key set, many keys (BIP-32 non-hardened derivation over a two-party key).

Chain code. Inside the DKG session, after the key flights, a commit-then-reveal coin toss::

    P1 -> P2  HdMsg1: commitment to c1 (transcript.commit, bound to the session and to P1)
    P2 -> P1  HdMsg2: c2
    P1 -> P2  HdMsg3: opening (c1, rand)

chain code = SHA-256(tag | c1 | c2). P1 commits before it sees c2 and P2 sends c2 before it
sees c1, so neither party can bias it (the coin toss cb-mpc's refresh uses for delta, and
our refresh for rho). The flights come after keygen's own, so keygen's messages keep their
order and numbering.

Derivation. Account 0 is the root; account ``i`` >= 1 is BIP-32 CKDpub from (Q, chain code),
one non-hardened level (:mod:`mpcwallet.engine.derive`)::

    I = HMAC-SHA512(key = chain code, data = serP(Q) || ser32(i))
    tweak = parse256(I_L)  (invalid if >= n; then the account is unusable, BIP-32 says so)
    Q_i = Q + tweak·G      (invalid if the point at infinity)

The tweak is public to both parties and is added to exactly one share: P2's,
``x2_i = x2 + tweak``; P1's share x1, its Paillier key and c_key = Enc(x1) stay as they are.
That is how cb-mpc derives its ECDSA-2PC keys from an HD keyset
(``key_share_ecdsa_hdmpc_2p_t::derive_keys`` in protocol/hd_keyset_ecdsa_2p.cpp: P2's
``x_share + delta + non_hard_delta``, P1's ``x_share`` and ``c_key`` copied unchanged). Since
Q_i - x1·G = Q2 + tweak·G = x2_i·G, the signing protocol and its proofs run unchanged on the
derived key (signing's P1 checks the c3 proof against Q_i - x1·G); no new proof is needed.

Keys made before accounts existed have no chain code: they have account 0 only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from dataclasses import dataclass

from coincurve import PublicKey

from mpcwallet.engine import derive
from mpcwallet.engine.portable import curve
from mpcwallet.engine.portable.codec import Reader, Writer
from mpcwallet.engine.portable.keys import P1Key, P2Key
from mpcwallet.engine.portable.params import Q
from mpcwallet.engine.portable.transcript import Session, check_opening, commit
from mpcwallet.errors import AccountUnavailable

TAG1, TAG2, TAG3 = 0x41, 0x42, 0x43
STEP = "keygen/chain-code"
CHAIN_CODE_LEN = 32


@dataclass(frozen=True)
class HdMsg1:
    com: bytes


@dataclass(frozen=True)
class HdMsg2:
    c2: bytes


@dataclass(frozen=True)
class HdMsg3:
    c1: bytes
    com_rand: bytes


def encode1(m: HdMsg1) -> bytes:
    return Writer(TAG1).raw(m.com).getvalue()


def decode1(data: bytes) -> HdMsg1:
    r = Reader(data, TAG1, "chain-code message 1")
    m = HdMsg1(r.raw("com", 32, exact=32))
    r.done()
    return m


def encode2(m: HdMsg2) -> bytes:
    return Writer(TAG2).raw(m.c2).getvalue()


def decode2(data: bytes) -> HdMsg2:
    r = Reader(data, TAG2, "chain-code message 2")
    m = HdMsg2(r.raw("c2", CHAIN_CODE_LEN, exact=CHAIN_CODE_LEN))
    r.done()
    return m


def encode3(m: HdMsg3) -> bytes:
    return Writer(TAG3).raw(m.c1).raw(m.com_rand).getvalue()


def decode3(data: bytes) -> HdMsg3:
    r = Reader(data, TAG3, "chain-code message 3")
    m = HdMsg3(r.raw("c1", CHAIN_CODE_LEN, exact=CHAIN_CODE_LEN), r.raw("com_rand", 32, exact=32))
    r.done()
    return m


def _combine(c1: bytes, c2: bytes) -> bytes:
    return hashlib.sha256(b"mpcwallet/portable/v1/chain-code" + c1 + c2).digest()


class ChainCodeP1:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._c1 = secrets.token_bytes(CHAIN_CODE_LEN)
        self._com, self._rand = commit(session, session.names[0], STEP, self._c1)
        self.chain_code: bytes | None = None

    def msg1(self) -> HdMsg1:
        return HdMsg1(self._com)

    def on_msg2(self, m: HdMsg2) -> HdMsg3:
        self.chain_code = _combine(self._c1, m.c2)
        return HdMsg3(self._c1, self._rand)

    def __repr__(self) -> str:
        return "ChainCodeP1(<secret>)"


class ChainCodeP2:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._c2 = secrets.token_bytes(CHAIN_CODE_LEN)
        self._com: bytes | None = None

    def on_msg1(self, m: HdMsg1) -> HdMsg2:
        self._com = m.com
        return HdMsg2(self._c2)

    def on_msg3(self, m: HdMsg3) -> bytes:
        assert self._com is not None
        s = self.session
        # cb-mpc crypto::commitment_t open: the reveal must match what P1 bound itself to.
        check_opening(s, s.names[0], STEP, self._com, m.com_rand, m.c1)
        return _combine(m.c1, self._c2)

    def __repr__(self) -> str:
        return "ChainCodeP2(<secret>)"


# --- derivation --------------------------------------------------------------------------------


def derive_p1(key: P1Key, account: int) -> P1Key:
    """P1's key for ``account``: only Q moves; x1, the Paillier key and c_key are untouched."""
    tweak, child = derive.account_tweak(curve.encode(key.Q), key.chain_code, account)
    return key if tweak == 0 else dataclasses.replace(key, Q=PublicKey(child))


def derive_p2(key: P2Key, account: int) -> P2Key:
    """P2's key for ``account``: x2 + tweak (mod q) and Q + tweak·G."""
    tweak, child = derive.account_tweak(curve.encode(key.Q), key.chain_code, account)
    if tweak == 0:
        return key
    x2 = (key.x2 + tweak) % Q
    if x2 == 0:  # Q_i = Q1: P2's share would be zero (probability ~2^-256)
        raise AccountUnavailable(
            f"account {account} cannot be used with this key set; use another account",
            field="account",
        )
    return dataclasses.replace(key, x2=x2, Q=PublicKey(child))
