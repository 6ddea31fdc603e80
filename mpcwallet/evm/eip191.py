"""EIP-191 version 0x45 (``personal_sign``): the digest of a signed message.

EIP-191: ``0x19 <1 byte version> <version specific data> <data to sign>``; version 0x45 ("E")
is ``keccak256("\\x19Ethereum Signed Message:\\n" + len(message) + message)`` with the length in
decimal ASCII (geth's ``accounts.TextHash``, eth-account's ``encode_defunct``).
"""

from __future__ import annotations

from mpcwallet.errors import BadInput
from mpcwallet.evm.address import keccak

PREFIX = b"\x19Ethereum Signed Message:\n"
# A message is signed as a whole by the co-signer too; keep requests bounded.
MAX_MESSAGE_BYTES = 64 * 1024


def check_message(message: bytes) -> bytes:
    if not isinstance(message, bytes):
        raise BadInput("the message must be bytes", field="message")
    if len(message) > MAX_MESSAGE_BYTES:
        raise BadInput(
            f"the message is {len(message)} bytes; at most {MAX_MESSAGE_BYTES} can be signed",
            field="message",
        )
    return message


def message_digest(message: bytes) -> bytes:
    """The 32 bytes personal_sign signs for ``message``."""
    check_message(message)
    return keccak(PREFIX + str(len(message)).encode("ascii") + message)


def parse_hex_message(value: str, field: str = "hex") -> bytes:
    """``0x``-prefixed hex (even length) as bytes."""
    text = value.strip()
    if not text.startswith(("0x", "0X")):
        raise BadInput(f"{field}: the message must start with 0x", field=field)
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        raise BadInput(
            f"{field}: not an even-length hexadecimal string after 0x", field=field
        ) from None
