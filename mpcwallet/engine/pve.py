"""Publicly verifiable encryption of key shares (cb-mpc ``coinbase::api::pve``).

A share's private scalar x is encrypted under a base key (RSA-OAEP 2048 or ECIES P-256, cb-mpc's
built-in base PKE) so that anyone holding the ciphertext, the encryption key, the share's public
point Q = x·G and the label can check that it decrypts to x, without the decryption key. The
quorum form encrypts under an access structure of recovery keys: any quorum of their holders
can decrypt, fewer cannot.

Decryption is reachable only through a :class:`Verified` value, which only :func:`verify` (and
its batch and quorum forms) makes: cb-mpc's ``decrypt``/``combine_ac`` do not verify
(pve_base_pke.h: "This function intentionally does not verify"). After decryption each scalar is
checked against its Q again.

Labels are built in one place, :func:`backup_label`: they bind what the ciphertext is for (key
id, party name, generation, curve), so a ciphertext verified for one share cannot pass as
another's.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import coincurve

from mpcwallet import _cbmpc  # ImportError here means: cb-mpc engine not installed
from mpcwallet.engine.base_mp import AccessStructure
from mpcwallet.errors import BadInput, InternalError, InvalidProof, MpcError

__all__ = [
    "BaseKeyKind",
    "Verified",
    "backup_label",
    "combine",
    "decrypt",
    "encrypt",
    "encrypt_ac",
    "encrypt_batch",
    "generate_base_key",
    "partial_decrypt",
    "verify",
    "verify_ac",
    "verify_batch",
]

CURVE = "secp256k1"  # the outer curve (the shares' curve); native/pve.cpp fixes the same
_LABEL_TAG = b"mpcwallet/pve-backup/v1"


class BaseKeyKind(enum.StrEnum):
    RSA_OAEP_2048 = "rsa-oaep-2048"
    ECIES_P256 = "ecies-p256"


def generate_base_key(kind: BaseKeyKind) -> tuple[bytes, bytes]:
    """A fresh base key pair ``(ek, dk)`` of cb-mpc's built-in PKE; ``dk`` is secret."""
    gen = {
        BaseKeyKind.RSA_OAEP_2048: _cbmpc.pve_generate_rsa_keypair,
        BaseKeyKind.ECIES_P256: _cbmpc.pve_generate_ecies_p256_keypair,
    }[BaseKeyKind(kind)]
    try:
        return gen()
    except _cbmpc.Error as exc:
        raise _failed(exc, "generating a base key") from None


def backup_label(
    key_id: str, party_name: str, generation: int, curve: str = CURVE, *, binds: bytes = b""
) -> bytes:
    """The label of a share backup: tag | key id | party name | generation | curve, each
    length-prefixed (so no two different tuples give the same bytes); then ``binds`` (up to
    255 bytes, e.g. a digest of the public key blob the scalar will be attached to), if any."""
    if not isinstance(binds, bytes) or len(binds) > 255:
        raise BadInput("binds must be at most 255 bytes", field="binds")
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 0:
        raise BadInput("the generation must be a non-negative integer", field="generation")
    fields = [key_id, party_name, str(generation), curve]
    for name, value in zip(("key_id", "party_name", "generation", "curve"), fields, strict=True):
        if not isinstance(value, str) or not value or len(value.encode()) > 255:
            raise BadInput(f"{name} must be a non-empty string of at most 255 bytes", field=name)
    out = bytes([len(_LABEL_TAG)]) + _LABEL_TAG
    for value in fields:
        raw = value.encode()
        out += bytes([len(raw)]) + raw
    return out + (bytes([len(binds)]) + binds if binds else b"")


@dataclass(frozen=True)
class Verified:
    """A ciphertext that :func:`verify` (or its batch / quorum form) accepted, with everything it
    was verified against. Only those functions make one."""

    ciphertext: bytes
    label: bytes
    points: tuple[bytes, ...]  # Q per scalar, SEC1 compressed
    ek: bytes = b""  # single and batch forms
    access: AccessStructure | None = None  # quorum form
    leaf_eks: tuple[tuple[str, bytes], ...] = ()
    batch: bool = False
    _token: object = None

    def __post_init__(self) -> None:
        if self._token is not _TOKEN:
            raise TypeError("Verified values come from pve.verify, verify_batch or verify_ac")


_TOKEN = object()


def _hex(exc: _cbmpc.Error) -> str:
    return f"0x{int(exc.args[0]) & 0xFFFFFFFF:08x}"


def _failed(exc: _cbmpc.Error, what: str) -> MpcError:
    code = int(exc.args[0]) & 0xFFFFFFFF
    if code in {c & 0xFFFFFFFF for c in (_cbmpc.E_BADARG, _cbmpc.E_RANGE)}:
        return BadInput(f"cb-mpc refused the arguments for {what} (code 0x{code:08x})")
    return InternalError(f"cb-mpc failed {what} (code 0x{code:08x})")


def _not_verified(exc: _cbmpc.Error, what: str) -> InvalidProof:
    # Whatever the code (crypto check, a ciphertext that does not parse, a key of the wrong
    # kind), the ciphertext is not proven to hold the scalars: never decrypted.
    code = int(exc.args[0]) & 0xFFFFFFFF
    return InvalidProof(
        f"the {what} does not verify (code 0x{code:08x}): it was tampered with, or is for "
        "another key, label or public point; it is not decrypted"
    )


def _check_scalars(xs: Sequence[bytes], points: Sequence[bytes]) -> list[bytes]:
    out = []
    for x, q in zip(xs, points, strict=True):
        if len(x) != 32 or coincurve.PublicKey.from_secret(x).format(compressed=True) != q:
            raise InvalidProof("a decrypted scalar does not match its public point")
        out.append(x)
    return out


