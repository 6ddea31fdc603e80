"""`mpc waas principal-add` (no cluster needed) and the WaaS layering: bad input is a clear
error with its code and exit, the key is shown once and only its hash is stored; waas/ imports
neither the CLI nor the local API, and store/ imports nothing of waas/ or chain/."""

from __future__ import annotations

import ast
import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "mpcwallet"


def _mpc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-P", "-m", "mpcwallet", "--json", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_principal_add_shows_the_key_once_and_stores_its_hash(tmp_path: Path) -> None:
    base = ("waas", "principal-add", "--dir", str(tmp_path), "--tenant", "acme")
    cp = _mpc(*base, "--name", "alice", "--role", "admin")
    assert cp.returncode == 0, cp.stderr
    key = json.loads(cp.stdout)["data"]["api_key"]
    db = sqlite3.connect(tmp_path / "store.sqlite")
    dump = "\n".join(db.iterdump())
    db.close()
    assert key not in dump and hashlib.sha256(key.encode()).hexdigest() in dump
    again = _mpc(*base, "--name", "alice", "--role", "admin")
    assert (again.returncode, json.loads(again.stdout)["error"]["code"]) == (6, "already_exists")
    bad = _mpc(*base, "--name", "bob", "--role", "root")
    err = json.loads(bad.stdout)["error"]
    assert (bad.returncode, err["code"], err["field"]) == (2, "bad_input", "role")
    no_key = _mpc(*base, "--name", "carol", "--role", "approver")
    assert json.loads(no_key.stdout)["error"]["field"] == "approver_key"


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return {m.split(".")[1] for m in out if m.startswith("mpcwallet.") and m.count(".") >= 1}


@pytest.mark.parametrize(
    ("part", "banned"),
    [
        ("waas", {"cli", "api"}),
        ("store", {"waas", "chain", "cluster", "cli", "api", "wallet", "cosigner"}),
        ("chain/sql_store.py", {"waas", "cli", "api", "wallet"}),
    ],
)
def test_waas_dependencies_point_down(part: str, banned: set[str]) -> None:
    target = ROOT / part
    for path in [target] if target.is_file() else sorted(target.rglob("*.py")):
        assert not _imports(path) & banned, f"{path.relative_to(ROOT)} imports {banned}"
