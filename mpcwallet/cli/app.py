"""The Typer app. One module per command group; each exposes ``register(app)``.

Command modules must stay light at import time: web3, eth-account and aiohttp are imported
inside the command functions, so ``mpc --help`` and ``mpc --version`` never load them.
"""

from __future__ import annotations

import importlib

import typer

from mpcwallet import __version__

# Order here is the order in `mpc --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "keygen",
    "keys",
    "refresh",
    "address",
    "sign",
    "message",
    "broadcast",
    "health",
    "cosigner",
    "pair",
    "tx",
    "key",
    "backup",
    "approver",
    "approve",
    "bench",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mpc {__version__}")
        raise typer.Exit(0)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="mpc",
        help="2-of-2 threshold-ECDSA wallet for Ethereum and EVM chains.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        pretty_exceptions_show_locals=False,
        rich_markup_mode="rich",
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

    for name in COMMAND_MODULES:
        module = importlib.import_module(f"mpcwallet.cli.{name}")
        module.register(app)
    return app
