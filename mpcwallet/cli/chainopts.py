"""Options of the commands that follow transactions on chain (send, broadcast, tx status, watch)."""

from __future__ import annotations

from typing import Annotated

import typer

from mpcwallet.cli.options import checked

Confirmations = Annotated[
    int | None,
    typer.Option(
        "--confirmations",
        help="Blocks until CONFIRMED (default: the chain's rule in MPC_HOME/chains.toml, else 1).",
        callback=checked("--confirmations"),
    ),
]
Finalized = Annotated[
    bool,
    typer.Option(
        "--finalized",
        help="Wait until FINALIZED (the node's finalized block, else a depth), not CONFIRMED.",
    ),
]


def until(finalized: bool) -> str:
    return "FINALIZED" if finalized else "CONFIRMED"
