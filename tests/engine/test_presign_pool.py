"""The portable engine's presign pool: each element serves at most one signature, also across a
crash and restart (the pool lives in memory only and is never serialised)."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mpcwallet.engine.memory import run_two_party
from mpcwallet.engine.portable import PortableEngine, keys, presign, signing
from mpcwallet.engine.portable.transcript import Session

from .helpers import check_signature, digest_of


@pytest.fixture(scope="module")
def blobs() -> tuple[bytes, bytes]:
    engine = PortableEngine()
    b1, b2 = run_two_party(engine.dkg, engine.dkg, timeout=60)
    return b1, b2


def test_take_removes_and_an_element_cannot_be_used_twice(blobs: tuple[bytes, bytes]) -> None:
    n = keys.decode_p2(blobs[1]).n
    pool = presign.PresignPool(capacity=3)
    assert pool.fill(n) == 3 and pool.fill(n) == 0 and pool.size(n) == 3
    taken: list[presign.P2Presign] = []
    lock = threading.Lock()

    def taker() -> None:
        while (e := pool.take(n)) is not None:
            with lock:
                taken.append(e)

    threads = [threading.Thread(target=taker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 3 and len({id(e) for e in taken}) == 3 and pool.size(n) == 0
    assert pool.take(n) is None and pool.take(n + 2) is None
    assert all(e.used for e in taken)
    with pytest.raises(RuntimeError, match="twice"):
        taken[0].consume()
    with pytest.raises(TypeError, match="never serialised"):
        pickle.dumps(taken[0])
    assert str(taken[0].rho) not in repr(taken[0])


def test_sign_with_pool_element_and_refusals(blobs: tuple[bytes, bytes]) -> None:
    b1, b2 = blobs
    k1, k2 = keys.decode_p1(b1), keys.decode_p2(b2)
    engine = PortableEngine()
    presign.POOL.drop(k2.n)
    assert engine.presign(b2, 2) == 2 and presign.POOL.size(k2.n) == 2
    d = digest_of("warm")
    der, _ = run_two_party(
        lambda j: engine.sign(j, b1, d), lambda j: engine.sign(j, b2, d), timeout=60
    )
    check_signature(k1.Q.format(), d, der)
    assert presign.POOL.size(k2.n) == 1  # the signature consumed exactly one element
    s = Session(os.urandom(32), ("client", "cosigner"))
    with pytest.raises(ValueError, match="not taken"):
        signing.SignP2(s, k2, d, presign.P2Presign(k2.n))  # must come through take()
    other = presign.P2Presign(k2.n + 2).consume()
    with pytest.raises(ValueError, match="another key"):
        signing.SignP2(s, k2, d, other)
    presign.POOL.drop(k2.n)


def test_a_cold_signature_computes_its_own_element_ahead(
    blobs: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a pool element P2 starts one at its first step; it is consumed at birth, belongs
    to that signature only, and a failure while computing it reaches the signature."""
    b1, b2 = blobs
    k2 = keys.decode_p2(b2)
    ahead = presign.PresignAhead(k2.n)
    element = ahead.get()
    assert element.used and element.n == k2.n
    with pytest.raises(RuntimeError, match="twice"):
        element.consume()
    presign.POOL.drop(k2.n)
    held = presign.POOL.held()
    engine = PortableEngine()
    d = digest_of("cold")
    der, _ = run_two_party(
        lambda j: engine.sign(j, b1, d), lambda j: engine.sign(j, b2, d), timeout=60
    )
    check_signature(keys.decode_p1(b1).Q.format(), d, der)
    assert presign.POOL.held() == held  # nothing of the cold signature went into the pool

    def broken(self: presign.P2Presign, n: int) -> None:
        raise ArithmeticError("boom")

    monkeypatch.setattr(presign.P2Presign, "__init__", broken)
    with pytest.raises(ArithmeticError, match="boom"):
        presign.PresignAhead(k2.n).get()


_HOLDER = """
import sys
from mpcwallet.engine.portable import PortableEngine, keys, presign
blob = open(sys.argv[1], "rb").read()
n = keys.decode_p2(blob).n
if sys.argv[2] == "fill":
    PortableEngine().presign(blob, 2)
    e = presign.POOL._items[n][0]
    print(format(int(e.rc), "x"), format(int(e.W_tag[0]), "x"), flush=True)
    sys.stdin.read()  # hold the warm pool until killed
else:
    print(presign.POOL.size(n), presign.POOL.take(n), flush=True)
"""


def test_a_crash_and_restart_leave_nothing_to_reuse(
    blobs: tuple[bytes, bytes], tmp_path: Path
) -> None:
    """A co-signer process with a warm pool is killed (SIGKILL); the restarted one starts empty
    and no file anywhere under its home holds an element's secrets."""
    blob_file = tmp_path / "p2.blob"
    blob_file.write_bytes(blobs[1])
    env = {**os.environ, "MPC_HOME": str(tmp_path / "home")}
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(blob_file), "fill"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert holder.stdout is not None
    secrets_hex = holder.stdout.readline().split()  # the pool is warm once this line arrives
    assert len(secrets_hex) == 2
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert holder.returncode == -signal.SIGKILL
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for h in secrets_hex:
                raw = bytes.fromhex(h.zfill(len(h) + len(h) % 2))
                assert h.encode() not in data and raw not in data, path
    restarted = subprocess.run(
        [sys.executable, "-c", _HOLDER, str(blob_file), "check"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=True,
    )
    assert restarted.stdout.split() == ["0", "None"]
