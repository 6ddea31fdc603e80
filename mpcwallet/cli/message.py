"""`mpc sign-message` (EIP-191 personal_sign) and `mpc sign-typed-data` (EIP-712 v4).

Both send what is signed (the message, the typed-data document) to the co-signer, which
hashes it itself and refuses a digest other than its own; both print
``{signature (r||s||v, 65 bytes), r, s, v (27/28), hash, address, account}`` and write it to
``--out`` atomically when asked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mpcwallet.cli import options
from mpcwallet.errors import AlreadyExists, BadInput

if TYPE_CHECKING:
    from mpcwallet.storage.body import ShareBody

# runs the co-signer request: (endpoint, header, body, digest, account) -> DER
Request = Callable[[str, dict[str, Any], "ShareBody", bytes, int], bytes]


def sign_with_cosigner(
    *,
    share: Path | None,
    account: int,
    key: str | None = None,
    out_file: Path | None,
    force: bool,
    passphrase_file: Path | None,
    digest_of: Callable[[], bytes],
    request: Request,
) -> dict[str, Any]:
    """The steps every signed message shares: account key from the header, digest, share,
    two-party signature (a violation quarantines the key), 65-byte signature, --out."""
    from mpcwallet.accounts import account_key
    from mpcwallet.cli.passphrase import get_passphrase
    from mpcwallet.cli.sign import (
        _endpoint,
        check_account_key,
        quarantine_on_violation,
        share_path,
    )
    from mpcwallet.evm.signature import message_signature
    from mpcwallet.lifecycle.quarantine import ensure_not_quarantined
    from mpcwallet.storage.store import load_header, load_share

    path = share_path(share, key)
    ensure_not_quarantined(path)
    header = load_header(path)
    public_key, _ = account_key(header, path, account)
    if out_file is not None and not force and (out_file.exists() or out_file.is_symlink()):
        raise AlreadyExists(f"{out_file} already exists; pass --force to overwrite it", field="out")
    digest = digest_of()
    passphrase = get_passphrase("share", passphrase_file=passphrase_file, confirm=False)
    header, body = load_share(path, passphrase)
    del passphrase
    check_account_key(header, body, path, account, public_key)

    der = quarantine_on_violation(
        path, header, lambda: request(_endpoint(), header, body, digest, account)
    )
    data = {**message_signature(digest, der, public_key), "account": account}
    if out_file is not None:
        from mpcwallet.storage.files import write_atomic

        write_atomic(out_file, (json.dumps(data, indent=2) + "\n").encode(), force=force)
        data["out"] = str(out_file)
    return data


def read_message(text: str | None, file: Path | None, hex_text: str | None) -> bytes:
    """Exactly one of --message (UTF-8), --message-file (bytes as they are), --hex."""
    from mpcwallet.evm.eip191 import check_message, parse_hex_message

    given = [
        n for n, v in (("--message", text), ("--message-file", file), ("--hex", hex_text)) if v
    ]
    if len(given) != 1:
        raise BadInput(
            "give exactly one of --message TEXT, --message-file FILE or --hex 0x..",
            field="message",
        )
    if text is not None:
        return check_message(text.encode("utf-8"))
    if hex_text is not None:
        return check_message(parse_hex_message(hex_text))
    assert file is not None
    from mpcwallet.evm.eip191 import MAX_MESSAGE_BYTES
    from mpcwallet.jsonio import read_bounded

    return read_bounded(
        file, what="message file", max_bytes=MAX_MESSAGE_BYTES, error=BadInput, field="message_file"
    )


def _human(data: dict[str, Any]) -> str:
    lines = [
        f"[bold]signed[/bold] by {data['address']} (account {data['account']})",
        f"hash:      {data['hash']}",
        f"signature: {data['signature']}",
    ]
    if "out" in data:
        lines.append(f"written to {data['out']}")
    return "\n".join(lines)


OutFile = Annotated[
    Path | None, typer.Option("--out", help="Also write the signature JSON here (atomic).")
]


def register(app: typer.Typer) -> None:
    @app.command("sign-message")
    def sign_message(
        message: Annotated[
            str | None, typer.Option("--message", help="Text to sign (UTF-8).")
        ] = None,
        message_file: Annotated[
            Path | None, typer.Option("--message-file", help="Sign this file's bytes.")
        ] = None,
        hex_message: Annotated[
            str | None, typer.Option("--hex", help="Sign these bytes (0x-prefixed hex).")
        ] = None,
        share: options.Share = None,
        key: options.Key = None,
        account: options.Account = 0,
        out_file: OutFile = None,
        force: options.ForceOut = False,
        passphrase_file: options.SharePassphraseFile = None,
        permit: options.Permits = None,
    ) -> None:
        """Sign a message as personal_sign does (EIP-191 version 0x45)."""
        from mpcwallet.cli.approve import read_permits
        from mpcwallet.cli.output import out
        from mpcwallet.evm.eip191 import message_digest
        from mpcwallet.session.client import run_sign_message

        raw = read_message(message, message_file, hex_message)
        permits = read_permits(permit or [])

        def request(
            endpoint: str, header: dict[str, Any], body: ShareBody, digest: bytes, acct: int
        ) -> bytes:
            return run_sign_message(
                endpoint,
                share_header=header,
                body=body,
                message=raw,
                digest=digest,
                account=acct,
                permits=permits,
            )

        data = sign_with_cosigner(
            share=share,
            key=key,
            account=account,
            out_file=out_file,
            force=force,
            passphrase_file=passphrase_file,
            digest_of=lambda: message_digest(raw),
            request=request,
        )
        out().success(data, _human(data))

    @app.command("sign-typed-data")
    def sign_typed_data(
        data_file: Annotated[
            Path, typer.Option("--data", help="EIP-712 typed data (eth_signTypedData_v4 JSON).")
        ],
        chain_id: Annotated[
            int | None,
            typer.Option(
                "--chain-id", min=1, help="Refuse the document unless its domain has this chainId."
            ),
        ] = None,
        share: options.Share = None,
        key: options.Key = None,
        account: options.Account = 0,
        out_file: OutFile = None,
        force: options.ForceOut = False,
        passphrase_file: options.SharePassphraseFile = None,
        permit: options.Permits = None,
    ) -> None:
        """Sign EIP-712 typed data as eth_signTypedData_v4 does."""
        from mpcwallet.cli.approve import read_permits
        from mpcwallet.cli.output import out
        from mpcwallet.evm import eip712
        from mpcwallet.session.client import run_sign_typed_data

        td = eip712.load(data_file, expected_chain_id=chain_id)
        permits = read_permits(permit or [])

        def request(
            endpoint: str, header: dict[str, Any], body: ShareBody, digest: bytes, acct: int
        ) -> bytes:
            return run_sign_typed_data(
                endpoint,
                share_header=header,
                body=body,
                typed_data=td.document,
                digest=digest,
                chain_id=chain_id,
                account=acct,
                permits=permits,
            )

        data = sign_with_cosigner(
            share=share,
            key=key,
            account=account,
            out_file=out_file,
            force=force,
            passphrase_file=passphrase_file,
            digest_of=lambda: eip712.digest(td),
            request=request,
        )
        out().success(data, _human(data))
