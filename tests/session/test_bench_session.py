"""`mpc bench`'s handshake share line and the partial timing it relies on."""

from __future__ import annotations

import pytest

from mpcwallet import bench
from mpcwallet.bench import session as bench_session


def test_measure_uses_the_runners_own_timing() -> None:
    m = bench.measure("x", lambda: bench.RunStats(0, 2, seconds=0.002), rounds=3)
    assert m.samples == [0.002] * 3 and m.median_ms == pytest.approx(2.0)


def test_handshake_share_line() -> None:
    medians = {
        f"{bench_session.SIGN} [portable]": 200.0,
        f"{bench_session.HANDSHAKE} [portable]": 2.0,
        bench_session.CPU: 0.4,
    }
    line = bench_session.handshake_share(medians)
    assert line == (
        "Noise handshake: 2.00 ms of a 200.0 ms session sign (1.0 %); its computation alone 0.40 ms"
    )
    assert bench_session.handshake_share({"sign": 1.0}) is None


def test_noise_cpu_runner_completes_a_handshake() -> None:
    bench_session._noise_cpu_once()
