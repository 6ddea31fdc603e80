"""`mpc cosigner audit verify | show [--since] [--key]`."""

from __future__ import annotations

from typing import Annotated

import typer


def _anchor_line(head: dict[str, object] | None) -> str:
    if head is None:
        return "head: none (an empty trail)"
    return (
        f"head: record {head['seq']} {head['hash']} (keep it elsewhere; "
        "`mpc cosigner audit verify --expect-head HASH` checks the trail still holds it)"
    )


def register(cosigner: typer.Typer) -> None:
    group = typer.Typer(
        name="audit", help="The co-signer's hash-chained audit trail.", no_args_is_help=True
    )

    @group.command("verify")
    def verify(
        expect_head: Annotated[
            str | None,
            typer.Option(
                "--expect-head",
                help="A head hash printed earlier (kept elsewhere): it must still be in the trail.",
            ),
        ] = None,
    ) -> None:
        """Check the hash chain, the anchor and the session records (exit 4 if broken)."""
        from mpcwallet.cli.output import out
        from mpcwallet.config import cosigner_dir
        from mpcwallet.cosigner.audit_check import verify_all

        data = verify_all(cosigner_dir(), expect_head)
        anchored = f"; holds the expected head (record {data['anchor_seq']})" if expect_head else ""
        out().success(
            data,
            f"audit trail intact: {data['records']} records, {data['sessions_checked']} sessions "
            f"cross-checked with guard.db{anchored}\n{_anchor_line(data['head'])}",
        )

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
        from mpcwallet.cosigner.audit_check import head_of

        trail = AuditTrail(cosigner_dir())
        head = head_of(trail)
        records = trail.records()
        if since is not None:
            records = [r for r in records if str(r.get("ts", "")) >= since]
        if key is not None:
            records = [r for r in records if r.get("key_id") == key]
        lines = [
            f"{r.get('seq'):>5} {r.get('ts')} {r.get('event'):22} {r.get('msg')}"
            + (f" key={r['key_id']}" if r.get("key_id") else "")
            for r in records
        ]
        human = "\n".join([*lines, _anchor_line(head)]) if lines else "no records"
        out().success({"records": records, "head": head}, human)

    cosigner.add_typer(group)
