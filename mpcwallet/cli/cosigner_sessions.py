"""`mpc cosigner sessions [--key] [--limit]`: the co-signer's signing session records."""

from __future__ import annotations

import time
from typing import Annotated

import typer


def _ts(value: object) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value))


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
        from mpcwallet.cosigner.paths import CosignerPaths

        paths = CosignerPaths(cosigner_dir())
        rows = (
            Ledger(paths.guard_db).sessions(key_id=key, limit=limit)
            if paths.guard_db.exists()
            else []
        )
        lines = [
            f"{r['session'][:16]} {r['op']:15} {r['status']:11} {_ts(r['started'])} "
            f"key={r['key_id']} account={r['account']} code={r['code'] or '-'}"
            for r in rows
        ]
        out().success({"sessions": rows}, "\n".join(lines) or "no sessions")
