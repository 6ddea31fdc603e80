"""Engine DER signature -> Ethereum signed transaction.

Steps (DESIGN.md, "A signature, end to end"):

1. DER -> (r, s) with cryptography's ``decode_dss_signature``.
2. low-s: s > n/2 becomes n - s (Ethereum's homestead rule, EIP-2; the engines already return
   low-s, but nothing here trusts that).
3. recovery id: the one of {0, 1} for which coincurve's ECDSA public-key recovery over the
   digest returns the wallet's known public key. If neither does, the signature does not belong
   to this key and digest: that is a protocol violation, never a retry (Lindell 2017, ePrint
   2017/552, Protocol 4, last step: P1 verifies the signature before output; §1.2/§4: whether
   P1 aborts is the oracle of the abort attack, so failures are not retried). Both engine
   adapters already verify on P1; this re-check is against the public key in the share
   header, which is what the wallet's address was derived from.
4. v per type: yParity for typed transactions, chainId*2+35+recid for legacy (EIP-155).
5. assemble the raw transaction, decode it again and check that the sender recovers to the wallet
   address and that every field equals the request, before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mpcwallet.errors import BadInput, InternalError, ProtocolViolation
from mpcwallet.evm.address import address_from_public_key, keccak, to_checksum
from mpcwallet.evm.txdecode import decode_signed
from mpcwallet.evm.txjson import (
    TYPE_1559,
    UnsignedTx,
    encode_signed,
    signing_digest,
)

# order of the secp256k1 group (SEC 2, section 2.4.1)
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_N = SECP256K1_N // 2


@dataclass(frozen=True)
class SignedTx:
    sender: str
    tx_hash: bytes
    signing_hash: bytes
    r: int
    s: int
    v: int
    y_parity: int
    raw: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.sender,
            "hash": "0x" + self.tx_hash.hex(),
            "signing_hash": "0x" + self.signing_hash.hex(),
            "r": hex(self.r),
            "s": hex(self.s),
            "v": self.v,
            "yParity": self.y_parity,
            "raw_tx": "0x" + self.raw.hex(),
        }


def der_to_rs(der: bytes) -> tuple[int, int]:
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    try:
        r, s = decode_dss_signature(der)
    except ValueError:
        raise ProtocolViolation("the signature from the engine is not valid DER") from None
    if not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        raise ProtocolViolation("the signature from the engine is out of range")
    return r, s


def low_s(s: int) -> int:
    return SECP256K1_N - s if s > HALF_N else s


def recover_public_key(digest: bytes, r: int, s: int, recid: int) -> bytes | None:
    """Compressed public key recovered from (r, s, recid) over ``digest``, or None."""
    from coincurve import PublicKey

    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([recid])
    try:
        key = PublicKey.from_signature_and_message(sig, digest, hasher=None)
    except Exception:  # noqa: BLE001 - coincurve raises plain Exception when recovery fails
        return None
    compressed: bytes = key.format(compressed=True)
    return compressed


def recovery_id(digest: bytes, r: int, s: int, public_key: bytes) -> int:
    """The y parity in {0, 1} under which (r, s) recovers to ``public_key`` (any SEC1 form)."""
    from coincurve import PublicKey

    want = PublicKey(public_key).format(compressed=True)
    for recid in (0, 1):
        if recover_public_key(digest, r, s, recid) == want:
            return recid
    raise ProtocolViolation(
        "the two-party signature does not verify against this wallet's public key; "
        "nothing was written (see `mpc key status`)"
    )


def assemble(tx: UnsignedTx, der: bytes, public_key: bytes) -> SignedTx:
    """Turn the engine's DER into a checked raw transaction for ``tx``."""
    digest = signing_digest(tx)
    r, s = der_to_rs(der)
    s = low_s(s)
    y_parity = recovery_id(digest, r, s, public_key)
    raw = encode_signed(tx, y_parity, r, s)
    sender = address_from_public_key(public_key)
    if tx.sender is not None and to_checksum(tx.sender) != sender:
        raise BadInput(
            f"from: {to_checksum(tx.sender)} is not this wallet's address {sender}", field="from"
        )
    check_raw(raw, tx, sender)
    v = y_parity if tx.type == TYPE_1559 else tx.chain_id * 2 + 35 + y_parity
    return SignedTx(
        sender=sender,
        tx_hash=keccak(raw),
        signing_hash=digest,
        r=r,
        s=s,
        v=v,
        y_parity=y_parity,
        raw=raw,
    )


def raw_sender(raw: bytes) -> tuple[UnsignedTx, str]:
    """Decode a raw signed transaction and recover its sender address."""
    decoded, y_parity, r, s = decode_signed(raw)
    if not (0 < r < SECP256K1_N and 0 < s <= HALF_N):
        raise BadInput("raw transaction: signature out of range or high s", field="raw")
    key = recover_public_key(signing_digest(decoded), r, s, y_parity)
    if key is None:
        raise BadInput("raw transaction: the signature does not recover a sender", field="raw")
    return decoded, address_from_public_key(key)


def check_raw(raw: bytes, tx: UnsignedTx, sender: str) -> None:
    """The assembled raw transaction decodes to ``tx`` and recovers to ``sender``."""
    decoded, recovered = raw_sender(raw)
    if decoded != tx.with_fields(sender=None) or recovered != sender:
        raise InternalError(
            "the assembled transaction does not decode to the request; nothing was written"
        )


def message_signature(digest: bytes, der: bytes, public_key: bytes) -> dict[str, Any]:
    """A message or typed-data signature as wallets give it: 65 bytes r || s || v, with low s
    (EIP-2) and v = 27 + recovery id (the form ecrecover and eth-account's recover_message
    take), checked to recover to ``public_key``."""
    r, s = der_to_rs(der)
    s = low_s(s)
    v = 27 + recovery_id(digest, r, s, public_key)
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])
    return {
        "signature": "0x" + sig.hex(),
        "r": "0x" + r.to_bytes(32, "big").hex(),
        "s": "0x" + s.to_bytes(32, "big").hex(),
        "v": v,
        "hash": "0x" + digest.hex(),
        "address": address_from_public_key(public_key),
    }
