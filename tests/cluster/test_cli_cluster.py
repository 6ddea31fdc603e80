"""`mpc cluster init` and the commands that need a running coordinator, as a user runs them
(real `mpc` processes). The running cluster itself is exercised in test_cluster_e2e.py."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from support.proc import error_of, ok_data, run_mpc

from mpcwallet.storage import envelope
from mpcwallet.topology.config import load_config


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "MPC_HOME": str(tmp_path / "home")}


def test_init_writes_a_pinned_config_and_one_home_per_node(tmp_path: Path) -> None:
    d = tmp_path / "c"
    data = ok_data(run_mpc(["--json", "cluster", "init", "--dir", str(d)], _env(tmp_path)))
    assert data["config"] == str(d / "cluster.json")
    config = load_config(d / "cluster.json")
    assert (config.t, config.n, config.party_names) == (2, 3, ("node-a", "node-b", "node-c"))
    for name in config.party_names:
        node = d / "nodes" / name / "cosigner" / "node"
        assert json.loads((node / "cluster.json").read_text()) == config.to_json()
        header = envelope.read_header((node / "node.key").read_bytes())
        assert (header["name"], header["public_key"]) == (name, config.node(name).static_key.hex())
        assert stat.S_IMODE((node / "node.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((d / "permit.key").stat().st_mode) == 0o600
    # a second init never overwrites a cluster
    again = run_mpc(["--json", "cluster", "init", "--dir", str(d)], _env(tmp_path))
    error_of(again, 6, "already_exists")


def test_commands_without_a_coordinator_say_to_start_one(tmp_path: Path) -> None:
    cp = run_mpc(["--json", "cluster", "status", "--dir", str(tmp_path / "none")], _env(tmp_path))
    err = error_of(cp, 5, "not_found")
    assert "mpc cluster up" in err["message"]
