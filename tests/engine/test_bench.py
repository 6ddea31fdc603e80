"""``mpc bench`` and the benchmark helpers."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support.proc import json_result, run_mpc

from mpcwallet import bench


def test_measure_median_p95_and_extension_point(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def one_run() -> bench.RunStats:
        calls.append(1)
        return bench.RunStats(bytes_sent=10, flights=2)

    monkeypatch.setattr(bench, "_extra", [])
    monkeypatch.setattr(bench, "BENCHMARK_MODULES", ())
    bench.register_benchmark("custom", one_run)
    results = bench.run([], rounds=3)
    assert [m.name for m in results] == ["custom"]
    assert len(calls) == 3
    row = results[0].to_dict()
    assert row["rounds"] == 3 and row["bytes"] == 10 and row["flights"] == 2
    m = bench.Measurement("x", None, samples=[0.001 * i for i in range(1, 21)])
    assert m.median_ms == pytest.approx(10.5)
    assert m.p95_ms == pytest.approx(19.0)


@pytest.mark.slow
def test_mpc_bench_portable_json(mpc_env: dict[str, str]) -> None:
    cp = run_mpc(["--json", "bench", "--engine", "portable", "--rounds", "1"], mpc_env)
    assert cp.returncode == 0, cp.stderr
    data = json_result(cp)["data"]
    assert data["engines"] == ["portable"]
    rows = {r["name"]: r for r in data["results"] if r["engine"] == "portable"}
    assert set(rows) == {"keygen", "sign", "sign (warm pool)", "refresh"}
    # keygen's 3 flights, then the accounts' chain-code coin toss (engine/portable/hd.py): 3
    assert rows["keygen"]["flights"] == 6
    assert rows["sign"]["flights"] == 5  # 4, then the signature to P2 (the outcome)
    # Same messages, warm or cold; big integers are minimally encoded, so a random value with a
    # leading zero byte makes one run a few bytes shorter.
    warm, cold = rows["sign (warm pool)"], rows["sign"]
    assert warm["flights"] == cold["flights"] and abs(warm["bytes"] - cold["bytes"]) <= 16
    assert rows["refresh"]["flights"] == 5
    for row in rows.values():
        assert row["median_ms"] > 0 and row["p95_ms"] >= row["median_ms"]
        assert row["bytes"] > 0
    assert set(data["medians_ms"]["portable"]) == {"keygen", "sign", "sign (warm pool)", "refresh"}


def test_mpc_bench_unknown_engine(mpc_env: dict[str, str]) -> None:
    cp = run_mpc(["--json", "bench", "--engine", "nope"], mpc_env)
    assert cp.returncode == 2
    err = json_result(cp)["error"]
    assert err["code"] == "bad_input" and err["field"] == "engine"


def test_bench_and_portable_engine_are_import_light() -> None:
    code = (
        "import sys, mpcwallet.bench, mpcwallet.cli.bench, mpcwallet.engine.portable;"
        "heavy = [m for m in ('web3', 'eth_account', 'aiohttp') if m in sys.modules];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    cp = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert cp.returncode == 0, cp.stdout + cp.stderr


@pytest.mark.cbmpc
def test_bench_has_the_multi_party_rows_on_cb_mpc() -> None:
    from mpcwallet.engine import available_engines

    if "cb-mpc" not in available_engines():
        pytest.skip("cb-mpc engine not installed (mpcwallet._cbmpc missing); see README")
    results = bench.run(["cb-mpc"], rounds=1, extras=False)
    rows = {m.name: m.to_dict() for m in results}
    mp = ["2-of-3 dkg", "2-of-3 sign (2 parties)", "2-of-3 refresh"]
    assert set(mp) <= set(rows) and {"keygen", "sign", "refresh"} <= set(rows)
    for name in mp:
        row = rows[name]
        assert row["engine"] == "cb-mpc" and row["rounds"] == 1
        assert row["median_ms"] > 0 and row["bytes"] > 0 and row["flights"] > 0
    # every party of the dkg and refresh sends to every other; a signature is two parties'
    assert rows["2-of-3 dkg"]["flights"] % 6 == 0
    assert rows["2-of-3 sign (2 parties)"]["bytes"] > rows["2-of-3 dkg"]["bytes"]
