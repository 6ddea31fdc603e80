"""The cluster's parts keep DESIGN.md's one-way dependencies (imports anywhere in a module,
lazy ones included): store/ and the node channel import nothing above them; topology/ (the
configuration, node keys and the signing permit, shared by the coordinator and the nodes) sits
below both; cluster/ (the coordinator) imports store/, session/ and topology/ but no daemon, CLI
or API code; the daemon's node role (cosigner/node_*.py) never imports the coordinator."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "mpcwallet"
HIGH = {"cli", "api", "waas", "wallet", "lifecycle", "cosigner", "cluster"}
RULES = {
    "store": HIGH | {"session"},
    "session/node_channel.py": HIGH | {"store"},
    "session/node_keys.py": HIGH | {"store"},
    "session/coordinator_link.py": HIGH | {"store"},
    "cluster": HIGH - {"cluster"},
    "topology": HIGH | {"store"},
    "cosigner/node_role.py": {"cluster", "cli", "api", "waas", "wallet"},
    "cosigner/node_session.py": {"cluster", "cli", "api", "waas", "wallet"},
    "cosigner/node_state.py": {"cluster", "cli", "api", "waas", "wallet"},
}


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return {m.split(".")[1] for m in out if m.startswith("mpcwallet.") and m.count(".") >= 1}


@pytest.mark.parametrize("part", sorted(RULES))
def test_dependencies_point_down(part: str) -> None:
    target = ROOT / part
    files = [target] if target.is_file() else sorted(target.rglob("*.py"))
    assert files
    for path in files:
        bad = _imports(path) & RULES[part]
        assert not bad, f"{path.relative_to(ROOT)} imports mpcwallet.{sorted(bad)}"
