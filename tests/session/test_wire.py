"""Pure wire-format checks: the Noise handshake as we configure it, frames, bounds, hello."""

from __future__ import annotations

import os

import pytest

from mpcwallet.errors import AuthFailed, EngineMismatch, SessionViolation
from mpcwallet.session import secure, wire
from mpcwallet.session.wire import Hello

HELLO = wire.encode_hello(Hello(wire.PROTOCOL_VERSION, "portable", "pairing", None))
STATIC = secure.new_static_key()  # the co-signer's static key


def _handshake(
    psk_c: bytes,
    psk_s: bytes | None = None,
    prologue_s: str = HELLO,
    pinned: bytes | None = None,
) -> tuple[secure.FrameCodec, secure.FrameCodec]:
    c = secure.start_handshake(
        initiator=True,
        psk=psk_c,
        prologue=wire.prologue(HELLO),
        static_key=pinned or secure.static_public(STATIC),
    )
    s = secure.start_handshake(
        initiator=False, psk=psk_s or psk_c, prologue=wire.prologue(prologue_s), static_key=STATIC
    )
    m1 = c.write_message(wire.identity_payload("aa" * 16))
    assert wire.parse_identity(bytes(s.read_message(bytes(m1))), peer="c") == "aa" * 16
    m2 = s.write_message(wire.identity_payload("bb" * 16))
    assert wire.parse_identity(bytes(c.read_message(bytes(m2))), peer="s") == "bb" * 16
    kc = secure.SessionKeys.from_connection(c, initiator=True)
    ks = secure.SessionKeys.from_connection(s, initiator=False)
    return (
        secure.FrameCodec(c, kc, "client", wire.MAX_PAYLOAD_BYTES),
        secure.FrameCodec(s, ks, "server", wire.MAX_PAYLOAD_BYTES),
    )


def _one(codec: secure.FrameCodec, payload: bytes) -> bytes:
    [frame] = codec.seal(payload)
    return frame


def test_both_sides_agree_and_sessions_differ() -> None:
    psk = os.urandom(32)
    client, server = _handshake(psk)
    assert client.keys.session_id == server.keys.session_id
    pk = b"\x02" + b"\x11" * 32
    assert client.keys.per_key_secret("k" * 32, pk) == server.keys.per_key_secret("k" * 32, pk)
    other, _ = _handshake(psk)  # fresh ephemerals: a new session id and new secrets
    assert other.keys.session_id != client.keys.session_id
    assert other.keys.per_key_secret("k" * 32, pk) != client.keys.per_key_secret("k" * 32, pk)
    assert client.keys._split.hex() not in repr(client.keys) + repr(client)


@pytest.mark.parametrize("what", ["psk", "prologue", "static"])
def test_wrong_psk_altered_hello_or_other_static_key_fails_message_1(what: str) -> None:
    altered = HELLO.replace('"pairing"', '"key"')
    with pytest.raises(secure.handshake_errors()):
        if what == "psk":
            _handshake(os.urandom(32), os.urandom(32))
        elif what == "prologue":
            _handshake(b"\x07" * 32, prologue_s=altered)
        else:  # the client pinned another co-signer's key: the right PSK is not enough
            _handshake(b"\x07" * 32, pinned=secure.static_public(secure.new_static_key()))


def test_frames_round_trip_in_order_and_fragment() -> None:
    client, server = _handshake(os.urandom(32))
    for i in range(3):
        payload = wire.control_payload({"i": i})
        assert server.open(_one(client, payload)) == payload
    big = wire.engine_payload(os.urandom(3 * secure.MAX_CHUNK + 5))
    frames = server.seal(big)
    assert len(frames) == 4 and all(len(f) <= secure.MAX_NOISE_MESSAGE for f in frames)
    assert [client.open(f) for f in frames] == [None, None, None, big]


