"""Pure wire-format checks: key agreement, proofs, frame MAC, sequence and size bounds."""

from __future__ import annotations

import os

import pytest

from mpcwallet.errors import AuthFailed, SessionViolation
from mpcwallet.session import wire


def _keys(secret: bytes, engine: str = "portable", nc: bytes = b"c" * 32, ns: bytes = b"s" * 32):
    t = wire.transcript_hash(
        version=wire.PROTOCOL_VERSION, engine=engine, auth="pairing", key_id=None, nc=nc, ns=ns
    )
    return wire.derive_session_keys(secret, t, nc, ns)


def _pair():
    secret = os.urandom(32)
    k = _keys(secret)
    return wire.FrameCodec(k, "client"), wire.FrameCodec(_keys(secret), "server")


def test_same_secret_same_keys_and_proofs_verify() -> None:
    secret = os.urandom(32)
    a, b = _keys(secret), _keys(secret)
    assert a.session_id == b.session_id
    b.check_proof("server", a.proof("server"))
    b.check_proof("client", a.proof("client"))
    # A proof for one direction is not a proof for the other (no reflection).
    with pytest.raises(AuthFailed):
        b.check_proof("client", a.proof("server"))


def test_wrong_secret_fails_the_proof_and_repr_hides_keys() -> None:
    good, bad = _keys(b"\x01" * 32), _keys(b"\x02" * 32)
    with pytest.raises(AuthFailed, match="did not prove"):
        good.check_proof("server", bad.proof("server"))
    assert good.mac.hex() not in repr(good) and good.confirm.hex() not in repr(good)


def test_transcript_binds_engine_and_nonces() -> None:
    secret = os.urandom(32)
    base = _keys(secret)
    assert _keys(secret, engine="cb-mpc").mac != base.mac
    assert _keys(secret, nc=b"x" * 32).mac != base.mac
    assert _keys(secret, ns=b"y" * 32).session_id != base.session_id


def test_frames_round_trip_in_order() -> None:
    client, server = _pair()
    for i in range(3):
        payload = wire.control_payload({"i": i})
        assert server.open(client.seal(payload)) == payload
    assert client.open(server.seal(b"\x02hello")) == b"\x02hello"


def test_tampered_frame_is_a_violation() -> None:
    client, server = _pair()
    frame = bytearray(client.seal(wire.control_payload({"op": "ping"})))
    frame[10] ^= 0x01
    with pytest.raises(SessionViolation, match="MAC"):
        server.open(bytes(frame))


def test_replayed_and_reordered_frames_are_violations() -> None:
    client, server = _pair()
    f0 = client.seal(b"\x01{}")
    f1 = client.seal(b"\x01{}")
    server.open(f0)
    with pytest.raises(SessionViolation, match="out of sequence"):
        server.open(f0)  # replay
    client2, server2 = _pair()
    g0, g1 = client2.seal(b"\x01{}"), client2.seal(b"\x01{}")
    with pytest.raises(SessionViolation, match="out of sequence"):
        server2.open(g1)  # reorder
    del f1, g0


def test_reflected_frame_is_a_violation() -> None:
    client, _server = _pair()
    frame = client.seal(b"\x01{}")
    with pytest.raises(SessionViolation, match="MAC"):
        client.open(frame)  # our own frame sent back to us


def test_oversized_and_truncated_frames_are_violations() -> None:
    client, server = _pair()
    with pytest.raises(SessionViolation, match="oversized"):
        server.open(b"\x00" * (wire.MAX_FRAME_BYTES + 1))
    with pytest.raises(SessionViolation, match="truncated"):
        server.open(b"\x00" * 10)
    with pytest.raises(SessionViolation):
        client.seal(b"\x02" + b"\x00" * wire.MAX_PAYLOAD_BYTES)


def test_per_key_secret_is_bound_to_key_and_public_key() -> None:
    k = _keys(os.urandom(32))
    a = k.per_key_secret("a" * 32, b"\x02" + b"\x11" * 32)
    assert len(a) == 32
    assert a != k.per_key_secret("b" * 32, b"\x02" + b"\x11" * 32)
    assert a != k.per_key_secret("a" * 32, b"\x03" + b"\x11" * 32)
