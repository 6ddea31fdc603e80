"""The signing permit (issue 23's SigningPermit; mpcwallet/topology/permit.py): what a node checks
before any signature: the signature under the pinned permit key, the key set, the TTL, and the
tx_hash against the digest the node recomputed itself."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mpcwallet.errors import (
    PermitExpired,
    PermitMismatch,
    PermitRefused,
    PermitTampered,
    PermitWrongDigest,
)
from mpcwallet.topology.permit import SigningPermit, check_permit, issue_permit

DIGEST = bytes(range(32))
NOW = 1_800_000_000


def _keys() -> tuple[bytes, bytes]:
    k = Ed25519PrivateKey.generate()
    return k.private_bytes_raw(), k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _permit(private: bytes, **kw: object) -> SigningPermit:
    args: dict = {
        "tx_request_id": "r1",
        "wallet_id": "w1",
        "keyset_id": "ks-1",
        "tx_hash": DIGEST,
        "now": NOW,
        "controls": {"kyt": "clear"},
    }
    args.update(kw)
    return issue_permit(private, **args)


def test_a_fresh_permit_passes_and_round_trips_json() -> None:
    private, public = _keys()
    permit = SigningPermit.from_json(_permit(private).to_json())
    check_permit(permit, permit_key=public, keyset_id="ks-1", digest=DIGEST, now=NOW + 59)
    assert permit.ttl == 60 and len(permit.nonce) == 32


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"tx_hash": "0x" + "00" * 32}, PermitTampered),
        ({"controls": {"kyt": "denied"}}, PermitTampered),
        ({"ttl": 600}, PermitTampered),
        ({"nonce": "00" * 16}, PermitTampered),
        ({"signature": "00" * 64}, PermitTampered),
    ],
)
def test_any_edit_breaks_the_signature(change: dict, error: type) -> None:
    private, public = _keys()
    doc = _permit(private).to_json() | change
    with pytest.raises(error):
        check_permit(
            SigningPermit.from_json(doc),
            permit_key=public,
            keyset_id="ks-1",
            digest=DIGEST,
            now=NOW,
        )


def test_each_check_refuses_with_its_own_code() -> None:
    private, public = _keys()
    good = _permit(private)
    with pytest.raises(PermitTampered):
        check_permit(good, permit_key=_keys()[1], keyset_id="ks-1", digest=DIGEST, now=NOW)
    with pytest.raises(PermitMismatch):
        check_permit(good, permit_key=public, keyset_id="ks-2", digest=DIGEST, now=NOW)
    with pytest.raises(PermitExpired):
        check_permit(good, permit_key=public, keyset_id="ks-1", digest=DIGEST, now=NOW + 61)
    with pytest.raises(PermitExpired):  # issued in the future beyond the clock skew
        check_permit(good, permit_key=public, keyset_id="ks-1", digest=DIGEST, now=NOW - 60)
    with pytest.raises(PermitWrongDigest):
        check_permit(good, permit_key=public, keyset_id="ks-1", digest=bytes(32), now=NOW)


@pytest.mark.parametrize("doc", [None, "x", {}, {"tx_request_id": "r"}])
def test_a_missing_or_malformed_permit_is_refused(doc: object) -> None:
    with pytest.raises(PermitRefused) as info:
        SigningPermit.from_json(doc)
    assert info.value.field == "permit"
