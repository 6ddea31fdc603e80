"""The end-to-end `mpc sign` benchmark runs real processes and cleans up after itself."""

from __future__ import annotations

import pytest

from mpcwallet import bench
from mpcwallet.bench import e2e as bench_e2e


def test_e2e_sign_benchmark_runs_and_cleans_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "_extra", [])
    monkeypatch.delenv("MPC_HOME", raising=False)
    bench_e2e.register_benchmarks()
    [(name, runner)] = bench._extra
    setup = runner.setup  # type: ignore[attr-defined]
    assert name.startswith(bench_e2e.NAME) and setup.engine in name
    m = bench.measure(name, runner, rounds=2)
    assert len(m.samples) == 2 and all(s > 0 for s in m.samples)
    assert (setup.tmp / "home" / "shares" / "default.enc").exists()
    daemon = setup.daemon
    setup.close()
    assert daemon.poll() is not None and not setup.tmp.exists()
