"""cb-mpc's multi-party ECDSA under faults: tampered messages, a party that vanishes, a
cancelled session, transports that misbehave, corrupt shares, the GIL.

One process, one thread per party, over :class:`MemoryNetwork`; one 2-of-3 key per module.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import replace

import pytest

try:
    from mpcwallet import _cbmpc
except ImportError:
    pytest.skip(
        "cb-mpc engine not installed (mpcwallet._cbmpc missing); see README",
        allow_module_level=True,
    )

from mpcwallet.engine import blob_mp, get_mp_engine
from mpcwallet.engine.base_mp import MpJob
from mpcwallet.engine.cbmpc_mp import CbMpcMpEngine
from mpcwallet.engine.memory_mp import MemoryMpTransport, make_mp_jobs, results, run_parties
from mpcwallet.errors import KeyBlobMismatch, PeerTimeout, PeerUnreachable, ProtocolViolation

from .mp_helpers import AC, NAMES, make_keys, run_all, sign

pytestmark = pytest.mark.cbmpc


@pytest.fixture(scope="module")
def engine() -> CbMpcMpEngine:
    eng = get_mp_engine("cb-mpc")
    assert isinstance(eng, CbMpcMpEngine)
    return eng


@pytest.fixture(scope="module")
def keys(engine: CbMpcMpEngine) -> list[bytes]:
    return make_keys(engine)


# --- faults --------------------------------------------------------------------------------


class _Flip:
    """Flips one bit of the ``index``-th message this party receives."""

    def __init__(self, inner: MemoryMpTransport, index: int) -> None:
        self.inner, self.index, self.n = inner, index, 0

    def _maybe(self, got: bytes) -> bytes:
        if self.n == self.index and got:
            tampered = bytearray(got)
            tampered[len(got) // 2] ^= 1
            got = bytes(tampered)
        self.n += 1
        return got

    def send(self, to: int, data: bytes) -> None:
        self.inner.send(to, data)

    def receive(self, sender: int) -> bytes:
        return self._maybe(self.inner.receive(sender))

    def receive_all(self, senders: Sequence[int]) -> list[bytes]:
        return [self._maybe(m) for m in self.inner.receive_all(senders)]


@pytest.mark.parametrize("index", [0, 2])
def test_tampered_dkg_message_is_a_protocol_violation(engine: CbMpcMpEngine, index: int) -> None:
    def party(j: MpJob, i: int) -> bytes:
        if i == 1:
            assert isinstance(j.transport, MemoryMpTransport)
            j = replace(j, transport=_Flip(j.transport, index))
        return engine.dkg(j)

    out = run_all(party, quorum=NAMES[:2])
    assert isinstance(out[1], ProtocolViolation), out
    assert not any(isinstance(o, bytes) for o in out)


def test_tampered_sign_message_is_a_protocol_violation(
    engine: CbMpcMpEngine, keys: list[bytes]
) -> None:
    digest = os.urandom(32)
    quorum = NAMES[:2]

    def party(j: MpJob, i: int) -> bytes | None:
        if i == 0:
            assert isinstance(j.transport, MemoryMpTransport)
            j = replace(j, transport=_Flip(j.transport, 1))
        return engine.sign(j, keys[i], digest, NAMES[1])

    out = run_all(party, quorum=quorum, run=quorum)
    assert isinstance(out[0], ProtocolViolation), out
    assert not isinstance(out[1], bytes)


class _Vanish(Exception):
    pass


class _VanishesAfterFirstRound:
    """node-c's transport: sends its first flight, then the process is gone (no goodbye)."""

    def __init__(self, inner: MemoryMpTransport) -> None:
        self.inner, self.sent = inner, 0

    def send(self, to: int, data: bytes) -> None:
        self.sent += 1
        self.inner.send(to, data)

    def receive(self, sender: int) -> bytes:
        raise _Vanish

    def receive_all(self, senders: Sequence[int]) -> list[bytes]:
        raise _Vanish


@pytest.mark.parametrize("when", ["never-starts", "mid-protocol"])
def test_vanished_party_times_out_within_the_bound_and_leaks_no_thread(
    engine: CbMpcMpEngine, when: str
) -> None:
    baseline = threading.active_count()
    network, jobs = make_mp_jobs(NAMES, AC, NAMES[:2], timeout=0.5)
    if when == "mid-protocol":
        c = jobs[2]
        assert isinstance(c.transport, MemoryMpTransport)
        vanishing = _VanishesAfterFirstRound(c.transport)
        c_out: list[BaseException] = []

        def c_runs() -> None:
            try:
                engine.dkg(replace(c, transport=vanishing))
            except _Vanish as exc:
                c_out.append(exc)

        gone = threading.Thread(target=c_runs)
        gone.start()
        gone.join()  # c sent its first flight and is gone; the network was not told
        assert len(c_out) == 1 and vanishing.sent > 0
    start = time.monotonic()
    out = run_parties([engine.dkg] * 2, jobs[:2], network)
    elapsed = time.monotonic() - start
    assert any(isinstance(o, PeerTimeout) for o in out), out
    assert all(isinstance(o, PeerTimeout | PeerUnreachable) for o in out), out
    assert elapsed < 5.0
    assert threading.active_count() == baseline


