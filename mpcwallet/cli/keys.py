"""`mpc keys`: every key in MPC_HOME/shares with its state (and settles interrupted refreshes)."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from mpcwallet.cli import options


def _table(rows: list[dict[str, Any]], cbmpc_line: str) -> Any:
    def draw(console: Console) -> None:
        from rich.table import Table

        if not rows:
            console.print("no keys yet; create one with `mpc keygen`")
            console.print(cbmpc_line, markup=False, soft_wrap=True)
            return
        table = Table(box=None, pad_edge=False)
        for col in ("name", "address", "engine", "gen", "co-signer", "state"):
            table.add_column(col)
        for row in rows:
            state = "ok"
            if row.get("quarantined"):
                state = "QUARANTINED"
            elif row.get("stale"):
                state = "STALE"
            elif row.get("refresh_pending"):
                state = "refresh pending"
            elif "error" in row:
                state = f"error: {row['error']}"
            table.add_row(
                str(row.get("name")),
                str(row.get("address", "?")),
                str(row.get("engine", "?")),
                str(row.get("generation", "?")),
                str(row.get("cosigner", "?")),
                state,
            )
        console.print(table)
        console.print(cbmpc_line, markup=False, soft_wrap=True)

    return draw


def register(app: typer.Typer) -> None:
    @app.command("keys")
    def keys(passphrase_file: options.SharePassphraseFile = None) -> None:
        """List keys: name, address, engine, generation, co-signer state, quarantine; cb-mpc status.

        An interrupted refresh is settled on the way (with the share passphrase from
        MPC_PASSPHRASE or --passphrase-file when the new share must prove itself).
        """
        import os

        from mpcwallet.cli.frontend import CliUi
        from mpcwallet.cli.output import out
        from mpcwallet.cli.passphrase import read_passphrase_file
        from mpcwallet.wallet.keys import list_keys

        passphrase = None
        if passphrase_file is not None:
            passphrase = read_passphrase_file(passphrase_file)
        elif os.environ.get("MPC_PASSPHRASE"):
            passphrase = os.environ["MPC_PASSPHRASE"]
        rows = list_keys(passphrase=passphrase, ui=CliUi())
        from mpcwallet.cli.engine_note import cbmpc_status, tell

        cbmpc = cbmpc_status()
        out().success({"keys": rows, "cbmpc": cbmpc}, _table(rows, cbmpc["line"]))

        if any(row.get("engine") == "portable" for row in rows):
            tell("portable")  # honest status: which engine, and what portable means
