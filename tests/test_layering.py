"""Dependencies point one way (DESIGN.md, "Parts and their rooms"): every package and top-level
module of mpcwallet sits in one layer, and imports only from layers below its own. Every import
counts, lazy ones inside functions included (the whole AST is walked), so a module cannot hide a
wrong-direction import from the import graph by deferring it.

The layers, bottom up (DESIGN.md's ``cli, api, waas -> wallet, cluster, chain -> session, store
-> engine, storage, evm -> errors``, refined where the code needs a finer order):

* ``homes`` holds what the client side and the daemon both read from an MPC_HOME (the
  co-signer directory's paths and ids, token and static-key files, pairing records), so
  ``session`` never reaches into ``cosigner``;
* ``testhooks`` is the one fault-hook module; it imports nothing of mpcwallet, so any layer may
  call it;
* ``chain`` is below ``wallet`` (wallet sends through it) and ``wallet`` is above the daemon
  ``cosigner`` (``mpc cosigner start`` and the cluster demo start daemons); ``cosigner`` and
  ``cluster`` are beside each other and never import one another;
* ``bench`` (every benchmark) sits above the use cases it times, below ``cli``.

Finer rules inside the cluster's parts (the node channel, the daemon's node role) follow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "mpcwallet"

LAYERS: list[set[str]] = [
    {"errors", "_cbmpc"},
    {"jsonio", "numeric", "config", "testhooks", "openapi"},
    {"engine", "evm", "storage"},
    {"homes", "accounts", "store"},
    {"session"},
    {"topology", "lifecycle", "chain"},
    {"cosigner", "cluster"},
    {"wallet"},
    {"api", "waas", "library"},
    {"bench"},
    {"cli"},
    {"__main__"},
]
LAYER = {part: i for i, layer in enumerate(LAYERS) for part in layer}
# What each part may import: everything strictly below its layer (and itself).
ALLOWED = {part: {p for p, j in LAYER.items() if j < i} | {part} for part, i in LAYER.items()}

HIGH = {"cli", "api", "waas", "wallet", "lifecycle", "cosigner", "cluster", "bench"}
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


def _part(path: Path) -> str:
    """The package or top-level module ``path`` (under mpcwallet/) belongs to."""
    rel = path.relative_to(ROOT).parts
    return rel[0].removesuffix(".py") if len(rel) == 1 else rel[0]


def imported_parts(source: str, path: Path) -> set[str]:
    """The mpcwallet parts ``source`` imports anywhere (module level, functions, TYPE_CHECKING)."""
    here = list(path.relative_to(ROOT).with_suffix("").parts)
    mods: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = ["mpcwallet", *here[: len(here) - node.level]]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module == "mpcwallet":  # from mpcwallet import x
                mods.update(f"mpcwallet.{a.name}" for a in node.names)
            else:
                mods.add(module)
        elif isinstance(node, ast.Import):
            mods.update(alias.name for alias in node.names)
    return {m.split(".")[1] for m in mods if m.startswith("mpcwallet.")} - {"__version__"}


def _files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py"))


def test_every_part_has_a_layer() -> None:
    parts = {_part(p) for p in _files()} - {"__init__"}
    assert not parts - set(LAYER), f"put {sorted(parts - set(LAYER))} in a layer of LAYERS"


@pytest.mark.parametrize("part", sorted({_part(p) for p in _files()} - {"__init__"}))
def test_every_import_points_down(part: str) -> None:
    bad = []
    for path in _files():
        if _part(path) != part:
            continue
        wrong = imported_parts(path.read_text(), path) - ALLOWED[part]
        if wrong:
            bad.append(f"{path.relative_to(ROOT)} imports mpcwallet.{sorted(wrong)}")
    assert not bad, "wrong-direction imports (see tests/test_layering.py):\n" + "\n".join(bad)


@pytest.mark.parametrize("part", sorted(RULES))
def test_cluster_parts_keep_their_finer_rules(part: str) -> None:
    target = ROOT / part
    files = [target] if target.is_file() else sorted(target.rglob("*.py"))
    assert files
    for path in files:
        bad = imported_parts(path.read_text(), path) & RULES[part]
        assert not bad, f"{path.relative_to(ROOT)} imports mpcwallet.{sorted(bad)}"


@pytest.mark.parametrize(
    ("source", "where"),
    [
        ("from mpcwallet.cosigner.paths import CosignerPaths\n", "session/x.py"),
        ("def f():\n    from mpcwallet.wallet.shares import find_share\n", "lifecycle/x.py"),
        ("def f():\n    import mpcwallet.cli.main\n", "engine/x.py"),
        ("from mpcwallet import bench\n", "evm/x.py"),
        ("from ..cosigner import daemon\n", "session/x.py"),
    ],
)
def test_the_check_sees_a_wrong_import(source: str, where: str) -> None:
    """The checker itself: a wrong-direction import, lazy or not, absolute or relative, is seen."""
    path = ROOT / where
    assert imported_parts(source, path) - ALLOWED[_part(path)]
