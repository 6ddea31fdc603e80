"""Shared by the cb-mpc multi-party test modules: names, the access structure, runners."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mpcwallet.engine.base_mp import AccessStructure, MpEngine, MpJob, threshold
from mpcwallet.engine.memory_mp import make_mp_jobs, results, run_parties

NAMES = ("node-a", "node-b", "node-c")
AC = threshold(2, NAMES)
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def run_all(
    fn: Callable[[MpJob, int], object],
    names: Sequence[str] = NAMES,
    access: AccessStructure = AC,
    quorum: Sequence[str] | None = None,
    run: Sequence[str] | None = None,
    timeout: float = 20.0,
) -> list[object]:
    """Run ``fn(job, i)`` for each party in ``run`` (default: all); results or exceptions."""
    network, jobs = make_mp_jobs(names, access, quorum, timeout=timeout)
    idx = [names.index(n) for n in (run if run is not None else names)]
    return run_parties([lambda j, i=i: fn(j, i) for i in idx], [jobs[i] for i in idx], network)


def make_keys(engine: MpEngine) -> list[bytes]:
    """A 2-of-3 key; a and b contribute to the dkg (all three take part)."""
    out = results(run_all(lambda j, i: engine.dkg(j), quorum=NAMES[:2]))
    return [o for o in out if isinstance(o, bytes)]


def sign(
    engine: object, blobs: Sequence[bytes], quorum: Sequence[str], digest: bytes
) -> list[object]:
    return run_all(
        lambda j, i: engine.sign(j, blobs[i], digest, quorum[0]),  # type: ignore[attr-defined]
        quorum=quorum,
        run=quorum,
    )
