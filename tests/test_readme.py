"""The README's commands are the ones CI and users run; keep them honest."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh|console)\n(.*?)```", text, flags=re.S)
    return [line.strip() for block in blocks[:2] for line in block.splitlines() if line.strip()]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))
    ]
    assert len(ci_lines) == 1, ci_lines
    commands = _readme_commands()
    assert len(commands) == 2, "the README opens with exactly two commands"
    assert ci_lines[0] == commands[1]


def test_example_tx_exists_for_the_main_command() -> None:
    main = _readme_commands()[0]
    for path in re.findall(r"--tx (\S+)", main):
        assert (ROOT / path).is_file(), path
