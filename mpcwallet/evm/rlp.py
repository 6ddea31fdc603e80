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


MAX_DEPTH = 16  # a transaction nests 4 deep (tx > accessList > entry > storageKeys)


def _header_at(data: bytes, pos: int) -> tuple[bool, int, int, bool]:
    """(is_list, payload start, payload end, short form) of the item whose prefix is at pos."""
    b0 = data[pos]
    is_list = b0 >= 0xC0
    short = b0 - (0xC0 if is_list else 0x80)
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
    return is_list, start, start + length, short < 56


def _decode_at(data: bytes, pos: int, max_depth: int) -> tuple[Item, int]:
    """Iterative decoder: nesting costs an entry on our stack, never Python recursion."""
    stack: list[tuple[list[Item], int]] = []  # each open list: (items so far, payload end)
    while True:
        limit = stack[-1][1] if stack else len(data)
        if pos >= limit:
            raise RlpError("truncated input")
        value: Item
        if data[pos] < 0x80:
            value, pos = data[pos : pos + 1], pos + 1
        else:
            is_list, start, end, short_form = _header_at(data, pos)
            if end > limit:
                raise RlpError("truncated input" if not stack else "item overruns its list")
            if is_list:
                if len(stack) >= max_depth:
                    raise RlpError(f"lists nested deeper than {max_depth}")
                stack.append(([], end))
                pos = start
                if pos < end:
                    continue  # read the list's first item
                value = stack.pop()[0]  # the empty list
            else:
                value = data[start:end]
                if end - start == 1 and short_form and value[0] < 0x80:
                    raise RlpError("non-canonical single byte")
                pos = end
        # Attach the value to its list; every list that is now complete becomes a value too.
        while True:
            if not stack:
                return value, pos
            items, end = stack[-1]
            items.append(value)
            if pos < end:
                break
            stack.pop()
            value = items


def decode(data: bytes, *, max_depth: int = MAX_DEPTH) -> Item:
    """Decode one item that must span all of ``data``; lists nest at most ``max_depth`` deep."""
    item, end = _decode_at(bytes(data), 0, max_depth)
    if end != len(data):
        raise RlpError("trailing bytes after RLP item")
    return item