def test_tampered_replayed_reordered_dropped_reflected_are_violations() -> None:
    client, server = _handshake(os.urandom(32))
    f0 = bytearray(_one(client, b"\x01{}"))
    f0[5] ^= 0x01
    with pytest.raises(SessionViolation, match="failed to decrypt"):
        server.open(bytes(f0))  # tampered
    for attack in ("replay", "reorder", "drop", "reflect"):
        client, server = _handshake(os.urandom(32))
        g0, g1 = _one(client, b"\x01{}"), _one(client, b"\x01{}")
        with pytest.raises(SessionViolation, match="failed to decrypt"):
            if attack == "replay":
                server.open(g0)
                server.open(g0)
            elif attack in ("reorder", "drop"):
                server.open(g1)  # g0 never arrived first
            else:
                client.open(g0)  # our own frame sent back to us


def test_oversized_truncated_and_unbounded_fragments_are_violations() -> None:
    client, server = _handshake(os.urandom(32))
    with pytest.raises(SessionViolation, match="oversized"):
        server.open(b"\x00" * (secure.MAX_NOISE_MESSAGE + 1))
    with pytest.raises(SessionViolation, match="truncated"):
        server.open(b"\x00" * 10)
    with pytest.raises(SessionViolation, match="refusing"):
        client.seal(b"\x02" + b"\x00" * wire.MAX_PAYLOAD_BYTES)
    # A peer that keeps sending full "more follows" fragments is cut off at the bound.
    chunk = bytes([secure.MORE]) + b"\x02" * secure.MAX_CHUNK
    with pytest.raises(SessionViolation, match="oversized"):
        for _ in range(wire.MAX_PAYLOAD_BYTES // secure.MAX_CHUNK + 2):
            assert server.open(client.conn.encrypt(chunk)) is None
    client, server = _handshake(os.urandom(32))
    with pytest.raises(SessionViolation, match="not full size"):
        server.open(client.conn.encrypt(bytes([secure.MORE]) + b"\x02abc"))


def test_per_key_secret_is_bound_to_key_and_public_key() -> None:
    client, _ = _handshake(os.urandom(32))
    a = client.keys.per_key_secret("a" * 32, b"\x02" + b"\x11" * 32)
    assert len(a) == 32
    assert a != client.keys.per_key_secret("b" * 32, b"\x02" + b"\x11" * 32)
    assert a != client.keys.per_key_secret("a" * 32, b"\x03" + b"\x11" * 32)


def test_deeply_nested_or_oversized_control_is_a_clear_violation() -> None:
    nested = b'{"op":' + b"[" * 5000 + b"]" * 5000 + b"}"
    with pytest.raises(SessionViolation, match="nested deeper than 32"):
        wire.parse_control(nested)
    with pytest.raises(SessionViolation, match="over the limit"):
        wire.parse_control(b'{"a":"' + b"x" * wire.MAX_CONTROL_BYTES + b'"}')
    # Brackets inside strings (escaped quotes too) are not nesting.
    assert wire.parse_control(b'{"a":"[[[\\"{{{","b":[[1]]}') == {"a": '[[["{{{', "b": [[1]]}
    with pytest.raises(SessionViolation, match="nested"):
        wire.parse_handshake('{"type":"hello","x":[[[]]]}')
    with pytest.raises(SessionViolation, match="appears twice"):
        wire.parse_control(b'{"op":"ping","op":"keygen"}')  # one reader, one meaning


def test_hello_mismatch_is_one_clear_line() -> None:
    old = '{"type":"hello","v":1,"engine":"portable","auth":"pairing","key_id":null}'
    with pytest.raises(EngineMismatch) as info:
        wire.parse_hello(old, engine="portable")
    assert info.value.field == "version" and "\n" not in info.value.message
    assert "protocol version differs: client 1, co-signer 3" in info.value.message
    with pytest.raises(EngineMismatch, match="engine differs: client 'portable'") as info:
        wire.parse_hello(HELLO, engine="cb-mpc")
    assert info.value.field == "engine"
    with pytest.raises(AuthFailed, match="auth mode"):
        wire.parse_hello(HELLO.replace('"pairing"', '"Bad Mode"'), engine="portable")
    code = wire.parse_hello(HELLO.replace('"pairing"', '"code"'), engine="portable")
    assert code.auth == "code"  # a new mode needs no change in the wire format
