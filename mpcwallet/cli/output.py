"""Human (rich) or machine (``--json``) output, chosen once per process.

``--json`` prints exactly one JSON object on stdout per command:
``{"ok": true, "data": {...}}`` or ``{"ok": false, "error": {"code": ..., "message": ...}}``.
Diagnostics (progress, warnings) always go to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from typing import Any

from rich.console import Console

from mpcwallet.errors import MpcError


class Output:
    def __init__(self, json_mode: bool) -> None:
        self.json_mode = json_mode
        self.stdout = Console(soft_wrap=True, highlight=False)
        self.stderr = Console(stderr=True, soft_wrap=True, highlight=False)
        self._emitted = False

    def success(
        self,
        data: Mapping[str, Any],
        human: str | Callable[[Console], None] | None = None,
    ) -> None:
        """The command's result. ``human`` is markup text or a function drawing on stdout."""
        self._emitted = True
        if self.json_mode:
            sys.stdout.write(json.dumps({"ok": True, "data": dict(data)}, sort_keys=True) + "\n")
            sys.stdout.flush()
        elif callable(human):
            human(self.stdout)
        elif human is not None:
            self.stdout.print(human)
        else:
            for key, value in data.items():
                self.stdout.print(f"[bold]{key}[/bold]: {value}")

    def error(self, err: MpcError) -> None:
        self._emitted = True
        if self.json_mode:
            sys.stdout.write(json.dumps({"ok": False, "error": err.to_dict()}, sort_keys=True))
            sys.stdout.write("\n")
            sys.stdout.flush()
        else:
            self.stderr.print(f"[bold red]error[/bold red] [dim]({err.code})[/dim]: ", end="")
            self.stderr.print(err.message, markup=False)

    def info(self, message: str) -> None:
        """A diagnostic line on stderr (never data a script should parse)."""
        self.stderr.print(message, markup=False)

    def warn(self, message: str) -> None:
        self.stderr.print("[yellow]warning[/yellow]: ", end="")
        self.stderr.print(message, markup=False)


_current: Output | None = None


def configure(json_mode: bool) -> Output:
    global _current
    _current = Output(json_mode)
    return _current


def out() -> Output:
    """The process's Output (human mode if the CLI entry point did not configure one)."""
    global _current
    if _current is None:
        _current = Output(False)
    return _current
