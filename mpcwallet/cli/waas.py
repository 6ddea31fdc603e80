"""`mpc waas ...`: the WaaS API (issue 23) against the demo cluster of a directory. Parses and
prints only; the service is :mod:`mpcwallet.waas`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

_Dir = Annotated[Path, typer.Option("--dir", help="The cluster directory (mpc cluster up).")]
_Store = Annotated[
    str | None,
    typer.Option("--store", help="postgresql:// URL (default: the directory's store.sqlite)."),
]
_DEFAULT = Path("mpc-cluster")


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="waas",
        no_args_is_help=True,
        help="The WaaS REST API: wallets, transaction requests, approvals.",
    )

    @group.command("serve")
    def serve(
        directory: _Dir = _DEFAULT,
        store: _Store = None,
        port: Annotated[int, typer.Option("--port", help="TCP port on 127.0.0.1 (0: any).")] = 0,
        policy: Annotated[
            Path | None, typer.Option("--policy", help="Policy TOML (the co-signer's language).")
        ] = None,
        kyt_deny: Annotated[
            Path | None, typer.Option("--kyt-deny", help="KYT deny list: one address a line.")
        ] = None,
        dev: Annotated[
            bool, typer.Option("--dev", help="Dev mode: allows DEV_SIGNER wallets.")
        ] = False,
        local_cluster: Annotated[
            bool,
            typer.Option(
                "--local-cluster",
                help="Sign in this process (cb-mpc, 3 in-memory "
                "nodes) instead of the directory's running cluster.",
            ),
        ] = False,
        rpc_url: Annotated[
            str | None,
            typer.Option(
                "--rpc-url",
                help="JSON-RPC node: signed transactions are broadcast "
                "and followed to FINALIZED, and deposits to every wallet are recorded "
                "(default: kept signed, not sent; no deposit listener).",
            ),
        ] = None,
        deposit_window: Annotated[
            int,
            typer.Option(
                "--deposit-window", min=1, help="Most blocks the deposit listener reads a poll."
            ),
        ] = 100,
    ) -> None:
        """Serve the WaaS API on 127.0.0.1 until Ctrl-C (writes DIR/waas.json with its URL)."""
        from mpcwallet.waas.server import build_service
        from mpcwallet.waas.server import serve as run

        svc = build_service(
            directory,
            store=store,
            policy=policy,
            kyt_deny=kyt_deny,
            dev=dev,
            local_cluster=local_cluster,
            rpc_url=rpc_url,
        )
        run(svc, directory, port, deposit_window=deposit_window)

    @group.command("principal-add")
    def principal_add(
        tenant: Annotated[str, typer.Option("--tenant")],
        name: Annotated[str, typer.Option("--name")],
        role: Annotated[str, typer.Option("--role", help="requester, approver or admin")],
        approver_key: Annotated[
            str | None, typer.Option("--approver-key", help="Ed25519 public key (approvers)")
        ] = None,
        directory: _Dir = _DEFAULT,
        store: _Store = None,
    ) -> None:
        """Register a principal; prints its API key once (the store keeps only a hash)."""
        from mpcwallet.cli.output import out
        from mpcwallet.store import Store
        from mpcwallet.waas.service import add_principal

        with Store.open(store or str(directory / "store.sqlite")) as db:
            principal, key = add_principal(db, tenant, name, role, approver_key)
        out().success(
            {
                "principal_id": principal.principal_id,
                "tenant": tenant,
                "name": name,
                "role": role,
                "api_key": key,
            },
            f"principal {name} ({role}, tenant {tenant}): API key {key}\n"
            "(shown once; keep it secret)",
        )

    app.add_typer(group)
