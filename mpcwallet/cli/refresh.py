"""`mpc refresh [--key NAME]`: new shares on both sides, same key and address.

The use case is :func:`mpcwallet.wallet.refresh.refresh`; the flow and its crash safety live
in :mod:`mpcwallet.lifecycle.refresh`.
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
        from mpcwallet.cli.frontend import CliUi, keyring
        from mpcwallet.cli.home import resolve_share
        from mpcwallet.cli.output import out
        from mpcwallet.wallet.refresh import refresh as run

        path = resolve_share(share, key)
        data = run(path, keys=keyring(passphrase_file), ui=CliUi())
        out().success(
            data,
            f"refreshed {path}: generation {data['previous_generation']} -> "
            f"{data['generation']}, address {data['address']} unchanged, self-test passed.\n"
            "Old shares and backups of this key are now stale: make a new backup "
            f"(mpc backup export --share {path} --out ...).",
        )
