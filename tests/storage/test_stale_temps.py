"""Temp files of killed writers are cleaned; a live writer's never are (issue 11, item 9)."""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

from support.cosigner import wait_for
from support.proc import json_result, mpc_cmd, run_mpc

from mpcwallet.storage.files import clean_stale_temps, write_atomic

TOKEN = "0x5FbDB2315678afecb367f091AE2d8B5f3C5D7F5d".lower()
TO = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"


def _temps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_only_our_unlocked_temp_files_are_removed(tmp_path: Path) -> None:
    stale = tmp_path / ".sig.json.0123456789abcdef.tmp"
    stale.write_bytes(b"half")
    other_name = tmp_path / ".other.json.0123456789abcdef.tmp"
    other_name.write_bytes(b"x")
    not_ours = [
        tmp_path / ".sig.json.0123456789ABCDEF.tmp",  # upper-case hex: not token_hex
        tmp_path / ".sig.json.0123.tmp",
        tmp_path / "sig.json.0123456789abcdef.tmp",  # no leading dot
        tmp_path / ".sig.json.0123456789abcdef.tmp.bak",
    ]
    for p in not_ours:
        p.write_bytes(b"keep")
    link = tmp_path / ".sig.json.fedcba9876543210.tmp"
    target = tmp_path / "precious"
    target.write_bytes(b"precious")
    link.symlink_to(target)
    live = tmp_path / ".sig.json.00112233445566aa.tmp"
    live.write_bytes(b"being written")
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a writer in progress (another open file description)
    try:
        removed = clean_stale_temps(tmp_path, "sig.json")
    finally:
        os.close(fd)
    assert removed == [stale]
    assert not stale.exists()
    assert other_name.exists() and live.exists() and link.is_symlink()
    assert target.read_bytes() == b"precious"
    assert all(p.exists() for p in not_ours)
    # The writer is gone now: a sweep of the whole directory takes both remaining ones.
    assert sorted(clean_stale_temps(tmp_path)) == sorted([other_name, live])
    assert not other_name.exists() and not live.exists()


def test_write_atomic_cleans_stale_temps_of_its_target(tmp_path: Path) -> None:
    stale = tmp_path / ".out.bin.0123456789abcdef.tmp"
    stale.write_bytes(b"half-written secret")
    write_atomic(tmp_path / "out.bin", b"new")
    assert _temps(tmp_path) == []
    assert (tmp_path / "out.bin").read_bytes() == b"new"


def test_writer_killed_before_publish_leaves_a_temp_the_next_write_removes(
    mpc_env: dict[str, str], tmp_path: Path
) -> None:
    """A real `mpc` writing --out is SIGKILLed between fsync and publish, then rerun."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    pause_dir = tmp_path / "pause"
    pause_dir.mkdir()
    target = out_dir / "tx.json"
    args = ["--json", "tx", "erc20-transfer", "--token", TOKEN, "--to", TO, "--amount", "1"]
    args += ["--out", str(target)]
    env = dict(
        mpc_env,
        MPC_TEST_PAUSE_AT="atomic_write_before_publish:tx.json",
        MPC_TEST_PAUSE_DIR=str(pause_dir),
    )
    proc = subprocess.Popen(
        [*mpc_cmd(), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        reached = pause_dir / "atomic_write_before_publish:tx.json.reached"
        wait_for(reached.exists, 60, "pause")
    finally:
        proc.kill()  # SIGKILL: no cleanup handler runs
        proc.communicate()
    assert proc.returncode == -9
    left = _temps(out_dir)
    assert len(left) == 1 and left[0].startswith(".tx.json.")
    assert not target.exists()
    cp = run_mpc(args, mpc_env)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert json_result(cp)["ok"] is True
    assert _temps(out_dir) == []
    assert sorted(p.name for p in out_dir.iterdir()) == ["tx.json"]
