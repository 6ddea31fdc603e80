"""Benchmarks behind ``mpc bench``: median and p95 wall time, bytes and flights per operation.

Both parties run in one process (:func:`mpcwallet.engine.memory.run_jobs`, two threads over an
in-memory channel), so the numbers are compute plus thread hand-off, no network. On cb-mpc, the
multi-party rows (:func:`bench_mp`) run every party likewise, one thread each. Bytes on the
wire and flights are counted on the in-memory transports (protocol payload, both directions, one
run; the session's encryption and framing add their own per-message overhead). An engine with a
``presign`` method (portable) is also measured as "sign (warm pool)": its co-signer's
message-independent work done ahead, untimed.

Extension point: :func:`register_benchmark` takes a name and a callable that performs one run
(returning :class:`RunStats` or ``None``). Modules listed in :data:`BENCHMARK_MODULES` are
imported when the extras are collected and call it from their ``register_benchmarks()``; e.g. the
end-to-end ``mpc sign`` wall time (:mod:`.e2e`). Import-light: engines and extras are loaded
only when a benchmark runs.

Every benchmark lives in this package, and its imports go one way: the extras (:mod:`.e2e`,
:mod:`.session`, :mod:`.api`, :mod:`.cluster`) import this module and :mod:`.rows`; this module
imports only :mod:`.rows` (extras are loaded by name, above).
"""

from __future__ import annotations

import importlib
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Modules with a ``register_benchmarks()`` function that calls :func:`register_benchmark`.
BENCHMARK_MODULES: tuple[str, ...] = (
    "mpcwallet.bench.e2e",
    "mpcwallet.bench.session",
    "mpcwallet.bench.cluster",
)


@dataclass(frozen=True)
class RunStats:
    bytes_sent: int
    flights: int
    # The timed part of the run, when a runner times only part of what it does.
    seconds: float | None = None


@dataclass
class Measurement:
    name: str
    engine: str | None
    samples: list[float] = field(default_factory=list)  # seconds
    stats: RunStats | None = None

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def p95_ms(self) -> float:
        ordered = sorted(self.samples)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] * 1000

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "engine": self.engine,
            "rounds": len(self.samples),
            "median_ms": round(self.median_ms, 3),
            "p95_ms": round(self.p95_ms, 3),
            "bytes": self.stats.bytes_sent if self.stats else None,
            "flights": self.stats.flights if self.stats else None,
        }


Runner = Callable[[], RunStats | None]
_extra: list[tuple[str, Runner]] = []


def register_benchmark(name: str, run: Runner) -> None:
    """Add a benchmark: ``run()`` performs one timed run."""
    _extra.append((name, run))


def measure(
    name: str,
    run: Runner,
    rounds: int,
    engine: str | None = None,
    setup: Callable[[], object] | None = None,
) -> Measurement:
    """``rounds`` timed calls of ``run``; ``setup`` (untimed) runs before each."""
    m = Measurement(name, engine)
    for _ in range(rounds):
        if setup is not None:
            setup()
        start = time.perf_counter()
        stats = run()
        wall = time.perf_counter() - start
        m.samples.append(stats.seconds if stats is not None and stats.seconds is not None else wall)
        if stats is not None:
            m.stats = stats
    return m


def bench_engine(name: str, rounds: int, sign_rounds: int | None = None) -> list[Measurement]:
    """keygen, sign and refresh of engine ``name``, ``rounds`` times each (sign: ``sign_rounds``,
    default 4 x rounds)."""
    from mpcwallet.engine import get_engine
    from mpcwallet.engine.memory import MemoryTransport, make_jobs, run_jobs

    engine = get_engine(name)
    blobs: list[tuple[bytes, bytes]] = []

    def two_party(p1: Callable[..., Any], p2: Callable[..., Any]) -> tuple[Any, RunStats]:
        job1, job2 = make_jobs(timeout=120)
        result = run_jobs(p1, p2, job1, job2)
        t1, t2 = job1.transport, job2.transport
        assert isinstance(t1, MemoryTransport) and isinstance(t2, MemoryTransport)
        return result, RunStats(t1.sent_bytes + t2.sent_bytes, t1.sent_messages + t2.sent_messages)

    def keygen() -> RunStats:
        pair, stats = two_party(engine.dkg, engine.dkg)
        blobs[:] = [pair]
        return stats

    def sign() -> RunStats:
        b1, b2 = blobs[0]
        digest = os.urandom(32)
        _, stats = two_party(
            lambda j: engine.sign(j, b1, digest), lambda j: engine.sign(j, b2, digest)
        )
        return stats

    def refresh() -> RunStats:
        b1, b2 = blobs[0]
        pair, stats = two_party(lambda j: engine.refresh(j, b1), lambda j: engine.refresh(j, b2))
        blobs[:] = [pair]
        return stats

    results = [
        measure("keygen", keygen, rounds, name),
        measure("sign", sign, sign_rounds or 4 * rounds, name),
    ]
    presign = getattr(engine, "presign", None)
    if presign is not None:
        # the same signature with the co-signer's message-independent work done ahead (idle time,
        # untimed): one pool element per run, consumed by that run
        results.append(
            measure(
                "sign (warm pool)",
                sign,
                sign_rounds or 4 * rounds,
                name,
                setup=lambda: presign(blobs[0][1], 1),
            )
        )
    results.append(measure("refresh", refresh, rounds, name))
    return results


