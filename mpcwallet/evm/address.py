"""Ethereum addresses: EIP-55 checksums, parsing, derivation from a secp256k1 public key.

Keccak-256 from eth-hash's ``pysha3`` backend (safe-pysha3, the Keccak team's reference code in a
C extension); curve arithmetic from coincurve.
"""

from __future__ import annotations

from mpcwallet.errors import BadInput


def keccak(data: bytes) -> bytes:
    # Named, not ``eth_hash.auto``: auto picks pycryptodome when installed (eth-account pulls it
    # in), whose import loads cffi and parses C declarations with pycparser, ~20 ms of every
    # ``mpc sign``; safe-pysha3 imports in about 1 ms. Same function (tests/evm check vectors).
    from eth_hash.backends.pysha3 import keccak256

    return keccak256(data)


def to_checksum(addr: bytes) -> str:
    """EIP-55 mixed-case form of a 20-byte address."""
    if len(addr) != 20:
        raise ValueError("an address is 20 bytes")
    hex_lower = addr.hex()
    digest = keccak(hex_lower.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(hex_lower)
    )


HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages about hostile input."""
    text = repr(value) if not isinstance(value, str) or len(value) <= limit else repr(value[:limit])
    return text if len(text) <= limit + 2 else text[:limit] + "..."


def is_hex(text: str) -> bool:
    """True if ``text`` is only ASCII hex digits (``bytes.fromhex`` also skips whitespace)."""
    return all(c in HEX_DIGITS for c in text)


def parse_address(value: object, field: str) -> bytes:
    """The one address parser: exactly ``0x`` and 40 hex digits, nothing around them.

    All lower case is taken as is; any upper-case letter makes it an EIP-55 checksummed form,
    which must be correct. Used for every address we read: tx.json ``to``, ``from`` and
    ``accessList``, ``--token`` and ``--to``, and share headers.
    """
    if not isinstance(value, str):
        raise BadInput(
            f"{field}: an address must be a string like 0xAbC...(40 hex digits)", field=field
        )
    if not (len(value) == 42 and value.startswith("0x") and is_hex(value[2:])):
        raise BadInput(
            f"{field}: {shown(value)} is not an address (exactly 0x followed by 40 hex digits, "
            "no spaces)",
            field=field,
        )
    body = value[2:]
    raw = bytes.fromhex(body)
    if body != body.lower() and value != to_checksum(raw):
        raise BadInput(
            f"{field}: {value!r} has a wrong EIP-55 checksum (mixed case that does not match); "
            f"check the address, or write it all in lower case if you are sure of it",
            field=field,
        )
    return raw


def address_from_public_key(public_key: bytes) -> str:
    """Checksummed address of a SEC1 (compressed or uncompressed) secp256k1 public key."""
    from coincurve import PublicKey

    uncompressed = PublicKey(public_key).format(compressed=False)
    return to_checksum(keccak(uncompressed[1:])[12:])
