"""`mpc health`: is the co-signer up, authenticated and on our engine; does it hold our key.

Without --share: /healthz answers, a pairing-token session succeeds, engines match.
With --share: also the co-signer holds that key (asked over the pairing session: no
passphrase needed). With --verify-key-secret it also opens a session authenticated with the
key's own secret, which needs the share passphrase.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("health")
    def health(
        share: Annotated[Path | None, typer.Option("--share", help="Also check this key.")] = None,
        key: Annotated[
            str | None, typer.Option("--key", help="Also check the key with this name.")
        ] = None,
        verify_key_secret: Annotated[
            bool,
            typer.Option(
                "--verify-key-secret",
                help="With --share: authenticate with the key's secret (asks the passphrase).",
            ),
        ] = False,
        passphrase_file: Annotated[
            Path | None,
            typer.Option(
                "--passphrase-file", help="Share passphrase file (for --verify-key-secret)."
            ),
        ] = None,
    ) -> None:
        """Check the co-signer: healthz, authenticated handshake, engine, and (--share) key."""
        from mpcwallet.cli.output import out
        from mpcwallet.errors import BadInput
        from mpcwallet.session.client import health as check
        from mpcwallet.session.client import resolve_endpoint

        key_id = None
        engine = None
        secret = None
        quarantine = None
        if key is not None:
            from mpcwallet.lifecycle.names import resolve_share

            share = resolve_share(share, key)
        if share is not None:
            from mpcwallet.lifecycle.quarantine import read_quarantine
            from mpcwallet.wallet.shares import share_summary

            summary = share_summary(share)
            key_id = str(summary["key_id"])
            engine = str(summary["engine"])
            quarantine = read_quarantine(share, key_id)
            if verify_key_secret:
                from mpcwallet.cli.passphrase import get_passphrase
                from mpcwallet.storage.store import load_share

                passphrase = get_passphrase("share", passphrase_file=passphrase_file, confirm=False)
                _, body = load_share(share, passphrase)
                del passphrase
                secret = body.auth_secret
        elif verify_key_secret:
            raise BadInput("--verify-key-secret needs --share", field="share")
        else:
            from mpcwallet.session.client import engine_for_home

            engine = engine_for_home()
        result = check(resolve_endpoint(), key_id=key_id, auth_secret=secret, engine_name=engine)
        if share is not None:
            result["quarantined"] = quarantine is not None
        if quarantine is not None:
            from mpcwallet.errors import KeyQuarantined

            raise KeyQuarantined(
                f"the co-signer is healthy, but key {key_id} ({share}) is quarantined since "
                f"{quarantine.get('quarantined_at', '?')} ({quarantine.get('error_code', '?')}); "
                "see `mpc key status`",
                field="share",
            )
        checks = ", ".join(f"{k} ok" for k in result["checks"])
        from mpcwallet.cli.engine_note import engine_facts, tell

        out().success(
            {**result, **engine_facts(result.get("engine"))},
            f"co-signer healthy at {result['endpoint']} (engine {result['engine']}, "
            f"{result['keys']} keys): {checks}",
        )
        tell(result.get("engine"))
