"""Accounts: one key set, many keys (engine/derive.py, portable hd.py, cb-mpc's derived blobs).

Every engine: the key of account i is what BIP-32 CKDpub's tweak predicts (checked with
coincurve arithmetic apart from the code under test), both parties compute it alone and
agree, signing with it verifies, refresh keeps every account, and a key from before accounts
keeps working as account 0 only.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from coincurve import PrivateKey, PublicKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpcwallet.engine import Engine, Role, blob
from mpcwallet.engine.base import MAX_ACCOUNT
from mpcwallet.engine.derive import account_public_key, ckd_pub
from mpcwallet.engine.memory import run_two_party
from mpcwallet.errors import AccountUnavailable, BadInput, InvalidProof, KeyBlobMismatch

from .helpers import check_signature, digest_of

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

# BIP-32 test vector 1 (https://github.com/bitcoin/bips/blob/master/bip-0032.mediawiki):
# chain m/0H -> m/0H/1 is a non-hardened step, so CKDpub from m/0H's public key must give
# m/0H/1's public key.
BIP32_PARENT_PUB = "035a784662a4a20a65bf6aab9ae98a6c068a81c52e4b032c0fb5400c706cfccc56"
BIP32_PARENT_CC = "47fdacbd0f1097043b78c63c20c34ef4ed9a111d980047ad16282c7ae6236141"
BIP32_CHILD_1_PUB = "03501e454bf00751f24b1b489aa925215d66af2234e3891c3b21a52bedb3cd711c"


def predicted(root: bytes, chain_code: bytes, i: int) -> bytes:
    """BIP-32 CKDpub written out here, independently of engine/derive.py."""
    if i == 0:
        return root
    mac = hmac.new(chain_code, root + i.to_bytes(4, "big"), hashlib.sha512).digest()
    tweak_point = PrivateKey(mac[:32]).public_key
    return bytes(PublicKey.combine_keys([PublicKey(root), tweak_point]).format(compressed=True))


def test_ckd_pub_matches_the_bip32_test_vector() -> None:
    _, child = ckd_pub(bytes.fromhex(BIP32_PARENT_PUB), bytes.fromhex(BIP32_PARENT_CC), 1)
    assert child.hex() == BIP32_CHILD_1_PUB


def test_account_zero_is_the_root_and_a_legacy_key_has_only_it() -> None:
    root = PrivateKey().public_key.format(compressed=True)
    assert account_public_key(root, b"\x07" * 32, 0) == root
    assert account_public_key(root, None, 0) == root
    with pytest.raises(AccountUnavailable, match="account 0 only"):
        account_public_key(root, None, 1)
    for bad in (-1, MAX_ACCOUNT + 1, True):
        with pytest.raises(BadInput):
            account_public_key(root, b"\x07" * 32, bad)


@pytest.fixture(scope="module")
def key_set(engine_keys: tuple[Engine, bytes, bytes]) -> tuple[Engine, bytes, bytes, bytes, bytes]:
    engine, b1, b2 = engine_keys
    cc = engine.chain_code(b1)
    assert cc is not None and cc == engine.chain_code(b2) and len(cc) == 32
    return engine, b1, b2, engine.public_key(b1), cc


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(i=st.integers(min_value=0, max_value=MAX_ACCOUNT))
def test_both_parties_derive_the_predicted_key(
    key_set: tuple[Engine, bytes, bytes, bytes, bytes], i: int
) -> None:
    engine, b1, b2, root, cc = key_set
    want = predicted(root, cc, i)
    assert engine.account_public_key(b1, i) == want
    assert engine.account_public_key(b2, i) == want


@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(i=st.integers(min_value=1, max_value=MAX_ACCOUNT))
def test_signing_with_a_random_account_verifies_under_its_key(
    key_set: tuple[Engine, bytes, bytes, bytes, bytes], i: int
) -> None:
    engine, b1, b2, root, cc = key_set
    digest = digest_of(f"account {i}")
    der, none = run_two_party(
        lambda j: engine.sign(j, b1, digest, i), lambda j: engine.sign(j, b2, digest, i)
    )
    assert none is None and isinstance(der, bytes)
    check_signature(predicted(root, cc, i), digest, der)
    assert not PublicKey(root).verify(der, digest, hasher=None)


def test_accounts_0_to_99_are_distinct(key_set: tuple[Engine, bytes, bytes, bytes, bytes]) -> None:
    engine, b1, *_ = key_set
    keys = {engine.account_public_key(b1, i) for i in range(100)}
    assert len(keys) == 100


def test_parties_on_different_accounts_do_not_sign(
    key_set: tuple[Engine, bytes, bytes, bytes, bytes],
) -> None:
    from mpcwallet.errors import MpcError

    engine, b1, b2, *_ = key_set
    digest = digest_of("mismatched accounts")
    with pytest.raises(MpcError):
        run_two_party(
            lambda j: engine.sign(j, b1, digest, 1), lambda j: engine.sign(j, b2, digest, 2)
        )


def test_refresh_keeps_every_account(key_set: tuple[Engine, bytes, bytes, bytes, bytes]) -> None:
    engine, b1, b2, root, cc = key_set
    n1, n2 = run_two_party(lambda j: engine.refresh(j, b1), lambda j: engine.refresh(j, b2))
    assert engine.chain_code(n1) == engine.chain_code(n2) == cc
    assert engine.account_public_key(n2, 7) == predicted(root, cc, 7)
    digest = digest_of("after refresh")
    der, _ = run_two_party(
        lambda j: engine.sign(j, n1, digest, 7), lambda j: engine.sign(j, n2, digest, 7)
    )
    assert isinstance(der, bytes)
    check_signature(predicted(root, cc, 7), digest, der)


def _legacy(engine: Engine, key_blob: bytes) -> bytes:
    """The blob as this engine wrote it before accounts existed (payload version 1)."""
    name, role = blob.peek(key_blob)
    if engine.name == "portable":
        import dataclasses

        from mpcwallet.engine.portable import keys

        if role is Role.P1:
            return keys.encode_p1(dataclasses.replace(keys.decode_p1(key_blob), chain_code=None))
        return keys.encode_p2(dataclasses.replace(keys.decode_p2(key_blob), chain_code=None))
    payload = blob.unwrap(key_blob, name, role)
    assert payload[0] == 2
    return blob.wrap(name, role, b"\x01" + payload[1:34] + payload[66:])


def test_a_key_from_before_accounts_signs_as_account_0_only(
    key_set: tuple[Engine, bytes, bytes, bytes, bytes],
) -> None:
    engine, b1, b2, root, _ = key_set
    l1, l2 = _legacy(engine, b1), _legacy(engine, b2)
    assert engine.chain_code(l1) is None and engine.public_key(l1) == root
    assert engine.account_public_key(l1, 0) == root
    with pytest.raises(AccountUnavailable, match="account 0 only"):
        engine.account_public_key(l2, 1)
    digest = digest_of("legacy")
    der, _ = run_two_party(
        lambda j: engine.sign(j, l1, digest), lambda j: engine.sign(j, l2, digest)
    )
    assert isinstance(der, bytes)
    check_signature(root, digest, der)


def test_a_damaged_key_set_is_refused_before_anything_is_sent(
    key_set: tuple[Engine, bytes, bytes, bytes, bytes],
) -> None:
    from mpcwallet.engine.memory import make_jobs

    engine, b1, *_ = key_set
    if engine.name == "portable":
        damaged = b1[:-1]  # the chain code cut short: the codec refuses it
    else:
        # a recorded root Q that is not the cb-mpc blob's own: the derived blob is refused
        name, role = blob.peek(b1)
        payload = blob.unwrap(b1, name, role)
        other = PrivateKey().public_key.format(compressed=True)
        damaged = blob.wrap(name, role, payload[:1] + other + payload[34:])
    job, peer = make_jobs(timeout=5)
    with pytest.raises(KeyBlobMismatch):
        engine.sign(job, damaged, digest_of("damaged"), 1)
    assert peer.transport.inbox.empty()  # type: ignore[attr-defined]


def test_p1_cannot_change_its_chain_code_contribution_after_seeing_p2s() -> None:
    """The coin toss's commitment binds P1 (hd.ChainCodeP2.on_msg3)."""
    from mpcwallet.engine.portable import hd
    from mpcwallet.engine.portable.transcript import Session

    s = Session(b"\x01" * 32, ("client", "cosigner"))
    p1, p2 = hd.ChainCodeP1(s), hd.ChainCodeP2(s)
    m2 = p2.on_msg1(hd.decode1(hd.encode1(p1.msg1())))
    m3 = p1.on_msg2(m2)
    forged = hd.HdMsg3(bytes(32), m3.com_rand)
    with pytest.raises(InvalidProof):
        p2.on_msg3(hd.decode3(hd.encode3(forged)))
    assert p2.on_msg3(m3) == p1.chain_code
