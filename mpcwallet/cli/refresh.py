"""`mpc refresh [--key NAME]`: new shares on both sides, same key and address.

The flow and its crash safety live in :mod:`mpcwallet.lifecycle.refresh`.
"""

from __future__ import annotations

import typer

from mpcwallet.cli import options


def register(app: typer.Typer) -> None:
    @app.command("refresh")
    def refresh(
        key: options.Key = None,
        share: options.Share = None,
        passphrase_file: options.SharePassphraseFile = None,
    ) -> None:
        """Re-randomise both key shares with the co-signer; the address stays the same.

        Run it after a client device may have been exposed: the old shares stop working with
        the co-signer. The new pair signs a fixed self-test digest before the old share is
        replaced. An interrupted refresh is settled by the next refresh, sign or `mpc keys`.
        """
        from mpcwallet.cli.output import out
        from mpcwallet.cli.passphrase import get_passphrase
        from mpcwallet.lifecycle.names import resolve_share
        from mpcwallet.lifecycle.quarantine import ensure_not_quarantined
        from mpcwallet.lifecycle.refresh import Settled
        from mpcwallet.lifecycle.refresh import refresh as run
        from mpcwallet.session.client import resolve_endpoint

        path = resolve_share(share, key)
        ensure_not_quarantined(path)
        passphrase = get_passphrase("share", passphrase_file=passphrase_file, confirm=False)
        notes: list[str] = []

        def on_settled(settled: Settled) -> None:
            notes.append(settled.message)
            out().warn(settled.message)

        data = run(path, resolve_endpoint(), passphrase, on_settled=on_settled)
        del passphrase
        if notes:
            data["settled"] = notes
        out().success(
            data,
            f"refreshed {path}: generation {data['previous_generation']} -> "
            f"{data['generation']}, address {data['address']} unchanged, self-test passed.\n"
            "Old shares and backups of this key are now stale: make a new backup "
            f"(mpc backup export --share {path} --out ...).",
        )
