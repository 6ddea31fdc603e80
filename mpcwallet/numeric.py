"""The one validator for numeric options and environment variables.

A number the user gives (``--timeout``, ``--confirmations``, ``MPC_RPC_RETRY_SECONDS`` ...) must
be finite and inside its documented range; NaN, infinities, negatives and out-of-range values are
refused with :class:`~mpcwallet.errors.BadInput` (exit 2) naming the option or variable. NaN is
the dangerous one: every comparison with it is false, so ``deadline = now + nan`` never passes
and a retry loop runs forever.

The ranges live here, in :data:`RANGES`, so the CLI callbacks (``cli/options.py``), the
environment readers and the README agree.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

from mpcwallet.errors import BadInput

__all__ = ["RANGES", "Range", "check", "from_env", "parse"]

_MAX_TEXT = 40  # longer text is not a number we accept (and int() would refuse > 4300 digits)
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class Range:
    """Accepted values: ``minimum`` (inclusive unless ``above``) .. ``maximum`` inclusive."""

    minimum: float
    maximum: float
    integer: bool = False
    above: bool = False  # the minimum itself is excluded: (minimum, maximum]
    unit: str = ""

    def describe(self) -> str:
        lo = "(" if self.above else "["
        kind = "an integer" if self.integer else "a number"
        unit = f" {self.unit}" if self.unit else ""
        return f"{kind} in {lo}{self.minimum:g}, {self.maximum:g}]{unit}"


DAY = 86_400.0
UINT64_MAX = 2**64 - 1

# name (as the user writes it) -> accepted range
RANGES: dict[str, Range] = {
    "--timeout": Range(0, DAY, unit="seconds"),
    "--receipt-timeout": Range(0, DAY, above=True, unit="seconds"),
    "--confirmations": Range(1, 10_000, integer=True),
    "--rounds": Range(1, 1000, integer=True),
    "--decimals": Range(0, 77, integer=True),
    "--chain-id": Range(1, UINT64_MAX, integer=True),
    "--nonce": Range(0, UINT64_MAX, integer=True),
    "--gas": Range(0, UINT64_MAX, integer=True),
    "--max-fee-per-gas": Range(0, 2**256 - 1, integer=True),
    "--max-priority-fee-per-gas": Range(0, 2**256 - 1, integer=True),
    "--port": Range(0, 65_535, integer=True),
    "MPC_RPC_RETRY_SECONDS": Range(0, DAY, unit="seconds"),
    "MPC_ROUND_TIMEOUT": Range(0, 3600, above=True, unit="seconds"),
}


def _field(name: str) -> str:
    return name.lstrip("-").replace("-", "_") if name.startswith("--") else name


def check(value: float, name: str, rng: Range | None = None) -> float:
    """``value`` if it is finite and inside the range of ``name``; else BadInput naming it."""
    rng = rng or RANGES[name]
    bad = (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and not math.isfinite(value))
        or (rng.integer and not isinstance(value, int))
        or value < rng.minimum
        or (rng.above and value == rng.minimum)
        or value > rng.maximum
    )
    if bad:
        shown = repr(value) if not isinstance(value, int) or value.bit_length() < 128 else "huge"
        raise BadInput(f"{name}: {shown} is not {rng.describe()}", field=_field(name))
    return value


def parse(text: str, name: str, rng: Range | None = None) -> float:
    """A number from text, checked as :func:`check` does.

    Plain decimal notation only (``30``, ``1.5``, ``2e3`` for non-integers): Python's own
    parsers also take ``nan``, ``inf``, ``1_000`` and surrounding whitespace, which no user
    means as a timeout.
    """
    rng = rng or RANGES[name]
    grammar = _INT_TEXT if rng.integer else _FLOAT_TEXT
    if len(text) > _MAX_TEXT or not grammar.fullmatch(text):
        raise BadInput(f"{name}: {text[:_MAX_TEXT]!r} is not {rng.describe()}", field=_field(name))
    return check(int(text) if rng.integer else float(text), name, rng)


def from_env(name: str, default: float, rng: Range | None = None) -> float:
    """The environment variable ``name`` as a checked number; ``default`` if unset or empty."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    return parse(raw.strip(), name, rng)
