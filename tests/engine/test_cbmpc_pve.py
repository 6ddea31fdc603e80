"""cb-mpc's publicly verifiable encryption through the binding and :mod:`mpcwallet.engine.pve`.

Base keys are made once per module (RSA key generation is the slow part).
"""

from __future__ import annotations

import coincurve
import pytest

try:
    from mpcwallet import _cbmpc
except ImportError:
    pytest.skip(
        "cb-mpc engine not installed (mpcwallet._cbmpc missing); see README",
        allow_module_level=True,
    )

from mpcwallet.engine import pve
from mpcwallet.engine.base_mp import threshold
from mpcwallet.errors import BadInput, InvalidProof

pytestmark = pytest.mark.cbmpc

LABEL = pve.backup_label("key-1", "node-a", 3)


def scalar_and_point() -> tuple[bytes, bytes]:
    x = coincurve.PrivateKey().secret
    return x, coincurve.PublicKey.from_secret(x).format()


@pytest.fixture(scope="module", params=list(pve.BaseKeyKind))
def base_key(request: pytest.FixtureRequest) -> tuple[bytes, bytes]:
    return pve.generate_base_key(request.param)


def flip(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 1
    return bytes(out)


def test_labels_bind_every_field_and_are_unambiguous() -> None:
    labels = {
        pve.backup_label("key-1", "node-a", 3),
        pve.backup_label("key-2", "node-a", 3),
        pve.backup_label("key-1", "node-b", 3),
        pve.backup_label("key-1", "node-a", 4),
        pve.backup_label("key-1", "node-a", 3, "p256"),
        pve.backup_label("key-1n", "ode-a", 3),  # same concatenation, other split
    }
    assert len(labels) == 6
    with pytest.raises(BadInput):
        pve.backup_label("", "node-a", 0)
    with pytest.raises(BadInput):
        pve.backup_label("key-1", "node-a", -1)


def test_round_trip(base_key: tuple[bytes, bytes]) -> None:
    ek, dk = base_key
    x, q = scalar_and_point()
    ct = pve.encrypt(ek, LABEL, x)
    assert _cbmpc.pve_public_key(ct) == q and _cbmpc.pve_label(ct) == LABEL
    assert x not in ct
    assert pve.decrypt(pve.verify(ek, ct, q, LABEL), dk) == [x]


def test_tampered_ciphertext_wrong_label_or_point_fail_verify(
    base_key: tuple[bytes, bytes],
) -> None:
    ek, _ = base_key
    x, q = scalar_and_point()
    ct = pve.encrypt(ek, LABEL, x)
    for at in (len(ct) // 3, len(ct) // 2, len(ct) - 5):
        with pytest.raises(InvalidProof):
            pve.verify(ek, flip(ct, at), q, LABEL)
    with pytest.raises(InvalidProof):
        pve.verify(ek, ct, q, pve.backup_label("key-1", "node-a", 4))  # another generation
    with pytest.raises(InvalidProof):
        pve.verify(ek, ct, scalar_and_point()[1], LABEL)
    with pytest.raises(InvalidProof):
        pve.verify(ek, ct[:-1], q, LABEL)


def test_decrypt_needs_a_verified_ciphertext(base_key: tuple[bytes, bytes]) -> None:
    ek, dk = base_key
    x, q = scalar_and_point()
    ct = pve.encrypt(ek, LABEL, x)
    with pytest.raises(TypeError):
        pve.Verified(ct, LABEL, (q,), ek=ek)  # only verify() makes one
    with pytest.raises(BadInput):
        pve.decrypt(ct, dk)  # type: ignore[arg-type]


def test_batch_round_trip_and_tamper(base_key: tuple[bytes, bytes]) -> None:
    ek, dk = base_key
    pairs = [scalar_and_point() for _ in range(3)]
    xs, qs = [p[0] for p in pairs], [p[1] for p in pairs]
    ct = pve.encrypt_batch(ek, LABEL, xs)
    assert _cbmpc.pve_public_keys_batch(ct) == qs
    assert pve.decrypt(pve.verify_batch(ek, ct, qs, LABEL), dk) == xs
    with pytest.raises(InvalidProof):
        pve.verify_batch(ek, flip(ct, len(ct) // 2), qs, LABEL)
    with pytest.raises(InvalidProof):
        pve.verify_batch(ek, ct, qs[::-1], LABEL)


def test_wrong_decryption_key_is_bad_input() -> None:
    ek, _ = pve.generate_base_key(pve.BaseKeyKind.ECIES_P256)
    _, other_dk = pve.generate_base_key(pve.BaseKeyKind.ECIES_P256)
    x, q = scalar_and_point()
    verified = pve.verify(ek, pve.encrypt(ek, LABEL, x), q, LABEL)
    with pytest.raises(BadInput):
        pve.decrypt(verified, other_dk)


def test_quorum_variant_decrypts_with_a_quorum_and_not_with_fewer() -> None:
    names = ("recovery-1", "recovery-2", "recovery-3")
    ac = threshold(2, names)
    kinds = [pve.BaseKeyKind.ECIES_P256, pve.BaseKeyKind.RSA_OAEP_2048, pve.BaseKeyKind.ECIES_P256]
    keys = {n: pve.generate_base_key(k) for n, k in zip(names, kinds, strict=True)}
    eks = {n: k[0] for n, k in keys.items()}
    pairs = [scalar_and_point() for _ in range(2)]
    xs, qs = [p[0] for p in pairs], [p[1] for p in pairs]
    ct = pve.encrypt_ac(ac, eks, LABEL, xs)
    assert _cbmpc.pve_public_keys_ac(ct) == qs
    with pytest.raises(InvalidProof):
        pve.verify_ac(ac, eks, flip(ct, len(ct) // 2), qs, LABEL)
    with pytest.raises(InvalidProof):
        pve.verify_ac(ac, eks, ct, qs, pve.backup_label("key-1", "node-b", 3))
    verified = pve.verify_ac(ac, eks, ct, qs, LABEL)
    shares = {n: pve.partial_decrypt(verified, n, keys[n][1]) for n in names}
    for pair in [(names[0], names[1]), (names[0], names[2]), (names[1], names[2])]:
        assert pve.combine(verified, {n: shares[n] for n in pair}) == xs
    # One share is not a quorum: refused here, and cb-mpc itself cannot combine it.
    with pytest.raises(BadInput):
        pve.combine(verified, {names[0]: shares[names[0]]})
    with pytest.raises(_cbmpc.Error):
        _cbmpc.pve_combine_ac(ac.native(), ct, 0, LABEL, {names[0]: shares[names[0]]})
    # A wrong share does not yield a wrong scalar silently.
    with pytest.raises(InvalidProof):
        pve.combine(verified, {names[0]: shares[names[0]], names[1]: flip(shares[names[1]], 5)})


def test_why_decrypt_is_gated_a_substituted_ciphertext_decrypts_raw_but_never_verifies(
    base_key: tuple[bytes, bytes],
) -> None:
    """cb-mpc's decrypt does not verify: a valid ciphertext of another scalar, same key and
    label, decrypts to that other scalar. Only verify against the share's point catches it."""
    ek, dk = base_key
    _, q = scalar_and_point()
    other, _ = scalar_and_point()
    substituted = pve.encrypt(ek, LABEL, other)
    assert _cbmpc.pve_decrypt(dk, ek, substituted, LABEL) == other  # raw: no check
    with pytest.raises(InvalidProof):
        pve.verify(ek, substituted, q, LABEL)
