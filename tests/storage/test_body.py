"""mpcwallet.storage.body: deterministic, strict share-body codec that hides its contents."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mpcwallet.errors import FileFormatError
from mpcwallet.storage.body import MAX_AUTH_SECRET_BYTES, ShareBody

BLOB = b"MPCK\x01\x08portable\x01" + bytes(range(200))
SECRET = bytes(range(32, 64))


@given(
    blob=st.binary(min_size=1, max_size=5000),
    secret=st.binary(max_size=MAX_AUTH_SECRET_BYTES),
)
def test_round_trip(blob: bytes, secret: bytes) -> None:
    body = ShareBody(key_blob=blob, auth_secret=secret)
    encoded = body.encode()
    assert encoded == ShareBody(blob, secret).encode()  # deterministic
    decoded = ShareBody.decode(encoded)
    assert decoded.key_blob == blob
    assert decoded.auth_secret == secret
    assert decoded == body


def test_layout_is_versioned() -> None:
    encoded = ShareBody(BLOB, SECRET).encode()
    assert encoded[:5] == b"MPCS\x01"
    assert struct.unpack(">I", encoded[5:9])[0] == len(BLOB)


def test_every_truncation_and_extension_refused() -> None:
    encoded = ShareBody(BLOB, SECRET).encode()
    for n in range(len(encoded)):
        with pytest.raises(FileFormatError):
            ShareBody.decode(encoded[:n])
    with pytest.raises(FileFormatError):
        ShareBody.decode(encoded + b"\x00")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b"XPCS" + b[4:],
        lambda b: b[:4] + b"\x02" + b[5:],
        lambda b: b[:5] + struct.pack(">I", 0) + b[9:],
        lambda b: b[:5] + struct.pack(">I", 2**31) + b[9:],
    ],
    ids=["magic", "version", "empty-blob", "huge-blob"],
)
def test_malformed_refused(mutate: object) -> None:
    encoded = ShareBody(BLOB, SECRET).encode()
    with pytest.raises(FileFormatError) as info:
        ShareBody.decode(mutate(encoded))  # type: ignore[operator]
    assert BLOB.hex()[:16] not in info.value.message


def test_repr_hides_contents() -> None:
    body = ShareBody(BLOB, SECRET)
    for text in (repr(body), str(body), f"{body}", repr([body])):
        assert SECRET.hex() not in text
        assert repr(SECRET) not in text
        assert "portable" not in text
    assert f"<{len(BLOB)} bytes>" in repr(body)


def test_bounds_on_construction() -> None:
    with pytest.raises(ValueError):
        ShareBody(b"", SECRET)
    with pytest.raises(ValueError):
        ShareBody(BLOB, b"x" * (MAX_AUTH_SECRET_BYTES + 1))
    with pytest.raises(TypeError):
        ShareBody("text", SECRET)  # type: ignore[arg-type]
