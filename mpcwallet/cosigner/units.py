"""Amounts with units in the policy file: ``"0.05 ether"``, ``"200 gwei"``, ``"21000 wei"``.

The conversion is eth-utils' ``to_wei`` (exact, from a :class:`~decimal.Decimal`), imported only
when a policy is parsed so ``mpc --help`` never loads it. A bare integer (TOML int) is wei.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_AMOUNT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s+([A-Za-z]+)\s*$")


class UnitError(ValueError):
    """The text is not ``<number> <unit>``; the message says why (no secrets involved)."""


def parse_wei(value: object) -> int:
    """``"0.05 ether"`` -> 50000000000000000; an int is taken as wei. :class:`UnitError` else."""
    if isinstance(value, bool):
        raise UnitError('expected an amount such as "0.05 ether", got a boolean')
    if isinstance(value, int):
        if value < 0:
            raise UnitError("an amount cannot be negative")
        return value
    if not isinstance(value, str):
        raise UnitError('expected an amount such as "0.05 ether" or "200 gwei"')
    m = _AMOUNT_RE.match(value)
    if not m:
        raise UnitError(
            f'{value!r} is not an amount with a unit, such as "0.05 ether" or "200 gwei"'
        )
    from eth_utils.currency import to_wei
    from eth_utils.currency import units as _units  # type: ignore[attr-defined]

    units: dict[str, Decimal] = _units

    unit = m.group(2).lower()
    if unit not in units:
        raise UnitError(f"{value!r}: unknown unit {m.group(2)!r} (use wei, gwei or ether)")
    try:
        amount = Decimal(m.group(1))
    except InvalidOperation:  # pragma: no cover - the regex admits only decimals
        raise UnitError(f"{value!r} is not a number") from None
    try:
        wei = int(to_wei(amount, unit))
    except ValueError as exc:
        raise UnitError(f"{value!r}: {exc}") from None
    if Decimal(wei) != amount * units[unit]:
        raise UnitError(f"{value!r} is not a whole number of wei")
    return wei


def parse_token_amount(value: object, decimals: int) -> int:
    """A token amount in token units (``"12.5"``) -> base units; an int is base units."""
    if isinstance(value, bool):
        raise UnitError('expected a token amount such as "100" or "12.5"')
    if isinstance(value, int):
        if value < 0:
            raise UnitError("an amount cannot be negative")
        return value
    if not isinstance(value, str):
        raise UnitError('expected a token amount such as "100" or "12.5"')
    from mpcwallet.errors import BadInput
    from mpcwallet.evm.erc20 import parse_amount

    try:
        return parse_amount(value, decimals)
    except BadInput as exc:
        raise UnitError(exc.message) from None