def _scalar(x: bytes) -> bytes:
    if not isinstance(x, bytes) or len(x) != 32:
        raise BadInput("a scalar to encrypt must be 32 bytes (big-endian)", field="scalar")
    return x


# ---- one recipient -------------------------------------------------------------------------


def encrypt(ek: bytes, label: bytes, scalar: bytes) -> bytes:
    try:
        return _cbmpc.pve_encrypt(ek, label, _scalar(scalar))
    except _cbmpc.Error as exc:
        raise _failed(exc, "PVE encryption") from None


def verify(ek: bytes, ciphertext: bytes, point: bytes, label: bytes) -> Verified:
    """:class:`Verified` if ``ciphertext`` encrypts the discrete log of ``point`` under ``ek``
    and ``label`` (cb-mpc ``pve::verify``); :class:`InvalidProof` otherwise."""
    try:
        _cbmpc.pve_verify(ek, ciphertext, point, label)
    except _cbmpc.Error as exc:
        raise _not_verified(exc, "PVE ciphertext") from None
    return Verified(ciphertext, label, (point,), ek=ek, _token=_TOKEN)


def encrypt_batch(ek: bytes, label: bytes, scalars: Sequence[bytes]) -> bytes:
    try:
        return _cbmpc.pve_encrypt_batch(ek, label, [_scalar(x) for x in scalars])
    except _cbmpc.Error as exc:
        raise _failed(exc, "PVE batch encryption") from None


def verify_batch(ek: bytes, ciphertext: bytes, points: Sequence[bytes], label: bytes) -> Verified:
    try:
        _cbmpc.pve_verify_batch(ek, ciphertext, list(points), label)
    except _cbmpc.Error as exc:
        raise _not_verified(exc, "PVE batch ciphertext") from None
    return Verified(ciphertext, label, tuple(points), ek=ek, batch=True, _token=_TOKEN)


def decrypt(verified: Verified, dk: bytes) -> list[bytes]:
    """The scalars of a verified single or batch ciphertext (one for the single form)."""
    if not isinstance(verified, Verified) or verified.access is not None:
        raise BadInput("decrypt takes what pve.verify or pve.verify_batch returned")
    try:
        if verified.batch:
            xs = _cbmpc.pve_decrypt_batch(dk, verified.ek, verified.ciphertext, verified.label)
        else:
            xs = [_cbmpc.pve_decrypt(dk, verified.ek, verified.ciphertext, verified.label)]
    except _cbmpc.Error as exc:
        # A verified ciphertext that does not decrypt: the wrong decryption key.
        raise BadInput(
            f"the ciphertext does not decrypt with this key (code {_hex(exc)})",
            field="dk",
        ) from None
    return _check_scalars(xs, verified.points)


# ---- a quorum of recovery keys -------------------------------------------------------------


def encrypt_ac(
    access: AccessStructure, leaf_eks: Mapping[str, bytes], label: bytes, scalars: Sequence[bytes]
) -> bytes:
    try:
        return _cbmpc.pve_encrypt_ac(
            access.native(), dict(leaf_eks), label, [_scalar(x) for x in scalars]
        )
    except _cbmpc.Error as exc:
        raise _failed(exc, "PVE quorum encryption") from None


def verify_ac(
    access: AccessStructure,
    leaf_eks: Mapping[str, bytes],
    ciphertext: bytes,
    points: Sequence[bytes],
    label: bytes,
) -> Verified:
    try:
        _cbmpc.pve_verify_ac(access.native(), dict(leaf_eks), ciphertext, list(points), label)
    except _cbmpc.Error as exc:
        raise _not_verified(exc, "PVE quorum ciphertext") from None
    return Verified(
        ciphertext,
        label,
        tuple(points),
        access=access,
        leaf_eks=tuple(sorted(leaf_eks.items())),
        _token=_TOKEN,
    )


def partial_decrypt(verified: Verified, leaf_name: str, dk: bytes, attempt: int = 0) -> bytes:
    """Recovery key ``leaf_name``'s decryption share (secret: give it only to the combiner)."""
    if not isinstance(verified, Verified) or verified.access is None:
        raise BadInput("partial_decrypt takes what pve.verify_ac returned")
    if leaf_name not in dict(verified.leaf_eks):
        raise BadInput(f"{leaf_name!r} is not a recovery key of this ciphertext", field="leaf")
    try:
        return _cbmpc.pve_partial_decrypt_ac(
            verified.access.native(), verified.ciphertext, attempt, leaf_name, dk, verified.label
        )
    except _cbmpc.Error as exc:
        raise BadInput(
            f"recovery key {leaf_name!r} cannot decrypt its part (code "
            f"{_hex(exc)}); is it the right key?",
            field="dk",
        ) from None


def combine(verified: Verified, shares: Mapping[str, bytes], attempt: int = 0) -> list[bytes]:
    """The scalars from a quorum's decryption shares (cb-mpc ``combine_ac``)."""
    if not isinstance(verified, Verified) or verified.access is None:
        raise BadInput("combine takes what pve.verify_ac returned")
    if not verified.access.satisfied_by(shares):
        raise BadInput(
            f"the shares of {', '.join(sorted(shares)) or '(none)'} do not form a quorum of "
            f"{verified.access.describe()}",
            field="shares",
        )
    try:
        xs = _cbmpc.pve_combine_ac(
            verified.access.native(), verified.ciphertext, attempt, verified.label, dict(shares)
        )
    except _cbmpc.Error as exc:
        raise InvalidProof(
            f"the decryption shares do not combine (code {_hex(exc)}); "
            "a share is wrong, or try the next attempt"
        ) from None
    return _check_scalars(xs, verified.points)
