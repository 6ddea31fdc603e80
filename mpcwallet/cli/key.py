"""`mpc key status|unquarantine|retire|remember|forget`: a key's quarantine state, retiring a
key, and keeping its share passphrase in the OS keyring (:mod:`mpcwallet.wallet.os_keyring`).

What each computes is in :mod:`mpcwallet.wallet.keys`; this module parses, confirms and prints.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from mpcwallet.cli import options
from mpcwallet.errors import BadInput
from mpcwallet.lifecycle.quarantine import (  # noqa: F401 - re-exported for older callers
    QUARANTINE_SUFFIX,
    ensure_not_quarantined,
    quarantine_path,
    read_quarantine,
    record_quarantine,
)


def register(app: typer.Typer) -> None:
    key_app = typer.Typer(
        name="key",
        help="Key state: quarantine after a protocol violation; retiring a key; its passphrase "
        "in the OS keyring.",
        no_args_is_help=True,
    )
    app.add_typer(key_app)

    @key_app.command("status")
    def status(share: options.Share = None, key: options.Key = None) -> None:
        """Whether signing with a key is allowed; exits 7 (key_quarantined) when it is not."""
        from mpcwallet.cli.home import resolve_share
        from mpcwallet.cli.output import out
        from mpcwallet.wallet.keys import key_status

        path = resolve_share(share, key)
        data = key_status(path)
        out().success(data, f"[green]ok[/green]: signing with {path} is allowed")

    @key_app.command("unquarantine")
    def unquarantine(
        share: options.Share = None,
        key: options.Key = None,
        yes: Annotated[
            bool,
            typer.Option(
                "--yes-i-understand",
                help="Confirm that you checked the co-signer and accept the risk of signing again.",
            ),
        ] = False,
    ) -> None:
        """Allow signing again with a quarantined key (after you checked the co-signer)."""
        from mpcwallet.cli.home import resolve_share
        from mpcwallet.cli.output import out
        from mpcwallet.wallet.keys import quarantine_record
        from mpcwallet.wallet.keys import unquarantine as lift

        path = resolve_share(share, key)
        if quarantine_record(path) is None:
            out().success(
                {"share": str(path), "quarantined": False, "lifted": False},
                f"{path} is not quarantined; nothing to do",
            )
            return
        if not yes:
            if not sys.stdin.isatty():
                raise BadInput(
                    "unquarantine needs an explicit confirmation: pass --yes-i-understand "
                    "(after checking the co-signer)",
                    field="yes_i_understand",
                )
            out().warn(
                "a protocol violation happened while signing with this key; a co-signer that "
                "fails on purpose can learn bits of your share from repeated attempts."
            )
            typed = typer.prompt("Type 'unquarantine' to allow signing with this key again")
            if typed.strip() != "unquarantine":
                raise BadInput("confirmation not given; the key stays quarantined", field="yes")
        data = lift(path)
        out().success(
            data,
            f"quarantine lifted: signing with {path} is allowed again"
            if data["lifted"]
            else f"{path} is not quarantined; nothing to do",
        )

    @key_app.command("retire")
    def retire(
        name: Annotated[str, typer.Argument(help="The key's name (see `mpc keys`).")],
    ) -> None:
        """Move a key's share to MPC_HOME/retired/ (never deleted); prints the address it held.

        The retired share still signs (`mpc sign --share PATH`), so funds can be moved out.
        """
        from mpcwallet.cli.home import resolve_share
        from mpcwallet.cli.output import out
        from mpcwallet.wallet.keys import retire as run

        data = run(resolve_share(None, name))
        out().success(
            data,
            f"retired key {name} (address {data['address']}); its share is kept at "
            f"{data['retired_to']}.\nMove any funds left at {data['address']} with "
            f"`mpc send --share {data['retired_to']} ...`.",
        )

    @key_app.command("remember")
    def remember(
        share: options.Share = None,
        key: options.Key = None,
        passphrase_file: options.SharePassphraseFile = None,
    ) -> None:
        """Keep this key's share passphrase in the OS keyring (opt-in, per key); commands then
        take it from there instead of asking. Says which keyring backend holds it."""
        from mpcwallet.cli.frontend import keyring
        from mpcwallet.cli.home import resolve_share
        from mpcwallet.cli.output import out
        from mpcwallet.wallet.os_keyring import backend
        from mpcwallet.wallet.os_keyring import remember as run

        path = resolve_share(share, key)
        backend()  # no backend: say so before a passphrase is typed
        passphrase = keyring(passphrase_file, os_keyring=False).passphrase(path, verify=True)
        data = run(path, passphrase)
        del passphrase
        out().success(
            data,
            f"remembered the passphrase of {path} (key {data['key_id']}) in the OS keyring "
            f"(backend {data['backend']}); `mpc key forget` removes it",
        )

    @key_app.command("forget")
    def forget(share: options.Share = None, key: options.Key = None) -> None:
        """Remove this key's share passphrase from the OS keyring."""
        from mpcwallet.cli.home import resolve_share
        from mpcwallet.cli.output import out
        from mpcwallet.wallet.os_keyring import forget as run

        path = resolve_share(share, key)
        data = run(path)
        out().success(
            data,
            f"forgot the passphrase of {path} (key {data['key_id']}) in the OS keyring "
            f"(backend {data['backend']})",
        )
