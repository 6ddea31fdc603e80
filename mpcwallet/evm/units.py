"""Amounts as people write them: ``"0.01 ETH"``, ``"0.01eth"``, ``"0.01 ether"``, ``"30 gwei"``,
``"30gwei"`` (units case-insensitive; ``ETH`` is ether, the preview's own spelling), or wei.

The conversion is eth-utils' (``to_wei``/``from_wei``, exact over :class:`~decimal.Decimal`),
imported only when a unit is actually written, so plain-integer tx.json files and ``mpc --help``
never load it. An amount without a unit is an integer in wei (JSON number, decimal or 0x-hex),
exactly as before; a decimal without a unit (``0.01``) is refused with the ways to write it.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from mpcwallet.errors import BadInput

__all__ = ["format_ether", "format_gwei", "format_units", "has_unit", "parse_wei"]

_AMOUNT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([A-Za-z]+)\s*$")
_UNIT_RE = re.compile(r"[A-Za-z]\s*$")
_DECIMAL_RE = re.compile(r"^\s*(\d+\.\d*|\.\d+)\s*$")
_MAX_CHARS = 100  # longer than any amount of up to 2^256-1 wei with a unit
ALIASES = {"eth": "ether"}  # what the preview prints ("0.01 ETH") is accepted back


def has_unit(value: object) -> bool:
    """True for a string ending in a unit name (not for 0x-hex, which ends in a digit or a-f)."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    return not text[:2].lower() == "0x" and bool(_UNIT_RE.search(text))


def parse_wei(value: object, field: str) -> int:
    """``"0.01 ether"`` -> 10**16 wei; a value without a unit goes to tx.json's integer parser."""
    _refuse_bare_decimal(value, field)
    if not has_unit(value):
        from mpcwallet.evm.txjson import parse_int

        return parse_int(value, field)
    assert isinstance(value, str)
    from mpcwallet.evm.address import shown

    m = _AMOUNT_RE.match(value) if len(value) <= _MAX_CHARS else None
    if not m:
        raise BadInput(
            f'{field}: {shown(value)} is not an amount; write e.g. "0.01 ether", "10 gwei" or an '
            "integer in wei",
            field=field,
        )
    from eth_utils.currency import to_wei
    from eth_utils.currency import units as known  # type: ignore[attr-defined]

    unit = m.group(2).lower()
    unit = ALIASES.get(unit, unit)
    if unit not in known:
        raise BadInput(
            f"{field}: unknown unit {shown(m.group(2))} in {shown(value)}; use wei, gwei, ETH "
            "(or ether)",
            field=field,
        )
    try:
        amount = Decimal(m.group(1))
    except InvalidOperation:  # pragma: no cover - the regex admits only decimals
        raise BadInput(f"{field}: {shown(value)} is not a number", field=field) from None
    if amount * Decimal(known[unit]) != int(amount * Decimal(known[unit])):
        raise BadInput(
            f"{field}: {shown(value)} is not a whole number of wei (too many decimals for {unit})",
            field=field,
        )
    wei = int(to_wei(amount, unit))
    from mpcwallet.evm.txjson import parse_int

    return parse_int(wei, field)  # the same range check as an integer


def _refuse_bare_decimal(value: object, field: str) -> None:
    """``0.01`` (a string or a JSON float) is ambiguous: ETH, gwei or wei? Say how to write it."""
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        text = repr(value)
    elif isinstance(value, str) and len(value) <= _MAX_CHARS and _DECIMAL_RE.match(value):
        text = value.strip()
    else:
        return
    amount = Decimal(text)
    if "e" in text.lower() or amount < 0:
        return  # not how a person writes an amount; tx.json's integer parser refuses it
    shown_text = format(amount.normalize(), "f")
    wei = amount * Decimal(10**18)
    as_wei = f', or in wei "{int(wei)}"' if wei == int(wei) else ""
    raise BadInput(
        f'{field}: {shown_text} needs a unit: write "{shown_text} ETH" (or "{shown_text}eth", '
        f'"{shown_text} ether"), "{shown_text} gwei"{as_wei}',
        field=field,
    )


def format_units(amount: int, decimals: int) -> str:
    """``amount`` base units at ``decimals`` as an exact decimal (``1500000, 6`` -> ``1.5``)."""
    text = format(Decimal(amount).scaleb(-decimals), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_ether(wei: int) -> str:
    """``10**16`` -> ``"0.01"`` (exact; no rounding, no exponent)."""
    return format_units(wei, 18)


def format_gwei(wei: int) -> str:
    return format_units(wei, 9)
