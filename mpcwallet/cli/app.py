"""The Typer app. One module per command group; each exposes ``register(app)``.

Command modules must stay light at import time: web3, eth-account and aiohttp are imported
inside the command functions, so ``mpc --help`` and ``mpc --version`` never load them.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence

import typer

from mpcwallet import __version__

# Each command module and the top-level commands it registers; the order is `mpc --help`'s.
# `mpc NAME ...` registers only NAME's module: Typer builds a parser for every registered command
# on each run, about 30 ms for all of them. Anything else (help, completion, an unknown name)
# registers all. tests/cli/test_frame.py checks this table against what the modules register.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "keygen": ("keygen",),
    "keys": ("keys",),
    "refresh": ("refresh",),
    "address": ("address",),
    "sign": ("sign",),
    "message": ("sign-message", "sign-typed-data"),
    "broadcast": ("broadcast", "send"),
    "balance": ("balance",),
    "watch": ("watch", "deposits"),
    "health": ("health",),
    "cosigner": ("cosigner",),
    "pair": ("pair",),
    "tx": ("tx",),
    "key": ("key",),
    "backup": ("backup",),
    "approver": ("approver",),
    "approve": ("approve",),
    "serve": ("serve",),
    "bench": ("bench",),
    "cluster": ("cluster",),
    "waas": ("waas",),
}
_COMPLETE_VAR = "_MPC_COMPLETE"  # set by the shell completion scripts Typer installs


def modules_for(args: Sequence[str]) -> tuple[str, ...]:
    """The command modules a run with ``args`` (``--json`` already taken out) needs: the one
    registering its command, or all. The root takes only flags, so the command is the first
    argument that is not an option."""
    name = next((a for a in args if not a.startswith("-")), None)
    if name is not None and _COMPLETE_VAR not in os.environ:
        for module, commands in COMMAND_MODULES.items():
            if name in commands:
                return (module,)
    return tuple(COMMAND_MODULES)


def _version(value: bool) -> None:
    if value:
        from mpcwallet.cli.output import out

        out().success({"version": __version__}, f"mpc {__version__}")
        raise typer.Exit(0)


def build_app(modules: Sequence[str] | None = None) -> typer.Typer:
    """The app with the commands of ``modules`` (default: all; see :func:`modules_for`)."""
    app = typer.Typer(
        name="mpc",
        help="2-of-2 threshold-ECDSA wallet for Ethereum and EVM chains.",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        pretty_exceptions_show_locals=False,
        rich_markup_mode=None,
    )

    @app.callback()
    def _root(
        json_: bool = typer.Option(
            False, "--json", help="Print one JSON object on stdout (anywhere on the line)."
        ),
        version: bool = typer.Option(
            False, "--version", callback=_version, is_eager=True, help="Show the version."
        ),
    ) -> None:
        """2-of-2 threshold-ECDSA wallet: `mpc` holds one key share, a local co-signer the other.

        State lives in MPC_HOME (default ~/.mpcwallet).
        """

    for name in COMMAND_MODULES if modules is None else modules:
        module = importlib.import_module(f"mpcwallet.cli.{name}")
        module.register(app)
    _full_summaries(app)
    return app


def _full_summaries(app: typer.Typer) -> None:
    """Command lists show each summary whole (wrapped), not cut at click's width-based limit."""
    for command in app.registered_commands:
        doc = command.help or (command.callback.__doc__ if command.callback else None)
        if command.short_help is None and doc:
            command.short_help = _summary(doc)
    for group in app.registered_groups:
        sub = group.typer_instance
        if sub is not None:
            text = getattr(sub.info.help, "value", sub.info.help)
            if isinstance(text, str) and not isinstance(sub.info.short_help, str):
                sub.info.short_help = _summary(text)
            _full_summaries(sub)


def _summary(doc: str) -> str:
    """A docstring's first paragraph as one line: its indentation is not a run of spaces."""
    return " ".join(doc.strip().split("\n\n")[0].split())
