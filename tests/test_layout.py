"""The house stays easy to walk: no module over 500 lines, and the benchmarks (all in
mpcwallet/bench/) import each other without a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "mpcwallet"
MAX_LINES = 500


def test_no_module_over_500_lines() -> None:
    long = {
        str(p.relative_to(ROOT.parent)): n
        for p in sorted(ROOT.rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these along a real seam (max {MAX_LINES} lines): {long}"


def _bench_graph() -> dict[str, set[str]]:
    """Module -> the mpcwallet.bench modules it imports (anywhere in it, lazy imports too)."""
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / "bench").glob("*.py")):
        name = "mpcwallet.bench" if path.stem == "__init__" else f"mpcwallet.bench.{path.stem}"
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "mpcwallet.bench" and node.names[0].name not in ("*",):
                    subs = {f"mpcwallet.bench.{a.name}" for a in node.names}
                    found = {
                        s for s in subs if (ROOT / "bench" / f"{s.rsplit('.', 1)[1]}.py").exists()
                    }
                    deps |= found or {"mpcwallet.bench"}
                elif node.module.startswith("mpcwallet.bench"):
                    deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("mpcwallet.bench")}
        graph[name] = deps - {name}
    return graph


def test_benchmarks_live_in_one_package_without_a_cycle() -> None:
    assert not [p for p in ROOT.rglob("*bench*.py") if p.parent.name not in ("bench", "cli")]
    graph = _bench_graph()
    assert "mpcwallet.bench.session" in graph and "mpcwallet.bench.e2e" in graph
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> None:
        assert node not in stack, f"import cycle: {' -> '.join([*stack, node])}"
        if node in done:
            return
        for dep in graph.get(node, set()):
            visit(dep, [*stack, node])
        done.add(node)

    for node in graph:
        visit(node, [])
