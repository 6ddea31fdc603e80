"""ERC-20 transfer calldata and exact decimal amounts.

``transfer(address,uint256)`` has selector ``a9059cbb`` (first 4 bytes of its Keccak-256); the
arguments are ABI-encoded with eth-abi. Decoding calldata (for the co-signer's policy) is
:func:`mpcwallet.evm.allowance.decode_call`.
"""

from __future__ import annotations

import re

from mpcwallet.errors import BadInput
from mpcwallet.evm.address import keccak, to_checksum

TRANSFER_SIGNATURE = "transfer(address,uint256)"
TRANSFER_SELECTOR = bytes.fromhex("a9059cbb")
MAX_DECIMALS = 77  # 10**78 > 2**256
_AMOUNT_RE = re.compile(r"^([0-9]+)(?:\.([0-9]+))?$")  # ASCII digits only (\d is Unicode)
_MAX_AMOUNT_CHARS = 160  # 78 whole digits + "." + 77 decimals, with room for trailing zeros


def selector(signature: str) -> bytes:
    return keccak(signature.encode("ascii"))[:4]


def parse_amount(text: str, decimals: int, field: str = "amount") -> int:
    """A decimal string in token units -> integer base units, exactly.

    ``"1.5"`` with 18 decimals is 1500000000000000000. More fractional digits than ``decimals``
    (other than trailing zeros) is refused rather than rounded.
    """
    if not 0 <= decimals <= MAX_DECIMALS:
        raise BadInput(f"decimals: must be between 0 and {MAX_DECIMALS}", field="decimals")
    text = text.strip()
    if len(text) > _MAX_AMOUNT_CHARS:  # before int(): Python refuses > 4300 digits itself
        raise BadInput(
            f"{field}: {len(text)} characters is too long for a token amount (uint256)",
            field=field,
        )
    m = _AMOUNT_RE.match(text)
    if not m:
        raise BadInput(
            f"{field}: {text[:60]!r} is not a non-negative decimal number (e.g. 12 or 0.5)",
            field=field,
        )
    whole, frac = m.group(1), (m.group(2) or "").rstrip("0")
    if len(frac) > decimals:
        raise BadInput(
            f"{field}: {text!r} has more than {decimals} decimal places; the token cannot "
            "represent it",
            field=field,
        )
    scale: int = 10**decimals
    frac_units: int = int(frac) * 10 ** (decimals - len(frac)) if frac else 0
    units = int(whole) * scale + frac_units
    if units >= 2**256:
        raise BadInput(f"{field}: {text!r} is too large for a uint256", field=field)
    return units


def transfer_calldata(to: bytes, amount: int) -> bytes:
    from eth_abi.abi import encode

    if len(to) != 20:
        raise ValueError("an address is 20 bytes")
    if not 0 <= amount < 2**256:
        raise BadInput("amount: out of uint256 range", field="amount")
    encoded: bytes = encode(["address", "uint256"], [to_checksum(to), amount])
    return TRANSFER_SELECTOR + encoded
