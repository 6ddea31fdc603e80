"""The co-signer's idle-time precomputation (portable engine): filled after a signature while no
session runs, each element used by one signature, nothing kept across a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.cosigner import Cosigner, running_cosigner, start_cosigner, wait_for
from support.proc import json_result, run_mpc

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tx.json"


def _presign(cs: Cosigner) -> dict[str, Any]:
    status, doc = cs.healthz()
    assert status == 200
    return dict(doc["presign"])


def _sign(cs: Cosigner, out: Path) -> dict[str, Any]:
    cp = run_mpc(["--json", "sign", "--tx", str(EXAMPLE), "--out", str(out), "--force"], cs.env)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    return dict(json_result(cp)["data"])


def test_precomputed_while_idle_used_once_and_gone_after_a_crash(
    mpc_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(mpc_env, MPC_ENGINE="portable")
    cs = start_cosigner(env, engine="portable")
    try:
        keygen = run_mpc(["--json", "keygen"], cs.env)
        assert keygen.returncode == 0, keygen.stdout + keygen.stderr
        assert _presign(cs) == {"held": 0, "used": 0}  # nothing before a first signature
        first = _sign(cs, tmp_path / "sig.json")  # cold: the pool was empty
        assert _presign(cs)["used"] == 0
        # Filled after the session ended, up to the pool's bound (4), while idle.
        wait_for(lambda: _presign(cs)["held"] == 4, 120, "the pool to fill while idle")
        second = _sign(cs, tmp_path / "sig.json")
        assert second["from"] == first["from"]
        stats = _presign(cs)
        assert stats["used"] == 1  # this signature took one element; it is no longer held
        assert stats["held"] <= 4
        cs.kill()  # SIGKILL with a warm pool
    finally:
        cs.kill()
    # The pool lived in memory only: a restarted co-signer holds nothing and signs cold.
    with running_cosigner(env, engine="portable") as cs2:
        assert _presign(cs2) == {"held": 0, "used": 0}
        third = _sign(cs2, tmp_path / "sig.json")
        assert third["from"] == first["from"]
        assert _presign(cs2)["used"] == 0
    leftovers = [p for p in (Path(env["MPC_HOME"]) / "cosigner").rglob("*") if p.is_file()]
    assert not any("presign" in p.name for p in leftovers), leftovers


def test_turned_off_nothing_is_precomputed(mpc_env: dict[str, str]) -> None:
    env = dict(mpc_env, MPC_ENGINE="portable", MPC_COSIGNER_PRESIGN="0")
    with running_cosigner(env, engine="portable") as cs:
        assert cs.healthz()[1]["presign"] is None
