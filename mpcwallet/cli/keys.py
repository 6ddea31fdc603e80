"""`mpc keys`: every key in MPC_HOME/shares with its state (and settles interrupted refreshes)."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from mpcwallet.cli import options

COLUMNS = ("name", "address", "engine", "gen", "co-signer", "state")
ADDRESS_WIDTH = 42  # "0x" and 40 hex digits: never cut, never wrapped


def _state(row: dict[str, Any]) -> str:
    if row.get("quarantined"):
        return "QUARANTINED"
    if row.get("stale"):
        return "STALE"
    if row.get("refresh_pending"):
        return "refresh pending"
    if "error" in row:
        return f"error: {row['error']}"
    return "ok"


def _cells(row: dict[str, Any]) -> list[str]:
    return [
        str(row.get("name")),
        str(row.get("address", "?")),
        str(row.get("engine", "?")),
        str(row.get("generation", "?")),
        str(row.get("cosigner", "?")),
        _state(row),
    ]


def _table(rows: list[dict[str, Any]], cbmpc_line: str) -> Any:
    """At a terminal a table whose address column is never cut or wrapped (the other columns
    fold first); piped, plain tab-separated lines, one key a line, nothing cut (the cb-mpc
    status line then goes to stderr, a diagnostic)."""

    def draw(console: Console) -> None:
        from rich.table import Table

        if not rows:
            from mpcwallet.wallet.shares import no_key_hint

            console.print(no_key_hint(), markup=False)
            console.print(cbmpc_line, markup=False, soft_wrap=True)
            return
        if not console.is_terminal:
            # as written: rich would expand the tabs to spaces
            console.file.write("".join("\t".join(c) + "\n" for c in [COLUMNS, *map(_cells, rows)]))
            console.file.flush()
            from mpcwallet.cli.output import out

            out().info(cbmpc_line)
            return
        table = Table(box=None, pad_edge=False)
        for col in COLUMNS:
            if col == "address":
                table.add_column(col, no_wrap=True, min_width=ADDRESS_WIDTH)
            else:
                table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*_cells(row))
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
        from mpcwallet.cli.home import tell_home
        from mpcwallet.cli.output import out
        from mpcwallet.cli.passphrase import read_passphrase_file
        from mpcwallet.wallet.keys import list_keys

        tell_home()
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
