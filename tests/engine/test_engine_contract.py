"""Engine-generic tests: only the Engine interface and run_two_party, for every engine."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpcwallet.engine import Engine, Role, blob
from mpcwallet.engine.memory import make_jobs, run_jobs, run_two_party
from mpcwallet.errors import KeyBlobMismatch, MpcError, PeerTimeout, ProtocolViolation

from .helpers import check_signature, digest_of, sign_both, tampered


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(digest=st.binary(min_size=32, max_size=32))
def test_signature_verifies_and_recovers(
    engine_keys: tuple[Engine, bytes, bytes], digest: bytes
) -> None:
    engine, blob1, blob2 = engine_keys
    pubkey = engine.public_key(blob1)
    assert engine.public_key(blob2) == pubkey
    assert len(pubkey) == 33 and pubkey[0] in (2, 3)
    check_signature(pubkey, digest, sign_both(engine, blob1, blob2, digest))


@pytest.mark.slow
def test_refresh_keeps_public_key_and_old_new_shares_do_not_mix(
    engine_keys: tuple[Engine, bytes, bytes],
) -> None:
    engine, old1, old2 = engine_keys
    pubkey = engine.public_key(old1)
    new1, new2 = run_two_party(
        lambda j: engine.refresh(j, old1), lambda j: engine.refresh(j, old2), timeout=60
    )
    assert new1 != old1 and new2 != old2
    assert engine.public_key(new1) == pubkey == engine.public_key(new2)
    digest = digest_of("after refresh")
    check_signature(pubkey, digest, sign_both(engine, new1, new2, digest))

    for p1_blob, p2_blob in ((old1, new2), (new1, old2)):
        start = time.monotonic()
        with pytest.raises(MpcError):
            sign_both(engine, p1_blob, p2_blob, digest, timeout=10)
        assert time.monotonic() - start < 10  # an error, not a hang until the timeout


def test_peer_that_stops_answering_times_out(engine_keys: tuple[Engine, bytes, bytes]) -> None:
    engine, blob1, _ = engine_keys
    job1, _job2 = make_jobs(timeout=0.5)  # nobody runs P2
    start = time.monotonic()
    with pytest.raises(PeerTimeout):
        engine.sign(job1, blob1, digest_of("silence"))
    assert time.monotonic() - start < 5


def test_p2_times_out_when_p1_goes_silent(engine_keys: tuple[Engine, bytes, bytes]) -> None:
    engine, _, blob2 = engine_keys
    _job1, job2 = make_jobs(timeout=0.5)
    start = time.monotonic()
    with pytest.raises(PeerTimeout):
        engine.sign(job2, blob2, digest_of("silence"))
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("op", ["dkg", "refresh"])
@pytest.mark.parametrize("role", [Role.P1, Role.P2])
def test_keygen_and_refresh_time_out_on_a_silent_peer(
    engine_keys: tuple[Engine, bytes, bytes], op: str, role: Role
) -> None:
    engine, blob1, blob2 = engine_keys
    job1, job2 = make_jobs(timeout=0.5)
    job, own_blob = (job1, blob1) if role is Role.P1 else (job2, blob2)
    start = time.monotonic()
    with pytest.raises(PeerTimeout):
        if op == "dkg":
            engine.dkg(job)
        else:
            engine.refresh(job, own_blob)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize(
    "how",
    [
        pytest.param(lambda d: d[: len(d) // 2], id="truncated"),
        pytest.param(lambda d: d + b"\x00", id="trailing-byte"),
        pytest.param(lambda d: d + b"\x00" * (1 << 20), id="oversized"),
        pytest.param(lambda d: b"", id="empty"),
    ],
)
def test_bad_message_from_p2_is_rejected(
    engine_keys: tuple[Engine, bytes, bytes], how: object
) -> None:
    engine, blob1, blob2 = engine_keys
    digest = digest_of("tamper")
    job1, job2 = make_jobs(timeout=10)
    bad_job2 = tampered(job2, lambda i, d: how(d) if i == 0 else d)  # type: ignore[operator]
    # A peer message that does not parse is the peer's fault: a violation on every engine.
    start = time.monotonic()
    with pytest.raises(ProtocolViolation):
        run_jobs(
            lambda j: engine.sign(j, blob1, digest),
            lambda j: engine.sign(j, blob2, digest),
            job1,
            bad_job2,
        )
    assert time.monotonic() - start < 10


def test_blob_of_wrong_role_or_engine_is_refused(
    engine_keys: tuple[Engine, bytes, bytes],
) -> None:
    engine, blob1, blob2 = engine_keys
    job1, job2 = make_jobs(timeout=0.5)
    digest = digest_of("x")
    with pytest.raises(KeyBlobMismatch):
        engine.sign(job1, blob2, digest)  # P2's blob given to P1
    with pytest.raises(KeyBlobMismatch):
        engine.sign(job2, blob1, digest)
    other = "portable" if engine.name != "portable" else "cb-mpc"
    _, role = blob.peek(blob1)
    assert role is Role.P1
    payload = blob.unwrap(blob1, engine.name, Role.P1)
    foreign = blob.wrap(other, Role.P1, payload)
    with pytest.raises(KeyBlobMismatch, match="engine"):
        engine.sign(job1, foreign, digest)
    with pytest.raises(KeyBlobMismatch):
        engine.public_key(b"not a key blob at all")
    with pytest.raises(KeyBlobMismatch):
        engine.public_key(blob1[: len(blob1) * 2 // 3])  # a truncated share


def test_no_secret_in_repr_or_errors(engine_keys: tuple[Engine, bytes, bytes]) -> None:
    engine, blob1, _ = engine_keys
    job1, _ = make_jobs(timeout=0.2)
    try:
        engine.sign(job1, blob1[:-3], digest_of("y"))
    except MpcError as exc:
        text = str(exc) + repr(exc) + str(exc.to_dict())
        payload = blob.unwrap(blob1, engine.name, Role.P1)
        assert payload.hex() not in text and payload[-16:].hex() not in text
    else:  # pragma: no cover
        pytest.fail("a damaged blob was accepted")
    assert blob1.hex() not in repr(job1)


def test_threads_do_not_leak(engine_keys: tuple[Engine, bytes, bytes]) -> None:
    engine, blob1, blob2 = engine_keys
    before = threading.active_count()
    sign_both(engine, blob1, blob2, digest_of("z"))
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() <= before
