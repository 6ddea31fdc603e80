"""The two parties' key shares and their blob encoding.

P1 (client): x1, the Paillier private key (p, q), c_key, Q, Q1, generation.
P2 (co-signer): x2, N, c_key, Q, Q1, generation.
``generation`` counts refreshes. ``chain_code`` (32 bytes, both parties, from the DKG's coin toss;
see :mod:`hd`) makes the key a key set with accounts; keys from before accounts have none
(payload version 1) and have account 0 only.
:func:`fingerprint` hashes the public parts both sides share
(Q, Q1, N, c_key): after a refresh it changes, so old and new shares are never mixed (the
signing and refresh protocols compare it first and raise :class:`KeyVersionMismatch`).
Blobs are ``blob.wrap("portable", role, payload)`` with a payload in our codec, versioned by
its tag byte. Classes holding secrets have a ``repr`` that shows only public data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from coincurve import PublicKey

from mpcwallet.engine import blob
from mpcwallet.engine.base import Role
from mpcwallet.engine.portable import curve
from mpcwallet.engine.portable.codec import Reader, Writer
from mpcwallet.engine.portable.paillier import PaillierPrivate
from mpcwallet.engine.portable.params import PAILLIER_BITS, PRIME_BITS
from mpcwallet.errors import KeyBlobMismatch, MalformedMessage

ENGINE = "portable"
P1_PAYLOAD_V1 = 0x11
P2_PAYLOAD_V1 = 0x21
# version 2 = version 1 followed by the chain code
P1_PAYLOAD_V2 = 0x12
P2_PAYLOAD_V2 = 0x22
CHAIN_CODE_LEN = 32


def fingerprint(Q_pub: PublicKey, Q1: PublicKey, n: int, c_key: int) -> bytes:
    h = hashlib.sha256(b"mpcwallet/portable/v1/key-fingerprint")
    for part in (curve.encode(Q_pub), curve.encode(Q1), Writer(0).num(n).num(c_key).getvalue()):
        h.update(len(part).to_bytes(4, "big") + part)
    return h.digest()


@dataclass(frozen=True, repr=False)
class P1Key:
    x1: int
    paillier: PaillierPrivate
    c_key: int
    Q: PublicKey
    Q1: PublicKey
    generation: int
    chain_code: bytes | None = None

    @property
    def fingerprint(self) -> bytes:
        return fingerprint(self.Q, self.Q1, int(self.paillier.n), self.c_key)

    def __repr__(self) -> str:
        return f"P1Key(Q={curve.encode(self.Q).hex()}, generation={self.generation}, <secret>)"


@dataclass(frozen=True, repr=False)
class P2Key:
    x2: int
    n: int
    c_key: int
    Q: PublicKey
    Q1: PublicKey
    generation: int
    chain_code: bytes | None = None

    @property
    def fingerprint(self) -> bytes:
        return fingerprint(self.Q, self.Q1, self.n, self.c_key)

    def __repr__(self) -> str:
        return f"P2Key(Q={curve.encode(self.Q).hex()}, generation={self.generation}, <secret>)"


def encode_p1(key: P1Key) -> bytes:
    p, q = key.paillier.primes
    tag = P1_PAYLOAD_V1 if key.chain_code is None else P1_PAYLOAD_V2
    w = Writer(tag).num(key.x1).num(p).num(q).num(key.c_key)
    w.point(key.Q).point(key.Q1).num(key.generation)
    if key.chain_code is not None:
        w.raw(key.chain_code)
    payload = w.getvalue()
    return blob.wrap(ENGINE, Role.P1, payload)


def encode_p2(key: P2Key) -> bytes:
    tag = P2_PAYLOAD_V1 if key.chain_code is None else P2_PAYLOAD_V2
    w = Writer(tag).num(key.x2).num(key.n).num(key.c_key)
    w.point(key.Q).point(key.Q1).num(key.generation)
    if key.chain_code is not None:
        w.raw(key.chain_code)
    payload = w.getvalue()
    return blob.wrap(ENGINE, Role.P2, payload)


def _reader(data: bytes, role: Role, tags: tuple[int, int]) -> tuple[Reader, bool]:
    """A reader over the payload and whether it has a chain code (version 2)."""
    payload = blob.unwrap(data, ENGINE, role)
    if payload[:1] not in (bytes([tags[0]]), bytes([tags[1]])):
        raise KeyBlobMismatch("the portable key blob has an unknown payload version")
    return Reader(payload, payload[0], "key blob"), payload[0] == tags[1]


def _chain_code(r: Reader, v2: bool) -> bytes | None:
    return r.raw("chain_code", CHAIN_CODE_LEN, exact=CHAIN_CODE_LEN) if v2 else None


def decode_p1(data: bytes) -> P1Key:
    try:
        r, v2 = _reader(data, Role.P1, (P1_PAYLOAD_V1, P1_PAYLOAD_V2))
        x1 = r.scalar("x1")
        p = r.num("p", PRIME_BITS)
        q = r.num("q", PRIME_BITS)
        c_key = r.num("c_key", 2 * PAILLIER_BITS)
        Q_pub, Q1 = r.point("Q"), r.point("Q1")
        gen = r.num("generation", 64)
        chain_code = _chain_code(r, v2)
        r.done()
    except MalformedMessage as exc:
        raise KeyBlobMismatch(
            f"the portable key blob is damaged ({exc.field or 'format'})"
        ) from None
    try:
        paillier = PaillierPrivate(p, q)
    except (ZeroDivisionError, ValueError):
        raise KeyBlobMismatch("the portable key blob is damaged (Paillier key)") from None
    return P1Key(x1, paillier, c_key, Q_pub, Q1, gen, chain_code)


def decode_p2(data: bytes) -> P2Key:
    try:
        r, v2 = _reader(data, Role.P2, (P2_PAYLOAD_V1, P2_PAYLOAD_V2))
        x2 = r.scalar("x2")
        n = r.num("N", PAILLIER_BITS)
        c_key = r.num("c_key", 2 * PAILLIER_BITS)
        Q_pub, Q1 = r.point("Q"), r.point("Q1")
        gen = r.num("generation", 64)
        chain_code = _chain_code(r, v2)
        r.done()
    except MalformedMessage as exc:
        raise KeyBlobMismatch(
            f"the portable key blob is damaged ({exc.field or 'format'})"
        ) from None
    return P2Key(x2, n, c_key, Q_pub, Q1, gen, chain_code)


def public_key(data: bytes) -> bytes:
    """SEC1 compressed Q from either party's blob."""
    _, role = blob.peek(data)
    key: P1Key | P2Key = decode_p1(data) if role is Role.P1 else decode_p2(data)
    return curve.encode(key.Q)


def public_parts(data: bytes) -> tuple[bytes, bytes | None]:
    """(Q compressed, chain code or None) of either party's blob, without building the
    Paillier key (account addresses need only these)."""
    _, role = blob.peek(data)
    tags = (P1_PAYLOAD_V1, P1_PAYLOAD_V2) if role is Role.P1 else (P2_PAYLOAD_V1, P2_PAYLOAD_V2)
    try:
        r, v2 = _reader(data, role, tags)
        r.scalar("x")
        if role is Role.P1:
            r.num("p", PRIME_BITS)
            r.num("q", PRIME_BITS)
        else:
            r.num("N", PAILLIER_BITS)
        r.num("c_key", 2 * PAILLIER_BITS)
        q_pub = r.point("Q")
        r.point("Q1")
        r.num("generation", 64)
        chain_code = _chain_code(r, v2)
        r.done()
    except MalformedMessage as exc:
        raise KeyBlobMismatch(
            f"the portable key blob is damaged ({exc.field or 'format'})"
        ) from None
    return curve.encode(q_pub), chain_code