MP_NAMES = ("node-1", "node-2", "node-3")


def bench_mp(name: str, rounds: int, sign_rounds: int | None = None) -> list[Measurement]:
    """2-of-3 dkg (all three take part, two contribute), a signature by two parties and a
    refresh, through the multi-party engine ``name`` (cb-mpc), one thread per party over
    :class:`~mpcwallet.engine.memory_mp.MemoryNetwork`."""
    from mpcwallet.engine import get_mp_engine
    from mpcwallet.engine.base_mp import MpJob, threshold
    from mpcwallet.engine.memory_mp import make_mp_jobs, results, run_parties

    engine = get_mp_engine(name)
    access = threshold(2, MP_NAMES)
    quorum = MP_NAMES[:2]
    blobs: list[bytes] = []

    def parties(fn: Callable[[MpJob, int], Any], run: tuple[str, ...]) -> tuple[Any, RunStats]:
        network, jobs = make_mp_jobs(MP_NAMES, access, quorum, timeout=120)
        idx = [MP_NAMES.index(n) for n in run]

        def seat(i: int) -> Callable[[MpJob], Any]:
            return lambda j: fn(j, i)

        out = results(run_parties([seat(i) for i in idx], [jobs[i] for i in idx], network))
        return out, RunStats(network.sent_bytes, network.sent_messages)

    def keygen() -> RunStats:
        out, stats = parties(lambda j, i: engine.dkg(j), MP_NAMES)
        blobs[:] = out
        return stats

    def sign() -> RunStats:
        digest = os.urandom(32)
        _, stats = parties(lambda j, i: engine.sign(j, blobs[i], digest, quorum[0]), quorum)
        return stats

    def refresh() -> RunStats:
        out, stats = parties(lambda j, i: engine.refresh(j, blobs[i]), MP_NAMES)
        blobs[:] = out
        return stats

    return [
        measure("2-of-3 dkg", keygen, rounds, name),
        measure("2-of-3 sign (2 parties)", sign, sign_rounds or rounds, name),
        measure("2-of-3 refresh", refresh, rounds, name),
    ]


_registered_modules: set[str] = set()


def extra_benchmarks() -> list[tuple[str, Runner]]:
    for module_name in BENCHMARK_MODULES:
        if module_name not in _registered_modules:  # register once per process
            importlib.import_module(module_name).register_benchmarks()
            _registered_modules.add(module_name)
    return list(_extra)


def run(
    engines: list[str],
    rounds: int,
    progress: Callable[[str], None] | None = None,
    extras: bool = True,
) -> list[Measurement]:
    results: list[Measurement] = []
    for name in engines:
        if progress:
            progress(f"benchmarking engine {name} ({rounds} rounds)...")
        results.extend(bench_engine(name, rounds))
        if name == "cb-mpc":  # the only multi-party engine
            results.extend(bench_mp(name, rounds))
    if extras:
        for extra_name, runner in extra_benchmarks():
            if progress:
                progress(f"benchmarking {extra_name}...")
            results.append(measure(extra_name, runner, rounds))
    return results


def notes(results: list[Measurement]) -> list[str]:
    """Lines derived from several measurements (today: the handshake's share of a sign)."""
    from mpcwallet.bench.rows import handshake_share

    medians = {m.name: m.median_ms for m in results}
    share = handshake_share(medians)
    return [share] if share else []
