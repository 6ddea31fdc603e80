"""Account keys of a key set: BIP-32 CKDpub, one non-hardened level, from public data only.

A key set is a root public key Q and a 32-byte chain code both parties agreed in the DKG.
Account 0 is Q itself (so a key made before accounts existed, which has no chain code, keeps
its address as account 0, and every key's recorded address is its account 0). Account
``i`` in 1 .. 2^31-1 is BIP-32's public child key (BIP-32, "Public parent key -> public child
key", CKDpub)::

    I = HMAC-SHA512(key = chain code, data = serP(Q) || ser32(i))
    tweak = parse256(I_L)            (invalid if >= n)
    Q_i = Q + tweak·G                (invalid if the point at infinity)

Signing under keys related by a public additive tweak is what every BIP-32 non-hardened wallet
does; its ECDSA security is analysed in Das, Erwig, Faust, Loss, Riahi, "The Exact Security of
BIP32 Wallets" (CCS 2021). Here no account's private key ever exists in one place.

Anyone holding (Q, chain code) computes every account's address, with no protocol run; the
engines add the tweak to P2's share when signing (see ``engine/portable/hd.py``).
HMAC-SHA512 from the standard library, point arithmetic from coincurve (libsecp256k1).
"""

from __future__ import annotations

import hashlib
import hmac

from mpcwallet.engine.base import check_account
from mpcwallet.errors import AccountUnavailable

CHAIN_CODE_LEN = 32
# order of the secp256k1 group (SEC 2, section 2.4.1)
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _invalid(index: int) -> AccountUnavailable:
    return AccountUnavailable(
        f"account {index} is invalid under BIP-32 for this key set; use another account",
        field="account",
    )


def ckd_pub(parent: bytes, chain_code: bytes, index: int) -> tuple[int, bytes]:
    """(tweak, compressed child public key) of BIP-32 CKDpub of ``parent`` at ``index``."""
    from coincurve import PublicKey

    check_account(index)
    if len(chain_code) != CHAIN_CODE_LEN:
        raise ValueError("a chain code is 32 bytes")
    parent_key = PublicKey(parent)
    data = parent_key.format(compressed=True) + index.to_bytes(4, "big")  # serP || ser32
    i = hmac.new(chain_code, data, hashlib.sha512).digest()
    tweak = int.from_bytes(i[:32], "big")
    if tweak == 0 or tweak >= N:
        # BIP-32: "In case parse256(I_L) >= n ... the resulting key is invalid, and one should
        # proceed with the next value for i". Probability below 2^-127.
        raise _invalid(index)
    try:
        child = parent_key.add(tweak.to_bytes(32, "big"))
    except ValueError:  # the point at infinity
        raise _invalid(index) from None
    return tweak, bytes(child.format(compressed=True))


def account_tweak(root: bytes, chain_code: bytes | None, account: int) -> tuple[int, bytes]:
    """(tweak, compressed public key) of ``account``; tweak 0 for account 0 (the root)."""
    from coincurve import PublicKey

    check_account(account)
    if account == 0:
        return 0, bytes(PublicKey(root).format(compressed=True))
    if chain_code is None:
        raise AccountUnavailable(
            "this key was made before accounts existed and has account 0 only; make a new "
            "key with `mpc keygen` to use more accounts",
            field="account",
        )
    return ckd_pub(root, chain_code, account)


def account_public_key(root: bytes, chain_code: bytes | None, account: int) -> bytes:
    return account_tweak(root, chain_code, account)[1]
