"""`mpc cosigner audit verify | show [--since] [--key]`."""

from __future__ import annotations

from typing import Annotated

import typer


def register(cosigner: typer.Typer) -> None:
    group = typer.Typer(
        name="audit", help="The co-signer's hash-chained audit trail.", no_args_is_help=True
    )

    @group.command("verify")
    def verify() -> None:
        """Check the hash chain; names the first bad record (exit 4 if broken)."""
        from mpcwallet.cli.output import out
        from mpcwallet.config import cosigner_dir
        from mpcwallet.cosigner.audit import AuditTrail
        from mpcwallet.cosigner.audit import verify as run
        from mpcwallet.errors import AuditTampered

        verdict = run(AuditTrail(cosigner_dir()))
        if not verdict.ok:
            where = f"record {verdict.bad_line}" if verdict.bad_line else "the trail"
            raise AuditTampered(f"audit trail broken at {where}: {verdict.reason}", field="audit")
        out().success(verdict.to_dict(), f"audit trail intact: {verdict.records} records")

    @group.command("show")
    def show(
        since: Annotated[
            str | None,
            typer.Option(
                "--since", help="Only records at or after this UTC time (2026-11-22T18:00)."
            ),
        ] = None,
        key: Annotated[
            str | None, typer.Option("--key", help="Only records of this key id.")
        ] = None,
    ) -> None:
        """List audit records."""
        from mpcwallet.cli.output import out
        from mpcwallet.config import cosigner_dir
        from mpcwallet.cosigner.audit import AuditTrail

        records = AuditTrail(cosigner_dir()).records()
        if since is not None:
            records = [r for r in records if str(r.get("ts", "")) >= since]
        if key is not None:
            records = [r for r in records if r.get("key_id") == key]
        lines = [
            f"{r.get('seq'):>5} {r.get('ts')} {r.get('event'):22} {r.get('msg')}"
            + (f" key={r['key_id']}" if r.get("key_id") else "")
            for r in records
        ]
        out().success({"records": records}, "\n".join(lines) or "no records")

    cosigner.add_typer(group)
