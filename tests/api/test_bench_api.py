"""`mpc bench --api`: signatures/s through a real `mpc serve` (sequential and 8 concurrent)
beside `mpc sign` end to end, all in a throwaway home (the test's MPC_HOME is not touched)."""

from __future__ import annotations

from pathlib import Path

from support.proc import ok_data, run_mpc


def test_bench_api_prints_three_figures_and_leaves_the_home_alone(
    mpc_env: dict[str, str], mpc_home: Path
) -> None:
    data = ok_data(run_mpc(["--json", "bench", "--api", "--rounds", "1"], mpc_env, timeout=300))
    assert data["api_sequential"]["concurrency"] == 1
    assert data["api_concurrent"]["concurrency"] == 8
    for figure in ("api_sequential", "api_concurrent"):
        assert data[figure]["signatures"] == 8
        assert data[figure]["per_second"] > 0 and data[figure]["median_ms"] > 0
    assert data["cli_end_to_end"]["signatures"] == 3
    assert data["engine"] in ("cb-mpc", "portable")
    assert not mpc_home.exists()
