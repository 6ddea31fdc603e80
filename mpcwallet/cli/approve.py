"""`mpc approve --tx tx.json`: a signing permit for exactly that transaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mpcwallet.cli import options
from mpcwallet.errors import BadInput, FileFormatError


def read_permits(paths: list[Path]) -> list[dict[str, Any]]:
    """The permit objects in the given files (the co-signer verifies them)."""
    from mpcwallet.jsonio import load_file

    out = []
    for path in paths:
        doc = load_file(path, what="permit file", max_bytes=16 * 1024, field="permit")
        if not isinstance(doc, dict):
            raise FileFormatError(f"{path}: not a JSON permit", field="permit")
        out.append(doc)
    return out


def register(app: typer.Typer) -> None:
    @app.command("approve")
    def approve(
        tx: Annotated[Path, typer.Option("--tx", help="The complete unsigned transaction.")],
        approver: Annotated[Path, typer.Option("--approver", help="Approver key file.")],
        share: options.Share = None,
        key_id: Annotated[
            str | None, typer.Option("--key-id", help="Key id (else read from --share's header).")
        ] = None,
        account: Annotated[int, typer.Option("--account", help="Account index.")] = 0,
        ttl: Annotated[
            int, typer.Option("--ttl", help="Seconds the permit is valid (max 600).")
        ] = 60,
        out_file: Annotated[
            Path | None, typer.Option("--out", help="Write the permit here.")
        ] = None,
        force: options.ForceOut = False,
        passphrase_file: Annotated[
            Path | None,
            typer.Option(
                "--passphrase-file", help="Approver passphrase file (else MPC_APPROVER_PASSPHRASE)."
            ),
        ] = None,
    ) -> None:
        """Approve one transaction: a one-time, short-lived permit for `mpc sign --permit`."""
        from mpcwallet.cli.output import out
        from mpcwallet.cli.passphrase import get_passphrase
        from mpcwallet.cli.sign import share_path
        from mpcwallet.cosigner.approvers import load_key_file
        from mpcwallet.cosigner.paths import check_key_id
        from mpcwallet.cosigner.permits import make_permit
        from mpcwallet.evm.txjson import load_tx, missing_fields, signing_digest

        if key_id is None:
            from mpcwallet.storage.store import load_header

            key_id = load_header(share_path(share)).get("key_id")
        key_id = check_key_id(key_id)
        if account < 0:
            raise BadInput("--account must be 0 or more", field="account")
        unsigned = load_tx(tx)
        missing = missing_fields(unsigned)
        if missing:
            raise BadInput(
                f"{tx}: missing {', '.join(missing)}; a permit approves one exact transaction, "
                "so give every field (the co-signer recomputes its digest)",
                field=missing[0],
            )
        passphrase = get_passphrase("approver", passphrase_file=passphrase_file, confirm=False)
        header, seed = load_key_file(approver, passphrase)
        permit = make_permit(
            seed,
            key_id=key_id,
            account=account,
            kind="tx",
            digest=signing_digest(unsigned),
            chain_id=unsigned.chain_id,
            ttl_s=ttl,
        )
        if out_file is not None:
            from mpcwallet.storage.files import write_atomic

            write_atomic(out_file, (json.dumps(permit, indent=2) + "\n").encode(), force=force)
        out().success(
            permit,
            f"permit {permit['id']} by {header.get('name')} for digest 0x{permit['digest']}, "
            f"valid {ttl} s"
            + (f"; written to {out_file}" if out_file else f"\n{json.dumps(permit)}"),
        )
