"""secp256k1 points and scalars through coincurve (libsecp256k1); no curve arithmetic here.

Parsing a point with :func:`parse` is the on-curve check: libsecp256k1 refuses an encoding that
is not on the curve, and the point at infinity has no 33-byte SEC1 encoding.
"""

from __future__ import annotations

import secrets

from coincurve import PrivateKey, PublicKey

from mpcwallet.engine.portable.params import Q
from mpcwallet.errors import MalformedMessage

__all__ = ["Q", "add", "encode", "equal", "mul", "mul_g", "parse", "random_scalar", "x_coord"]


def random_scalar() -> int:
    """Uniform in [1, q-1]."""
    return secrets.randbelow(Q - 1) + 1


def mul_g(k: int) -> PublicKey:
    """k·G for k not divisible by q."""
    k %= Q
    if k == 0:
        raise ValueError("scalar is zero modulo q")
    return PrivateKey(k.to_bytes(32, "big")).public_key


def mul(point: PublicKey, k: int) -> PublicKey:
    k %= Q
    if k == 0:
        raise ValueError("scalar is zero modulo q")
    return point.multiply(k.to_bytes(32, "big"))


def add(*points: PublicKey) -> PublicKey | None:
    """The sum, or None for the point at infinity."""
    try:
        return PublicKey.combine_keys(list(points))
    except ValueError:
        return None


def encode(point: PublicKey) -> bytes:
    return bytes(point.format(compressed=True))


def parse(data: bytes, what: str) -> PublicKey:
    if len(data) != 33 or data[0] not in (2, 3):
        raise MalformedMessage(f"{what} is not a compressed secp256k1 point")
    try:
        return PublicKey(data)
    except (ValueError, TypeError):
        raise MalformedMessage(f"{what} is not a point on secp256k1") from None


def equal(a: PublicKey | None, b: PublicKey | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return encode(a) == encode(b)


def x_coord(point: PublicKey) -> int:
    x, _ = point.point()
    return int(x)
