"""Accounts of a client share: which exist, and their keys and addresses, from the header.

The share header records the key set's public part: ``public_key`` (the root, which is
account 0) and, for keys made since accounts exist, ``chain_code``. So ``mpc address
--account N`` needs no passphrase and no co-signer (:mod:`mpcwallet.engine.derive`). Signing
derives the account again from the decrypted key blob and checks that both agree.

The chain code is public data like an xpub's: with the share file's header anyone can link
the accounts' addresses to each other, but cannot sign.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mpcwallet.engine.base import MAX_ACCOUNT, check_account
from mpcwallet.errors import BadInput, TamperedFile

LEGACY_NOTE = "made before accounts existed: account 0 only"
# `mpc address --accounts A-B` lists at most this many
MAX_LISTED = 1000


def header_fields(chain_code: bytes | None) -> dict[str, Any]:
    """What keygen adds to a new share's header."""
    return {} if chain_code is None else {"chain_code": chain_code.hex()}


def chain_code_of(header: Mapping[str, Any], path: Path) -> bytes | None:
    value = header.get("chain_code")
    if value is None:
        return None
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise TamperedFile(f"{path}: the header's chain_code is not 32 bytes of hex")
    return raw


def root_key_of(header: Mapping[str, Any], path: Path) -> bytes:
    try:
        key = bytes.fromhex(str(header.get("public_key")))
    except ValueError:
        key = b""
    if len(key) != 33:
        raise TamperedFile(f"{path}: the header's public key is not a compressed point")
    return key


def summary(header: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """The ``accounts`` facts for listings: how many, and why only one if so."""
    if chain_code_of(header, path) is None:
        return {"accounts": "0", "accounts_note": LEGACY_NOTE}
    return {"accounts": f"0-{MAX_ACCOUNT}"}


def account_key(header: Mapping[str, Any], path: Path, account: int) -> tuple[bytes, str]:
    """(compressed public key, EIP-55 address) of ``account`` from the share header."""
    from mpcwallet.engine.derive import account_public_key
    from mpcwallet.evm.address import address_from_public_key

    try:
        pub = account_public_key(root_key_of(header, path), chain_code_of(header, path), account)
    except ValueError:
        raise TamperedFile(f"{path}: the header's public key is not a secp256k1 point") from None
    return pub, address_from_public_key(pub)


def parse_range(text: str) -> range:
    """``"3"`` or ``"0-9"`` (inclusive) as a range of account indices."""
    lo_s, sep, hi_s = text.strip().partition("-")
    try:
        lo = int(lo_s)
        hi = int(hi_s) if sep else lo
    except ValueError:
        raise BadInput(
            f"--accounts {text!r}: give one index or a range like 0-9", field="accounts"
        ) from None
    check_account(lo)
    check_account(hi)
    if hi < lo:
        raise BadInput(f"--accounts {text!r}: the range is empty", field="accounts")
    if hi - lo + 1 > MAX_LISTED:
        raise BadInput(
            f"--accounts {text!r}: at most {MAX_LISTED} accounts at once", field="accounts"
        )
    return range(lo, hi + 1)


def share_summary(path: Path, account: int = 0) -> dict[str, Any]:
    """Public facts of a share file; checks the header's address against its public key.

    ``address`` and ``public_key`` are those of ``account``; ``root_public_key`` is the key
    set's root (account 0's key)."""
    from mpcwallet.evm.address import address_from_public_key
    from mpcwallet.storage.store import load_header

    header = load_header(path)
    try:
        public_key = bytes.fromhex(str(header.get("public_key")))
        derived = address_from_public_key(public_key)
    except (ValueError, TypeError):
        raise TamperedFile(f"{path}: the header's public key is not a secp256k1 point") from None
    if derived != header.get("address"):
        raise TamperedFile(f"{path}: the header's address does not match its public key")
    account_pub, account_address = account_key(header, path, account)
    return {
        "address": account_address,
        "account": account,
        "key_id": header.get("key_id"),
        "public_key": account_pub.hex(),
        "root_public_key": public_key.hex(),
        "engine": header.get("engine"),
        "name": header.get("name"),
        "share": str(path),
        **summary(header, path),
        "generation": header.get("generation", 0),
    }