def test_cancel_unblocks_pending_receives(engine: CbMpcMpEngine, keys: list[bytes]) -> None:
    """An abandoned session: both signers wait for a message that never comes (the third
    party's seat is empty); cancelling the network ends both calls at once."""
    baseline = threading.active_count()
    names = NAMES
    network, jobs = make_mp_jobs(names, AC, names, timeout=60)
    waiting = threading.Barrier(3)

    class Announces:
        def __init__(self, inner: MemoryMpTransport) -> None:
            self.inner, self.told = inner, False

        def send(self, to: int, data: bytes) -> None:
            self.inner.send(to, data)

        def receive(self, sender: int) -> bytes:
            return self.receive_all([sender])[0]

        def receive_all(self, senders: Sequence[int]) -> list[bytes]:
            if 2 in senders and not self.told:
                self.told = True
                waiting.wait(10)
            return self.inner.receive_all(senders)

    outcomes: list[object] = []

    def party(i: int) -> None:
        job = jobs[i]
        assert isinstance(job.transport, MemoryMpTransport)
        try:
            outcomes.append(
                engine.refresh(replace(job, transport=Announces(job.transport)), keys[i])
            )
        except BaseException as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=party, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    waiting.wait(10)  # both are about to block on node-c
    start = time.monotonic()
    network.cancel()
    for t in threads:
        t.join(10)
    assert time.monotonic() - start < 5.0
    assert len(outcomes) == 2 and all(isinstance(o, PeerUnreachable) for o in outcomes), outcomes
    assert threading.active_count() == baseline


def test_transport_faults_surface_unchanged_and_never_as_system_error() -> None:
    class Boom(Exception):
        pass

    class Raises:
        def send(self, to: int, data: bytes) -> None:
            raise Boom("from send")

        def receive(self, sender: int) -> bytes:
            raise Boom("from receive")

        def receive_all(self, senders: Sequence[int]) -> list[bytes]:
            raise Boom("from receive_all")

    with pytest.raises(Boom):
        _cbmpc.ecdsa_mp_dkg_ac(0, list(NAMES), Raises(), AC.native(), list(NAMES))

    class Oversized(Raises):
        def receive_all(self, senders: Sequence[int]) -> list[bytes]:
            return [b"x" * 101 for _ in senders]

        def send(self, to: int, data: bytes) -> None:
            pass

        def receive(self, sender: int) -> bytes:
            return b"x" * 101

    with pytest.raises(ValueError, match="size bound"):
        _cbmpc.ecdsa_mp_dkg_ac(0, list(NAMES), Oversized(), AC.native(), list(NAMES), b"", 100)

    class Short(Oversized):
        def receive_all(self, senders: Sequence[int]) -> list[bytes]:
            return []

    with pytest.raises(ValueError, match="one message per sender"):
        _cbmpc.ecdsa_mp_dkg_ac(0, list(NAMES), Short(), AC.native(), list(NAMES))
    with pytest.raises((TypeError, ValueError)):
        _cbmpc.ecdsa_mp_dkg_ac(0, list(NAMES), Short(), ("xor", 1, list(NAMES)), list(NAMES))


def test_a_corrupt_share_is_refused_before_any_message(
    engine: CbMpcMpEngine, keys: list[bytes]
) -> None:
    meta, payload = blob_mp.unwrap(keys[0], "cb-mpc")
    broken = blob_mp.wrap("cb-mpc", meta, payload[: len(payload) // 2])
    network, jobs = make_mp_jobs(NAMES, AC, NAMES[:2], timeout=1)
    with pytest.raises(KeyBlobMismatch):
        engine.sign(jobs[0], broken, os.urandom(32), NAMES[0])
    with pytest.raises(KeyBlobMismatch):
        engine.public_key(broken)
    assert network.sent_messages == 0


def test_native_multi_party_code_releases_the_gil(engine: CbMpcMpEngine, keys: list[bytes]) -> None:
    """A signature is hundreds of ms of native work (OT extension) between transport calls; a
    third Python thread keeps running meanwhile. Were the GIL held, it would stall as long."""
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
    start = time.perf_counter()
    der, _ = results(sign(engine, keys, NAMES[:2], os.urandom(32)))
    took = time.perf_counter() - start
    done.set()
    m.join()
    assert isinstance(der, bytes)
    assert took > 0.1, "the signature was too quick to prove anything"
    assert max_gap[0] < took / 4, (max_gap[0], took)


def test_an_oversized_message_is_a_protocol_violation_before_cb_mpc_parses_it(
    engine: CbMpcMpEngine,
) -> None:
    from mpcwallet.engine.base import MAX_MESSAGE_BYTES

    class Huge:
        def send(self, to: int, data: bytes) -> None:
            pass

        def receive(self, sender: int) -> bytes:
            return b"\0" * (MAX_MESSAGE_BYTES + 1)

        def receive_all(self, senders: Sequence[int]) -> list[bytes]:
            return [self.receive(s) for s in senders]

    _, jobs = make_mp_jobs(NAMES, AC, NAMES[:2], timeout=1)
    with pytest.raises(ProtocolViolation, match="over"):
        engine.dkg(replace(jobs[0], transport=Huge()))
