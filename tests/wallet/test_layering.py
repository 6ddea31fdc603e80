"""The wallet layer stays under its front ends: it never imports `mpcwallet.cli` and does no
terminal I/O (DESIGN.md: `cli, api -> wallet -> ...`)."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import mpcwallet.wallet

WALLET_DIR = Path(mpcwallet.wallet.__file__).parent
MODULES = sorted(
    f"mpcwallet.wallet.{info.name}" for info in pkgutil.iter_modules([str(WALLET_DIR)])
)


def test_every_wallet_module_is_seen() -> None:
    # The scan below must cover the modules that exist (a renamed package would pass vacuously).
    assert {"mpcwallet.wallet.keygen", "mpcwallet.wallet.backups"} <= set(MODULES)


def test_importing_the_wallet_loads_no_cli_module() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('mpcwallet.cli')"
        " or m.split('.')[0] in ('typer', 'rich'))))\n"
    )
    cp = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.strip() == "[]", cp.stdout


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names.append(node.module)
            for name in names:
                top = name.split(".")[0]
                if top in ("typer", "rich", "getpass", "click") or name.startswith("mpcwallet.cli"):
                    found.append(f"{path.name}:{node.lineno}: imports {name}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("print", "input"):
                found.append(f"{path.name}:{node.lineno}: calls {node.func.id}()")
        elif isinstance(node, ast.Attribute) and node.attr in ("stdin", "stdout", "stderr"):
            if isinstance(node.value, ast.Name) and node.value.id == "sys":
                found.append(f"{path.name}:{node.lineno}: uses sys.{node.attr}")
    return found


def test_no_wallet_module_does_terminal_io() -> None:
    offences = [o for path in sorted(WALLET_DIR.glob("*.py")) for o in _offences(path)]
    assert offences == []


def test_the_scan_catches_what_it_looks_for(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import sys\nimport rich.console\nfrom mpcwallet.cli.output import out\n"
        "def f():\n    print('x')\n    sys.stdin.readline()\n"
    )
    assert len(_offences(bad)) == 4
