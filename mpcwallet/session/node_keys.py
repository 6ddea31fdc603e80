"""Names and static keys of cluster nodes, as the node-to-node channel uses them.

A node's static key is an X25519 key pair (Noise's ``25519`` DH, RFC 7748, through
``cryptography``); its public half is what the cluster configuration pins.
"""

from __future__ import annotations

import re
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mpcwallet.errors import BadInput

__all__ = ["KEY_BYTES", "NAME_RE", "StaticKeypair", "check_name", "check_public_key"]

KEY_BYTES = 32
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_name(value: str, what: str) -> str:
    """A party name, cluster id or session id: 1..64 of ``A-Z a-z 0-9 . _ -``."""
    if not isinstance(value, str) or NAME_RE.fullmatch(value) is None:
        raise BadInput(
            f"{what} must be 1 to 64 letters, digits, '.', '_' or '-' (not starting with "
            f"'.', '_' or '-'), got {value!r}"[:300],
            field=what,
        )
    return value


def check_public_key(value: bytes | str, what: str = "static_key") -> bytes:
    """A Curve25519 public key: 32 bytes (or 64 hex digits), not all zero."""
    if isinstance(value, str):
        if re.fullmatch(r"[0-9a-f]{64}", value) is None:
            raise BadInput(
                f"{what} must be 64 lowercase hex digits (an X25519 public key)", field=what
            )
        value = bytes.fromhex(value)
    if not isinstance(value, bytes | bytearray) or len(value) != KEY_BYTES:
        raise BadInput(f"{what} must be a 32-byte X25519 public key", field=what)
    if not any(value):
        raise BadInput(f"{what} is the all-zero key; refusing it", field=what)
    return bytes(value)


class StaticKeypair:
    """A node's static X25519 key. ``repr`` and ``str`` show the public half only."""

    __slots__ = ("_private", "public")

    def __init__(self, private: bytes) -> None:
        if not isinstance(private, bytes | bytearray) or len(private) != KEY_BYTES:
            raise BadInput("a static private key must be 32 bytes", field="static_key")
        self._private = bytes(private)
        key = X25519PrivateKey.from_private_bytes(self._private)
        self.public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @classmethod
    def generate(cls) -> StaticKeypair:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        raw = X25519PrivateKey.generate().private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption()
        )
        return cls(raw)

    def private_bytes(self) -> bytes:
        """The private key, for the caller that encrypts it at rest; never log it."""
        return self._private

    def __repr__(self) -> str:
        return f"StaticKeypair(public={self.public.hex()})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a StaticKeypair is not picklable")
