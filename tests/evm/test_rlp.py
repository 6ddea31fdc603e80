"""RLP decoding of hostile input: deep nesting and oversized integers are refused."""

from __future__ import annotations

import pytest

from mpcwallet.errors import BadInput
from mpcwallet.evm import rlp
from mpcwallet.evm.txdecode import decode_signed


def _nested(depth: int) -> bytes:
    """``depth`` lists, each holding the next, the innermost empty (canonical RLP)."""
    out = b"\xc0"
    for _ in range(depth - 1):
        out = _wrap(out)
    return out


def _wrap(payload: bytes) -> bytes:
    return rlp._length_prefix(len(payload), 0xC0) + payload


def test_nesting_up_to_the_limit_decodes() -> None:
    item = rlp.decode(_nested(rlp.MAX_DEPTH))
    for _ in range(rlp.MAX_DEPTH - 1):
        assert isinstance(item, list) and len(item) == 1
        item = item[0]
    assert item == []


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    payload = b"\xc0"
    for _ in range(100_000):
        payload = _wrap(payload)
    with pytest.raises(rlp.RlpError, match="nested deeper"):
        rlp.decode(payload)
    # Prefixes only (no valid lengths): the bare shape a hostile --raw sends.
    with pytest.raises(rlp.RlpError):
        rlp.decode(b"\xc1" * 100_000)
    with pytest.raises(BadInput, match="raw transaction: not decodable") as exc:
        decode_signed(b"\x02" + payload)
    assert exc.value.field == "raw"


def test_items_may_not_overrun_their_list() -> None:
    with pytest.raises(rlp.RlpError):
        rlp.decode(b"\xc1\x82\x01\x02")
    assert rlp.decode(b"\xc3\x82\x01\x02") == [b"\x01\x02"]
    assert rlp.decode(b"\xc2\xc0\xc0") == [[], []]
    assert rlp.decode(b"\xc4\xc1\xc0\xc1\x05") == [[[]], [b"\x05"]]


def test_integer_fields_longer_than_uint256_are_refused() -> None:
    fields: list[rlp.Item] = [b"\x01"] * 12
    fields[5] = b""  # to: contract creation
    fields[8] = []  # accessList
    fields[6] = b"\x01" + b"\x00" * 2500  # value: would print as ~6000 decimal digits
    with pytest.raises(BadInput, match="value: longer than 32 bytes"):
        decode_signed(b"\x02" + rlp.encode(fields))
