"""cb-mpc-specific checks of the native binding and its Engine adapter.

The engine-generic suite (tests/engine/) runs on cb-mpc through its ``engine`` fixture; these
tests cover what only the cb-mpc engine has: the GIL released in native code, Python exceptions
crossing the native transport unchanged, cb-mpc error codes mapped to our tree, nothing printed
to stderr, timeouts with no leaked thread, ten concurrent signs, and the HD keyset calls.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
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

from mpcwallet.engine import blob, get_engine
from mpcwallet.engine.base import Job, Role
from mpcwallet.engine.cbmpc import CbMpcEngine, map_error, wrap_key
from mpcwallet.engine.memory import MemoryTransport, make_jobs, run_two_party
from mpcwallet.errors import (
    BadInput,
    KeyBlobMismatch,
    PeerTimeout,
    PeerUnreachable,
    ProtocolViolation,
)

pytestmark = pytest.mark.cbmpc

NAMES = ("client", "cosigner")
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@pytest.fixture(scope="module")
def engine() -> CbMpcEngine:
    eng = get_engine("cb-mpc")
    assert isinstance(eng, CbMpcEngine)
    return eng


@pytest.fixture(scope="module")
def keys(engine: CbMpcEngine) -> tuple[bytes, bytes]:
    return run_two_party(engine.dkg, engine.dkg)


def both(
    p1: Callable[[Job], object], p2: Callable[[Job], object], timeout: float = 10.0
) -> tuple[object, object]:
    """Run both parties in two threads; return each side's result or exception (no re-raise)."""
    j1, j2 = make_jobs(timeout)
    out: dict[int, object] = {}

    def go(i: int, fn: Callable[[Job], object], job: Job) -> None:
        try:
            out[i] = fn(job)
        except BaseException as exc:
            out[i] = exc
            assert isinstance(job.transport, MemoryTransport)
            job.transport.close()

    ts = [
        threading.Thread(target=go, args=(1, p1, j1)),
        threading.Thread(target=go, args=(2, p2, j2)),
    ]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out[1], out[2]


def der_s(der: bytes) -> int:
    # DER: 30 len 02 rlen r 02 slen s
    rlen = der[3]
    slen = der[5 + rlen]
    return int.from_bytes(der[6 + rlen : 6 + rlen + slen], "big")


# --- the happy path ----------------------------------------------------------------------------


def test_sign_returns_verified_low_s_der_on_p1_only(
    engine: CbMpcEngine, keys: tuple[bytes, bytes]
) -> None:
    b1, b2 = keys
    pub = engine.public_key(b1)
    assert pub == engine.public_key(b2) and len(pub) == 33
    assert blob.peek(b1) == ("cb-mpc", Role.P1) and blob.peek(b2) == ("cb-mpc", Role.P2)
    digest = os.urandom(32)
    der, none = run_two_party(
        lambda j: engine.sign(j, b1, digest), lambda j: engine.sign(j, b2, digest)
    )
    assert none is None
    assert isinstance(der, bytes)
    assert coincurve.PublicKey(pub).verify(der, digest, hasher=None)
    assert der_s(der) <= SECP256K1_N // 2


def test_refresh_keeps_key_and_old_and_new_shares_do_not_mix(
    engine: CbMpcEngine, keys: tuple[bytes, bytes]
) -> None:
    b1, b2 = keys
    n1, n2 = run_two_party(lambda j: engine.refresh(j, b1), lambda j: engine.refresh(j, b2))
    assert n1 != b1 and n2 != b2
    assert engine.public_key(n1) == engine.public_key(b1)
    digest = os.urandom(32)
    der, _ = run_two_party(
        lambda j: engine.sign(j, n1, digest), lambda j: engine.sign(j, n2, digest)
    )
    assert coincurve.PublicKey(engine.public_key(n1)).verify(der, digest, hasher=None)
    # A stale P1 share against a refreshed P2 share fails a proof check: a violation.
    r1, _ = both(lambda j: engine.sign(j, b1, digest), lambda j: engine.sign(j, n2, digest))
    assert isinstance(r1, ProtocolViolation)


# --- threads and the GIL -----------------------------------------------------------------------


class _Stamping:
    """Transport wrapper recording how long the native side computed between callbacks."""

    def __init__(self, inner: MemoryTransport) -> None:
        self.inner = inner
        self.last = time.perf_counter()
        self.longest = 0.0

    def _stamp(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.last)

    def send(self, data: bytes) -> None:
        self._stamp()
        self.inner.send(data)
        self.last = time.perf_counter()

    def receive(self) -> bytes:
        self._stamp()
        got = self.inner.receive()
        self.last = time.perf_counter()
        return got


