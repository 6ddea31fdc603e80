"""Deterministic, length-prefixed encoding of protocol messages and key blobs (no pickle).

``u8 tag | field*`` where each field is ``u32 big-endian length | bytes``. Integers are unsigned,
big-endian and minimal (zero is empty; no leading zero byte). Lists are a ``u32`` count followed
by their items. Every read is bounded, and :meth:`Reader.done` refuses trailing bytes, so a
truncated, padded or oversized message is a :class:`MalformedMessage`. Error messages name the
field, never its value.
"""

from __future__ import annotations

from coincurve import PublicKey

from mpcwallet.engine.portable import curve
from mpcwallet.errors import MalformedMessage


class Writer:
    def __init__(self, tag: int) -> None:
        self._parts: list[bytes] = [bytes([tag])]

    def raw(self, data: bytes) -> Writer:
        self._parts.append(len(data).to_bytes(4, "big"))
        self._parts.append(bytes(data))
        return self

    def num(self, value: int) -> Writer:
        if value < 0:
            raise ValueError("cannot encode a negative integer")
        return self.raw(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    def point(self, point: PublicKey) -> Writer:
        return self.raw(curve.encode(point))

    def count(self, n: int) -> Writer:
        self._parts.append(n.to_bytes(4, "big"))
        return self

    def ints(self, values: list[int]) -> Writer:
        self.count(len(values))
        for v in values:
            self.num(v)
        return self

    def points(self, values: list[PublicKey]) -> Writer:
        self.count(len(values))
        for p in values:
            self.point(p)
        return self

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    def __init__(self, data: bytes, tag: int, what: str) -> None:
        self.what = what
        if len(data) < 1:
            raise MalformedMessage(f"{what}: empty message")
        if data[0] != tag:
            raise MalformedMessage(f"{what}: unexpected message type {data[0]} (want {tag})")
        self._data = memoryview(data)
        self._pos = 1

    def _take(self, n: int, field: str) -> bytes:
        if self._pos + n > len(self._data):
            raise MalformedMessage(f"{self.what}: truncated at field {field!r}", field=field)
        out = bytes(self._data[self._pos : self._pos + n])
        self._pos += n
        return out

    def raw(self, field: str, max_len: int, exact: int | None = None) -> bytes:
        n = int.from_bytes(self._take(4, field), "big")
        if n > max_len or (exact is not None and n != exact):
            raise MalformedMessage(f"{self.what}: field {field!r} has a bad length", field=field)
        return self._take(n, field)

    def num(self, field: str, max_bits: int) -> int:
        data = self.raw(field, (max_bits + 7) // 8)
        if data[:1] == b"\x00":
            raise MalformedMessage(
                f"{self.what}: field {field!r} is not minimally encoded", field=field
            )
        value = int.from_bytes(data, "big")
        if value.bit_length() > max_bits:
            raise MalformedMessage(f"{self.what}: field {field!r} is too large", field=field)
        return value

    def scalar(self, field: str) -> int:
        """An integer in [1, q-1]."""
        value = self.num(field, 256)
        if not 1 <= value < curve.Q:
            raise MalformedMessage(f"{self.what}: field {field!r} is not in [1, q-1]", field=field)
        return value

    def point(self, field: str) -> PublicKey:
        return curve.parse(self.raw(field, 33, exact=33), f"{self.what}: {field}")

    def count(self, field: str, exact: int) -> int:
        n = int.from_bytes(self._take(4, field), "big")
        if n != exact:
            raise MalformedMessage(
                f"{self.what}: field {field!r} has {n} items, want {exact}", field=field
            )
        return n

    def ints(self, field: str, n: int, max_bits: int) -> list[int]:
        self.count(field, n)
        return [self.num(field, max_bits) for _ in range(n)]

    def points(self, field: str, n: int) -> list[PublicKey]:
        self.count(field, n)
        return [self.point(field) for _ in range(n)]

    def done(self) -> None:
        if self._pos != len(self._data):
            raise MalformedMessage(f"{self.what}: trailing bytes after the message")
