"""Is a new passphrase too weak to protect a share, a backup or a keyring?

NIST SP 800-63B section 3.1.1.2 (memorized secrets): a minimum length, and a check against a
list of commonly used passwords. Argon2id makes every guess expensive, not a guessable
passphrase safe. The list is package data (``mpcwallet/data/common-passwords.txt``; its
header names its source); it is compared after lower-casing and stripping digits and
punctuation from both ends, so ``Password123!`` is ``password``.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

MIN_LENGTH = 12  # characters
MIN_DISTINCT = 5  # "aaaaaaaaaaaa" and "121212121212" are long and guessed at once


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("mpcwallet").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def weakness(passphrase: str) -> str | None:
    """Why ``passphrase`` is too weak (a phrase to follow "the passphrase ..."), or None."""
    if len(passphrase) < MIN_LENGTH:
        return f"has {len(passphrase)} characters; use at least {MIN_LENGTH}"
    if len(set(passphrase)) < MIN_DISTINCT:
        return f"repeats too few characters; use at least {MIN_DISTINCT} different ones"
    core = passphrase.lower().strip("0123456789 !@#$%^&*()_+-=.,;:?'\"`~[]{}<>/\\|")
    compact = core.replace(" ", "")
    if not any(c.isalpha() for c in core):
        return "has no letters; use several words"
    common = common_passwords()
    if core in common or compact in common or _repeats_common(compact, common):
        return "is a common password with digits or symbols around it; use several words"
    return None


def _repeats_common(text: str, common: frozenset[str]) -> bool:
    """``passwordpassword``, ``qwertyqwerty``: one common word said again."""
    for size in range(1, len(text) // 2 + 1):
        if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
            return text[:size] in common or size < MIN_DISTINCT
    return False
