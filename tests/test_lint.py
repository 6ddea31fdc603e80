"""ruff and mypy (strict on mpcwallet/) are part of the suite, so CI keeps them clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    "args",
    [
        ("ruff", "check", "mpcwallet", "tests"),
        ("ruff", "format", "--check", "mpcwallet", "tests"),
    ],
    ids=["ruff-check", "ruff-format"],
)
def test_ruff(args: tuple[str, ...]) -> None:
    cp = _run(*args)
    assert cp.returncode == 0, cp.stdout + cp.stderr


@pytest.mark.slow
def test_mypy_strict() -> None:
    cp = _run("mypy", "--no-incremental")  # files and strictness from pyproject.toml
    assert cp.returncode == 0, cp.stdout + cp.stderr
