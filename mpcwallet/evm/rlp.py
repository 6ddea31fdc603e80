"""Recursive Length Prefix (RLP) encoding, Ethereum Yellow Paper appendix B.

A serialisation format, not a cryptographic primitive. We carry these few lines instead of the
``rlp`` package because that package imports eth-utils and pydantic (~90 ms), which would sit on
the path of every ``mpc sign`` (target: 1.0 s end to end). Tests check both directions against
the ``rlp`` package and eth-account on random inputs.

Items are ``bytes`` or lists of items. Integers are encoded by the caller with :func:`int_bytes`.
"""

from __future__ import annotations

from typing import TypeAlias

Item: TypeAlias = bytes | list["Item"]


class RlpError(ValueError):
    """The input is not canonical RLP."""


def int_bytes(n: int) -> bytes:
    """Big-endian minimal encoding of a non-negative integer (0 -> empty string)."""
    if n < 0:
        raise ValueError("RLP integers are non-negative")
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def bytes_int(b: bytes) -> int:
    """Inverse of :func:`int_bytes`; refuses leading zero bytes (non-canonical)."""
    if b[:1] == b"\x00":
        raise RlpError("integer with leading zero byte")
    return int.from_bytes(b, "big")


def _length_prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    blen = int_bytes(length)
    return bytes([offset + 55 + len(blen)]) + blen


def encode(item: Item) -> bytes:
    if isinstance(item, bytes | bytearray):
        data = bytes(item)
        if len(data) == 1 and data[0] < 0x80:
            return data
        return _length_prefix(len(data), 0x80) + data
    if isinstance(item, list):
        payload = b"".join(encode(x) for x in item)
        return _length_prefix(len(payload), 0xC0) + payload
    raise TypeError(f"cannot RLP-encode {type(item).__name__}")


def _decode_at(data: bytes, pos: int) -> tuple[Item, int]:
    if pos >= len(data):
        raise RlpError("truncated input")
    b0 = data[pos]
    if b0 < 0x80:
        return data[pos : pos + 1], pos + 1
    if b0 < 0xC0:
        is_list = False
        short = b0 - 0x80
    else:
        is_list = True
        short = b0 - 0xC0
    if short < 56:
        length = short
        start = pos + 1
    else:
        llen = short - 55
        raw_len = data[pos + 1 : pos + 1 + llen]
        if len(raw_len) != llen or raw_len[0] == 0:
            raise RlpError("bad length prefix")
        length = int.from_bytes(raw_len, "big")
        if length < 56:
            raise RlpError("non-canonical long length")
        start = pos + 1 + llen
    end = start + length
    if end > len(data):
        raise RlpError("truncated input")
    if not is_list:
        payload = data[start:end]
        if length == 1 and short < 56 and payload[0] < 0x80:
            raise RlpError("non-canonical single byte")
        return payload, end
    items: list[Item] = []
    p = start
    while p < end:
        item, p = _decode_at(data, p)
        items.append(item)
    if p != end:
        raise RlpError("list payload overruns its length")
    return items, end


def decode(data: bytes) -> Item:
    """Decode one item that must span all of ``data``."""
    item, end = _decode_at(bytes(data), 0)
    if end != len(data):
        raise RlpError("trailing bytes after RLP item")
    return item
