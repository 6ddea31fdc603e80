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


def test_the_exit_code_table_names_every_cli_error_with_its_exit_code() -> None:
    """Scripts rely on the table: each code a CLI command can end with is in its exit's row."""
    from mpcwallet import errors

    text = (ROOT / "docs" / "commands.md").read_text()
    table = text.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[int, str] = {}
    for line in table.splitlines():
        m = re.match(r"^\| (\d+) \| (.*)$", line)
        if m:
            assert int(m.group(1)) not in rows, f"exit {m.group(1)} has two rows"
            rows[int(m.group(1))] = m.group(2)
    api_only = {"unauthorized", "host_refused", "origin_refused", "body_too_large",
                "malformed_json", "invalid_request", "no_such_route", "method_not_allowed",
                "idempotency_conflict", "idempotency_unknown"}  # fmt: skip
    pending = [errors.MpcError]
    missing = []
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.code in api_only or cls.code == "error":
            continue
        if f"`{cls.code}`" not in rows.get(cls.exit_code, ""):
            missing.append(f"{cls.code} (exit {cls.exit_code})")
    assert not missing, f"docs/commands.md's exit-code table lacks {sorted(missing)}"
