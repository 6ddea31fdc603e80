"""Ethereum addresses: EIP-55 checksums, parsing, derivation from a secp256k1 public key.

Keccak-256 from eth-hash (the backend eth-account uses); curve arithmetic from coincurve.
"""

from __future__ import annotations

from mpcwallet.errors import BadInput


def keccak(data: bytes) -> bytes:
    from eth_hash.auto import keccak as _keccak

    return bytes(_keccak(data))


def to_checksum(addr: bytes) -> str:
    """EIP-55 mixed-case form of a 20-byte address."""
    if len(addr) != 20:
        raise ValueError("an address is 20 bytes")
    hex_lower = addr.hex()
    digest = keccak(hex_lower.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(hex_lower)
    )


def parse_address(value: object, field: str) -> bytes:
    """A 0x-prefixed 40-hex-digit address, all lower case or with a correct EIP-55 checksum."""
    if not isinstance(value, str):
        raise BadInput(
            f"{field}: an address must be a string like 0xAbC...(40 hex digits)", field=field
        )
    text = value.strip()
    if not (text.startswith(("0x", "0X")) and len(text) == 42):
        raise BadInput(
            f"{field}: {value!r} is not an address (0x followed by 40 hex digits)", field=field
        )
    body = text[2:]
    try:
        raw = bytes.fromhex(body)
    except ValueError:
        raise BadInput(f"{field}: {value!r} has non-hex characters", field=field) from None
    if body != body.lower() and "0x" + body != to_checksum(raw):
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
