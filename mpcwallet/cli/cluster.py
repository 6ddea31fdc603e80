"""`mpc cluster ...`: a t-of-n signer cluster (issue 22). Parses and prints only; the work is
in :mod:`mpcwallet.wallet.cluster_demo` (processes, demo permits), the coordinator
(:mod:`mpcwallet.cluster`) and the daemon's node role (:mod:`mpcwallet.cosigner.node_role`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

_Dir = Annotated[Path, typer.Option("--dir", help="The cluster directory (cluster.json, nodes).")]
_DEFAULT = Path("mpc-cluster")


def _show(data: dict[str, Any], text: str) -> None:
    from mpcwallet.cli.output import out

    out().success(data, text)


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="cluster",
        no_args_is_help=True,
        help="A t-of-n signer cluster: nodes, coordinator, keysets, signatures.",
    )

    @group.command("init")
    def init(
        directory: _Dir = _DEFAULT,
        t: int = 2,
        n: int = 3,
        cluster_id: Annotated[str, typer.Option("--cluster-id")] = "demo",
    ) -> None:
        """Create a cluster on this machine: node homes and keys, cluster.json, a permit key."""
        from mpcwallet.wallet.cluster_demo import init_demo

        path = init_demo(directory, t=t, n=n, cluster_id=cluster_id)
        _show({"config": str(path)}, f"cluster configuration written to {path}")

    @group.command("up")
    def up(
        directory: _Dir = _DEFAULT,
        store: Annotated[str | None, typer.Option("--store", help="postgresql:// URL")] = None,
    ) -> None:
        """Start a 2-of-3 demo cluster (init if needed): three nodes and a coordinator."""
        from mpcwallet.wallet.cluster_demo import up as start

        res = start(directory, store=store)
        nodes = ", ".join(f"{n['node']} {n['url']}" for n in res["nodes"])
        _show(res, f"cluster up: coordinator {res['coordinator']}; nodes {nodes}")

    @group.command("down")
    def down(directory: _Dir = _DEFAULT) -> None:
        """Stop the coordinator and every node of the cluster directory."""
        from mpcwallet.wallet.cluster_demo import down as stop

        res = stop(directory)
        _show(
            res,
            f"stopped nodes: {', '.join(res['nodes']) or 'none'}; coordinator: "
            f"{'stopped' if res['coordinator'] else 'not running'}",
        )

    @group.command("start-node")
    def start_node(name: str, directory: _Dir = _DEFAULT) -> None:
        """Start one node (its daemon, node role) of the cluster directory."""
        from mpcwallet.wallet.cluster_demo import start_nodes

        res = start_nodes(directory, [name])
        _show({"nodes": res}, f"started {name}")

    @group.command("stop-node")
    def stop_node(name: str, directory: _Dir = _DEFAULT) -> None:
        """Stop one node."""
        from mpcwallet.wallet.cluster_demo import stop_nodes

        _show({"stopped": stop_nodes(directory, [name])}, f"stopped {name}")

    @group.command("pin")
    def pin(
        name: str,
        url: str,
        static_key: str,
        fingerprint: str,
        directory: _Dir = _DEFAULT,
        zone: str = "zone-1",
    ) -> None:
        """Pin a node's static key in cluster.json (checked against the node's fingerprint)."""
        from mpcwallet.topology.config import pin_node

        cfg = pin_node(
            directory / "cluster.json", name, url, static_key, zone, fingerprint=fingerprint
        )
        _show({"nodes": list(cfg.party_names)}, f"pinned {name}")

    @group.command("serve")
    def serve(
        directory: _Dir = _DEFAULT,
        store: Annotated[str | None, typer.Option("--store")] = None,
        host: str = "127.0.0.1",
        port: int = 0,
        retry_bound: Annotated[float, typer.Option("--retry-bound")] = 30.0,
        state: Annotated[str, typer.Option("--state")] = "coordinator.json",
        allow_without_backups: Annotated[
            bool,
            typer.Option(
                "--allow-keys-without-backups",
                help="Report key sets ready without verified node backups (not recommended).",
            ),
        ] = False,
        key_file: Annotated[
            Path | None,
            typer.Option("--coordinator-key", help="Its static key (default DIR/coordinator.key)."),
        ] = None,
    ) -> None:
        """Run the coordinator in the foreground (JSON logs on stderr)."""
        from mpcwallet.cluster.server import serve as run

        run(
            directory / "cluster.json",
            store or str(directory / "store.sqlite"),
            host,
            port,
            directory / Path(state).name,
            retry_bound=retry_bound,
            allow_without_backups=allow_without_backups,
            key_file=key_file,
        )

    @group.command("status")
    def status(directory: _Dir = _DEFAULT) -> None:
        """Nodes (up, quarantined) and key sets, as the coordinator sees them."""
        from mpcwallet.wallet.cluster_demo import call

        res = call(directory, "GET", "/v1/status")
        lines = [f"  {n['node']}  {n['status']}" for n in res["nodes"]]
        lines += [f"  {k['keyset_id']}  {k['address']}  {k['status']}" for k in res["keysets"]]
        _show(res, f"cluster {res['cluster_id']} ({res['t']}-of-{res['n']})\n" + "\n".join(lines))

    @group.command("keygen")
    def keygen(
        directory: _Dir = _DEFAULT, wallet_id: str = "demo-wallet", tenant: str = "demo"
    ) -> None:
        """Create a key set (CreateKeyset) on every node; prints its address and key_ref."""
        from mpcwallet.wallet.cluster_demo import call

        res = call(directory, "POST", "/v1/keysets", {"wallet_id": wallet_id, "tenant": tenant})
        _show(res, f"key set {res['keyset_id']}: address {res['address']} ({res['key_ref']})")

    @group.command("sign")
    def sign(
        keyset_id: str,
        tx: Annotated[Path, typer.Option("--tx")],
        directory: _Dir = _DEFAULT,
        request_id: Annotated[str | None, typer.Option("--request-id")] = None,
    ) -> None:
        """Sign a complete tx.json through the cluster, with a permit from the demo permit key."""
        from mpcwallet import jsonio
        from mpcwallet.wallet.cluster_demo import call, demo_permit

        doc = jsonio.load_file(tx, what="tx.json", max_bytes=1024 * 1024)
        permit = demo_permit(directory, keyset_id, doc, request_id=request_id)
        res = call(
            directory,
            "POST",
            f"/v1/keysets/{keyset_id}/sign",
            {"tx": doc, "permit": permit, "request_id": request_id},
        )
        _show(res, f"signed by {', '.join(res['quorum'])}: {res['raw_tx']}")

    @group.command("refresh")
    def refresh(keyset_id: str, directory: _Dir = _DEFAULT) -> None:
        """Refresh every node's share of a key set (same address; old shares stop working)."""
        from mpcwallet.wallet.cluster_demo import call

        res = call(directory, "POST", f"/v1/keysets/{keyset_id}/refresh", {})
        _show(res, f"refreshed {keyset_id}; address {res['address']}")

    @group.command("clear")
    def clear(name: str, directory: _Dir = _DEFAULT) -> None:
        """Operator: lift a node's quarantine (in the store and on each node of the demo)."""
        from mpcwallet.wallet.cluster_demo import call, clear_node

        clear_node(directory, name)
        res = call(directory, "POST", f"/v1/nodes/{name}/clear", {})
        _show(res, f"{name} cleared ({res['status']})")

    from mpcwallet.cli.cluster_backup import register as register_backups

    register_backups(group)
    app.add_typer(group)
