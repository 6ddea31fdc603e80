"""``mpc bench`` rows for the t-of-n cluster (cb-mpc only): keygen, sign and refresh through the
coordinator's HTTP API and three real node processes on loopback (a throwaway 2-of-3 demo
cluster, stopped at exit). Compare with the in-process 2-of-3 rows of
:func:`mpcwallet.bench.bench_mp` in the same run; the difference is the cluster's own cost:
HTTP to the coordinator, one WebSocket per node, KK handshakes, the relay hop per message,
the node's permit and policy checks, audit fsyncs and the store's session records."""

from __future__ import annotations

import atexit
import itertools
import shutil
import tempfile
from pathlib import Path
from typing import Any

KEYGEN = "cluster keygen 2-of-3 (coordinator + 3 node processes)"
SIGN = "cluster sign 2-of-3 (coordinator + 3 node processes)"
REFRESH = "cluster refresh 2-of-3 (coordinator + 3 node processes)"


def register_benchmarks() -> None:
    """Called by :func:`mpcwallet.bench.extra_benchmarks`; nothing without cb-mpc."""
    try:
        from mpcwallet import _cbmpc  # noqa: F401
    except ImportError:
        return
    from mpcwallet.bench import register_benchmark
    from mpcwallet.wallet import cluster_demo as demo

    tmp = Path(tempfile.mkdtemp(prefix="mpc-bench-cluster-"))

    def close() -> None:
        demo.down(tmp)
        shutil.rmtree(tmp, ignore_errors=True)

    atexit.register(close)
    demo.up(tmp)
    keyset: dict[str, Any] = demo.call(tmp, "POST", "/v1/keysets", {"wallet_id": "bench"})
    nonces = itertools.count()

    def keygen() -> None:
        demo.call(tmp, "POST", "/v1/keysets", {"wallet_id": "bench"})

    def sign() -> None:
        tx = {
            "chainId": 11155111,
            "nonce": next(nonces),
            "to": "0x" + "22" * 20,
            "value": 1,
            "gas": 21000,
            "maxFeePerGas": 2_000_000_000,
            "maxPriorityFeePerGas": 1,
            "type": 2,
        }
        permit = demo.demo_permit(tmp, keyset["keyset_id"], tx)
        demo.call(
            tmp, "POST", f"/v1/keysets/{keyset['keyset_id']}/sign", {"tx": tx, "permit": permit}
        )

    def refresh() -> None:
        demo.call(tmp, "POST", f"/v1/keysets/{keyset['keyset_id']}/refresh", {})

    register_benchmark(KEYGEN, keygen)
    register_benchmark(SIGN, sign)
    register_benchmark(REFRESH, refresh)