def test_native_code_releases_the_gil() -> None:
    """While P1 computes in C++ (Paillier key generation, hundreds of ms between callbacks),
    a third Python thread keeps running. If the binding held the GIL, that thread would stall
    for as long as the longest native stretch."""
    j1, j2 = make_jobs(10.0)
    assert isinstance(j1.transport, MemoryTransport) and isinstance(j2.transport, MemoryTransport)
    t1, t2 = _Stamping(j1.transport), _Stamping(j2.transport)
    done = threading.Event()
    max_gap = [0.0]

    def monitor() -> None:
        last = time.perf_counter()
        while not done.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            max_gap[0] = max(max_gap[0], now - last)
            last = now

    m = threading.Thread(target=monitor)
    m.start()
    results: list[bytes] = []
    a = threading.Thread(target=lambda: results.append(_cbmpc.ecdsa_2p_dkg(1, *NAMES, t1)))
    b = threading.Thread(target=lambda: results.append(_cbmpc.ecdsa_2p_dkg(2, *NAMES, t2)))
    t1.last = t2.last = time.perf_counter()
    a.start()
    b.start()
    a.join()
    b.join()
    done.set()
    m.join()
    assert len(results) == 2
    longest_native = max(t1.longest, t2.longest)
    assert longest_native > 0.02, "dkg did no long native computation; the check proves nothing"
    assert max_gap[0] < longest_native / 4, (max_gap[0], longest_native)


