"""`mpc approve --tx tx.json`: a signing permit for exactly that transaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mpcwallet.cli import options
from mpcwallet.errors import BadInput


def _what(
    tx: Path | None,
    message: str | None,
    hex_message: str | None,
    typed_data: Path | None,
) -> tuple[str, bytes, int | None, str]:
    """``(kind, digest, chain id, description)`` of exactly one thing to approve, hashed as the
    co-signer will hash it."""
    given = [n for n, v in (("--tx", tx), ("--message", message), ("--hex", hex_message),
                            ("--typed-data", typed_data)) if v is not None]  # fmt: skip
    if len(given) != 1:
        raise BadInput(
            "give exactly one of --tx FILE, --message TEXT, --hex 0x.. or --typed-data FILE",
            field="tx",
        )
    if tx is not None:
        from mpcwallet.evm.txjson import load_tx, missing_fields, signing_digest

        unsigned = load_tx(tx)
        missing = missing_fields(unsigned)
        if missing:
            raise BadInput(
                f"{tx}: missing {', '.join(missing)}; a permit approves one exact transaction, "
                "so give every field (the co-signer recomputes its digest)",
                field=missing[0],
            )
        return "tx", signing_digest(unsigned), unsigned.chain_id, f"transaction {tx}"
    if typed_data is not None:
        from mpcwallet.cosigner.facts import typed_data_domain
        from mpcwallet.evm import eip712

        td = eip712.load(typed_data)
        domain = typed_data_domain(td.domain)
        return "typed_data", eip712.digest(td), domain.chain_id, f"typed data {typed_data}"
    from mpcwallet.evm.eip191 import message_digest

    raw = options.read_message(message, None, hex_message)
    return "message", message_digest(raw), None, f"a {len(raw)}-byte message"


def register(app: typer.Typer) -> None:
    @app.command("approve")
    def approve(
        approver: Annotated[Path, typer.Option("--approver", help="Approver key file.")],
        tx: Annotated[
            Path | None, typer.Option("--tx", help="A complete unsigned transaction.")
        ] = None,
        message: Annotated[
            str | None, typer.Option("--message", help="An EIP-191 message (UTF-8).")
        ] = None,
        hex_message: Annotated[
            str | None, typer.Option("--hex", help="An EIP-191 message as 0x-prefixed hex.")
        ] = None,
        typed_data: Annotated[
            Path | None, typer.Option("--typed-data", help="EIP-712 typed data (JSON).")
        ] = None,
        share: options.Share = None,
        key_id: Annotated[
            str | None, typer.Option("--key-id", help="Key id (else read from --share's header).")
        ] = None,
        account: options.Account = 0,
        ttl: Annotated[
            int, typer.Option("--ttl", help="Seconds the permit is valid (max 600).")
        ] = 60,
        out_file: Annotated[
            Path | None, typer.Option("--out", help="Write the permit here.")
        ] = None,
        force: options.ForceOut = False,
        passphrase_file: options.ApproverPassphraseFile = None,
    ) -> None:
        """Approve one request: a one-time, short-lived permit for `mpc sign --permit` (or
        `send`, `sign-message`, `sign-typed-data`)."""
        from mpcwallet.cli.home import find_share
        from mpcwallet.cli.output import out
        from mpcwallet.cli.passphrase import get_passphrase
        from mpcwallet.cosigner.approvers import load_key_file
        from mpcwallet.cosigner.permits import make_permit
        from mpcwallet.homes.paths import check_key_id

        if key_id is None:
            from mpcwallet.storage.store import load_header

            key_id = load_header(find_share(share)).get("key_id")
        key_id = check_key_id(key_id)
        kind, digest, chain_id, what = _what(tx, message, hex_message, typed_data)
        passphrase = get_passphrase("approver", passphrase_file=passphrase_file, confirm=False)
        header, seed = load_key_file(approver, passphrase)
        permit = make_permit(
            seed,
            key_id=key_id,
            account=account,
            kind=kind,
            digest=digest,
            chain_id=chain_id,
            ttl_s=ttl,
        )
        if out_file is not None:
            from mpcwallet.storage.files import write_atomic

            write_atomic(out_file, (json.dumps(permit, indent=2) + "\n").encode(), force=force)
        shown = f"; written to {out_file}" if out_file else f"\n{json.dumps(permit)}"
        out().success(
            permit,
            f"permit {permit['id']} by {header.get('name')} for {what} (digest "
            f"0x{permit['digest']}), valid {ttl} s{shown}",
        )
