"""cb-mpc's multi-party ECDSA through the binding and :class:`CbMpcMpEngine`.

One process, one thread per party, over :class:`MemoryNetwork`. One 2-of-3 key per module
(dkg costs ~20 ms, each signature ~0.5 s on two cores), refreshed once.
"""

from __future__ import annotations

import os
from dataclasses import replace

import coincurve
import pytest

try:
    from mpcwallet import _cbmpc
except ImportError:
    pytest.skip(
        "cb-mpc engine not installed (mpcwallet._cbmpc missing); see README",
        allow_module_level=True,
    )

from mpcwallet.engine import blob_mp, get_mp_engine
from mpcwallet.engine.base_mp import AccessStructure, MpJob, threshold
from mpcwallet.engine.cbmpc_mp import CbMpcMpEngine
from mpcwallet.engine.memory_mp import make_mp_jobs, results, run_parties
from mpcwallet.errors import (
    BadInput,
    EngineUnavailable,
    KeyBlobMismatch,
    ProtocolViolation,
)

from .mp_helpers import AC, NAMES, SECP256K1_N, make_keys, run_all, sign

pytestmark = pytest.mark.cbmpc


@pytest.fixture(scope="module")
def engine() -> CbMpcMpEngine:
    eng = get_mp_engine("cb-mpc")
    assert isinstance(eng, CbMpcMpEngine)
    return eng


@pytest.fixture(scope="module")
def keys(engine: CbMpcMpEngine) -> list[bytes]:
    return make_keys(engine)


def der_s(der: bytes) -> int:
    rlen = der[3]
    slen = der[5 + rlen]
    return int.from_bytes(der[6 + rlen : 6 + rlen + slen], "big")


# --- key generation and signatures ---------------------------------------------------------


def test_dkg_2_of_3_gives_every_party_the_same_key(
    engine: CbMpcMpEngine, keys: list[bytes]
) -> None:
    pubs = {engine.public_key(b) for b in keys}
    assert len(pubs) == 1 and len(next(iter(pubs))) == 33
    shares = [engine.public_share(b) for b in keys]
    assert len(set(shares)) == 3 and next(iter(pubs)) not in shares


@pytest.mark.parametrize("quorum", [NAMES[:2], (NAMES[0], NAMES[2]), NAMES[1:]])
def test_each_quorum_signs_and_only_the_receiver_gets_it(
    engine: CbMpcMpEngine, keys: list[bytes], quorum: tuple[str, str]
) -> None:
    digest = os.urandom(32)
    # The quorum given in reverse order: signers derive cb-mpc's order from the key's.
    der, other = results(sign(engine, keys, quorum[::-1], digest))
    assert other is None
    assert isinstance(der, bytes)
    pub = engine.public_key(keys[0])
    assert coincurve.PublicKey(pub).verify(der, digest, hasher=None)
    # and with the cryptography package (OpenSSL), not only libsecp256k1
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
    from cryptography.hazmat.primitives.hashes import SHA256

    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), pub)
    key.verify(der, digest, ec.ECDSA(Prehashed(SHA256())))
    assert der_s(der) <= SECP256K1_N // 2


def test_refresh_keeps_the_key_and_old_shares_do_not_mix_with_new(
    engine: CbMpcMpEngine, keys: list[bytes]
) -> None:
    new = results(run_all(lambda j, i: engine.refresh(j, keys[i]), quorum=NAMES[1:]))
    assert all(isinstance(b, bytes) for b in new)
    new_blobs = [b for b in new if isinstance(b, bytes)]
    pub = engine.public_key(keys[0])
    assert {engine.public_key(b) for b in new_blobs} == {pub}
    assert [engine.public_share(b) for b in new_blobs] != [engine.public_share(b) for b in keys]
    digest = os.urandom(32)
    quorum = NAMES[:2]
    der, _ = results(sign(engine, new_blobs, quorum, digest))
    assert isinstance(der, bytes) and coincurve.PublicKey(pub).verify(der, digest, hasher=None)
    # a's old share with b's new one: a cryptographic check fails on both sides
    mixed = [keys[0], new_blobs[1]]
    outcome = sign(engine, mixed, quorum, digest)
    assert any(isinstance(o, ProtocolViolation) for o in outcome), outcome
    assert not any(isinstance(o, bytes) for o in outcome)


def test_3_of_5_once_and_two_parties_are_refused(engine: CbMpcMpEngine) -> None:
    names = tuple(f"n{i}" for i in range(5))
    ac = threshold(3, names)
    out = results(run_all(lambda j, i: engine.dkg(j), names, ac, quorum=names[2:]))
    blobs = [b for b in out if isinstance(b, bytes)]
    digest = os.urandom(32)
    quorum = (names[0], names[2], names[4])
    sigs = results(
        run_all(lambda j, i: engine.sign(j, blobs[i], digest, names[4]), names, ac, quorum, quorum)
    )
    assert sigs[:2] == [None, None] and isinstance(sigs[2], bytes)
    assert coincurve.PublicKey(engine.public_key(blobs[0])).verify(sigs[2], digest, hasher=None)
    # Two of five do not satisfy 3-of-5: refused before any message moves ...
    two = names[:2]
    refused = run_all(lambda j, i: engine.sign(j, blobs[i], digest, two[0]), names, ac, two, two)
    assert all(isinstance(r, BadInput) and r.field == "quorum" for r in refused), refused
    # ... and cb-mpc itself refuses such a quorum (sign_ac: to_additive_share).
    network, jobs = make_mp_jobs(two, threshold(2, two), timeout=5)
    raw_blob = blob_mp.unwrap(blobs[0], "cb-mpc")[1]
    with pytest.raises(_cbmpc.Error):
        _cbmpc.ecdsa_mp_sign_ac(0, list(two), jobs[0].transport, raw_blob, ac.native(), digest, 0)
    assert network.sent_messages == 0


