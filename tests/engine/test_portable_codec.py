"""Portable engine wire codec: any byte string is either a message or a MalformedMessage."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpcwallet.engine.portable import keygen, refresh, signing
from mpcwallet.engine.portable.transcript import Session
from mpcwallet.errors import InvalidProof, MalformedMessage

DECODERS: list[Callable[[bytes], object]] = [
    keygen.decode1,
    keygen.decode2,
    keygen.decode3,
    signing.decode1,
    signing.decode2,
    signing.decode3,
    signing.decode4,
    refresh.decode1,
    refresh.decode2,
    refresh.decode3,
    refresh.decode4,
    refresh.decode5,
]


@pytest.fixture(scope="module")
def honest_messages() -> list[tuple[Callable[[bytes], object], bytes]]:
    """One genuine encoding of every keygen and sign message."""
    s = Session(os.urandom(32), ("client", "cosigner"))
    p1, p2 = keygen.KeygenP1(s), keygen.KeygenP2(s)
    m1 = p1.msg1()
    m2 = p2.on_msg1(m1)
    m3 = p1.on_msg2(m2)
    k2 = p2.on_msg3(m3)
    d = os.urandom(32)
    s1, s2 = signing.SignP1(s, p1.key(), d), signing.SignP2(s, k2, d)
    n1 = s1.msg1()
    n2 = s2.on_msg1(n1)
    n3 = s1.on_msg2(n2)
    n4 = s2.on_msg3(n3)
    return [
        (keygen.decode1, keygen.encode1(m1)),
        (keygen.decode2, keygen.encode2(m2)),
        (keygen.decode3, keygen.encode3(m3)),
        (signing.decode1, signing.encode1(n1)),
        (signing.decode2, signing.encode2(n2)),
        (signing.decode3, signing.encode3(n3)),
        (signing.decode4, signing.encode4(n4)),
    ]


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=200), which=st.integers(0, len(DECODERS) - 1))
def test_random_bytes_are_refused_cleanly(data: bytes, which: int) -> None:
    decode = DECODERS[which]
    try:
        decode(data)
    except MalformedMessage:
        pass


def test_every_truncation_and_extension_is_refused(
    honest_messages: list[tuple[Callable[[bytes], object], bytes]],
) -> None:
    for decode, data in honest_messages:
        decode(data)  # the genuine message parses
        for cut in {0, 1, 2, 5, len(data) // 2, len(data) - 1}:
            with pytest.raises(MalformedMessage):
                decode(data[:cut])
        with pytest.raises(MalformedMessage):
            decode(data + b"\x00")


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_bit_flips_parse_or_fail_cleanly(
    honest_messages: list[tuple[Callable[[bytes], object], bytes]], data: st.DataObject
) -> None:
    decode, raw = data.draw(st.sampled_from(honest_messages))
    pos = data.draw(st.integers(0, len(raw) - 1))
    bit = data.draw(st.integers(0, 7))
    flipped = raw[:pos] + bytes([raw[pos] ^ (1 << bit)]) + raw[pos + 1 :]
    try:
        decode(flipped)
    except MalformedMessage:
        pass


def test_messages_are_bound_to_the_session() -> None:
    """A proof made for one session id (or pair of names) fails in another."""
    from mpcwallet.engine.portable import zk

    sid = os.urandom(32)
    a = Session(sid, ("client", "cosigner"))
    for other in (Session(os.urandom(32), a.names), Session(sid, ("client", "mallory"))):
        x = zk.curve.random_scalar()
        X = zk.curve.mul_g(x)
        proof = zk.dl_prove(a.transcript("sign/dl/P2"), X, x)
        zk.dl_verify(a.transcript("sign/dl/P2"), X, proof, "ok")
        with pytest.raises(InvalidProof):
            zk.dl_verify(other.transcript("sign/dl/P2"), X, proof, "other session")
        with pytest.raises(InvalidProof):
            zk.dl_verify(a.transcript("sign/dl/P1"), X, proof, "other step")
