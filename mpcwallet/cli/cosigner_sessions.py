"""`mpc cosigner sessions [--key] [--limit]`: the co-signer's signing session records."""

from __future__ import annotations

import time
from typing import Annotated

import typer


def _ts(value: object) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value))


def _line(r: dict[str, object]) -> str:
    """One session a line, ids whole; ``account`` only where the session has one (a keygen or
    refresh is for the key set, not an account)."""
    account = "" if r.get("account") is None else f" account={r['account']}"
    return (
        f"{r['session']} {r['op']:15} {r['status']:11} {_ts(r['started'])} "
        f"key={r['key_id']}{account} code={r['code'] or '-'}"
    )


def register(cosigner: typer.Typer) -> None:
    @cosigner.command("sessions")
    def sessions(
        key: Annotated[str | None, typer.Option("--key", help="Only this key id.")] = None,
        limit: Annotated[
            int, typer.Option("--limit", help="At most this many, newest first.")
        ] = 100,
    ) -> None:
        """Signing sessions: id, key, account, op, digest, status, start, end, error code."""
        from mpcwallet.cli.output import out
        from mpcwallet.config import cosigner_dir
        from mpcwallet.cosigner.ledger import Ledger
        from mpcwallet.homes.paths import CosignerPaths

        paths = CosignerPaths(cosigner_dir())
        rows = (
            Ledger(paths.guard_db).sessions(key_id=key, limit=limit)
            if paths.guard_db.exists()
            else []
        )
        out().success({"sessions": rows}, "\n".join(map(_line, rows)) or "no sessions")
