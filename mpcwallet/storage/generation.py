"""Key generations and the refresh self-test digest (pure; both parties import this).

Every share header carries ``generation``: 0 at keygen, +1 per committed refresh. A share
without the field was written before generations existed and counts as generation 0. The
co-signer's generation is the truth; a client share or backup with a lower one is stale.

The self-test digest is what a freshly refreshed pair signs to prove itself before the old
client share is removed. It is domain-separated (a fixed ASCII prefix, then the key id and the
new generation), so it can never be a transaction's signing hash (keccak of an RLP list) nor an
EIP-191 (``0x19 0x45``) or EIP-712 (``0x19 0x01``) digest; the co-signer refuses it in any
operation other than ``selftest``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from mpcwallet.errors import FileFormatError

SELFTEST_DOMAIN = b"mpcwallet refresh self-test v1"
MAX_GENERATION = 2**63 - 1


def generation_of(header: Mapping[str, Any], *, where: str = "the share header") -> int:
    """The header's generation (0 when absent); :class:`FileFormatError` when malformed."""
    value = header.get("generation", 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_GENERATION:
        raise FileFormatError(f"{where} has a malformed generation", field="generation")
    return value


def selftest_digest(key_id: str, generation: int) -> bytes:
    """sha256(domain || key id (16 bytes) || generation (u64 big-endian))."""
    return hashlib.sha256(
        SELFTEST_DOMAIN + bytes.fromhex(key_id) + generation.to_bytes(8, "big")
    ).digest()