def test_access_structure_logic_and_shape_checks() -> None:
    # (a and b) or c
    ac = AccessStructure.any_of([AccessStructure.all_of(NAMES[:2]), NAMES[2]])
    assert ac.satisfied_by({"node-c"}) and ac.satisfied_by(NAMES[:2])
    assert not ac.satisfied_by({"node-a"}) and not ac.satisfied_by({"node-b"})
    with pytest.raises(BadInput):
        AccessStructure.threshold(4, NAMES)
    with pytest.raises(BadInput):
        AccessStructure.all_of(["x", "x"])


def test_the_job_must_fit_the_key(engine: CbMpcMpEngine, keys: list[bytes]) -> None:
    network, jobs = make_mp_jobs(NAMES, AC, NAMES[:2], timeout=1)
    digest = os.urandom(32)
    with pytest.raises(KeyBlobMismatch):  # c's share on a's seat
        engine.sign(jobs[0], keys[2], digest, NAMES[0])
    other = threshold(3, NAMES)
    with pytest.raises(KeyBlobMismatch):
        engine.sign(replace(jobs[0], access=other, quorum=NAMES), keys[0], digest, NAMES[0])
    with pytest.raises(BadInput):
        engine.sign(jobs[2], keys[2], digest, NAMES[2])  # c is not in the quorum
    with pytest.raises(BadInput):
        engine.sign(jobs[0], keys[0], digest[:31], NAMES[0])
    with pytest.raises(BadInput):
        engine.dkg(replace(jobs[0], party_names=("node-a", "node-a", "node-c")))
    with pytest.raises(KeyBlobMismatch):
        engine.public_key(b"MPCK" + keys[0][4:])
    assert network.sent_messages == 0


def test_portable_engine_has_no_t_of_n_and_says_so() -> None:
    with pytest.raises(BadInput) as exc:
        get_mp_engine("portable")
    assert "cb-mpc" in exc.value.message and exc.value.field == "engine"
    with pytest.raises((BadInput, EngineUnavailable)):
        get_mp_engine("nope")


def test_detach_and_attach_private_scalar(engine: CbMpcMpEngine, keys: list[bytes]) -> None:
    public, scalar = engine.detach_private_scalar(keys[1])
    share = engine.public_share(keys[1])
    assert len(scalar) == 32
    assert coincurve.PublicKey.from_secret(scalar).format() == share
    assert engine.public_share(public) == share and scalar not in public
    again = engine.attach_private_scalar(public, scalar, share)
    assert engine.public_key(again) == engine.public_key(keys[1])
    wrong = ((int.from_bytes(scalar, "big") + 1) % SECP256K1_N).to_bytes(32, "big")
    with pytest.raises(KeyBlobMismatch):
        engine.attach_private_scalar(public, wrong, share)


def test_additive_variants_n_of_n() -> None:
    names = list(NAMES)
    network, jobs = make_mp_jobs(names, AC, timeout=10)

    def dkg(j: MpJob) -> tuple[bytes, bytes]:
        return _cbmpc.ecdsa_mp_dkg_additive(j.index, names, j.transport)

    out = results(run_parties([dkg] * 3, jobs, network))
    sids = {s for s, _ in out}
    blobs = [b for _, b in out]
    assert len(sids) == 1
    pub = _cbmpc.ecdsa_mp_public_key(blobs[0])
    network, jobs = make_mp_jobs(names, AC, timeout=10)
    digest = os.urandom(32)

    def sig(j: MpJob) -> bytes:
        return _cbmpc.ecdsa_mp_sign_additive(j.index, names, j.transport, blobs[j.index], digest, 1)

    ders = results(run_parties([sig] * 3, jobs, network))
    assert ders[0] == b"" == ders[2]
    assert coincurve.PublicKey(pub).verify(ders[1], digest, hasher=None)


def test_a_share_restored_from_its_verified_pve_backup_signs(
    engine: CbMpcMpEngine, keys: list[bytes]
) -> None:
    """node-b's scalar, PVE-encrypted under a recovery key with its label, verified against
    its public share by someone without the decryption key, decrypted, attached again."""
    from mpcwallet.engine import pve

    public, scalar = engine.detach_private_scalar(keys[1])
    share = engine.public_share(keys[1])
    ek, dk = pve.generate_base_key(pve.BaseKeyKind.ECIES_P256)
    label = pve.backup_label("key-1", NAMES[1], 0)
    ct = pve.encrypt(ek, label, scalar)
    with pytest.raises(ProtocolViolation):  # node-a's share point: not this backup
        pve.verify(ek, ct, engine.public_share(keys[0]), label)
    (restored_scalar,) = pve.decrypt(pve.verify(ek, ct, share, label), dk)
    restored = engine.attach_private_scalar(public, restored_scalar, share)
    digest = os.urandom(32)
    der, _ = results(sign(engine, [keys[0], restored, keys[2]], NAMES[:2], digest))
    assert isinstance(der, bytes)
    assert coincurve.PublicKey(engine.public_key(keys[0])).verify(der, digest, hasher=None)


def test_a_session_id_given_by_the_caller_is_used_by_every_party(engine: CbMpcMpEngine) -> None:
    sid = os.urandom(32)
    seen: list[bytes] = []

    def dkg(j: MpJob, i: int) -> bytes:
        out, blob = _cbmpc.ecdsa_mp_dkg_ac(
            j.index, list(NAMES), j.transport, AC.native(), list(NAMES[:2]), sid
        )
        seen.append(out)
        return blob

    results(run_all(dkg, quorum=NAMES[:2]))
    assert seen == [sid] * 3
