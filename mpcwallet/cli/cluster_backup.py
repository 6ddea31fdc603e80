"""``mpc cluster recovery-key new`` and ``mpc cluster backup verify|restore`` (issue 25).
Parses, prompts and prints; the work is in :mod:`mpcwallet.wallet.cluster_recovery`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

_Dir = Annotated[Path, typer.Option("--dir", help="The cluster directory (cluster.json, nodes).")]
_DEFAULT = Path("mpc-cluster")
_Store = Annotated[
    str | None,
    typer.Option("--store", help="postgresql:// URL (else the directory's store.sqlite)"),
]


def _show(data: dict[str, Any], text: str) -> None:
    from mpcwallet.cli.output import out

    out().success(data, text)


def _passphrase(path: Path | None, *, confirm: bool) -> str:
    from mpcwallet.cli.passphrase import get_passphrase

    return get_passphrase("backup", passphrase_file=path, confirm=confirm)


def register(group: typer.Typer) -> None:
    rk = typer.Typer(
        name="recovery-key",
        no_args_is_help=True,
        help="Recovery keys that node backups are encrypted to (PVE base keys).",
    )
    backup = typer.Typer(
        name="backup", no_args_is_help=True, help="Verifiable (PVE) backups of the nodes' shares."
    )

    @rk.command("new")
    def new(
        name: Annotated[str, typer.Option("--name", help="The recovery key's name.")],
        out_path: Annotated[Path, typer.Option("--out", help="Private half (0600, encrypted).")],
        kind: Annotated[str, typer.Option("--kind", help="rsa-oaep-2048 or ecies-p256")] = (
            "ecies-p256"
        ),
        pin: Annotated[
            Path | None, typer.Option("--pin", help="cluster.json to pin the public half in")
        ] = None,
        quorum: Annotated[
            int | None, typer.Option("--quorum", help="recovery keys a restore needs (with --pin)")
        ] = None,
        paper: Annotated[
            bool,
            typer.Option("--paper", help="Also print the private half as hex, to write on paper."),
        ] = False,
        passphrase_file: Annotated[
            Path | None,
            typer.Option(
                "--passphrase-file", help="File with the passphrase (else MPC_BACKUP_PASSPHRASE)."
            ),
        ] = None,
        force: bool = False,
    ) -> None:
        """Create a recovery key pair: private half to a file under a passphrase (and on paper
        with --paper); with --pin, pin its public half in cluster.json."""
        from mpcwallet.wallet.cluster_recovery import new_recovery_key

        res = new_recovery_key(
            out_path,
            name,
            kind,
            _passphrase(passphrase_file, confirm=True),
            config=pin,
            quorum=quorum,
            force=force,
        )
        sheet = res.pop("_paper")
        text = f"recovery key {name} ({kind}, {res['fingerprint']}) written to {out_path}"
        if "pinned" in res:
            p = res["pinned"]
            text += f"; pinned: {p['quorum']} of {', '.join(p['keys'])}"
        if paper:
            typer.echo(sheet, err=True)  # stderr: never in --json output or a piped stdout
        _show(res, text)

    @rk.command("from-paper")
    def from_paper(
        name: Annotated[str, typer.Option("--name", help="The pinned recovery key's name.")],
        sheet: Annotated[Path, typer.Option("--in", help="The typed-in paper sheet.")],
        out_path: Annotated[Path, typer.Option("--out", help="Private half (0600, encrypted).")],
        config: Annotated[Path, typer.Option("--config", help="cluster.json pinning it")],
        passphrase_file: Annotated[
            Path | None,
            typer.Option("--passphrase-file", help="else MPC_BACKUP_PASSPHRASE"),
        ] = None,
        force: bool = False,
    ) -> None:
        """Make a recovery key file again from its paper sheet (checked against the pin)."""
        from mpcwallet.jsonio import read_bounded
        from mpcwallet.wallet.cluster_recovery import recovery_key_from_paper

        raw = read_bounded(sheet, what="paper sheet", max_bytes=64 * 1024, field="in")
        text = raw.decode("ascii", errors="replace")
        res = recovery_key_from_paper(
            config, name, text, _passphrase(passphrase_file, confirm=True), out_path, force=force
        )
        _show(res, f"recovery key {name} written to {out_path}")

    @backup.command("verify")
    def verify(
        directory: _Dir = _DEFAULT,
        keyset: Annotated[list[str] | None, typer.Option("--keyset")] = None,
        store: _Store = None,
    ) -> None:
        """Check every node's latest backup against its public share (public data only: no
        recovery key, nodes may be offline); names each missing, stale or invalid backup."""
        from mpcwallet.topology.node_backup import BackupUnverified
        from mpcwallet.wallet.cluster_recovery import verify as run

        try:
            res = run(directory, keyset or (), store)
        except BackupUnverified as err:
            report = getattr(err, "report", {})
            for ks, rows in report.items():
                for r in rows:
                    typer.echo(f"{ks} {r['node']}: {r['status']} {r.get('reason', '')}", err=True)
            raise
        lines = [
            f"{ks} {r['node']}: ok (generation {r['generation']})"
            for ks, rows in res["keysets"].items()
            for r in rows
        ]
        _show(res, "\n".join(lines) or "no key sets")

    @backup.command("restore")
    def restore(
        node: Annotated[str, typer.Option("--node", help="The node's party name.")],
        recovery_key: Annotated[
            list[Path],
            typer.Option("--recovery-key", help="A recovery key file (repeat for a quorum)."),
        ],
        passphrase_file: Annotated[
            list[Path] | None,
            typer.Option(
                "--passphrase-file",
                help="Its passphrase file, in the same order (else "
                "MPC_BACKUP_PASSPHRASE for one key).",
            ),
        ] = None,
        directory: _Dir = _DEFAULT,
        store: _Store = None,
        new_home: Annotated[
            bool,
            typer.Option(
                "--new-home/--no-new-home",
                help="Make the node's fresh home and new static key first.",
            ),
        ] = True,
    ) -> None:
        """Restore a node's shares on a fresh home from its verified backups."""
        from mpcwallet.wallet.cluster_recovery import new_node_home, restore_node

        files = list(passphrase_file or [])
        keys = [
            (k, _passphrase(files[i] if i < len(files) else None, confirm=False))
            for i, k in enumerate(recovery_key)
        ]
        made = new_node_home(directory, node) if new_home else {}
        res = restore_node(directory, node, keys, store)
        text = (
            f"{node}: restored {len(res['restored'])} key set(s)"
            + (f"; new static key {made['fingerprint']} pinned" if made else "")
            + "; restart the other nodes, then refresh every key set"
        )
        _show({**res, **made}, text)

    @group.command("quarantine")
    def quarantine(name: str, directory: _Dir = _DEFAULT, store: _Store = None) -> None:
        """Operator: exclude a node (suspected compromised) from every quorum, in the store and
        in every other node's own record, until `mpc cluster clear`."""
        from mpcwallet.wallet.cluster_recovery import quarantine as run

        _show(run(directory, name, store), f"{name} quarantined")

    @group.command("sweep")
    def sweep(
        keyset_id: str,
        rpc: Annotated[str, typer.Option("--rpc", help="JSON-RPC URL of the chain.")],
        chain_id: Annotated[int, typer.Option("--chain-id")],
        directory: _Dir = _DEFAULT,
        store: _Store = None,
    ) -> None:
        """Move a key set's whole ETH balance to a new key set in one transaction (when t
        shares of one generation are exposed), then retire it."""
        from mpcwallet.wallet.cluster_sweep import sweep as run

        res = run(directory, keyset_id, rpc, chain_id=chain_id, store=store)
        _show(
            res,
            f"swept {res['value']} wei from {res['from']} to {res['to']} "
            f"(key set {res['new_keyset_id']}): {res['tx_hash']}",
        )

    group.add_typer(rk)
    group.add_typer(backup)