def test_ten_concurrent_signs_on_different_keys(engine: CbMpcEngine) -> None:
    # Ten keys from one HD keyset (one dkg + one cheap derive) instead of ten dkgs.
    hard = [0x8000002C, 0x8000003C, 0x80000000]
    paths = [[0, i] for i in range(10)]
    ks1, ks2 = run_two_party(
        lambda j: _cbmpc.hd_keyset_ecdsa_2p_dkg(1, *NAMES, j.transport),
        lambda j: _cbmpc.hd_keyset_ecdsa_2p_dkg(2, *NAMES, j.transport),
    )
    (_, d1), (_, d2) = run_two_party(
        lambda j: _cbmpc.hd_keyset_ecdsa_2p_derive(1, *NAMES, j.transport, ks1, hard, paths),
        lambda j: _cbmpc.hd_keyset_ecdsa_2p_derive(2, *NAMES, j.transport, ks2, hard, paths),
    )
    pairs = [(wrap_key(Role.P1, a), wrap_key(Role.P2, b)) for a, b in zip(d1, d2, strict=True)]
    pubs = {engine.public_key(p1) for p1, _ in pairs}
    assert len(pubs) == 10
    baseline = threading.active_count()
    digest = os.urandom(32)
    sigs: dict[int, object] = {}

    def one(i: int) -> None:
        p1, p2 = pairs[i]
        try:
            sigs[i] = run_two_party(
                lambda j: engine.sign(j, p1, digest), lambda j: engine.sign(j, p2, digest)
            )[0]
        except BaseException as exc:
            sigs[i] = exc

    workers = [threading.Thread(target=one, args=(i,)) for i in range(10)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert sorted(sigs) == list(range(10))
    for i, (p1, _) in enumerate(pairs):
        der = sigs[i]
        assert isinstance(der, bytes), der
        assert coincurve.PublicKey(engine.public_key(p1)).verify(der, digest, hasher=None)
    assert threading.active_count() == baseline


# --- a vanished peer ---------------------------------------------------------------------------


def test_silent_peer_times_out_within_bound_and_leaks_no_thread(
    engine: CbMpcEngine, keys: tuple[bytes, bytes]
) -> None:
    baseline = threading.active_count()
    j1, _j2 = make_jobs(timeout=0.5)  # P2 never runs
    start = time.monotonic()
    with pytest.raises(PeerTimeout):
        engine.sign(j1, keys[0], os.urandom(32))
    assert time.monotonic() - start < 5.0
    assert threading.active_count() == baseline


def test_peer_dying_mid_protocol_aborts_the_other_side(
    engine: CbMpcEngine, keys: tuple[bytes, bytes]
) -> None:
    class Dies:
        def __init__(self, inner: MemoryTransport) -> None:
            self.inner = inner

        def send(self, data: bytes) -> None:
            self.inner.send(data)

        def receive(self) -> bytes:
            self.inner.close()
            raise PeerUnreachable("simulated crash")

    digest = os.urandom(32)
    start = time.monotonic()
    r1, r2 = both(
        lambda j: engine.sign(j, keys[0], digest),
        lambda j: engine.sign(replace(j, transport=Dies(j.transport)), keys[1], digest),  # type: ignore[arg-type]
        timeout=30.0,
    )
    assert isinstance(r1, PeerUnreachable) and isinstance(r2, PeerUnreachable)
    assert time.monotonic() - start < 10.0  # the closed channel, not the 30 s timeout


# --- errors ------------------------------------------------------------------------------------


def test_python_exception_in_transport_propagates_unchanged() -> None:
    class Boom(Exception):
        pass

    class Raises:
        def send(self, data: bytes) -> None:
            raise Boom("from send")

        def receive(self) -> bytes:
            raise Boom("from receive")

    with pytest.raises(Boom, match="from send"):
        _cbmpc.ecdsa_2p_dkg(1, *NAMES, Raises())  # P1 sends first
    with pytest.raises(Boom, match="from receive"):
        _cbmpc.ecdsa_2p_dkg(2, *NAMES, Raises())  # P2 receives first


def test_transport_returning_non_bytes_is_a_type_error_not_system_error() -> None:
    class Wrong:
        def send(self, data: bytes) -> None:
            pass

        def receive(self) -> str:
            return "not bytes"

    with pytest.raises(TypeError, match="must return bytes"):
        _cbmpc.ecdsa_2p_dkg(2, *NAMES, Wrong())


class _Flip:
    def __init__(self, inner: MemoryTransport, index: int) -> None:
        self.inner, self.index, self.n = inner, index, 0

    def send(self, data: bytes) -> None:
        self.inner.send(data)

    def receive(self) -> bytes:
        got = self.inner.receive()
        if self.n == self.index:
            tampered = bytearray(got)
            tampered[len(got) // 2] ^= 1
            got = bytes(tampered)
        self.n += 1
        return got


@pytest.mark.parametrize(
    ("role", "index"), [(Role.P1, 0), (Role.P1, 1), (Role.P2, 0), (Role.P2, 2)]
)
def test_tampered_sign_message_is_a_protocol_violation(
    engine: CbMpcEngine, keys: tuple[bytes, bytes], role: Role, index: int
) -> None:
    digest = os.urandom(32)

    def tampering(j: Job) -> object:
        assert isinstance(j.transport, MemoryTransport)
        return engine.sign(replace(j, transport=_Flip(j.transport, index)), keys[role - 1], digest)

    honest = lambda j: engine.sign(j, keys[2 - role], digest)  # noqa: E731
    r1, r2 = both(tampering, honest) if role == Role.P1 else both(honest, tampering)
    mine = r1 if role == Role.P1 else r2
    assert isinstance(mine, ProtocolViolation), mine


def test_error_mapping_by_category() -> None:
    def err(code: int) -> _cbmpc.Error:
        return _cbmpc.Error(code, "ecdsa_2p.sign", "cb-mpc returned an error")

    leak = map_error(err(_cbmpc.E_ECDSA_2P_BIT_LEAK), traffic=True, has_blob=True)
    assert isinstance(leak, ProtocolViolation) and "E_ECDSA_2P_BIT_LEAK" in leak.message
    assert isinstance(
        map_error(err(_cbmpc.E_CRYPTO), traffic=True, has_blob=True), ProtocolViolation
    )
    assert isinstance(
        map_error(err(_cbmpc.E_NET_GENERAL), traffic=True, has_blob=True), PeerUnreachable
    )
    assert isinstance(
        map_error(err(_cbmpc.E_FORMAT), traffic=False, has_blob=True), KeyBlobMismatch
    )
    assert isinstance(map_error(err(_cbmpc.E_BADARG), traffic=False, has_blob=False), BadInput)
    # A format error after messages moved came from a peer message that did not parse.
    assert isinstance(
        map_error(err(_cbmpc.E_FORMAT), traffic=True, has_blob=True), ProtocolViolation
    )


def test_corrupt_share_is_key_blob_mismatch_before_any_message(engine: CbMpcEngine) -> None:
    bad = blob.wrap("cb-mpc", Role.P1, b"\x01" + b"\x02" * 33 + b"not a cb-mpc key blob")
    j1, _ = make_jobs(0.5)
    assert isinstance(j1.transport, MemoryTransport)
    with pytest.raises(KeyBlobMismatch):
        engine.sign(j1, bad, os.urandom(32))
    assert j1.transport.sent_messages == 0
    with pytest.raises(KeyBlobMismatch):
        wrap_key(Role.P1, b"not a cb-mpc key blob")
    with pytest.raises(KeyBlobMismatch):
        engine.public_key(blob.wrap("cb-mpc", Role.P1, b"\x01short"))


def test_wrong_engine_role_digest_and_names_are_refused(
    engine: CbMpcEngine, keys: tuple[bytes, bytes]
) -> None:
    j1, _ = make_jobs(0.5)
    with pytest.raises(KeyBlobMismatch):
        engine.sign(j1, keys[1], os.urandom(32))  # P2's share on P1
    with pytest.raises(KeyBlobMismatch):
        engine.sign(j1, blob.wrap("portable", Role.P1, b"x" * 40), os.urandom(32))
    with pytest.raises(BadInput) as exc:
        engine.sign(j1, keys[0], b"\x00" * 31)
    assert exc.value.field == "digest"
    with pytest.raises(BadInput):
        engine.dkg(replace(j1, party_names=("same", "same")))


def test_errors_print_nothing_to_stderr_and_leak_no_key_material(
    engine: CbMpcEngine,
    keys: tuple[bytes, bytes],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mpcwallet.engine.cbmpc")
    cb_blob = blob.unwrap(keys[0], "cb-mpc", Role.P1)[34:]
    broken = cb_blob[: len(cb_blob) // 2]  # truncated: cb-mpc logs a converter error
    with pytest.raises(_cbmpc.Error) as raw:
        _cbmpc.ecdsa_2p_public_key(broken)
    digest = os.urandom(32)
    r1, _ = both(
        lambda j: engine.sign(j, keys[0], digest),
        lambda j: engine.sign(replace(j, transport=_Flip(j.transport, 0)), keys[1], digest),  # type: ignore[arg-type]
    )
    assert isinstance(r1, PeerUnreachable | ProtocolViolation)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
    assert any(r.name == "mpcwallet.engine.cbmpc" for r in caplog.records), "log hook not routed"
    secret_hex = {cb_blob[i : i + 16].hex() for i in range(0, len(cb_blob) - 16, 16)}
    texts = [str(raw.value), repr(raw.value), str(r1), repr(r1)]
    texts += [r.getMessage() for r in caplog.records]
    for text in texts:
        assert not any(h in text for h in secret_hex)


# --- HD keyset ---------------------------------------------------------------------------------


def test_hd_keyset_refresh_and_derive_are_consistent(engine: CbMpcEngine) -> None:
    ks1, ks2 = run_two_party(
        lambda j: _cbmpc.hd_keyset_ecdsa_2p_dkg(1, *NAMES, j.transport),
        lambda j: _cbmpc.hd_keyset_ecdsa_2p_dkg(2, *NAMES, j.transport),
    )
    root = _cbmpc.hd_keyset_ecdsa_2p_root_public_key(ks1)
    assert root == _cbmpc.hd_keyset_ecdsa_2p_root_public_key(ks2) and len(root) == 33
    n1, n2 = run_two_party(
        lambda j: _cbmpc.hd_keyset_ecdsa_2p_refresh(1, *NAMES, j.transport, ks1),
        lambda j: _cbmpc.hd_keyset_ecdsa_2p_refresh(2, *NAMES, j.transport, ks2),
    )
    assert n1 != ks1 and _cbmpc.hd_keyset_ecdsa_2p_root_public_key(n1) == root
    hard, paths = [0x8000002C, 0x8000003C, 0x80000000], [[0, 0], [0, 1]]

    def derive(a: bytes, b: bytes) -> list[bytes]:
        sid = os.urandom(32)
        (s1, d1), (s2, _d2) = run_two_party(
            lambda j: _cbmpc.hd_keyset_ecdsa_2p_derive(1, *NAMES, j.transport, a, hard, paths, sid),
            lambda j: _cbmpc.hd_keyset_ecdsa_2p_derive(2, *NAMES, j.transport, b, hard, paths, sid),
        )
        assert s1 == s2 == sid
        return [_cbmpc.ecdsa_2p_public_key(x) for x in d1]

    before = derive(ks1, ks2)
    assert len(set(before)) == 2 and root not in before
    assert derive(n1, n2) == before  # refresh changes shares, not derived addresses


# --- accounts: the co-signer's share moves through cb-mpc's detach/attach -------------------


def test_attach_checks_the_scalar_against_its_public_share(
    engine: CbMpcEngine, keys: tuple[bytes, bytes]
) -> None:
    _, b2 = keys
    cb_blob = blob.unwrap(b2, "cb-mpc", Role.P2)[1 + 33 + 32 :]
    detached, scalar = _cbmpc.ecdsa_2p_detach_private_scalar(cb_blob)
    x = int.from_bytes(scalar, "big") % SECP256K1_N
    share = coincurve.PrivateKey(x.to_bytes(32, "big")).public_key.format(compressed=True)
    again = _cbmpc.ecdsa_2p_attach_private_scalar(detached, x.to_bytes(32, "big"), share)
    assert _cbmpc.ecdsa_2p_public_key(again) == _cbmpc.ecdsa_2p_public_key(cb_blob)
    with pytest.raises(_cbmpc.Error):  # a scalar that is not the share point's
        _cbmpc.ecdsa_2p_attach_private_scalar(detached, (x + 1).to_bytes(32, "big"), share)
